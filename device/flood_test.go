package device

// A connection flood against the device listener over real TCP: slowloris
// connections that send half a ClientHello and stall, and connections that
// send garbage, while a legitimate client pairs and fetches a page.

import (
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"errors"
	"github.com/tlspake/pake/internal/testutil"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tlspake/pake/tlspake"
	"github.com/tlspake/pake/tlspake/paircode"
)

// floodListener wraps the device's inner listener and counts, on the
// device side, the connections that were closed without ever being read:
// those the listener dropped at once because MaxHandshakes were running.
type floodListener struct {
	net.Listener
	accepted atomic.Int64
	dropped  atomic.Int64 // closed before any Read
	read     atomic.Int64 // read at least once (a handshake ran)
	closed   atomic.Int64 // closed by the device (or after the peer left)
}

// open is how many accepted connections the device holds now.
func (l *floodListener) open() int64 { return l.accepted.Load() - l.closed.Load() }

func (l *floodListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.accepted.Add(1)
	return &floodConn{Conn: c, l: l}, nil
}

type floodConn struct {
	net.Conn
	l         *floodListener
	wasRead   atomic.Bool
	closeOnce sync.Once
}

func (c *floodConn) Read(b []byte) (int, error) {
	if !c.wasRead.Swap(true) {
		c.l.read.Add(1)
	}
	return c.Conn.Read(b)
}

func (c *floodConn) Close() error {
	c.closeOnce.Do(func() {
		c.l.closed.Add(1)
		if !c.wasRead.Load() {
			c.l.dropped.Add(1)
		}
	})
	return c.Conn.Close()
}

// floodClientHello returns a real tlspake ClientHello record.
func floodClientHello(t *testing.T, code paircode.Code) []byte {
	t.Helper()
	return captureClientHello(t, func(c net.Conn) interface{ Handshake() error } {
		return tlspake.Client(c, &tlspake.Config{Code: code.PRS(), NextProtos: []string{"http/1.1"}, HandshakeTimeout: 5 * time.Second})
	})
}

// captureClientHello starts a client made by newClient on one end of a
// pipe and returns the first record it writes, its ClientHello.
func captureClientHello(t *testing.T, newClient func(net.Conn) interface{ Handshake() error }) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer b.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		newClient(a).Handshake() // fails once b is closed
		a.Close()
	}()
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(b, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(b, body); err != nil {
		t.Fatal(err)
	}
	b.Close()
	<-done
	if hdr[0] != 22 || body[0] != 1 {
		t.Fatalf("not a ClientHello record: % x", hdr)
	}
	return append(hdr, body...)
}

// raiseNoFile raises the soft RLIMIT_NOFILE to want (or the hard limit)
// and returns the soft limit in force.
func raiseNoFile(t *testing.T, want uint64) uint64 {
	t.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Logf("getrlimit: %v", err)
		return 1024
	}
	if rl.Cur >= want {
		return rl.Cur
	}
	n := rl
	n.Cur = min(want, rl.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &n); err != nil {
		t.Logf("setrlimit: %v", err)
		return rl.Cur
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl) })
	return n.Cur
}

type floodStats struct {
	mu        sync.Mutex
	heldFor   []time.Duration // how long the device kept each slowloris conn
	dialErrs  int
	bytesBack int // bytes the device sent to flood connections (alerts)
}

func (s *floodStats) add(held time.Duration, n int) {
	s.mu.Lock()
	s.heldFor = append(s.heldFor, held)
	s.bytesBack += n
	s.mu.Unlock()
}

func TestListenerFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 connections and a few seconds; skipped with -short")
	}
	slowN, garbageN := 1000, 1000
	// Client and device side of every connection, plus slack.
	if lim := raiseNoFile(t, 2*uint64(slowN+garbageN)+256); lim < 2*uint64(slowN+garbageN)+256 {
		// Connections are spread over time, so far fewer are open at
		// once; scale down only if the limit is really small.
		if lim < 1024 {
			slowN, garbageN = int(lim)/8, int(lim)/8
			t.Logf("RLIMIT_NOFILE is %d and cannot be raised: flood scaled down to %d + %d connections", lim, slowN, garbageN)
		}
	}
	const handshakeTimeout = 2 * time.Second
	const spread = 2500 * time.Millisecond // the flood arrives over this time

	baseG := runtime.NumGoroutine()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	baseHeap := ms.HeapInuse

	code := newCode(t)
	lim, err := NewAttemptLimiter(filepath.Join(t.TempDir(), "attempts.json"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &floodListener{Listener: inner}
	logs := &testutil.SyncBuffer{}
	l, err := NewListener(fl, &Config{
		Code:             code,
		HandshakeTimeout: handshakeTimeout,
		Attempts:         lim,
		Logger:           slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, l, limHello{}) }()

	hello := floodClientHello(t, code)
	half := hello[:len(hello)/2]

	// Heap and goroutines sampled while the flood runs.
	var peakHeap uint64
	peakG := 0
	stopSampling := sampleEvery(25*time.Millisecond, func() {
		peakHeap = max(peakHeap, heapInuse())
		peakG = max(peakG, runtime.NumGoroutine())
	})

	stats := &floodStats{}
	var flood sync.WaitGroup
	// One goroutine per flood connection; each ends when the device
	// closes its connection (10 s at most).
	floodConn := func(payload []byte) {
		defer flood.Done()
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			stats.mu.Lock()
			stats.dialErrs++
			stats.mu.Unlock()
			return
		}
		defer c.Close()
		start := time.Now()
		c.SetDeadline(start.Add(10 * time.Second))
		c.Write(payload) // may fail if the device already dropped us
		n, _ := io.Copy(io.Discard, c)
		stats.add(time.Since(start), int(n))
	}
	garbage := func(i int) []byte {
		b := make([]byte, 300)
		crand.Read(b)
		if i%2 == 1 {
			// TLS-shaped: a handshake record header, then noise.
			copy(b, []byte{22, 3, 1, 1, 39, 1, 0, 1, 35, 3, 3})
		} else if b[0] == 22 || b[0] == 21 {
			b[0] = 'G'
		}
		return b
	}
	floodStart := time.Now()
	launcherDone := make(chan struct{})
	go func() {
		defer close(launcherDone)
		total := slowN + garbageN
		every := spread / time.Duration(total)
		for i := range total {
			next := floodStart.Add(time.Duration(i) * every)
			if d := time.Until(next); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return
				}
			}
			flood.Add(1)
			if i%2 == 0 && i/2 < slowN {
				go floodConn(half)
			} else {
				go floodConn(garbage(i))
			}
		}
	}()

	// The legitimate client starts once the flood is under way and
	// retries until it is in.
	time.Sleep(300 * time.Millisecond)
	legitStart := time.Now()
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialTLSContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			d := &tlspake.Dialer{Config: &tlspake.Config{Code: code.PRS(), NextProtos: []string{"http/1.1"}, HandshakeTimeout: 5 * time.Second}}
			return d.DialContext(ctx, network, a)
		},
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	tries := 0
	var legitErr error
	var legitTook time.Duration
	for {
		tries++
		resp, err := hc.Get("https://" + addr + "/")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && string(body) == "hello" {
				legitTook = time.Since(legitStart)
				break
			}
			err = errors.New(resp.Status)
		}
		legitErr = err
		if time.Since(legitStart) > 20*time.Second {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	<-launcherDone
	flood.Wait()
	floodTook := time.Since(floodStart)
	stopSampling()

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return")
	}
	tr.CloseIdleConnections()

	// Goroutines back to the baseline.
	deadline := time.Now().Add(10 * time.Second)
	afterG := runtime.NumGoroutine()
	for afterG > baseG && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		afterG = runtime.NumGoroutine()
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	afterHeap := ms.HeapInuse

	sort.Slice(stats.heldFor, func(i, j int) bool { return stats.heldFor[i] < stats.heldFor[j] })
	heldLong := 0
	for _, h := range stats.heldFor {
		if h >= handshakeTimeout/2 {
			heldLong++
		}
	}
	median := time.Duration(0)
	if len(stats.heldFor) > 0 {
		median = stats.heldFor[len(stats.heldFor)/2]
	}
	const heapBound = 64 << 20
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	t.Logf("flood: %d connections accepted by the kernel listener, %d dropped at once (never read), %d ran a handshake; client side: %d dial errors, %d held >= %v, median lifetime %v, %d bytes sent back in total; %d 'handshake failed' log lines, drop warnings: %d",
		fl.accepted.Load(), fl.dropped.Load(), fl.read.Load(), stats.dialErrs, heldLong, handshakeTimeout/2, median.Round(time.Millisecond), stats.bytesBack,
		strings.Count(logs.String(), "handshake failed"), strings.Count(logs.String(), "too many handshakes"))
	t.Logf("FIGURE flood: %d slowloris (half ClientHello) + %d garbage connections over %v against MaxHandshakes 64, HandshakeTimeout %v: legitimate client paired and got its page after %v (%d tries); device dropped %d of %d connections at once; HeapInuse baseline %.1f MiB, peak %.1f MiB during (bound %d MiB), %.1f MiB after; goroutines %d before, peak %d, %d after",
		slowN, garbageN, spread, handshakeTimeout, legitTook.Round(time.Millisecond), tries, fl.dropped.Load(), fl.accepted.Load(),
		mib(baseHeap), mib(peakHeap), heapBound>>20, mib(afterHeap), baseG, peakG, afterG)

	if legitTook == 0 {
		t.Fatalf("the legitimate client never paired during the flood (%d tries, last error: %v)", tries, legitErr)
	}
	if peakHeap > heapBound {
		t.Errorf("peak HeapInuse %.1f MiB exceeds the %d MiB bound", mib(peakHeap), heapBound>>20)
	}
	if afterG > baseG {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d after, %d before\n%s", afterG, baseG, buf[:runtime.Stack(buf, true)])
	}
	if got := fl.accepted.Load(); got < int64(slowN+garbageN)*9/10 {
		t.Errorf("only %d of %d flood connections reached the device", got, slowN+garbageN)
	}
	if fl.dropped.Load() == 0 {
		t.Errorf("the device dropped no connection although %d slowloris connections competed for 64 slots", slowN)
	}
	if floodTook > 20*time.Second {
		t.Errorf("the flood took %v to clear", floodTook)
	}
}

// floodTLSClientHello returns the first record of a crypto/tls client's
// handshake: an ordinary TLS ClientHello without pake, as a browser sends.
func floodTLSClientHello(t *testing.T) []byte {
	t.Helper()
	return captureClientHello(t, func(c net.Conn) interface{ Handshake() error } {
		return tls.Client(c, &tls.Config{ServerName: "device.local", InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	})
}

// TestListenerFloodFrontDoor: with the front door on (the daemon's
// default), 1,000 clients send a complete ordinary TLS ClientHello (no
// pake) and then stall. MaxHandshakes bounds the handshakes the device
// runs at once; the front door should not hold more than that either.
func TestListenerFloodFrontDoor(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 connections; skipped with -short")
	}
	n := 1000
	if lim := raiseNoFile(t, 2*uint64(n)+256); lim < 2*uint64(n)+256 {
		n = int(lim-256) / 2
		t.Logf("RLIMIT_NOFILE is %d: flood scaled down to %d connections", lim, n)
	}
	const maxHandshakes = 64
	const handshakeTimeout = 2 * time.Second

	baseG := runtime.NumGoroutine()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	baseHeap := ms.HeapInuse

	code := newCode(t)
	cert, err := LoadOrCreateFrontDoorCertificate(filepath.Join(t.TempDir(), "frontdoor.pem"), "Flooded printer")
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &floodListener{Listener: inner}
	l, err := NewListener(fl, &Config{
		Code:             code,
		HandshakeTimeout: handshakeTimeout,
		MaxHandshakes:    maxHandshakes,
		FrontDoor:        &FrontDoor{Certificate: cert, Name: "Flooded printer"},
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, l, limHello{}) }()

	hello := floodTLSClientHello(t)
	var peakHeap uint64
	var peakOpen int64
	stopSampling := sampleEvery(25*time.Millisecond, func() {
		peakHeap = max(peakHeap, heapInuse())
		peakOpen = max(peakOpen, fl.open())
	})

	// Each staller sends its ClientHello, reads what the device answers
	// (ServerHello, certificate, signature: work the device did for it)
	// and then holds the connection until release.
	release := make(chan struct{})
	var answered atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * time.Millisecond) // 1,000 per second
			c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
			if err != nil {
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := c.Write(hello); err != nil {
				return
			}
			got := make(chan struct{})
			go func() {
				defer close(got)
				buf := make([]byte, 4096)
				if n, _ := c.Read(buf); n > 0 {
					answered.Add(1)
					io.Copy(io.Discard, c)
				}
			}()
			select {
			case <-release:
			case <-got:
			}
			c.Close()
			<-got
		}()
	}

	// The legitimate client, once the flood is under way.
	time.Sleep(300 * time.Millisecond)
	legitStart := time.Now()
	var legitTook time.Duration
	var legitErr error
	for time.Since(legitStart) < 15*time.Second {
		c, err := dialPAKE(ctx, addr, code.PRS(), "")
		if err == nil {
			c.Close()
			legitTook = time.Since(legitStart)
			break
		}
		legitErr = err
		time.Sleep(20 * time.Millisecond)
	}
	// Let the whole flood arrive and every connection grow older than
	// HandshakeTimeout, then see what the device still holds.
	heldFor := time.Duration(n)*time.Millisecond + handshakeTimeout + 300*time.Millisecond
	for time.Since(start) < heldFor {
		time.Sleep(20 * time.Millisecond)
	}
	heldAtEnd := fl.open()
	close(release)
	wg.Wait()
	stopSampling()
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return")
	}
	deadline := time.Now().Add(10 * time.Second)
	afterG := runtime.NumGoroutine()
	for afterG > baseG && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		afterG = runtime.NumGoroutine()
	}
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	t.Logf("FIGURE flood-frontdoor: %d plain-TLS ClientHellos (no pake) that stall, at 1,000/s, front door on, MaxHandshakes %d, HandshakeTimeout %v: the device held up to %d connections at once and still held %d when all were older than HandshakeTimeout (+%v), answered %d with a ServerHello+certificate+signature; %d dropped at once; legitimate pairing took %v; HeapInuse %.1f MiB before, peak %.1f MiB; goroutines %d before, %d after",
		n, maxHandshakes, handshakeTimeout, peakOpen, heldAtEnd, heldFor.Round(100*time.Millisecond), answered.Load(), fl.dropped.Load(), legitTook.Round(time.Millisecond), mib(baseHeap), mib(peakHeap), baseG, afterG)
	if legitTook == 0 {
		t.Fatalf("legitimate client never paired: %v", legitErr)
	}
	if afterG > baseG {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d after, %d before\n%s", afterG, baseG, buf[:runtime.Stack(buf, true)])
	}
	if peakOpen > 2*maxHandshakes || heldAtEnd > 0 {
		t.Errorf("front-door connections escape MaxHandshakes and HandshakeTimeout: the listener frees the handshake slot before handing a non-pake ClientHello to the crypto/tls front door, whose handshake is bounded only by http.Server's 10s timeouts; %d stalled connections were held at once (MaxHandshakes %d), %d still held past HandshakeTimeout, each having cost an ECDSA signature; keep the slot until the front door's TLS handshake ends (or give it its own small bound) and bound that handshake by HandshakeTimeout", peakOpen, maxHandshakes, heldAtEnd)
	}
}

// TestListenerSlowlorisHold measures how long one slowloris connection
// (half a pake ClientHello, then nothing) holds a handshake slot, with and
// without the front door: HandshakeTimeout should bound it either way.
func TestListenerSlowlorisHold(t *testing.T) {
	const handshakeTimeout = time.Second
	code := newCode(t)
	half := floodClientHello(t, code)
	half = half[:len(half)/2]
	cert, err := LoadOrCreateFrontDoorCertificate(filepath.Join(t.TempDir(), "frontdoor.pem"), "x")
	if err != nil {
		t.Fatal(err)
	}
	hold := func(front *FrontDoor) time.Duration {
		l, err := Listen("tcp", "127.0.0.1:0", &Config{Code: code, HandshakeTimeout: handshakeTimeout, FrontDoor: front})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		c, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		c.SetDeadline(start.Add(10 * time.Second))
		if _, err := c.Write(half); err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, c)
		return time.Since(start)
	}
	var plain, front time.Duration
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); plain = hold(nil) }()
	go func() { defer wg.Done(); front = hold(&FrontDoor{Certificate: cert}) }()
	wg.Wait()
	t.Logf("FIGURE slowloris-hold: half a ClientHello then silence holds a handshake slot for %v without the front door, %v with it (HandshakeTimeout %v)", plain.Round(10*time.Millisecond), front.Round(10*time.Millisecond), handshakeTimeout)
	if plain < handshakeTimeout-100*time.Millisecond || plain > handshakeTimeout+time.Second {
		t.Errorf("without the front door the slot was held %v, want about %v", plain, handshakeTimeout)
	}
	if front > handshakeTimeout*3/2+500*time.Millisecond {
		t.Errorf("with the front door a slowloris holds a handshake slot for %v, about twice HandshakeTimeout (%v): the listener's peekClientHello waits up to HandshakeTimeout, then tlspake's handshake starts its own full HandshakeTimeout; give the tlspake handshake only what is left (a deadline from the accept time)", front.Round(10*time.Millisecond), handshakeTimeout)
	}
}

// sampleEvery calls sample now and then every period, in one goroutine,
// until the returned stop is called; stop returns after the last call, so
// the values sample writes are safe to read afterwards.
func sampleEvery(period time.Duration, sample func()) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			sample()
			select {
			case <-quit:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(quit); <-done }
}

// heapInuse returns the heap in use, in bytes.
func heapInuse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
