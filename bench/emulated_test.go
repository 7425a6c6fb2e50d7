package bench

// Tests on other architectures, under qemu-user: the test binaries of
// tlspake and device, cross-compiled (go test -c) for ARMv6, little-endian
// and big-endian MIPS (softfloat), run under qemu-arm, qemu-mipsel and
// qemu-mips; then a whole pairing between the device daemon, built as
// shipped and emulated, and a native client over loopback. Big-endian
// MIPS is the one that catches byte-order mistakes, so it must pass.
//
// A target whose emulator is missing is skipped with a message; .ci/run
// installs Debian's qemu-user, so CI runs all of them. The whole test
// skips with -short. The emulated binaries run with -test.short and skip:
//
//   - TestInteropGnuTLSServer (tlspake): it starts gnutls-serv in a new
//     network namespace (clone with CLONE_NEWNET), which qemu-user's
//     clone emulation rejects with EINVAL; its setns table has no MIPS
//     entry either. The OpenSSL and gnutls-cli interop tests do run:
//     the emulated tlspake talks to the native peer programs.
//
// -test.short skips, in device, the 2,000-connection flood (seconds
// natively, far longer emulated) and the tests that re-execute the test
// binary as a child process (the child would be a foreign binary that
// only qemu can run).

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/tlspake/pake/internal/testutil"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tlspake/pake/bench/internal/xbuild"
	"github.com/tlspake/pake/client"
	"github.com/tlspake/pake/tlspake"
	"github.com/tlspake/pake/tlspake/paircode"
)

// emulatedPackages are the packages whose tests run under emulation, with
// the tests skipped there (see the file comment).
var emulatedPackages = []struct{ dir, skip string }{
	{"tlspake", "^TestInteropGnuTLSServer$"},
	{"device", ""},
}

// emulatedTargets returns the targets whose tests run emulated; it skips
// the test with -short, and each target's subtest skips when its emulator
// is missing.
func emulatedTargets(t *testing.T) (root string, targets []xbuild.Target) {
	t.Helper()
	if testing.Short() {
		t.Skip("cross-compiles and runs test binaries under qemu-user; skipped with -short")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range xbuild.Targets {
		if tg.Emulated {
			targets = append(targets, tg)
		}
	}
	return root, targets
}

// needEmulator skips t when tg's emulator is not installed.
func needEmulator(t *testing.T, tg xbuild.Target) {
	t.Helper()
	if _, err := exec.LookPath(tg.Qemu); err != nil {
		t.Skipf("%s not found (install Debian's qemu-user): not running the %s tests", tg.Qemu, tg.Name)
	}
}

// TestEmulatedPackages runs the tlspake and device tests on each emulated
// target.
func TestEmulatedPackages(t *testing.T) {
	root, targets := emulatedTargets(t)
	for _, tg := range targets {
		t.Run(tg.Name, func(t *testing.T) {
			needEmulator(t, tg)
			for _, pkg := range emulatedPackages {
				t.Run(pkg.dir, func(t *testing.T) {
					runEmulatedTests(t, root, tg, pkg.dir, pkg.skip)
				})
			}
		})
	}
}

// topResultRE matches the result line of a top-level test in -test.v
// output.
var topResultRE = regexp.MustCompile(`(?m)^--- (PASS|FAIL|SKIP): (\S+)`)

func runEmulatedTests(t *testing.T, root string, tg xbuild.Target, dir, skip string) {
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), dir+".test")
	start := time.Now()
	if err := tg.BuildTest(ctx, root, "./"+dir, bin); err != nil {
		t.Fatal(err)
	}
	built := time.Since(start)
	args := []string{"-test.short", "-test.v", "-test.timeout", "5m"}
	if skip != "" {
		args = append(args, "-test.skip", skip)
	}
	cmd, err := tg.Command(ctx, bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Dir = filepath.Join(root, dir) // testdata is relative to the package
	cmd.Env = cleanEnv()
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start = time.Now()
	err = cmd.Run()
	ran := time.Since(start)
	counts := map[string]int{}
	var failed []string
	for _, m := range topResultRE.FindAllStringSubmatch(out.String(), -1) {
		counts[m[1]]++
		if m[1] == "FAIL" {
			failed = append(failed, m[2])
		}
	}
	if err != nil || len(failed) > 0 {
		t.Fatalf("%s tests on %s (%s): %v; failed: %v\n%s", dir, tg.Name, tg.Qemu, err, failed, failureContext(out.String()))
	}
	if counts["PASS"] == 0 {
		t.Fatalf("%s tests on %s: no test passed\n%s", dir, tg.Name, tail(out.String(), 40))
	}
	t.Logf("%s on %s under %s: %d passed, %d skipped; built in %s, ran in %s",
		dir, tg.Name, tg.Qemu, counts["PASS"], counts["SKIP"], built.Round(100*time.Millisecond), ran.Round(100*time.Millisecond))
}

// failureContext returns the output of the failed tests (the lines from
// each "=== RUN" whose test failed up to its result), or the tail of out.
func failureContext(out string) string {
	var b strings.Builder
	var cur []string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "=== RUN") {
			cur = cur[:0]
		}
		cur = append(cur, line)
		if strings.Contains(line, "--- FAIL") && b.Len() < 20000 {
			b.WriteString(strings.Join(cur, "\n") + "\n")
			cur = cur[:0]
		}
	}
	if b.Len() == 0 {
		return tail(out, 60)
	}
	return b.String() + "\n...\n" + tail(out, 10)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// cleanEnv is the environment without the variables that would change
// where the programs keep their state or how they connect.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "TLSPAKE_CODE", "TLSPAKE_DEVICE_CODE", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "STATE_DIRECTORY",
			"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "GOFLAGS":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

var servingRE = regexp.MustCompile(`msg=serving addr=(\S+)`)

// TestEmulatedPairing pairs a native client with the device daemon, built
// as shipped (static, stripped) and running under qemu on each emulated
// target: a PAKE handshake with the code, the pairing endpoint, a PSK
// reconnect with the stored pairing and an HTTP request over it, a wrong
// code, the operator's view of the pairing (also emulated), and a clean
// shutdown on SIGTERM.
func TestEmulatedPairing(t *testing.T) {
	root, targets := emulatedTargets(t)
	for _, tg := range targets {
		t.Run(tg.Name, func(t *testing.T) {
			needEmulator(t, tg)
			emulatedPairing(t, root, tg)
		})
	}
}

func emulatedPairing(t *testing.T, root string, tg xbuild.Target) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "tlspake-device")
	if err := tg.Build(ctx, root, "./device/cmd/tlspake-device", bin); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(tmp, "state")
	const name = "Emulated printer"
	cmd, err := tg.Command(ctx, bin, "serve", "-listen", "127.0.0.1:0", "-name", name)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = cleanEnv("XDG_STATE_HOME=" + state)
	var stdout, stderr testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
	}()

	var addr string
	for addr == "" {
		if m := servingRE.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("the daemon exited before serving: %v\n%s", err, stderr.String())
		case <-ctx.Done():
			t.Fatalf("the daemon did not start serving in time:\n%s", stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Logf("daemon serving on %s after %s", addr, time.Since(start).Round(10*time.Millisecond))
	b, err := os.ReadFile(filepath.Join(state, "tlspake-device", "code"))
	if err != nil {
		t.Fatal(err)
	}
	code, err := paircode.Parse(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}

	// Pair with the code: a PAKE handshake, then the pairing endpoint.
	var mu sync.Mutex
	var states []tlspake.ConnectionState
	opts := &client.Options{
		Store:            client.OpenStore(filepath.Join(tmp, "devices.json")),
		HandshakeTimeout: time.Minute,
		OnHandshake: func(_ string, st tlspake.ConnectionState) {
			mu.Lock()
			states = append(states, st)
			mu.Unlock()
		},
	}
	lastAuth := func() tlspake.AuthMode {
		mu.Lock()
		defer mu.Unlock()
		if len(states) == 0 {
			return 0
		}
		return states[len(states)-1].Auth
	}
	t0 := time.Now()
	p, err := client.Pair(ctx, addr, code.Printed(), opts)
	if err != nil {
		t.Fatalf("pairing with the emulated daemon: %v\ndaemon log:\n%s", err, stderr.String())
	}
	if len(p.ID) != 16 || len(p.Secret) != 32 {
		t.Fatalf("pairing: ID %d bytes, secret %d bytes", len(p.ID), len(p.Secret))
	}
	if a := lastAuth(); a != tlspake.AuthPAKE {
		t.Errorf("pairing handshake authenticated with %v, want PAKE", a)
	}
	paired := time.Since(t0)

	// Reconnect with the stored pairing only (external PSK), and fetch
	// the status page over it.
	t0 = time.Now()
	hc := &http.Client{Transport: &client.Transport{Options: *opts}, Timeout: time.Minute}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("https://" + addr + "/")
	if err != nil {
		t.Fatalf("GET with the stored pairing: %v\ndaemon log:\n%s", err, stderr.String())
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Contains(page, []byte(name)) {
		t.Fatalf("GET with the stored pairing: %v, %s, page %.200q", err, resp.Status, page)
	}
	if a := lastAuth(); a != tlspake.AuthPSK {
		t.Errorf("reconnect authenticated with %v, want PSK", a)
	}
	reconnected := time.Since(t0)

	// A wrong code (valid check symbol, different value) is rejected.
	wrong, err := paircode.Generate(bytes.NewReader(bytes.Repeat([]byte{0x5a}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	if wrong.Printed() == code.Printed() {
		t.Fatal("the wrong code is the right one")
	}
	_, err = client.Dial(ctx, addr, wrong.Printed(), &client.Options{HandshakeTimeout: time.Minute})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Kind != client.WrongCode {
		t.Errorf("dial with a wrong code: %v; want a WrongCode error", err)
	}

	// The operator sees the pairing (the emulated binary reads the store
	// the emulated daemon wrote).
	op, err := tg.Command(ctx, bin, "pairings", "list")
	if err != nil {
		t.Fatal(err)
	}
	op.Env = cleanEnv("XDG_STATE_HOME=" + state)
	list, err := op.Output()
	if err != nil || !strings.Contains(string(list), fmt.Sprintf("%x", p.ID)) {
		t.Errorf("pairings list: %v, %q; want pairing %x", err, list, p.ID)
	}

	// SIGTERM: a graceful shutdown with status 0.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("daemon exit on SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-ctx.Done():
		t.Fatalf("the daemon did not exit on SIGTERM:\n%s", stderr.String())
	}
	for _, out := range []string{stdout.String(), stderr.String()} {
		if strings.Contains(out, code.Printed()) || strings.Contains(out, string(code.PRS())) {
			t.Errorf("the daemon printed its code:\n%s", out)
		}
	}
	t.Logf("%s daemon under %s: paired in %s, PSK reconnect + GET in %s", tg.Name, tg.Qemu,
		paired.Round(time.Millisecond), reconnected.Round(time.Millisecond))
}
