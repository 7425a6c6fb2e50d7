package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"github.com/tlspake/pake/internal/testutil"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tlspake/pake/client"
	"github.com/tlspake/pake/device"
	"github.com/tlspake/pake/tlspake"
	"github.com/tlspake/pake/tlspake/paircode"
)

func randomPairing(t *testing.T) tlspake.Pairing {
	t.Helper()
	p := tlspake.Pairing{ID: make([]byte, 16), Secret: make([]byte, 32)}
	rand.Read(p.ID)
	rand.Read(p.Secret)
	return p
}

func TestPairingsCommand(t *testing.T) {
	codePath := isolate(t)
	storePath := filepath.Join(filepath.Dir(codePath), "pairings.json")

	status, stdout, stderr := runCmd(t, "pairings", "list")
	if status != 0 || stdout != "" || !strings.Contains(stderr, "no pairings (store "+storePath+")") {
		t.Fatalf("list on an empty store: %d %q %q", status, stdout, stderr)
	}

	code, err := paircode.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	store := device.OpenPairingStore(storePath, 0)
	var ids []string
	for i, client := range []string{"", "alice"} {
		p := randomPairing(t)
		if err := store.Add(p, code, device.PairingInfo{Client: client, Remote: "192.0.2.9:4000"}); err != nil {
			t.Fatal(err)
		}
		list, _ := store.List()
		ids = append(ids, list[i].ID)
	}
	status, stdout, _ = runCmd(t, "pairings", "list")
	want := regexp.MustCompile(`^` + ids[0] + `\t\S+\t-\t192\.0\.2\.9:4000\n` + ids[1] + `\t\S+\talice\t192\.0\.2\.9:4000\n$`)
	if status != 0 || !want.MatchString(stdout) {
		t.Fatalf("list: %d %q", status, stdout)
	}

	// -pairings names another file.
	other := filepath.Join(t.TempDir(), "other.json")
	status, stdout, stderr = runCmd(t, "pairings", "-pairings", other, "list")
	if status != 0 || stdout != "" || !strings.Contains(stderr, other) {
		t.Errorf("list -pairings: %d %q %q", status, stdout, stderr)
	}

	status, _, stderr = runCmd(t, "pairings", "revoke", ids[0])
	if status != 0 || !strings.Contains(stderr, "revoked "+ids[0]) {
		t.Fatalf("revoke: %d %q", status, stderr)
	}
	status, _, stderr = runCmd(t, "pairings", "revoke", ids[0])
	if status != 1 || !strings.Contains(stderr, "no such pairing") {
		t.Errorf("revoke again: %d %q", status, stderr)
	}
	status, stdout, _ = runCmd(t, "pairings", "list")
	if status != 0 || strings.Contains(stdout, ids[0]) || !strings.Contains(stdout, ids[1]) {
		t.Errorf("list after revoke: %q", stdout)
	}
	status, _, stderr = runCmd(t, "pairings", "revoke-all")
	if status != 0 || !strings.Contains(stderr, "revoked 1 pairings") {
		t.Errorf("revoke-all: %d %q", status, stderr)
	}

	for _, args := range [][]string{
		{"pairings"},
		{"pairings", "revoke"},
		{"pairings", "revoke", "a", "b"},
		{"pairings", "list", "extra"},
		{"pairings", "revoke-all", "extra"},
		{"pairings", "bogus"},
		{"pairings", "-nosuchflag", "list"},
	} {
		if status, _, stderr := runCmd(t, args...); status != 2 || !strings.Contains(stderr, "sage") && !strings.Contains(stderr, "flag") {
			t.Errorf("%q: exit %d, stderr %q; want a usage error", args, status, stderr)
		}
	}

	// A damaged store is reported and left alone.
	damaged := []byte(`{"version": 1, "pairings": [{"id": "ab`)
	if err := os.WriteFile(storePath, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"pairings", "list"}, {"pairings", "revoke", ids[1]}, {"pairings", "revoke-all"}} {
		status, _, stderr := runCmd(t, args...)
		if status != 1 || !strings.Contains(stderr, storePath+" is damaged") {
			t.Errorf("%q on a damaged store: exit %d, stderr %q", args, status, stderr)
		}
	}
	if b, _ := os.ReadFile(storePath); !bytes.Equal(b, damaged) {
		t.Errorf("the damaged store was changed: %q", b)
	}
}

// TestServeDamagedPairingStore: the daemon refuses to start on a damaged
// pairing store (it cannot revoke old-code pairings in it) and says so.
func TestServeDamagedPairingStore(t *testing.T) {
	codePath := isolate(t)
	if _, _, err := device.LoadOrCreateCode(codePath); err != nil {
		t.Fatal(err)
	}
	storePath := filepath.Join(filepath.Dir(codePath), "pairings.json")
	damaged := []byte("{")
	os.WriteFile(storePath, damaged, 0o600)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var stdout, stderr testutil.SyncBuffer
	status := run(ctx, []string{"-listen", "127.0.0.1:0"}, &stdout, &stderr)
	if status != 1 || !strings.Contains(stderr.String(), storePath+" is damaged") {
		t.Fatalf("serve with a damaged pairing store: exit %d, stderr %q", status, stderr.String())
	}
	if b, _ := os.ReadFile(storePath); !bytes.Equal(b, damaged) {
		t.Errorf("the damaged store was changed: %q", b)
	}
	// -no-pairing does not read the store and serves.
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2()
	var out2, err2 testutil.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx2, []string{"-listen", "127.0.0.1:0", "-no-pairing"}, &out2, &err2) }()
	re := regexp.MustCompile(`msg=serving addr=(\S+)`)
	deadline := time.After(10 * time.Second)
	for re.FindStringSubmatch(err2.String()) == nil {
		select {
		case s := <-done:
			t.Fatalf("serve -no-pairing exited with %d: %s", s, err2.String())
		case <-deadline:
			t.Fatalf("serve -no-pairing did not start: %s", err2.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel2()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestServePairingInProcess: -pairings and -max-pairings are honoured.
func TestServePairingInProcess(t *testing.T) {
	codePath := isolate(t)
	storePath := filepath.Join(t.TempDir(), "custom", "pairings.json")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr testutil.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-pairings", storePath, "-max-pairings", "1"}, &stdout, &stderr)
	}()
	re := regexp.MustCompile(`msg=serving addr=(\S+)`)
	var addr string
	deadline := time.After(10 * time.Second)
	for addr == "" {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case s := <-done:
			t.Fatalf("serve exited with %d: %s", s, stderr.String())
		case <-deadline:
			t.Fatalf("serve did not start: %s", stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	code := readCode(t, codePath)
	cs := client.OpenStore(filepath.Join(t.TempDir(), "devices.json"))
	p, err := client.Pair(t.Context(), addr, code.Printed(), &client.Options{Store: cs})
	if err != nil {
		t.Fatalf("Pair: %v", err)
	}
	list, err := device.OpenPairingStore(storePath, 0).List()
	if err != nil || len(list) != 1 {
		t.Fatalf("-pairings store: %v, %v", list, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(codePath), "pairings.json")); err == nil {
		t.Error("the default store was written despite -pairings")
	}
	_, err = client.Pair(t.Context(), addr, code.Printed(), &client.Options{Store: client.OpenStore(filepath.Join(t.TempDir(), "d.json"))})
	if err == nil || !strings.Contains(err.Error(), "revoke") {
		t.Errorf("second Pair with -max-pairings 1: %v", err)
	}
	c, err := client.Dial(t.Context(), addr, "", &client.Options{Store: cs})
	if err != nil {
		t.Fatalf("Dial with the pairing: %v", err)
	}
	if st := c.ConnectionState(); st.Auth != tlspake.AuthPSK || !bytes.Equal(st.PSKIdentity, p.ID) {
		t.Errorf("auth %v identity %x", st.Auth, st.PSKIdentity)
	}
	c.Close()
	cancel()
	select {
	case s := <-done:
		if s != 0 {
			t.Errorf("serve exited with %d", s)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	assertNoCode(t, "log", stderr.String(), code)
}
