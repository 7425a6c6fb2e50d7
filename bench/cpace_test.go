package bench

import (
	"bytes"
	"testing"
)

// TestCPaceExchanges checks the exchanges that BenchmarkCPace measures: the
// two parties agree with the same password and disagree, without an error,
// when either side uses a wrong one.
func TestCPaceExchanges(t *testing.T) {
	const wrong = "K7Q2M-9XH5"
	for _, impl := range cpaceImpls {
		t.Run(impl.name, func(t *testing.T) {
			keyA, keyB, err := impl.setup(benchPRS, benchPRS)()
			if err != nil {
				t.Fatal(err)
			}
			if len(keyA) == 0 || !bytes.Equal(keyA, keyB) {
				t.Errorf("same password, keys differ:\nA: %x\nB: %x", keyA, keyB)
			}

			for _, c := range []struct{ name, pwA, pwB string }{
				{"wrong password at A", wrong, benchPRS},
				{"wrong password at B", benchPRS, wrong},
			} {
				keyA, keyB, err := impl.setup(c.pwA, c.pwB)()
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if len(keyA) == 0 || len(keyB) == 0 {
					t.Errorf("%s: empty key", c.name)
				}
				if bytes.Equal(keyA, keyB) {
					t.Errorf("%s: keys agree: %x", c.name, keyA)
				}
			}
		})
	}
}
