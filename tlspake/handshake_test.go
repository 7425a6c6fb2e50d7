package tlspake

// Behavioural tests of the handshake: the negotiation matrix over net.Pipe
// and TCP, hub servers (GetCode), wrong codes as they look on the wire,
// Finished messages that do not verify, and ALPN failures. Shared helpers
// of handshake_test.go and conn_test.go are prefixed "bh".

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

var (
	bhCode      = []byte("7QX4M2K9PA")
	bhWrongCode = []byte("7QX4M2K9PB")
)

// bhTimeout bounds every handshake and data exchange in these tests.
const bhTimeout = 10 * time.Second

// bhLeakCheck records the number of goroutines and, when the test ends
// (after the cleanups registered later, which close the connections), waits
// briefly for it to come back to that baseline. Call it first in a
// top-level test.
func bhLeakCheck(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= base {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d goroutines running, %d at the start of the test\n%s", n, base, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// bhRecConn records everything written through it.
type bhRecConn struct {
	net.Conn
	mu    sync.Mutex
	wrote []byte
}

func (r *bhRecConn) Write(p []byte) (int, error) {
	n, err := r.Conn.Write(p)
	r.mu.Lock()
	r.wrote = append(r.wrote, p[:n]...)
	r.mu.Unlock()
	return n, err
}

func (r *bhRecConn) written() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.wrote)
}

// bhRecord is what an observer of the wire sees of a record.
type bhRecord struct {
	typ uint8
	n   int // length of the record body
}

func (r bhRecord) String() string { return fmt.Sprintf("%d(%d)", r.typ, r.n) }

// bhRecords splits a written byte stream into records.
func bhRecords(t *testing.T, b []byte) []bhRecord {
	t.Helper()
	var out []bhRecord
	for len(b) > 0 {
		if len(b) < recordHeaderLen {
			t.Fatalf("stream ends inside a record header: % x", b)
		}
		n := int(binary.BigEndian.Uint16(b[3:5]))
		if len(b) < recordHeaderLen+n {
			t.Fatalf("stream ends inside a record of %d bytes", n)
		}
		out = append(out, bhRecord{b[0], n})
		b = b[recordHeaderLen+n:]
	}
	return out
}

func bhTypes(recs []bhRecord) []uint8 {
	var out []uint8
	for _, r := range recs {
		out = append(out, r.typ)
	}
	return out
}

// bhPipe returns a client and a server over net.Pipe, each side's
// transport wrapped in a recording conn. The pipe is closed at cleanup.
func bhPipe(t *testing.T, ccfg, scfg *Config) (cc, sc *Conn, crec, srec *bhRecConn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() {
		a.Close()
		b.Close()
	})
	crec, srec = &bhRecConn{Conn: a}, &bhRecConn{Conn: b}
	return Client(crec, ccfg), Server(srec, scfg), crec, srec
}

// bhDrain reads and discards until c fails, so that a peer's alert does not
// block on a synchronous pipe after this side has given up.
func bhDrain(c net.Conn) { io.Copy(io.Discard, c) }

// bhHandshake runs both handshakes concurrently, bounded by bhTimeout. A
// side that fails has its transport drained from then on.
func bhHandshake(t *testing.T, cc, sc *Conn) (cerr, serr error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), bhTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		err := sc.HandshakeContext(ctx)
		if err != nil {
			go bhDrain(sc.NetConn())
		}
		done <- err
	}()
	cerr = cc.HandshakeContext(ctx)
	if cerr != nil {
		go bhDrain(cc.NetConn())
	}
	serr = <-done
	return cerr, serr
}

// bhConnected runs a handshake that must succeed.
func bhConnected(t *testing.T, ccfg, scfg *Config) (cc, sc *Conn) {
	t.Helper()
	cc, sc, _, _ = bhPipe(t, ccfg, scfg)
	cerr, serr := bhHandshake(t, cc, sc)
	if cerr != nil || serr != nil {
		t.Fatalf("handshake failed: client: %v; server: %v", cerr, serr)
	}
	return cc, sc
}

// bhTCP runs a handshake over TCP on 127.0.0.1: the server from Listen,
// the client from Dialer.DialContext (or Dial when useDial is set). On
// success both conns are closed at cleanup.
func bhTCP(t *testing.T, ccfg, scfg *Config, useDial bool) (cc, sc *Conn, cerr, serr error) {
	t.Helper()
	ln, err := Listen("tcp", "127.0.0.1:0", scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(t.Context(), bhTimeout)
	defer cancel()
	type result struct {
		c   *Conn
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- result{nil, err}
			return
		}
		s := c.(*Conn)
		err = s.HandshakeContext(ctx)
		if err != nil {
			s.Close()
		}
		accepted <- result{s, err}
	}()
	addr := ln.Addr().String()
	if useDial {
		cc, cerr = Dial("tcp", addr, ccfg)
	} else {
		var nc net.Conn
		nc, cerr = (&Dialer{Config: ccfg}).DialContext(ctx, "tcp", addr)
		if cerr == nil {
			cc = nc.(*Conn)
		}
	}
	var r result
	select {
	case r = <-accepted:
	case <-time.After(bhTimeout):
		ln.Close()
		r = <-accepted
	}
	sc, serr = r.c, r.err
	if cc != nil {
		t.Cleanup(func() { cc.NetConn().Close() })
	}
	if sc != nil {
		t.Cleanup(func() { sc.NetConn().Close() })
	}
	return cc, sc, cerr, serr
}

// bhWantAlert checks that err carries an *AlertError with alert a and the
// given Received flag, and whether it matches ErrCodeMismatch.
func bhWantAlert(t *testing.T, side string, err error, a Alert, received, mismatch bool) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want alert %v", side, a)
		return
	}
	var ae *AlertError
	if !errors.As(err, &ae) {
		t.Errorf("%s: error %q (%T) carries no *AlertError, want %v", side, err, err, a)
		return
	}
	if ae.Alert != a || ae.Received != received {
		t.Errorf("%s: alert %v (received %v), want %v (received %v); error: %v", side, ae.Alert, ae.Received, a, received, err)
	}
	if got := errors.Is(err, ErrCodeMismatch); got != mismatch {
		t.Errorf("%s: errors.Is(err, ErrCodeMismatch) = %v, want %v; error: %v", side, got, mismatch, err)
	}
}

// bhCheckState compares a ConnectionState with the expected one.
func bhCheckState(t *testing.T, side string, got, want ConnectionState) {
	t.Helper()
	if got.Version != want.Version {
		t.Errorf("%s: Version 0x%04x, want 0x%04x", side, got.Version, want.Version)
	}
	if got.HandshakeComplete != want.HandshakeComplete {
		t.Errorf("%s: HandshakeComplete %v, want %v", side, got.HandshakeComplete, want.HandshakeComplete)
	}
	if got.CipherSuite != want.CipherSuite {
		t.Errorf("%s: CipherSuite %s, want %s", side, CipherSuiteName(got.CipherSuite), CipherSuiteName(want.CipherSuite))
	}
	if got.Group != want.Group {
		t.Errorf("%s: Group %v, want %v", side, got.Group, want.Group)
	}
	if got.PAKEScheme != want.PAKEScheme {
		t.Errorf("%s: PAKEScheme %v, want %v", side, got.PAKEScheme, want.PAKEScheme)
	}
	if !bytes.Equal(got.ClientIdentity, want.ClientIdentity) {
		t.Errorf("%s: ClientIdentity %q, want %q", side, got.ClientIdentity, want.ClientIdentity)
	}
	if !bytes.Equal(got.ServerIdentity, want.ServerIdentity) {
		t.Errorf("%s: ServerIdentity %q, want %q", side, got.ServerIdentity, want.ServerIdentity)
	}
	if got.NegotiatedProtocol != want.NegotiatedProtocol {
		t.Errorf("%s: NegotiatedProtocol %q, want %q", side, got.NegotiatedProtocol, want.NegotiatedProtocol)
	}
	if got.ServerName != want.ServerName {
		t.Errorf("%s: ServerName %q, want %q", side, got.ServerName, want.ServerName)
	}
	if got.DidHelloRetryRequest != want.DidHelloRetryRequest {
		t.Errorf("%s: DidHelloRetryRequest %v, want %v", side, got.DidHelloRetryRequest, want.DidHelloRetryRequest)
	}
}

var bhSuites = []uint16{TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256}

type bhGroupCase struct {
	name           string
	client, server []CurveID
	hrr            bool
	group          CurveID
}

var bhGroupCases = []bhGroupCase{
	{"x25519", []CurveID{X25519}, []CurveID{X25519}, false, X25519},
	// The defaults: the client sends hybrid and X25519 shares, the server
	// prefers the hybrid.
	{"defaults", nil, nil, false, X25519MLKEM768},
	{"mlkem", []CurveID{X25519MLKEM768}, []CurveID{X25519MLKEM768, X25519}, false, X25519MLKEM768},
	// The client's first share is X25519, the server prefers the hybrid.
	{"hrr-to-mlkem", []CurveID{X25519, X25519MLKEM768}, []CurveID{X25519MLKEM768, X25519}, true, X25519MLKEM768},
	// The client's first share is the hybrid, the server only has X25519.
	{"hrr-to-x25519", []CurveID{X25519MLKEM768, X25519}, []CurveID{X25519}, true, X25519},
	// With the default groups the client sends both shares, so a server
	// with only X25519 needs no HelloRetryRequest.
	{"default-client-to-x25519", nil, []CurveID{X25519}, false, X25519},
	// A client with only the hybrid meets a server preferring X25519 but
	// supporting both: no HelloRetryRequest, the hybrid is used.
	{"mlkem-only-client", []CurveID{X25519MLKEM768}, []CurveID{X25519, X25519MLKEM768}, false, X25519MLKEM768},
}

type bhALPNCase struct {
	name           string
	client, server []string
	want           string
}

var bhALPNCases = []bhALPNCase{
	{"none", nil, nil, ""},
	{"server-preference", []string{"h2", "http/1.1"}, []string{"http/1.1", "h2"}, "http/1.1"},
	{"client-only", []string{"h2"}, nil, ""},
	{"server-only", nil, []string{"h2"}, ""},
}

type bhIDCase struct {
	name           string
	client, server []byte
	sni            string
}

var bhIDCases = []bhIDCase{
	{"empty", nil, nil, ""},
	{"set", []byte("phone-7"), []byte("printer-42"), "printer.local"},
}

// bhExpectedState is the ConnectionState both sides should report.
func bhExpectedState(suite uint16, g bhGroupCase, alpn string, id bhIDCase) ConnectionState {
	return ConnectionState{
		Version:              VersionTLS13,
		HandshakeComplete:    true,
		CipherSuite:          suite,
		Group:                g.group,
		PAKEScheme:           PAKECPaceX25519SHA512,
		ClientIdentity:       id.client,
		ServerIdentity:       id.server,
		NegotiatedProtocol:   alpn,
		ServerName:           id.sni,
		DidHelloRetryRequest: g.hrr,
	}
}

func TestHandshakeMatrix(t *testing.T) {
	bhLeakCheck(t)
	for _, suite := range bhSuites {
		for _, g := range bhGroupCases {
			for _, alpn := range bhALPNCases {
				for _, id := range bhIDCases {
					name := fmt.Sprintf("%s/%s/alpn=%s/ids=%s", CipherSuiteName(suite), g.name, alpn.name, id.name)
					t.Run(name, func(t *testing.T) {
						// The client restricts the suite; the server's
						// default list contains all three.
						ccfg := &Config{Code: bhCode, CipherSuites: []uint16{suite}, Groups: g.client,
							NextProtos: alpn.client, ClientIdentity: id.client, ServerIdentity: id.server, ServerName: id.sni}
						scfg := &Config{Code: bhCode, Groups: g.server, NextProtos: alpn.server, ServerIdentity: id.server}
						cc, sc, _, _ := bhPipe(t, ccfg, scfg)
						if st := cc.ConnectionState(); st.HandshakeComplete || st.Version != 0 {
							t.Errorf("client state before the handshake: %+v", st)
						}
						if st := sc.ConnectionState(); st.HandshakeComplete || st.Version != 0 {
							t.Errorf("server state before the handshake: %+v", st)
						}
						cerr, serr := bhHandshake(t, cc, sc)
						if cerr != nil || serr != nil {
							t.Fatalf("handshake failed: client: %v; server: %v", cerr, serr)
						}
						want := bhExpectedState(suite, g, alpn.want, id)
						bhCheckState(t, "client", cc.ConnectionState(), want)
						bhCheckState(t, "server", sc.ConnectionState(), want)
						bhExchange(t, cc, sc, []byte("from the client"), []byte("from the server"))
					})
				}
			}
		}
	}
}

func TestHandshakeTCP(t *testing.T) {
	bhLeakCheck(t)
	id := bhIDCases[1]
	alpn := bhALPNCases[1]
	for _, suite := range bhSuites {
		for _, g := range bhGroupCases[2:] { // both HelloRetryRequest cases
			for _, useDial := range []bool{false, true} {
				if useDial && g.name != "hrr-to-x25519" {
					continue
				}
				name := fmt.Sprintf("%s/%s/dial=%v", CipherSuiteName(suite), g.name, useDial)
				t.Run(name, func(t *testing.T) {
					// Here the server restricts the suite; the client offers
					// its default list.
					ccfg := &Config{Code: bhCode, Groups: g.client, NextProtos: alpn.client,
						ClientIdentity: id.client, ServerIdentity: id.server, ServerName: id.sni, HandshakeTimeout: bhTimeout}
					scfg := &Config{Code: bhCode, CipherSuites: []uint16{suite}, Groups: g.server,
						NextProtos: alpn.server, ServerIdentity: id.server, HandshakeTimeout: bhTimeout}
					cc, sc, cerr, serr := bhTCP(t, ccfg, scfg, useDial)
					if cerr != nil || serr != nil {
						t.Fatalf("handshake failed: client: %v; server: %v", cerr, serr)
					}
					want := bhExpectedState(suite, g, alpn.want, id)
					bhCheckState(t, "client", cc.ConnectionState(), want)
					bhCheckState(t, "server", sc.ConnectionState(), want)
					if _, ok := cc.RemoteAddr().(*net.TCPAddr); !ok {
						t.Errorf("client RemoteAddr %T, want *net.TCPAddr", cc.RemoteAddr())
					}
					bhExchange(t, cc, sc, bhRandom(50000, 1), bhRandom(70000, 2))
				})
			}
		}
	}
}

// bhFailure is everything an observer can compare between two failed
// handshakes.
type bhFailure struct {
	cerr, serr       error
	cwire, swire     []bhRecord
	cstate, sstate   ConnectionState
	cReadErr, sWrErr error
}

// bhFail runs a handshake over net.Pipe that must fail.
func bhFail(t *testing.T, ccfg, scfg *Config) bhFailure {
	t.Helper()
	cc, sc, crec, srec := bhPipe(t, ccfg, scfg)
	cerr, serr := bhHandshake(t, cc, sc)
	if cerr == nil || serr == nil {
		t.Fatalf("handshake did not fail on both sides: client: %v; server: %v", cerr, serr)
	}
	// Both sides are done; let the drains finish reading what is in flight.
	var f bhFailure
	f.cerr, f.serr = cerr, serr
	f.cstate, f.sstate = cc.ConnectionState(), sc.ConnectionState()
	_, f.cReadErr = cc.Read(make([]byte, 1))
	_, f.sWrErr = sc.Write([]byte("x"))
	f.cwire = bhRecords(t, crec.written())
	f.swire = bhRecords(t, srec.written())
	return f
}

// bhCheckMismatch checks a failure that must look like a wrong code: both
// sides report ErrCodeMismatch with a bad_record_mac they detected, and the
// errors stay sticky.
func bhCheckMismatch(t *testing.T, f bhFailure) {
	t.Helper()
	// The client could not decrypt the server's first protected record.
	bhWantAlert(t, "client", f.cerr, AlertBadRecordMAC, false, true)
	// The server could not decrypt the client's encrypted alert.
	bhWantAlert(t, "server", f.serr, AlertBadRecordMAC, false, true)
	if !errors.Is(f.cReadErr, ErrCodeMismatch) {
		t.Errorf("client Read after the failed handshake: %v, want the handshake error", f.cReadErr)
	}
	if !errors.Is(f.sWrErr, ErrCodeMismatch) {
		t.Errorf("server Write after the failed handshake: %v, want the handshake error", f.sWrErr)
	}
	if f.cstate.HandshakeComplete || f.sstate.HandshakeComplete {
		t.Errorf("HandshakeComplete after a failed handshake: client %v, server %v", f.cstate.HandshakeComplete, f.sstate.HandshakeComplete)
	}
}

// bhEncryptedAlertLen is the body length of an encrypted alert record: the
// two alert bytes, the inner content type and a 16-byte AEAD tag.
const bhEncryptedAlertLen = 2 + 1 + 16

func TestHandshakeWrongCode(t *testing.T) {
	bhLeakCheck(t)
	for _, g := range []bhGroupCase{bhGroupCases[0], bhGroupCases[2]} {
		t.Run(g.name, func(t *testing.T) {
			f := bhFail(t, &Config{Code: bhCode, Groups: g.client}, &Config{Code: bhWrongCode, Groups: g.server})
			bhCheckMismatch(t, f)
			if got, want := f.cstate.DidHelloRetryRequest, g.hrr; got != want {
				t.Errorf("client DidHelloRetryRequest %v, want %v", got, want)
			}

			// On the wire, the client wrote its ClientHello(s) in
			// plaintext and, after the ServerHello, exactly one more
			// record: an encrypted alert (outer type application_data).
			nHello := 1
			if g.hrr {
				nHello = 2
			}
			if len(f.cwire) != nHello+1 {
				t.Fatalf("client wrote records %v, want %d ClientHello(s) and one encrypted alert", f.cwire, nHello)
			}
			for _, r := range f.cwire[:nHello] {
				if r.typ != recordTypeHandshake {
					t.Errorf("client record before the ServerHello %v, want type %d", r, recordTypeHandshake)
				}
			}
			if last := f.cwire[nHello]; last.typ != recordTypeApplicationData || last.n != bhEncryptedAlertLen {
				t.Errorf("client's record after the ServerHello is %v, want an encrypted alert %d(%d)", last, recordTypeApplicationData, bhEncryptedAlertLen)
			}

			// The server wrote (HelloRetryRequest,) ServerHello in
			// plaintext, then EncryptedExtensions and Finished, then only
			// its encrypted alert: no application data.
			wantTypes := []uint8{recordTypeHandshake, recordTypeApplicationData, recordTypeApplicationData, recordTypeApplicationData}
			if g.hrr {
				wantTypes = append([]uint8{recordTypeHandshake}, wantTypes...)
			}
			if !bytes.Equal(bhTypes(f.swire), wantTypes) {
				t.Fatalf("server wrote records %v, want types %v", f.swire, wantTypes)
			}
			if last := f.swire[len(f.swire)-1]; last.n != bhEncryptedAlertLen {
				t.Errorf("server's last record %v is not an encrypted alert of %d bytes", last, bhEncryptedAlertLen)
			}
		})
	}
}

func TestHandshakeHub(t *testing.T) {
	bhLeakCheck(t)
	type pair struct{ client, server string }
	otherCode := []byte("HUBOTHER01")
	codes := map[pair][]byte{
		{"phone", "hub-1"}:  bhCode,
		{"laptop", "hub-1"}: otherCode,
		{"empty", "hub-1"}:  {}, // known but without a code: treated as unknown
	}
	var mu sync.Mutex
	var asked []pair
	scfg := &Config{GetCode: func(ci, si []byte) ([]byte, bool) {
		mu.Lock()
		defer mu.Unlock()
		p := pair{string(ci), string(si)}
		asked = append(asked, p)
		c, ok := codes[p]
		return c, ok
	}}
	lastAsked := func() pair {
		mu.Lock()
		defer mu.Unlock()
		if len(asked) == 0 {
			return pair{}
		}
		return asked[len(asked)-1]
	}
	client := func(ci, si string, code []byte) *Config {
		return &Config{Code: code, ClientIdentity: []byte(ci), ServerIdentity: []byte(si)}
	}

	for _, p := range []pair{{"phone", "hub-1"}, {"laptop", "hub-1"}} {
		t.Run("known/"+p.client, func(t *testing.T) {
			cc, sc := bhConnected(t, client(p.client, p.server, codes[p]), scfg)
			if got := lastAsked(); got != p {
				t.Errorf("GetCode was asked for %+v, want %+v", got, p)
			}
			for side, st := range map[string]ConnectionState{"client": cc.ConnectionState(), "server": sc.ConnectionState()} {
				if string(st.ClientIdentity) != p.client || string(st.ServerIdentity) != p.server {
					t.Errorf("%s: identities %q/%q, want %q/%q", side, st.ClientIdentity, st.ServerIdentity, p.client, p.server)
				}
			}
			bhExchange(t, cc, sc, []byte("hello hub"), []byte("hello "+p.client))
		})
	}

	// Reference: a known pair with the wrong code.
	var wrong bhFailure
	t.Run("known-pair-wrong-code", func(t *testing.T) {
		wrong = bhFail(t, client("phone", "hub-1", otherCode), scfg)
		bhCheckMismatch(t, wrong)
	})

	// Unknown pairs are simulated and fail exactly like a wrong code: the
	// same errors on both sides and the same records on the wire.
	for _, p := range []pair{{"stranger", "hub-1"}, {"phone", "hub-2"}, {"empty", "hub-1"}} {
		t.Run("unknown/"+p.client+"/"+p.server, func(t *testing.T) {
			f := bhFail(t, client(p.client, p.server, bhCode), scfg)
			if got := lastAsked(); got != p {
				t.Errorf("GetCode was asked for %+v, want %+v", got, p)
			}
			bhCheckMismatch(t, f)
			if wrong.swire == nil {
				t.Skip("no wrong-code reference to compare with")
			}
			if fmt.Sprint(f.swire) != fmt.Sprint(wrong.swire) {
				t.Errorf("server records %v, with a wrong code %v", f.swire, wrong.swire)
			}
			if fmt.Sprint(bhTypes(f.cwire)) != fmt.Sprint(bhTypes(wrong.cwire)) {
				t.Errorf("client record types %v, with a wrong code %v", bhTypes(f.cwire), bhTypes(wrong.cwire))
			}
			if f.sstate.PAKEScheme != wrong.sstate.PAKEScheme || f.sstate.Group != wrong.sstate.Group || f.sstate.CipherSuite != wrong.sstate.CipherSuite {
				t.Errorf("server state %+v differs from the wrong-code one %+v", f.sstate, wrong.sstate)
			}
		})
	}
}

func TestHandshakeServerIdentity(t *testing.T) {
	bhLeakCheck(t)
	scfg := &Config{Code: bhCode, ServerIdentity: []byte("printer-42")}
	t.Run("any-client-identity", func(t *testing.T) {
		cc, sc := bhConnected(t, &Config{Code: bhCode, ClientIdentity: []byte("whoever"), ServerIdentity: []byte("printer-42")}, scfg)
		if got := string(sc.ConnectionState().ClientIdentity); got != "whoever" {
			t.Errorf("server ClientIdentity %q", got)
		}
		bhExchange(t, cc, sc, []byte("a"), []byte("b"))
	})
	for _, si := range []string{"printer-43", ""} {
		t.Run(fmt.Sprintf("other-server-identity=%q", si), func(t *testing.T) {
			f := bhFail(t, &Config{Code: bhCode, ServerIdentity: []byte(si)}, scfg)
			bhCheckMismatch(t, f)
		})
	}
	t.Run("client-omits-identity-server-has-none", func(t *testing.T) {
		cc, sc := bhConnected(t, &Config{Code: bhCode, ClientIdentity: []byte("c")}, &Config{Code: bhCode})
		bhExchange(t, cc, sc, []byte("a"), []byte("b"))
	})
}

func TestHandshakeALPNMismatch(t *testing.T) {
	bhLeakCheck(t)
	f := bhFail(t, &Config{Code: bhCode, NextProtos: []string{"h2"}}, &Config{Code: bhCode, NextProtos: []string{"http/1.1"}})
	// The server refuses the ClientHello before any PAKE work, and the
	// client reports the alert it received; neither is a code mismatch.
	bhWantAlert(t, "server", f.serr, AlertNoApplicationProtocol, false, false)
	bhWantAlert(t, "client", f.cerr, AlertNoApplicationProtocol, true, false)
	if f.sstate.PAKEScheme != 0 {
		t.Errorf("server ran the PAKE before refusing: %+v", f.sstate)
	}
	// The server's answer is one plaintext alert record, and the client
	// sends nothing after its ClientHello.
	if len(f.swire) != 1 || f.swire[0] != (bhRecord{recordTypeAlert, 2}) {
		t.Errorf("server wrote %v, want one plaintext alert", f.swire)
	}
	if len(f.cwire) != 1 || f.cwire[0].typ != recordTypeHandshake {
		t.Errorf("client wrote %v, want its ClientHello only", f.cwire)
	}
}

// bhTamperConn passes each Write through a hook that returns the bytes to
// send instead; after the hook's close result, the transport is closed.
type bhTamperConn struct {
	net.Conn
	hook func(p []byte) (out []byte, closeAfter bool)
}

func (c *bhTamperConn) Write(p []byte) (int, error) {
	out, closeAfter := c.hook(p)
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	if closeAfter {
		c.Conn.Close()
	}
	return len(p), nil
}

// bhRecordSpans returns the offsets of the records in b.
func bhRecordSpans(b []byte) (spans [][2]int) {
	for off := 0; off+recordHeaderLen <= len(b); {
		n := int(binary.BigEndian.Uint16(b[off+3:]))
		if off+recordHeaderLen+n > len(b) {
			break
		}
		spans = append(spans, [2]int{off, off + recordHeaderLen + n})
		off += recordHeaderLen + n
	}
	return spans
}

func bhNonce(iv [12]byte, seq uint64) []byte {
	var seqb [8]byte
	binary.BigEndian.PutUint64(seqb[:], seq)
	for i := range seqb {
		iv[4+i] ^= seqb[i]
	}
	return iv[:]
}

// bhFlipFinished looks for a protected Finished among the records c is
// writing in p, flips a bit of its verify_data and seals it again, so that
// the peer decrypts it but cannot verify it. It is called from c's
// transport Write, where c.out is locked by the calling goroutine: the
// records in p were sealed with c.out's current keys, the last one with
// sequence number c.out.seq-1.
func bhFlipFinished(c *Conn, p []byte) ([]byte, bool) {
	if c.out.aead == nil {
		return p, false
	}
	out := bytes.Clone(p)
	var protected [][2]int
	for _, s := range bhRecordSpans(out) {
		if out[s[0]] == recordTypeApplicationData {
			protected = append(protected, s)
		}
	}
	flipped := false
	for i, s := range protected {
		seq := c.out.seq - uint64(len(protected)-i)
		hdr, body := out[s[0]:s[0]+recordHeaderLen], out[s[0]+recordHeaderLen:s[1]]
		nonce := bhNonce(c.out.iv, seq)
		plain, err := c.out.aead.Open(nil, nonce, body, hdr)
		if err != nil {
			continue
		}
		end := len(plain) - 1
		for end > 0 && plain[end] == 0 {
			end--
		}
		if plain[end] != recordTypeHandshake || end < 5 || plain[0] != typeFinished {
			continue
		}
		plain[4] ^= 0x80 // first byte of verify_data
		copy(body, c.out.aead.Seal(nil, nonce, plain, hdr))
		flipped = true
	}
	return out, flipped
}

// TestHandshakeFinishedDoesNotVerify: a Finished that decrypts but does not
// verify is decrypt_error, reported as a code mismatch; the peer receives
// the decrypt_error alert. The Finished is altered in the sender's
// transport, re-sealed with the sender's own handshake keys.
func TestHandshakeFinishedDoesNotVerify(t *testing.T) {
	bhLeakCheck(t)
	t.Run("server-Finished", func(t *testing.T) {
		a, b := net.Pipe()
		t.Cleanup(func() {
			a.Close()
			b.Close()
		})
		var sc *Conn
		var flipped bool // written and read under sc.out's lock / after the handshake
		tc := &bhTamperConn{Conn: b, hook: func(p []byte) ([]byte, bool) {
			out, ok := bhFlipFinished(sc, p)
			flipped = flipped || ok
			return out, false
		}}
		sc = Server(tc, &Config{Code: bhCode})
		cc := Client(a, &Config{Code: bhCode})
		cerr, serr := bhHandshake(t, cc, sc)
		if !flipped {
			t.Fatal("the server's Finished was not found in its flight")
		}
		bhWantAlert(t, "client", cerr, AlertDecryptError, false, true)
		var ae *AlertError
		if !errors.As(serr, &ae) || ae.Alert != AlertDecryptError || !ae.Received {
			t.Errorf("server: %v, want the client's decrypt_error alert", serr)
		}
	})
	t.Run("client-Finished", func(t *testing.T) {
		a, b := net.Pipe()
		t.Cleanup(func() {
			a.Close()
			b.Close()
		})
		var cc *Conn
		var flipped bool
		tc := &bhTamperConn{Conn: a, hook: func(p []byte) ([]byte, bool) {
			out, ok := bhFlipFinished(cc, p)
			flipped = flipped || ok
			return out, false
		}}
		cc = Client(tc, &Config{Code: bhCode})
		sc := Server(b, &Config{Code: bhCode})
		ctx, cancel := context.WithTimeout(t.Context(), bhTimeout)
		defer cancel()
		serrc := make(chan error, 1)
		go func() { serrc <- sc.HandshakeContext(ctx) }()
		// The client's handshake ends once it has sent its Finished; the
		// server's verdict comes as an alert on its next Read.
		if err := cc.HandshakeContext(ctx); err != nil {
			t.Fatalf("client handshake: %v", err)
		}
		if !flipped {
			t.Fatal("the client's Finished was not found")
		}
		cc.SetReadDeadline(time.Now().Add(bhTimeout))
		_, cerr := cc.Read(make([]byte, 1))
		serr := <-serrc
		bhWantAlert(t, "server", serr, AlertDecryptError, false, true)
		var ae *AlertError
		if !errors.As(cerr, &ae) || ae.Alert != AlertDecryptError || !ae.Received {
			t.Errorf("client Read: %v, want the server's decrypt_error alert", cerr)
		}
		if st := sc.ConnectionState(); st.HandshakeComplete {
			t.Errorf("server completed the handshake with a bad client Finished")
		}
	})
}

// bhRecoverHandshake runs a handshake and turns a panic into an error.
func bhRecoverHandshake(ctx context.Context, c *Conn) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handshake panicked: %v", r)
		}
	}()
	return c.HandshakeContext(ctx)
}

// TestBugUserCanceledInHandshake: a user_canceled alert during the handshake
// (a plaintext alert is accepted from a peer during the handshake) makes
// readHandshake return (nil, nil), and the caller panics indexing msg[0]:
// any unauthenticated peer can crash a server or a client.
func TestBugUserCanceledInHandshake(t *testing.T) {
	bhLeakCheck(t)
	userCanceled := []byte{recordTypeAlert, 3, 3, 0, 2, 1, byte(AlertUserCanceled)}
	run := func(t *testing.T, victimIsServer bool) {
		a, b := net.Pipe()
		t.Cleanup(func() {
			a.Close()
			b.Close()
		})
		var cconn, sconn net.Conn = a, b
		if victimIsServer {
			// The client sends user_canceled instead of its Finished (its
			// first protected record), then closes.
			cconn = &bhTamperConn{Conn: a, hook: func(p []byte) ([]byte, bool) {
				if p[0] == recordTypeApplicationData {
					return userCanceled, true
				}
				return p, false
			}}
		} else {
			// The server sends its ServerHello, then user_canceled instead
			// of the rest of its flight, then closes.
			sconn = &bhTamperConn{Conn: b, hook: func(p []byte) ([]byte, bool) {
				if s := bhRecordSpans(p); len(s) > 1 && p[0] == recordTypeHandshake && p[5] == typeServerHello {
					return append(bytes.Clone(p[:s[0][1]]), userCanceled...), true
				}
				return p, false
			}}
		}
		cc, sc := Client(cconn, &Config{Code: bhCode}), Server(sconn, &Config{Code: bhCode})
		ctx, cancel := context.WithTimeout(t.Context(), bhTimeout)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			err := bhRecoverHandshake(ctx, sc)
			go bhDrain(b)
			done <- err
		}()
		cerr := bhRecoverHandshake(ctx, cc)
		go bhDrain(a)
		serr := <-done
		victim, err := "client", cerr
		if victimIsServer {
			victim, err = "server", serr
		}
		if err == nil || bytes.Contains([]byte(err.Error()), []byte("panicked")) {
			t.Fatalf("%s handshake: %v, want an error and no panic", victim, err)
		}
	}
	t.Run("server", func(t *testing.T) { run(t, true) })
	t.Run("client", func(t *testing.T) { run(t, false) })
}
