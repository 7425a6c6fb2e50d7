//go:build linux

package tlspake

// Interop tests against two independent TLS 1.3 implementations in
// external-PSK mode (RFC 8446 4.2.11, psk_dhe_ke): OpenSSL (openssl
// s_server and s_client) and GnuTLS (gnutls-serv and gnutls-cli). A test
// skips only when its peer program is not installed; .ci/run installs the
// Debian packages openssl and gnutls-bin.
//
// Cipher suites exercised:
//
//   - TLS_AES_128_GCM_SHA256 and TLS_CHACHA20_POLY1305_SHA256 with a
//     SHA-256 PSK, against all four peer programs.
//   - TLS_AES_256_GCM_SHA384 with a SHA-384 PSK, against OpenSSL only.
//     OpenSSL's -psk option always makes a TLS_AES_128_GCM_SHA256 (SHA-256)
//     PSK session, but -psk_session reads an SSL_SESSION whose cipher fixes
//     the PSK's hash, so the tests write one (ixSessionPEM). OpenSSL picks
//     the cipher suite before it looks at PSKs (RFC 8446 4.2.11,
//     implementor's note), so our client offers only the SHA-384 suite here:
//     with the default order (AES-128-GCM first) OpenSSL picks a SHA-256
//     suite, ignores the SHA-384 PSK and asks for certificates.
//   - GnuTLS 3.7's tools compute external-PSK binders with SHA-256 only
//     (gnutls-cli and gnutls-serv have no option for the PSK hash), so
//     TLS_AES_256_GCM_SHA384 cannot be exercised against GnuTLS.
//
// Servers listen on 127.0.0.1 only. gnutls-serv has no option to bind one
// address (it listens on 0.0.0.0 and ::), so it runs in a private network
// namespace whose only interface is the loopback, and our client dials it
// from a thread that has joined that namespace (ixNetns). That needs root
// (CAP_SYS_ADMIN), as CI has.

import (
	"bytes"
	"context"
	"crypto"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

const (
	ixIdentity = "tlspake-interop"
	// ixSecret is the SHA-256 PSK, ixWrong a PSK for the same identity
	// that the peer does not have, ixSecret384 the SHA-384 PSK.
	ixSecret    = "8d0a5c1e4b7f2a6093c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081928"
	ixWrong     = "8d0a5c1e4b7f2a6093c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081929"
	ixSecret384 = "00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef" +
		"fedcba9876543210fedcba9876543210"
	// ixTimeout bounds every connection and every peer client run.
	ixTimeout = 10 * time.Second
	// ixGnuTLSPriority makes GnuTLS speak TLS 1.3 only, authenticated
	// by a PSK with (EC)DHE only (psk_dhe_ke; no psk_ke, no certificates).
	ixGnuTLSPriority = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:+DHE-PSK"
)

// ixSHA256Suites are the suites a SHA-256 PSK can use, with the names
// OpenSSL and GnuTLS give them.
var ixSHA256Suites = []struct {
	id      uint16
	gnutls  string
	openssl string
}{
	{TLS_AES_128_GCM_SHA256, "AES-128-GCM", "TLS_AES_128_GCM_SHA256"},
	{TLS_CHACHA20_POLY1305_SHA256, "CHACHA20-POLY1305", "TLS_CHACHA20_POLY1305_SHA256"},
}

func ixHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ixPSK(t *testing.T) PSK {
	return PSK{Identity: []byte(ixIdentity), Secret: ixHex(t, ixSecret)}
}

func ixPSK384(t *testing.T) PSK {
	return PSK{Identity: []byte(ixIdentity), Secret: ixHex(t, ixSecret384), Hash: crypto.SHA384}
}

// ixServerConfig accepts exactly one identity, with psk.
func ixServerConfig(psk PSK) *Config {
	return &Config{GetPSK: func(id []byte) (PSK, bool) {
		if bytes.Equal(id, psk.Identity) {
			return psk, true
		}
		return PSK{}, false
	}}
}

// ixNeed returns the path of prog, or skips the test if it is not
// installed.
func ixNeed(t *testing.T, prog, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		t.Skipf("interop peer %s is not installed (Debian package %s; .ci/run installs it): %v", prog, pkg, err)
	}
	return p
}

// ixPayload returns lines of printable text, about n bytes in all, each
// ending in '\n'.
func ixPayload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x74_6c_73_70_61_6b_65))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;-_+=!?"
	var b []byte
	for len(b) < n {
		for w := 200 + r.IntN(1800); w > 0; w-- {
			b = append(b, alphabet[r.IntN(len(alphabet))])
		}
		b = append(b, '\n')
	}
	return b
}

// ixReverseLines reverses each line of data, as openssl s_server -rev
// does; our servers answer the same way.
func ixReverseLines(data []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		for i := len(line) - 1; i >= 0; i-- {
			out = append(out, line[i])
		}
		out = append(out, '\n')
	}
	return out
}

// ixBuffer collects a child's output for several goroutines.
type ixBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *ixBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *ixBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// ixProc is a peer server program running for the rest of a test.
type ixProc struct {
	name string
	cmd  *exec.Cmd
	out  ixBuffer // stdout and stderr
	done chan struct{}
	err  error // valid once done is closed
}

// ixStart starts a peer server. It is killed and reaped when the test
// ends, and killed anyway after a minute.
func ixStart(t *testing.T, attr *syscall.SysProcAttr, prog string, args ...string) *ixProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	p := &ixProc{name: filepath.Base(prog), done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, prog, args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	p.cmd.SysProcAttr = attr
	p.cmd.WaitDelay = time.Second
	if err := p.cmd.Start(); err != nil {
		cancel()
		if attr != nil && attr.Cloneflags&syscall.CLONE_NEWNET != 0 {
			t.Fatalf("starting %s in a new network namespace (needs root or CAP_SYS_ADMIN): %v", prog, err)
		}
		t.Fatalf("starting %s: %v", prog, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		cancel()
		if t.Failed() {
			t.Logf("%s %s\noutput:\n%s", p.name, strings.Join(args, " "), p.out.String())
		}
	})
	return p
}

func (p *ixProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ixWaitFor polls until ready returns true, the process exits or ixTimeout
// passes.
func (p *ixProc) waitFor(ready func() bool) error {
	deadline := time.Now().Add(ixTimeout)
	for !ready() {
		if p.exited() {
			return fmt.Errorf("%s exited (%v) before it was ready", p.name, p.err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s was not ready after %v", p.name, ixTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// ixFreePort returns a loopback TCP port that was free a moment ago.
func ixFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ixOpenSSLServer starts openssl s_server -tls1_3 -nocert on a free
// loopback port and returns its address. Readiness is its "ACCEPT" line,
// not a probe connection: s_server serves one connection at a time, so a
// probe left open would stall the next client.
func ixOpenSSLServer(t *testing.T, args ...string) string {
	t.Helper()
	openssl := ixNeed(t, "openssl", "openssl")
	var last error
	for range 3 { // another process may take the port in between
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ixFreePort(t)))
		p := ixStart(t, nil, openssl, append([]string{"s_server", "-accept", addr, "-tls1_3", "-nocert"}, args...)...)
		last = p.waitFor(func() bool { return strings.Contains(p.out.String(), "ACCEPT") })
		if last == nil {
			return addr
		}
		t.Logf("%v; output:\n%s", last, p.out.String())
	}
	t.Fatal(last)
	return ""
}

// ixSession is OpenSSL's SSL_SESSION ASN.1 structure (ssl/ssl_asn1.c), as
// far as a TLS 1.3 external PSK needs it.
type ixSession struct {
	Version    int // 1
	SSLVersion int // 0x0304
	Cipher     []byte
	SessionID  []byte
	MasterKey  []byte // the PSK
	Time       int64  `asn1:"explicit,tag:1"`
	Timeout    int64  `asn1:"explicit,tag:2"`
}

// ixSessionPEM writes an SSL_SESSION for openssl -psk_session: an
// external PSK whose hash is that of suite.
func ixSessionPEM(t *testing.T, secret []byte, suite uint16) string {
	t.Helper()
	der, err := asn1.Marshal(ixSession{1, int(VersionTLS13), []byte{byte(suite >> 8), byte(suite)}, []byte{}, secret, time.Now().Unix(), 86400})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "psk-session.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "SSL SESSION PARAMETERS", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ixHandshake runs our client on a connection from dial.
func ixHandshake(t *testing.T, dial func() (net.Conn, error), cfg *Config) (*Conn, error) {
	t.Helper()
	nc, err := dial()
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	nc.SetDeadline(time.Now().Add(ixTimeout))
	c := Client(nc, cfg)
	t.Cleanup(func() { c.Close() })
	return c, c.HandshakeContext(t.Context())
}

func ixTCPDialer(addr string) func() (net.Conn, error) {
	return func() (net.Conn, error) { return net.DialTimeout("tcp", addr, ixTimeout) }
}

// ixCheckState checks a completed PSK handshake.
func ixCheckState(t *testing.T, who string, st ConnectionState, suite uint16, hrr bool) {
	t.Helper()
	if !st.HandshakeComplete || st.Version != VersionTLS13 || st.Auth != AuthPSK ||
		string(st.PSKIdentity) != ixIdentity || st.CipherSuite != suite || st.DidHelloRetryRequest != hrr {
		t.Errorf("%s state: complete=%v version=%#x auth=%v identity=%q suite=%s hrr=%v; want a PSK handshake as %q with %s, hrr=%v",
			who, st.HandshakeComplete, st.Version, st.Auth, st.PSKIdentity, CipherSuiteName(st.CipherSuite), st.DidHelloRetryRequest,
			ixIdentity, CipherSuiteName(suite), hrr)
	}
}

// ixWantRejected checks that our client's handshake failed with
// ErrPSKRejected after the peer sent alert want.
func ixWantRejected(t *testing.T, err error, want Alert) {
	t.Helper()
	var ae *AlertError
	if !errors.Is(err, ErrPSKRejected) || !errors.As(err, &ae) || !ae.Received || ae.Alert != want {
		t.Fatalf("client error = %v; want ErrPSKRejected after receiving %v", err, want)
	}
}

// ixExchange sends payload and expects the peer to answer with want,
// written as it reads: the reader runs concurrently so that neither side
// blocks on a full socket buffer.
func ixExchange(t *testing.T, c *Conn, payload, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	readc := make(chan error, 1)
	go func() {
		_, err := io.ReadFull(c, got)
		readc <- err
	}()
	if _, err := c.Write(payload); err != nil {
		t.Errorf("write: %v", err)
	}
	if err := <-readc; err != nil {
		t.Fatalf("read: %v (got %d of %d bytes)", err, len(got), len(want))
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the peer answered %d bytes that differ from the %d expected", len(got), len(want))
	}
}

// TestInteropOpenSSLServer: our client against openssl s_server.
func TestInteropOpenSSLServer(t *testing.T) {
	psk := ixPSK(t)
	rev := ixOpenSSLServer(t, "-psk", ixSecret, "-psk_identity", ixIdentity, "-rev")
	www := ixOpenSSLServer(t, "-psk", ixSecret, "-psk_identity", ixIdentity, "-www")

	// -rev answers each line reversed and closes (with close_notify) on a
	// line "CLOSE". NewSessionTicket arrives before the first answer.
	revExchange := func(t *testing.T, cfg *Config, suite uint16, hrr bool) {
		c, err := ixHandshake(t, ixTCPDialer(rev), cfg)
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		ixCheckState(t, "client", c.ConnectionState(), suite, hrr)
		payload := ixPayload(uint64(suite), 8<<10)
		ixExchange(t, c, payload, ixReverseLines(payload))
		if _, err := c.Write([]byte("CLOSE\n")); err != nil {
			t.Fatal(err)
		}
		if rest, err := io.ReadAll(c); err != nil || len(rest) != 0 {
			t.Fatalf("after CLOSE: %q, %v; want a clean close_notify", rest, err)
		}
	}
	for _, s := range ixSHA256Suites {
		t.Run("rev/"+s.openssl, func(t *testing.T) {
			revExchange(t, &Config{PSKs: []PSK{psk}, CipherSuites: []uint16{s.id}}, s.id, false)
		})
		t.Run("www/"+s.openssl, func(t *testing.T) {
			c, err := ixHandshake(t, ixTCPDialer(www), &Config{PSKs: []PSK{psk}, CipherSuites: []uint16{s.id}})
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			ixCheckState(t, "client", c.ConnectionState(), s.id, false)
			if _, err := io.WriteString(c, "GET / HTTP/1.0\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			page, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("reading the response: %v (after %d bytes)", err, len(page))
			}
			for _, want := range []string{"HTTP/1.0 200 ok\r\n", "TLSv1.3, Cipher is " + s.openssl + "\n", "</HTML>"} {
				if !bytes.Contains(page, []byte(want)) {
					t.Errorf("the s_server -www page lacks %q:\n%s", want, page)
				}
			}
		})
	}
	t.Run("rev/default suites", func(t *testing.T) {
		// OpenSSL follows the client's order: TLS_AES_128_GCM_SHA256.
		revExchange(t, &Config{PSKs: []PSK{psk}}, TLS_AES_128_GCM_SHA256, false)
	})
	t.Run("rev/HelloRetryRequest", func(t *testing.T) {
		// OpenSSL 3.0 lacks X25519MLKEM768: it asks for X25519, and the
		// binder of the second ClientHello covers the first and the HRR.
		revExchange(t, &Config{PSKs: []PSK{psk}, Groups: []CurveID{X25519MLKEM768, X25519}, CipherSuites: []uint16{TLS_CHACHA20_POLY1305_SHA256}},
			TLS_CHACHA20_POLY1305_SHA256, true)
	})
	t.Run("rev/PSK and code", func(t *testing.T) {
		// The client also offers the pake extension; OpenSSL ignores it
		// and selects the PSK.
		revExchange(t, &Config{PSKs: []PSK{psk}, Code: []byte("0123-4567")}, TLS_AES_128_GCM_SHA256, false)
	})
	t.Run("rev/wrong secret", func(t *testing.T) {
		// OpenSSL answers a bad binder with illegal_parameter (not the
		// decrypt_error of RFC 8446 4.2.11).
		_, err := ixHandshake(t, ixTCPDialer(rev), &Config{PSKs: []PSK{{Identity: []byte(ixIdentity), Secret: ixHex(t, ixWrong)}}})
		ixWantRejected(t, err, AlertIllegalParameter)
	})
	t.Run("rev/unknown identity", func(t *testing.T) {
		// s_server ignores a PSK it does not know and, being a
		// certificate server at heart, requires signature_algorithms,
		// which a PSK-only client does not send: missing_extension.
		_, err := ixHandshake(t, ixTCPDialer(rev), &Config{PSKs: []PSK{{Identity: []byte("somebody else"), Secret: psk.Secret}}})
		var ae *AlertError
		if !errors.As(err, &ae) || !ae.Received || ae.Alert != AlertMissingExtension {
			t.Fatalf("client error = %v; want missing_extension from the peer", err)
		}
		if !errors.Is(err, ErrPSKRejected) {
			t.Fatalf("a PSK-only client reports %v, not ErrPSKRejected, when OpenSSL does not know the PSK identity (it falls back to certificates and sends missing_extension)", err)
		}
	})
	p384 := ixPSK384(t)
	rev384 := ixOpenSSLServer(t, "-psk_session", ixSessionPEM(t, p384.Secret, TLS_AES_256_GCM_SHA384), "-psk_identity", ixIdentity, "-rev")
	t.Run("psk_session/TLS_AES_256_GCM_SHA384", func(t *testing.T) {
		c, err := ixHandshake(t, ixTCPDialer(rev384), &Config{PSKs: []PSK{p384}, CipherSuites: []uint16{TLS_AES_256_GCM_SHA384}})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		ixCheckState(t, "client", c.ConnectionState(), TLS_AES_256_GCM_SHA384, false)
		payload := ixPayload(384, 8<<10)
		ixExchange(t, c, payload, ixReverseLines(payload))
	})
	t.Run("psk_session/SHA-384 PSK, default suites", func(t *testing.T) {
		// OpenSSL takes the client's first suite, TLS_AES_128_GCM_SHA256,
		// before it looks at PSKs; the SHA-384 PSK then does not fit and
		// it asks for certificates (missing_extension).
		c, err := ixHandshake(t, ixTCPDialer(rev384), &Config{PSKs: []PSK{p384}})
		if err == nil {
			ixCheckState(t, "client", c.ConnectionState(), TLS_AES_256_GCM_SHA384, false)
			return
		}
		var ae *AlertError
		if !errors.As(err, &ae) || !ae.Received || ae.Alert != AlertMissingExtension {
			t.Fatalf("client error = %v; want success, or missing_extension from the peer", err)
		}
		t.Fatalf("a client whose only PSK is SHA-384 offers TLS_AES_128_GCM_SHA256 first, so OpenSSL (which picks the suite before the PSK) fails the handshake: %v", err)
	})
}

// ixServed is what our server saw of one connection.
type ixServed struct {
	state ConnectionState
	got   []byte
	err   error // handshake error, or the first I/O error
}

// ixServe runs our server for one connection on a loopback listener: the
// handshake, then it reads n bytes and answers with their lines reversed
// and closes (close_notify). Call wait once the peer client has exited:
// it stops listening (so a peer that never connected ends the wait at
// once) and returns what the server saw.
func ixServe(t *testing.T, cfg *Config, n int) (addr string, wait func() ixServed) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(ixTimeout))
	res := make(chan ixServed, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			res <- ixServed{err: err}
			return
		}
		nc.SetDeadline(time.Now().Add(ixTimeout))
		c := Server(nc, cfg)
		defer c.Close()
		var r ixServed
		r.err = c.Handshake()
		r.state = c.ConnectionState()
		if r.err == nil {
			r.got = make([]byte, n)
			var k int
			k, r.err = io.ReadFull(c, r.got)
			r.got = r.got[:k]
		}
		if r.err == nil {
			_, r.err = c.Write(ixReverseLines(r.got))
		}
		if r.err == nil {
			r.err = c.CloseWrite()
		}
		res <- r
	}()
	return ln.Addr().String(), func() ixServed {
		ln.Close()
		select {
		case r := <-res:
			return r
		case <-time.After(2 * ixTimeout):
			t.Fatal("our server did not finish")
			return ixServed{}
		}
	}
}

// ixRun runs a peer client with stdin and returns its stdout and stderr.
func ixRun(t *testing.T, stdin []byte, prog string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), ixTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	return o.String(), e.String(), err
}

// TestInteropOpenSSLClient: openssl s_client against our server. The
// client sends its stdin; with -quiet it waits (ign_eof) for our answer
// and the close_notify, and prints only the application data.
func TestInteropOpenSSLClient(t *testing.T) {
	openssl := ixNeed(t, "openssl", "openssl")
	psk := ixPSK(t)
	run := func(t *testing.T, scfg *Config, suite uint16, hrr bool, args ...string) {
		payload := ixPayload(uint64(suite)+1, 8<<10)
		addr, wait := ixServe(t, scfg, len(payload))
		out, errOut, err := ixRun(t, payload, openssl, append([]string{"s_client", "-connect", addr, "-tls1_3", "-quiet", "-psk_identity", ixIdentity}, args...)...)
		r := wait()
		if err != nil || r.err != nil {
			t.Fatalf("s_client: %v; our server: %v\ns_client stderr:\n%s", err, r.err, errOut)
		}
		ixCheckState(t, "server", r.state, suite, hrr)
		if !bytes.Equal(r.got, payload) {
			t.Errorf("our server read %d bytes that differ from s_client's %d bytes of stdin", len(r.got), len(payload))
		}
		if out != string(ixReverseLines(payload)) {
			t.Errorf("s_client printed %d bytes that differ from our %d-byte answer", len(out), len(payload))
		}
	}
	for _, s := range ixSHA256Suites {
		t.Run(s.openssl, func(t *testing.T) {
			run(t, ixServerConfig(psk), s.id, false, "-psk", ixSecret, "-ciphersuites", s.openssl)
		})
	}
	t.Run("TLS_AES_256_GCM_SHA384", func(t *testing.T) {
		p384 := ixPSK384(t)
		run(t, ixServerConfig(p384), TLS_AES_256_GCM_SHA384, false,
			"-psk_session", ixSessionPEM(t, p384.Secret, TLS_AES_256_GCM_SHA384), "-ciphersuites", "TLS_AES_256_GCM_SHA384")
	})
	t.Run("default suites", func(t *testing.T) {
		// s_client prefers TLS_AES_256_GCM_SHA384, which a SHA-256 PSK
		// cannot use; our server picks its first SHA-256 suite.
		run(t, ixServerConfig(psk), TLS_AES_128_GCM_SHA256, false, "-psk", ixSecret)
	})
	t.Run("HelloRetryRequest", func(t *testing.T) {
		// s_client sends a P-256 share only; our server asks for X25519.
		run(t, ixServerConfig(psk), TLS_AES_128_GCM_SHA256, true, "-psk", ixSecret, "-groups", "P-256:X25519")
	})
	t.Run("wrong secret", func(t *testing.T) {
		addr, wait := ixServe(t, ixServerConfig(psk), 1)
		_, errOut, err := ixRun(t, []byte("x\n"), openssl, "s_client", "-connect", addr, "-tls1_3", "-quiet",
			"-psk_identity", ixIdentity, "-psk", ixWrong)
		r := wait()
		var ae *AlertError
		if !errors.As(r.err, &ae) || ae.Received || ae.Alert != AlertDecryptError {
			t.Fatalf("our server: %v; want it to send decrypt_error", r.err)
		}
		if err == nil || !strings.Contains(errOut, "alert decrypt error") {
			t.Fatalf("s_client: %v; want a failure that reports the decrypt_error alert; stderr:\n%s", err, errOut)
		}
	})
}

// ixSysSetns is the number of setns(2), which package syscall lacks on
// amd64 (see the zsysnum_linux_*.go files of package syscall).
var ixSysSetns = map[string]uintptr{
	"386": 346, "amd64": 308, "arm": 375, "arm64": 268, "loong64": 268,
	"ppc64": 350, "ppc64le": 350, "riscv64": 268, "s390x": 339,
}

// ixNetns is the network namespace of a process (gnutls-serv, started in
// a new one).
type ixNetns struct{ pid int }

// do runs f on an OS thread that has joined the namespace. Sockets that f
// creates belong to the namespace for good and may be used anywhere.
func (ns ixNetns) do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// No UnlockOSThread: the thread has changed namespace, so the
		// runtime must destroy it when this goroutine exits.
		runtime.LockOSThread()
		if ixSysSetns[runtime.GOARCH] == 0 {
			errc <- fmt.Errorf("setns: syscall number unknown on %s", runtime.GOARCH)
			return
		}
		fd, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", ns.pid))
		if err != nil {
			errc <- err
			return
		}
		defer fd.Close()
		if _, _, e := syscall.RawSyscall(ixSysSetns[runtime.GOARCH], fd.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
			errc <- fmt.Errorf("setns: %w", e)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// loopbackUp sets the namespace's loopback interface up (a new network
// namespace starts with it down), as `ip link set lo up` would.
func (ns ixNetns) loopbackUp() error {
	return ns.do(func() error {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer syscall.Close(fd)
		var ifr [40]byte // struct ifreq: name[16], then ifr_flags (short)
		copy(ifr[:], "lo")
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&ifr[0]))); e != 0 {
			return fmt.Errorf("SIOCGIFFLAGS: %w", e)
		}
		flags := binary.NativeEndian.Uint16(ifr[16:]) | syscall.IFF_UP
		binary.NativeEndian.PutUint16(ifr[16:], flags)
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&ifr[0]))); e != 0 {
			return fmt.Errorf("SIOCSIFFLAGS: %w", e)
		}
		return nil
	})
}

func (ns ixNetns) dialer(addr string) func() (net.Conn, error) {
	return func() (net.Conn, error) {
		var c net.Conn
		err := ns.do(func() (err error) {
			c, err = net.DialTimeout("tcp", addr, ixTimeout)
			return err
		})
		return c, err
	}
}

// ixGnuTLSServer starts gnutls-serv (PSK only, TLS 1.3 only) with args in
// a new network namespace and returns a dialer for it.
func ixGnuTLSServer(t *testing.T, args ...string) func() (net.Conn, error) {
	t.Helper()
	prog := ixNeed(t, "gnutls-serv", "gnutls-bin")
	passwd := filepath.Join(t.TempDir(), "psk-passwd")
	if err := os.WriteFile(passwd, []byte(ixIdentity+":"+ixSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const port = "4433" // the namespace is new: every port is free
	p := ixStart(t, &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}, prog,
		append([]string{"--port", port, "--pskpasswd", passwd, "--priority", ixGnuTLSPriority}, args...)...)
	ns := ixNetns{p.cmd.Process.Pid}
	if err := ns.loopbackUp(); err != nil {
		t.Fatalf("gnutls-serv runs in a private network namespace (it cannot bind to 127.0.0.1 only), which needs root: %v", err)
	}
	dial := ns.dialer(net.JoinHostPort("127.0.0.1", port))
	// gnutls-serv serves many connections at once, so a probe connection
	// does no harm.
	if err := p.waitFor(func() bool {
		c, err := dial()
		if err == nil {
			c.Close()
		}
		return err == nil
	}); err != nil {
		t.Fatal(err)
	}
	return dial
}

// TestInteropGnuTLSServer: our client against gnutls-serv --echo.
func TestInteropGnuTLSServer(t *testing.T) {
	dial := ixGnuTLSServer(t, "--echo")
	psk := ixPSK(t)
	echo := func(t *testing.T, cfg *Config, suite uint16, hrr bool) {
		c, err := ixHandshake(t, dial, cfg)
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		ixCheckState(t, "client", c.ConnectionState(), suite, hrr)
		payload := ixPayload(uint64(suite)+2, 8<<10)
		ixExchange(t, c, payload, payload)
	}
	for _, s := range ixSHA256Suites {
		t.Run(s.openssl, func(t *testing.T) {
			echo(t, &Config{PSKs: []PSK{psk}, CipherSuites: []uint16{s.id}}, s.id, false)
		})
	}
	t.Run("HelloRetryRequest", func(t *testing.T) {
		// GnuTLS 3.7 lacks X25519MLKEM768 and asks for X25519.
		echo(t, &Config{PSKs: []PSK{psk}, Groups: []CurveID{X25519MLKEM768, X25519}, CipherSuites: []uint16{TLS_AES_128_GCM_SHA256}},
			TLS_AES_128_GCM_SHA256, true)
	})
	t.Run("PSK and code", func(t *testing.T) {
		// GnuTLS ignores the pake extension and selects the PSK.
		echo(t, &Config{PSKs: []PSK{psk}, Code: []byte("0123-4567"), CipherSuites: []uint16{TLS_AES_128_GCM_SHA256}}, TLS_AES_128_GCM_SHA256, false)
	})
	t.Run("wrong secret", func(t *testing.T) {
		// GnuTLS answers a bad binder with illegal_parameter.
		_, err := ixHandshake(t, dial, &Config{PSKs: []PSK{{Identity: []byte(ixIdentity), Secret: ixHex(t, ixWrong)}}})
		ixWantRejected(t, err, AlertIllegalParameter)
	})
	t.Run("unknown identity", func(t *testing.T) {
		// GnuTLS hides unknown users behind a random key: the binder
		// fails as with a wrong secret.
		_, err := ixHandshake(t, dial, &Config{PSKs: []PSK{{Identity: []byte("somebody else"), Secret: psk.Secret}}})
		ixWantRejected(t, err, AlertIllegalParameter)
	})
}

// TestInteropGnuTLSClient: gnutls-cli against our server. gnutls-cli sends
// its stdin and, at its end, half-closes and waits for our answer.
func TestInteropGnuTLSClient(t *testing.T) {
	prog := ixNeed(t, "gnutls-cli", "gnutls-bin")
	psk := ixPSK(t)
	cli := func(addr string, secret, priority string) []string {
		host, port, _ := net.SplitHostPort(addr)
		return []string{"--port", port, "--pskusername", ixIdentity, "--pskkey", secret, "--priority", priority, host}
	}
	run := func(t *testing.T, suite uint16, hrr bool, priority string) {
		payload := ixPayload(uint64(suite)+3, 8<<10)
		addr, wait := ixServe(t, ixServerConfig(psk), len(payload))
		out, errOut, err := ixRun(t, payload, prog, cli(addr, ixSecret, priority)...)
		r := wait()
		if err != nil || r.err != nil {
			t.Fatalf("gnutls-cli: %v; our server: %v\ngnutls-cli output:\n%s\n%s", err, r.err, out, errOut)
		}
		ixCheckState(t, "server", r.state, suite, hrr)
		if !bytes.Equal(r.got, payload) {
			t.Errorf("our server read %d bytes that differ from gnutls-cli's %d bytes of stdin", len(r.got), len(payload))
		}
		// gnutls-cli prints status lines ("- ...") around the data.
		if !strings.Contains(out, string(ixReverseLines(payload))) {
			t.Errorf("gnutls-cli did not print our answer; stdout:\n%.2000s", out)
		}
		if !strings.Contains(out, "- PSK authentication. Connected as '"+ixIdentity+"'") {
			t.Errorf("gnutls-cli does not report PSK authentication; stdout:\n%.2000s", out)
		}
	}
	for _, s := range ixSHA256Suites {
		t.Run(s.openssl, func(t *testing.T) {
			run(t, s.id, false, ixGnuTLSPriority+":-GROUP-ALL:+GROUP-X25519:-CIPHER-ALL:+"+s.gnutls)
		})
	}
	t.Run("HelloRetryRequest", func(t *testing.T) {
		// GnuTLS 3.7 sends key shares for at most two groups of different
		// types; with this priority string they are FFDHE2048 and P-256
		// (gnutls-cli -d 9 shows them), so our server asks for X25519.
		run(t, TLS_AES_128_GCM_SHA256, true, ixGnuTLSPriority+":-GROUP-ALL:+GROUP-SECP256R1:+GROUP-X25519:+GROUP-FFDHE2048:-CIPHER-ALL:+AES-128-GCM")
	})
	t.Run("wrong secret", func(t *testing.T) {
		addr, wait := ixServe(t, ixServerConfig(psk), 1)
		out, errOut, err := ixRun(t, []byte("x\n"), prog, cli(addr, ixWrong, ixGnuTLSPriority)...)
		r := wait()
		var ae *AlertError
		if !errors.As(r.err, &ae) || ae.Received || ae.Alert != AlertDecryptError {
			t.Fatalf("our server: %v; want it to send decrypt_error", r.err)
		}
		if err == nil || !strings.Contains(out+errOut, "Decrypt error") {
			t.Fatalf("gnutls-cli: %v; want a failure that reports the decrypt_error alert; output:\n%s\n%s", err, out, errOut)
		}
	})
}
