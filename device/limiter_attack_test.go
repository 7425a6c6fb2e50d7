package device

// A scripted online attacker against AttemptLimiter over simulated days,
// partly through real tlspake handshakes, and the owner's view of it.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlspake/pake/client"
	"github.com/tlspake/pake/tlspake"
	"github.com/tlspake/pake/tlspake/paircode"
)

// limPipeHandshake runs one handshake over net.Pipe between a client with
// clientCode and a server with serverCode whose attempts go through gate.
// A side that fails drains its transport so that the peer's last flight
// or alert never blocks on the synchronous pipe.
func limPipeHandshake(t *testing.T, gate tlspake.AttemptGate, serverCode, clientCode paircode.Code) (cerr, serr error) {
	t.Helper()
	return limPipeHandshakeConfig(t,
		&tlspake.Config{Code: serverCode.PRS(), Attempts: gate, HandshakeTimeout: 15 * time.Second},
		&tlspake.Config{Code: clientCode.PRS(), HandshakeTimeout: 15 * time.Second})
}

func limPipeHandshakeConfig(t *testing.T, scfg, ccfg *tlspake.Config) (cerr, serr error) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	sc := tlspake.Server(b, scfg)
	cc := tlspake.Client(a, ccfg)
	drained := make(chan struct{}, 2)
	drain := func(c net.Conn) {
		io.Copy(io.Discard, c)
		drained <- struct{}{}
	}
	drains := 0
	done := make(chan error, 1)
	go func() {
		err := sc.HandshakeContext(ctx)
		if err != nil {
			go drain(b)
		}
		done <- err
	}()
	cerr = cc.HandshakeContext(ctx)
	if cerr != nil {
		drains++
		go drain(a)
	}
	serr = <-done
	if serr != nil {
		drains++
	}
	// Closing both ends ends the drains; wait for them (no leaks).
	a.Close()
	b.Close()
	for range drains {
		<-drained
	}
	return cerr, serr
}

// limIsRefusal checks a handshake the server refused: access_denied sent
// by the server, ErrAttemptsRefused on the client.
func limIsRefusal(cerr, serr error) bool {
	var ae *tlspake.AlertError
	return errors.Is(cerr, tlspake.ErrAttemptsRefused) &&
		errors.As(serr, &ae) && ae.Alert == tlspake.AlertAccessDenied && !ae.Received
}

// limAttacker is the scripted attacker: it tries a wrong code, and when it
// is refused it retries on the first 100 ms tick at which the limiter
// takes attempts again. A refused attempt changes nothing in the limiter
// (TestLimiterFreeFailuresAndBackoff checks this), so this is exactly an
// attacker that retries every 100 ms, without simulating each refusal.
// Each taken attempt costs 100 ms.
type limAttacker struct {
	t        *testing.T
	clk      *limClock
	lim      *AttemptLimiter
	path     string
	code     paircode.Code // the device's
	wrong    paircode.Code // the attacker's guess
	t0       time.Time
	real     int             // attempts left to run as real handshakes
	taken    []time.Duration // when each taken attempt began, from t0
	refusals int             // refusals seen (one per wait)
	realRuns int             // real handshakes run
}

const limTick = 100 * time.Millisecond

// step makes one attempt at the clock's current time and advances the
// clock; it reports whether the attempt was taken.
func (at *limAttacker) step() bool {
	t := at.t
	t.Helper()
	now := at.clk.Now()
	var ok bool
	if at.real > 0 {
		at.real--
		at.realRuns++
		cerr, serr := limPipeHandshake(t, at.lim, at.code, at.wrong)
		switch {
		case errors.Is(cerr, tlspake.ErrCodeMismatch) && errors.Is(serr, tlspake.ErrCodeMismatch):
			ok = true
		case limIsRefusal(cerr, serr):
		default:
			t.Fatalf("real attempt at +%v: client %v; server %v", now.Sub(at.t0), cerr, serr)
		}
	} else {
		ok = limBegin(t, at.lim, false)
	}
	if ok {
		at.taken = append(at.taken, now.Sub(at.t0))
		at.clk.Advance(limTick)
		return true
	}
	at.refusals++
	w := limStatus(t, at.lim).RetryAfter
	if w <= 0 {
		t.Fatalf("refused at +%v with RetryAfter %v", now.Sub(at.t0), w)
	}
	at.clk.Advance((w + limTick - 1) / limTick * limTick)
	return false
}

// runUntil attacks until the clock reaches t0+end or stop says so.
func (at *limAttacker) runUntil(end time.Duration, stop func() bool) {
	for at.clk.Now().Sub(at.t0) < end && (stop == nil || !stop()) {
		at.step()
	}
}

func (at *limAttacker) countBefore(d time.Duration) int {
	n := 0
	for _, x := range at.taken {
		if x < d {
			n++
		}
	}
	return n
}

// maxInWindow returns the most taken attempts in any window of length w.
func maxInWindow(ts []time.Duration, w time.Duration) int {
	best, j := 0, 0
	for i := range ts {
		for ts[i]-ts[j] >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

func newAttacker(t *testing.T, lim Limits, real int) *limAttacker {
	t.Helper()
	clk := newLimClock()
	a, path := newLimiter(t, clk, lim)
	code := newCode(t)
	wrong := newCode(t)
	for wrong == code {
		wrong = newCode(t)
	}
	return &limAttacker{t: t, clk: clk, lim: a, path: path, code: code, wrong: wrong, t0: clk.Now(), real: real}
}

func fmtOffset(d time.Duration) string {
	return fmt.Sprintf("%dh%02dm%02ds", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}

// TestAttackerSimulatedDays: an attacker with a wrong code retries as fast
// as the limiter allows for 48 simulated hours, with the default limits
// (those of the daemon). The first attempts go through real handshakes.
func TestAttackerSimulatedDays(t *testing.T) {
	const realSample = 16
	at := newAttacker(t, Limits{}, realSample)
	at.runUntil(48*time.Hour, nil)
	if at.realRuns != realSample {
		t.Fatalf("ran %d real handshakes, want %d", at.realRuns, realSample)
	}
	day1 := at.countBefore(24 * time.Hour)
	worst := maxInWindow(at.taken, 24*time.Hour)
	t.Logf("first attempts (offsets): %v", at.taken[:min(16, len(at.taken))])
	t.Logf("attempt 100 at +%s; total over 48h: %d; refusal waits: %d", fmtOffset(at.taken[min(99, len(at.taken)-1)]), len(at.taken), at.refusals)
	if day1 > 100 || worst > 100 {
		t.Fatalf("%d attempts in the first 24h, %d in the worst 24h window; the cap is 100", day1, worst)
	}
	if day1 < 100 {
		// The defaults let the 100th attempt through well within the day
		// (5 free + 9 doubling waits + 15-minute waits); fewer means the
		// limiter refused more than its policy says.
		t.Fatalf("only %d attempts in the first 24h; the policy allows 100", day1)
	}
	// The real handshakes agreed with the limiter: 5 free ones at once,
	// then waits of 2s, 4s, ... (plus the 100 ms the attacker spends on
	// each attempt).
	want := []time.Duration{0, 100, 200, 300, 400, 2400, 6400, 14400}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if got := at.taken[:len(want)]; !slices.Equal(got, want) {
		t.Fatalf("first attempts at %v, want %v", got, want)
	}

	// Without the day cap, the backoff alone allows this many a day.
	free := newAttacker(t, Limits{MaxPerDay: 1 << 20}, 0)
	free.lim, _ = NewAttemptLimiter("", Limits{MaxPerDay: 1 << 20, Now: free.clk.Now})
	free.runUntil(24*time.Hour, nil)
	t.Logf("FIGURE attack-day: defaults, attacker retrying every 100 ms for 48 simulated hours (first %d attempts real handshakes): %d attempts taken in the first 24 h (cap 100; the 100th at +%s), at most %d in any 24 h window, %d in 48 h; the backoff alone (no cap) would allow %d a day",
		realSample, day1, fmtOffset(at.taken[99]), worst, len(at.taken), len(free.taken))
}

// TestAttackerRestartMidAttack: the device restarts at hour 12 (a new
// AttemptLimiter on the same file); the attacker gains nothing. Then the
// owner, who has the right code, is refused until the wait is over and
// gets in after it.
func TestAttackerRestartMidAttack(t *testing.T) {
	ref := newAttacker(t, Limits{}, 0)
	ref.runUntil(24*time.Hour, nil)

	at := newAttacker(t, Limits{}, 0)
	at.runUntil(12*time.Hour, nil)
	before := len(at.taken)
	st := limStatus(t, at.lim)
	// Restart: a new limiter from the file, as after a reboot. A real
	// handshake first.
	lim2, err := NewAttemptLimiter(at.path, Limits{Now: at.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if st2 := limStatus(t, lim2); st2 != st {
		t.Fatalf("state after restart %+v, before %+v", st2, st)
	}
	at.lim = lim2
	at.real = 3
	at.runUntil(24*time.Hour, func() bool { return len(at.taken) >= 100 })
	day1 := at.countBefore(24 * time.Hour)
	if day1 != 100 {
		t.Fatalf("with a restart at 12h: %d attempts in 24h, want 100", day1)
	}
	if !slices.Equal(at.taken, ref.taken[:len(at.taken)]) {
		t.Fatalf("the restart changed the attack's schedule:\nwith:    %v\nwithout: %v", at.taken, ref.taken[:len(at.taken)])
	}
	last := at.taken[99]

	// The owner, a minute after the 100th wrong guess: refused with
	// access_denied before any PAKE work.
	at.clk.Advance(time.Minute)
	wait := limStatus(t, at.lim).RetryAfter
	cerr, serr := limPipeHandshake(t, at.lim, at.code, at.code)
	if !limIsRefusal(cerr, serr) {
		t.Fatalf("owner during the lockout: client %v; server %v; want access_denied / ErrAttemptsRefused", cerr, serr)
	}
	// One tick before the wait ends: still refused.
	at.clk.Advance(wait - time.Millisecond)
	if cerr, serr := limPipeHandshake(t, at.lim, at.code, at.code); !limIsRefusal(cerr, serr) {
		t.Fatalf("owner 1ms before the wait ends: client %v; server %v", cerr, serr)
	}
	at.clk.Advance(time.Millisecond)
	if cerr, serr := limPipeHandshake(t, at.lim, at.code, at.code); cerr != nil || serr != nil {
		t.Fatalf("owner after RetryAfter (%v): client %v; server %v", wait, cerr, serr)
	}
	after := limStatus(t, at.lim)
	if after.Consecutive != 0 {
		t.Fatalf("owner's success did not reset the backoff: %+v", after)
	}
	t.Logf("FIGURE attack-restart: restart at 12h (new AttemptLimiter on the same file): %d attempts before it, %d after, 100 in the day, schedule identical to the run without restart; the owner 1 min after the 100th guess (+%s) is refused (access_denied / ErrAttemptsRefused) for RetryAfter %v, and pairs as soon as it has passed",
		before, day1-before, fmtOffset(last), wait.Round(time.Second))
}

// TestAttackerOwnerOverTCP: the same story over TCP, through the device
// listener and the client package: five wrong codes, the owner is told
// Refused, and after the wait the owner pairs and fetches a page.
func TestAttackerOwnerOverTCP(t *testing.T) {
	clk := newLimClock()
	lim, _ := newLimiter(t, clk, Limits{})
	code := newCode(t)
	l, err := Listen("tcp", "127.0.0.1:0", &Config{Code: code, Identity: "dev", Attempts: lim, HandshakeTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, l, limHello{})
	}()
	defer func() {
		cancel()
		select {
		case <-served:
		case <-time.After(15 * time.Second):
			t.Error("Serve did not return")
		}
	}()
	addr := l.Addr().String()
	opts := &client.Options{Identity: "dev", HandshakeTimeout: 10 * time.Second}
	dctx, dcancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer dcancel()

	wrong := newCode(t)
	for i := range 5 {
		_, err := client.Dial(dctx, addr, wrong.Printed(), opts)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Kind != client.WrongCode {
			t.Fatalf("wrong code %d: %v, want client.WrongCode", i+1, err)
		}
	}
	// The server records its side as it finishes; wait until all five are in.
	waitFor(t, 5*time.Second, "five failures recorded", func() bool { return limStatus(t, lim).Consecutive == 5 })
	wait := limStatus(t, lim).RetryAfter

	_, err = client.Dial(dctx, addr, code.Printed(), opts)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Kind != client.Refused || !errors.Is(err, tlspake.ErrAttemptsRefused) {
		t.Fatalf("owner during the backoff: %v, want client.Refused wrapping ErrAttemptsRefused", err)
	}
	t.Logf("owner told: %v", err)

	clk.Advance(wait)
	tr := &client.Transport{Code: code.Printed(), Options: *opts}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(mustRequest(t, dctx, "https://"+addr+"/"))
	if err != nil {
		t.Fatalf("owner after RetryAfter: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello" {
		t.Fatalf("body %q", body)
	}
	if st := limStatus(t, lim); st.Consecutive != 0 || st.FailuresLastDay != 5 {
		t.Fatalf("after the owner's success: %+v, want 0 in a row and the 5 wrong codes in the day", st)
	}
	t.Logf("FIGURE attack-tcp: over TCP with the device listener: 5 wrong codes -> client.WrongCode; owner then gets client.Refused (ErrAttemptsRefused); after RetryAfter %v the owner pairs and GETs / (200), in-a-row reset to 0", wait)
}

// limHello answers every request with "hello".
type limHello struct{}

func (limHello) ServeHTTP(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }

func mustRequest(t *testing.T, ctx context.Context, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestLimiterCountsEveryCodeAttempt: through real handshakes, each code
// attempt counts once: a wrong code, an unknown identity (simulated
// share), a handshake with a HelloRetryRequest, one the client abandons
// after its ClientHello; a right code is cleared.
func TestLimiterCountsEveryCodeAttempt(t *testing.T) {
	clk := newLimClock()
	lim, _ := newLimiter(t, clk, Limits{FreeFailures: 100})
	code, wrong := newCode(t), newCode(t)
	server := func() *tlspake.Config {
		return &tlspake.Config{Code: code.PRS(), ServerIdentity: []byte("dev"), Attempts: lim, HandshakeTimeout: 10 * time.Second}
	}
	clientCfg := func(c paircode.Code, id string, groups ...tlspake.CurveID) *tlspake.Config {
		return &tlspake.Config{Code: c.PRS(), ServerIdentity: []byte(id), Groups: groups, HandshakeTimeout: 10 * time.Second}
	}
	want := 0
	check := func(what string) {
		t.Helper()
		// The server's done runs as its handshake ends; limPipeHandshake
		// has waited for that.
		if st := limStatus(t, lim); st.FailuresLastDay != want || st.Consecutive != want {
			t.Fatalf("after %s: %+v, want %d failures", what, st, want)
		}
	}
	cerr, serr := limPipeHandshakeConfig(t, server(), clientCfg(wrong, "dev"))
	if !errors.Is(cerr, tlspake.ErrCodeMismatch) || !errors.Is(serr, tlspake.ErrCodeMismatch) {
		t.Fatalf("wrong code: %v / %v", cerr, serr)
	}
	want++
	check("a wrong code")

	cerr, serr = limPipeHandshakeConfig(t, server(), clientCfg(code, "other"))
	if !errors.Is(cerr, tlspake.ErrCodeMismatch) || !errors.Is(serr, tlspake.ErrCodeMismatch) {
		t.Fatalf("unknown identity: %v / %v", cerr, serr)
	}
	want++
	check("an unknown identity")

	cerr, serr = limPipeHandshakeConfig(t, server(), clientCfg(wrong, "dev", tlspake.X25519MLKEM768, tlspake.X25519))
	if !errors.Is(cerr, tlspake.ErrCodeMismatch) {
		t.Fatalf("wrong code with HRR: %v / %v", cerr, serr)
	}
	want++
	check("a wrong code with a HelloRetryRequest")

	// A client that sends its ClientHello and goes away.
	a, b := net.Pipe()
	sres := make(chan error, 1)
	go func() {
		sres <- tlspake.Server(b, server()).HandshakeContext(t.Context())
	}()
	hello := floodClientHello(t, code)
	a.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := a.Write(hello); err != nil {
		t.Fatal(err)
	}
	// Read the ServerHello's record header: the attempt has been taken.
	if _, err := io.ReadFull(a, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if err := <-sres; err == nil {
		t.Fatal("server handshake succeeded with a vanished client")
	}
	b.Close()
	want++
	check("a client that vanished after its ClientHello")

	cerr, serr = limPipeHandshakeConfig(t, server(), clientCfg(code, "dev", tlspake.X25519MLKEM768, tlspake.X25519))
	if cerr != nil || serr != nil {
		t.Fatalf("right code with HRR: %v / %v", cerr, serr)
	}
	if st := limStatus(t, lim); st.FailuresLastDay != want || st.Consecutive != 0 {
		t.Fatalf("after the right code: %+v, want %d failures in the day and 0 in a row", st, want)
	}
}

// TestLimiterConcurrentBegins: attempts arriving at the same instant, from
// many goroutines and two limiters on one file (two processes), get no
// more than the free failures between them.
func TestLimiterConcurrentBegins(t *testing.T) {
	clk := newLimClock()
	a, path := newLimiter(t, clk, Limits{})
	b, err := NewAttemptLimiter(path, Limits{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var taken atomic.Int64
	for i := range 40 {
		lim := a
		if i%2 == 1 {
			lim = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if done, ok := lim.Begin(tlspake.AttemptInfo{}); ok {
				taken.Add(1)
				done(false)
			}
		}()
	}
	wg.Wait()
	if n := taken.Load(); n != 5 {
		t.Fatalf("%d of 40 simultaneous attempts taken, want the 5 free ones", n)
	}
	if st := limStatus(t, a); st.FailuresLastDay != 5 || st.Consecutive != 5 {
		t.Fatalf("state %+v", st)
	}
	t.Logf("FIGURE limiter-concurrent: 40 simultaneous code attempts over 2 limiters sharing a file: exactly 5 taken")
}
