package tlspake

// Negative tests: one per alert condition of PROFILE.md's "Alerts" table
// and of RFC 8446's own rules.
//
// Three harnesses drive our Conn into each condition:
//
//   - alClient, a raw client against our Server. It builds the ClientHello
//     our client would send (clientHelloMsg), mutates it (fields or bytes),
//     writes it as a plaintext record and reads the server's answer. With
//     runToFinished it also runs the key schedule itself, so it can send
//     protected records (a Finished that does not verify, oversized
//     records, ...) and decrypt the alert the server then sends.
//   - alServer, a raw server against our Client. It parses the client's
//     ClientHello, answers with a crafted HelloRetryRequest or ServerHello
//     and, knowing the code, can derive the handshake keys and send a
//     crafted protected flight; it decrypts the client's alert.
//   - alRelay, a man in the middle between our real Client and real
//     Server that rewrites chosen records in flight.
//
// Each case asserts the exact alert the failing side sends (its error is
// an *AlertError with Received false) and that the other side sees the same
// alert: on the wire for the raw harnesses, as an *AlertError with Received
// true for our real peers.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlspake/pake/tlspake/cpace"
)

// alTimeout bounds every handshake in this file; connections get twice that
// as a hard deadline.
const alTimeout = 5 * time.Second

var (
	alCode      = []byte("7Q4MZ2R9CX")
	alClientID  = []byte("app")
	alServerID  = []byte("dev")
	alCertEmpty = []byte{typeCertificate, 0, 0, 4, 0, 0, 0, 0} // empty context, empty list
)

// alLowOrder are the u-coordinates of draft-irtf-cfrg-cpace-21, "Test
// vectors for G_X25519.scalar_mult_vfy: low order points", that MUST make
// either party abort (u0, u1, u2, u3, u4, u5 and u7).
var alLowOrder = []struct{ name, hex string }{
	{"u0", "0000000000000000000000000000000000000000000000000000000000000000"},
	{"u1", "0100000000000000000000000000000000000000000000000000000000000000"},
	{"u2", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
	{"u3", "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"},
	{"u4", "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"},
	{"u5", "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
	{"u7", "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
}

func alHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func alServerConfig() *Config {
	return &Config{Code: alCode, ServerIdentity: alServerID, HandshakeTimeout: alTimeout}
}

func alClientConfig() *Config {
	return &Config{Code: alCode, ClientIdentity: alClientID, ServerIdentity: alServerID, HandshakeTimeout: alTimeout}
}

// alPair returns the two ends of a loopback TCP connection (kernel-buffered,
// so neither side blocks on a write the other does not read), with a hard
// deadline, closed when the test ends.
func alPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	a, err := net.DialTimeout("tcp", ln.Addr().String(), alTimeout)
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		a.Close()
		t.Fatal(r.err)
	}
	b := r.c
	dl := time.Now().Add(2 * alTimeout)
	a.SetDeadline(dl)
	b.SetDeadline(dl)
	t.Cleanup(func() {
		a.Close()
		b.Close()
	})
	return a, b
}

// alHandshake runs c's handshake in a goroutine.
func alHandshake(c *Conn) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- c.Handshake() }()
	return ch
}

// alWait returns the result of alHandshake (or any other error channel).
func alWait(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(3 * alTimeout):
		t.Fatal("no result in time")
		return nil
	}
}

// alWantAlert checks that err is (or wraps) the alert want, sent by this
// side (received false) or received from the peer (received true).
func alWantAlert(t *testing.T, side string, err error, want Alert, received bool) *AlertError {
	t.Helper()
	var ae *AlertError
	if !errors.As(err, &ae) {
		t.Errorf("%s: error %v, want alert %v (received=%v)", side, err, want, received)
		return nil
	}
	if ae.Alert != want || ae.Received != received {
		t.Errorf("%s: alert %v (received=%v), want %v (received=%v); error: %v", side, ae.Alert, ae.Received, want, received, err)
		return nil
	}
	return ae
}

func alRecord(typ uint8, vers uint16, body []byte) []byte {
	b := []byte{typ, byte(vers >> 8), byte(vers), byte(len(body) >> 8), byte(len(body))}
	return append(b, body...)
}

// alSetLen fixes the 24-bit length of a handshake message.
func alSetLen(msg []byte) []byte {
	n := len(msg) - 4
	msg[1], msg[2], msg[3] = byte(n>>16), byte(n>>8), byte(n)
	return msg
}

type alExt struct {
	typ  uint16
	body []byte
}

// alSplitExts splits a ClientHello or ServerHello message into the bytes
// before its extensions block and the extensions.
func alSplitExts(msg []byte) ([]byte, []alExt) {
	off := 4 + 2 + 32
	off += 1 + int(msg[off]) // legacy_session_id
	if msg[0] == typeClientHello {
		off += 2 + int(binary.BigEndian.Uint16(msg[off:])) // cipher_suites
		off += 1 + int(msg[off])                           // compression_methods
	} else {
		off += 2 + 1 // cipher_suite, compression_method
	}
	head := append([]byte(nil), msg[:off]...)
	rest := msg[off+2:]
	var exts []alExt
	for len(rest) > 0 {
		typ := binary.BigEndian.Uint16(rest)
		n := int(binary.BigEndian.Uint16(rest[2:]))
		exts = append(exts, alExt{typ, append([]byte(nil), rest[4:4+n]...)})
		rest = rest[4+n:]
	}
	return head, exts
}

func alJoinExts(head []byte, exts []alExt) []byte {
	var block []byte
	for _, e := range exts {
		block = binary.BigEndian.AppendUint16(block, e.typ)
		block = binary.BigEndian.AppendUint16(block, uint16(len(e.body)))
		block = append(block, e.body...)
	}
	msg := append(append([]byte(nil), head...), byte(len(block)>>8), byte(len(block)))
	return alSetLen(append(msg, block...))
}

// alEditExts rewrites the extensions of a hello message.
func alEditExts(msg []byte, edit func([]alExt) []alExt) []byte {
	head, exts := alSplitExts(msg)
	return alJoinExts(head, edit(exts))
}

func alExtIndex(exts []alExt, typ uint16) int {
	for i, e := range exts {
		if e.typ == typ {
			return i
		}
	}
	return -1
}

// alPeer is the record layer of a raw peer: plaintext records, and
// protected ones once keys are installed in in/out.
type alPeer struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	in   halfConn
	out  halfConn
	hand []byte
}

func alNewPeer(t *testing.T, conn net.Conn) *alPeer {
	return &alPeer{t: t, conn: conn, r: bufio.NewReader(conn)}
}

func (p *alPeer) write(b []byte) {
	p.t.Helper()
	if _, err := p.conn.Write(b); err != nil {
		p.t.Fatalf("raw peer: write: %v", err)
	}
}

func (p *alPeer) writePlain(typ uint8, body []byte) {
	p.t.Helper()
	p.write(alRecord(typ, 0x0303, body))
}

// seal returns data protected as one record of inner type typ under p.out.
func (p *alPeer) seal(typ uint8, data []byte) []byte {
	inner := append(append([]byte(nil), data...), typ)
	n := len(inner) + p.out.aead.Overhead()
	hdr := []byte{recordTypeApplicationData, 3, 3, byte(n >> 8), byte(n)}
	rec := p.out.aead.Seal(append(make([]byte, 0, 5+n), hdr...), p.out.nonce(), inner, hdr)
	p.out.seq++
	return rec
}

// writeHandshake writes a handshake message, protected if keys are set.
func (p *alPeer) writeHandshake(msg []byte) {
	p.t.Helper()
	if p.out.aead != nil {
		p.write(p.seal(recordTypeHandshake, msg))
		return
	}
	p.writePlain(recordTypeHandshake, msg)
}

func (p *alPeer) setKeys(suite *cipherSuite, read, write []byte) {
	p.t.Helper()
	if read != nil {
		if err := p.in.setTrafficSecret(suite, append([]byte(nil), read...)); err != nil {
			p.t.Fatal(err)
		}
	}
	if write != nil {
		if err := p.out.setTrafficSecret(suite, append([]byte(nil), write...)); err != nil {
			p.t.Fatal(err)
		}
	}
}

// next returns the next record's content type and content, decrypted under
// p.in when it has keys. Compatibility change_cipher_spec records are
// skipped.
func (p *alPeer) next() (uint8, []byte, error) {
	for {
		hdr := make([]byte, recordHeaderLen)
		if _, err := io.ReadFull(p.r, hdr); err != nil {
			return 0, nil, err
		}
		body := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
		if _, err := io.ReadFull(p.r, body); err != nil {
			return 0, nil, err
		}
		switch {
		case hdr[0] == recordTypeChangeCipherSpec && bytes.Equal(body, []byte{1}):
			continue
		case hdr[0] == recordTypeApplicationData && p.in.aead != nil:
			plain, err := p.in.aead.Open(nil, p.in.nonce(), body, hdr)
			if err != nil {
				return 0, nil, fmt.Errorf("raw peer: cannot decrypt record %d from our Conn: %w", p.in.seq, err)
			}
			p.in.seq++
			i := len(plain) - 1
			for i >= 0 && plain[i] == 0 {
				i--
			}
			if i < 0 {
				return 0, nil, errors.New("raw peer: protected record without content type")
			}
			return plain[i], plain[:i], nil
		default:
			return hdr[0], body, nil
		}
	}
}

// readMsg returns the next handshake message; an alert is returned as an
// *AlertError with Received set.
func (p *alPeer) readMsg() ([]byte, error) {
	for {
		if len(p.hand) >= 4 {
			n := int(p.hand[1])<<16 | int(p.hand[2])<<8 | int(p.hand[3])
			if len(p.hand) >= 4+n {
				msg := append([]byte(nil), p.hand[:4+n]...)
				p.hand = p.hand[4+n:]
				return msg, nil
			}
		}
		typ, data, err := p.next()
		if err != nil {
			return nil, err
		}
		switch typ {
		case recordTypeHandshake:
			p.hand = append(p.hand, data...)
		case recordTypeAlert:
			if len(data) != 2 {
				return nil, fmt.Errorf("raw peer: malformed alert %x", data)
			}
			return nil, &AlertError{Alert: Alert(data[1]), Received: true}
		default:
			return nil, fmt.Errorf("raw peer: unexpected record of type %d", typ)
		}
	}
}

func (p *alPeer) mustMsg(typ uint8) []byte {
	p.t.Helper()
	msg, err := p.readMsg()
	if err != nil {
		p.t.Fatalf("raw peer: waiting for handshake message %d: %v", typ, err)
	}
	if msg[0] != typ {
		p.t.Fatalf("raw peer: got handshake message %d, want %d", msg[0], typ)
	}
	return msg
}

// expectAlert reads the next record and checks that it is the fatal alert
// want (plaintext, or protected under p.in).
func (p *alPeer) expectAlert(want Alert) {
	p.t.Helper()
	typ, data, err := p.next()
	if err != nil {
		p.t.Fatalf("raw peer: waiting for alert %v: %v", want, err)
	}
	if typ != recordTypeAlert {
		p.t.Fatalf("raw peer: got a record of type %d (%x...), want alert %v", typ, data[:min(len(data), 8)], want)
	}
	if len(data) != 2 || data[0] != 2 || Alert(data[1]) != want {
		p.t.Fatalf("raw peer: got alert record %x, want fatal %v (02%02x)", data, want, uint8(want))
	}
}

// alClient is a raw client against our Server.
type alClient struct {
	*alPeer
	hello *clientHelloMsg
	kx    keyExchange
	pake  *cpace.Initiator
	ya    []byte

	// Set by runToFinished.
	suite *cipherSuite
	tr    transcript
	cHS   []byte
}

// alDialServer starts our Server with scfg on one end of a connection and
// returns a raw client on the other end, holding the ClientHello our client
// would send for alClientConfig.
func alDialServer(t *testing.T, scfg *Config) (*alClient, <-chan error) {
	t.Helper()
	a, b := alPair(t)
	errc := alHandshake(Server(b, scfg))
	c := &alClient{alPeer: alNewPeer(t, a)}
	var err error
	c.kx, err = newClientKeyExchange(X25519, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c.hello = &clientHelloMsg{
		vers:                 0x0303,
		random:               make([]byte, 32),
		cipherSuites:         []uint16{TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256, TLS_AES_256_GCM_SHA384},
		compressionMethods:   []uint8{0},
		hasSupportedGroups:   true,
		supportedGroups:      []CurveID{X25519},
		hasSupportedVersions: true,
		supportedVersions:    []uint16{VersionTLS13},
		hasKeyShare:          true,
		keyShares:            []keyShare{{X25519, c.kx.share()}},
		hasPAKE:              true,
	}
	rand.Read(c.hello.random)
	c.pake, err = cpace.NewInitiator(&cpace.Inputs{
		PRS: alCode,
		CI:  pakeContext(alClientID, alServerID),
		SID: c.hello.random,
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.ya = c.pake.Message()
	c.setPAKE(alClientID, alServerID, pakeShare{PAKECPaceX25519SHA512, c.ya})
	return c, errc
}

// setPAKE replaces the hello's pake extension.
func (c *alClient) setPAKE(cid, sid []byte, shares ...pakeShare) {
	c.hello.pake = (&pakeClientHello{clientIdentity: cid, serverIdentity: sid, shares: shares}).marshal()
}

// marshal encodes the (possibly modified) hello.
func (c *alClient) marshal() []byte {
	c.hello.raw = nil
	return c.hello.marshal()
}

// sendHello writes a ClientHello message as the first record.
func (c *alClient) sendHello(msg []byte) {
	c.t.Helper()
	c.write(alRecord(recordTypeHandshake, 0x0301, msg))
}

// runToFinished sends the unmodified ClientHello, reads and checks the
// server's flight with its own key schedule, and leaves the raw client
// ready to send its Finished: write keys are the client handshake traffic
// keys, read keys the server application traffic keys (under which our
// server protects any alert it sends from then on).
func (c *alClient) runToFinished() {
	t := c.t
	t.Helper()
	c.sendHello(c.marshal())
	msg := c.mustMsg(typeServerHello)
	sh, err := parseServerHello(msg)
	if err != nil || sh.isHelloRetryRequest() {
		t.Fatalf("raw client: bad ServerHello (%v)", err)
	}
	c.suite = cipherSuiteByID(sh.cipherSuite)
	h := c.suite.hash
	c.tr.start(c.suite, false)
	c.tr.add(c.hello.raw)
	c.tr.add(msg)
	ph, err := parsePAKEServerHello(sh.pake)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.pake.Finish(ph.share.message, nil)
	if err != nil {
		t.Fatal(err)
	}
	ecdhe, err := c.kx.clientSharedSecret(sh.serverShare.data)
	if err != nil {
		t.Fatal(err)
	}
	hsSecret := handshakeSecret(h, earlySecret(h, nil), append(res.ISK, ecdhe...))
	c.cHS = deriveSecret(h, hsSecret, labelClientHandshake, c.tr.h)
	sHS := deriveSecret(h, hsSecret, labelServerHandshake, c.tr.h)
	c.setKeys(c.suite, sHS, c.cHS)
	c.tr.add(c.mustMsg(typeEncryptedExtensions))
	fin := c.mustMsg(typeFinished)
	if !bytes.Equal(fin[4:], finishedVerifyData(h, sHS, c.tr.h)) {
		t.Fatal("raw client: the server's Finished does not verify (harness bug)")
	}
	c.tr.add(fin)
	sAP := deriveSecret(h, masterSecret(h, hsSecret), labelServerApplication, c.tr.h)
	c.setKeys(c.suite, sAP, nil)
}

// finished returns the client Finished that verifies.
func (c *alClient) finished() []byte {
	return marshalFinished(finishedVerifyData(c.suite.hash, c.cHS, c.tr.h))
}

// alServer is a raw server against our Client.
type alServer struct {
	*alPeer
	code  []byte
	ch    *clientHelloMsg
	suite *cipherSuite
	tr    transcript
	cHS   []byte
	sHS   []byte
}

// alDialClient starts our Client with ccfg on one end of a connection and
// returns a raw server on the other end.
func alDialClient(t *testing.T, ccfg *Config) (*alServer, <-chan error) {
	t.Helper()
	a, b := alPair(t)
	errc := alHandshake(Client(a, ccfg))
	return &alServer{alPeer: alNewPeer(t, b), code: ccfg.Code}, errc
}

// readHello reads and parses a ClientHello.
func (s *alServer) readHello() *clientHelloMsg {
	s.t.Helper()
	ch, err := parseClientHello(s.mustMsg(typeClientHello))
	if err != nil {
		s.t.Fatalf("raw server: %v", err)
	}
	s.ch = ch
	return ch
}

// hrr returns a HelloRetryRequest asking for group.
func (s *alServer) hrr(group CurveID) *serverHelloMsg {
	return &serverHelloMsg{
		vers:             0x0303,
		random:           helloRetryRequestRandom[:],
		sessionID:        s.ch.sessionID,
		cipherSuite:      TLS_AES_128_GCM_SHA256,
		supportedVersion: VersionTLS13,
		selectedGroup:    group,
	}
}

// sendServerHello answers s.ch (X25519, TLS_AES_128_GCM_SHA256) with a
// real CPace share computed from the code, after mutate (if not nil) has
// changed the ServerHello, and installs the handshake keys.
func (s *alServer) sendServerHello(mutate func(*serverHelloMsg)) {
	s.t.Helper()
	s.writePlain(recordTypeHandshake, s.buildServerHello(mutate))
}

// buildServerHello returns the ServerHello sendServerHello sends, and
// installs the handshake keys.
func (s *alServer) buildServerHello(mutate func(*serverHelloMsg)) []byte {
	t := s.t
	t.Helper()
	ph, err := parsePAKEClientHello(s.ch.pake)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cpace.NewResponder(&cpace.Inputs{
		PRS: s.code,
		CI:  pakeContext(ph.clientIdentity, ph.serverIdentity),
		SID: s.ch.random,
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	yb := b.Message()
	res, err := b.Finish(ph.shares[0].message, nil)
	if err != nil {
		t.Fatal(err)
	}
	var clientShare []byte
	for _, ks := range s.ch.keyShares {
		if ks.group == X25519 {
			clientShare = ks.data
		}
	}
	share, ecdhe, err := serverKeyExchange(X25519, clientShare, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sh := &serverHelloMsg{
		vers:             0x0303,
		random:           make([]byte, 32),
		sessionID:        s.ch.sessionID,
		cipherSuite:      TLS_AES_128_GCM_SHA256,
		supportedVersion: VersionTLS13,
		serverShare:      keyShare{X25519, share},
		hasPAKE:          true,
		pake:             (&pakeServerHello{pakeShare{PAKECPaceX25519SHA512, yb}}).marshal(),
	}
	rand.Read(sh.random)
	if mutate != nil {
		mutate(sh)
	}
	msg := sh.marshal()
	s.suite = cipherSuiteByID(TLS_AES_128_GCM_SHA256)
	h := s.suite.hash
	s.tr.start(s.suite, false)
	s.tr.add(s.ch.raw)
	s.tr.add(msg)
	hsSecret := handshakeSecret(h, earlySecret(h, nil), append(res.ISK, ecdhe...))
	s.cHS = deriveSecret(h, hsSecret, labelClientHandshake, s.tr.h)
	s.sHS = deriveSecret(h, hsSecret, labelServerHandshake, s.tr.h)
	s.setKeys(s.suite, s.cHS, s.sHS)
	return msg
}

// sendProtected writes a protected handshake message and adds it to the
// transcript.
func (s *alServer) sendProtected(msg []byte) {
	s.t.Helper()
	s.tr.add(msg)
	s.writeHandshake(msg)
}

func (s *alServer) encryptedExtensions() []byte {
	return (&encryptedExtensionsMsg{}).marshal()
}

func (s *alServer) finished() []byte {
	return marshalFinished(finishedVerifyData(s.suite.hash, s.sHS, s.tr.h))
}

// alRelay connects our real Client (ccfg) and real Server (scfg) through a
// man in the middle that passes each record (header included) through
// hook, with toClient giving the direction and n the record's index in
// that direction; hook returns the bytes to forward (nil drops the record).
func alRelay(t *testing.T, ccfg, scfg *Config, hook func(toClient bool, n int, rec []byte) []byte) (cc, sc *Conn) {
	t.Helper()
	c1, m1 := alPair(t)
	m2, s2 := alPair(t)
	var wg sync.WaitGroup
	relay := func(src, dst net.Conn, toClient bool) {
		defer wg.Done()
		r := bufio.NewReader(src)
		for n := 0; ; n++ {
			hdr := make([]byte, recordHeaderLen)
			if _, err := io.ReadFull(r, hdr); err != nil {
				return
			}
			rec := make([]byte, recordHeaderLen+int(binary.BigEndian.Uint16(hdr[3:])))
			copy(rec, hdr)
			if _, err := io.ReadFull(r, rec[recordHeaderLen:]); err != nil {
				return
			}
			if out := hook(toClient, n, rec); len(out) > 0 {
				if _, err := dst.Write(out); err != nil {
					return
				}
			}
		}
	}
	wg.Add(2)
	go relay(m1, m2, false)
	go relay(m2, m1, true)
	t.Cleanup(func() {
		c1.Close()
		m1.Close()
		m2.Close()
		s2.Close()
		wg.Wait()
	})
	return Client(c1, ccfg), Server(s2, scfg)
}

// alEditServerHello is a relay hook that rewrites the ServerHello (not a
// HelloRetryRequest) with edit.
func alEditServerHello(edit func(msg []byte) []byte) func(bool, int, []byte) []byte {
	return func(toClient bool, _ int, rec []byte) []byte {
		if !toClient || rec[0] != recordTypeHandshake || len(rec) < recordHeaderLen+4+2+32 ||
			rec[recordHeaderLen] != typeServerHello ||
			bytes.Equal(rec[recordHeaderLen+6:recordHeaderLen+38], helloRetryRequestRandom[:]) {
			return rec
		}
		return alRecord(recordTypeHandshake, 0x0303, edit(append([]byte(nil), rec[recordHeaderLen:]...)))
	}
}

// alSH turns a change of the parsed ServerHello into a message edit.
func alSH(f func(sh *serverHelloMsg)) func([]byte) []byte {
	return func(msg []byte) []byte {
		sh, err := parseServerHello(msg)
		if err != nil {
			panic(err) // our server's ServerHello always parses
		}
		f(sh)
		sh.raw = nil
		return sh.marshal()
	}
}

// alSetServerPAKE replaces the ServerHello's PAKEServerHello.
func alSetServerPAKE(sh *serverHelloMsg, scheme PAKEScheme, msg []byte) {
	sh.pake = (&pakeServerHello{pakeShare{scheme, msg}}).marshal()
}

func alServerYb(sh *serverHelloMsg) []byte {
	ph, err := parsePAKEServerHello(sh.pake)
	if err != nil {
		panic(err)
	}
	return ph.share.message
}

// alFlipFirstProtected is a relay hook that flips one bit in the tag of the
// first protected record sent in direction toClient.
func alFlipFirstProtected(toClient bool) func(bool, int, []byte) []byte {
	done := false
	return func(dir bool, _ int, rec []byte) []byte {
		if dir == toClient && rec[0] == recordTypeApplicationData && !done {
			done = true
			rec[len(rec)-1] ^= 0x01
		}
		return rec
	}
}

// TestAlertsServerClientHello feeds our Server ClientHellos that break one
// rule each and checks the alert in answer (plaintext, so the raw client
// sees it on the wire).
func TestAlertsServerClientHello(t *testing.T) {
	x25519Share := func(c *alClient) keyShare { return keyShare{X25519, c.kx.share()} }
	for _, tc := range []struct {
		name  string
		build func(c *alClient) []byte
		want  Alert
	}{
		// PROFILE.md, Alerts.
		{"pake without key_share", func(c *alClient) []byte {
			c.hello.hasKeyShare, c.hello.keyShares = false, nil
			return c.marshal()
		}, AlertMissingExtension},
		{"pake without supported_groups", func(c *alClient) []byte {
			c.hello.hasSupportedGroups, c.hello.supportedGroups = false, nil
			return c.marshal()
		}, AlertMissingExtension},
		{"PAKEClientHello truncated", func(c *alClient) []byte {
			c.hello.pake = c.hello.pake[:len(c.hello.pake)-1]
			return c.marshal()
		}, AlertDecodeError},
		{"PAKEClientHello with a trailing byte", func(c *alClient) []byte {
			c.hello.pake = append(c.hello.pake, 0)
			return c.marshal()
		}, AlertDecodeError},
		{"PAKEClientHello empty", func(c *alClient) []byte {
			c.hello.pake = nil
			return c.marshal()
		}, AlertDecodeError},
		{"PAKEShare with an empty message", func(c *alClient) []byte {
			c.setPAKE(alClientID, alServerID, pakeShare{PAKECPaceX25519SHA512, nil})
			return c.marshal()
		}, AlertDecodeError},
		{"client CPace share of 31 bytes", func(c *alClient) []byte {
			c.setPAKE(alClientID, alServerID, pakeShare{PAKECPaceX25519SHA512, c.ya[:31]})
			return c.marshal()
		}, AlertDecodeError},
		{"client CPace share of 33 bytes", func(c *alClient) []byte {
			c.setPAKE(alClientID, alServerID, pakeShare{PAKECPaceX25519SHA512, append(c.ya, 0)})
			return c.marshal()
		}, AlertDecodeError},
		{"client shares unsorted", func(c *alClient) []byte {
			c.setPAKE(alClientID, alServerID,
				pakeShare{PAKESPAKE2PlusV1, make([]byte, 33)}, pakeShare{PAKECPaceX25519SHA512, c.ya})
			return c.marshal()
		}, AlertIllegalParameter},
		{"client shares duplicated", func(c *alClient) []byte {
			c.setPAKE(alClientID, alServerID,
				pakeShare{PAKECPaceX25519SHA512, c.ya}, pakeShare{PAKECPaceX25519SHA512, c.ya})
			return c.marshal()
		}, AlertIllegalParameter},
		{"no PAKE scheme in common (only SPAKE2PLUS_V1)", func(c *alClient) []byte {
			c.setPAKE(alClientID, alServerID, pakeShare{PAKESPAKE2PlusV1, make([]byte, 33)})
			return c.marshal()
		}, AlertIllegalParameter},
		{"no client shares at all", func(c *alClient) []byte {
			c.setPAKE(alClientID, alServerID)
			return c.marshal()
		}, AlertIllegalParameter},

		// RFC 8446: decode_error for a ClientHello that does not parse.
		{"malformed: extensions block cut short", func(c *alClient) []byte {
			m := c.marshal()
			return alSetLen(append([]byte(nil), m[:len(m)-1]...))
		}, AlertDecodeError},
		{"malformed: trailing byte after extensions", func(c *alClient) []byte {
			return alSetLen(append(c.marshal(), 0))
		}, AlertDecodeError},
		{"malformed: legacy_session_id of 33 bytes", func(c *alClient) []byte {
			c.hello.sessionID = make([]byte, 33)
			return c.marshal()
		}, AlertDecodeError},
		{"malformed: empty cipher_suites", func(c *alClient) []byte {
			c.hello.cipherSuites = nil
			return c.marshal()
		}, AlertDecodeError},
		{"malformed: empty compression_methods", func(c *alClient) []byte {
			c.hello.compressionMethods = nil
			return c.marshal()
		}, AlertDecodeError},
		{"malformed: empty key_exchange in a KeyShareEntry", func(c *alClient) []byte {
			c.hello.keyShares = []keyShare{{X25519, nil}}
			return c.marshal()
		}, AlertDecodeError},

		// RFC 8446: illegal_parameter.
		{"compression method 1", func(c *alClient) []byte {
			c.hello.compressionMethods = []uint8{1}
			return c.marshal()
		}, AlertIllegalParameter},
		{"compression methods null and 1", func(c *alClient) []byte {
			c.hello.compressionMethods = []uint8{0, 1}
			return c.marshal()
		}, AlertIllegalParameter},
		{"duplicate extension (supported_groups)", func(c *alClient) []byte {
			return alEditExts(c.marshal(), func(e []alExt) []alExt {
				return append(e, e[alExtIndex(e, extSupportedGroups)])
			})
		}, AlertIllegalParameter},
		{"duplicate extension (pake)", func(c *alClient) []byte {
			return alEditExts(c.marshal(), func(e []alExt) []alExt {
				return append(e, e[alExtIndex(e, ExtensionPAKE)])
			})
		}, AlertIllegalParameter},
		{"duplicate unknown extension", func(c *alClient) []byte {
			return alEditExts(c.marshal(), func(e []alExt) []alExt {
				return append(e, alExt{0x0a0a, nil}, alExt{0x0a0a, nil})
			})
		}, AlertIllegalParameter},
		{"pre_shared_key not the last extension", func(c *alClient) []byte {
			c.hello.hasPSK = true
			c.hello.pskModes = []uint8{1}
			c.hello.pskIdentities = []pskIdentity{{identity: make([]byte, 16)}}
			c.hello.pskBinders = [][]byte{make([]byte, 32)}
			return alEditExts(c.marshal(), func(e []alExt) []alExt {
				i := alExtIndex(e, extPreSharedKey)
				return append([]alExt{e[i]}, e[:i]...)
			})
		}, AlertIllegalParameter},
		{"two key shares for one group", func(c *alClient) []byte {
			c.hello.keyShares = []keyShare{x25519Share(c), x25519Share(c)}
			return c.marshal()
		}, AlertIllegalParameter},
		{"key share for a group not in supported_groups", func(c *alClient) []byte {
			c.hello.supportedGroups = []CurveID{X25519MLKEM768}
			return c.marshal()
		}, AlertIllegalParameter},
		{"X25519 key share is the all-zero point", func(c *alClient) []byte {
			c.hello.keyShares = []keyShare{{X25519, make([]byte, 32)}}
			return c.marshal()
		}, AlertIllegalParameter},

		// RFC 8446: unexpected_message.
		{"first handshake message is not a ClientHello", func(c *alClient) []byte {
			return marshalFinished(make([]byte, 32))
		}, AlertUnexpectedMessage},

		// RFC 8446: protocol_version.
		{"no supported_versions", func(c *alClient) []byte {
			c.hello.hasSupportedVersions, c.hello.supportedVersions = false, nil
			return c.marshal()
		}, AlertProtocolVersion},
		{"supported_versions without 0x0304", func(c *alClient) []byte {
			c.hello.supportedVersions = []uint16{0x0303, 0x0302}
			return c.marshal()
		}, AlertProtocolVersion},
		{"legacy_version 0x0300", func(c *alClient) []byte {
			c.hello.vers = 0x0300
			return c.marshal()
		}, AlertProtocolVersion},

		// RFC 8446: handshake_failure.
		{"no cipher suite in common", func(c *alClient) []byte {
			c.hello.cipherSuites = []uint16{0x009c, 0x1304} // TLS_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_CCM_SHA256
			return c.marshal()
		}, AlertHandshakeFailure},
		{"no group in common", func(c *alClient) []byte {
			c.hello.supportedGroups = []CurveID{23} // secp256r1
			c.hello.keyShares = []keyShare{{23, append([]byte{4}, make([]byte, 64)...)}}
			return c.marshal()
		}, AlertHandshakeFailure},
		{"certificate-only client (signature_algorithms, no pake)", func(c *alClient) []byte {
			c.hello.hasPAKE, c.hello.pake = false, nil
			return alEditExts(c.marshal(), func(e []alExt) []alExt {
				return append(e, alExt{extSignatureAlgorithms, []byte{0, 2, 0x08, 0x07}})
			})
		}, AlertHandshakeFailure},

		// RFC 8446 9.2: missing_extension.
		{"neither pake nor pre_shared_key", func(c *alClient) []byte {
			c.hello.hasPAKE, c.hello.pake = false, nil
			return c.marshal()
		}, AlertMissingExtension},
		// RFC 8446 4.2.9 and 9.2.
		{"pre_shared_key without psk_key_exchange_modes", func(c *alClient) []byte {
			c.hello.hasPSK = true
			c.hello.pskIdentities = []pskIdentity{{identity: make([]byte, 16)}}
			c.hello.pskBinders = [][]byte{make([]byte, 32)}
			return c.marshal()
		}, AlertMissingExtension},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, errc := alDialServer(t, alServerConfig())
			c.sendHello(tc.build(c))
			c.expectAlert(tc.want)
			alWantAlert(t, "server", alWait(t, errc), tc.want, false)
		})
	}

	// Controls: the same harness, with hellos that must be accepted.
	for _, tc := range []struct {
		name  string
		build func(c *alClient) []byte
	}{
		{"unmodified", func(c *alClient) []byte { return c.marshal() }},
		{"sorted shares with an unknown scheme after ours", func(c *alClient) []byte {
			c.setPAKE(alClientID, alServerID,
				pakeShare{PAKECPaceX25519SHA512, c.ya}, pakeShare{PAKESPAKE2PlusV1, make([]byte, 33)})
			return c.marshal()
		}},
		{"a single unknown extension", func(c *alClient) []byte {
			return alEditExts(c.marshal(), func(e []alExt) []alExt { return append(e, alExt{0x0a0a, nil}) })
		}},
	} {
		t.Run("control/"+tc.name, func(t *testing.T) {
			c, errc := alDialServer(t, alServerConfig())
			c.sendHello(tc.build(c))
			c.mustMsg(typeServerHello)
			c.conn.Close()
			if err := alWait(t, errc); err == nil {
				t.Error("server: handshake succeeded without the client's Finished")
			}
		})
	}
}

// TestAlertsServerLegacyVersion: RFC 8446 4.2.1 — when supported_versions
// is present the server must not use legacy_version for version
// negotiation (only 0x0300 and below must be refused, D.5).
func TestAlertsServerLegacyVersion(t *testing.T) {
	c, errc := alDialServer(t, alServerConfig())
	c.hello.vers = 0x0301
	c.sendHello(c.marshal())
	msg, err := c.readMsg()
	c.conn.Close()
	alWait(t, errc)
	if err != nil {
		t.Fatalf("the server refuses legacy_version 0x0301 with supported_versions [0x0304] (%v); RFC 8446 4.2.1 says to ignore legacy_version", err)
	}
	if msg[0] != typeServerHello {
		t.Errorf("got handshake message %d, want ServerHello", msg[0])
	}
}

// TestAlertsServerLowOrderYa: a client share that gives the all-zero K is
// an illegal_parameter, on the real path and on the simulated path (an
// unknown server_identity) alike.
func TestAlertsServerLowOrderYa(t *testing.T) {
	for _, path := range []struct {
		name     string
		serverID []byte
	}{
		{"real", alServerID},
		{"simulated", []byte("someone-else")},
	} {
		for _, p := range alLowOrder {
			t.Run(path.name+"/"+p.name, func(t *testing.T) {
				c, errc := alDialServer(t, alServerConfig())
				c.setPAKE(alClientID, path.serverID, pakeShare{PAKECPaceX25519SHA512, alHex(t, p.hex)})
				c.sendHello(c.marshal())
				c.expectAlert(AlertIllegalParameter)
				alWantAlert(t, "server", alWait(t, errc), AlertIllegalParameter, false)
			})
		}
	}
}

// TestAlertsServerSecondClientHello covers the second ClientHello after a
// HelloRetryRequest: the server prefers X25519MLKEM768, the client offers
// it but sends a key share for X25519 only.
func TestAlertsServerSecondClientHello(t *testing.T) {
	start := func(t *testing.T) (*alClient, <-chan error, *clientHelloMsg) {
		scfg := alServerConfig()
		scfg.Groups = []CurveID{X25519MLKEM768, X25519}
		c, errc := alDialServer(t, scfg)
		c.hello.supportedGroups = []CurveID{X25519, X25519MLKEM768}
		first := c.marshal()
		c.sendHello(first)
		hrr, err := parseServerHello(c.mustMsg(typeServerHello))
		if err != nil || !hrr.isHelloRetryRequest() || hrr.selectedGroup != X25519MLKEM768 {
			t.Fatalf("raw client: want a HelloRetryRequest for X25519MLKEM768 (%v)", err)
		}
		kx, err := newClientKeyExchange(X25519MLKEM768, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		h2 := *c.hello
		h2.raw = nil
		h2.keyShares = []keyShare{{X25519MLKEM768, kx.share()}}
		return c, errc, &h2
	}
	for _, tc := range []struct {
		name string
		send func(c *alClient, h2 *clientHelloMsg)
		want Alert
	}{
		{"pake changed (client_identity)", func(c *alClient, h2 *clientHelloMsg) {
			h2.pake = (&pakeClientHello{[]byte("mallory"), alServerID, []pakeShare{{PAKECPaceX25519SHA512, c.ya}}}).marshal()
			c.writePlain(recordTypeHandshake, h2.marshal())
		}, AlertIllegalParameter},
		{"pake changed (new Ya)", func(c *alClient, h2 *clientHelloMsg) {
			a, err := cpace.NewInitiator(&cpace.Inputs{PRS: alCode, CI: pakeContext(alClientID, alServerID), SID: h2.random}, nil, nil)
			if err != nil {
				c.t.Fatal(err)
			}
			h2.pake = (&pakeClientHello{alClientID, alServerID, []pakeShare{{PAKECPaceX25519SHA512, a.Message()}}}).marshal()
			c.writePlain(recordTypeHandshake, h2.marshal())
		}, AlertIllegalParameter},
		{"pake re-encoded with an extra share", func(c *alClient, h2 *clientHelloMsg) {
			h2.pake = (&pakeClientHello{alClientID, alServerID, []pakeShare{
				{PAKECPaceX25519SHA512, c.ya}, {PAKESPAKE2PlusV1, make([]byte, 33)}}}).marshal()
			c.writePlain(recordTypeHandshake, h2.marshal())
		}, AlertIllegalParameter},
		{"random changed", func(c *alClient, h2 *clientHelloMsg) {
			h2.random = make([]byte, 32)
			c.writePlain(recordTypeHandshake, h2.marshal())
		}, AlertIllegalParameter},
		{"key share still for X25519", func(c *alClient, h2 *clientHelloMsg) {
			h2.keyShares = c.hello.keyShares
			c.writePlain(recordTypeHandshake, h2.marshal())
		}, AlertIllegalParameter},
		{"pake dropped", func(c *alClient, h2 *clientHelloMsg) {
			h2.hasPAKE, h2.pake = false, nil
			c.writePlain(recordTypeHandshake, h2.marshal())
		}, AlertMissingExtension},
		{"change_cipher_spec with payload 0x02", func(c *alClient, h2 *clientHelloMsg) {
			c.writePlain(recordTypeChangeCipherSpec, []byte{2})
		}, AlertUnexpectedMessage},
		{"change_cipher_spec with payload 0x01 0x01", func(c *alClient, h2 *clientHelloMsg) {
			c.writePlain(recordTypeChangeCipherSpec, []byte{1, 1})
		}, AlertUnexpectedMessage},
		{"plaintext application data", func(c *alClient, h2 *clientHelloMsg) {
			c.writePlain(recordTypeApplicationData, []byte("hello"))
		}, AlertUnexpectedMessage},
		{"a Finished instead of the ClientHello", func(c *alClient, h2 *clientHelloMsg) {
			c.writePlain(recordTypeHandshake, marshalFinished(make([]byte, 32)))
		}, AlertUnexpectedMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, errc, h2 := start(t)
			tc.send(c, h2)
			c.expectAlert(tc.want)
			alWantAlert(t, "server", alWait(t, errc), tc.want, false)
		})
	}
	t.Run("control/unchanged pake after a compatibility change_cipher_spec", func(t *testing.T) {
		c, errc, h2 := start(t)
		c.writePlain(recordTypeChangeCipherSpec, []byte{1})
		c.writePlain(recordTypeHandshake, h2.marshal())
		sh, err := parseServerHello(c.mustMsg(typeServerHello))
		if err != nil || sh.isHelloRetryRequest() || !sh.hasPAKE {
			t.Errorf("raw client: want a ServerHello with pake (%v)", err)
		}
		c.conn.Close()
		if alWait(t, errc) == nil {
			t.Error("server: handshake succeeded without the client's Finished")
		}
	})
}

// TestAlertsServerRecords covers record-layer rules before any keys.
func TestAlertsServerRecords(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(c *alClient)
		want Alert
	}{
		{"application data record before the handshake", func(c *alClient) {
			c.writePlain(recordTypeApplicationData, []byte("hello"))
		}, AlertUnexpectedMessage},
		{"change_cipher_spec before the ClientHello", func(c *alClient) {
			c.writePlain(recordTypeChangeCipherSpec, []byte{1})
		}, AlertUnexpectedMessage},
		{"plaintext record of 2^14+1 bytes", func(c *alClient) {
			msg := c.marshal()
			c.write(alRecord(recordTypeHandshake, 0x0301, append(msg, make([]byte, maxPlaintext+1-len(msg))...)))
		}, AlertRecordOverflow},
		{"plaintext record header claiming 2^16-1 bytes", func(c *alClient) {
			c.write([]byte{recordTypeHandshake, 3, 1, 0xff, 0xff})
		}, AlertRecordOverflow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, errc := alDialServer(t, alServerConfig())
			tc.send(c)
			c.expectAlert(tc.want)
			alWantAlert(t, "server", alWait(t, errc), tc.want, false)
		})
	}

	t.Run("control/ClientHello record of exactly 2^14 bytes", func(t *testing.T) {
		c, errc := alDialServer(t, alServerConfig())
		msg := alEditExts(c.marshal(), func(e []alExt) []alExt {
			return append(e, alExt{extPadding, nil})
		})
		msg = alEditExts(msg, func(e []alExt) []alExt {
			e[len(e)-1].body = make([]byte, maxPlaintext-len(msg))
			return e
		})
		if len(msg) != maxPlaintext {
			t.Fatalf("harness: ClientHello of %d bytes", len(msg))
		}
		c.sendHello(msg)
		c.mustMsg(typeServerHello)
		c.conn.Close()
		alWait(t, errc)
	})

	t.Run("not TLS at all", func(t *testing.T) {
		c, errc := alDialServer(t, alServerConfig())
		start := time.Now()
		c.write([]byte("GET / HTTP/1.1\r\nHost: device\r\n\r\n"))
		err := alWait(t, errc)
		if d := time.Since(start); d > time.Second {
			t.Errorf("server took %v to give up on a non-TLS peer", d)
		}
		alWantAlert(t, "server", err, AlertUnexpectedMessage, false)
		if err == nil || !strings.Contains(err.Error(), "TLS") {
			t.Errorf("server: error %q does not say the peer is not speaking TLS", err)
		}
		c.expectAlert(AlertUnexpectedMessage)
	})
}

// TestAlertsServerProtected drives our Server past its flight with a raw
// client that knows the code and runs the key schedule itself, then breaks
// the client's protected flight. The server's alert is protected under the
// server application traffic keys; the raw client decrypts it.
func TestAlertsServerProtected(t *testing.T) {
	for _, tc := range []struct {
		name     string
		send     func(c *alClient)
		want     Alert
		mismatch bool // reported as ErrCodeMismatch
	}{
		{"Finished decrypts but does not verify", func(c *alClient) {
			fin := c.finished()
			fin[len(fin)-1] ^= 1
			c.writeHandshake(fin)
		}, AlertDecryptError, true},
		{"Finished of the wrong length", func(c *alClient) {
			fin := c.finished()
			c.writeHandshake(alSetLen(fin[:len(fin)-1]))
		}, AlertDecryptError, true},
		{"Finished record does not decrypt", func(c *alClient) {
			rec := c.seal(recordTypeHandshake, c.finished())
			rec[recordHeaderLen] ^= 0x80
			c.write(rec)
		}, AlertBadRecordMAC, true},
		{"protected record of 2^14+257 bytes", func(c *alClient) {
			c.write(alRecord(recordTypeApplicationData, 0x0303, make([]byte, maxCiphertext+1)))
		}, AlertRecordOverflow, false},
		{"inner plaintext of 2^14+2 bytes", func(c *alClient) {
			c.write(c.seal(recordTypeHandshake, make([]byte, maxPlaintext+1)))
		}, AlertRecordOverflow, false},
		{"application data before the client Finished", func(c *alClient) {
			c.write(c.seal(recordTypeApplicationData, []byte("early")))
		}, AlertUnexpectedMessage, false},
		{"unprotected Finished after the keys changed", func(c *alClient) {
			c.writePlain(recordTypeHandshake, c.finished())
		}, AlertUnexpectedMessage, false},
		{"change_cipher_spec with payload 0x02", func(c *alClient) {
			c.writePlain(recordTypeChangeCipherSpec, []byte{2})
		}, AlertUnexpectedMessage, false},
		{"a Certificate instead of the Finished", func(c *alClient) {
			c.writeHandshake(alCertEmpty)
		}, AlertUnexpectedMessage, false},
		// Boundary: a ciphertext of exactly 2^14+256 bytes passes the
		// length check and then fails authentication.
		{"protected record of exactly 2^14+256 bytes", func(c *alClient) {
			c.write(alRecord(recordTypeApplicationData, 0x0303, make([]byte, maxCiphertext)))
		}, AlertBadRecordMAC, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, errc := alDialServer(t, alServerConfig())
			c.runToFinished()
			tc.send(c)
			c.expectAlert(tc.want)
			err := alWait(t, errc)
			alWantAlert(t, "server", err, tc.want, false)
			if got := errors.Is(err, ErrCodeMismatch); got != tc.mismatch {
				t.Errorf("server: errors.Is(err, ErrCodeMismatch) = %v, want %v (%v)", got, tc.mismatch, err)
			}
		})
	}
	t.Run("control/valid Finished", func(t *testing.T) {
		c, errc := alDialServer(t, alServerConfig())
		c.runToFinished()
		c.writeHandshake(c.finished())
		if err := alWait(t, errc); err != nil {
			t.Fatalf("server: %v", err)
		}
	})
}

// TestAlertsClientServerHello rewrites the ServerHello of our real Server
// on its way to our real Client. The client's alert is plaintext (it has
// no keys yet) and our server, waiting for the client's Finished, reports
// it as received.
func TestAlertsClientServerHello(t *testing.T) {
	type tcase struct {
		name string
		edit func(msg []byte) []byte
		want Alert
		cfg  func(c, s *Config) // optional
	}
	cases := []tcase{
		// PROFILE.md, Alerts.
		{"PAKEServerHello truncated", alSH(func(sh *serverHelloMsg) { sh.pake = sh.pake[:len(sh.pake)-1] }), AlertDecodeError, nil},
		{"PAKEServerHello with a trailing byte", alSH(func(sh *serverHelloMsg) { sh.pake = append(sh.pake, 0) }), AlertDecodeError, nil},
		{"PAKEServerHello empty", alSH(func(sh *serverHelloMsg) { sh.pake = nil }), AlertDecodeError, nil},
		{"server share of 31 bytes", alSH(func(sh *serverHelloMsg) {
			alSetServerPAKE(sh, PAKECPaceX25519SHA512, alServerYb(sh)[:31])
		}), AlertDecodeError, nil},
		{"server share of 33 bytes", alSH(func(sh *serverHelloMsg) {
			alSetServerPAKE(sh, PAKECPaceX25519SHA512, append(alServerYb(sh), 0))
		}), AlertDecodeError, nil},
		{"server picks a scheme the client did not offer", alSH(func(sh *serverHelloMsg) {
			alSetServerPAKE(sh, PAKESPAKE2PlusV1, alServerYb(sh))
		}), AlertIllegalParameter, nil},
		{"ServerHello with neither pake nor pre_shared_key", alSH(func(sh *serverHelloMsg) { sh.hasPAKE, sh.pake = false, nil }), AlertMissingExtension, nil},

		// RFC 8446.
		{"cipher suite not offered", alSH(func(sh *serverHelloMsg) { sh.cipherSuite = TLS_AES_256_GCM_SHA384 }), AlertIllegalParameter, nil},
		{"unknown cipher suite", alSH(func(sh *serverHelloMsg) { sh.cipherSuite = 0x1304 }), AlertIllegalParameter, nil},
		{"legacy_session_id_echo mismatch", alSH(func(sh *serverHelloMsg) { sh.sessionID = bytes.Repeat([]byte{7}, 32) }), AlertIllegalParameter, nil},
		{"compression method 1", alSH(func(sh *serverHelloMsg) { sh.compressionMethod = 1 }), AlertIllegalParameter, nil},
		{"supported_versions selects 0x0303", alSH(func(sh *serverHelloMsg) { sh.supportedVersion = 0x0303 }), AlertIllegalParameter, nil},
		{"key share for a group the client did not send", alSH(func(sh *serverHelloMsg) { sh.serverShare.group = X25519MLKEM768 }), AlertIllegalParameter, func(c, s *Config) {
			c.Groups = []CurveID{X25519}
			s.Groups = []CurveID{X25519}
		}},
		{"X25519 key share is the all-zero point", alSH(func(sh *serverHelloMsg) { sh.serverShare.data = make([]byte, 32) }), AlertIllegalParameter, nil},
		{"no key_share", alSH(func(sh *serverHelloMsg) { sh.serverShare = keyShare{} }), AlertMissingExtension, nil},
		{"pre_shared_key not offered", alSH(func(sh *serverHelloMsg) { sh.hasPSK = true }), AlertUnsupportedExtension, nil},
		{"no supported_versions", func(msg []byte) []byte {
			return alEditExts(msg, func(e []alExt) []alExt {
				i := alExtIndex(e, extSupportedVersions)
				return append(e[:i], e[i+1:]...)
			})
		}, AlertProtocolVersion, nil},
		{"duplicate extension", func(msg []byte) []byte {
			return alEditExts(msg, func(e []alExt) []alExt { return append(e, e[alExtIndex(e, ExtensionPAKE)]) })
		}, AlertIllegalParameter, nil},
		{"extension the client did not offer", func(msg []byte) []byte {
			return alEditExts(msg, func(e []alExt) []alExt { return append(e, alExt{0x0a0a, nil}) })
		}, AlertUnsupportedExtension, nil},
		{"malformed: trailing byte", func(msg []byte) []byte { return alSetLen(append(msg, 0)) }, AlertDecodeError, nil},
		{"X25519MLKEM768 server share one byte short", alSH(func(sh *serverHelloMsg) {
			sh.serverShare.data = sh.serverShare.data[:len(sh.serverShare.data)-1]
		}), AlertIllegalParameter, func(c, s *Config) {
			c.Groups = []CurveID{X25519MLKEM768}
			s.Groups = []CurveID{X25519MLKEM768}
		}},
	}
	for _, p := range alLowOrder {
		yb := alHex(t, p.hex)
		cases = append(cases, tcase{"server share low-order " + p.name, alSH(func(sh *serverHelloMsg) {
			alSetServerPAKE(sh, PAKECPaceX25519SHA512, yb)
		}), AlertIllegalParameter, nil})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cerr, serr := alRunEditedServerHello(t, tc.cfg, tc.edit)
			alWantAlert(t, "client", cerr, tc.want, false)
			alWantAlert(t, "server", serr, tc.want, true)
		})
	}
}

// alRunEditedServerHello runs our Client (offering TLS_AES_128_GCM_SHA256
// only) against our Server with the ServerHello rewritten by edit, and
// returns both handshake errors.
func alRunEditedServerHello(t *testing.T, cfg func(c, s *Config), edit func([]byte) []byte) (cerr, serr error) {
	t.Helper()
	ccfg, scfg := alClientConfig(), alServerConfig()
	ccfg.CipherSuites = []uint16{TLS_AES_128_GCM_SHA256}
	if cfg != nil {
		cfg(ccfg, scfg)
	}
	cc, sc := alRelay(t, ccfg, scfg, alEditServerHello(edit))
	cch, sch := alHandshake(cc), alHandshake(sc)
	return alWait(t, cch), alWait(t, sch)
}

// TestAlertsProtectedInFlight tampers with protected records between our
// real Client and real Server, and runs them with different codes.
func TestAlertsProtectedInFlight(t *testing.T) {
	t.Run("server EncryptedExtensions record bit flipped", func(t *testing.T) {
		cc, sc := alRelay(t, alClientConfig(), alServerConfig(), alFlipFirstProtected(true))
		cerr, serr := alHandshake(cc), alHandshake(sc)
		err := alWait(t, cerr)
		alWantAlert(t, "client", err, AlertBadRecordMAC, false)
		if !errors.Is(err, ErrCodeMismatch) {
			t.Errorf("client: %v does not match ErrCodeMismatch", err)
		}
		// Both sides hold the same handshake keys: the server decrypts
		// the client's protected alert.
		alWantAlert(t, "server", alWait(t, serr), AlertBadRecordMAC, true)
	})

	// Alerts after the handshake completed on the client: the server's
	// alert is protected under the server application traffic keys, which
	// the client holds, so its Read reports it.
	readAlert := func(t *testing.T, cc *Conn) error {
		t.Helper()
		errc := make(chan error, 1)
		go func() {
			_, err := cc.Read(make([]byte, 1))
			errc <- err
		}()
		return alWait(t, errc)
	}
	t.Run("client Finished record bit flipped", func(t *testing.T) {
		cc, sc := alRelay(t, alClientConfig(), alServerConfig(), alFlipFirstProtected(false))
		cerr, serr := alHandshake(cc), alHandshake(sc)
		if err := alWait(t, cerr); err != nil {
			t.Fatalf("client: %v", err)
		}
		err := alWait(t, serr)
		alWantAlert(t, "server", err, AlertBadRecordMAC, false)
		if !errors.Is(err, ErrCodeMismatch) {
			t.Errorf("server: %v does not match ErrCodeMismatch", err)
		}
		alWantAlert(t, "client", readAlert(t, cc), AlertBadRecordMAC, true)
	})
	t.Run("client Finished replaced by a protected record of 2^14+257 bytes", func(t *testing.T) {
		replaced := false
		cc, sc := alRelay(t, alClientConfig(), alServerConfig(), func(toClient bool, _ int, rec []byte) []byte {
			if !toClient && rec[0] == recordTypeApplicationData && !replaced {
				replaced = true
				return alRecord(recordTypeApplicationData, 0x0303, make([]byte, maxCiphertext+1))
			}
			return rec
		})
		cerr, serr := alHandshake(cc), alHandshake(sc)
		if err := alWait(t, cerr); err != nil {
			t.Fatalf("client: %v", err)
		}
		alWantAlert(t, "server", alWait(t, serr), AlertRecordOverflow, false)
		alWantAlert(t, "client", readAlert(t, cc), AlertRecordOverflow, true)
	})

	// A wrong code: neither side can decrypt the other's first protected
	// record (PROFILE.md, "What a wrong code looks like on the wire").
	for _, tc := range []struct {
		name string
		scfg *Config
	}{
		{"wrong code", &Config{Code: []byte("0000000000"), ServerIdentity: alServerID, HandshakeTimeout: alTimeout}},
		{"unknown server identity (simulated share)", &Config{Code: alCode, ServerIdentity: []byte("other"), HandshakeTimeout: alTimeout}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := alPair(t)
			cerr, serr := alHandshake(Client(a, alClientConfig())), alHandshake(Server(b, tc.scfg))
			for _, side := range []struct {
				name string
				err  error
			}{{"client", alWait(t, cerr)}, {"server", alWait(t, serr)}} {
				alWantAlert(t, side.name, side.err, AlertBadRecordMAC, false)
				if !errors.Is(side.err, ErrCodeMismatch) {
					t.Errorf("%s: %v does not match ErrCodeMismatch", side.name, side.err)
				}
			}
		})
	}
}

// TestAlertsClientRawServer answers our Client with a raw server.
func TestAlertsClientRawServer(t *testing.T) {
	hrrConfig := func() *Config {
		cfg := alClientConfig()
		cfg.Groups = []CurveID{X25519, X25519MLKEM768}
		return cfg
	}
	for _, tc := range []struct {
		name     string
		cfg      func() *Config
		run      func(s *alServer)
		want     Alert
		mismatch bool
	}{
		// Before any keys: the client's alert is plaintext.
		{"HelloRetryRequest carries pake", hrrConfig, func(s *alServer) {
			hrr := s.hrr(X25519MLKEM768)
			hrr.hasPAKE = true
			hrr.pake = (&pakeServerHello{pakeShare{PAKECPaceX25519SHA512, make([]byte, 32)}}).marshal()
			s.writePlain(recordTypeHandshake, hrr.marshal())
		}, alertPAKEInHelloRetryRequest, false}, // illegal_parameter: see spec_choices.go
		{"second HelloRetryRequest", hrrConfig, func(s *alServer) {
			s.writePlain(recordTypeHandshake, s.hrr(X25519MLKEM768).marshal())
			s.readHello()
			s.writePlain(recordTypeHandshake, s.hrr(X25519MLKEM768).marshal())
		}, AlertUnexpectedMessage, false},
		{"HelloRetryRequest for a group not offered", alClientConfig, func(s *alServer) {
			s.writePlain(recordTypeHandshake, s.hrr(X25519MLKEM768).marshal())
		}, AlertIllegalParameter, false},
		{"HelloRetryRequest for the group of the key share sent", alClientConfig, func(s *alServer) {
			s.writePlain(recordTypeHandshake, s.hrr(X25519).marshal())
		}, AlertIllegalParameter, false},
		{"HelloRetryRequest that would not change the ClientHello", alClientConfig, func(s *alServer) {
			s.writePlain(recordTypeHandshake, s.hrr(0).marshal())
		}, AlertIllegalParameter, false},
		{"ServerHello cipher suite differs from the HelloRetryRequest's", hrrConfig, func(s *alServer) {
			s.writePlain(recordTypeHandshake, s.hrr(X25519MLKEM768).marshal())
			s.readHello()
			sh := &serverHelloMsg{vers: 0x0303, random: make([]byte, 32), sessionID: s.ch.sessionID,
				cipherSuite: TLS_CHACHA20_POLY1305_SHA256, supportedVersion: VersionTLS13,
				serverShare: keyShare{X25519MLKEM768, make([]byte, 1120)}, hasPAKE: true,
				pake: (&pakeServerHello{pakeShare{PAKECPaceX25519SHA512, make([]byte, 32)}}).marshal()}
			s.writePlain(recordTypeHandshake, sh.marshal())
		}, AlertIllegalParameter, false},
		{"change_cipher_spec with payload 0x02 after a HelloRetryRequest", hrrConfig, func(s *alServer) {
			s.writePlain(recordTypeHandshake, s.hrr(X25519MLKEM768).marshal())
			s.writePlain(recordTypeChangeCipherSpec, []byte{2})
			s.readHello() // sent before the client reads the change_cipher_spec
		}, AlertUnexpectedMessage, false},
		{"plaintext application data instead of the ServerHello", alClientConfig, func(s *alServer) {
			s.writePlain(recordTypeApplicationData, []byte("hello"))
		}, AlertUnexpectedMessage, false},
		{"plaintext record of 2^14+1 bytes", alClientConfig, func(s *alServer) {
			s.writePlain(recordTypeHandshake, make([]byte, maxPlaintext+1))
		}, AlertRecordOverflow, false},
		{"ServerHello with neither pake nor pre_shared_key", alClientConfig, func(s *alServer) {
			s.sendServerHello(func(sh *serverHelloMsg) { sh.hasPAKE, sh.pake = false, nil })
		}, AlertMissingExtension, false},
		{"ServerHello legacy_session_id_echo mismatch", alClientConfig, func(s *alServer) {
			s.sendServerHello(func(sh *serverHelloMsg) { sh.sessionID = []byte{1} })
		}, AlertIllegalParameter, false},
		{"ServerHello selects a cipher suite not offered", func() *Config {
			cfg := alClientConfig()
			cfg.CipherSuites = []uint16{TLS_CHACHA20_POLY1305_SHA256}
			return cfg
		}, func(s *alServer) {
			s.sendServerHello(nil) // TLS_AES_128_GCM_SHA256
		}, AlertIllegalParameter, false},

		// After the ServerHello: the client's alert is protected under
		// the client handshake traffic keys, which the raw server holds.
		{"Certificate instead of EncryptedExtensions", alClientConfig, func(s *alServer) {
			s.sendServerHello(nil)
			s.sendProtected(alCertEmpty)
		}, AlertUnexpectedMessage, false},
		{"Certificate instead of Finished", alClientConfig, func(s *alServer) {
			s.sendServerHello(nil)
			s.sendProtected(s.encryptedExtensions())
			s.sendProtected(alCertEmpty)
		}, AlertUnexpectedMessage, false},
		{"server Finished decrypts but does not verify", alClientConfig, func(s *alServer) {
			s.sendServerHello(nil)
			s.sendProtected(s.encryptedExtensions())
			fin := s.finished()
			fin[4] ^= 1
			s.sendProtected(fin)
		}, AlertDecryptError, true},
		{"EncryptedExtensions record does not decrypt", alClientConfig, func(s *alServer) {
			s.sendServerHello(nil)
			rec := s.seal(recordTypeHandshake, s.encryptedExtensions())
			rec[len(rec)-1] ^= 1
			s.write(rec)
		}, AlertBadRecordMAC, true},
		{"protected record of 2^14+257 bytes", alClientConfig, func(s *alServer) {
			s.sendServerHello(nil)
			s.write(alRecord(recordTypeApplicationData, 0x0303, make([]byte, maxCiphertext+1)))
		}, AlertRecordOverflow, false},
		{"application data before the server Finished", alClientConfig, func(s *alServer) {
			s.sendServerHello(nil)
			s.sendProtected(s.encryptedExtensions())
			s.write(s.seal(recordTypeApplicationData, []byte("early")))
		}, AlertUnexpectedMessage, false},
		{"ServerHello and the start of the next message in one record (spans the key change)", alClientConfig, func(s *alServer) {
			s.writePlain(recordTypeHandshake, append(s.buildServerHello(nil), typeEncryptedExtensions, 0, 0))
		}, AlertUnexpectedMessage, false},
		{"server_name acknowledged but not sent", alClientConfig, func(s *alServer) {
			s.sendServerHello(nil)
			s.sendProtected(alEE([]alExt{{extServerName, nil}}))
		}, AlertUnsupportedExtension, false},
		{"unknown extension in EncryptedExtensions", alClientConfig, func(s *alServer) {
			s.sendServerHello(nil)
			s.sendProtected(alEE([]alExt{{0x0a0a, nil}}))
		}, AlertUnsupportedExtension, false},
		{"ALPN protocol the client did not offer", func() *Config {
			cfg := alClientConfig()
			cfg.NextProtos = []string{"h2"}
			return cfg
		}, func(s *alServer) {
			s.sendServerHello(nil)
			s.sendProtected(alEE([]alExt{{extALPN, []byte{0, 9, 8, 'h', 't', 't', 'p', '/', '1', '.', '1'}}}))
		}, AlertIllegalParameter, false},
		{"malformed EncryptedExtensions", alClientConfig, func(s *alServer) {
			s.sendServerHello(nil)
			s.sendProtected(alSetLen(append(alEE(nil), 0)))
		}, AlertDecodeError, false},
		{"pake in EncryptedExtensions", alClientConfig, func(s *alServer) {
			s.sendServerHello(nil)
			s.sendProtected(alEE([]alExt{{ExtensionPAKE, nil}}))
		}, AlertIllegalParameter, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, errc := alDialClient(t, tc.cfg())
			s.readHello()
			tc.run(s)
			s.expectAlert(tc.want)
			err := alWait(t, errc)
			alWantAlert(t, "client", err, tc.want, false)
			if got := errors.Is(err, ErrCodeMismatch); got != tc.mismatch {
				t.Errorf("client: errors.Is(err, ErrCodeMismatch) = %v, want %v (%v)", got, tc.mismatch, err)
			}
		})
	}

	t.Run("control/valid flight", func(t *testing.T) {
		s, errc := alDialClient(t, alClientConfig())
		s.readHello()
		s.sendServerHello(nil)
		s.sendProtected(s.encryptedExtensions())
		s.sendProtected(s.finished())
		want := finishedVerifyData(s.suite.hash, s.cHS, s.tr.h)
		if fin := s.mustMsg(typeFinished); !bytes.Equal(fin[4:], want) {
			t.Error("raw server: the client's Finished does not verify")
		}
		if err := alWait(t, errc); err != nil {
			t.Fatalf("client: %v", err)
		}
	})

	t.Run("server answers the ClientHello with an alert", func(t *testing.T) {
		s, errc := alDialClient(t, alClientConfig())
		s.readHello()
		s.writePlain(recordTypeAlert, []byte{2, byte(AlertHandshakeFailure)})
		alWantAlert(t, "client", alWait(t, errc), AlertHandshakeFailure, true)
	})
	// RFC 8446 6: error alerts are fatal whatever their level says.
	t.Run("warning-level handshake_failure is fatal", func(t *testing.T) {
		s, errc := alDialClient(t, alClientConfig())
		s.readHello()
		s.writePlain(recordTypeAlert, []byte{1, byte(AlertHandshakeFailure)})
		alWantAlert(t, "client", alWait(t, errc), AlertHandshakeFailure, true)
	})
	t.Run("malformed alert record", func(t *testing.T) {
		s, errc := alDialClient(t, alClientConfig())
		s.readHello()
		s.writePlain(recordTypeAlert, []byte{2, byte(AlertHandshakeFailure), 0})
		s.expectAlert(AlertDecodeError)
		alWantAlert(t, "client", alWait(t, errc), AlertDecodeError, false)
	})

	t.Run("not TLS at all", func(t *testing.T) {
		s, errc := alDialClient(t, alClientConfig())
		s.readHello()
		start := time.Now()
		s.write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
		err := alWait(t, errc)
		if d := time.Since(start); d > time.Second {
			t.Errorf("client took %v to give up on a non-TLS peer", d)
		}
		alWantAlert(t, "client", err, AlertUnexpectedMessage, false)
		s.expectAlert(AlertUnexpectedMessage)
	})
}

// alEE returns an EncryptedExtensions message carrying exts.
func alEE(exts []alExt) []byte {
	var block []byte
	for _, e := range exts {
		block = binary.BigEndian.AppendUint16(block, e.typ)
		block = binary.BigEndian.AppendUint16(block, uint16(len(e.body)))
		block = append(block, e.body...)
	}
	msg := append([]byte{typeEncryptedExtensions, 0, 0, 0, byte(len(block) >> 8), byte(len(block))}, block...)
	return alSetLen(msg)
}

// TestAlertsRealPeers: an alert our Server sends in answer to the
// ClientHello reaches our real Client as a received alert.
func TestAlertsRealPeers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ccfg, scfg func(*Config)
		want       Alert
	}{
		{"no cipher suite in common",
			func(c *Config) { c.CipherSuites = []uint16{TLS_AES_256_GCM_SHA384} },
			func(c *Config) { c.CipherSuites = []uint16{TLS_AES_128_GCM_SHA256} },
			AlertHandshakeFailure},
		{"no group in common",
			func(c *Config) { c.Groups = []CurveID{X25519MLKEM768} },
			func(c *Config) { c.Groups = []CurveID{X25519} },
			AlertHandshakeFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ccfg, scfg := alClientConfig(), alServerConfig()
			tc.ccfg(ccfg)
			tc.scfg(scfg)
			a, b := alPair(t)
			cerr, serr := alHandshake(Client(a, ccfg)), alHandshake(Server(b, scfg))
			alWantAlert(t, "server", alWait(t, serr), tc.want, false)
			alWantAlert(t, "client", alWait(t, cerr), tc.want, true)
		})
	}
}

// TestAlertsServerHybridShare: a X25519MLKEM768 key share of the wrong
// length is an illegal_parameter (draft-ietf-tls-ecdhe-mlkem).
func TestAlertsServerHybridShare(t *testing.T) {
	scfg := alServerConfig()
	scfg.Groups = []CurveID{X25519MLKEM768}
	c, errc := alDialServer(t, scfg)
	kx, err := newClientKeyExchange(X25519MLKEM768, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	share := kx.share()
	c.hello.supportedGroups = []CurveID{X25519MLKEM768}
	c.hello.keyShares = []keyShare{{X25519MLKEM768, share[:len(share)-1]}}
	c.sendHello(c.marshal())
	c.expectAlert(AlertIllegalParameter)
	alWantAlert(t, "server", alWait(t, errc), AlertIllegalParameter, false)
}

// TestAlertsServerKeyChangeSpan: RFC 8446 5.1 — a handshake message may not
// span a key change. The client sends its ClientHello and the first bytes
// of another message in one record; the server must refuse with
// unexpected_message, in a form the client can read: it has no ServerHello
// yet, so the alert must come in plaintext (or after the ServerHello).
func TestAlertsServerKeyChangeSpan(t *testing.T) {
	c, errc := alDialServer(t, alServerConfig())
	c.sendHello(append(c.marshal(), typeFinished, 0, 0))
	err := alWait(t, errc)
	alWantAlert(t, "server", err, AlertUnexpectedMessage, false)
	typ, data, rerr := c.next()
	if rerr != nil {
		t.Fatalf("raw client: %v", rerr)
	}
	if typ == recordTypeApplicationData {
		t.Fatalf("the server discards its buffered ServerHello flight and sends the alert protected under the server handshake keys, which the client cannot have (server error: %v)", err)
	}
	if typ == recordTypeAlert {
		if !bytes.Equal(data, []byte{2, byte(AlertUnexpectedMessage)}) {
			t.Errorf("raw client: alert %x, want 020a", data)
		}
		return
	}
	// A ServerHello first is acceptable only if the alert follows it.
	if typ != recordTypeHandshake || data[0] != typeServerHello {
		t.Errorf("raw client: first record of type %d, want a plaintext alert or a ServerHello", typ)
	}
}

// alSkipUnlessAlert fails the test when err carries an alert other than
// want. (It once skipped known bugs; they are fixed.)
func alSkipUnlessAlert(t *testing.T, side string, err error, want Alert, bug string) {
	t.Helper()
	var ae *AlertError
	if errors.As(err, &ae) && ae.Alert != want {
		t.Errorf("%s: %s sent %v, want %v", bug, side, ae.Alert, want)
	}
}

// TestAlertsClientExtensionRules covers RFC 8446 4.2: a response to an
// extension that was not requested is an unsupported_extension; an
// extension the client recognises in a message it is not allowed in is an
// illegal_parameter. And D.5: a legacy_version of 0x0300 is a
// protocol_version.
func TestAlertsClientExtensionRules(t *testing.T) {
	t.Run("ALPN in ServerHello (offered in ClientHello)", func(t *testing.T) {
		cerr, serr := alRunEditedServerHello(t, func(c, s *Config) {
			c.NextProtos = []string{"h2"}
		}, func(msg []byte) []byte {
			return alEditExts(msg, func(e []alExt) []alExt { return append(e, alExt{extALPN, []byte{0, 3, 2, 'h', '2'}}) })
		})
		alSkipUnlessAlert(t, "client", cerr, AlertIllegalParameter, "an extension the client recognises, in a ServerHello where it is not allowed (RFC 8446 4.2)")
		alWantAlert(t, "client", cerr, AlertIllegalParameter, false)
		alWantAlert(t, "server", serr, AlertIllegalParameter, true)
	})
	t.Run("cookie in ServerHello", func(t *testing.T) {
		cerr, serr := alRunEditedServerHello(t, nil, func(msg []byte) []byte {
			return alEditExts(msg, func(e []alExt) []alExt { return append(e, alExt{extCookie, []byte{0, 1, 1}}) })
		})
		alSkipUnlessAlert(t, "client", cerr, AlertIllegalParameter, "cookie (recognised, allowed only in a HelloRetryRequest) in a ServerHello (RFC 8446 4.2)")
		alWantAlert(t, "client", cerr, AlertIllegalParameter, false)
		alWantAlert(t, "server", serr, AlertIllegalParameter, true)
	})
	t.Run("ServerHello legacy_version 0x0300", func(t *testing.T) {
		cerr, serr := alRunEditedServerHello(t, nil, alSH(func(sh *serverHelloMsg) { sh.vers = 0x0300 }))
		alSkipUnlessAlert(t, "client", cerr, AlertProtocolVersion, "ServerHello.legacy_version 0x0300 (RFC 8446 D.5)")
		alWantAlert(t, "client", cerr, AlertProtocolVersion, false)
		alWantAlert(t, "server", serr, AlertProtocolVersion, true)
	})
	t.Run("ALPN in EncryptedExtensions, none offered", func(t *testing.T) {
		s, errc := alDialClient(t, alClientConfig())
		s.readHello()
		s.sendServerHello(nil)
		s.sendProtected(alEE([]alExt{{extALPN, []byte{0, 3, 2, 'h', '2'}}}))
		err := alWait(t, errc)
		alSkipUnlessAlert(t, "client", err, AlertUnsupportedExtension, "an ALPN response to a client that sent no ALPN (RFC 8446 4.2)")
		alWantAlert(t, "client", err, AlertUnsupportedExtension, false)
		s.expectAlert(AlertUnsupportedExtension)
	})
}

// TestAlertsPSK covers the external-PSK rows (PROFILE.md section 5, RFC
// 8446 4.2.11).
func TestAlertsPSK(t *testing.T) {
	psk := PSK{Identity: []byte("pairing-id-0001"), Secret: bytes.Repeat([]byte{0x5a}, 32)}
	serverPSK := func(p PSK) func(*Config) {
		return func(s *Config) {
			s.GetPSK = func(id []byte) (PSK, bool) { return p, bytes.Equal(id, p.Identity) }
		}
	}
	pskClient := func(c *Config) { c.Code, c.PSKs = nil, []PSK{psk} }

	// Rejections in answer to the ClientHello: plaintext, the client
	// reports them as received.
	for _, tc := range []struct {
		name       string
		ccfg, scfg func(*Config)
		hook       func(bool, int, []byte) []byte
		want       Alert
	}{
		{"binder does not verify (different secret)", pskClient,
			serverPSK(PSK{Identity: psk.Identity, Secret: bytes.Repeat([]byte{0xa5}, 32)}), nil, AlertDecryptError},
		{"binder does not verify (code also offered)", func(c *Config) { c.PSKs = []PSK{psk} },
			serverPSK(PSK{Identity: psk.Identity, Secret: bytes.Repeat([]byte{0xa5}, 32)}), nil, AlertDecryptError},
		{"binder bit flipped in flight", pskClient, serverPSK(psk), func(toClient bool, n int, rec []byte) []byte {
			if !toClient && n == 0 {
				rec[len(rec)-1] ^= 1 // the binders end the ClientHello
			}
			return rec
		}, AlertDecryptError},
		{"unknown PSK identity and no pake", pskClient, serverPSK(PSK{Identity: []byte("other"), Secret: psk.Secret}), nil, AlertUnknownPSKIdentity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ccfg, scfg := alClientConfig(), alServerConfig()
			tc.ccfg(ccfg)
			tc.scfg(scfg)
			hook := tc.hook
			if hook == nil {
				hook = func(_ bool, _ int, rec []byte) []byte { return rec }
			}
			cc, sc := alRelay(t, ccfg, scfg, hook)
			cerr, serr := alHandshake(cc), alHandshake(sc)
			alWantAlert(t, "server", alWait(t, serr), tc.want, false)
			alWantAlert(t, "client", alWait(t, cerr), tc.want, true)
		})
	}

	// ServerHello rewritten in flight for a client offering a PSK.
	for _, tc := range []struct {
		name string
		ccfg func(*Config)
		edit func(*serverHelloMsg)
		want Alert
	}{
		{"selected_identity out of range", pskClient, func(sh *serverHelloMsg) { sh.selectedIdentity = 1 }, AlertIllegalParameter},
		{"both pre_shared_key and pake", func(c *Config) { c.PSKs = []PSK{psk} }, func(sh *serverHelloMsg) {
			sh.hasPAKE = true
			sh.pake = (&pakeServerHello{pakeShare{PAKECPaceX25519SHA512, make([]byte, 32)}}).marshal()
		}, AlertIllegalParameter},
		{"pake answered to a client that offered none", pskClient, func(sh *serverHelloMsg) {
			sh.hasPSK = false
			sh.hasPAKE = true
			sh.pake = (&pakeServerHello{pakeShare{PAKECPaceX25519SHA512, make([]byte, 32)}}).marshal()
		}, AlertUnsupportedExtension},
		{"neither pre_shared_key nor pake", pskClient, func(sh *serverHelloMsg) { sh.hasPSK = false }, AlertMissingExtension},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cerr, serr := alRunEditedServerHello(t, func(c, s *Config) {
				tc.ccfg(c)
				serverPSK(psk)(s)
			}, alSH(tc.edit))
			alWantAlert(t, "client", cerr, tc.want, false)
			alWantAlert(t, "server", serr, tc.want, true)
		})
	}

	t.Run("control/PSK handshake", func(t *testing.T) {
		ccfg, scfg := alClientConfig(), alServerConfig()
		pskClient(ccfg)
		serverPSK(psk)(scfg)
		a, b := alPair(t)
		cerr, serr := alHandshake(Client(a, ccfg)), alHandshake(Server(b, scfg))
		if err := alWait(t, cerr); err != nil {
			t.Errorf("client: %v", err)
		}
		if err := alWait(t, serr); err != nil {
			t.Errorf("server: %v", err)
		}
	})
}
