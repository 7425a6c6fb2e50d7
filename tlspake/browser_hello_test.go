// This file needs github.com/refraction-networking/utls v1.8.2, which
// go.mod does not require yet. Until it does (go get
// github.com/refraction-networking/utls@v1.8.2), it builds only with
// -tags utls and an added requirement; then drop the constraint above.

package tlspake

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/mlkem"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	utls "github.com/refraction-networking/utls"

	"github.com/tlspake/pake/tlspake/cpace"
)

// Browser-shaped ClientHellos: uTLS parrots of current Chrome and Firefox
// (and Safari), with GREASE, padding, encrypted_client_hello GREASE,
// compress_certificate, application_settings, delegated_credentials,
// record_size_limit and their post-quantum key shares, plus our pake
// extension carrying a real CPace share. The server must ignore every
// extension it does not know and answer with a ServerHello that selects
// pake. The uTLS client then fails (it does not mix the ISK into its key
// schedule); the test checks the server's reply on the wire, and, by
// deriving the handshake keys independently from the browser's private
// keys and the CPace result, that the server's protected flight decrypts
// and its Finished verifies.

// browserCode is the server's code in these tests.
var browserCode = []byte("7K3QM-XR2PD")

// browserCase is one ClientHello shape.
type browserCase struct {
	name string
	spec func() (utls.ClientHelloSpec, error)
	// want lists extension types the shape must put on the wire (besides
	// pake), to show that they reached the server's parser.
	want []uint16
	// grease is set for shapes that send GREASE values.
	grease bool
}

func parrot(id utls.ClientHelloID) func() (utls.ClientHelloSpec, error) {
	return func() (utls.ClientHelloSpec, error) { return utls.UTLSIdToSpec(id) }
}

// firefoxVariant is Firefox 120's ClientHello with X25519MLKEM768 first
// in supported_groups when pq is set, and key shares for shares only
// (nil: the parrot's own shares, plus X25519MLKEM768 first when pq is
// set). pq with the default shares is the shape of current Firefox (132
// and later). A P-256 share only makes a server that wants X25519 send a
// HelloRetryRequest. (A HelloRetryRequest for X25519MLKEM768 cannot be
// tested: crypto/tls, and so uTLS, does not support one.)
func firefoxVariant(pq bool, shares []utls.CurveID) func() (utls.ClientHelloSpec, error) {
	return func() (utls.ClientHelloSpec, error) {
		spec, err := utls.UTLSIdToSpec(utls.HelloFirefox_120)
		if err != nil {
			return spec, err
		}
		for _, e := range spec.Extensions {
			switch e := e.(type) {
			case *utls.SupportedCurvesExtension:
				if pq {
					e.Curves = append([]utls.CurveID{utls.X25519MLKEM768}, e.Curves...)
				}
			case *utls.KeyShareExtension:
				switch {
				case shares != nil:
					e.KeyShares = nil
					for _, g := range shares {
						e.KeyShares = append(e.KeyShares, utls.KeyShare{Group: g})
					}
				case pq:
					e.KeyShares = append([]utls.KeyShare{{Group: utls.X25519MLKEM768}}, e.KeyShares...)
				}
			}
		}
		return spec, nil
	}
}

func browserCases() []browserCase {
	// Extension code points of the browser extensions the server does not
	// know (IANA registry; ALPS and ECH are the values browsers use).
	const (
		extStatusRequest     uint16 = 5
		extECPointFormats    uint16 = 11
		extSCT               uint16 = 18
		extEMS               uint16 = 23
		extCompressCert      uint16 = 27
		extRecordSizeLimit   uint16 = 28
		extDelegatedCreds    uint16 = 34
		extSessionTicket     uint16 = 35
		extALPSOld           uint16 = 0x4469
		extALPSNew           uint16 = 0x44cd
		extECH               uint16 = 0xfe0d
		extRenegotiationInfo uint16 = 0xff01
	)
	chromeExts := []uint16{extStatusRequest, extECPointFormats, extSCT, extEMS, extCompressCert, extSessionTicket, extRenegotiationInfo, extECH, extSignatureAlgorithms, extPSKModes}
	firefoxExts := []uint16{extStatusRequest, extECPointFormats, extEMS, extRecordSizeLimit, extDelegatedCreds, extSessionTicket, extRenegotiationInfo, extECH, extSignatureAlgorithms, extPSKModes}
	return []browserCase{
		{"Chrome_Auto", parrot(utls.HelloChrome_Auto), append(slices.Clone(chromeExts), extALPSNew), true},
		{"Chrome_131", parrot(utls.HelloChrome_131), append(slices.Clone(chromeExts), extALPSOld), true},
		{"Chrome_120", parrot(utls.HelloChrome_120), append(slices.Clone(chromeExts[:7]), extALPSOld), true},
		{"Chrome_115_PQ", parrot(utls.HelloChrome_115_PQ), chromeExts[:7], true},
		{"Firefox_Auto", parrot(utls.HelloFirefox_Auto), firefoxExts, false},
		{"Firefox_PQ", firefoxVariant(true, nil), firefoxExts, false},
		{"Firefox_P256_share_only", firefoxVariant(false, []utls.CurveID{utls.CurveP256}), firefoxExts, false},
		{"Safari_16_0", parrot(utls.HelloSafari_16_0), []uint16{extStatusRequest, extSCT, extEMS, extCompressCert}, true},
	}
}

// addPAKE puts a pake extension into spec, before padding and
// pre_shared_key (which must stay last), or else before a trailing GREASE
// extension, and returns it.
func addPAKE(spec *utls.ClientHelloSpec) *utls.GenericExtension {
	ext := &utls.GenericExtension{Id: ExtensionPAKE}
	i := slices.IndexFunc(spec.Extensions, func(e utls.TLSExtension) bool {
		switch e.(type) {
		case *utls.UtlsPaddingExtension, utls.PreSharedKeyExtension:
			return true
		}
		return false
	})
	if i < 0 {
		i = len(spec.Extensions)
		if _, ok := spec.Extensions[i-1].(*utls.UtlsGREASEExtension); ok {
			i--
		}
	}
	spec.Extensions = slices.Insert(spec.Extensions, i, utls.TLSExtension(ext))
	return ext
}

// browserTapConn records everything written to it.
type browserTapConn struct {
	net.Conn
	mu  sync.Mutex
	out []byte
}

func (c *browserTapConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.out = append(c.out, b...)
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *browserTapConn) written() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.out)
}

// loopbackPair returns the two ends of a loopback TCP connection (kernel
// buffers, so neither side blocks on a write the other has not read yet).
func loopbackPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			c = nil
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		client.Close()
		t.Fatal("accept failed")
	}
	deadline := time.Now().Add(15 * time.Second)
	client.SetDeadline(deadline)
	server.SetDeadline(deadline)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// extensionTypes lists the extension types of a ClientHello, in order.
func extensionTypes(t *testing.T, msg []byte) []uint16 {
	t.Helper()
	b := msg[4+2+32:]
	b = b[1+int(b[0]):]
	b = b[2+int(binary.BigEndian.Uint16(b)):]
	b = b[1+int(b[0]):]
	exts := b[2:]
	var types []uint16
	for len(exts) >= 4 {
		types = append(types, binary.BigEndian.Uint16(exts))
		exts = exts[4+int(binary.BigEndian.Uint16(exts[2:])):]
	}
	return types
}

func isGREASEValue(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

// browserECDHE computes the (EC)DHE shared secret from the browser's side,
// with the private keys uTLS generated for its key shares.
func browserECDHE(keys *utls.KeySharePrivateKeys, g CurveID, clientShare, serverShare []byte) ([]byte, error) {
	x25519With := func(pub, peer []byte) ([]byte, error) {
		for _, k := range []*ecdh.PrivateKey{keys.Ecdhe, keys.MlkemEcdhe} {
			if k != nil && k.Curve() == ecdh.X25519() && bytes.Equal(k.PublicKey().Bytes(), pub) {
				p, err := ecdh.X25519().NewPublicKey(peer)
				if err != nil {
					return nil, err
				}
				return k.ECDH(p)
			}
		}
		return nil, fmt.Errorf("no uTLS private key for the X25519 share %x", pub)
	}
	switch g {
	case X25519:
		return x25519With(clientShare, serverShare)
	case X25519MLKEM768:
		ekLen := mlkem.EncapsulationKeySize768
		if keys.Mlkem == nil || !bytes.Equal(keys.Mlkem.EncapsulationKey().Bytes(), clientShare[:ekLen]) {
			return nil, fmt.Errorf("no uTLS ML-KEM key for the share")
		}
		if len(serverShare) != mlkem.CiphertextSize768+32 {
			return nil, fmt.Errorf("X25519MLKEM768 server share of %d bytes", len(serverShare))
		}
		kem, err := keys.Mlkem.Decapsulate(serverShare[:mlkem.CiphertextSize768])
		if err != nil {
			return nil, err
		}
		x, err := x25519With(clientShare[ekLen:], serverShare[mlkem.CiphertextSize768:])
		if err != nil {
			return nil, err
		}
		return append(kem, x...), nil
	}
	return nil, fmt.Errorf("group %v", g)
}

// verifyServerFlight derives the server handshake traffic secret as the
// browser would with the PAKE (ISK || ECDHE), decrypts the server's
// protected records that follow the ServerHello, and checks that they are
// EncryptedExtensions (with ALPN alpn) and a Finished that verifies.
func verifyServerFlight(t *testing.T, transcript [][]byte, suite *cipherSuite, isk, ecdhe []byte, recs []wireRecord, alpn string) {
	t.Helper()
	h := suite.hash
	tr := h.New()
	for _, m := range transcript {
		tr.Write(m)
	}
	hsSecret := handshakeSecret(h, earlySecret(h, nil), append(slices.Clone(isk), ecdhe...))
	sHS := deriveSecret(h, hsSecret, labelServerHandshake, tr)
	var in halfConn
	if err := in.setTrafficSecret(suite, sHS); err != nil {
		t.Fatal(err)
	}
	var hs []byte
	for _, r := range recs {
		if r.typ != recordTypeApplicationData {
			continue
		}
		plain, err := in.aead.Open(nil, in.nonce(), r.body, r.header)
		if err != nil {
			t.Fatalf("the server's protected record %d does not decrypt with keys derived from the browser's side: %v", in.seq, err)
		}
		in.seq++
		i := len(plain) - 1
		for i >= 0 && plain[i] == 0 {
			i--
		}
		if i < 0 || plain[i] != recordTypeHandshake {
			t.Fatalf("protected record of inner type %v", plain[i:])
		}
		hs = append(hs, plain[:i]...)
		if len(hs) >= 4 && hs[0] == typeEncryptedExtensions {
			n := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
			if len(hs) >= 4+n+4 && hs[4+n] == typeFinished {
				break
			}
		}
	}
	msgs := plainHandshakeMessages([]wireRecord{{typ: recordTypeHandshake, body: hs}})
	if len(msgs) != 2 || msgs[0][0] != typeEncryptedExtensions || msgs[1][0] != typeFinished {
		t.Fatalf("the server's protected flight is not EncryptedExtensions, Finished: %x", hs)
	}
	ee, err := parseEncryptedExtensions(msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	if ee.alpn != alpn {
		t.Errorf("EncryptedExtensions ALPN %q, want %q", ee.alpn, alpn)
	}
	tr.Write(msgs[0])
	if want := finishedVerifyData(h, sHS, tr); !bytes.Equal(msgs[1][4:], want) {
		t.Fatal("the server's Finished does not verify with keys derived from the browser's side: the server did not use ISK(sid = ClientHello.random) || ECDHE")
	}
}

func TestBrowserClientHellos(t *testing.T) {
	seedDir := os.Getenv("TLSPAKE_WRITE_FUZZ_SEEDS") // set to write the hellos as fuzz seeds
	padded := false
	for _, bc := range browserCases() {
		for _, groups := range [][]CurveID{{X25519}, {X25519MLKEM768, X25519}} {
			t.Run(fmt.Sprintf("%s/server=%v", bc.name, groups), func(t *testing.T) {
				ch := runBrowserHello(t, bc, groups)
				if slices.Contains(extensionTypes(t, ch), extPadding) {
					padded = true
				}
				if seedDir != "" && len(groups) == 1 {
					writeBrowserSeeds(t, seedDir, bc.name, ch)
				}
			})
		}
	}
	if !padded && !t.Failed() {
		t.Error("no browser shape sent the padding extension")
	}
}

// runBrowserHello runs one uTLS client with a browser shape against our
// server and checks the server's reply. It returns the first ClientHello.
func runBrowserHello(t *testing.T, bc browserCase, serverGroups []CurveID) []byte {
	spec, err := bc.spec()
	if err != nil {
		t.Fatal(err)
	}
	pakeExt := addPAKE(&spec)

	cConn, sConn := loopbackPair(t)
	cRec, sRec := &browserTapConn{Conn: cConn}, &browserTapConn{Conn: sConn}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()

	uc := utls.UClient(cRec, &utls.Config{ServerName: "device.local", InsecureSkipVerify: true}, utls.HelloCustom)
	if err := uc.ApplyPreset(&spec); err != nil {
		t.Fatal(err)
	}
	// A real CPace initiator share: sid is this ClientHello's random.
	random := slices.Clone(uc.HandshakeState.Hello.Random)
	clientID, serverID := []byte("browser"), []byte("device")
	ini, err := cpace.NewInitiator(&cpace.Inputs{PRS: browserCode, CI: pakeContext(clientID, serverID), SID: random}, nil, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pakeExt.Data = (&pakeClientHello{clientIdentity: clientID, serverIdentity: serverID,
		shares: []pakeShare{{PAKECPaceX25519SHA512, ini.Message()}}}).marshal()
	keys := uc.HandshakeState.State13.KeyShareKeys

	srv := Server(sRec, &Config{Code: browserCode, ServerIdentity: serverID, Groups: serverGroups,
		NextProtos: []string{"h2"}, HandshakeTimeout: 15 * time.Second})
	srvErr := make(chan error, 1)
	go func() {
		err := srv.HandshakeContext(ctx)
		srv.Close()
		srvErr <- err
	}()
	cliErr := uc.HandshakeContext(ctx)
	uc.Close()
	sErr := <-srvErr
	if cliErr == nil {
		t.Fatal("the uTLS client completed a handshake that needs the ISK")
	}
	if sErr == nil {
		t.Fatal("the server completed a handshake with a client that has no ISK")
	}
	t.Logf("uTLS client: %v; server: %v", cliErr, sErr)

	cRecs, _ := splitWireRecords(cRec.written())
	sRecs, _ := splitWireRecords(sRec.written())
	hellos := plainHandshakeMessages(cRecs)
	if len(hellos) == 0 {
		t.Fatal("the uTLS client sent no ClientHello")
	}
	ch := hellos[0]
	hello, err := parseClientHello(ch)
	if err != nil {
		t.Fatalf("our parser rejects the browser ClientHello: %v", err)
	}
	types := extensionTypes(t, ch)
	t.Logf("%d-byte ClientHello, extensions %x", len(ch), types)
	checkBrowserHelloShape(t, bc, hello, types)

	// The server's reply: the first record is its ServerHello (or
	// HelloRetryRequest), never an alert.
	if len(sRecs) == 0 {
		t.Fatalf("the server sent nothing (%v)", sErr)
	}
	if sRecs[0].typ == recordTypeAlert {
		t.Fatalf("the server rejected the browser ClientHello with alert %v (%v)", Alert(sRecs[0].body[len(sRecs[0].body)-1]), sErr)
	}
	if sRecs[0].typ != recordTypeHandshake {
		t.Fatalf("the server's first record has type %d", sRecs[0].typ)
	}
	first, err := parseServerHello(sRecs[0].body)
	if err != nil {
		t.Fatalf("the server's first record is not a ServerHello: %v", err)
	}
	wantGroup := CurveID(0)
	for _, g := range serverGroups {
		if slices.Contains(hello.supportedGroups, g) {
			wantGroup = g
			break
		}
	}
	hasShare := slices.ContainsFunc(hello.keyShares, func(ks keyShare) bool { return ks.group == wantGroup })
	if first.isHelloRetryRequest() {
		if hasShare {
			t.Fatalf("HelloRetryRequest although the browser sent a %v share", wantGroup)
		}
		if first.hasPAKE || first.selectedGroup != wantGroup {
			t.Fatalf("HelloRetryRequest with pake %v, group %v (want %v)", first.hasPAKE, first.selectedGroup, wantGroup)
		}
		if len(hellos) < 2 {
			t.Fatalf("the uTLS client did not send a second ClientHello (%v)", cliErr)
		}
		h2, err := parseClientHello(hellos[1])
		if err != nil {
			t.Fatalf("our parser rejects the browser's second ClientHello: %v", err)
		}
		if !bytes.Equal(h2.pake, hello.pake) {
			t.Fatal("uTLS changed the pake extension in its second ClientHello")
		}
		t.Logf("HelloRetryRequest for %v; second ClientHello of %d bytes", wantGroup, len(hellos[1]))
	} else if !hasShare {
		t.Fatalf("ServerHello although the browser sent no %v share", wantGroup)
	}

	msgs := plainHandshakeMessages(sRecs)
	shMsg := msgs[len(msgs)-1]
	sh, err := parseServerHello(shMsg)
	if err != nil || sh.isHelloRetryRequest() {
		t.Fatalf("the server sent no ServerHello after %d messages (%v, %v)", len(msgs), err, sErr)
	}
	if !sh.hasPAKE {
		t.Fatal("the server's ServerHello has no pake extension")
	}
	ph, err := parsePAKEServerHello(sh.pake)
	if err != nil {
		t.Fatal(err)
	}
	if ph.share.scheme != PAKECPaceX25519SHA512 || len(ph.share.message) != cpace.MessageSize {
		t.Fatalf("server PAKE share: scheme %v, %d bytes", ph.share.scheme, len(ph.share.message))
	}
	if sh.serverShare.group != wantGroup {
		t.Fatalf("the server selected group %v, want %v", sh.serverShare.group, wantGroup)
	}
	wantLen := map[CurveID]int{X25519: 32, X25519MLKEM768: mlkem.CiphertextSize768 + 32}[wantGroup]
	if len(sh.serverShare.data) != wantLen {
		t.Fatalf("%v server key share of %d bytes, want %d", wantGroup, len(sh.serverShare.data), wantLen)
	}
	if sh.supportedVersion != VersionTLS13 || !bytes.Equal(sh.sessionID, hello.sessionID) ||
		!slices.Contains(hello.cipherSuites, sh.cipherSuite) || cipherSuiteByID(sh.cipherSuite) == nil {
		t.Fatalf("ServerHello version %04x, session id echoed %v, suite %04x",
			sh.supportedVersion, bytes.Equal(sh.sessionID, hello.sessionID), sh.cipherSuite)
	}

	res, err := ini.Finish(ph.share.message, nil)
	if err != nil {
		t.Fatalf("the server's CPace share: %v", err)
	}
	// The transcript, and the ClientHello whose key share the server used.
	suite := cipherSuiteByID(sh.cipherSuite)
	transcript := [][]byte{ch, shMsg}
	final := hello
	if first.isHelloRetryRequest() {
		d := suite.hash.New()
		d.Write(ch)
		final, _ = parseClientHello(hellos[1])
		transcript = [][]byte{messageHash(d.Sum(nil)), msgs[0], hellos[1], shMsg}
	}
	var clientShare []byte
	for _, ks := range final.keyShares {
		if ks.group == wantGroup {
			clientShare = ks.data
		}
	}
	// uTLS makes a new key for the second ClientHello; it is in
	// HandshakeState once the handshake has returned.
	ecdhe, err := browserECDHE(uc.HandshakeState.State13.KeyShareKeys, wantGroup, clientShare, sh.serverShare.data)
	if err != nil {
		ecdhe, err = browserECDHE(keys, wantGroup, clientShare, sh.serverShare.data)
	}
	if err != nil {
		t.Fatal(err)
	}
	verifyServerFlight(t, transcript, suite, res.ISK, ecdhe, sRecs[1:], "h2")
	return ch
}

// checkBrowserHelloShape checks that the ClientHello really has the
// browser's features, so that the test exercises the parser on them.
func checkBrowserHelloShape(t *testing.T, bc browserCase, hello *clientHelloMsg, types []uint16) {
	t.Helper()
	if !hello.hasPAKE || !hello.hasSignatureAlgs || !hello.hasKeyShare || !hello.hasSupportedGroups {
		t.Fatalf("browser ClientHello: pake %v, signature_algorithms %v, key_share %v, supported_groups %v",
			hello.hasPAKE, hello.hasSignatureAlgs, hello.hasKeyShare, hello.hasSupportedGroups)
	}
	for _, e := range bc.want {
		if !slices.Contains(types, e) {
			t.Errorf("the %s ClientHello has no extension %d (0x%04x)", bc.name, e, e)
		}
	}
	p := slices.Index(types, ExtensionPAKE)
	for _, last := range []uint16{extPadding, extPreSharedKey} {
		if i := slices.Index(types, last); i >= 0 && i < p {
			t.Errorf("pake is placed after extension %d", last)
		}
	}
	if bc.grease {
		groups := make([]uint16, 0, len(hello.supportedGroups))
		for _, g := range hello.supportedGroups {
			groups = append(groups, uint16(g))
		}
		for what, list := range map[string][]uint16{
			"extension": types, "cipher suite": hello.cipherSuites,
			"supported group": groups, "supported version": hello.supportedVersions,
		} {
			if !slices.ContainsFunc(list, isGREASEValue) {
				t.Errorf("the %s ClientHello has no GREASE %s", bc.name, what)
			}
		}
	}
}

// writeBrowserSeeds writes a browser ClientHello as seed files of the
// fuzz targets (run with TLSPAKE_WRITE_FUZZ_SEEDS=testdata/fuzz).
func writeBrowserSeeds(t *testing.T, dir, name string, ch []byte) {
	t.Helper()
	write := func(target, content string) {
		d := filepath.Join(dir, target)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(d, "browser-"+strings.ToLower(name))
		if err := os.WriteFile(file, []byte("go test fuzz v1\n"+content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	body := fmt.Sprintf("[]byte(%q)\n", ch[4:])
	write("FuzzParseClientHello", body)
	write("FuzzServerHandshake", body+"bool(true)\n")
	write("FuzzRecordReader", fmt.Sprintf("[]byte(%q)\nuint16(0)\nbool(false)\n", handshakeRecords(ch)))
}
