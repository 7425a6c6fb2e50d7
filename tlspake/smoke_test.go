package tlspake

import (
	"io"
	"net"
	"testing"
)

func TestSmoke(t *testing.T) {
	a, b := net.Pipe()
	cfg := &Config{Code: []byte("ABCDE12345")}
	cc, sc := Client(a, cfg), Server(b, cfg)
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(sc, buf); err != nil {
			done <- err
			return
		}
		_, err := sc.Write(buf)
		done <- err
	}()
	if _, err := cc.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(cc, buf); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("%s %+v", buf, cc.ConnectionState())
}
