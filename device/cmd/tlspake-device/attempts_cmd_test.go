package main

import (
	"context"
	"errors"
	"github.com/tlspake/pake/internal/testutil"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlspake/pake/client"
	"github.com/tlspake/pake/device"
	"github.com/tlspake/pake/tlspake"
	"github.com/tlspake/pake/tlspake/paircode"
)

// TestPairingWindowCommands runs the daemon in-process with
// -pairing-window and drives it as an operator would: `attempts`,
// `open-pairing -close`, SIGUSR1 (the button), and the wrong-code flags.
func TestPairingWindowCommands(t *testing.T) {
	path := isolate(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr testutil.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-pairing-window", "1h", "-free-failures", "1", "-max-failures-per-day", "3"}, &stdout, &stderr)
	}()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-done
		}
	}()
	re := regexp.MustCompile(`msg=serving addr=(\S+)`)
	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for addr == "" {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case status := <-done:
			stopped = true
			t.Fatalf("serve exited with %d: %s", status, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %s", stderr.String())
		}
	}
	code := readCode(t, path)
	dctx, dcancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer dcancel()
	opts := &client.Options{HandshakeTimeout: 10 * time.Second}
	dial := func() error {
		c, err := client.Dial(dctx, addr, code.Printed(), opts)
		if err != nil {
			return err
		}
		c.Close()
		// The client is done before the device has verified its
		// Finished; until then the attempt counts as a failure. Wait for
		// the device to clear it.
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, out, _ := runCmd(t, "attempts")
			if strings.Contains(out, "failures in a row: 0") {
				return nil
			}
			if time.Now().After(deadline) {
				t.Fatalf("the device never cleared the owner's attempt:\n%s", out)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	kind := func(err error) client.ErrorKind {
		var ce *client.Error
		if errors.As(err, &ce) {
			return ce.Kind
		}
		return 0
	}

	status, out, errOut := runCmd(t, "attempts", "-free-failures", "1")
	if status != 0 || !strings.Contains(out, "pairing window open until") || !strings.Contains(out, "failed attempts in the last 24h: 0") {
		t.Fatalf("attempts at start: %d\n%s%s", status, out, errOut)
	}
	if err := dial(); err != nil {
		t.Fatalf("owner with the window open: %v", err)
	}

	status, _, errOut = runCmd(t, "open-pairing", "-close")
	if status != 0 || !strings.Contains(errOut, "pairing window closed") {
		t.Fatalf("open-pairing -close: %d %s", status, errOut)
	}
	err := dial()
	if kind(err) != client.Refused || !errors.Is(err, tlspake.ErrAttemptsRefused) {
		t.Fatalf("owner with the window closed: %v, want client.Refused", err)
	}
	if _, out, _ := runCmd(t, "attempts"); strings.Contains(out, "pairing window open") {
		t.Fatalf("attempts still shows a window:\n%s", out)
	}

	// The button: SIGUSR1 reopens the window for -pairing-window.
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "pairing window open (SIGUSR1)") {
		if time.Now().After(deadline) {
			t.Fatalf("no reaction to SIGUSR1: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := dial(); err != nil {
		t.Fatalf("owner after SIGUSR1: %v", err)
	}

	// -free-failures 1: one wrong code is free, then even the right code
	// waits.
	_, err = client.Dial(dctx, addr, otherCode(t, code.Printed()), opts)
	if kind(err) != client.WrongCode {
		t.Fatalf("wrong code: %v", err)
	}
	err = dial()
	if kind(err) != client.Refused {
		t.Fatalf("owner right after a wrong code with -free-failures 1: %v, want client.Refused", err)
	}
	_, out, _ = runCmd(t, "attempts")
	if !strings.Contains(out, "failed attempts in the last 24h: 1") || !strings.Contains(out, "failures in a row: 1") {
		t.Fatalf("attempts after one wrong code:\n%s", out)
	}

	// Usage errors.
	if status, _, _ := runCmd(t, "open-pairing", "-for", "0s"); status != 2 {
		t.Errorf("open-pairing -for 0s: status %d, want 2", status)
	}
	if status, _, _ := runCmd(t, "-listen", "127.0.0.1:0", "-max-failures-per-day", "0"); status != 2 {
		t.Errorf("-max-failures-per-day 0: status %d, want 2", status)
	}

	cancel()
	select {
	case status := <-done:
		stopped = true
		if status != 0 {
			t.Fatalf("serve exited with %d", status)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	assertNoCode(t, "log", stderr.String(), code)
	t.Logf("FIGURE daemon-window: -pairing-window 1h: owner in; after 'open-pairing -close' client.Refused; SIGUSR1 reopens and the owner is in again; -free-failures 1: one wrong code then client.Refused; 'attempts' reports 1 failure in the day and in a row")
}

// otherCode returns a valid code different from printed.
func otherCode(t *testing.T, printed string) string {
	t.Helper()
	for {
		c, err := paircode.Generate(nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.Printed() != printed {
			return c.Printed()
		}
	}
}

// TestAttemptsCommandUsesDaemonLimits: given the daemon's -free-failures,
// `attempts` reports the same waiting time as the daemon's limiter.
func TestAttemptsCommandUsesDaemonLimits(t *testing.T) {
	path := isolate(t)
	// The daemon, as started with -free-failures 1: one wrong code.
	lim, err := device.NewAttemptLimiter(filepath.Join(filepath.Dir(path), "attempts.json"), device.Limits{FreeFailures: 1})
	if err != nil {
		t.Fatal(err)
	}
	done, ok := lim.Begin(tlspake.AttemptInfo{})
	if !ok {
		t.Fatal("refused")
	}
	done(false)
	st, err := lim.Status()
	if err != nil {
		t.Fatal(err)
	}
	status, out, errOut := runCmd(t, "attempts", "-free-failures", "1")
	if status != 0 {
		t.Fatalf("attempts: %d %s", status, errOut)
	}
	t.Logf("daemon's limiter: RetryAfter %v; 'attempts' prints:\n%s", st.RetryAfter, out)
	if st.RetryAfter > time.Second && strings.Contains(out, "next code attempt taken in: 0s") {
		t.Error("'tlspake-device attempts' builds the limiter with device.Limits{} defaults, so with -free-failures/-max-failures-per-day set on the daemon it reports 'next code attempt taken in: 0s' while the daemon refuses; accept the same flags (or store the limits in attempts.json)")
	}
}
