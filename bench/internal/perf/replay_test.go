package perf

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tlspake/pake/tlspake"
)

// TestReplayIsExact checks the premise of the one-side benchmarks: each
// replayed side writes exactly its recorded flight, again and again, and
// completes its handshake.
func TestReplayIsExact(t *testing.T) {
	for _, mk := range []struct {
		name string
		fn   func() (*pair, func(bool, tlspake.ConnectionState) error, error)
	}{{"pake", pakePair}, {"pake-x25519", pakePairX25519}, {"psk", pskPair}} {
		t.Run(mk.name, func(t *testing.T) {
			p, check, err := mk.fn()
			if err != nil {
				t.Fatal(err)
			}
			c, s, err := p.sides(check)
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				for _, sd := range []*side{c, s} {
					var out bytes.Buffer
					if _, err := sd.run(&out); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(out.Bytes(), sd.want) {
						t.Fatalf("%s: replay wrote different bytes", sd.name())
					}
				}
			}
		})
	}
}

// TestReplayDetectsChange checks that the replay check is not vacuous: a
// server with another random stream writes another flight, which verify
// reports, and whose handshake fails against the recorded client.
func TestReplayDetectsChange(t *testing.T) {
	p, check, err := pakePair()
	if err != nil {
		t.Fatal(err)
	}
	_, s, err := p.sides(check)
	if err != nil {
		t.Fatal(err)
	}
	s.rnd.seed[0] ^= 1
	err = s.verify(check)
	if err == nil {
		t.Fatal("a server with another seed replayed the recorded flight")
	}
	if !strings.Contains(err.Error(), "handshake") {
		t.Errorf("unexpected error: %v", err)
	}
	t.Logf("as expected: %v", err)
}

// TestSeededRand checks that reset restarts the stream.
func TestSeededRand(t *testing.T) {
	r := newSeededRand("x")
	a := make([]byte, 100)
	b := make([]byte, 100)
	r.Read(a)
	r.reset()
	r.Read(b)
	if !bytes.Equal(a, b) || bytes.Equal(a, make([]byte, 100)) {
		t.Fatalf("reset did not restart the stream: %x / %x", a[:8], b[:8])
	}
}
