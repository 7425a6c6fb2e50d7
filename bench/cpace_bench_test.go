package bench

import (
	"bytes"
	"testing"

	fcpace "filippo.io/cpace"

	"github.com/tlspake/pake/tlspake/cpace"
)

// Fixed inputs for the CPace benchmarks. A fresh sid per iteration would not
// change the cost of an exchange, so it is fixed too.
const (
	// benchPRS is a short password, like a 10-character device code.
	benchPRS = "K7Q2M-9XH4"
	// benchIDA and benchIDB name the two parties.
	benchIDA = "client"
	benchIDB = "printer.local"
)

// benchSID is a fixed 32-byte session identifier.
var benchSID = []byte("0123456789abcdef0123456789abcdef")

// exchange runs one whole CPace exchange, both parties, and returns the key
// each party derived: keyA for the initiator, keyB for the responder.
type exchange func() (keyA, keyB []byte, err error)

// cpaceImpl is one CPace implementation under benchmark.
type cpaceImpl struct {
	name string
	// setup prepares the inputs (outside any timed loop) for an initiator
	// that uses password pwA and a responder that uses pwB, and returns the
	// exchange to run.
	setup func(pwA, pwB string) exchange
}

var cpaceImpls = []cpaceImpl{
	{"tlspake", tlspakeSetup},
	{"filippo", filippoSetup},
}

// tlspakeSetup returns an exchange with github.com/tlspake/pake/tlspake/cpace
// (CPACE-X25519-SHA512, draft-irtf-cfrg-cpace). The channel identifier is the
// two identities; the associated data is empty.
func tlspakeSetup(pwA, pwB string) exchange {
	ci := []byte(benchIDA + " " + benchIDB)
	inA := &cpace.Inputs{PRS: []byte(pwA), CI: ci, SID: benchSID}
	inB := &cpace.Inputs{PRS: []byte(pwB), CI: ci, SID: benchSID}
	return func() ([]byte, []byte, error) {
		a, err := cpace.NewInitiator(inA, nil, nil)
		if err != nil {
			return nil, nil, err
		}
		b, err := cpace.NewResponder(inB, nil, nil)
		if err != nil {
			return nil, nil, err
		}
		resB, err := b.Finish(a.Message(), nil)
		if err != nil {
			return nil, nil, err
		}
		resA, err := a.Finish(b.Message(), nil)
		if err != nil {
			return nil, nil, err
		}
		return resA.ISK, resB.ISK, nil
	}
}

// filippoSetup returns an exchange with filippo.io/cpace (ristretto255,
// loosely based on draft-haase-cpace-01). The identities go in the context
// info and the sid in its additional data, so both implementations hash
// comparable inputs.
func filippoSetup(pwA, pwB string) exchange {
	ci := fcpace.NewContextInfo(benchIDA, benchIDB, benchSID)
	return func() ([]byte, []byte, error) {
		msgA, s, err := fcpace.Start(pwA, ci)
		if err != nil {
			return nil, nil, err
		}
		msgB, keyB, err := fcpace.Exchange(pwB, ci, msgA)
		if err != nil {
			return nil, nil, err
		}
		keyA, err := s.Finish(msgB)
		if err != nil {
			return nil, nil, err
		}
		return keyA, keyB, nil
	}
}

// BenchmarkCPace measures one whole CPace exchange, both parties, with each
// implementation in cpaceImpls.
func BenchmarkCPace(b *testing.B) {
	for _, impl := range cpaceImpls {
		b.Run(impl.name, func(b *testing.B) {
			run := impl.setup(benchPRS, benchPRS)
			// Check once, untimed (b.Loop resets the timer on its first
			// call), that both parties agree.
			keyA, keyB, err := run()
			if err != nil {
				b.Fatal(err)
			}
			if len(keyA) == 0 || !bytes.Equal(keyA, keyB) {
				b.Fatalf("keys differ:\nA: %x\nB: %x", keyA, keyB)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
