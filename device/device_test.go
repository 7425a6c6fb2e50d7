package device

import (
	"context"
	"errors"
	"fmt"
	"github.com/tlspake/pake/internal/testutil"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tlspake/pake/tlspake"
	"github.com/tlspake/pake/tlspake/paircode"
)

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newCode(t *testing.T) paircode.Code {
	t.Helper()
	c, err := paircode.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// countingListener counts the TCP connections accepted from the kernel,
// before any handshake.
type countingListener struct {
	net.Listener
	n        atomic.Int64
	accepted chan net.Conn // receives each accepted raw conn, if not nil
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
		if l.accepted != nil {
			l.accepted <- c
		}
	}
	return c, err
}

func newCounting(t *testing.T, buffered int) *countingListener {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: inner}
	if buffered > 0 {
		cl.accepted = make(chan net.Conn, buffered)
	}
	return cl
}

// dialPAKE runs a client handshake against addr with code.
func dialPAKE(ctx context.Context, addr string, code []byte, identity string) (*tlspake.Conn, error) {
	return dialPAKEConfig(ctx, addr, &tlspake.Config{
		Code:             code,
		ServerIdentity:   []byte(identity),
		NextProtos:       []string{"http/1.1"},
		HandshakeTimeout: 10 * time.Second,
	})
}

func dialPAKEConfig(ctx context.Context, addr string, cfg *tlspake.Config) (*tlspake.Conn, error) {
	c, err := (&tlspake.Dialer{Config: cfg}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return c.(*tlspake.Conn), nil
}

type acceptResult struct {
	c   net.Conn
	err error
}

// acceptAll runs Accept in a loop and sends every result to the returned
// channel until Accept fails.
func acceptAll(l net.Listener) <-chan acceptResult {
	ch := make(chan acceptResult, 16)
	go func() {
		defer close(ch)
		for {
			c, err := l.Accept()
			ch <- acceptResult{c, err}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

func nextAccept(t *testing.T, ch <-chan acceptResult) acceptResult {
	t.Helper()
	select {
	case r, ok := <-ch:
		if !ok {
			t.Fatal("accept loop ended")
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for Accept")
	}
	panic("unreachable")
}

func TestListenerReturnsOnlyAuthenticatedConns(t *testing.T) {
	code := newCode(t)
	logs := &testutil.SyncBuffer{}
	l, err := Listen("tcp", "127.0.0.1:0", &Config{
		Code:     code,
		Identity: "printer-1",
		Logger:   slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := acceptAll(l)
	addr := l.Addr().String()

	// A client with a wrong code fails its handshake ...
	wrong := newCode(t)
	_, err = dialPAKE(t.Context(), addr, wrong.PRS(), "printer-1")
	if !errors.Is(err, tlspake.ErrCodeMismatch) {
		t.Fatalf("wrong code: got %v, want ErrCodeMismatch", err)
	}
	// ... and so does one with the right code but the wrong identity.
	_, err = dialPAKE(t.Context(), addr, code.PRS(), "printer-2")
	if !errors.Is(err, tlspake.ErrCodeMismatch) {
		t.Fatalf("wrong identity: got %v, want ErrCodeMismatch", err)
	}

	// The right code gets through, and it is the first (and only)
	// connection Accept returns: the failed ones never showed up.
	cc, err := dialPAKE(t.Context(), addr, code.PRS(), "printer-1")
	if err != nil {
		t.Fatalf("right code: %v", err)
	}
	defer cc.Close()
	r := nextAccept(t, accepted)
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.c.Close()
	if got, want := r.c.RemoteAddr().String(), cc.LocalAddr().String(); got != want {
		t.Fatalf("Accept returned the connection from %s, want the authenticated one from %s", got, want)
	}
	sc, ok := r.c.(*tlspake.Conn)
	if !ok {
		t.Fatalf("Accept returned %T, want *tlspake.Conn", r.c)
	}
	st := sc.ConnectionState()
	if !st.HandshakeComplete || st.Version != tlspake.VersionTLS13 || st.PAKEScheme != tlspake.PAKECPaceX25519SHA512 ||
		st.CipherSuite == 0 || st.Group == 0 || st.NegotiatedProtocol != "http/1.1" || string(st.ServerIdentity) != "printer-1" {
		t.Fatalf("server ConnectionState not populated as expected: %+v", st)
	}
	if cst := cc.ConnectionState(); cst.CipherSuite != st.CipherSuite || cst.Group != st.Group {
		t.Fatalf("client and server disagree: %+v vs %+v", cst, st)
	}

	// Data flows both ways on the accepted connection.
	if _, err := cc.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	sc.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(sc, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("server read %q, %v", buf, err)
	}

	select {
	case r := <-accepted:
		t.Fatalf("unexpected extra Accept result: %v %v", r.c, r.err)
	case <-time.After(50 * time.Millisecond):
	}

	// The two failures were logged, without the code.
	waitFor(t, 5*time.Second, "two handshake failures in the log", func() bool {
		return strings.Count(logs.String(), "handshake failed") == 2
	})
	out := logs.String()
	if !strings.Contains(out, "did not know the code") {
		t.Errorf("log does not describe the failure: %s", out)
	}
	for _, c := range []paircode.Code{code, wrong} {
		if strings.Contains(out, c.Canonical()) || strings.Contains(out, c.Printed()) {
			t.Errorf("log contains a code: %s", out)
		}
	}
}

func TestListenerMaxHandshakes(t *testing.T) {
	code := newCode(t)
	logs := &testutil.SyncBuffer{}
	inner := newCounting(t, 0)
	l, err := NewListener(inner, &Config{
		Code:             code,
		MaxHandshakes:    2,
		HandshakeTimeout: time.Minute,
		Logger:           slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := acceptAll(l)
	addr := l.Addr().String()

	// Two clients that connect and say nothing hold both slots.
	var stalled []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		stalled = append(stalled, c)
	}
	waitFor(t, 5*time.Second, "two accepted connections", func() bool { return inner.n.Load() == 2 })

	// A third is closed at once.
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := extra.Read(make([]byte, 1)); err == nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		t.Fatalf("excess connection was not closed: n=%d err=%v", n, err)
	}
	waitFor(t, 5*time.Second, "the overflow warning", func() bool {
		return strings.Contains(logs.String(), "too many handshakes")
	})

	// The stalled ones are still waiting in their handshakes.
	for _, c := range stalled {
		c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
			t.Fatalf("stalled connection: got %v, want a read timeout (still in handshake)", err)
		}
	}

	// Freeing a slot lets an authenticated client in again.
	stalled[0].Close()
	var cc *tlspake.Conn
	waitFor(t, 10*time.Second, "a handshake slot to free up", func() bool {
		cc, err = dialPAKE(t.Context(), addr, code.PRS(), "")
		return err == nil
	})
	defer cc.Close()
	r := nextAccept(t, accepted)
	if r.err != nil {
		t.Fatal(r.err)
	}
	r.c.Close()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestListenerHandshakeTimeout(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	l, err := Listen("tcp", "127.0.0.1:0", &Config{
		Code:             newCode(t),
		HandshakeTimeout: 200 * time.Millisecond,
		Logger:           slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("silent client: got %v, want the device to close the connection", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("handshake timeout took %v", d)
	}
	waitFor(t, 5*time.Second, "the timeout in the log", func() bool {
		return strings.Contains(logs.String(), "timed out")
	})
}

func TestListenerCloseAbortsHandshakes(t *testing.T) {
	base := runtime.NumGoroutine()
	inner := newCounting(t, 0)
	l, err := NewListener(inner, &Config{Code: newCode(t), HandshakeTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()

	acceptErr := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if c != nil {
			c.Close()
		}
		acceptErr <- err
	}()

	var stalled []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		stalled = append(stalled, c)
	}
	// Half a ClientHello on one of them, so its handshake is mid-read.
	stalled[0].Write([]byte{0x16, 0x03, 0x01, 0x01, 0x00, 0x01})
	waitFor(t, 5*time.Second, "three connections in handshake", func() bool { return inner.n.Load() == 3 })
	if n := runtime.NumGoroutine(); n <= base {
		t.Fatalf("goroutines did not grow with handshakes in progress (%d, base %d): the leak check would be vacuous", n, base)
	}

	start := time.Now()
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return: handshakes in progress were not aborted")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}

	select {
	case err := <-acceptErr:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("pending Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pending Accept did not return after Close")
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
	}

	// The aborted handshakes closed their connections.
	for i, c := range stalled {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil && isTimeout(err) {
			t.Fatalf("conn %d still open after Close", i)
		}
		c.Close()
	}
	// No new connections are taken.
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("dial succeeded after Close")
	}

	waitFor(t, 5*time.Second, fmt.Sprintf("goroutines back to %d", base), func() bool {
		return runtime.NumGoroutine() <= base
	})
}

func TestListenRequiresCode(t *testing.T) {
	if _, err := Listen("tcp", "127.0.0.1:0", &Config{}); err == nil || !strings.Contains(err.Error(), "Code") {
		t.Fatalf("Listen without a code: %v", err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	if _, err := NewListener(inner, &Config{}); err == nil {
		t.Fatal("NewListener without a code succeeded")
	}
}

func TestTLSConfigDefaults(t *testing.T) {
	code := newCode(t)
	tc, err := (&Config{Code: code, Identity: "id"}).TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if string(tc.Code) != code.Canonical() || string(tc.ServerIdentity) != "id" ||
		len(tc.NextProtos) != 1 || tc.NextProtos[0] != "http/1.1" || tc.HandshakeTimeout != 10*time.Second {
		t.Fatalf("defaults: %+v", tc)
	}
	tc, err = (&Config{Code: code, NextProtos: []string{"h2"}, HandshakeTimeout: time.Second}).TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if len(tc.NextProtos) != 1 || tc.NextProtos[0] != "h2" || tc.HandshakeTimeout != time.Second {
		t.Fatalf("overrides: %+v", tc)
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("x: %w", tlspake.ErrCodeMismatch), "did not know the code"},
		{context.DeadlineExceeded, "timed out"},
		{context.Canceled, "cancelled"},
		{&tlspake.AlertError{Alert: tlspake.AlertHandshakeFailure, Received: true}, "client aborted with alert"},
		{&tlspake.AlertError{Alert: tlspake.AlertDecodeError, Reason: "bad ClientHello"}, "protocol error: bad ClientHello"},
		{errors.New("something else"), "something else"},
	} {
		if got := Describe(tc.err); !strings.Contains(got, tc.want) {
			t.Errorf("Describe(%v) = %q, want it to contain %q", tc.err, got, tc.want)
		}
	}
}

// httpClient returns an http.Client that dials the device with code.
func httpClient(code paircode.Code, handshakes *atomic.Int64) *http.Client {
	d := &tlspake.Dialer{Config: &tlspake.Config{Code: code.PRS(), NextProtos: []string{"http/1.1"}, HandshakeTimeout: 10 * time.Second}}
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := d.DialContext(ctx, network, addr)
				if err == nil && handshakes != nil {
					handshakes.Add(1)
				}
				return c, err
			},
		},
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	code := newCode(t)
	l, err := Listen("tcp", "127.0.0.1:0", &Config{Code: code})
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	started := make(chan struct{})
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-release:
		case <-time.After(20 * time.Second):
		}
		io.WriteString(w, "done")
	})
	mux.HandleFunc("/state", func(w http.ResponseWriter, r *http.Request) {
		st, ok := ConnectionState(r)
		fmt.Fprintf(w, "%v %v %v %v %s", ok, st.HandshakeComplete, st.PAKEScheme == tlspake.PAKECPaceX25519SHA512, st.CipherSuite != 0, st.NegotiatedProtocol)
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, l, mux) }()

	var handshakes atomic.Int64
	hc := httpClient(code, &handshakes)
	defer hc.CloseIdleConnections()

	// ConnectionState is available in handlers.
	resp, err := hc.Get("https://" + addr + "/state")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, want := string(body), "true true true true http/1.1"; got != want {
		t.Fatalf("ConnectionState in handler: %q, want %q", got, want)
	}

	// An in-flight request survives the shutdown.
	type result struct {
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		hc2 := httpClient(code, nil)
		defer hc2.CloseIdleConnections()
		resp, err := hc2.Get("https://" + addr + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slow <- result{string(b), err}
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("slow request did not start")
	}
	cancel()

	// Serve waits for the request in progress.
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) while a request was in progress", err)
	case <-time.After(200 * time.Millisecond):
	}
	// New connections are no longer taken.
	if c, err := dialPAKE(t.Context(), addr, code.PRS(), ""); err == nil {
		c.Close()
		t.Fatal("a new connection was authenticated after shutdown began")
	}
	close(release)
	select {
	case r := <-slow:
		if r.err != nil || r.body != "done" {
			t.Fatalf("in-flight request: %q, %v", r.body, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("in-flight request did not complete")
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve returned %v after ctx cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
}

func TestServeReturnsListenerError(t *testing.T) {
	l, err := Listen("tcp", "127.0.0.1:0", &Config{Code: newCode(t)})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- Serve(t.Context(), l, http.NotFoundHandler()) }()
	time.Sleep(20 * time.Millisecond)
	l.Close()
	select {
	case err := <-served:
		if err == nil {
			t.Fatal("Serve returned nil after its listener was closed without ctx cancel")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its listener was closed")
	}
}

func TestConnectionStateWithoutConn(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if st, ok := ConnectionState(r); ok || st.HandshakeComplete {
		t.Fatalf("ConnectionState on a request without a tlspake conn: %+v, %v", st, ok)
	}
}

// flakyListener fails its first Accept calls with "too many open files",
// as the kernel does when the process runs out of descriptors.
type flakyListener struct {
	net.Listener
	failures atomic.Int64
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.failures.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestListenerSurvivesEMFILE: running out of file descriptors for a moment
// (a burst of connections) must not stop the device for good. NewListener
// means to back off on it ("Transient (for example too many open files)")
// but tests net.Error.Timeout(), which is false for EMFILE, so the accept
// loop ends and Serve returns the error: the daemon exits.
func TestListenerSurvivesEMFILE(t *testing.T) {
	code := newCode(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &flakyListener{Listener: inner}
	fl.failures.Store(3)
	l, err := NewListener(fl, &Config{Code: code})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := acceptAll(l)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	cc, err := dialPAKE(ctx, l.Addr().String(), code.PRS(), "")
	if err != nil {
		r := nextAccept(t, accepted)
		t.Fatalf("handshake after a transient EMFILE: %v (Accept: %v)", err, r.err)
	}
	defer cc.Close()
	r := nextAccept(t, accepted)
	if r.err != nil {
		t.Fatalf("Accept after a transient EMFILE: %v", r.err)
	}
	r.c.Close()
}
