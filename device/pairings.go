package device

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/tlspake/pake/internal/jsonstore"
	"github.com/tlspake/pake/tlspake"
	"github.com/tlspake/pake/tlspake/paircode"
)

// PairingPath is the HTTP path where a client that has just authenticated
// with the code asks the device to keep a pairing (POST). The answer is
// JSON {"pairing_id": HEX}, which the client compares with its own.
const PairingPath = "/.well-known/tlspake/pair"

// DefaultMaxPairings bounds a pairing store when no bound is given.
const DefaultMaxPairings = 64

// ErrStoreFull is returned when adding a pairing to a full store. Old
// pairings are never evicted silently: revoke some first.
var ErrStoreFull = errors.New("device: the pairing store is full; revoke old pairings (tlspake-device pairings list, then revoke ID)")

// ErrNoPairing is returned when revoking an unknown pairing.
var ErrNoPairing = errors.New("device: no such pairing")

// PairingStore keeps the device's pairings in a JSON file (mode 0600,
// replaced atomically, safe to use from several processes at once: the
// daemon and an operator's command). The file holds pairing secrets: keep
// it with the code.
type PairingStore struct {
	path string
	max  int
}

// OpenPairingStore returns the store in the file at path (created on
// first use), holding at most max pairings (0 means DefaultMaxPairings).
func OpenPairingStore(path string, max int) *PairingStore {
	if max <= 0 {
		max = DefaultMaxPairings
	}
	return &PairingStore{path: path, max: max}
}

// Path returns the store's file.
func (s *PairingStore) Path() string { return s.path }

// PairingInfo describes a pairing, without its secret.
type PairingInfo struct {
	// ID is the pairing identity in hex.
	ID string `json:"id"`
	// Created is when the pairing was made.
	Created time.Time `json:"created"`
	// Client is the client's PAKE identity, if it sent one.
	Client string `json:"client,omitempty"`
	// Remote is the client's address when the pairing was made.
	Remote string `json:"remote,omitempty"`
}

type storedPairing struct {
	PairingInfo
	Secret  string `json:"secret"`
	CodeTag string `json:"code_tag"`
}

type pairingFile struct {
	Version  int             `json:"version"`
	Pairings []storedPairing `json:"pairings"`
}

// codeTag identifies the code a pairing was made with, so that changing
// the code revokes those pairings. (The file already sits beside the
// code, so the tag reveals nothing the device's state did not.)
func codeTag(code paircode.Code) string {
	h := sha256.Sum256(append([]byte("tlspake pairing code tag\x00"), code.PRS()...))
	return hex.EncodeToString(h[:8])
}

func (s *PairingStore) update(fn func(f *pairingFile) error) error {
	var f pairingFile
	return jsonstore.Update(s.path, &f, func() error {
		if f.Version == 0 {
			f.Version = 1
		}
		if f.Version != 1 {
			return fmt.Errorf("device: %s has version %d; this program reads version 1", s.path, f.Version)
		}
		return fn(&f)
	})
}

func (s *PairingStore) read() (*pairingFile, error) {
	var f pairingFile
	if err := jsonstore.Read(s.path, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// Add keeps a pairing made with code.
func (s *PairingStore) Add(p tlspake.Pairing, code paircode.Code, info PairingInfo) error {
	return s.update(func(f *pairingFile) error {
		id := hex.EncodeToString(p.ID)
		if slices.ContainsFunc(f.Pairings, func(q storedPairing) bool { return q.ID == id }) {
			return nil // already kept (a repeated request on one connection)
		}
		if len(f.Pairings) >= s.max {
			return fmt.Errorf("%w (%d of %d)", ErrStoreFull, len(f.Pairings), s.max)
		}
		info.ID = hex.EncodeToString(p.ID)
		if info.Created.IsZero() {
			info.Created = time.Now().UTC()
		}
		f.Pairings = append(f.Pairings, storedPairing{PairingInfo: info, Secret: hex.EncodeToString(p.Secret), CodeTag: codeTag(code)})
		return nil
	})
}

// List returns the pairings, oldest first.
func (s *PairingStore) List() ([]PairingInfo, error) {
	f, err := s.read()
	if err != nil {
		return nil, err
	}
	out := make([]PairingInfo, len(f.Pairings))
	for i, p := range f.Pairings {
		out[i] = p.PairingInfo
	}
	return out, nil
}

// Revoke removes the pairing with the given hex ID.
func (s *PairingStore) Revoke(id string) error {
	return s.update(func(f *pairingFile) error {
		n := len(f.Pairings)
		f.Pairings = slices.DeleteFunc(f.Pairings, func(p storedPairing) bool { return p.ID == id })
		if len(f.Pairings) == n {
			return fmt.Errorf("%w %q", ErrNoPairing, id)
		}
		return nil
	})
}

// RevokeAll removes every pairing and returns how many there were.
func (s *PairingStore) RevokeAll() (int, error) {
	n := 0
	err := s.update(func(f *pairingFile) error {
		n = len(f.Pairings)
		f.Pairings = nil
		return nil
	})
	return n, err
}

// RevokeOtherCodes removes the pairings made with any code but code, as
// when the device's code has changed, and returns how many it removed.
func (s *PairingStore) RevokeOtherCodes(code paircode.Code) (int, error) {
	tag, n := codeTag(code), 0
	err := s.update(func(f *pairingFile) error {
		before := len(f.Pairings)
		f.Pairings = slices.DeleteFunc(f.Pairings, func(p storedPairing) bool { return p.CodeTag != tag })
		n = before - len(f.Pairings)
		return nil
	})
	return n, err
}

// lookup returns the PSK for a pairing identity, for Config.GetPSK.
func (s *PairingStore) lookup(id []byte) (tlspake.PSK, bool) {
	f, err := s.read()
	if err != nil {
		return tlspake.PSK{}, false
	}
	want := hex.EncodeToString(id)
	for _, p := range f.Pairings {
		if p.ID == want {
			secret, err := hex.DecodeString(p.Secret)
			if err != nil || len(secret) != 32 {
				return tlspake.PSK{}, false
			}
			return (tlspake.Pairing{ID: bytes.Clone(id), Secret: secret}).PSK(), true
		}
	}
	return tlspake.PSK{}, false
}

// PairingHandler serves PairingPath for clients that authenticated with
// the code and passes every other request to next. A client already
// connected with a pairing is told so (409); a full store answers 507 with
// what the operator must do.
func PairingHandler(store *PairingStore, code paircode.Code, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != PairingPath {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "use POST to pair", http.StatusMethodNotAllowed)
			return
		}
		c, ok := r.Context().Value(connKey{}).(*tlspake.Conn)
		if !ok {
			http.Error(w, "not a tlspake connection", http.StatusBadRequest)
			return
		}
		st := c.ConnectionState()
		if st.Auth != tlspake.AuthPAKE {
			http.Error(w, "this connection already uses a pairing", http.StatusConflict)
			return
		}
		p, err := c.DerivePairing()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		err = store.Add(p, code, PairingInfo{Client: string(st.ClientIdentity), Remote: r.RemoteAddr})
		if errors.Is(err, ErrStoreFull) {
			http.Error(w, "the device cannot keep more pairings: its owner must revoke old ones first", http.StatusInsufficientStorage)
			return
		}
		if err != nil {
			http.Error(w, "the device could not save the pairing", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"pairing_id": hex.EncodeToString(p.ID)})
	})
}
