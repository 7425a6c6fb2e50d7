package device

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tlspake/pake/tlspake/paircode"
)

func TestLoadOrCreateCodeCreatesAndReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "tlspake-device")
	path := filepath.Join(dir, "code")

	code, created, err := LoadOrCreateCode(path)
	if err != nil {
		t.Fatal(err)
	}
	if !created || code.IsZero() {
		t.Fatalf("first call: created=%v zero=%v, want a new code", created, code.IsZero())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("code file mode %v, want 0600", perm)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := di.Mode().Perm(); perm != 0o700 {
		t.Errorf("code directory mode %v, want 0700", perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), code.Printed()+"\n"; got != want {
		t.Errorf("file content %q, want %q", got, want)
	}

	again, created, err := LoadOrCreateCode(path)
	if err != nil {
		t.Fatal(err)
	}
	if created || again != code {
		t.Fatalf("second call: created=%v same=%v, want the stored code reused", created, again == code)
	}
	loaded, err := LoadCode(path)
	if err != nil || loaded != code {
		t.Fatalf("LoadCode: same=%v err=%v", loaded == code, err)
	}
}

func TestLoadOrCreateCodeRefusesReadableFile(t *testing.T) {
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660} {
		path := filepath.Join(t.TempDir(), "code")
		code, _, err := LoadOrCreateCode(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(path)
		got, created, err := LoadOrCreateCode(path)
		if err == nil || created || !got.IsZero() {
			t.Fatalf("mode %v: got created=%v err=%v, want a refusal", mode, created, err)
		}
		if !strings.Contains(err.Error(), "readable by others") || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %v: error does not say what to do: %v", mode, err)
		}
		if strings.Contains(err.Error(), code.Canonical()) || strings.Contains(err.Error(), code.Printed()) {
			t.Errorf("error leaks the code: %v", err)
		}
		if _, err := LoadCode(path); err == nil {
			t.Errorf("mode %v: LoadCode accepted the file", mode)
		}
		after, _ := os.ReadFile(path)
		if string(after) != string(before) {
			t.Errorf("mode %v: the file was changed", mode)
		}
	}
}

func TestLoadOrCreateCodeRefusesCorruptFile(t *testing.T) {
	valid, err := paircode.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	typo := []byte(valid.Printed())
	typo[2] = flipSymbol(typo[2])
	for name, content := range map[string]string{
		"garbage":   "hello world\n",
		"empty":     "",
		"typo":      string(typo) + "\n",
		"too long":  valid.Printed() + "X\n",
		"two codes": valid.Printed() + "\n" + valid.Printed() + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "code")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			code, created, err := LoadOrCreateCode(path)
			if err == nil || created || !code.IsZero() {
				t.Fatalf("got created=%v err=%v, want an error", created, err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name the file: %v", err)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(after) != content {
				t.Errorf("corrupt file was replaced: %q -> %q", content, after)
			}
		})
	}
}

// flipSymbol returns a different code symbol.
func flipSymbol(b byte) byte {
	if b == '7' {
		return '8'
	}
	return '7'
}

func TestLoadCodeAcceptsHandWrittenForms(t *testing.T) {
	code, err := paircode.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		code.Printed(),
		code.Canonical(),
		"  " + strings.ToLower(code.Printed()) + "\r\n\n",
	} {
		path := filepath.Join(t.TempDir(), "code")
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := LoadCode(path)
		if err != nil || got != code {
			t.Errorf("LoadCode(%q): same=%v err=%v", s, got == code, err)
		}
	}
	if _, err := LoadCode(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadCode of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestLoadOrCreateCodeUnwritableDir(t *testing.T) {
	// A regular file where the directory should be.
	parent := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(parent, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, created, err := LoadOrCreateCode(filepath.Join(parent, "code")); err == nil || created {
		t.Fatalf("got created=%v err=%v, want an error", created, err)
	}
}

// TestLoadOrCreateCodeConcurrent starts several "daemons" on the same
// fresh state directory at once: all must end up with the same code, and
// exactly one must have created it.
//
// It fails today: the creator makes the file (O_EXCL) and only then writes
// the code, so a concurrent caller can read the empty file in between and
// fails with "the code has 0 symbols". Remove the Skip once fixed.
func TestLoadOrCreateCodeConcurrent(t *testing.T) {
	var failures []string
	for round := range 100 {
		path := filepath.Join(t.TempDir(), "code")
		const n = 8
		var (
			wg      sync.WaitGroup
			codes   [n]paircode.Code
			created [n]bool
			errs    [n]error
		)
		for i := range n {
			wg.Go(func() { codes[i], created[i], errs[i] = LoadOrCreateCode(path) })
		}
		wg.Wait()
		nc := 0
		var ref paircode.Code
		for i := range n {
			if errs[i] != nil {
				failures = append(failures, errs[i].Error())
				continue
			}
			if created[i] {
				nc++
			}
			if ref.IsZero() {
				ref = codes[i]
			}
			if codes[i] != ref {
				t.Fatalf("round %d: callers got different codes", round)
			}
		}
		if nc != 1 {
			t.Fatalf("round %d: %d callers report creating the code, want 1", round, nc)
		}
	}
	if len(failures) > 0 {
		t.Fatalf("%d concurrent callers failed; first: %s", len(failures), failures[0])
	}
}

func TestCodeFromEnv(t *testing.T) {
	const name = "TLSPAKE_TEST_DEVICE_CODE"
	t.Setenv(name, "")
	if _, ok, err := CodeFromEnv(name); ok || err != nil {
		t.Fatalf("empty: ok=%v err=%v", ok, err)
	}
	os.Unsetenv(name)
	if _, ok, err := CodeFromEnv(name); ok || err != nil {
		t.Fatalf("unset: ok=%v err=%v", ok, err)
	}

	code, err := paircode.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{code.Printed(), strings.ToLower(code.Canonical())} {
		t.Setenv(name, v)
		got, ok, err := CodeFromEnv(name)
		if !ok || err != nil || got != code {
			t.Fatalf("%q: ok=%v err=%v same=%v", v, ok, err, got == code)
		}
	}

	typo := []byte(code.Printed())
	typo[7] = flipSymbol(typo[7])
	t.Setenv(name, string(typo))
	got, ok, err := CodeFromEnv(name)
	if !ok || err == nil || !got.IsZero() {
		t.Fatalf("typo: ok=%v err=%v", ok, err)
	}
	var pe *paircode.ParseError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "$"+name) {
		t.Errorf("typo error should wrap the ParseError and name the variable: %v", err)
	}
	if strings.Contains(err.Error(), string(typo)) {
		t.Errorf("error echoes the code: %v", err)
	}
}
