package device_test

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/tlspake/pake/client"
	"github.com/tlspake/pake/device"
	"github.com/tlspake/pake/tlspake/paircode"
)

// A device serves its web UI over connections authenticated with the code
// on its label; a client with the code reaches it.
func Example() {
	code, err := paircode.Generate(nil) // a real device keeps it: LoadOrCreateCode
	if err != nil {
		panic(err)
	}
	l, err := device.Listen("tcp", "127.0.0.1:0", &device.Config{Code: code})
	if err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- device.Serve(ctx, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st, _ := device.ConnectionState(r)
			fmt.Fprintf(w, "hello over %v", st.Auth)
		}))
	}()

	hc := &http.Client{Transport: &client.Transport{Code: code.Printed()}}
	resp, err := hc.Get("https://" + l.Addr().String() + "/")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	hc.CloseIdleConnections()
	fmt.Println(resp.Status, string(body))

	stop()
	fmt.Println("shut down:", <-served)
	// Output:
	// 200 OK hello over PAKE
	// shut down: <nil>
}
