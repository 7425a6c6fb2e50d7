package client

// Tests of the client's store of paired devices (Store) and of Pair,
// against a device that keeps pairings (PROFILE.md section 5).

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlspake/pake/device"
	"github.com/tlspake/pake/internal/jsonstore"
	"github.com/tlspake/pake/tlspake"
	"github.com/tlspake/pake/tlspake/paircode"
)

type pairingDevice struct {
	addr  string
	code  paircode.Code
	store *device.PairingStore
	tcp   *countingListener
}

// startPairingDevice runs a device that keeps up to max pairings (0: the
// default) and serves the pairing endpoint, in front of a handler that
// echoes how the connection was authenticated.
func startPairingDevice(t *testing.T, identity string, max int) *pairingDevice {
	t.Helper()
	d := &pairingDevice{
		code:  newCode(t),
		store: device.OpenPairingStore(filepath.Join(t.TempDir(), "pairings.json"), max),
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.tcp = &countingListener{Listener: inner}
	l, err := device.NewListener(d.tcp, &device.Config{Code: d.code, Identity: identity, Pairings: d.store})
	if err != nil {
		t.Fatal(err)
	}
	d.addr = l.Addr().String()
	h := device.PairingHandler(d.store, d.code, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, _ := device.ConnectionState(r)
		fmt.Fprintf(w, "%s %s auth=%v", r.Method, r.URL.Path, st.Auth)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- device.Serve(ctx, l, h) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("device did not stop")
		}
	})
	return d
}

func newStore(t *testing.T) *Store {
	t.Helper()
	return OpenStore(filepath.Join(t.TempDir(), "cfg", "tlspake", "devices.json"))
}

func (d *pairingDevice) ids(t *testing.T) []string {
	t.Helper()
	list, err := d.store.List()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range list {
		ids = append(ids, p.ID)
	}
	return ids
}

func dialAuth(t *testing.T, addr, code string, opts *Options) tlspake.ConnectionState {
	t.Helper()
	c, err := Dial(t.Context(), addr, code, opts)
	if err != nil {
		t.Fatalf("Dial(code %v): %v", code != "", err)
	}
	defer c.Close()
	return c.ConnectionState()
}

func TestPairSavesAndDialUsesPairing(t *testing.T) {
	dev := startPairingDevice(t, "", 0)
	store := newStore(t)
	p, err := Pair(t.Context(), dev.addr, dev.code.Printed(), &Options{Store: store, ClientIdentity: "laptop"})
	if err != nil {
		t.Fatalf("Pair: %v", err)
	}
	if len(p.ID) != 16 || len(p.Secret) != 32 {
		t.Fatalf("pairing has %d-byte ID and %d-byte secret", len(p.ID), len(p.Secret))
	}
	// Saved on both sides, with the same ID.
	known, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(known) != 1 || known[0].Addr != dev.addr || known[0].Identity != "" || known[0].PairingID != hex.EncodeToString(p.ID) {
		t.Fatalf("client store: %+v, want %s with pairing %x", known, dev.addr, p.ID)
	}
	if time.Since(known[0].Paired) > time.Minute || known[0].Paired.After(time.Now().Add(time.Second)) {
		t.Errorf("Paired = %v", known[0].Paired)
	}
	if ids := dev.ids(t); len(ids) != 1 || ids[0] != hex.EncodeToString(p.ID) {
		t.Fatalf("device store: %v, want [%x]", ids, p.ID)
	}
	if list, _ := dev.store.List(); list[0].Client != "laptop" {
		t.Errorf("device recorded client %q", list[0].Client)
	}
	got, ok, err := store.Lookup(dev.addr, "")
	if err != nil || !ok || !bytes.Equal(got.ID, p.ID) || !bytes.Equal(got.Secret, p.Secret) {
		t.Fatalf("Lookup = %x/%v/%v, want the pairing", got.ID, ok, err)
	}
	fi, err := os.Stat(store.Path())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("client store mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}

	// No code: the stored pairing.
	var seen []tlspake.ConnectionState
	st := dialAuth(t, dev.addr, "", &Options{Store: store, OnHandshake: func(_ string, st tlspake.ConnectionState) { seen = append(seen, st) }})
	if st.Auth != tlspake.AuthPSK || !bytes.Equal(st.PSKIdentity, p.ID) || st.PAKEScheme != 0 {
		t.Fatalf("Dial without code: auth %v, identity %x; want the pairing %x", st.Auth, st.PSKIdentity, p.ID)
	}
	if len(seen) != 1 || seen[0].Auth != tlspake.AuthPSK {
		t.Errorf("OnHandshake saw %d handshakes", len(seen))
	}
	// Code and pairing: the device prefers the pairing.
	if st := dialAuth(t, dev.addr, dev.code.Printed(), &Options{Store: store}); st.Auth != tlspake.AuthPSK {
		t.Errorf("Dial with code and pairing: auth %v, want PSK", st.Auth)
	}
	// HTTP through the Transport, without a code.
	tr := &Transport{Options: Options{Store: store}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	resp, err := hc.Get("https://" + dev.addr + "/x")
	if err != nil {
		t.Fatalf("Transport without code: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "GET /x auth=PSK" {
		t.Errorf("Transport without code: %q", body)
	}
	// The store is keyed by address and identity: another identity, or
	// the same device under another address, has no pairing.
	if _, err := Dial(t.Context(), dev.addr, "", &Options{Store: store, Identity: "other"}); kindOf(err) != NotPaired {
		t.Errorf("Dial with another identity: %v, want NotPaired", err)
	}
	_, port, _ := net.SplitHostPort(dev.addr)
	if _, err := Dial(t.Context(), "localhost:"+port, "", &Options{Store: store}); kindOf(err) != NotPaired {
		t.Errorf("Dial under another name: %v, want NotPaired", err)
	}
}

func TestPairIdentity(t *testing.T) {
	dev := startPairingDevice(t, "cam-3", 0)
	store := newStore(t)
	// The identity comes from the pairing URI and is stored with the
	// pairing.
	uri := paircode.Invite{Code: dev.code, Identity: "cam-3"}.URI()
	if _, err := Pair(t.Context(), dev.addr, uri, &Options{Store: store}); err != nil {
		t.Fatalf("Pair with a URI: %v", err)
	}
	known, _ := store.List()
	if len(known) != 1 || known[0].Identity != "cam-3" {
		t.Fatalf("stored %+v, want identity cam-3", known)
	}
	if st := dialAuth(t, dev.addr, "", &Options{Store: store, Identity: "cam-3"}); st.Auth != tlspake.AuthPSK {
		t.Errorf("auth %v", st.Auth)
	}
	if _, err := Dial(t.Context(), dev.addr, "", &Options{Store: store}); kindOf(err) != NotPaired {
		t.Errorf("Dial without the identity: %v, want NotPaired", err)
	}
	// Pairing again replaces the client's entry.
	p2, err := Pair(t.Context(), dev.addr, dev.code.Printed(), &Options{Store: store, Identity: "cam-3"})
	if err != nil {
		t.Fatal(err)
	}
	known, _ = store.List()
	if len(known) != 1 || known[0].PairingID != hex.EncodeToString(p2.ID) {
		t.Fatalf("after pairing again: %+v, want one entry with %x", known, p2.ID)
	}
	if st := dialAuth(t, dev.addr, "", &Options{Store: store, Identity: "cam-3"}); !bytes.Equal(st.PSKIdentity, p2.ID) {
		t.Errorf("Dial used pairing %x, want the new %x", st.PSKIdentity, p2.ID)
	}
}

func TestDialRevokedPairing(t *testing.T) {
	dev := startPairingDevice(t, "", 0)
	store := newStore(t)
	p, err := Pair(t.Context(), dev.addr, dev.code.Printed(), &Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.store.Revoke(hex.EncodeToString(p.ID)); err != nil {
		t.Fatal(err)
	}
	_, err = Dial(t.Context(), dev.addr, "", &Options{Store: store})
	if kindOf(err) != NotPaired {
		t.Fatalf("Dial with a revoked pairing: %v (kind %d), want NotPaired", err, kindOf(err))
	}
	if !errors.Is(err, tlspake.ErrPSKRejected) {
		t.Errorf("errors.Is(err, ErrPSKRejected) is false for %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "no longer recognises this client; pair again") || !strings.Contains(msg, dev.addr) {
		t.Errorf("message %q", msg)
	}
	// The same through the Transport.
	tr := &Transport{Options: Options{Store: store}}
	defer tr.CloseIdleConnections()
	_, err = (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Get("https://" + dev.addr + "/")
	if kindOf(err) != NotPaired || !errors.Is(err, tlspake.ErrPSKRejected) {
		t.Errorf("Transport with a revoked pairing: %v", err)
	}
	// With the code the client falls back to the PAKE.
	if st := dialAuth(t, dev.addr, dev.code.Printed(), &Options{Store: store}); st.Auth != tlspake.AuthPAKE {
		t.Errorf("Dial with code and revoked pairing: auth %v, want PAKE", st.Auth)
	}
	// The client keeps its (stale) entry until it pairs again or forgets.
	if _, ok, _ := store.Lookup(dev.addr, ""); !ok {
		t.Error("the client dropped its pairing on its own")
	}
	p2, err := Pair(t.Context(), dev.addr, dev.code.Printed(), &Options{Store: store})
	if err != nil {
		t.Fatalf("pairing again: %v", err)
	}
	if st := dialAuth(t, dev.addr, "", &Options{Store: store}); !bytes.Equal(st.PSKIdentity, p2.ID) {
		t.Errorf("after pairing again: identity %x, want %x", st.PSKIdentity, p2.ID)
	}

	// A device whose code changed revokes pairings made with the old one.
	if n, err := dev.store.RevokeOtherCodes(newCode(t)); err != nil || n != 1 {
		t.Fatalf("RevokeOtherCodes = %d, %v", n, err)
	}
	if _, err := Dial(t.Context(), dev.addr, "", &Options{Store: store}); kindOf(err) != NotPaired || !errors.Is(err, tlspake.ErrPSKRejected) {
		t.Errorf("after the code changed: %v, want NotPaired", err)
	}
}

func TestPairFailures(t *testing.T) {
	t.Run("wrong code", func(t *testing.T) {
		dev := startPairingDevice(t, "", 0)
		store := newStore(t)
		_, err := Pair(t.Context(), dev.addr, newCode(t).Printed(), &Options{Store: store})
		if kindOf(err) != WrongCode {
			t.Fatalf("Pair with a wrong code: %v, want WrongCode", err)
		}
		if known, _ := store.List(); len(known) != 0 {
			t.Errorf("client store: %+v", known)
		}
		if ids := dev.ids(t); len(ids) != 0 {
			t.Errorf("device store: %v", ids)
		}
	})
	t.Run("mistyped", func(t *testing.T) {
		dev := startPairingDevice(t, "", 0)
		_, err := Pair(t.Context(), dev.addr, typo(dev.code), &Options{Store: newStore(t)})
		if kindOf(err) != Mistyped {
			t.Fatalf("Pair with a typo: %v, want Mistyped", err)
		}
		if n := dev.tcp.n.Load(); n != 0 {
			t.Errorf("a mistyped code made %d connections", n)
		}
		_, err = Pair(t.Context(), dev.addr, "", &Options{Store: newStore(t)})
		if err == nil {
			t.Fatal("Pair with no code succeeded")
		}
	})
	t.Run("store full", func(t *testing.T) {
		dev := startPairingDevice(t, "", 1)
		if _, err := Pair(t.Context(), dev.addr, dev.code.Printed(), &Options{Store: newStore(t)}); err != nil {
			t.Fatal(err)
		}
		store := newStore(t)
		_, err := Pair(t.Context(), dev.addr, dev.code.Printed(), &Options{Store: store})
		if err == nil {
			t.Fatal("Pair with a full device store succeeded")
		}
		if msg := err.Error(); !strings.Contains(msg, "refused to pair") || !strings.Contains(msg, "507") || !strings.Contains(msg, "revoke") {
			t.Errorf("message %q does not say the device is full and what to do", msg)
		}
		if known, _ := store.List(); len(known) != 0 {
			t.Errorf("a refused pairing was saved: %+v", known)
		}
	})
	t.Run("device without pairing", func(t *testing.T) {
		dev := startDevice(t, "", http.NotFoundHandler())
		store := newStore(t)
		_, err := Pair(t.Context(), dev.addr, dev.code.Printed(), &Options{Store: store})
		if err == nil || !strings.Contains(err.Error(), "does not accept pairings") {
			t.Fatalf("Pair with a device that does not pair: %v", err)
		}
		if known, _ := store.List(); len(known) != 0 {
			t.Errorf("saved %+v", known)
		}
	})
	t.Run("wrong pairing id", func(t *testing.T) {
		// A device that answers 200 with someone else's pairing ID (a web
		// UI behind the device that happens to answer the path, say).
		dev := startDevice(t, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"pairing_id": "00112233445566778899aabbccddeeff"}`)
		}))
		store := newStore(t)
		_, err := Pair(t.Context(), dev.addr, dev.code.Printed(), &Options{Store: store})
		if err == nil || !strings.Contains(err.Error(), "unexpected pairing id") {
			t.Fatalf("Pair with a mismatched answer: %v", err)
		}
		if known, _ := store.List(); len(known) != 0 {
			t.Errorf("saved %+v", known)
		}
	})
	t.Run("no store", func(t *testing.T) {
		// Without a store, Pair returns the pairing for the caller to keep.
		dev := startPairingDevice(t, "", 0)
		p, err := Pair(t.Context(), dev.addr, dev.code.Printed(), nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Dial(t.Context(), dev.addr, "", &Options{PSKs: []tlspake.PSK{p.PSK()}})
		if err != nil {
			t.Fatalf("Dial with the returned pairing as a raw PSK: %v", err)
		}
		defer c.Close()
		if st := c.ConnectionState(); st.Auth != tlspake.AuthPSK {
			t.Errorf("auth %v", st.Auth)
		}
	})
}

func TestStoreForget(t *testing.T) {
	dev := startPairingDevice(t, "", 0)
	store := newStore(t)
	if _, err := Pair(t.Context(), dev.addr, dev.code.Printed(), &Options{Store: store}); err != nil {
		t.Fatal(err)
	}
	other := tlspake.Pairing{ID: bytes.Repeat([]byte{1}, 16), Secret: bytes.Repeat([]byte{2}, 32)}
	if err := store.Save("192.0.2.7:8443", "", other); err != nil {
		t.Fatal(err)
	}
	// Forgetting an unknown device (or identity) is reported, not an
	// error, and changes nothing.
	for _, c := range [][2]string{{"192.0.2.8:8443", ""}, {dev.addr, "someone"}} {
		if found, err := store.Forget(c[0], c[1]); err != nil || found {
			t.Errorf("Forget(%q, %q) = %v, %v", c[0], c[1], found, err)
		}
	}
	if found, err := store.Forget(dev.addr, ""); err != nil || !found {
		t.Fatalf("Forget = %v, %v", found, err)
	}
	if _, ok, err := store.Lookup(dev.addr, ""); ok || err != nil {
		t.Errorf("Lookup after Forget = %v, %v", ok, err)
	}
	known, _ := store.List()
	if len(known) != 1 || known[0].Addr != "192.0.2.7:8443" {
		t.Errorf("Forget removed the wrong entries: %+v", known)
	}
	if found, err := store.Forget(dev.addr, ""); err != nil || found {
		t.Errorf("second Forget = %v, %v", found, err)
	}
	// Without a pairing and a code, Dial refuses locally.
	before := dev.tcp.n.Load()
	_, err := Dial(t.Context(), dev.addr, "", &Options{Store: store})
	if kindOf(err) != NotPaired || errors.Is(err, tlspake.ErrPSKRejected) {
		t.Fatalf("Dial after Forget: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "no code given and no pairing") || !strings.Contains(msg, "tlspake pair") {
		t.Errorf("message %q", msg)
	}
	if dev.tcp.n.Load() != before {
		t.Error("Dial with neither code nor pairing connected to the device")
	}
	// The device still knows the pairing: forgetting is local only.
	if ids := dev.ids(t); len(ids) != 1 {
		t.Errorf("device store %v", ids)
	}
}

func TestStoreCorrupt(t *testing.T) {
	dev := startPairingDevice(t, "", 0)
	for name, content := range map[string]string{
		"truncated": `{"version": 1, "devices": [{"addr": "`,
		"empty":     ``,
		"garbage":   "\x00not json",
		"unknown":   `{"version": 1, "devices": [], "x": 1}`,
	} {
		t.Run(name, func(t *testing.T) {
			store := newStore(t)
			os.MkdirAll(filepath.Dir(store.Path()), 0o700)
			if err := os.WriteFile(store.Path(), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			check := func(op string, err error) {
				t.Helper()
				var ce *jsonstore.CorruptError
				if !errors.As(err, &ce) || ce.Path != store.Path() {
					t.Errorf("%s with a damaged store: %v, want a *jsonstore.CorruptError for %s", op, err, store.Path())
					return
				}
				if msg := err.Error(); !strings.Contains(msg, store.Path()) || !strings.Contains(msg, "damaged") || !strings.Contains(msg, "by hand") {
					t.Errorf("%s: message %q", op, msg)
				}
			}
			_, err := Dial(t.Context(), dev.addr, "", &Options{Store: store})
			check("Dial without code", err)
			// With a code, a damaged store does not stand in the way.
			if c, err := Dial(t.Context(), dev.addr, dev.code.Printed(), &Options{Store: store}); err != nil {
				t.Errorf("Dial with code and a damaged store: %v", err)
			} else {
				c.Close()
			}
			_, _, err = store.Lookup(dev.addr, "")
			check("Lookup", err)
			_, err = store.List()
			check("List", err)
			_, err = store.Forget(dev.addr, "")
			check("Forget", err)
			check("Save", store.Save(dev.addr, "", tlspake.Pairing{ID: make([]byte, 16), Secret: make([]byte, 32)}))
			_, err = Pair(t.Context(), dev.addr, dev.code.Printed(), &Options{Store: store})
			check("Pair", err)
			if b, _ := os.ReadFile(store.Path()); string(b) != content {
				t.Errorf("the damaged store was changed: %q", b)
			}
		})
	}

	t.Run("damaged entry", func(t *testing.T) {
		store := newStore(t)
		if _, err := Pair(t.Context(), dev.addr, dev.code.Printed(), &Options{Store: store}); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(store.Path())
		damaged := bytes.Replace(b, []byte(`"secret": "`), []byte(`"secret": "zz`), 1)
		if bytes.Equal(b, damaged) {
			t.Fatalf("no secret in %s", b)
		}
		os.WriteFile(store.Path(), damaged, 0o600)
		_, err := Dial(t.Context(), dev.addr, "", &Options{Store: store})
		if err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "pair again") {
			t.Fatalf("Dial with a damaged entry: %v", err)
		}
		// Forget repairs it.
		if found, err := store.Forget(dev.addr, ""); err != nil || !found {
			t.Fatalf("Forget of a damaged entry = %v, %v", found, err)
		}
		if _, err := Pair(t.Context(), dev.addr, dev.code.Printed(), &Options{Store: store}); err != nil {
			t.Fatal(err)
		}
		if st := dialAuth(t, dev.addr, "", &Options{Store: store}); st.Auth != tlspake.AuthPSK {
			t.Errorf("auth %v after pairing again", st.Auth)
		}
	})
}

// TestPairCorruptStoreLeavesNoOrphan: when the client cannot save the
// pairing, the device should not keep one that nobody can use.
func TestPairCorruptStoreLeavesNoOrphan(t *testing.T) {
	dev := startPairingDevice(t, "", 0)
	store := newStore(t)
	os.MkdirAll(filepath.Dir(store.Path()), 0o700)
	os.WriteFile(store.Path(), []byte("{"), 0o600)
	if _, err := Pair(t.Context(), dev.addr, dev.code.Printed(), &Options{Store: store}); err == nil {
		t.Fatal("Pair with a damaged store succeeded")
	}
	if ids := dev.ids(t); len(ids) != 0 {
		t.Errorf("Pair with an unreadable client store still made a pairing on the device (%d orphan entries): Pair should check the store before asking the device", len(ids))
	}
}

func TestDefaultStorePath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	p, err := DefaultStorePath()
	if err != nil || p != filepath.Join(dir, "tlspake", "devices.json") {
		t.Fatalf("DefaultStorePath = %q, %v", p, err)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", dir)
	p, err = DefaultStorePath()
	if err != nil || !strings.HasPrefix(p, dir) || !strings.HasSuffix(p, filepath.Join("tlspake", "devices.json")) {
		t.Fatalf("DefaultStorePath without XDG_CONFIG_HOME = %q, %v", p, err)
	}
	// A store in a directory that does not exist yet is created on the
	// first Save, mode 0700 / 0600.
	s := OpenStore(filepath.Join(dir, "a", "b", "devices.json"))
	if known, err := s.List(); err != nil || len(known) != 0 {
		t.Fatalf("List of a missing store = %v, %v", known, err)
	}
	if err := s.Save("192.0.2.1:1", "", tlspake.Pairing{ID: make([]byte, 16), Secret: make([]byte, 32)}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Dir(s.Path())); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("store directory mode %v (%v)", fi.Mode().Perm(), err)
	}
	if fi, err := os.Stat(s.Path()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("store file mode %v (%v)", fi.Mode().Perm(), err)
	}
}
