package device

// Tests of the device's pairing store (PairingStore) and of the pairing
// endpoint (PairingHandler), PROFILE.md section 5.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlspake/pake/internal/jsonstore"
	"github.com/tlspake/pake/tlspake"
	"github.com/tlspake/pake/tlspake/paircode"
)

// randomPairing returns a pairing with fresh random ID and secret.
func randomPairing(t testing.TB) tlspake.Pairing {
	t.Helper()
	p := tlspake.Pairing{ID: make([]byte, 16), Secret: make([]byte, 32)}
	rand.Read(p.ID)
	rand.Read(p.Secret)
	return p
}

func listIDs(t *testing.T, s *PairingStore) []string {
	t.Helper()
	list, err := s.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	ids := make([]string, len(list))
	for i, p := range list {
		ids[i] = p.ID
	}
	return ids
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPairingStoreAddListRevoke(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "pairings.json")
	s := OpenPairingStore(path, 0)
	if s.Path() != path {
		t.Fatalf("Path() = %q, want %q", s.Path(), path)
	}
	// A store that does not exist yet is empty, and reading it creates
	// nothing.
	if ids := listIDs(t, s); len(ids) != 0 {
		t.Fatalf("new store lists %v", ids)
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("List created %s", path)
	}

	code := newCode(t)
	var ps []tlspake.Pairing
	before := time.Now().Add(-time.Second)
	for i := range 3 {
		p := randomPairing(t)
		ps = append(ps, p)
		if err := s.Add(p, code, PairingInfo{Client: fmt.Sprintf("client-%d", i), Remote: "192.0.2.1:1234"}); err != nil {
			t.Fatalf("Add %d: %v", i, err)
		}
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("List returned %d pairings, want 3", len(list))
	}
	for i, info := range list {
		if info.ID != hex.EncodeToString(ps[i].ID) {
			t.Errorf("pairing %d: ID %q, want %x (oldest first)", i, info.ID, ps[i].ID)
		}
		if info.Client != fmt.Sprintf("client-%d", i) || info.Remote != "192.0.2.1:1234" {
			t.Errorf("pairing %d: info %+v", i, info)
		}
		if info.Created.Before(before) || info.Created.After(time.Now().Add(time.Second)) {
			t.Errorf("pairing %d: Created %v is not now", i, info.Created)
		}
	}
	// The secret is in the file (the device needs it) but List does not
	// return it; lookup finds it.
	for _, p := range ps {
		psk, ok := s.lookup(p.ID)
		if !ok || !bytes.Equal(psk.Identity, p.ID) || !bytes.Equal(psk.Secret, p.Secret) {
			t.Fatalf("lookup(%x) = %+v, %v; want the stored pairing", p.ID, psk, ok)
		}
	}
	if _, ok := s.lookup(randomPairing(t).ID); ok {
		t.Error("lookup found an unknown identity")
	}
	if !bytes.Contains(readFile(t, path), []byte(hex.EncodeToString(ps[0].Secret))) {
		t.Error("the store file does not hold the pairing secret")
	}

	// A given Created time is kept.
	when := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	p4 := randomPairing(t)
	if err := s.Add(p4, code, PairingInfo{Created: when}); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.List(); len(list) != 4 || !list[3].Created.Equal(when) {
		t.Errorf("Created not kept: %+v", list)
	}

	// Revoke removes exactly one pairing.
	if err := s.Revoke(hex.EncodeToString(ps[1].ID)); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	want := []string{hex.EncodeToString(ps[0].ID), hex.EncodeToString(ps[2].ID), hex.EncodeToString(p4.ID)}
	if ids := listIDs(t, s); !slices.Equal(ids, want) {
		t.Fatalf("after Revoke: %v, want %v", ids, want)
	}
	if _, ok := s.lookup(ps[1].ID); ok {
		t.Error("lookup still finds the revoked pairing")
	}
	// Revoking it again, or an unknown ID, is ErrNoPairing and changes
	// nothing.
	snapshot := readFile(t, path)
	for _, id := range []string{hex.EncodeToString(ps[1].ID), "00", ""} {
		if err := s.Revoke(id); !errors.Is(err, ErrNoPairing) {
			t.Errorf("Revoke(%q) = %v, want ErrNoPairing", id, err)
		}
	}
	if !bytes.Equal(readFile(t, path), snapshot) {
		t.Error("a failed Revoke changed the file")
	}

	// RevokeAll reports how many there were.
	n, err := s.RevokeAll()
	if err != nil || n != 3 {
		t.Fatalf("RevokeAll = %d, %v; want 3", n, err)
	}
	if ids := listIDs(t, s); len(ids) != 0 {
		t.Fatalf("after RevokeAll: %v", ids)
	}
	if n, err := s.RevokeAll(); err != nil || n != 0 {
		t.Fatalf("RevokeAll on an empty store = %d, %v", n, err)
	}
	// The emptied store is still usable.
	if err := s.Add(randomPairing(t), code, PairingInfo{}); err != nil {
		t.Fatal(err)
	}
	if ids := listIDs(t, s); len(ids) != 1 {
		t.Fatalf("after Add to an emptied store: %v", ids)
	}

	// Another PairingStore value on the same file sees the same pairings
	// (the daemon and the operator's command are separate processes).
	if ids := listIDs(t, OpenPairingStore(path, 0)); len(ids) != 1 {
		t.Errorf("a second store on the file lists %v", ids)
	}
}

func TestPairingStoreBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pairings.json")
	s := OpenPairingStore(path, 2)
	code := newCode(t)
	p1, p2, p3 := randomPairing(t), randomPairing(t), randomPairing(t)
	for _, p := range []tlspake.Pairing{p1, p2} {
		if err := s.Add(p, code, PairingInfo{}); err != nil {
			t.Fatal(err)
		}
	}
	snapshot := readFile(t, path)
	err := s.Add(p3, code, PairingInfo{})
	if !errors.Is(err, ErrStoreFull) {
		t.Fatalf("Add to a full store = %v, want ErrStoreFull", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "revoke") || !strings.Contains(msg, "2 of 2") {
		t.Errorf("message does not say what to do: %q", msg)
	}
	// Nothing was evicted, nothing was written.
	if !bytes.Equal(readFile(t, path), snapshot) {
		t.Error("a refused Add changed the file")
	}
	for _, p := range []tlspake.Pairing{p1, p2} {
		if _, ok := s.lookup(p.ID); !ok {
			t.Errorf("pairing %x was evicted", p.ID)
		}
	}
	if _, ok := s.lookup(p3.ID); ok {
		t.Error("the refused pairing is usable")
	}
	// Revoking one makes room again.
	if err := s.Revoke(hex.EncodeToString(p1.ID)); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(p3, code, PairingInfo{}); err != nil {
		t.Fatalf("Add after Revoke: %v", err)
	}
	if ids := listIDs(t, s); !slices.Equal(ids, []string{hex.EncodeToString(p2.ID), hex.EncodeToString(p3.ID)}) {
		t.Errorf("store holds %v", ids)
	}

	// The bound is per PairingStore value: a store opened with a larger
	// bound can add more; one opened with 0 uses DefaultMaxPairings.
	big := OpenPairingStore(path, 0)
	for i := 2; i < DefaultMaxPairings; i++ {
		if err := big.Add(randomPairing(t), code, PairingInfo{}); err != nil {
			t.Fatalf("Add %d with the default bound: %v", i+1, err)
		}
	}
	if err := big.Add(randomPairing(t), code, PairingInfo{}); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("Add %d with the default bound = %v, want ErrStoreFull", DefaultMaxPairings+1, err)
	}
	if ids := listIDs(t, big); len(ids) != DefaultMaxPairings {
		t.Fatalf("%d pairings, want %d", len(ids), DefaultMaxPairings)
	}
	// A smaller bound than the content refuses new pairings but keeps
	// the old ones.
	if err := s.Add(randomPairing(t), code, PairingInfo{}); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("Add to an overfull store = %v, want ErrStoreFull", err)
	}
	if ids := listIDs(t, s); len(ids) != DefaultMaxPairings {
		t.Fatalf("overfull store now holds %d pairings", len(ids))
	}
}

func TestPairingStoreConcurrentAddBounded(t *testing.T) {
	// Goroutines race to fill a bounded store: exactly max of them win.
	const max, workers = 5, 12
	s := OpenPairingStore(filepath.Join(t.TempDir(), "pairings.json"), max)
	code := newCode(t)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() { errs <- s.Add(randomPairing(t), code, PairingInfo{}) })
	}
	wg.Wait()
	close(errs)
	ok, full := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrStoreFull):
			full++
		default:
			t.Errorf("Add: %v", err)
		}
	}
	if ok != max || full != workers-max {
		t.Errorf("%d Adds succeeded and %d were refused, want %d and %d", ok, full, max, workers-max)
	}
	if ids := listIDs(t, s); len(ids) != max {
		t.Errorf("store holds %d pairings, want %d", len(ids), max)
	}
}

func TestPairingStoreRevokeOtherCodes(t *testing.T) {
	s := OpenPairingStore(filepath.Join(t.TempDir(), "pairings.json"), 0)
	oldCode, newCodeV, third := newCode(t), newCode(t), newCode(t)
	var keep, drop []tlspake.Pairing
	for i := range 6 {
		p := randomPairing(t)
		c := oldCode
		switch i % 3 {
		case 0:
			c = newCodeV
			keep = append(keep, p)
		case 1:
			drop = append(drop, p)
		case 2:
			c = third
			drop = append(drop, p)
		}
		if err := s.Add(p, c, PairingInfo{Client: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.RevokeOtherCodes(newCodeV)
	if err != nil || n != len(drop) {
		t.Fatalf("RevokeOtherCodes = %d, %v; want %d", n, err, len(drop))
	}
	var want []string
	for _, p := range keep {
		want = append(want, hex.EncodeToString(p.ID))
	}
	if ids := listIDs(t, s); !slices.Equal(ids, want) {
		t.Fatalf("kept %v, want %v", ids, want)
	}
	for _, p := range drop {
		if _, ok := s.lookup(p.ID); ok {
			t.Errorf("pairing %x made with another code is still usable", p.ID)
		}
	}
	for _, p := range keep {
		if _, ok := s.lookup(p.ID); !ok {
			t.Errorf("pairing %x made with the current code was revoked", p.ID)
		}
	}
	// Again with the same code: nothing to do.
	if n, err := s.RevokeOtherCodes(newCodeV); err != nil || n != 0 {
		t.Fatalf("second RevokeOtherCodes = %d, %v", n, err)
	}
	// The same code typed differently is the same code: the tag depends
	// on the code, not on how it was written.
	same, err := paircode.Parse(strings.ToLower(newCodeV.Canonical()))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.RevokeOtherCodes(same); err != nil || n != 0 {
		t.Fatalf("RevokeOtherCodes with the same code typed in lower case = %d, %v", n, err)
	}
	// On an empty (missing) store it is a no-op.
	empty := OpenPairingStore(filepath.Join(t.TempDir(), "none.json"), 0)
	if n, err := empty.RevokeOtherCodes(oldCode); err != nil || n != 0 {
		t.Fatalf("RevokeOtherCodes on a missing store = %d, %v", n, err)
	}
	// The file never holds the code itself.
	b := readFile(t, s.Path())
	for _, c := range []paircode.Code{oldCode, newCodeV, third} {
		if bytes.Contains(bytes.ToUpper(b), []byte(c.Canonical())) {
			t.Errorf("the pairing store holds a code:\n%s", b)
		}
	}
}

func TestPairingStoreCorrupt(t *testing.T) {
	dir := t.TempDir()
	code := newCode(t)
	// A valid file to cut short.
	valid := filepath.Join(dir, "valid.json")
	vs := OpenPairingStore(valid, 0)
	for range 2 {
		if err := vs.Add(randomPairing(t), code, PairingInfo{Client: "c"}); err != nil {
			t.Fatal(err)
		}
	}
	full := readFile(t, valid)
	for name, content := range map[string][]byte{
		"truncated":     full[:len(full)/2],
		"truncated end": full[:len(full)-3],
		"empty":         nil,
		"blank":         []byte("\n  \n"),
		"garbage":       []byte("\x00\x01\x02 not json"),
		"unknown field": []byte(`{"version": 1, "pairings": [], "extra": true}`),
		"wrong type":    []byte(`{"version": 1, "pairings": {}}`),
		"trailing":      append(bytes.Clone(full), []byte("{}")...),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pairings.json")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			s := OpenPairingStore(path, 0)
			ops := map[string]func() error{
				"List":             func() error { _, err := s.List(); return err },
				"Add":              func() error { return s.Add(randomPairing(t), code, PairingInfo{}) },
				"Revoke":           func() error { return s.Revoke("00112233445566778899aabbccddeeff") },
				"RevokeAll":        func() error { _, err := s.RevokeAll(); return err },
				"RevokeOtherCodes": func() error { _, err := s.RevokeOtherCodes(newCode(t)); return err },
			}
			for op, f := range ops {
				err := f()
				var ce *jsonstore.CorruptError
				if !errors.As(err, &ce) {
					t.Errorf("%s on a %s store = %v, want a *jsonstore.CorruptError", op, name, err)
					continue
				}
				if ce.Path != path || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "damaged") {
					t.Errorf("%s: error does not name the damaged file: %v", op, err)
				}
				if errors.Is(err, ErrStoreFull) || errors.Is(err, ErrNoPairing) {
					t.Errorf("%s: a damaged store is reported as %v", op, err)
				}
			}
			// The device refuses every pairing rather than guessing.
			if _, ok := s.lookup(make([]byte, 16)); ok {
				t.Error("lookup succeeded on a damaged store")
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, content) {
				t.Errorf("the damaged file was changed (err %v):\n%q\nwas\n%q", err, got, content)
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			for _, e := range entries {
				if e.Name() != "pairings.json" && e.Name() != "pairings.json.lock" {
					t.Errorf("leftover file %s", e.Name())
				}
			}
		})
	}

	// A file from a newer version is refused (not a CorruptError, but
	// not rewritten either).
	t.Run("newer version", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "pairings.json")
		content := []byte(`{"version": 2, "pairings": []}`)
		os.WriteFile(path, content, 0o600)
		s := OpenPairingStore(path, 0)
		err := s.Add(randomPairing(t), code, PairingInfo{})
		if err == nil || !strings.Contains(err.Error(), "version 2") {
			t.Errorf("Add to a version 2 store = %v", err)
		}
		if _, err := s.RevokeAll(); err == nil {
			t.Error("RevokeAll emptied a version 2 store")
		}
		if got := readFile(t, path); !bytes.Equal(got, content) {
			t.Errorf("the version 2 file was changed: %q", got)
		}
	})

	// A damaged entry (bad secret) is never used as a key.
	t.Run("damaged entry", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "pairings.json")
		s := OpenPairingStore(path, 0)
		p := randomPairing(t)
		if err := s.Add(p, code, PairingInfo{}); err != nil {
			t.Fatal(err)
		}
		b := readFile(t, path)
		for _, bad := range []string{"zz", hex.EncodeToString(p.Secret[:16])} {
			damaged := bytes.Replace(b, []byte(hex.EncodeToString(p.Secret)), []byte(bad), 1)
			if bytes.Equal(damaged, b) {
				t.Fatal("secret not found in the file")
			}
			os.WriteFile(path, damaged, 0o600)
			if _, ok := s.lookup(p.ID); ok {
				t.Errorf("lookup used a damaged secret %q", bad)
			}
		}
	})
}

func TestPairingStoreFileMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "dir")
	path := filepath.Join(dir, "pairings.json")
	s := OpenPairingStore(path, 0)
	if err := s.Add(randomPairing(t), newCode(t), PairingInfo{}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, path + ".lock": 0o600, dir: 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got&^want != 0 {
			t.Errorf("%s has mode %v, want at most %v", p, got, want)
		}
	}
	// A store file that someone made readable by others is tightened by
	// the next update.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(randomPairing(t), newCode(t), PairingInfo{}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("after an update the file has mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestPairingStoreConcurrentAdds(t *testing.T) {
	const workers, each = 8, 5
	s := OpenPairingStore(filepath.Join(t.TempDir(), "pairings.json"), 1000)
	code := newCode(t)
	var mu sync.Mutex
	var want []string
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			// Each worker uses its own PairingStore value, as separate
			// callers would.
			ws := OpenPairingStore(s.Path(), 1000)
			for range each {
				p := randomPairing(t)
				if err := ws.Add(p, code, PairingInfo{Client: strconv.Itoa(w)}); err != nil {
					t.Errorf("worker %d: Add: %v", w, err)
					return
				}
				mu.Lock()
				want = append(want, hex.EncodeToString(p.ID))
				mu.Unlock()
			}
		})
	}
	// Readers run at the same time and never see a damaged file.
	stop := make(chan struct{})
	var rwg sync.WaitGroup
	rwg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.List(); err != nil {
				t.Errorf("List during Adds: %v", err)
				return
			}
		}
	})
	wg.Wait()
	close(stop)
	rwg.Wait()
	got := listIDs(t, s)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("store holds %d pairings, want the %d added (lost updates)", len(got), len(want))
	}
}

// helperEnv makes the test binary act as a second process adding
// pairings (see TestPairingStoreHelperProcess).
const helperEnv = "TLSPAKE_TEST_PAIRING_HELPER"

// TestPairingStoreHelperProcess is not a test: run by
// TestPairingStoreTwoProcesses in a child process, it waits for a start
// file, adds pairings to the store and prints their IDs.
func TestPairingStoreHelperProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("helper process for TestPairingStoreTwoProcesses")
	}
	// spec is "STORE|START|COUNT|CODE".
	parts := strings.Split(spec, "|")
	if len(parts) != 4 {
		t.Fatalf("bad %s %q", helperEnv, spec)
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	code, err := paircode.Parse(parts[3])
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(parts[1]); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("start file never appeared")
		}
		time.Sleep(time.Millisecond)
	}
	s := OpenPairingStore(parts[0], 1000)
	for range n {
		p := randomPairing(t)
		if err := s.Add(p, code, PairingInfo{Client: fmt.Sprintf("pid-%d", os.Getpid())}); err != nil {
			t.Fatalf("Add: %v", err)
		}
		fmt.Printf("ADDED %x\n", p.ID)
	}
}

func TestPairingStoreTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	const procs, each = 2, 15
	dir := t.TempDir()
	path := filepath.Join(dir, "pairings.json")
	start := filepath.Join(dir, "go")
	code := newCode(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	type child struct {
		cmd *exec.Cmd
		out bytes.Buffer
		err bytes.Buffer
	}
	var children []*child
	for range procs {
		c := &child{}
		c.cmd = exec.CommandContext(ctx, os.Args[0], "-test.run=^TestPairingStoreHelperProcess$", "-test.v", "-test.count=1")
		c.cmd.Env = append(os.Environ(), helperEnv+"="+strings.Join([]string{path, start, strconv.Itoa(each), code.Printed()}, "|"))
		c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.err
		c.cmd.WaitDelay = 5 * time.Second
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children = append(children, c)
	}
	t.Cleanup(func() {
		for _, c := range children {
			if c.cmd.ProcessState == nil {
				c.cmd.Process.Kill()
				c.cmd.Wait()
			}
		}
	})
	// This process adds too, at the same time.
	if err := os.WriteFile(start, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := OpenPairingStore(path, 1000)
	var want []string
	for range each {
		p := randomPairing(t)
		if err := s.Add(p, code, PairingInfo{Client: "parent"}); err != nil {
			t.Fatal(err)
		}
		want = append(want, hex.EncodeToString(p.ID))
	}
	for i, c := range children {
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\nstdout:\n%s\nstderr:\n%s", i, err, c.out.String(), c.err.String())
		}
		sc := bufio.NewScanner(&c.out)
		got := 0
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "ADDED "); ok {
				want = append(want, id)
				got++
			}
		}
		if got != each {
			t.Fatalf("child %d reported %d pairings, want %d:\n%s", i, got, each, c.out.String())
		}
	}
	got := listIDs(t, s)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("store holds %d pairings, want the %d added by %d processes (lost updates)", len(got), len(want), procs+1)
	}
	// Three writers show up as three clients.
	list, _ := s.List()
	clients := map[string]int{}
	for _, p := range list {
		clients[p.Client]++
	}
	if len(clients) != procs+1 {
		t.Errorf("pairings by client: %v", clients)
	}
}

// pairingDevice is a device serving PairingHandler in front of a handler
// that reports what it saw, with the server side's view of each pairing
// request.
type pairingDevice struct {
	addr  string
	code  paircode.Code
	store *PairingStore
	// serverPairings receives the server side's DerivePairing for each
	// request to PairingPath.
	serverPairings chan tlspake.Pairing
}

func startPairingDevice(t *testing.T, max int) *pairingDevice {
	t.Helper()
	d := &pairingDevice{
		code:           newCode(t),
		store:          OpenPairingStore(filepath.Join(t.TempDir(), "pairings.json"), max),
		serverPairings: make(chan tlspake.Pairing, 16),
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, _ := ConnectionState(r)
		fmt.Fprintf(w, "next %s %s auth=%v", r.Method, r.URL.Path, st.Auth)
	})
	ph := PairingHandler(d.store, d.code, next)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == PairingPath {
			if c, ok := r.Context().Value(connKey{}).(*tlspake.Conn); ok {
				if p, err := c.DerivePairing(); err == nil {
					d.serverPairings <- p
				}
			}
		}
		ph.ServeHTTP(w, r)
	})
	l, err := Listen("tcp", "127.0.0.1:0", &Config{Code: d.code, Pairings: d.store})
	if err != nil {
		t.Fatal(err)
	}
	d.addr = l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, h) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("device did not stop")
		}
	})
	return d
}

type httpAnswer struct {
	status int
	header http.Header
	body   string
}

// request sends one HTTP/1.1 request on c and reads the answer.
func request(t *testing.T, c *tlspake.Conn, method, path string) httpAnswer {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req, err := http.NewRequest(method, "https://device"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := req.Write(c); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading: %v", method, path, err)
	}
	return httpAnswer{resp.StatusCode, resp.Header, string(b)}
}

func dialCode(t *testing.T, d *pairingDevice, clientID string) *tlspake.Conn {
	t.Helper()
	c, err := dialPAKEConfig(t.Context(), d.addr, &tlspake.Config{
		Code:             d.code.PRS(),
		ClientIdentity:   []byte(clientID),
		NextProtos:       []string{"http/1.1"},
		HandshakeTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("dial with the code: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func dialPSK(t *testing.T, d *pairingDevice, p tlspake.Pairing, withCode bool) (*tlspake.Conn, error) {
	t.Helper()
	cfg := &tlspake.Config{PSKs: []tlspake.PSK{p.PSK()}, NextProtos: []string{"http/1.1"}, HandshakeTimeout: 10 * time.Second}
	if withCode {
		cfg.Code = d.code.PRS()
	}
	c, err := dialPAKEConfig(t.Context(), d.addr, cfg)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func TestPairingHandlerPairs(t *testing.T) {
	d := startPairingDevice(t, 0)
	c := dialCode(t, d, "laptop")
	if st := c.ConnectionState(); st.Auth != tlspake.AuthPAKE {
		t.Fatalf("Auth = %v, want PAKE", st.Auth)
	}
	clientP, err := c.DerivePairing()
	if err != nil {
		t.Fatal(err)
	}
	a := request(t, c, http.MethodPost, PairingPath)
	if a.status != http.StatusOK {
		t.Fatalf("POST %s: %d %s", PairingPath, a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var answer map[string]string
	if err := json.Unmarshal([]byte(a.body), &answer); err != nil || len(answer) != 1 {
		t.Fatalf("answer %q is not {\"pairing_id\": HEX} (%v)", a.body, err)
	}
	var serverP tlspake.Pairing
	select {
	case serverP = <-d.serverPairings:
	case <-time.After(5 * time.Second):
		t.Fatal("no server-side pairing")
	}
	wantID := hex.EncodeToString(clientP.ID)
	if answer["pairing_id"] != wantID || !bytes.Equal(serverP.ID, clientP.ID) || !bytes.Equal(serverP.Secret, clientP.Secret) {
		t.Fatalf("pairing_id %q, client ID %x, server ID %x (secrets equal %v)", answer["pairing_id"], clientP.ID, serverP.ID, bytes.Equal(serverP.Secret, clientP.Secret))
	}
	list, err := d.store.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("store after pairing: %v, %v", list, err)
	}
	if list[0].ID != wantID || list[0].Client != "laptop" || list[0].Remote != c.LocalAddr().String() {
		t.Errorf("stored %+v; want ID %s, client laptop, remote %s", list[0], wantID, c.LocalAddr())
	}

	// The same connection is still a code connection: ordinary requests
	// reach next.
	if a := request(t, c, http.MethodGet, "/status"); a.status != 200 || a.body != "next GET /status auth=PAKE" {
		t.Errorf("GET /status: %d %q", a.status, a.body)
	}

	// The pairing now authenticates a connection without the code.
	pc, err := dialPSK(t, d, clientP, false)
	if err != nil {
		t.Fatalf("dial with the pairing: %v", err)
	}
	st := pc.ConnectionState()
	if st.Auth != tlspake.AuthPSK || !bytes.Equal(st.PSKIdentity, clientP.ID) || st.PAKEScheme != 0 {
		t.Fatalf("state: auth %v, identity %x, pake %v; want the pairing", st.Auth, st.PSKIdentity, st.PAKEScheme)
	}
	if suite := st.CipherSuite; suite != tlspake.TLS_AES_128_GCM_SHA256 && suite != tlspake.TLS_CHACHA20_POLY1305_SHA256 {
		t.Errorf("PSK connection uses %s, want a SHA-256 suite", tlspake.CipherSuiteName(suite))
	}
	if _, err := pc.DerivePairing(); err == nil {
		t.Error("DerivePairing succeeded on a PSK connection")
	}
	if a := request(t, pc, http.MethodGet, "/"); a.status != 200 || a.body != "next GET / auth=PSK" {
		t.Errorf("GET / over the pairing: %d %q", a.status, a.body)
	}
	// A PSK connection cannot make a new pairing: 409.
	a = request(t, pc, http.MethodPost, PairingPath)
	if a.status != http.StatusConflict || !strings.Contains(a.body, "pairing") {
		t.Errorf("POST over a paired connection: %d %q, want 409", a.status, a.body)
	}
	if ids := listIDs(t, d.store); len(ids) != 1 {
		t.Errorf("store holds %d pairings after the 409", len(ids))
	}
	// With the pairing and the code, the device prefers the pairing.
	both, err := dialPSK(t, d, clientP, true)
	if err != nil {
		t.Fatal(err)
	}
	if st := both.ConnectionState(); st.Auth != tlspake.AuthPSK {
		t.Errorf("pairing and code: Auth %v, want PSK", st.Auth)
	}

	// Revoked: the pairing alone is rejected; with the code the client
	// falls back to PAKE.
	if err := d.store.Revoke(wantID); err != nil {
		t.Fatal(err)
	}
	if _, err := dialPSK(t, d, clientP, false); !errors.Is(err, tlspake.ErrPSKRejected) {
		t.Fatalf("dial with a revoked pairing: %v, want ErrPSKRejected", err)
	}
	fb, err := dialPSK(t, d, clientP, true)
	if err != nil {
		t.Fatalf("revoked pairing and code: %v", err)
	}
	if st := fb.ConnectionState(); st.Auth != tlspake.AuthPAKE {
		t.Errorf("revoked pairing and code: Auth %v, want PAKE", st.Auth)
	}
}

func TestPairingHandlerMethodsAndPaths(t *testing.T) {
	d := startPairingDevice(t, 0)
	c := dialCode(t, d, "")
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete} {
		a := request(t, c, m, PairingPath)
		if a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != http.MethodPost {
			t.Errorf("%s %s: %d, Allow %q; want 405 with Allow: POST", m, PairingPath, a.status, a.header.Get("Allow"))
		}
	}
	// Other paths, even close ones, go to next.
	for _, p := range []string{"/", "/.well-known/tlspake", "/.well-known/tlspake/pair/", "/.well-known/tlspake/pairx", "/x" + PairingPath} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			a := request(t, c, m, p)
			if want := "next " + m + " " + p + " auth=PAKE"; a.status != 200 || a.body != want {
				t.Errorf("%s %s: %d %q, want %q from next", m, p, a.status, a.body, want)
			}
		}
	}
	if ids := listIDs(t, d.store); len(ids) != 0 {
		t.Errorf("non-POST requests made %d pairings", len(ids))
	}
	// A request that did not come over a tlspake connection is refused.
	rec := httptest.NewRecorder()
	PairingHandler(d.store, d.code, http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, PairingPath, nil))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("POST without a tlspake connection: %d", rec.Code)
	}
	if ids := listIDs(t, d.store); len(ids) != 0 {
		t.Errorf("a request without a connection made a pairing")
	}
}

func TestPairingHandlerStoreFull(t *testing.T) {
	d := startPairingDevice(t, 1)
	c1 := dialCode(t, d, "first")
	if a := request(t, c1, http.MethodPost, PairingPath); a.status != 200 {
		t.Fatalf("first pairing: %d %q", a.status, a.body)
	}
	snapshot := readFile(t, d.store.Path())
	c2 := dialCode(t, d, "second")
	a := request(t, c2, http.MethodPost, PairingPath)
	if a.status != http.StatusInsufficientStorage {
		t.Fatalf("pairing with a full store: %d %q, want 507", a.status, a.body)
	}
	if !strings.Contains(a.body, "revoke") || !strings.Contains(a.body, "owner") {
		t.Errorf("507 body does not tell what to do: %q", a.body)
	}
	if !bytes.Equal(readFile(t, d.store.Path()), snapshot) {
		t.Error("a refused pairing changed the store")
	}
	// The first pairing still works.
	list, _ := d.store.List()
	if len(list) != 1 || list[0].Client != "first" {
		t.Fatalf("store: %+v", list)
	}
}

func TestPairingHandlerDamagedStore(t *testing.T) {
	d := startPairingDevice(t, 0)
	content := []byte(`{"version": 1, "pairings": [`)
	if err := os.WriteFile(d.store.Path(), content, 0o600); err != nil {
		t.Fatal(err)
	}
	c := dialCode(t, d, "")
	a := request(t, c, http.MethodPost, PairingPath)
	if a.status != http.StatusInternalServerError || strings.Contains(a.body, d.store.Path()) {
		t.Errorf("pairing with a damaged store: %d %q, want 500 without the file's path", a.status, a.body)
	}
	if got := readFile(t, d.store.Path()); !bytes.Equal(got, content) {
		t.Errorf("the damaged store was changed: %q", got)
	}
	// The code still works.
	if a := request(t, c, http.MethodGet, "/"); a.status != 200 {
		t.Errorf("GET / with a damaged store: %d", a.status)
	}
}

// TestDeviceWithoutPairings: a device with no store ignores PSKs; a
// client offering one with the code gets the code.
func TestDeviceWithoutPairings(t *testing.T) {
	code := newCode(t)
	l, err := Listen("tcp", "127.0.0.1:0", &Config{Code: code})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := acceptAll(l)
	p := randomPairing(t)
	cfg := &tlspake.Config{PSKs: []tlspake.PSK{p.PSK()}, Code: code.PRS(), HandshakeTimeout: 10 * time.Second}
	c, err := dialPAKEConfig(t.Context(), l.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st := c.ConnectionState(); st.Auth != tlspake.AuthPAKE {
		t.Errorf("Auth %v, want PAKE", st.Auth)
	}
	r := nextAccept(t, accepted)
	if r.err != nil {
		t.Fatal(r.err)
	}
	r.c.Close()
	cfg.Code = nil
	_, err = dialPAKEConfig(t.Context(), l.Addr().String(), cfg)
	if !errors.Is(err, tlspake.ErrPSKRejected) {
		t.Errorf("PSK alone against a device without pairings: %v, want ErrPSKRejected", err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("timed out instead of a quick rejection: %v", err)
	}
}
