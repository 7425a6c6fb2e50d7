package client

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tlspake/pake/internal/jsonstore"
	"github.com/tlspake/pake/tlspake"
)

// Store is the client's store of known devices: for each device address
// and identity, the pairing made with `tlspake pair`. It is a JSON file
// (mode 0600, replaced atomically, safe to share between processes). It
// holds pairing secrets.
type Store struct {
	path string
}

// DefaultStorePath is $XDG_CONFIG_HOME/tlspake/devices.json, or the
// platform's user configuration directory.
func DefaultStorePath() (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		var err error
		if dir, err = os.UserConfigDir(); err != nil {
			return "", fmt.Errorf("client: no configuration directory for the device store: %w", err)
		}
	}
	return filepath.Join(dir, "tlspake", "devices.json"), nil
}

// OpenStore returns the store in the file at path (created on first use).
func OpenStore(path string) *Store { return &Store{path: path} }

// Path returns the store's file.
func (s *Store) Path() string { return s.path }

// KnownDevice is a paired device, without its secret.
type KnownDevice struct {
	Addr      string    `json:"addr"`
	Identity  string    `json:"identity,omitempty"`
	PairingID string    `json:"pairing_id"`
	Paired    time.Time `json:"paired"`
}

type storedDevice struct {
	KnownDevice
	Secret string `json:"secret"`
}

type storeFile struct {
	Version int            `json:"version"`
	Devices []storedDevice `json:"devices"`
}

func (s *Store) update(fn func(f *storeFile) error) error {
	var f storeFile
	return jsonstore.Update(s.path, &f, func() error {
		if f.Version == 0 {
			f.Version = 1
		}
		if f.Version != 1 {
			return fmt.Errorf("client: %s has version %d; this program reads version 1", s.path, f.Version)
		}
		return fn(&f)
	})
}

// Save records the pairing for the device at addr with identity,
// replacing an earlier one.
func (s *Store) Save(addr, identity string, p tlspake.Pairing) error {
	return s.update(func(f *storeFile) error {
		f.Devices = slices.DeleteFunc(f.Devices, func(d storedDevice) bool { return d.Addr == addr && d.Identity == identity })
		f.Devices = append(f.Devices, storedDevice{
			KnownDevice: KnownDevice{Addr: addr, Identity: identity, PairingID: hex.EncodeToString(p.ID), Paired: time.Now().UTC()},
			Secret:      hex.EncodeToString(p.Secret),
		})
		return nil
	})
}

// Lookup returns the pairing for the device, if there is one.
func (s *Store) Lookup(addr, identity string) (tlspake.Pairing, bool, error) {
	var f storeFile
	if err := jsonstore.Read(s.path, &f); err != nil {
		return tlspake.Pairing{}, false, err
	}
	for _, d := range f.Devices {
		if d.Addr == addr && d.Identity == identity {
			id, err1 := hex.DecodeString(d.PairingID)
			secret, err2 := hex.DecodeString(d.Secret)
			if err := errors.Join(err1, err2); err != nil || len(id) != 16 || len(secret) != 32 {
				return tlspake.Pairing{}, false, fmt.Errorf("client: the pairing for %s in %s is damaged; forget the device and pair again", addr, s.path)
			}
			return tlspake.Pairing{ID: id, Secret: secret}, true, nil
		}
	}
	return tlspake.Pairing{}, false, nil
}

// Forget removes the device's pairing and reports whether there was one.
func (s *Store) Forget(addr, identity string) (bool, error) {
	found := false
	err := s.update(func(f *storeFile) error {
		n := len(f.Devices)
		f.Devices = slices.DeleteFunc(f.Devices, func(d storedDevice) bool { return d.Addr == addr && d.Identity == identity })
		found = len(f.Devices) < n
		return nil
	})
	return found, err
}

// List returns the known devices.
func (s *Store) List() ([]KnownDevice, error) {
	var f storeFile
	if err := jsonstore.Read(s.path, &f); err != nil {
		return nil, err
	}
	out := make([]KnownDevice, len(f.Devices))
	for i, d := range f.Devices {
		out[i] = d.KnownDevice
	}
	return out, nil
}

// sameID compares pairing IDs.
func sameID(a []byte, hexB string) bool {
	b, err := hex.DecodeString(hexB)
	return err == nil && bytes.Equal(a, b)
}
