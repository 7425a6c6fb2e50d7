//go:build !unix

package jsonstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// lock takes an exclusive lock by creating path + ".lock" (shared locks
// are exclusive here), waiting up to ten seconds.
func lock(path string, exclusive bool) (unlock func(), err error) {
	name := path + ".lock"
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(name) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s is held by another process (remove it if none is running)", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
