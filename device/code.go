package device

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tlspake/pake/tlspake/paircode"
)

// LoadOrCreateCode reads the device code from path, or, if the file does
// not exist, creates it (and its directory, mode 0700) with a fresh code,
// mode 0600. created reports a new code. The file holds the printed form
// and a newline. A file with the wrong content is an error, never
// replaced.
func LoadOrCreateCode(path string) (code paircode.Code, created bool, err error) {
	code, err = LoadCode(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return code, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return paircode.Code{}, false, fmt.Errorf("device: creating the code directory: %w", err)
	}
	code, err = paircode.Generate(nil)
	if err != nil {
		return paircode.Code{}, false, err
	}
	// Write the whole file under a temporary name, then link it into
	// place: the link fails if another process created the file first,
	// and no reader ever sees a partial file, even after a power cut.
	f, err := os.CreateTemp(filepath.Dir(path), ".code.tmp*")
	if err != nil {
		return paircode.Code{}, false, fmt.Errorf("device: creating the code file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	cherr := f.Chmod(0o600)
	_, werr := f.WriteString(code.Printed() + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(cherr, werr, serr, cerr); err != nil {
		return paircode.Code{}, false, fmt.Errorf("device: writing the code file: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			code, err = LoadCode(path) // another process won the race
			return code, false, err
		}
		return paircode.Code{}, false, fmt.Errorf("device: creating the code file: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return code, true, nil
}

// LoadCode reads a code file written by LoadOrCreateCode (or by hand: any
// form paircode.Parse accepts). It refuses a file that others can read.
func LoadCode(path string) (paircode.Code, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return paircode.Code{}, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return paircode.Code{}, fmt.Errorf("device: code file %s is readable by others (mode %v); run chmod 600 on it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return paircode.Code{}, err
	}
	code, err := paircode.Parse(strings.TrimSpace(string(b)))
	if err != nil {
		return paircode.Code{}, fmt.Errorf("device: code file %s: %w", path, err)
	}
	return code, nil
}

// CodeFromEnv reads a code from the environment variable name. ok is
// false when the variable is unset or empty.
func CodeFromEnv(name string) (code paircode.Code, ok bool, err error) {
	v := os.Getenv(name)
	if v == "" {
		return paircode.Code{}, false, nil
	}
	code, err = paircode.Parse(v)
	if err != nil {
		return paircode.Code{}, true, fmt.Errorf("device: $%s: %w", name, err)
	}
	return code, true, nil
}
