package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/tlspake/pake/client"
	"github.com/tlspake/pake/device"
	"github.com/tlspake/pake/tlspake/paircode"
)

// startDevice runs a device with pairing on loopback for the examples.
func startDevice(dir string) (addr string, code paircode.Code, stop func()) {
	code, _ = paircode.Generate(nil)
	pairings := device.OpenPairingStore(filepath.Join(dir, "pairings.json"), 0)
	l, err := device.Listen("tcp", "127.0.0.1:0", &device.Config{Code: code, Pairings: pairings})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		device.Serve(ctx, l, device.PairingHandler(pairings, code, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "device UI")
		})))
	}()
	return l.Addr().String(), code, func() { cancel(); <-done }
}

// Pair once with the code, then reconnect with the stored pairing alone.
func ExamplePair() {
	dir, _ := os.MkdirTemp("", "tlspake-example")
	defer os.RemoveAll(dir)
	addr, code, stop := startDevice(dir)
	defer stop()

	store := client.OpenStore(filepath.Join(dir, "devices.json"))
	if _, err := client.Pair(context.Background(), addr, code.Printed(), &client.Options{Store: store}); err != nil {
		panic(err)
	}
	c, err := client.Dial(context.Background(), addr, "", &client.Options{Store: store})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Println("authenticated with:", c.ConnectionState().Auth)
	// Output: authenticated with: PSK
}

// Errors say what a person should do; a typo never reaches the device.
func ExampleDial() {
	dir, _ := os.MkdirTemp("", "tlspake-example")
	defer os.RemoveAll(dir)
	addr, _, stop := startDevice(dir)
	defer stop()

	_, err := client.Dial(context.Background(), addr, "K7Q2M-9XH4P", nil)
	var ce *client.Error
	fmt.Println(errors.As(err, &ce) && ce.Kind == client.Mistyped)

	wrong, _ := paircode.Generate(nil)
	_, err = client.Dial(context.Background(), addr, wrong.Printed(), nil)
	fmt.Println(errors.As(err, &ce) && ce.Kind == client.WrongCode)
	// Output:
	// true
	// true
}

// An http.Client for a device.
func ExampleTransport() {
	dir, _ := os.MkdirTemp("", "tlspake-example")
	defer os.RemoveAll(dir)
	addr, code, stop := startDevice(dir)
	defer stop()

	hc := &http.Client{Transport: &client.Transport{Code: code.Printed()}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("https://" + addr + "/")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: device UI
}
