package tlspake

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fuzz targets for the message parsers and the record/handshake reader.
//
// Run one for a while with, for example:
//
//	go test -run '^$' -fuzz '^FuzzParseClientHello$' -fuzztime 30s ./tlspake/
//
// Without -fuzz, `go test` runs every target on its seeds: the f.Add seeds
// below, built from real messages at test time, and the committed files
// under testdata/fuzz/<FuzzName>/.

// fuzzCode is the code the fuzzed servers and clients use.
var fuzzCode = []byte("ABCDE12345")

// fuzzStreamConn is a net.Conn whose reads return a fixed byte stream, in
// chunks of at most chunk bytes (0: no limit), and then io.EOF. Writes are
// recorded. It never blocks, so a handshake over it always ends.
type fuzzStreamConn struct {
	mu     sync.Mutex
	in     []byte
	chunk  int
	out    []byte
	closed bool
}

func newFuzzStreamConn(in []byte, chunk int) *fuzzStreamConn {
	return &fuzzStreamConn{in: in, chunk: chunk}
}

func (c *fuzzStreamConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	if c.chunk > 0 && len(b) > c.chunk {
		b = b[:c.chunk]
	}
	n := copy(b, c.in)
	c.in = c.in[n:]
	return n, nil
}

func (c *fuzzStreamConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	c.out = append(c.out, b...)
	return len(b), nil
}

func (c *fuzzStreamConn) written() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.out)
}

func (c *fuzzStreamConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

type fuzzAddr struct{}

func (fuzzAddr) Network() string { return "fuzz" }
func (fuzzAddr) String() string  { return "fuzz" }

func (c *fuzzStreamConn) LocalAddr() net.Addr                { return fuzzAddr{} }
func (c *fuzzStreamConn) RemoteAddr() net.Addr               { return fuzzAddr{} }
func (c *fuzzStreamConn) SetDeadline(t time.Time) error      { return nil }
func (c *fuzzStreamConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *fuzzStreamConn) SetWriteDeadline(t time.Time) error { return nil }

// wireRecord is one TLSPlaintext/TLSCiphertext record of a byte stream.
type wireRecord struct {
	typ    uint8
	header []byte
	body   []byte
}

// splitWireRecords cuts a stream into records; rest is an incomplete tail.
func splitWireRecords(b []byte) (recs []wireRecord, rest []byte) {
	for len(b) >= recordHeaderLen {
		n := int(binary.BigEndian.Uint16(b[3:5]))
		if len(b) < recordHeaderLen+n {
			break
		}
		recs = append(recs, wireRecord{b[0], b[:recordHeaderLen], b[recordHeaderLen : recordHeaderLen+n]})
		b = b[recordHeaderLen+n:]
	}
	return recs, b
}

// plainHandshakeMessages returns the handshake messages of the plaintext
// handshake records that come before the first protected record.
func plainHandshakeMessages(recs []wireRecord) [][]byte {
	var hs []byte
	for _, r := range recs {
		if r.typ == recordTypeApplicationData {
			break
		}
		if r.typ == recordTypeHandshake {
			hs = append(hs, r.body...)
		}
	}
	var msgs [][]byte
	for len(hs) >= 4 {
		n := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
		if len(hs) < 4+n {
			break
		}
		msgs = append(msgs, hs[:4+n])
		hs = hs[4+n:]
	}
	return msgs
}

// handshakeFrame prefixes a handshake body with its 4-byte header.
func handshakeFrame(typ uint8, body []byte) []byte {
	n := len(body)
	return append([]byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}

// handshakeRecords frames a handshake message as plaintext records of at
// most 2^14 bytes each.
func handshakeRecords(msg []byte) []byte {
	var out []byte
	for first := true; first || len(msg) > 0; first = false {
		m := min(len(msg), maxPlaintext)
		out = append(out, recordTypeHandshake, 3, 1, byte(m>>8), byte(m))
		out = append(out, msg[:m]...)
		msg = msg[m:]
	}
	return out
}

// handshakeWithWatchdog runs c's handshake on the calling goroutine (so that the
// fuzzing engine sees a panic) and fails the test if it does not return
// within 10 s. A panic is returned rather than propagated, with its stack.
func handshakeWithWatchdog(t *testing.T, c *Conn) (panicked any, stack []byte, err error) {
	t.Helper()
	watchdog := time.AfterFunc(10*time.Second, func() {
		panic("tlspake fuzz: the handshake did not return within 10 s")
	})
	defer watchdog.Stop()
	defer func() {
		if r := recover(); r != nil {
			panicked, stack = r, debug.Stack()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return nil, nil, c.HandshakeContext(ctx)
}

// panicSite returns the function and file:line where a recovered panic
// was raised, from debug.Stack output.
func panicSite(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "panic(") && i+3 < len(lines) {
			fn := lines[i+2]
			if j := strings.LastIndex(fn, "("); j > 0 {
				fn = fn[:j]
			}
			loc := strings.TrimSpace(lines[i+3])
			if j := strings.LastIndex(loc, " +0x"); j > 0 {
				loc = loc[:j]
			}
			return fn + " " + loc
		}
	}
	return "unknown"
}

// checkHandshakeOutcome runs the handshake of c, whose peer stream is in,
// and asserts that it neither panics nor hangs and that it fails.
func checkHandshakeOutcome(t *testing.T, c *Conn, in []byte) error {
	t.Helper()
	p, stack, err := handshakeWithWatchdog(t, c)
	if p != nil {
		t.Fatalf("handshake panicked: %v\n%s", p, stack)
	}
	if err == nil {
		t.Fatal("handshake succeeded on a stream that ends before the peer's Finished")
	}
	// A failed handshake is sticky, and the Conn is unusable.
	if err2 := c.Handshake(); err2 != err {
		t.Fatalf("second Handshake returned %v, want the first error %v", err2, err)
	}
	if _, werr := c.Write([]byte("x")); werr == nil {
		t.Fatal("Write succeeded after a failed handshake")
	}
	if _, rerr := c.Read(make([]byte, 1)); rerr == nil {
		t.Fatal("Read succeeded after a failed handshake")
	}
	return err
}

// clientFirstFlight returns what a client with cfg writes before it waits
// for the server: its ClientHello record.
func clientFirstFlight(tb testing.TB, cfg *Config) []byte {
	tb.Helper()
	sc := newFuzzStreamConn(nil, 0)
	if err := Client(sc, cfg).Handshake(); err == nil {
		tb.Fatal("client handshake against a silent peer succeeded")
	}
	out := sc.written()
	if len(out) == 0 {
		tb.Fatal("the client wrote nothing")
	}
	return out
}

// serverFlightFor returns what a server with cfg writes in answer to the
// client stream in (which then ends).
func serverFlightFor(tb testing.TB, cfg *Config, in []byte) []byte {
	tb.Helper()
	sc := newFuzzStreamConn(in, 0)
	if err := Server(sc, cfg).Handshake(); err == nil {
		tb.Fatal("server handshake without the client's Finished succeeded")
	}
	return sc.written()
}

// firstHandshakeMessage returns the first plaintext handshake message of
// a stream.
func firstHandshakeMessage(tb testing.TB, stream []byte) []byte {
	tb.Helper()
	recs, _ := splitWireRecords(stream)
	msgs := plainHandshakeMessages(recs)
	if len(msgs) == 0 {
		tb.Fatalf("no handshake message in %x", stream)
	}
	return msgs[0]
}

// seedConfigs are client configurations whose ClientHellos seed the
// targets.
func seedClientConfigs() []*Config {
	return []*Config{
		{Code: fuzzCode},
		{Code: fuzzCode, Groups: []CurveID{X25519MLKEM768, X25519}, NextProtos: []string{"h2", "tlspake/1"},
			ServerName: "device.local", ClientIdentity: []byte("phone"), ServerIdentity: []byte("thermostat")},
		{Code: fuzzCode, Groups: []CurveID{X25519, X25519MLKEM768}, CipherSuites: []uint16{TLS_CHACHA20_POLY1305_SHA256, TLS_AES_256_GCM_SHA384}},
	}
}

// seedClientHellos returns ClientHello messages (with headers): real ones
// from Client, one with an HRR cookie and one with PSK fields.
func seedClientHellos(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, cfg := range seedClientConfigs() {
		out = append(out, firstHandshakeMessage(tb, clientFirstFlight(tb, cfg)))
	}
	base, err := parseClientHello(out[0])
	if err != nil {
		tb.Fatal(err)
	}
	cookie := *base
	cookie.raw = nil
	cookie.cookie = bytes.Repeat([]byte{0xc0}, 48)
	cookie.keyShares = []keyShare{{X25519, bytes.Repeat([]byte{9}, 32)}}
	out = append(out, cookie.marshal())

	psk := *base
	psk.raw = nil
	psk.sessionID = bytes.Repeat([]byte{0x5e}, 32)
	psk.pskModes = []uint8{1}
	psk.pskIdentities = []pskIdentity{{bytes.Repeat([]byte{0x1d}, 16), 0}, {[]byte("second identity"), 77}}
	psk.pskBinders = [][]byte{bytes.Repeat([]byte{0xb1}, 32), bytes.Repeat([]byte{0xb2}, 48)}
	psk.hasPSK = true
	out = append(out, psk.marshal())
	return out
}

// seedServerHellos returns a ServerHello for X25519, one for
// X25519MLKEM768, a HelloRetryRequest (the third client offers
// X25519MLKEM768 without a share for it), and hand-made variants with
// cookie and pre_shared_key.
func seedServerHellos(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	cfgs := seedClientConfigs()
	server := &Config{Code: fuzzCode, Groups: []CurveID{X25519MLKEM768, X25519}, ServerIdentity: []byte("thermostat")}
	for _, c := range cfgs {
		out = append(out, firstHandshakeMessage(tb, serverFlightFor(tb, server, clientFirstFlight(tb, c))))
	}
	hrr, err := parseServerHello(out[2])
	if err != nil {
		tb.Fatal(err)
	}
	if !hrr.isHelloRetryRequest() {
		tb.Fatal("expected a HelloRetryRequest for a client with an X25519 share only")
	}
	withCookie := *hrr
	withCookie.raw = nil
	withCookie.cookie = []byte("a cookie from the server")
	out = append(out, withCookie.marshal())

	sh, err := parseServerHello(out[1])
	if err != nil {
		tb.Fatal(err)
	}
	pskSH := *sh
	pskSH.raw = nil
	pskSH.hasPSK = true
	pskSH.selectedIdentity = 1
	pskSH.sessionID = bytes.Repeat([]byte{0x5e}, 32)
	out = append(out, pskSH.marshal())
	return out
}

// sameClientHello compares the fields of two ClientHellos that marshal
// keeps (it drops unknown extensions, signature_algorithms and
// early_data).
func sameClientHello(a, b *clientHelloMsg) error {
	var diffs []string
	check := func(name string, eq bool) {
		if !eq {
			diffs = append(diffs, name)
		}
	}
	check("vers", a.vers == b.vers)
	check("random", bytes.Equal(a.random, b.random))
	check("sessionID", bytes.Equal(a.sessionID, b.sessionID))
	check("cipherSuites", slices.Equal(a.cipherSuites, b.cipherSuites))
	check("compressionMethods", bytes.Equal(a.compressionMethods, b.compressionMethods))
	check("serverName", a.serverName == b.serverName)
	check("hasSupportedGroups", a.hasSupportedGroups == b.hasSupportedGroups)
	check("supportedGroups", slices.Equal(a.supportedGroups, b.supportedGroups))
	check("alpnProtocols", slices.Equal(a.alpnProtocols, b.alpnProtocols))
	check("hasSupportedVersions", a.hasSupportedVersions == b.hasSupportedVersions)
	check("supportedVersions", slices.Equal(a.supportedVersions, b.supportedVersions))
	check("hasKeyShare", a.hasKeyShare == b.hasKeyShare)
	check("keyShares", slices.EqualFunc(a.keyShares, b.keyShares, func(x, y keyShare) bool {
		return x.group == y.group && bytes.Equal(x.data, y.data)
	}))
	check("hasPAKE", a.hasPAKE == b.hasPAKE)
	check("pake", bytes.Equal(a.pake, b.pake))
	check("cookie", bytes.Equal(a.cookie, b.cookie))
	check("pskModes", bytes.Equal(a.pskModes, b.pskModes))
	check("hasPSK", a.hasPSK == b.hasPSK)
	check("pskIdentities", slices.EqualFunc(a.pskIdentities, b.pskIdentities, func(x, y pskIdentity) bool {
		return bytes.Equal(x.identity, y.identity) && x.obfuscatedTicketAge == y.obfuscatedTicketAge
	}))
	check("pskBinders", slices.EqualFunc(a.pskBinders, b.pskBinders, bytes.Equal))
	check("bindersLen", a.bindersLen == b.bindersLen)
	if len(diffs) > 0 {
		return fmt.Errorf("fields differ: %s", strings.Join(diffs, ", "))
	}
	return nil
}

// checkParsedClientHello checks what a successful parse promises.
func checkParsedClientHello(t *testing.T, m *clientHelloMsg, msg []byte) {
	t.Helper()
	if !bytes.Equal(m.raw, msg) {
		t.Fatal("raw is not the parsed message")
	}
	if len(m.random) != 32 || len(m.sessionID) > 32 || len(m.cipherSuites) == 0 || len(m.compressionMethods) == 0 {
		t.Fatalf("parsed fields out of range: random %d, session id %d, suites %d, compression %d",
			len(m.random), len(m.sessionID), len(m.cipherSuites), len(m.compressionMethods))
	}
	if m.hasSupportedGroups && len(m.supportedGroups) == 0 {
		t.Fatal("supported_groups parsed with no group")
	}
	if m.hasSupportedVersions && len(m.supportedVersions) == 0 {
		t.Fatal("supported_versions parsed with no version")
	}
	for _, ks := range m.keyShares {
		if len(ks.data) == 0 {
			t.Fatal("empty key_exchange accepted")
		}
	}
	if m.hasPSK {
		if len(m.pskIdentities) == 0 || len(m.pskIdentities) != len(m.pskBinders) {
			t.Fatalf("%d PSK identities with %d binders", len(m.pskIdentities), len(m.pskBinders))
		}
		// The binder hash covers raw minus its last bindersLen bytes,
		// which must be exactly the binders list.
		if m.bindersLen < 2 || m.bindersLen > len(m.raw) {
			t.Fatalf("bindersLen %d out of range", m.bindersLen)
		}
		tail := m.raw[len(m.raw)-m.bindersLen:]
		if int(binary.BigEndian.Uint16(tail)) != len(tail)-2 {
			t.Fatalf("the last %d bytes of the ClientHello are not the binders list", m.bindersLen)
		}
		for _, b := range m.pskBinders {
			if len(b) < 32 {
				t.Fatalf("binder of %d bytes accepted", len(b))
			}
		}
	}
}

func FuzzParseClientHello(f *testing.F) {
	for _, msg := range seedClientHellos(f) {
		f.Add(msg[4:])
	}
	f.Add([]byte{})
	f.Add([]byte{3, 3})
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 1<<16 {
			return
		}
		msg := handshakeFrame(typeClientHello, body)
		m, err := parseClientHello(msg)
		if err != nil {
			checkParseError(t, err)
			return
		}
		checkParsedClientHello(t, m, msg)

		re := *m
		re.raw = nil
		out := re.marshal()
		m2, err := parseClientHello(out)
		if err != nil {
			t.Fatalf("re-marshalled ClientHello does not parse: %v\n%x", err, out)
		}
		checkParsedClientHello(t, m2, out)
		if err := sameClientHello(m, m2); err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		// marshal is canonical: a second round trip is a fixed point.
		re2 := *m2
		re2.raw = nil
		if out2 := re2.marshal(); !bytes.Equal(out, out2) {
			t.Fatalf("marshal(parse(marshal(m))) != marshal(m)\n%x\n%x", out, out2)
		}
	})
}

// sameServerHello compares the fields of two ServerHellos that marshal
// keeps.
func sameServerHello(a, b *serverHelloMsg) error {
	var diffs []string
	check := func(name string, eq bool) {
		if !eq {
			diffs = append(diffs, name)
		}
	}
	check("vers", a.vers == b.vers)
	check("random", bytes.Equal(a.random, b.random))
	check("sessionID", bytes.Equal(a.sessionID, b.sessionID))
	check("cipherSuite", a.cipherSuite == b.cipherSuite)
	check("compressionMethod", a.compressionMethod == b.compressionMethod)
	check("supportedVersion", a.supportedVersion == b.supportedVersion)
	check("hasPAKE", a.hasPAKE == b.hasPAKE)
	check("pake", bytes.Equal(a.pake, b.pake))
	check("hasPSK", a.hasPSK == b.hasPSK)
	check("selectedIdentity", a.selectedIdentity == b.selectedIdentity)
	if a.isHelloRetryRequest() {
		// marshal writes key_share only for a non-zero group.
		check("selectedGroup", a.selectedGroup == b.selectedGroup)
		check("cookie", bytes.Equal(a.cookie, b.cookie))
	} else if a.serverShare.group != 0 {
		check("serverShare", a.serverShare.group == b.serverShare.group && bytes.Equal(a.serverShare.data, b.serverShare.data))
	}
	check("isHelloRetryRequest", a.isHelloRetryRequest() == b.isHelloRetryRequest())
	if len(diffs) > 0 {
		return fmt.Errorf("fields differ: %s", strings.Join(diffs, ", "))
	}
	return nil
}

func FuzzParseServerHello(f *testing.F) {
	for _, msg := range seedServerHellos(f) {
		f.Add(msg[4:])
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 1<<16 {
			return
		}
		msg := handshakeFrame(typeServerHello, body)
		m, err := parseServerHello(msg)
		if err != nil {
			checkParseError(t, err)
			return
		}
		if !bytes.Equal(m.raw, msg) || len(m.random) != 32 || len(m.sessionID) > 32 {
			t.Fatal("parsed ServerHello fields out of range")
		}
		for i, e := range m.extensions {
			if slices.Contains(m.extensions[:i], e) {
				t.Fatalf("extension %d recorded twice", e)
			}
		}
		if m.has(extKeyShare) && !m.isHelloRetryRequest() && len(m.serverShare.data) == 0 {
			t.Fatal("empty server key share accepted")
		}
		re := *m
		re.raw = nil
		out := re.marshal()
		m2, err := parseServerHello(out)
		if err != nil {
			t.Fatalf("re-marshalled ServerHello does not parse: %v\n%x", err, out)
		}
		if err := sameServerHello(m, m2); err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		re2 := *m2
		re2.raw = nil
		if out2 := re2.marshal(); !bytes.Equal(out, out2) {
			t.Fatalf("marshal(parse(marshal(m))) != marshal(m)\n%x\n%x", out, out2)
		}
	})
}

func FuzzPAKEExtension(f *testing.F) {
	for _, msg := range seedClientHellos(f) {
		if m, err := parseClientHello(msg); err == nil && m.hasPAKE {
			f.Add(m.pake)
		}
	}
	for _, msg := range seedServerHellos(f) {
		if m, err := parseServerHello(msg); err == nil && m.hasPAKE {
			f.Add(m.pake)
		}
	}
	share := bytes.Repeat([]byte{0x42}, 32)
	f.Add((&pakeClientHello{
		clientIdentity: []byte("client"),
		serverIdentity: []byte("server"),
		shares:         []pakeShare{{PAKECPaceX25519SHA512, share}, {PAKESPAKE2PlusV1, []byte{1, 2, 3}}},
	}).marshal())
	f.Add((&pakeClientHello{shares: []pakeShare{{PAKESPAKE2PlusV1, share}, {PAKECPaceX25519SHA512, share}}}).marshal()) // unsorted
	f.Add((&pakeClientHello{shares: []pakeShare{{PAKECPaceX25519SHA512, share}, {PAKECPaceX25519SHA512, share}}}).marshal())
	f.Add([]byte{0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x43, 0x50, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<17 {
			return
		}
		if p, err := parsePAKEClientHello(data); err == nil {
			for i, s := range p.shares {
				if len(s.message) == 0 {
					t.Fatalf("share %d has an empty message", i)
				}
				if i > 0 && s.scheme <= p.shares[i-1].scheme {
					t.Fatalf("shares not strictly increasing: %v then %v", p.shares[i-1].scheme, s.scheme)
				}
			}
			if out := p.marshal(); !bytes.Equal(out, data) {
				t.Fatalf("PAKEClientHello encoding is not canonical:\n in %x\nout %x", data, out)
			}
		} else {
			var ae *AlertError
			if !errors.As(err, &ae) || (ae.Alert != AlertDecodeError && ae.Alert != AlertIllegalParameter) {
				t.Fatalf("PAKEClientHello error %v is not decode_error or illegal_parameter", err)
			}
		}
		if p, err := parsePAKEServerHello(data); err == nil {
			if len(p.share.message) == 0 {
				t.Fatal("PAKEServerHello with an empty message")
			}
			if out := p.marshal(); !bytes.Equal(out, data) {
				t.Fatalf("PAKEServerHello encoding is not canonical:\n in %x\nout %x", data, out)
			}
		} else {
			var ae *AlertError
			if !errors.As(err, &ae) || ae.Alert != AlertDecodeError {
				t.Fatalf("PAKEServerHello error %v is not decode_error", err)
			}
		}
	})
}

// fuzzServerConfig is the server the record and handshake targets attack.
// pq selects X25519MLKEM768 as its preferred group (so X25519-only
// clients get a HelloRetryRequest).
func fuzzServerConfig(pq bool) *Config {
	groups := []CurveID{X25519, X25519MLKEM768}
	if pq {
		groups = []CurveID{X25519MLKEM768, X25519}
	}
	return &Config{
		Code:             fuzzCode,
		ServerIdentity:   []byte("thermostat"),
		Groups:           groups,
		NextProtos:       []string{"tlspake/1", "h2"},
		HandshakeTimeout: 2 * time.Second,
	}
}

func FuzzRecordReader(f *testing.F) {
	// Server side: real first flights, a flight split in many records, a
	// flight preceded by a compatibility change_cipher_spec, garbage.
	var flights [][]byte
	for _, cfg := range seedClientConfigs() {
		flights = append(flights, clientFirstFlight(f, cfg))
	}
	for _, fl := range flights {
		f.Add(fl, uint16(0), false)
		f.Add(fl, uint16(7), false)
	}
	msg := firstHandshakeMessage(f, flights[0])
	var split []byte
	for len(msg) > 0 {
		n := min(len(msg), 50)
		split = append(split, recordTypeHandshake, 3, 3, 0, byte(n))
		split = append(split, msg[:n]...)
		msg = msg[n:]
	}
	f.Add(split, uint16(0), false)
	f.Add(append([]byte{recordTypeChangeCipherSpec, 3, 3, 0, 1, 1}, flights[0]...), uint16(0), false)
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), uint16(0), false)
	f.Add([]byte{recordTypeHandshake, 3, 1, 0, 0}, uint16(0), false)
	f.Add([]byte{recordTypeHandshake, 3, 1, 0x40, 0x01}, uint16(0), false)
	f.Add([]byte{recordTypeHandshake, 3, 1, 0, 4, typeClientHello, 0xff, 0xff, 0xff}, uint16(0), false)
	f.Add([]byte{recordTypeHandshake, 3, 1, 0, 4, typeFinished, 0, 0, 0}, uint16(0), false)
	f.Add([]byte{recordTypeHandshake, 3, 1, 0, 1, 1, recordTypeAlert, 3, 3, 0, 2, 2, 40}, uint16(0), false)
	// Crashers found by fuzzing, kept as regression seeds.
	f.Add([]byte{recordTypeHandshake, 3, 1, 0, 1, 1, recordTypeAlert, 3, 3, 0, 2, 1, byte(AlertUserCanceled)}, uint16(0), false)
	f.Add([]byte{recordTypeHandshake, 3, 3, 0, 1, 2, recordTypeAlert, 3, 3, 0, 2, 1, byte(AlertUserCanceled)}, uint16(0), true)

	// Client side: real server flights (a ServerHello for someone else's
	// ClientHello, and a HelloRetryRequest), and alerts.
	for _, pq := range []bool{false, true} {
		sf := serverFlightFor(f, fuzzServerConfig(pq), flights[0])
		f.Add(sf, uint16(0), true)
		f.Add(sf, uint16(3), true)
	}
	f.Add([]byte{recordTypeAlert, 3, 3, 0, 2, 2, byte(AlertHandshakeFailure)}, uint16(0), true)
	f.Add([]byte{recordTypeHandshake, 3, 3, 0, 4, typeServerHello, 0, 0, 0}, uint16(0), true)

	f.Fuzz(func(t *testing.T, stream []byte, chunk uint16, asClient bool) {
		if len(stream) > 1<<18 {
			return
		}
		sc := newFuzzStreamConn(stream, int(chunk))
		var c *Conn
		if asClient {
			c = Client(sc, &Config{Code: fuzzCode, Groups: []CurveID{X25519, X25519MLKEM768},
				NextProtos: []string{"tlspake/1"}, HandshakeTimeout: 2 * time.Second})
		} else {
			c = Server(sc, fuzzServerConfig(chunk%2 == 1))
		}
		checkHandshakeOutcome(t, c, stream)
	})
}

// FuzzServerFirstFlight mutates a real client's first flight: it
// overwrites bytes at pos with patch and truncates the last trunc bytes.
func FuzzServerFirstFlight(f *testing.F) {
	var flights [][]byte
	for _, cfg := range seedClientConfigs() {
		flights = append(flights, clientFirstFlight(f, cfg))
	}
	f.Add(uint8(0), uint16(0), []byte{}, uint16(0))
	f.Add(uint8(1), uint16(0), []byte{}, uint16(0))
	f.Add(uint8(2), uint16(0), []byte{}, uint16(0))
	f.Add(uint8(0), uint16(9), []byte{0x03, 0x04}, uint16(0))
	f.Add(uint8(1), uint16(100), []byte{0xff, 0xff}, uint16(1))
	f.Add(uint8(0), uint16(0), []byte{}, uint16(40))
	f.Fuzz(func(t *testing.T, which uint8, pos uint16, patch []byte, trunc uint16) {
		in := slices.Clone(flights[int(which)%len(flights)])
		if p := int(pos) % len(in); len(patch) > 0 {
			in = append(in[:p], append(slices.Clone(patch), in[min(len(in), p+len(patch)):]...)...)
		}
		in = in[:len(in)-int(trunc)%len(in)]
		sc := newFuzzStreamConn(in, 0)
		checkHandshakeOutcome(t, Server(sc, fuzzServerConfig(which&0x80 != 0)), in)
	})
}

// FuzzServerHandshake feeds one ClientHello body to a real server and
// checks its answer: when the server answers with a ServerHello or
// HelloRetryRequest, the ClientHello must have been acceptable and the
// answer consistent with it; when it answers with an alert, the alert is
// the one its error reports.
func FuzzServerHandshake(f *testing.F) {
	for _, msg := range seedClientHellos(f) {
		f.Add(msg[4:], false)
		f.Add(msg[4:], true)
	}
	f.Fuzz(func(t *testing.T, body []byte, pq bool) {
		if len(body) > 1<<16 {
			return
		}
		msg := handshakeFrame(typeClientHello, body)
		in := handshakeRecords(msg)
		sc := newFuzzStreamConn(in, 0)
		cfg := fuzzServerConfig(pq)
		err := checkHandshakeOutcome(t, Server(sc, cfg), in)
		recs, rest := splitWireRecords(sc.written())
		if len(rest) != 0 {
			t.Fatalf("the server wrote a partial record: %x", rest)
		}
		if len(recs) == 0 {
			t.Fatalf("the server wrote nothing; error %v", err)
		}
		first := recs[0]
		switch first.typ {
		case recordTypeAlert:
			var ae *AlertError
			if !errors.As(err, &ae) || ae.Received {
				t.Fatalf("the server sent an alert but its error is %v", err)
			}
			if len(first.body) != 2 || first.body[0] != 2 || Alert(first.body[1]) != ae.Alert {
				t.Fatalf("alert record %x does not match the error %v", first.body, err)
			}
			if len(recs) != 1 {
				t.Fatalf("%d records after a fatal alert", len(recs)-1)
			}
			return
		case recordTypeHandshake:
		default:
			t.Fatalf("the server's first record has type %d", first.typ)
		}

		hello, perr := parseClientHello(msg)
		if perr != nil {
			t.Fatalf("the server answered a ClientHello that does not parse (%v)", perr)
		}
		if !hello.hasPAKE || !hello.hasKeyShare || !hello.hasSupportedGroups ||
			!slices.Contains(hello.supportedVersions, VersionTLS13) || !bytes.Equal(hello.compressionMethods, []byte{0}) {
			t.Fatal("the server answered a ClientHello that lacks pake, key_share, supported_groups or TLS 1.3, or offers compression")
		}
		if _, perr := parsePAKEClientHello(hello.pake); perr != nil {
			t.Fatalf("the server answered a ClientHello with a malformed pake extension (%v)", perr)
		}
		msgs := plainHandshakeMessages(recs)
		if len(msgs) == 0 || msgs[0][0] != typeServerHello {
			t.Fatal("the server's first handshake message is not a ServerHello")
		}
		sh, perr := parseServerHello(msgs[0])
		if perr != nil {
			t.Fatalf("the server's ServerHello does not parse: %v", perr)
		}
		if sh.vers != 0x0303 || sh.supportedVersion != VersionTLS13 || sh.compressionMethod != 0 {
			t.Fatalf("ServerHello versions/compression: %x %x %d", sh.vers, sh.supportedVersion, sh.compressionMethod)
		}
		if !bytes.Equal(sh.sessionID, hello.sessionID) {
			t.Fatal("the server did not echo legacy_session_id")
		}
		if !slices.Contains(hello.cipherSuites, sh.cipherSuite) || cipherSuiteByID(sh.cipherSuite) == nil {
			t.Fatalf("the server selected suite %04x, which was not offered or is not TLS 1.3", sh.cipherSuite)
		}
		hasShare := func(g CurveID) bool {
			return slices.ContainsFunc(hello.keyShares, func(ks keyShare) bool { return ks.group == g })
		}
		if sh.isHelloRetryRequest() {
			if sh.hasPAKE {
				t.Fatal("a HelloRetryRequest carries pake")
			}
			g := sh.selectedGroup
			if !slices.Contains(hello.supportedGroups, g) || !slices.Contains(cfg.Groups, g) || hasShare(g) {
				t.Fatalf("HelloRetryRequest for group %v (client groups %v, client has a share: %v)", g, hello.supportedGroups, hasShare(g))
			}
			return
		}
		g := sh.serverShare.group
		if !slices.Contains(hello.supportedGroups, g) || !slices.Contains(cfg.Groups, g) || !hasShare(g) {
			t.Fatalf("ServerHello for group %v (client groups %v, client has a share: %v)", g, hello.supportedGroups, hasShare(g))
		}
		if !sh.hasPAKE {
			t.Fatal("the ServerHello has no pake extension")
		}
		ph, perr := parsePAKEServerHello(sh.pake)
		if perr != nil || ph.share.scheme != PAKECPaceX25519SHA512 || len(ph.share.message) != 32 {
			t.Fatalf("the ServerHello's pake extension is wrong: %v %x", perr, sh.pake)
		}
		// Everything after the ServerHello (and a compatibility CCS) is
		// protected.
		for _, r := range recs[1:] {
			if r.typ != recordTypeApplicationData && r.typ != recordTypeChangeCipherSpec {
				t.Fatalf("unprotected record of type %d after the ServerHello", r.typ)
			}
		}
	})
}

// TestUserCanceledDuringHandshake: RFC 8446 6.1 makes user_canceled a
// warning-level alert that is usually followed by close_notify; a peer
// that sends it during the handshake must not crash the handshake.
func TestUserCanceledDuringHandshake(t *testing.T) {
	streams := map[string]struct {
		stream   []byte
		asClient bool
	}{
		"server, after a partial ClientHello": {
			[]byte{recordTypeHandshake, 3, 1, 0, 1, typeClientHello, recordTypeAlert, 3, 3, 0, 2, 1, byte(AlertUserCanceled)}, false},
		"server, after the first bytes of a real ClientHello": {
			append(handshakeRecords(firstHandshakeMessage(t, clientFirstFlight(t, &Config{Code: fuzzCode}))[:10]),
				recordTypeAlert, 3, 3, 0, 2, 1, byte(AlertUserCanceled)), false},
		"server, as the first record": {
			[]byte{recordTypeAlert, 3, 3, 0, 2, 1, byte(AlertUserCanceled)}, false},
		"client, as the first record": {
			[]byte{recordTypeAlert, 3, 3, 0, 2, 1, byte(AlertUserCanceled)}, true},
		"client, instead of the ServerHello": {
			[]byte{recordTypeHandshake, 3, 3, 0, 1, typeServerHello, recordTypeAlert, 3, 3, 0, 2, 1, byte(AlertUserCanceled)}, true},
	}
	for name, tc := range streams {
		t.Run(name, func(t *testing.T) {
			var c *Conn
			if tc.asClient {
				c = Client(newFuzzStreamConn(tc.stream, 0), &Config{Code: fuzzCode, HandshakeTimeout: time.Second})
			} else {
				c = Server(newFuzzStreamConn(tc.stream, 0), fuzzServerConfig(false))
			}
			p, stack, err := handshakeWithWatchdog(t, c)
			if p != nil {
				t.Fatalf("panic: %v (at %s)", p, panicSite(stack))
			}
			if err == nil {
				t.Fatal("handshake succeeded")
			}
		})
	}
}

// checkParseError fails unless err is the decode_error or
// illegal_parameter alert a parser must report.
func checkParseError(t *testing.T, err error) {
	t.Helper()
	var ae *AlertError
	if !errors.As(err, &ae) || (ae.Alert != AlertDecodeError && ae.Alert != AlertIllegalParameter) {
		t.Fatalf("parse error %v is not a decode_error or illegal_parameter alert", err)
	}
}
