package device

// Unit tests of AttemptLimiter with an injected clock. Every test that
// measures something logs one line starting with "FIGURE" that a report
// can quote.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlspake/pake/internal/jsonstore"
	"github.com/tlspake/pake/tlspake"
)

// limClock is an injectable clock for Limits.Now, safe for concurrent use.
type limClock struct {
	mu sync.Mutex
	t  time.Time
}

func newLimClock() *limClock {
	return &limClock{t: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)}
}

func (c *limClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *limClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *limClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// newLimiter returns a file-backed limiter (in a fresh directory) with the
// clock injected, and the state file's path.
func newLimiter(t *testing.T, clk *limClock, l Limits) (*AttemptLimiter, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "attempts.json")
	l.Now = clk.Now
	a, err := NewAttemptLimiter(path, l)
	if err != nil {
		t.Fatal(err)
	}
	return a, path
}

// limBegin runs a code attempt through Begin and reports whether it was
// taken; a taken attempt is finished as a failure unless success.
func limBegin(t *testing.T, a *AttemptLimiter, success bool) bool {
	t.Helper()
	done, ok := a.Begin(tlspake.AttemptInfo{RemoteAddr: "192.0.2.1:1234"})
	if !ok {
		if done != nil {
			// The gate's contract lets a refused attempt return a
			// done func; ours returns nil. Call it anyway to be safe.
			done(false)
		}
		return false
	}
	if done == nil {
		t.Fatal("Begin took the attempt but returned a nil done func")
	}
	done(success)
	return true
}

func limStatus(t *testing.T, a *AttemptLimiter) Status {
	t.Helper()
	st, err := a.Status()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestLimiterDefaults(t *testing.T) {
	var l Limits
	l.defaults()
	if l.FreeFailures != 5 || l.BaseDelay != 2*time.Second || l.MaxDelay != 15*time.Minute || l.MaxPerDay != 100 || l.Now == nil {
		t.Fatalf("defaults: %+v", l)
	}
}

// TestLimiterFreeFailuresAndBackoff: five wrong codes in a row are free,
// then each attempt waits twice as long as the one before, from 2 s up to
// the 15-minute cap.
func TestLimiterFreeFailuresAndBackoff(t *testing.T) {
	clk := newLimClock()
	a, _ := newLimiter(t, clk, Limits{})
	start := clk.Now()

	// Five free failures, all at the same instant.
	for i := range 5 {
		if !limBegin(t, a, false) {
			t.Fatalf("free failure %d was refused", i+1)
		}
	}
	st := limStatus(t, a)
	if st.Consecutive != 5 || st.FailuresLastDay != 5 || st.RetryAfter != 2*time.Second {
		t.Fatalf("after 5 failures: %+v, want 5/5/2s", st)
	}

	var waits []time.Duration
	for len(waits) < 14 {
		st := limStatus(t, a)
		w := st.RetryAfter
		if w <= 0 {
			t.Fatalf("after %d failures the next attempt is free: %+v", st.Consecutive, st)
		}
		// One nanosecond early: refused, and the refusal changes nothing.
		clk.Advance(w - time.Nanosecond)
		if limBegin(t, a, false) {
			t.Fatalf("attempt taken %v early (wait %v)", time.Nanosecond, w)
		}
		if st2 := limStatus(t, a); st2.RetryAfter != time.Nanosecond || st2.Consecutive != st.Consecutive || st2.FailuresLastDay != st.FailuresLastDay {
			t.Fatalf("refused attempt changed the state: %+v -> %+v", st, st2)
		}
		// On time: taken.
		clk.Advance(time.Nanosecond)
		if !limBegin(t, a, false) {
			t.Fatalf("attempt refused although RetryAfter (%v) has passed", w)
		}
		waits = append(waits, w)
	}
	want := []time.Duration{2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900, 900}
	for i := range want {
		want[i] *= time.Second
	}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	total := clk.Now().Sub(start)
	t.Logf("FIGURE limiter-backoff: defaults give 5 free wrong codes, then waits %v (doubling from 2s, capped at 15m); 19 attempts took %v of simulated time", waits, total)
}

// TestLimiterMaxDelayCap: the cap holds however many failures there are
// (no overflow of the doubling), also for a base delay that is not a
// round number of seconds.
func TestLimiterMaxDelayCap(t *testing.T) {
	for _, tc := range []struct {
		base, max time.Duration
	}{
		{time.Second, 10 * time.Second},
		{2 * time.Second, 15 * time.Minute},
		{time.Second + time.Nanosecond, 15 * time.Minute},
		{3*time.Second + 7, time.Hour},
		{time.Nanosecond, 15 * time.Minute},
	} {
		t.Run(fmt.Sprintf("base=%v,max=%v", tc.base, tc.max), func(t *testing.T) {
			clk := newLimClock()
			// In memory: 100 failures are many writes otherwise.
			a, err := NewAttemptLimiter("", Limits{FreeFailures: -1, BaseDelay: tc.base, MaxDelay: tc.max, MaxPerDay: 1 << 20, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			var waits []time.Duration
			for i := range 100 {
				if !limBegin(t, a, false) {
					t.Fatalf("failure %d refused with RetryAfter 0", i)
				}
				w := limStatus(t, a).RetryAfter
				waits = append(waits, w)
				clk.Advance(w)
			}
			prev := time.Duration(0)
			reached := -1
			for i, w := range waits {
				if w <= 0 || w > tc.max {
					t.Fatalf("after %d failures: wait %v, want in (0, %v]", i+1, w, tc.max)
				}
				if w < prev {
					t.Fatalf("after %d failures: wait %v is shorter than the previous %v (waits %v)", i+1, w, prev, waits)
				}
				if w == tc.max && reached < 0 {
					reached = i + 1
				}
				prev = w
			}
			if reached < 0 {
				t.Fatalf("never reached MaxDelay: %v", waits[len(waits)-1])
			}
			t.Logf("base %v: MaxDelay %v reached after %d failures and held through 100", tc.base, tc.max, reached)
		})
	}
}

// FreeFailures < 0 is not documented; the test above uses it only to make
// every failure wait. Check what it means so the test stays honest.
func TestLimiterNegativeFreeFailuresMeansNone(t *testing.T) {
	clk := newLimClock()
	a, err := NewAttemptLimiter("", Limits{FreeFailures: -1, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if !limBegin(t, a, false) {
		t.Fatal("first attempt refused")
	}
	// With -1 even the first failure makes the next attempt wait.
	if w := limStatus(t, a).RetryAfter; w <= 0 {
		t.Fatalf("FreeFailures -1: no wait after a failure")
	}
}

// TestLimiterMaxPerDaySliding: at most MaxPerDay failures in any 24 hours,
// over a sliding window.
func TestLimiterMaxPerDaySliding(t *testing.T) {
	clk := newLimClock()
	a, _ := newLimiter(t, clk, Limits{FreeFailures: 1 << 20, MaxPerDay: 10})
	t0 := clk.Now()
	for i := range 10 {
		clk.Set(t0.Add(time.Duration(i) * time.Hour))
		if !limBegin(t, a, false) {
			t.Fatalf("attempt %d at +%dh refused", i+1, i)
		}
	}
	clk.Set(t0.Add(9*time.Hour + time.Second))
	st := limStatus(t, a)
	if st.FailuresLastDay != 10 || st.RetryAfter != 15*time.Hour-time.Second {
		t.Fatalf("at the cap: %+v, want 10 failures and RetryAfter 14h59m59s", st)
	}
	if limBegin(t, a, false) {
		t.Fatal("11th attempt within 24 hours taken")
	}
	clk.Set(t0.Add(24*time.Hour - time.Nanosecond))
	if limBegin(t, a, false) {
		t.Fatal("attempt taken just before the first failure is a day old")
	}
	clk.Set(t0.Add(24 * time.Hour))
	if !limBegin(t, a, false) {
		t.Fatal("attempt refused once the first failure is a day old")
	}
	// The window slides: the next slot opens when the second failure
	// (at +1h) is a day old.
	st = limStatus(t, a)
	if st.FailuresLastDay != 10 || st.RetryAfter != time.Hour {
		t.Fatalf("after sliding: %+v, want 10 failures, RetryAfter 1h", st)
	}
	// Two days later everything has expired.
	clk.Set(t0.Add(72 * time.Hour))
	if st := limStatus(t, a); st.FailuresLastDay != 0 || st.RetryAfter != 0 {
		t.Fatalf("after three days: %+v", st)
	}
	t.Logf("FIGURE limiter-daycap: MaxPerDay 10 with 10 failures at +0h..+9h: 11th refused for 14h59m59s; taken again at exactly +24h; next slot +25h")
}

// TestLimiterSuccessResets: a success clears the backoff and removes the
// successful attempt from the daily count (the other failures stay).
func TestLimiterSuccessResets(t *testing.T) {
	clk := newLimClock()
	a, _ := newLimiter(t, clk, Limits{})
	for range 7 {
		clk.Advance(limStatus(t, a).RetryAfter)
		if !limBegin(t, a, false) {
			t.Fatal("refused")
		}
	}
	before := limStatus(t, a)
	if before.Consecutive != 7 || before.FailuresLastDay != 7 || before.RetryAfter != 8*time.Second {
		t.Fatalf("after 7 failures: %+v", before)
	}
	clk.Advance(before.RetryAfter)
	// The owner's attempt: counted as failed while in progress ...
	done, ok := a.Begin(tlspake.AttemptInfo{})
	if !ok {
		t.Fatal("owner refused after the wait")
	}
	mid := limStatus(t, a)
	if mid.FailuresLastDay != 8 || mid.Consecutive != 8 {
		t.Fatalf("attempt in progress is not counted as failed: %+v", mid)
	}
	// ... and cleared once it succeeds.
	done(true)
	after := limStatus(t, a)
	if after.Consecutive != 0 || after.FailuresLastDay != 7 || after.RetryAfter != 0 {
		t.Fatalf("after success: %+v, want 0 in a row, 7 in the day, no wait", after)
	}
	// Five free failures again.
	for i := range 5 {
		if !limBegin(t, a, false) {
			t.Fatalf("free failure %d after the reset refused", i+1)
		}
	}
	if st := limStatus(t, a); st.RetryAfter != 2*time.Second || st.FailuresLastDay != 12 {
		t.Fatalf("after 5 more failures: %+v", st)
	}
	t.Logf("FIGURE limiter-success: 7 failures (wait 8s) then a success: in-a-row 8->0, day count 8->7 (only the successful attempt removed), next 5 wrong codes free again")
}

// TestLimiterSuccessWithSameTimestamps: several attempts begun at the same
// instant; one success removes exactly one entry.
func TestLimiterSuccessWithSameTimestamps(t *testing.T) {
	clk := newLimClock()
	a, _ := newLimiter(t, clk, Limits{})
	var dones []func(bool)
	for range 3 {
		d, ok := a.Begin(tlspake.AttemptInfo{})
		if !ok {
			t.Fatal("refused")
		}
		dones = append(dones, d)
	}
	dones[1](true)
	dones[0](false)
	dones[2](false)
	if st := limStatus(t, a); st.FailuresLastDay != 2 {
		t.Fatalf("3 attempts at one instant, one success: %d failures in the day, want 2", st.FailuresLastDay)
	}
}

// TestLimiterSuccessRealClock: with the real clock (local zone, monotonic
// readings) the successful attempt is still found again in the file after
// its JSON round trip.
func TestLimiterSuccessRealClock(t *testing.T) {
	a, err := NewAttemptLimiter(filepath.Join(t.TempDir(), "attempts.json"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	limBegin(t, a, false)
	limBegin(t, a, true)
	if st := limStatus(t, a); st.FailuresLastDay != 1 || st.Consecutive != 0 {
		t.Fatalf("real clock: %+v, want 1 failure in the day, 0 in a row", st)
	}
}

// TestLimiterPairingWindow: with RequireWindow, code attempts are taken
// only while the window is open; another process (a second limiter on the
// same file) opens and closes it.
func TestLimiterPairingWindow(t *testing.T) {
	clk := newLimClock()
	dev, path := newLimiter(t, clk, Limits{RequireWindow: true})
	// The operator's command, as in `tlspake-device open-pairing`: its own
	// limiter with default limits.
	op, err := NewAttemptLimiter(path, Limits{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}

	if limBegin(t, dev, true) {
		t.Fatal("attempt taken before any window was opened")
	}
	if st := limStatus(t, dev); st.WindowOpen || st.FailuresLastDay != 0 {
		t.Fatalf("refused-by-window attempt counted or window open: %+v", st)
	}
	if err := op.OpenPairingWindow(0); err == nil {
		t.Fatal("OpenPairingWindow(0) accepted")
	}
	if err := op.OpenPairingWindow(-time.Minute); err == nil {
		t.Fatal("OpenPairingWindow(-1m) accepted")
	}
	if err := op.OpenPairingWindow(10 * time.Minute); err != nil {
		t.Fatal(err)
	}
	st := limStatus(t, dev)
	if !st.WindowOpen || !st.WindowUntil.Equal(clk.Now().Add(10*time.Minute)) {
		t.Fatalf("the device does not see the window opened by another limiter: %+v", st)
	}
	clk.Advance(10*time.Minute - time.Nanosecond)
	if !limBegin(t, dev, false) {
		t.Fatal("attempt refused inside the window")
	}
	clk.Advance(time.Nanosecond)
	if limBegin(t, dev, false) {
		t.Fatal("attempt taken when the window has just ended")
	}
	if st := limStatus(t, dev); st.WindowOpen || st.FailuresLastDay != 1 {
		t.Fatalf("after the window: %+v", st)
	}

	// Open again (SIGUSR1 / button), then close it from the other side.
	if err := dev.OpenPairingWindow(time.Hour); err != nil {
		t.Fatal(err)
	}
	if !limBegin(t, dev, true) {
		t.Fatal("attempt refused in a reopened window")
	}
	if err := op.ClosePairingWindow(); err != nil {
		t.Fatal(err)
	}
	if limBegin(t, dev, true) {
		t.Fatal("attempt taken after another process closed the window")
	}
	if st := limStatus(t, dev); st.WindowOpen {
		t.Fatalf("window still open after ClosePairingWindow: %+v", st)
	}

	// The window does not lift the backoff: inside an open window the
	// wrong-code limits still apply.
	if err := op.OpenPairingWindow(time.Hour); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if !limBegin(t, dev, false) {
			t.Fatal("free failure refused in an open window")
		}
	}
	if limBegin(t, dev, false) {
		t.Fatal("an open window lifted the backoff")
	}

	// Without RequireWindow the window plays no part.
	free, err := NewAttemptLimiter(filepath.Join(t.TempDir(), "a.json"), Limits{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if !limBegin(t, free, false) {
		t.Fatal("attempt refused without RequireWindow and no window")
	}
	t.Logf("FIGURE limiter-window: RequireWindow: refused before opening and from the instant the 10m window ends (not counted), taken inside it; open/close by a second limiter on the same file seen at once")
}

// TestLimiterPSK: paired clients are never refused, even when code
// attempts are (day cap reached, window closed, damaged file); a PSK
// that fails counts as a failure.
func TestLimiterPSK(t *testing.T) {
	clk := newLimClock()
	a, path := newLimiter(t, clk, Limits{MaxPerDay: 3, RequireWindow: true})
	if err := a.OpenPairingWindow(time.Hour); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if !limBegin(t, a, false) {
			t.Fatal("refused")
		}
	}
	if err := a.ClosePairingWindow(); err != nil {
		t.Fatal(err)
	}
	if limBegin(t, a, false) {
		t.Fatal("code attempt taken past the cap with the window closed")
	}

	psk := func(success bool) bool {
		done, ok := a.Begin(tlspake.AttemptInfo{PSK: true})
		if done != nil {
			done(success)
		}
		return ok
	}
	before := limStatus(t, a)
	if !psk(true) {
		t.Fatal("PSK attempt refused")
	}
	if st := limStatus(t, a); st.FailuresLastDay != before.FailuresLastDay || st.Consecutive != before.Consecutive {
		t.Fatalf("a successful PSK attempt changed the counts: %+v -> %+v", before, st)
	}
	if !psk(false) {
		t.Fatal("PSK attempt refused")
	}
	st := limStatus(t, a)
	if st.Consecutive != before.Consecutive+1 {
		t.Fatalf("a failed PSK did not count: %+v -> %+v", before, st)
	}
	// The day list holds at most MaxPerDay entries, so the newest failure
	// replaced the oldest; the cap now runs from the second failure.
	if st.FailuresLastDay != 3 {
		t.Fatalf("day count %d, want 3 (capped list)", st.FailuresLastDay)
	}

	// A damaged state file refuses code attempts but not pairings.
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !psk(true) {
		t.Fatal("PSK attempt refused with a damaged state file")
	}
	t.Logf("FIGURE limiter-psk: PSK attempts taken with cap reached + window closed + damaged file; a failed PSK adds 1 to the in-a-row and day counts, a successful one changes nothing")
}

// TestLimiterPSKFailureCounts: failed PSKs count like wrong codes, for the
// backoff of code attempts too.
func TestLimiterPSKFailureCounts(t *testing.T) {
	clk := newLimClock()
	a, _ := newLimiter(t, clk, Limits{})
	for i := range 7 {
		done, ok := a.Begin(tlspake.AttemptInfo{PSK: true})
		if !ok {
			t.Fatalf("PSK attempt %d refused", i+1)
		}
		done(false)
	}
	st := limStatus(t, a)
	if st.FailuresLastDay != 7 || st.Consecutive != 7 || st.RetryAfter != 8*time.Second {
		t.Fatalf("after 7 failed PSKs: %+v, want 7/7 and an 8s wait for code attempts", st)
	}
	if limBegin(t, a, false) {
		t.Fatal("code attempt taken although failed PSKs put it in backoff")
	}
}

// TestLimiterDamagedFile: a damaged state file is an error, and is never
// reset: code attempts are refused and the file is left as it was.
func TestLimiterDamagedFile(t *testing.T) {
	for _, tc := range []struct{ name, content string }{
		{"garbage", "{not json"},
		{"empty", ""},
		{"truncated", `{"version":1,"consecutive_failures":7,"last_fail`},
		{"unknown field", `{"version":1,"consecutive_failures":0,"who":"x"}`},
		{"trailing", `{"version":1} {"version":1}`},
		{"bad time", `{"version":1,"last_failure":"yesterday"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "attempts.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			clk := newLimClock()
			_, err := NewAttemptLimiter(path, Limits{Now: clk.Now})
			var ce *jsonstore.CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("NewAttemptLimiter on a damaged file: %v, want a *jsonstore.CorruptError", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name the file: %v", err)
			}
			assertFile(t, path, tc.content)
		})
	}

	// Damaged while running (after NewAttemptLimiter succeeded).
	clk := newLimClock()
	a, path := newLimiter(t, clk, Limits{})
	if !limBegin(t, a, false) {
		t.Fatal("refused")
	}
	const bad = `{"version":1,"consecutive_failures":`
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if limBegin(t, a, true) {
			t.Fatal("code attempt taken with a damaged state file")
		}
	}
	if _, err := a.Status(); err == nil {
		t.Error("Status on a damaged file: no error")
	}
	if err := a.OpenPairingWindow(time.Minute); err == nil {
		t.Error("OpenPairingWindow on a damaged file: no error")
	}
	if err := a.ClosePairingWindow(); err == nil {
		t.Error("ClosePairingWindow on a damaged file: no error")
	}
	assertFile(t, path, bad)
	t.Logf("FIGURE limiter-damaged: 6 kinds of damaged state file -> NewAttemptLimiter returns *jsonstore.CorruptError naming the file; damaged while running -> code attempts refused, Status/Open/Close error, file left byte-for-byte")
}

func assertFile(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Fatalf("the damaged file was changed: %q, want %q", b, want)
	}
}

// TestLimiterStateSurvivesRestart: a new limiter on the same file sees the
// same state (the backoff and the day count do not reset).
func TestLimiterStateSurvivesRestart(t *testing.T) {
	clk := newLimClock()
	a, path := newLimiter(t, clk, Limits{})
	for range 8 {
		clk.Advance(limStatus(t, a).RetryAfter)
		if !limBegin(t, a, false) {
			t.Fatal("refused")
		}
	}
	want := limStatus(t, a)
	b, err := NewAttemptLimiter(path, Limits{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if got := limStatus(t, b); got != want {
		t.Fatalf("after a restart: %+v, want %+v", got, want)
	}
	if limBegin(t, b, false) {
		t.Fatal("restart handed out a free attempt")
	}
	// An attempt begun but never finished (the process died) stays a
	// failure.
	clk.Advance(want.RetryAfter)
	if _, ok := b.Begin(tlspake.AttemptInfo{}); !ok {
		t.Fatal("refused")
	}
	c, err := NewAttemptLimiter(path, Limits{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if st := limStatus(t, c); st.Consecutive != 9 || st.FailuresLastDay != 9 {
		t.Fatalf("an unfinished attempt was lost across a restart: %+v", st)
	}
}

// limWrites counts how many of n calls of fn replaced the state file
// (jsonstore writes a new file and renames it over the old one).
func limWrites(t *testing.T, path string, n int, fn func()) int {
	t.Helper()
	writes := 0
	for range n {
		before, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		fn()
		after, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(before, after) {
			writes++
		}
	}
	return writes
}

// TestLimiterRefusalWritesNothing: refusing an attempt must be cheap: an
// attacker can send ClientHellos as fast as the network allows, and each
// write of the state file is an fsync'd write to the device's flash.
func TestLimiterRefusalWritesNothing(t *testing.T) {
	clk := newLimClock()
	a, path := newLimiter(t, clk, Limits{})
	for range 5 {
		limBegin(t, a, false)
	}
	refusedWrites := limWrites(t, path, 20, func() {
		if limBegin(t, a, false) {
			t.Fatal("attempt taken in backoff")
		}
	})
	statusWrites := limWrites(t, path, 5, func() { limStatus(t, a) })
	t.Logf("FIGURE limiter-writes: 20 refused code attempts rewrote the state file %d times; 5 Status calls rewrote it %d times; a taken attempt is written", refusedWrites, statusWrites)
	if refusedWrites > 0 || statusWrites > 0 {
		t.Errorf("refused attempts or Status rewrote the state file (%d, %d times): a flood of ClientHellos becomes a flood of flash writes", refusedWrites, statusWrites)
	}
	// Changes are still written.
	clk.Advance(limStatus(t, a).RetryAfter)
	if w := limWrites(t, path, 1, func() { limBegin(t, a, false) }); w != 1 {
		t.Fatalf("a taken attempt was not written (%d writes)", w)
	}
}

// TestLimiterClockBackwards: a device without a battery-backed clock may
// boot with a clock far in the past (1970) until NTP sets it. The wait
// must stay within what the policy allows (MaxDelay, or a day for the day
// cap), not last until the clock catches up with the stored times.
func TestLimiterClockBackwards(t *testing.T) {
	clk := newLimClock()
	a, path := newLimiter(t, clk, Limits{})
	for range 6 {
		limBegin(t, a, false)
		clk.Advance(limStatus(t, a).RetryAfter)
	}
	// Reboot without a real-time clock.
	clk.Set(time.Unix(0, 0).UTC())
	b, err := NewAttemptLimiter(path, Limits{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	st := limStatus(t, b)
	t.Logf("FIGURE limiter-clock: 6 failures, then the clock goes back to 1970: RetryAfter %v, %d failures still in the day, %d in a row (not reset)", st.RetryAfter, st.FailuresLastDay, st.Consecutive)
	if st.RetryAfter > 24*time.Hour {
		t.Fatalf("after the clock went backwards the owner waits %v: locked out until the clock catches up", st.RetryAfter)
	}
	// The failures are not forgotten either: 6 in a row means a 4s wait
	// from now, and they still count for the day.
	if st.RetryAfter != 4*time.Second || st.FailuresLastDay != 6 || st.Consecutive != 6 {
		t.Fatalf("after the clock went backwards: %+v, want a 4s wait and the 6 failures kept", st)
	}
	clk.Advance(st.RetryAfter)
	if !limBegin(t, b, true) {
		t.Fatal("owner refused after the wait")
	}
}

// TestLimiterClockBackwardsWindow: the same reboot without a real-time
// clock must not leave a pairing window open until the clock catches up
// with the window's end (decades with RequireWindow bypassed).
func TestLimiterClockBackwardsWindow(t *testing.T) {
	clk := newLimClock()
	a, path := newLimiter(t, clk, Limits{RequireWindow: true})
	if err := a.OpenPairingWindow(10 * time.Minute); err != nil {
		t.Fatal(err)
	}
	clk.Set(time.Unix(0, 0).UTC())
	b, err := NewAttemptLimiter(path, Limits{RequireWindow: true, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	st := limStatus(t, b)
	left := st.WindowUntil.Sub(clk.Now())
	t.Logf("FIGURE limiter-clock-window: a 10m pairing window opened, then the clock goes back to 1970: WindowOpen %v, open for another %.0f years", st.WindowOpen, left.Hours()/24/365)
	if st.WindowOpen && left > 10*time.Minute {
		t.Errorf("AttemptLimiter: after the clock goes backwards (reboot without RTC) a pairing window opened earlier stays open until the clock reaches its end (%v from now), bypassing RequireWindow; clamp WindowUntil to now plus the longest window when it lies further ahead (e.g. store the opening time and treat a window opened in the future as closed)", left.Round(time.Hour))
	}
}
