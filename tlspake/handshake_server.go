package tlspake

import (
	"bytes"
	"crypto/hmac"
	"errors"
	"hash"
	"io"
	"slices"

	"github.com/tlspake/pake/internal/cpacecore"
	"github.com/tlspake/pake/tlspake/cpace"
)

// serverHandshakeState is the server's side of one handshake; each step is
// a method, run in order by serverHandshake.
type serverHandshakeState struct {
	c          *Conn
	hello      *clientHelloMsg
	firstHello *clientHelloMsg // set after a HelloRetryRequest
	pakeHello  *pakeClientHello
	clientYa   []byte
	psk        *PSK // the selected external PSK, if any
	pskIndex   int
	attempt    func(success bool) // from Config.Attempts
	suite      *cipherSuite
	group      CurveID
	alpn       string
	isk        []byte
	serverYb   []byte
	transcript transcript
	hsSecret   []byte
	cHSSecret  []byte
	master     []byte
	cAP        []byte
}

func (c *Conn) serverHandshake() error {
	hs := &serverHandshakeState{c: c}
	hs.transcript.trace = c.trace
	defer hs.wipe()
	var err error
	defer func() {
		if hs.attempt != nil {
			hs.attempt(err == nil)
		}
	}()
	for _, step := range []func() error{
		hs.readClientHello,
		hs.selectPSK,
		hs.checkAttempts,
		hs.negotiate,
		hs.acceptClientHello,
		hs.runPAKE,
		hs.sendServerHello,
		hs.sendServerFlight,
		hs.readClientFinished,
	} {
		if err = step(); err != nil {
			err = c.fatal(err)
			return err
		}
	}
	return nil
}

func (hs *serverHandshakeState) wipe() {
	clear(hs.isk)
	clear(hs.hsSecret)
	clear(hs.cHSSecret)
	clear(hs.master)
}

// readClientHello reads the first ClientHello and checks that it parses
// and that its structure is legal.
func (hs *serverHandshakeState) readClientHello() error {
	cfg := hs.c.config
	msg, err := hs.c.readHandshake()
	if err != nil {
		return err
	}
	if msg[0] != typeClientHello {
		return alertf(AlertUnexpectedMessage, "expected ClientHello, got handshake message %d", msg[0])
	}
	if len(cfg.Code) == 0 && cfg.GetCode == nil && cfg.GetPSK == nil {
		// Checked once a client is there, so that it is told (internal_error).
		return errors.New("tlspake: server Config has none of Code, GetCode and GetPSK")
	}
	hello, err := parseClientHello(msg)
	if err != nil {
		return err
	}
	hs.c.allowCCS = true
	if hello.earlyData {
		hs.c.earlySkip = maxEarlySkip // never accepted: skip what the client sends
	}
	hs.hello = hello
	return hs.checkClientHello(hello)
}

// checkClientHello checks a ClientHello's structure, in the order of
// PROFILE.md's alert table, then RFC 8446's own rules.
func (hs *serverHandshakeState) checkClientHello(h *clientHelloMsg) error {
	if !h.hasSupportedVersions || !slices.Contains(h.supportedVersions, VersionTLS13) {
		return alertf(AlertProtocolVersion, "the client does not offer TLS 1.3")
	}
	if h.vers <= 0x0300 {
		// RFC 8446 D.5: legacy_version is otherwise not used for version
		// negotiation, but SSL 3.0 or below is refused.
		return alertf(AlertProtocolVersion, "ClientHello legacy_version 0x%04x is SSL 3.0 or older", h.vers)
	}
	if !bytes.Equal(h.compressionMethods, []byte{0}) {
		return alertf(AlertIllegalParameter, "ClientHello offers compression")
	}
	if h.hasPSK && len(h.pskModes) == 0 {
		return alertf(AlertMissingExtension, "pre_shared_key without psk_key_exchange_modes")
	}
	if h.earlyData && !h.hasPSK {
		return alertf(AlertIllegalParameter, "early_data without pre_shared_key")
	}
	if !h.hasPAKE && !h.hasPSK {
		if h.hasSignatureAlgs {
			return alertf(AlertHandshakeFailure, "the client wants certificate authentication; this server authenticates with a code or a pre-shared key only")
		}
		return alertf(AlertMissingExtension, "ClientHello has neither pake nor pre_shared_key")
	}
	if !h.hasKeyShare || !h.hasSupportedGroups {
		if h.hasPAKE {
			return alertf(AlertMissingExtension, "pake without key_share or supported_groups")
		}
		return alertf(AlertMissingExtension, "pre_shared_key without key_share or supported_groups (psk_ke is not supported)")
	}
	if err := hs.checkPAKEHello(h); err != nil {
		return err
	}
	return hs.checkNegotiation(h)
}

// checkPAKEHello checks the pake extension's structure, if present.
func (hs *serverHandshakeState) checkPAKEHello(h *clientHelloMsg) error {
	if !h.hasPAKE {
		return nil
	}
	ph, err := parsePAKEClientHello(h.pake)
	if err != nil {
		return err
	}
	var ya []byte
	for _, s := range ph.shares {
		if s.scheme == PAKECPaceX25519SHA512 {
			ya = s.message
		}
	}
	if ya == nil {
		return alertf(AlertIllegalParameter, "no PAKE scheme in common with the client")
	}
	if len(ya) != cpace.MessageSize {
		return alertf(AlertDecodeError, "the client's CPace share is %d bytes, want %d", len(ya), cpace.MessageSize)
	}
	hs.pakeHello, hs.clientYa = ph, ya
	return nil
}

// checkNegotiation checks key shares and picks the suite, group and ALPN
// protocol.
func (hs *serverHandshakeState) checkNegotiation(h *clientHelloMsg) error {
	cfg := hs.c.config
	seen := map[CurveID]bool{}
	for _, ks := range h.keyShares {
		if seen[ks.group] {
			return alertf(AlertIllegalParameter, "two key shares for group %v", ks.group)
		}
		seen[ks.group] = true
		if !slices.Contains(h.supportedGroups, ks.group) {
			return alertf(AlertIllegalParameter, "key share for group %v, which supported_groups does not list", ks.group)
		}
	}
	if hs.suite == nil {
		for _, id := range cfg.cipherSuites() {
			if slices.Contains(h.cipherSuites, id) && cipherSuiteByID(id) != nil {
				hs.suite = cipherSuiteByID(id)
				break
			}
		}
		if hs.suite == nil {
			return alertf(AlertHandshakeFailure, "no cipher suite in common with the client")
		}
	}
	for _, ks := range h.keyShares {
		if want := keyShareSize(ks.group); want > 0 && len(ks.data) != want {
			return alertf(AlertIllegalParameter, "key share for %v of %d bytes, want %d", ks.group, len(ks.data), want)
		}
	}
	if hs.group == 0 {
		for _, g := range cfg.groups() {
			if slices.Contains(h.supportedGroups, g) && groupSupported(g) {
				hs.group = g
				break
			}
		}
		if hs.group == 0 {
			return alertf(AlertHandshakeFailure, "no key exchange group in common with the client")
		}
	}
	if len(h.alpnProtocols) > 0 && len(cfg.NextProtos) > 0 {
		hs.alpn = ""
		for _, p := range cfg.NextProtos {
			if slices.Contains(h.alpnProtocols, p) {
				hs.alpn = p
				break
			}
		}
		if hs.alpn == "" {
			return alertf(AlertNoApplicationProtocol, "no ALPN protocol in common with the client")
		}
	}
	return nil
}

// checkAttempts asks Config.Attempts whether the server takes this
// attempt, before any PAKE work; a refused code attempt gets
// access_denied (PROFILE.md "Alerts").
func (hs *serverHandshakeState) checkAttempts() error {
	gate := hs.c.config.Attempts
	if gate == nil {
		return nil
	}
	info := AttemptInfo{PSK: hs.psk != nil}
	if a := hs.c.conn.RemoteAddr(); a != nil {
		info.RemoteAddr = a.String()
	}
	done, ok := gate.Begin(info)
	hs.attempt = done
	if !ok && hs.psk == nil {
		return alertf(AlertAccessDenied, "the server is not taking code attempts now")
	}
	return nil
}

// selectPSK picks the first offered PSK identity the server knows, with a
// cipher suite of the PSK's hash. The pake identities play no part.
func (hs *serverHandshakeState) selectPSK() error {
	h, cfg := hs.hello, hs.c.config
	if !h.hasPSK || cfg.GetPSK == nil || !slices.Contains(h.pskModes, pskModeDHE) {
		return hs.requireAuth()
	}
	for i, id := range h.pskIdentities {
		psk, ok := cfg.GetPSK(id.identity)
		if !ok {
			continue
		}
		for _, sid := range cfg.cipherSuites() {
			s := cipherSuiteByID(sid)
			if s != nil && s.hash == psk.hash() && slices.Contains(h.cipherSuites, sid) {
				hs.psk, hs.pskIndex, hs.suite = &psk, i, s
				return nil
			}
		}
	}
	return hs.requireAuth()
}

// requireAuth fails a handshake that has no PSK selected and no PAKE to
// fall back on.
func (hs *serverHandshakeState) requireAuth() error {
	if hs.psk != nil || hs.hello.hasPAKE && (len(hs.c.config.Code) > 0 || hs.c.config.GetCode != nil) {
		return nil
	}
	if hs.hello.hasPSK {
		return alertf(AlertUnknownPSKIdentity, "no offered pre-shared key is known")
	}
	return alertf(AlertHandshakeFailure, "this server does not accept code authentication")
}

// acceptClientHello verifies the selected PSK's binder over the final
// ClientHello before anything else is trusted (RFC 8446 4.2.11.2), then
// adds the ClientHello to the transcript.
func (hs *serverHandshakeState) acceptClientHello() error {
	h := hs.hello
	if len(hs.c.hand) > 0 {
		// The next message may not share a record with the ClientHello
		// across the key change (RFC 8446 5.1); say so in plaintext.
		return alertf(AlertUnexpectedMessage, "handshake data after the ClientHello spans the key change")
	}
	if hs.psk != nil {
		var prior hash.Hash
		if hs.firstHello != nil {
			prior = hs.transcript.clone()
		}
		want := pskBinder(hs.psk, prior, h.raw[:len(h.raw)-h.bindersLen])
		if !hmac.Equal(want, h.pskBinders[hs.pskIndex]) {
			return alertf(AlertDecryptError, "the PSK binder does not verify")
		}
	}
	hs.transcript.add(h.raw)
	return nil
}

// negotiate asks for a new key share with a HelloRetryRequest when the
// client has none for the selected group.
func (hs *serverHandshakeState) negotiate() error {
	if hs.clientShare() != nil {
		hs.transcript.start(hs.suite, false)
		return nil
	}
	hrr := &serverHelloMsg{
		vers:             0x0303,
		random:           helloRetryRequestRandom[:],
		sessionID:        hs.hello.sessionID,
		cipherSuite:      hs.suite.id,
		supportedVersion: VersionTLS13,
		selectedGroup:    hs.group,
	}
	hs.transcript.add(hs.hello.raw)
	hs.transcript.start(hs.suite, true)
	msg := hrr.marshal()
	hs.transcript.add(msg)
	if err := hs.c.writeHandshake(msg); err != nil {
		return err
	}
	if len(hs.hello.sessionID) > 0 {
		if err := hs.c.writeCCS(); err != nil {
			return err
		}
	}
	hs.c.state.DidHelloRetryRequest = true

	msg, err := hs.c.readHandshake()
	if err != nil {
		return err
	}
	if msg[0] != typeClientHello {
		return alertf(AlertUnexpectedMessage, "expected the second ClientHello, got handshake message %d", msg[0])
	}
	h2, err := parseClientHello(msg)
	if err != nil {
		return err
	}
	first := hs.hello
	hs.firstHello, hs.hello = first, h2
	if err := hs.checkClientHello(h2); err != nil {
		return err
	}
	switch {
	case !bytes.Equal(h2.pake, first.pake):
		return alertf(AlertIllegalParameter, "the second ClientHello changed the pake extension")
	case !bytes.Equal(h2.random, first.random):
		return alertf(AlertIllegalParameter, "the second ClientHello changed its random")
	case !bytes.Equal(h2.sessionID, first.sessionID) || !slices.Equal(h2.cipherSuites, first.cipherSuites):
		return alertf(AlertIllegalParameter, "the second ClientHello changed legacy_session_id or cipher_suites")
	case !slices.Contains(h2.cipherSuites, hs.suite.id):
		return alertf(AlertIllegalParameter, "the second ClientHello dropped the selected cipher suite")
	case len(h2.keyShares) != 1 || h2.keyShares[0].group != hs.group:
		return alertf(AlertIllegalParameter, "the second ClientHello does not carry exactly one key share for %v", hs.group)
	case h2.earlyData:
		return alertf(AlertIllegalParameter, "early_data after a HelloRetryRequest")
	case hs.psk != nil && (!h2.hasPSK || len(h2.pskIdentities) <= hs.pskIndex ||
		!bytes.Equal(h2.pskIdentities[hs.pskIndex].identity, first.pskIdentities[hs.pskIndex].identity)):
		return alertf(AlertIllegalParameter, "the second ClientHello changed the offered pre-shared keys")
	}
	return nil
}

func (hs *serverHandshakeState) clientShare() []byte {
	for _, ks := range hs.hello.keyShares {
		if ks.group == hs.group {
			return ks.data
		}
	}
	return nil
}

// runPAKE runs CPace as responder B, or simulates it for an unknown
// identity pair (draft-ietf-tls-pake, "Server Simulation").
func (hs *serverHandshakeState) runPAKE() error {
	if hs.psk != nil {
		return nil // the PSK was selected; the pake extension is ignored
	}
	cfg := hs.c.config
	ph := hs.pakeHello
	var code []byte
	known := false
	if cfg.GetCode != nil {
		code, known = cfg.GetCode(ph.clientIdentity, ph.serverIdentity)
		known = known && len(code) > 0
	} else {
		code, known = cfg.Code, bytes.Equal(ph.serverIdentity, cfg.ServerIdentity)
	}
	ci := pakeContext(ph.clientIdentity, ph.serverIdentity)
	sid := hs.hello.random
	hs.c.state.ClientIdentity = ph.clientIdentity
	hs.c.state.ServerIdentity = ph.serverIdentity
	hs.c.state.PAKEScheme = PAKECPaceX25519SHA512
	hs.c.state.Auth = AuthPAKE

	if known {
		b, err := cpace.NewResponder(&cpace.Inputs{PRS: code, CI: ci, SID: sid}, nil, cfg.rand())
		if err != nil {
			return err
		}
		hs.serverYb = b.Message()
		res, err := b.Finish(hs.clientYa, nil)
		if err != nil {
			return alertf(AlertIllegalParameter, "the client's CPace share is invalid: %v", err)
		}
		hs.isk = res.ISK
		return nil
	}
	return hs.simulatePAKE(ci, sid)
}

// simulatePAKE answers an unknown identity pair with Yb = X25519(yb, 9)
// for a random yb (PROFILE.md, "Unknown identities"), checks the client's
// share exactly as the real path does, and uses a random ISK, so the
// client's Finished fails as with a wrong code. It does the same work as
// the real path (a generator calculation and two scalar multiplications).
func (hs *serverHandshakeState) simulatePAKE(ci, sid []byte) error {
	var yb, prs [32]byte
	rnd := hs.c.config.rand()
	if _, err := io.ReadFull(rnd, yb[:]); err != nil {
		return err
	}
	if _, err := io.ReadFull(rnd, prs[:]); err != nil {
		return err
	}
	_ = cpacecore.CalculateGenerator(prs[:], ci, sid)
	var bigYb, k [32]byte
	cpacecore.X25519(&bigYb, &yb, &cpacecore.Basepoint)
	isID := cpacecore.X25519(&k, &yb, (*[32]byte)(hs.clientYa))
	clear(yb[:])
	clear(k[:])
	if isID == 1 {
		return alertf(AlertIllegalParameter, "the client's CPace share is invalid: %v", &cpace.InvalidShareError{Length: 32, Identity: true})
	}
	hs.serverYb = bigYb[:]
	hs.isk = make([]byte, cpace.ISKSize)
	if _, err := io.ReadFull(rnd, hs.isk); err != nil {
		return err
	}
	// The real path hashes the ISK and the sid output: spend the same
	// work here and discard it.
	_ = cpacecore.ISKIR(sid, hs.isk[:32], hs.clientYa, nil, hs.serverYb, nil)
	_ = cpacecore.SIDOutputIR(hs.clientYa, nil, hs.serverYb, nil)
	return nil
}

func (hs *serverHandshakeState) sendServerHello() error {
	c, cfg := hs.c, hs.c.config
	serverShare, ecdhe, err := serverKeyExchange(hs.group, hs.clientShare(), cfg.rand())
	if err != nil {
		return err
	}
	sh := &serverHelloMsg{
		vers:             0x0303,
		random:           make([]byte, 32),
		sessionID:        hs.hello.sessionID,
		cipherSuite:      hs.suite.id,
		supportedVersion: VersionTLS13,
		serverShare:      keyShare{hs.group, serverShare},
	}
	if _, err := io.ReadFull(cfg.rand(), sh.random); err != nil {
		return err
	}
	h := hs.suite.hash
	if hs.psk != nil {
		sh.hasPSK, sh.selectedIdentity = true, uint16(hs.pskIndex)
		early := earlySecret(h, hs.psk.Secret)
		c.tr("ecdhe_shared_secret", ecdhe)
		c.tr("early_secret", early)
		hs.hsSecret = handshakeSecret(h, early, ecdhe)
		clear(early)
		c.state.Auth = AuthPSK
		c.state.PSKIdentity = hs.psk.Identity
	} else {
		sh.hasPAKE = true
		sh.pake = (&pakeServerHello{pakeShare{PAKECPaceX25519SHA512, hs.serverYb}}).marshal()
		ikm := append(hs.isk, ecdhe...)
		c.tr("ISK", hs.isk)
		c.tr("ecdhe_shared_secret", ecdhe)
		early := earlySecret(h, nil)
		c.tr("early_secret", early)
		hs.hsSecret = handshakeSecret(h, early, ikm)
		clear(ikm)
		c.pakeInFlight = true
	}
	clear(ecdhe)
	c.tr("handshake_secret", hs.hsSecret)

	msg := sh.marshal()
	hs.transcript.add(msg)
	c.suite = hs.suite
	c.startFlight()
	if err := c.writeHandshake(msg); err != nil {
		return err
	}
	if len(hs.hello.sessionID) > 0 && hs.firstHello == nil {
		if err := c.writeCCS(); err != nil {
			return err
		}
	}
	c.state.Version = VersionTLS13
	c.state.CipherSuite = hs.suite.id
	c.state.Group = hs.group
	c.state.ServerName = hs.hello.serverName
	c.state.NegotiatedProtocol = hs.alpn
	return nil
}

// sendServerFlight sends EncryptedExtensions and Finished under the
// handshake keys, then moves the write side to the application keys. No
// application data is sent before the client's Finished verifies.
func (hs *serverHandshakeState) sendServerFlight() error {
	c, h := hs.c, hs.suite.hash
	hs.cHSSecret = deriveSecret(h, hs.hsSecret, labelClientHandshake, hs.transcript.h)
	sHS := deriveSecret(h, hs.hsSecret, labelServerHandshake, hs.transcript.h)
	if err := c.setWriteKey(sHS); err != nil {
		return err
	}
	if err := c.setReadKey(append([]byte(nil), hs.cHSSecret...)); err != nil {
		return err
	}
	ee := (&encryptedExtensionsMsg{alpn: hs.alpn}).marshal()
	hs.transcript.add(ee)
	if err := c.writeHandshake(ee); err != nil {
		return err
	}
	fin := marshalFinished(finishedVerifyData(h, sHS, hs.transcript.h))
	hs.transcript.add(fin)
	if err := c.writeHandshake(fin); err != nil {
		return err
	}
	if err := c.endFlight(); err != nil {
		return err
	}
	hs.master = masterSecret(h, hs.hsSecret)
	c.tr("master_secret", hs.master)
	hs.cAP = deriveSecret(h, hs.master, labelClientApplication, hs.transcript.h)
	sAP := deriveSecret(h, hs.master, labelServerApplication, hs.transcript.h)
	c.expMaster = deriveSecret(h, hs.master, labelExporterMaster, hs.transcript.h)
	c.tr("exporter_master_secret", c.expMaster)
	return c.setWriteKey(sAP)
}

func (hs *serverHandshakeState) readClientFinished() error {
	c := hs.c
	if _, err := c.readFinished(hs.suite.hash, hs.cHSSecret, hs.transcript.h, "client"); err != nil {
		return err
	}
	c.allowCCS = false
	c.pakeInFlight = false
	return c.setReadKey(hs.cAP)
}
