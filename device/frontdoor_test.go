package device

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	utls "github.com/refraction-networking/utls"

	"github.com/tlspake/pake/tlspake"
	"github.com/tlspake/pake/tlspake/paircode"
)

// frontDoorDevice starts a device with the front door on 127.0.0.1 and
// returns its address and code.
func frontDoorDevice(t *testing.T) (string, paircode.Code) {
	t.Helper()
	code, err := paircode.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := LoadOrCreateFrontDoorCertificate(filepath.Join(t.TempDir(), "frontdoor.pem"), "Test printer")
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen("tcp", "127.0.0.1:0", &Config{Code: code, HandshakeTimeout: 5 * time.Second,
		FrontDoor: &FrontDoor{Certificate: cert, Name: "Test printer"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "THE REAL DEVICE UI")
		}))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("Serve did not return")
		}
	})
	return l.Addr().String(), code
}

// choppyConn writes in tiny pieces, each its own TCP segment (no Nagle),
// so that the ClientHello arrives split across many segments.
type choppyConn struct {
	net.Conn
	piece int
}

func (c *choppyConn) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		m := min(c.piece, len(b))
		k, err := c.Conn.Write(b[:m])
		n += k
		if err != nil {
			return n, err
		}
		b = b[m:]
		time.Sleep(200 * time.Microsecond)
	}
	return n, nil
}

func dialTCP(t *testing.T, addr string, choppy bool) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).SetNoDelay(true)
	c.SetDeadline(time.Now().Add(15 * time.Second))
	t.Cleanup(func() { c.Close() })
	if choppy {
		return &choppyConn{Conn: c, piece: 7}
	}
	return c
}

// httpGet sends a GET over an established connection and returns the body.
func httpGet(t *testing.T, c net.Conn) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "https://device/", nil)
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestFrontDoor(t *testing.T) {
	addr, code := frontDoorDevice(t)
	for _, choppy := range []bool{false, true} {
		name := "whole"
		if choppy {
			name = "split into 7-byte segments"
		}
		t.Run("crypto/tls/"+name, func(t *testing.T) {
			c := tls.Client(dialTCP(t, addr, choppy), &tls.Config{InsecureSkipVerify: true, ServerName: "device"})
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			body := httpGet(t, c)
			if !strings.Contains(body, "tlspake device") || !strings.Contains(body, "Test printer") || strings.Contains(body, "REAL DEVICE UI") {
				t.Fatalf("front door page: %q", body)
			}
		})
		t.Run("tlspake/"+name, func(t *testing.T) {
			c := tlspake.Client(dialTCP(t, addr, choppy), &tlspake.Config{Code: code.PRS(), NextProtos: []string{"http/1.1"}})
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			if body := httpGet(t, c); body != "THE REAL DEVICE UI" {
				t.Fatalf("tlspake client got %q", body)
			}
		})
	}
	t.Run("utls Chrome", func(t *testing.T) {
		c := utls.UClient(dialTCP(t, addr, false), &utls.Config{InsecureSkipVerify: true, ServerName: "device"}, utls.HelloChrome_Auto)
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
			t.Fatalf("ALPN %q, want http/1.1", p)
		}
		if body := httpGet(t, c); !strings.Contains(body, "tlspake device") || strings.Contains(body, "REAL DEVICE UI") {
			t.Fatalf("front door page: %q", body)
		}
	})
	t.Run("wrong code still a mismatch", func(t *testing.T) {
		c := tlspake.Client(dialTCP(t, addr, false), &tlspake.Config{Code: []byte("WRONGWRONG")})
		if err := c.Handshake(); err == nil || !strings.Contains(err.Error(), "did not match") {
			t.Fatalf("wrong code: %v", err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		c := dialTCP(t, addr, false)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		b, _ := io.ReadAll(c)
		if strings.Contains(string(b), "REAL DEVICE UI") {
			t.Fatal("plain HTTP reached the device UI")
		}
	})
}

func TestFrontDoorCertificateKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fd.pem")
	a, err := LoadOrCreateFrontDoorCertificate(path, "x")
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateFrontDoorCertificate(path, "x")
	if err != nil {
		t.Fatal(err)
	}
	if string(a.Certificate[0]) != string(b.Certificate[0]) {
		t.Fatal("certificate changed between loads")
	}
}
