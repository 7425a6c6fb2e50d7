package bench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlspake/pake/bench/internal/perf"
	"github.com/tlspake/pake/tlspake"
)

// handshaker is a TLS connection whose handshake can be run explicitly:
// both *tlspake.Conn and *tls.Conn.
type handshaker = perf.Handshaker

// wrapFunc wraps a raw connection as one side of a TLS connection.
type wrapFunc func(net.Conn) handshaker

// tlsImpl is a TLS 1.3 implementation under benchmark. setup builds the
// configurations once, outside any timed loop, and returns the functions that
// wrap a raw connection as its client and its server.
type tlsImpl struct {
	name  string
	setup func(tb testing.TB) (client, server wrapFunc)
}

// handshakeImpls are the implementations BenchmarkHandshake compares:
// tlspake authenticated by the code, and crypto/tls authenticated by a
// self-signed certificate with an Ed25519 or an ECDSA P-256 key.
var handshakeImpls = []tlsImpl{
	{"tlspake", tlspakeWrap},
	{"tlspake-psk", tlspakePSKWrap},
	{"tlspake-mlkem", tlspakeMLKEMWrap},
	{"cryptotls-ed25519", func(tb testing.TB) (wrapFunc, wrapFunc) { return cryptoTLSWrap(tb, ed25519Cert) }},
	{"cryptotls-p256", func(tb testing.TB) (wrapFunc, wrapFunc) { return cryptoTLSWrap(tb, p256Cert) }},
}

// throughputImpls are the implementations BenchmarkThroughput compares. The
// certificate does not matter once the handshake is done.
var throughputImpls = []tlsImpl{
	{"tlspake", tlspakeWrap},
	{"cryptotls", func(tb testing.TB) (wrapFunc, wrapFunc) { return cryptoTLSWrap(tb, ed25519Cert) }},
}

// tlspakeWrap configures tlspake with the defaults (X25519, AES-128-GCM
// preferred) and a 10-character code shared by both sides.
func tlspakeWrap(testing.TB) (wrapFunc, wrapFunc) {
	cfg := &tlspake.Config{Code: []byte(benchPRS), Groups: []tlspake.CurveID{tlspake.X25519}}
	return func(c net.Conn) handshaker { return tlspake.Client(c, cfg) },
		func(c net.Conn) handshaker { return tlspake.Server(c, cfg) }
}

// tlspakeMLKEMWrap uses the hybrid post-quantum group X25519MLKEM768.
func tlspakeMLKEMWrap(testing.TB) (wrapFunc, wrapFunc) {
	cfg := &tlspake.Config{Code: []byte(benchPRS), Groups: []tlspake.CurveID{tlspake.X25519MLKEM768}}
	return func(c net.Conn) handshaker { return tlspake.Client(c, cfg) },
		func(c net.Conn) handshaker { return tlspake.Server(c, cfg) }
}

// tlspakePSKWrap reconnects with a pairing (PROFILE.md section 5): an
// external PSK with psk_dhe_ke, no code and no CPace.
func tlspakePSKWrap(testing.TB) (wrapFunc, wrapFunc) {
	p := tlspake.Pairing{ID: bytes.Repeat([]byte{1}, 16), Secret: bytes.Repeat([]byte{2}, 32)}
	x := []tlspake.CurveID{tlspake.X25519}
	ccfg := &tlspake.Config{PSKs: []tlspake.PSK{p.PSK()}, Groups: x}
	scfg := &tlspake.Config{Code: []byte(benchPRS), Groups: x, GetPSK: func(id []byte) (tlspake.PSK, bool) {
		return p.PSK(), bytes.Equal(id, p.ID)
	}}
	return func(c net.Conn) handshaker { return tlspake.Client(c, ccfg) },
		func(c net.Conn) handshaker { return tlspake.Server(c, scfg) }
}

// benchServerName is the name in the benchmark certificate and the name the
// crypto/tls client verifies.
const benchServerName = "printer.local"

// benchCert is a self-signed server certificate and the pool that trusts it.
type benchCert struct {
	cert  tls.Certificate
	roots *x509.CertPool
}

// newBenchCert creates a self-signed certificate for benchServerName with
// key.
func newBenchCert(key crypto.Signer) (*benchCert, error) {
	cert, roots, err := perf.SelfSignedCert(key, benchServerName)
	if err != nil {
		return nil, err
	}
	return &benchCert{cert: cert, roots: roots}, nil
}

// The certificates are generated once per process.
var (
	ed25519Cert = sync.OnceValues(func() (*benchCert, error) {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return newBenchCert(key)
	})
	p256Cert = sync.OnceValues(func() (*benchCert, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		return newBenchCert(key)
	})
)

// cryptoTLSWrap configures crypto/tls as a comparable peer: TLS 1.3 only,
// X25519 only, no session tickets (so every handshake is a full one), and a
// client that verifies the server's certificate against a root pool that
// holds it.
func cryptoTLSWrap(tb testing.TB, certFn func() (*benchCert, error)) (wrapFunc, wrapFunc) {
	bc, err := certFn()
	if err != nil {
		tb.Fatal(err)
	}
	serverCfg := &tls.Config{
		Certificates:           []tls.Certificate{bc.cert},
		MinVersion:             tls.VersionTLS13,
		MaxVersion:             tls.VersionTLS13,
		CurvePreferences:       []tls.CurveID{tls.X25519},
		SessionTicketsDisabled: true,
	}
	clientCfg := &tls.Config{
		RootCAs:          bc.roots,
		ServerName:       benchServerName,
		MinVersion:       tls.VersionTLS13,
		MaxVersion:       tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519},
	}
	return func(c net.Conn) handshaker { return tls.Client(c, clientCfg) },
		func(c net.Conn) handshaker { return tls.Server(c, serverCfg) }
}

// handshakeOnce runs one full handshake, client and server, over a fresh
// net.Pipe (perf.PipeHandshake: the server in a new goroutine; a side that
// fails closes its end so that the other cannot block) and returns both
// connections once both handshakes have returned. The raw pipe ends are
// closed afterwards rather than the TLS connections: over a synchronous
// net.Pipe two close_notify writes would wait on each other.
func handshakeOnce(_ context.Context, client, server wrapFunc) (cc, sc handshaker, err error) {
	var a, b net.Conn
	wrap := func(c net.Conn) net.Conn {
		if a == nil {
			a = c
		} else {
			b = c
		}
		return c
	}
	cc, sc, err = perf.PipeHandshake(client, server, wrap)
	a.Close()
	b.Close()
	return cc, sc, err
}

// BenchmarkHandshake measures one full TLS 1.3 handshake, client and server,
// over net.Pipe, with each implementation in handshakeImpls.
func BenchmarkHandshake(b *testing.B) {
	for _, impl := range handshakeImpls {
		b.Run(impl.name, func(b *testing.B) {
			client, server := impl.setup(b)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := handshakeOnce(ctx, client, server); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// throughputWrite is the size of each Write in BenchmarkThroughput: one
// full-size TLS record.
const throughputWrite = 16 << 10

// tcpPair is a TLS connection over TCP loopback whose server side drains
// everything it reads.
type tcpPair struct {
	client handshaker
	done   chan drainResult
}

type drainResult struct {
	n   int64
	err error
}

// newTCPPair connects a client and a server over TCP on 127.0.0.1, runs the
// handshake on both, and starts a goroutine that reads from the server into
// io.Discard until the client's close_notify. If deadline is not zero, it
// bounds both raw connections.
func newTCPPair(ctx context.Context, client, server wrapFunc, deadline time.Time) (*tcpPair, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	hsDone := make(chan error, 1)
	done := make(chan drainResult, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			hsDone <- err
			done <- drainResult{err: err}
			return
		}
		raw.SetDeadline(deadline)
		sc := server(raw)
		if err := sc.HandshakeContext(ctx); err != nil {
			raw.Close()
			hsDone <- err
			done <- drainResult{err: err}
			return
		}
		hsDone <- nil
		n, err := io.Copy(io.Discard, sc)
		// The client has closed its end by now; its close_notify was what
		// ended the copy, so a failed close_notify here is expected.
		sc.Close()
		done <- drainResult{n, err}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		ln.Close() // unblocks Accept
		<-done
		return nil, err
	}
	raw.SetDeadline(deadline)
	cc := client(raw)
	if err := cc.HandshakeContext(ctx); err != nil {
		raw.Close()
		<-done
		return nil, fmt.Errorf("client handshake: %w", err)
	}
	if err := <-hsDone; err != nil {
		raw.Close()
		<-done
		return nil, fmt.Errorf("server handshake: %w", err)
	}
	return &tcpPair{client: cc, done: done}, nil
}

// close sends the client's close_notify, closes the client, and returns how
// many bytes the server read and the error its reader ended with.
func (p *tcpPair) close() (int64, error) {
	cerr := p.client.Close()
	r := <-p.done
	if r.err == nil && cerr != nil {
		r.err = fmt.Errorf("client close: %w", cerr)
	}
	return r.n, r.err
}

// BenchmarkThroughput measures 16 KiB writes of application data over a TCP
// loopback connection whose peer drains and decrypts everything, with each
// implementation in throughputImpls and the AES-128-GCM cipher suite.
func BenchmarkThroughput(b *testing.B) {
	for _, impl := range throughputImpls {
		b.Run(impl.name, func(b *testing.B) {
			client, server := impl.setup(b)
			p, err := newTCPPair(b.Context(), client, server, time.Time{})
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, throughputWrite)
			var written int64
			b.SetBytes(throughputWrite)
			b.ReportAllocs()
			for b.Loop() {
				n, err := p.client.Write(buf)
				written += int64(n)
				if err != nil {
					p.close()
					b.Fatal(err)
				}
			}
			b.StopTimer()
			n, err := p.close()
			if err != nil {
				b.Fatal(err)
			}
			if n != written {
				b.Fatalf("server read %d bytes, client wrote %d", n, written)
			}
		})
	}
}

// connState returns the version and cipher suite a connection negotiated,
// and whether its handshake completed.
func connState(c handshaker) (version, suite uint16, complete bool) {
	switch c := c.(type) {
	case *tlspake.Conn:
		st := c.ConnectionState()
		return st.Version, st.CipherSuite, st.HandshakeComplete
	case *tls.Conn:
		st := c.ConnectionState()
		return st.Version, st.CipherSuite, st.HandshakeComplete
	}
	panic(fmt.Sprintf("unknown connection type %T", c))
}

// checkState checks that c completed a TLS 1.3 handshake with AES-128-GCM.
func checkState(t *testing.T, side string, c handshaker) {
	t.Helper()
	version, suite, complete := connState(c)
	if !complete {
		t.Errorf("%s: handshake not complete", side)
	}
	if version != tls.VersionTLS13 {
		t.Errorf("%s: version %#04x, want TLS 1.3", side, version)
	}
	if suite != tls.TLS_AES_128_GCM_SHA256 {
		t.Errorf("%s: cipher suite %#04x, want TLS_AES_128_GCM_SHA256", side, suite)
	}
}

// TestHandshakeBenchSetups runs the setup and one handshake of each
// BenchmarkHandshake case, and checks that both sides complete a TLS 1.3
// AES-128-GCM handshake.
func TestHandshakeBenchSetups(t *testing.T) {
	for _, impl := range handshakeImpls {
		t.Run(impl.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			client, server := impl.setup(t)
			cc, sc, err := handshakeOnce(ctx, client, server)
			if err != nil {
				t.Fatal(err)
			}
			checkState(t, "client", cc)
			checkState(t, "server", sc)
		})
	}
}

// TestHandshakeBenchFailure checks that handshakeOnce reports a failed
// handshake, on both sides, instead of hanging: a tlspake client with the
// wrong code.
//
// (A crypto/tls client that rejects the certificate is no good test here:
// it sends its alert before it has read the server's whole flight, and over
// the synchronous net.Pipe both writes then wait until the context ends.)
func TestHandshakeBenchFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, server := tlspakeWrap(t)
	wrongCode := &tlspake.Config{Code: []byte("K7Q2M-9XH5")}
	client := func(c net.Conn) handshaker { return tlspake.Client(c, wrongCode) }
	_, _, err := handshakeOnce(ctx, client, server)
	if !errors.Is(err, tlspake.ErrCodeMismatch) {
		t.Fatalf("handshake with a wrong code: %v, want ErrCodeMismatch", err)
	}
	for _, side := range []string{"client: ", "server: "} {
		if !strings.Contains(err.Error(), side) {
			t.Errorf("error %q does not report the %sside failing", err, side)
		}
	}
}

// TestThroughputBenchSetups runs the setup of each BenchmarkThroughput case,
// writes one 16 KiB buffer, and checks that the server read all of it.
func TestThroughputBenchSetups(t *testing.T) {
	for _, impl := range throughputImpls {
		t.Run(impl.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			client, server := impl.setup(t)
			deadline, _ := ctx.Deadline()
			p, err := newTCPPair(ctx, client, server, deadline)
			if err != nil {
				t.Fatal(err)
			}
			checkState(t, "client", p.client)
			buf := make([]byte, throughputWrite)
			if n, err := p.client.Write(buf); err != nil || n != len(buf) {
				p.close()
				t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(buf))
			}
			n, err := p.close()
			if err != nil {
				t.Fatal(err)
			}
			if n != throughputWrite {
				t.Errorf("server read %d bytes, want %d", n, throughputWrite)
			}
		})
	}
}
