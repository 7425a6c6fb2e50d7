package device

// Power-cut property of the limiter's state file: a child process updates
// it in a tight loop and is killed with SIGKILL at random moments; the
// file must parse every time, and the count must never go back.

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tlspake/pake/tlspake"
)

const powerCutEnv = "TLSPAKE_TEST_LIMITER_POWERCUT"

// powerCutLimits never refuse, so that every iteration writes.
var powerCutLimits = Limits{FreeFailures: 1 << 30, MaxPerDay: 1 << 20}

// TestLimiterPowerCutHelper is not a test: run by TestLimiterPowerCut in
// a child process, it records failed attempts (and now and then opens the
// pairing window) in a tight loop until it is killed.
func TestLimiterPowerCutHelper(t *testing.T) {
	path := os.Getenv(powerCutEnv)
	if path == "" {
		t.Skip("helper process for TestLimiterPowerCut")
	}
	a, err := NewAttemptLimiter(path, powerCutLimits)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	os.Stdout.WriteString("READY\n")
	deadline := time.Now().Add(20 * time.Second) // never outlive a lost parent
	for i := 0; time.Now().Before(deadline); i++ {
		if i%10 == 9 {
			if err := a.OpenPairingWindow(time.Minute); err != nil {
				t.Fatalf("child: %v", err)
			}
			continue
		}
		done, ok := a.Begin(tlspake.AttemptInfo{})
		if !ok {
			t.Fatal("child: attempt refused")
		}
		done(false)
	}
}

func TestLimiterPowerCut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes; skipped with -short")
	}
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL semantics")
	}
	const rounds = 6
	dir := t.TempDir()
	path := filepath.Join(dir, "attempts.json")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	prev := 0
	var counts []int
	start := time.Now()
	for round := range rounds {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLimiterPowerCutHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), powerCutEnv+"="+path)
		cmd.WaitDelay = 5 * time.Second
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		ready := make(chan bool, 1)
		eof := make(chan struct{})
		go func() {
			defer close(eof)
			sc := bufio.NewScanner(stdout)
			ok := false
			for sc.Scan() {
				if sc.Text() == "READY" {
					ok = true
					break
				}
			}
			ready <- ok
			for sc.Scan() {
			}
		}()
		select {
		case ok := <-ready:
			if !ok {
				cmd.Process.Kill()
				cmd.Wait()
				cancel()
				t.Fatalf("round %d: child exited before it was ready: %s", round, stderr.String())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			cancel()
			t.Skipf("child did not start within 20s (machine too slow); skipping the power-cut property")
		}
		// Pull the plug at a random moment of the write loop.
		time.Sleep(time.Duration(20+rng.IntN(180)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		// Read the pipe to its end before Wait (os/exec's rule).
		select {
		case <-eof:
		case <-time.After(10 * time.Second):
			t.Error("child's stdout still open 10s after SIGKILL")
		}
		werr := cmd.Wait()
		cancel()
		if !strings.Contains(werr.Error(), "killed") {
			t.Fatalf("round %d: child ended with %v before the kill: %s", round, werr, stderr.String())
		}

		// The file parses, with a fresh limiter, as after a reboot.
		a, err := NewAttemptLimiter(path, powerCutLimits)
		if err != nil {
			b, _ := os.ReadFile(path)
			t.Fatalf("round %d: the state file does not load after SIGKILL: %v\n%.300s", round, err, b)
		}
		st, err := a.Status()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if st.FailuresLastDay < prev {
			t.Fatalf("round %d: %d failures recorded, fewer than the %d before this round: an update was lost", round, st.FailuresLastDay, prev)
		}
		counts = append(counts, st.FailuresLastDay)
		prev = st.FailuresLastDay
	}
	temps, _ := filepath.Glob(filepath.Join(dir, ".attempts.json.tmp*"))
	if prev == 0 {
		t.Fatal("the children recorded nothing")
	}
	t.Logf("FIGURE limiter-powercut: %d SIGKILLs at random moments of a tight Begin/OpenPairingWindow write loop: the state file loaded every time, failure count never went back (%v), %d leftover temp files (never cleaned up), %v total", rounds, counts, len(temps), time.Since(start).Round(time.Millisecond))
}
