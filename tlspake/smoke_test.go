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

func TestSmokeHRR(t *testing.T) {
	for _, tc := range []struct{ client, server []CurveID }{
		{[]CurveID{X25519, X25519MLKEM768}, []CurveID{X25519MLKEM768, X25519}},
		{[]CurveID{X25519MLKEM768, X25519}, []CurveID{X25519}},
		{[]CurveID{X25519MLKEM768}, []CurveID{X25519MLKEM768}},
	} {
		a, b := net.Pipe()
		cc := Client(a, &Config{Code: []byte("c"), Groups: tc.client})
		sc := Server(b, &Config{Code: []byte("c"), Groups: tc.server})
		errc := make(chan error, 1)
		go func() { errc <- sc.Handshake() }()
		if err := cc.Handshake(); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		t.Logf("%v %+v", tc, cc.ConnectionState())
	}
}
