package device

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tlspake/pake/internal/jsonstore"
	"github.com/tlspake/pake/tlspake"
)

// Limits configure an AttemptLimiter. Zero fields take the defaults.
type Limits struct {
	// FreeFailures is how many wrong codes in a row cost no waiting.
	// Default 5.
	FreeFailures int
	// BaseDelay is the wait after the first failure beyond the free ones;
	// each further failure doubles it. Default 2 seconds.
	BaseDelay time.Duration
	// MaxDelay caps the wait. Default 15 minutes.
	MaxDelay time.Duration
	// MaxPerDay caps failed attempts in any 24 hours, whatever the
	// timing. Default 100.
	MaxPerDay int
	// RequireWindow accepts code attempts only while a pairing window is
	// open (see OpenPairingWindow), as a product does after a button
	// press. Paired clients are not affected.
	RequireWindow bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (l *Limits) defaults() {
	if l.FreeFailures == 0 {
		l.FreeFailures = 5
	}
	if l.BaseDelay == 0 {
		l.BaseDelay = 2 * time.Second
	}
	if l.MaxDelay == 0 {
		l.MaxDelay = 15 * time.Minute
	}
	if l.MaxPerDay == 0 {
		l.MaxPerDay = 100
	}
	if l.Now == nil {
		l.Now = time.Now
	}
}

// AttemptLimiter limits online guessing of the device's code. It is a
// tlspake.AttemptGate: a code attempt is recorded as failed before any
// PAKE work and cleared once the client's Finished verifies, so a restart
// or a power cut never hands an attacker fresh attempts. While it refuses,
// clients get access_denied; paired clients (PSK) keep working, but a PSK
// that fails its binder counts as a failure too.
//
// With a state file, the state survives restarts and is shared with other
// processes (such as `tlspake-device open-pairing`).
type AttemptLimiter struct {
	path   string
	limits Limits
	mu     sync.Mutex
	mem    limiterState // used when path is empty
}

type limiterState struct {
	Version     int         `json:"version"`
	Consecutive int         `json:"consecutive_failures"`
	LastFailure time.Time   `json:"last_failure"`
	Failures    []time.Time `json:"failures_last_day"`
	WindowUntil time.Time   `json:"pairing_window_until"`
	WindowFrom  time.Time   `json:"pairing_window_from,omitzero"`
}

// NewAttemptLimiter returns a limiter whose state lives in the file at
// path ("" keeps it in memory only). A damaged state file is an error,
// never silently reset.
func NewAttemptLimiter(path string, limits Limits) (*AttemptLimiter, error) {
	limits.defaults()
	a := &AttemptLimiter{path: path, limits: limits}
	if path != "" {
		var st limiterState
		if err := jsonstore.Read(path, &st); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// update runs fn on the state under the lock (and the file's lock) and
// saves it, unless it did not change: a flood of refused attempts must not
// become a flood of flash writes.
func (a *AttemptLimiter) update(fn func(st *limiterState)) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.path == "" {
		fn(&a.mem)
		return nil
	}
	var st limiterState
	return jsonstore.Update(a.path, &st, func() error {
		before := st.snapshot()
		st.Version = 1
		fn(&st)
		if st.snapshot() == before {
			return jsonstore.ErrUnchanged
		}
		return nil
	})
}

// snapshot is a comparable summary of the state.
func (st *limiterState) snapshot() string {
	b := fmt.Appendf(nil, "%d|%d|%d|%d|", st.Version, st.Consecutive, st.LastFailure.UnixNano(), st.WindowUntil.UnixNano())
	for _, t := range st.Failures {
		b = fmt.Appendf(b, "%d,", t.UnixNano())
	}
	return string(b)
}

// prune drops failures older than a day, and pulls times that lie in the
// future back to now: after the clock went backwards (a device booting
// without a real-time clock), old failures must not lock the owner out
// until the clock catches up.
func (a *AttemptLimiter) prune(st *limiterState, now time.Time) {
	for i, t := range st.Failures {
		if t.After(now) {
			st.Failures[i] = now
		}
	}
	if st.LastFailure.After(now) {
		st.LastFailure = now
	}
	if st.WindowFrom.After(now) {
		// Opened "in the future": the clock went back, so the window's end
		// means nothing any more. Close it.
		st.WindowFrom, st.WindowUntil = time.Time{}, time.Time{}
	}
	st.Failures = slices.DeleteFunc(st.Failures, func(t time.Time) bool { return now.Sub(t) >= 24*time.Hour })
}

// wait returns how long the state makes a new code attempt wait (0: now),
// and whether the pairing window forbids it.
func (a *AttemptLimiter) wait(st *limiterState, now time.Time) (time.Duration, bool) {
	l := &a.limits
	closed := l.RequireWindow && !now.Before(st.WindowUntil)
	var w time.Duration
	if len(st.Failures) >= l.MaxPerDay {
		w = st.Failures[len(st.Failures)-l.MaxPerDay].Add(24 * time.Hour).Sub(now)
	}
	if n := st.Consecutive - l.FreeFailures; n >= 0 {
		d := l.MaxDelay
		if n < 40 && l.BaseDelay<<n > 0 && l.BaseDelay<<n < l.MaxDelay {
			d = l.BaseDelay << n
		}
		w = max(w, st.LastFailure.Add(d).Sub(now))
	}
	return max(w, 0), closed
}

// Begin implements tlspake.AttemptGate.
func (a *AttemptLimiter) Begin(info tlspake.AttemptInfo) (done func(success bool), ok bool) {
	if info.PSK {
		return func(success bool) {
			if !success {
				a.update(func(st *limiterState) { a.fail(st, a.limits.Now()) })
			}
		}, true
	}
	var at time.Time
	err := a.update(func(st *limiterState) {
		now := a.limits.Now()
		a.prune(st, now)
		if w, closed := a.wait(st, now); w > 0 || closed {
			return
		}
		a.fail(st, now)
		at, ok = now, true
	})
	if err != nil || !ok {
		return nil, false
	}
	return func(success bool) {
		if success {
			a.update(func(st *limiterState) {
				st.Consecutive = 0
				if i := slices.IndexFunc(st.Failures, at.Equal); i >= 0 {
					st.Failures = slices.Delete(st.Failures, i, i+1)
				}
			})
		}
	}, true
}

func (a *AttemptLimiter) fail(st *limiterState, now time.Time) {
	st.Consecutive++
	st.LastFailure = now
	st.Failures = append(st.Failures, now)
	if len(st.Failures) > a.limits.MaxPerDay {
		st.Failures = st.Failures[len(st.Failures)-a.limits.MaxPerDay:]
	}
}

// Status describes the limiter's state.
type Status struct {
	// FailuresLastDay counts failed attempts in the last 24 hours.
	FailuresLastDay int
	// Consecutive counts failures since the last success.
	Consecutive int
	// RetryAfter is how long until a code attempt is taken (0: now).
	RetryAfter time.Duration
	// WindowOpen reports an open pairing window; WindowUntil its end.
	WindowOpen  bool
	WindowUntil time.Time
}

// Status returns the current state.
func (a *AttemptLimiter) Status() (Status, error) {
	var s Status
	err := a.update(func(st *limiterState) {
		now := a.limits.Now()
		a.prune(st, now)
		w, closed := a.wait(st, now)
		s = Status{FailuresLastDay: len(st.Failures), Consecutive: st.Consecutive, RetryAfter: w,
			WindowOpen: now.Before(st.WindowUntil), WindowUntil: st.WindowUntil}
		_ = closed
	})
	return s, err
}

// OpenPairingWindow accepts code attempts for d from now (with
// Limits.RequireWindow), as after a button press on the device.
func (a *AttemptLimiter) OpenPairingWindow(d time.Duration) error {
	if d <= 0 {
		return errors.New("device: a pairing window needs a positive duration")
	}
	return a.update(func(st *limiterState) {
		now := a.limits.Now()
		st.WindowFrom, st.WindowUntil = now, now.Add(d)
	})
}

// ClosePairingWindow stops accepting code attempts (with
// Limits.RequireWindow) until the window is opened again.
func (a *AttemptLimiter) ClosePairingWindow() error {
	return a.update(func(st *limiterState) { st.WindowFrom, st.WindowUntil = time.Time{}, time.Time{} })
}
