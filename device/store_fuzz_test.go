package device

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlspake/pake/internal/jsonstore"
	"github.com/tlspake/pake/tlspake"
	"github.com/tlspake/pake/tlspake/paircode"
)

// FuzzStoreFiles feeds arbitrary file contents to the pairing store and
// the attempt limiter's state: every operation must either work or report
// a *jsonstore.CorruptError (or a version error), never panic, and never
// change a file it could not read.
func FuzzStoreFiles(f *testing.F) {
	f.Add([]byte(`{"version":1,"pairings":[{"id":"00","created":"2026-01-01T00:00:00Z","secret":"11","code_tag":"aa"}]}`))
	f.Add([]byte(`{"version":1,"consecutive_failures":3,"last_failure":"2026-01-01T00:00:00Z","failures_last_day":["2026-01-01T00:00:00Z"],"pairing_window_until":"0001-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, content []byte) {
		dir := t.TempDir()
		for _, name := range []string{"pairings.json", "attempts.json"} {
			if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		ok := func(err error) {
			var ce *jsonstore.CorruptError
			switch {
			case err == nil, errors.As(err, &ce), errors.Is(err, ErrNoPairing), errors.Is(err, ErrStoreFull):
			case strings.Contains(err.Error(), "this program reads version 1"):
				// A well-formed file of another version.
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
		ps := OpenPairingStore(filepath.Join(dir, "pairings.json"), 4)
		_, err := ps.List()
		ok(err)
		ps.lookup(make([]byte, 16))
		readErr := err
		err = ps.Add(tlspake.Pairing{ID: make([]byte, 16), Secret: make([]byte, 32)}, mustCode(t), PairingInfo{})
		ok(err)
		if readErr != nil {
			if b, _ := os.ReadFile(filepath.Join(dir, "pairings.json")); string(b) != string(content) {
				t.Fatal("an unreadable pairing store was rewritten")
			}
		}
		if l, err := NewAttemptLimiter(filepath.Join(dir, "attempts.json"), Limits{}); err == nil {
			_, err := l.Status()
			ok(err)
			done, _ := l.Begin(tlspake.AttemptInfo{})
			if done != nil {
				done(false)
			}
		} else {
			ok(err)
		}
	})
}

func mustCode(t *testing.T) paircode.Code {
	t.Helper()
	c, err := paircode.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
