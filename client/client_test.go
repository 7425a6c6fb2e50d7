package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tlspake/pake/device"
	"github.com/tlspake/pake/tlspake"
	"github.com/tlspake/pake/tlspake/paircode"
)

// countingListener counts the TCP connections the kernel handed over.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

type testDevice struct {
	addr string
	code paircode.Code
	tcp  *countingListener // raw TCP accepts
}

func newCode(t *testing.T) paircode.Code {
	t.Helper()
	c, err := paircode.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startDevice runs a device serving h (or an echo of the connection
// state) until the test ends.
func startDevice(t *testing.T, identity string, h http.Handler) *testDevice {
	t.Helper()
	code := newCode(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: inner}
	l, err := device.NewListener(cl, &device.Config{Code: code, Identity: identity})
	if err != nil {
		t.Fatal(err)
	}
	if h == nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st, _ := device.ConnectionState(r)
			fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, tlspake.CipherSuiteName(st.CipherSuite))
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- device.Serve(ctx, l, h) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("device did not stop")
		}
	})
	return &testDevice{addr: l.Addr().String(), code: code, tcp: cl}
}

// typo returns code with one symbol changed: the check symbol catches it.
func typo(code paircode.Code) string {
	b := []byte(code.Printed())
	if b[3] == 'Q' {
		b[3] = 'R'
	} else {
		b[3] = 'Q'
	}
	return string(b)
}

func kindOf(err error) ErrorKind {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Kind
	}
	return 0
}

// silentListener accepts TCP connections and never says a word.
func silentListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// closedAddr returns an address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// plainTLSServer is an ordinary HTTPS server with a certificate.
func plainTLSServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "plain https")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestDialRightCode(t *testing.T) {
	dev := startDevice(t, "", nil)
	for _, code := range []string{
		dev.code.Printed(),
		strings.ToLower(dev.code.Canonical()),
		" " + dev.code.Printed()[:5] + " " + dev.code.Printed()[6:] + " ",
		"tlspake:" + dev.code.Printed(),
	} {
		var hs []tlspake.ConnectionState
		c, err := Dial(t.Context(), dev.addr, code, &Options{OnHandshake: func(addr string, st tlspake.ConnectionState) {
			if addr != dev.addr {
				t.Errorf("OnHandshake addr %q, want %q", addr, dev.addr)
			}
			hs = append(hs, st)
		}})
		if err != nil {
			t.Fatalf("Dial with %q: %v", code, err)
		}
		st := c.ConnectionState()
		c.Close()
		if !st.HandshakeComplete || st.PAKEScheme != tlspake.PAKECPaceX25519SHA512 || st.NegotiatedProtocol != "http/1.1" {
			t.Fatalf("state %+v", st)
		}
		if len(hs) != 1 || hs[0].CipherSuite != st.CipherSuite {
			t.Fatalf("OnHandshake called %d times", len(hs))
		}
	}
}

func TestDialIdentity(t *testing.T) {
	dev := startDevice(t, "printer-7", nil)
	// The pairing URI carries the identity.
	uri := paircode.Invite{Code: dev.code, Identity: "printer-7"}.URI()
	c, err := Dial(t.Context(), dev.addr, uri, nil)
	if err != nil {
		t.Fatalf("Dial with the pairing URI: %v", err)
	}
	if got := string(c.ConnectionState().ServerIdentity); got != "printer-7" {
		t.Errorf("server identity %q", got)
	}
	c.Close()
	// So does Options.Identity.
	c, err = Dial(t.Context(), dev.addr, dev.code.Printed(), &Options{Identity: "printer-7"})
	if err != nil {
		t.Fatalf("Dial with Options.Identity: %v", err)
	}
	c.Close()
	// Without it the device cannot tell the client from an attacker.
	_, err = Dial(t.Context(), dev.addr, dev.code.Printed(), nil)
	if kindOf(err) != WrongCode {
		t.Fatalf("Dial without the identity: %v, want WrongCode", err)
	}
}

func TestDialWrongCode(t *testing.T) {
	dev := startDevice(t, "", nil)
	wrong := newCode(t)
	_, err := Dial(t.Context(), dev.addr, wrong.Printed(), nil)
	if kindOf(err) != WrongCode {
		t.Fatalf("got %v (kind %d), want WrongCode", err, kindOf(err))
	}
	if !errors.Is(err, tlspake.ErrCodeMismatch) {
		t.Errorf("errors.Is(err, ErrCodeMismatch) is false for %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "rejected the code") || !strings.Contains(msg, dev.addr) || !strings.Contains(msg, "label") {
		t.Errorf("message not actionable: %q", msg)
	}
	for _, c := range []paircode.Code{dev.code, wrong} {
		if strings.Contains(msg, c.Printed()) || strings.Contains(msg, c.Canonical()) {
			t.Errorf("message leaks a code: %q", msg)
		}
	}
}

func TestDialMistypedSendsNothing(t *testing.T) {
	dev := startDevice(t, "", nil)
	for _, bad := range []string{
		typo(dev.code),
		dev.code.Printed()[:9],
		dev.code.Printed() + "7",
		strings.Replace(dev.code.Printed(), dev.code.Printed()[:1], "U", 1),
		"tlspake:" + typo(dev.code),
	} {
		_, err := Dial(t.Context(), dev.addr, bad, nil)
		if kindOf(err) != Mistyped {
			t.Fatalf("Dial(%q): %v (kind %d), want Mistyped", bad, err, kindOf(err))
		}
		var pe *paircode.ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Dial(%q): error does not wrap the *paircode.ParseError: %v", bad, err)
		}
		var ce *Error
		errors.As(err, &ce)
		if ce.Addr != dev.addr {
			t.Errorf("Error.Addr = %q, want %q", ce.Addr, dev.addr)
		}
		msg := err.Error()
		if !strings.Contains(msg, "mistyped") || !strings.Contains(msg, "nothing was sent") {
			t.Errorf("message %q", msg)
		}
		if bad != "" && strings.Contains(msg, bad) {
			t.Errorf("message echoes the code: %q", msg)
		}
	}
	// No code at all (and no pairing): refused locally too.
	if _, err := Dial(t.Context(), dev.addr, "", nil); kindOf(err) != NotPaired {
		t.Errorf("Dial with no code: %v (kind %d), want NotPaired", err, kindOf(err))
	}
	// Nothing reached the device: the next (good) connection is the
	// first the kernel handed to it.
	c, err := Dial(t.Context(), dev.addr, dev.code.Printed(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if n := dev.tcp.n.Load(); n != 1 {
		t.Fatalf("device accepted %d TCP connections, want 1 (mistyped codes must not connect)", n)
	}
}

func TestDialUnreachable(t *testing.T) {
	addr := closedAddr(t)
	c, err := Dial(t.Context(), addr, newCode(t).Printed(), nil)
	if err == nil {
		c.Close()
		t.Fatal("dial to a closed port succeeded")
	}
	if kindOf(err) != Unreachable {
		t.Fatalf("got %v (kind %d), want Unreachable", err, kindOf(err))
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error does not wrap ECONNREFUSED: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "cannot reach "+addr) || !strings.Contains(msg, "address") {
		t.Errorf("message %q", msg)
	}
}

func TestDialNotDevice(t *testing.T) {
	srv := plainTLSServer(t)
	addr := srv.Listener.Addr().String()
	_, err := Dial(t.Context(), addr, newCode(t).Printed(), nil)
	if kindOf(err) != NotDevice {
		t.Fatalf("got %v (kind %d), want NotDevice", err, kindOf(err))
	}
	if !errors.Is(err, tlspake.ErrNotPAKEPeer) {
		t.Errorf("errors.Is(err, ErrNotPAKEPeer) is false: %v", err)
	}
	if errors.Is(err, tlspake.ErrCodeMismatch) {
		t.Errorf("a plain TLS server is reported as a code mismatch: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "not a tlspake device") || !strings.Contains(msg, addr) {
		t.Errorf("message %q", msg)
	}
}

func TestDialTimeout(t *testing.T) {
	addr := silentListener(t)
	start := time.Now()
	_, err := Dial(t.Context(), addr, newCode(t).Printed(), &Options{HandshakeTimeout: 300 * time.Millisecond})
	elapsed := time.Since(start)
	if kindOf(err) != Timeout {
		t.Fatalf("got %v (kind %d), want Timeout", err, kindOf(err))
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error does not wrap context.DeadlineExceeded: %v", err)
	}
	if elapsed < 250*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("timed out after %v, want about 300ms", elapsed)
	}
	if msg := err.Error(); !strings.Contains(msg, addr+" did not answer in time") {
		t.Errorf("message %q", msg)
	}

	// A context deadline counts as a timeout too.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := Dial(ctx, addr, newCode(t).Printed(), nil); kindOf(err) != Timeout {
		t.Fatalf("ctx deadline: got %v, want Timeout", err)
	}
}

// A server that answers with something other than TLS (plain HTTP here).
func TestDialGarbageServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Read(make([]byte, 512))
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
			c.Close()
		}
	})
	defer func() { l.Close(); wg.Wait() }()
	_, err = Dial(t.Context(), l.Addr().String(), newCode(t).Printed(), &Options{HandshakeTimeout: 5 * time.Second})
	switch kindOf(err) {
	case NotDevice, Protocol:
		t.Logf("plain HTTP server: kind %d: %v", kindOf(err), err)
	default:
		t.Fatalf("got %v (kind %d), want NotDevice or Protocol", err, kindOf(err))
	}
}

func TestErrorMessagesDistinct(t *testing.T) {
	dev := startDevice(t, "", nil)
	srv := plainTLSServer(t)
	silent := silentListener(t)
	errs := map[ErrorKind]error{}
	_, errs[WrongCode] = Dial(t.Context(), dev.addr, newCode(t).Printed(), nil)
	_, errs[Mistyped] = Dial(t.Context(), dev.addr, typo(dev.code), nil)
	_, errs[Unreachable] = Dial(t.Context(), closedAddr(t), dev.code.Printed(), nil)
	_, errs[NotDevice] = Dial(t.Context(), srv.Listener.Addr().String(), dev.code.Printed(), nil)
	_, errs[Timeout] = Dial(t.Context(), silent, dev.code.Printed(), &Options{HandshakeTimeout: 200 * time.Millisecond})
	errs[Protocol] = &Error{Kind: Protocol, Addr: dev.addr, Err: errors.New("boom")}
	seen := map[string]ErrorKind{}
	for kind, err := range errs {
		if kindOf(err) != kind {
			t.Errorf("kind %d: got %v (kind %d)", kind, err, kindOf(err))
			continue
		}
		// The first sentence names the situation; it must differ per kind.
		msg := err.Error()
		head := msg
		for _, a := range []string{dev.addr, srv.Listener.Addr().String(), silent} {
			head = strings.ReplaceAll(head, a, "ADDR")
		}
		head = regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(head, "ADDR")
		head, _, _ = strings.Cut(head, ":")
		if other, dup := seen[head]; dup {
			t.Errorf("kinds %d and %d share the message head %q", kind, other, head)
		}
		seen[head] = kind
		t.Logf("kind %d: %s", kind, msg)
		if strings.Contains(msg, dev.code.Printed()) || strings.Contains(msg, dev.code.Canonical()) {
			t.Errorf("kind %d message leaks the code: %q", kind, msg)
		}
	}
	if got := errs[Protocol].Error(); !strings.Contains(got, "handshake with "+dev.addr+" failed: boom") {
		t.Errorf("Protocol message %q", got)
	}
}

func TestParseCode(t *testing.T) {
	code := newCode(t)
	inv, err := ParseCode("tlspake:" + code.Printed() + "?id=cam&addr=10.0.0.2%3A8443")
	if err != nil || inv.Code != code || inv.Identity != "cam" || inv.Addr != "10.0.0.2:8443" {
		t.Fatalf("URI: %+v %v", inv, err)
	}
	inv, err = ParseCode(strings.ToLower(code.Canonical()))
	if err != nil || inv.Code != code || inv.Identity != "" {
		t.Fatalf("code: %+v %v", inv, err)
	}
	for _, bad := range []string{typo(code), "tlspake:", "tlspake:" + typo(code), "x"} {
		if _, err := ParseCode(bad); kindOf(err) != Mistyped {
			t.Errorf("ParseCode(%q): %v, want Mistyped", bad, err)
		}
	}
}

// --- Transport ---

func TestTransportGetPostAndReuse(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		st, ok := device.ConnectionState(r)
		fmt.Fprintf(w, "hello %v %s", ok, st.NegotiatedProtocol)
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		io.Copy(w, r.Body)
	})
	dev := startDevice(t, "", mux)
	var handshakes atomic.Int64
	tr := &Transport{Code: dev.code.Printed(), Options: Options{OnHandshake: func(string, tlspake.ConnectionState) { handshakes.Add(1) }}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	base := "https://" + dev.addr

	for i := range 6 {
		var resp *http.Response
		var err error
		want := "hello true http/1.1"
		if i%2 == 0 {
			resp, err = hc.Get(base + "/hello")
		} else {
			want = fmt.Sprintf("payload %d", i)
			resp, err = hc.Post(base+"/echo", "text/plain", strings.NewReader(want))
		}
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(body) != want {
			t.Fatalf("request %d: %d %q %v, want %q", i, resp.StatusCode, body, err, want)
		}
		if i%2 == 1 && resp.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("echo lost the content type: %q", resp.Header.Get("Content-Type"))
		}
	}
	if n := handshakes.Load(); n != 1 {
		t.Errorf("%d handshakes for 6 sequential requests, want 1 (connection reuse)", n)
	}
	if n := dev.tcp.n.Load(); n != 1 {
		t.Errorf("device saw %d TCP connections, want 1", n)
	}

	// After CloseIdleConnections a new connection (and handshake) is made.
	tr.CloseIdleConnections()
	resp, err := hc.Get(base + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n := handshakes.Load(); n != 2 {
		t.Errorf("%d handshakes after CloseIdleConnections, want 2", n)
	}
}

type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

func TestTransportRefusesPlainHTTP(t *testing.T) {
	dev := startDevice(t, "", nil)
	tr := &Transport{Code: dev.code.Printed()}
	defer tr.CloseIdleConnections()
	body := &closeRecorder{Reader: strings.NewReader("x")}
	req, err := http.NewRequestWithContext(t.Context(), "POST", "http://"+dev.addr+"/", body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("plain http:// URL was sent")
	}
	if !strings.Contains(err.Error(), "http://") || !strings.Contains(err.Error(), "https://") {
		t.Errorf("message %q does not say to use https://", err)
	}
	if !body.closed.Load() {
		t.Error("request body not closed on refusal")
	}
	// Through an http.Client as well.
	_, err = (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://" + dev.addr + "/")
	if err == nil || !strings.Contains(err.Error(), "refusing a plain http:// URL") {
		t.Fatalf("http.Client: %v", err)
	}
	if n := dev.tcp.n.Load(); n != 0 {
		t.Fatalf("device saw %d connections for refused plain-HTTP requests", n)
	}
}

func TestTransportErrors(t *testing.T) {
	dev := startDevice(t, "", nil)
	get := func(code string) error {
		tr := &Transport{Code: code}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + dev.addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	err := get(typo(dev.code))
	if kindOf(err) != Mistyped {
		t.Fatalf("mistyped: %v", err)
	}
	if n := dev.tcp.n.Load(); n != 0 {
		t.Fatalf("a mistyped code made %d connections", n)
	}
	err = get(newCode(t).Printed())
	if kindOf(err) != WrongCode || !errors.Is(err, tlspake.ErrCodeMismatch) {
		t.Fatalf("wrong code: %v", err)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Errorf("http.Client error is %T, want *url.Error wrapping *Error", err)
	}
	if err := get(dev.code.Printed()); err != nil {
		t.Fatalf("right code: %v", err)
	}
}

func TestTransportConcurrent(t *testing.T) {
	dev := startDevice(t, "", nil)
	var handshakes atomic.Int64
	tr := &Transport{Code: dev.code.Printed(), MaxIdleConnsPerHost: 2, Options: Options{OnHandshake: func(string, tlspake.ConnectionState) { handshakes.Add(1) }}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Go(func() {
			resp, err := hc.Get(fmt.Sprintf("https://%s/p%d", dev.addr, i))
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.HasPrefix(string(b), fmt.Sprintf("GET /p%d ", i)) {
				errs <- fmt.Errorf("request %d: body %q", i, b)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := handshakes.Load(); n < 1 || n > 4 {
		t.Errorf("%d handshakes for 4 concurrent requests", n)
	}
}
