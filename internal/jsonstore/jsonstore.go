// Package jsonstore keeps a small JSON document in a file that several
// processes may update: every update runs under an exclusive lock on a
// companion lock file, reads the current content, and replaces the file
// atomically (write to a temporary file, fsync, rename, fsync the
// directory), mode 0600. A file that does not parse is reported, never
// replaced.
package jsonstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// maxFileSize bounds what Read accepts, so a damaged or hostile file
// cannot exhaust memory.
const maxFileSize = 4 << 20

// CorruptError reports a store file that does not parse.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s is damaged (%v); it was left untouched: repair or remove it by hand", e.Path, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Read decodes the file at path into v under a shared lock. A missing
// file leaves v unchanged and is not an error.
func Read(path string, v any) error {
	unlock, err := lock(path, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // the directory does not exist yet: an empty store
	}
	if err != nil {
		return err
	}
	defer unlock()
	return read(path, v)
}

func read(path string, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(b) > maxFileSize {
		return &CorruptError{path, fmt.Errorf("%d bytes is larger than a store can be", len(b))}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return &CorruptError{path, errors.New("the file is empty (truncated?)")}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &CorruptError{path, err}
	}
	if dec.More() {
		return &CorruptError{path, errors.New("trailing data after the JSON document")}
	}
	return nil
}

// ErrUnchanged, returned by an Update function, skips the write: nothing
// changed, so the file (and a device's flash) is left alone.
var ErrUnchanged = errors.New("jsonstore: unchanged")

// Update reads the file into v (a pointer to a zero value), calls fn, and
// if fn returns nil writes v back atomically, all under an exclusive lock.
// If fn returns ErrUnchanged, nothing is written and Update returns nil.
func Update(path string, v any, fn func() error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	unlock, err := lock(path, true)
	if err != nil {
		return err
	}
	defer unlock()
	if err := read(path, v); err != nil {
		return err
	}
	if err := fn(); err != nil {
		if errors.Is(err, ErrUnchanged) {
			return nil
		}
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(path, append(b, '\n'))
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	// Temporary files left by a process killed mid-write (under the lock,
	// so none is in use now) are removed.
	if old, _ := filepath.Glob(filepath.Join(dir, "."+filepath.Base(path)+".tmp*")); len(old) > 0 {
		for _, f := range old {
			os.Remove(f)
		}
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
