package bench

import (
	"testing"

	"github.com/tlspake/pake/bench/internal/perf"
)

// The cases of the cross-architecture suite (bench/internal/perf), which
// bench-device and bench-report run, as ordinary benchmarks:
//
//	go test -run '^$' -bench 'X25519|HandshakeSide' -benchmem ./bench/

// perfCase returns the suite's case called name.
func perfCase(tb testing.TB, name string) perf.Case {
	tb.Helper()
	for _, c := range perf.Cases {
		if c.Name == name {
			return c
		}
	}
	tb.Fatalf("no case %q in bench/internal/perf", name)
	return perf.Case{}
}

func runPerfCase(b *testing.B, name string) {
	op, err := perfCase(b, name).Setup()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkX25519 measures one variable-base X25519 scalar multiplication
// with the project's ladder (internal/cpacecore.X25519: the unit of the
// X25519-equivalents in bench/REPORT.md) and with crypto/ecdh, and one
// fixed-base multiplication (key generation, cpacecore.X25519Base).
func BenchmarkX25519(b *testing.B) {
	for _, c := range []struct{ sub, name string }{
		{"ladder", "x25519"},
		{"ecdh", "x25519-ecdh"},
		{"base", "x25519-base"},
	} {
		b.Run(c.sub, func(b *testing.B) { runPerfCase(b, c.name) })
	}
}

// BenchmarkHandshakeSide measures one side of a tlspake handshake alone,
// the other side replayed from a recorded flight (see
// bench/internal/perf/replay.go): the server (a device with its default
// configuration), the client (the client package's defaults, and with
// X25519 only), and both sides of a PSK reconnect with a pairing.
func BenchmarkHandshakeSide(b *testing.B) {
	for _, name := range []string{"server", "client", "client-x25519", "psk-server", "psk-client"} {
		b.Run(name, func(b *testing.B) { runPerfCase(b, name) })
	}
}

// TestPerfCases sets up every case of the suite, which checks it once
// (each replayed side must write exactly its recorded flight and complete
// its handshake with the expected authentication and group), and runs
// its operation twice more.
func TestPerfCases(t *testing.T) {
	for _, c := range perf.Cases {
		t.Run(c.Name, func(t *testing.T) {
			op, err := c.Setup()
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := op(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestPerfHeap measures each idle-connection case with a few connections.
func TestPerfHeap(t *testing.T) {
	for _, hc := range perf.HeapCases {
		t.Run(hc.Name, func(t *testing.T) {
			r, err := perf.MeasureHeap(hc, 4)
			if err != nil {
				t.Fatal(err)
			}
			// A connection keeps at least its record buffers and keys;
			// a megabyte each would be a leak.
			if r.BytesPerConn < 500 || r.BytesPerConn > 1<<20 {
				t.Errorf("%s: %.0f bytes per idle connection", hc.Name, r.BytesPerConn)
			}
		})
	}
}
