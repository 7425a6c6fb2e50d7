package tlspake

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"

	"github.com/tlspake/pake/tlspake/cpace"
)

// clientHandshakeState is the client's side of one handshake; each step is
// a method, run in order by clientHandshake.
type clientHandshakeState struct {
	c          *Conn
	hello      *clientHelloMsg
	kx         keyExchange   // the exchange the server chose
	kxs        []keyExchange // the key shares sent, in order
	pake       *cpace.Initiator
	pakeHello  *pakeClientHello
	psks       []PSK // offered, in the order of the pre_shared_key extension
	psk        *PSK  // the one the server selected
	sh         *serverHelloMsg
	hrr        *serverHelloMsg
	suite      *cipherSuite
	transcript transcript
	hsSecret   []byte
	cHSSecret  []byte
	sHSSecret  []byte
	master     []byte
	cAP        []byte
}

func (c *Conn) clientHandshake() error {
	hs := &clientHandshakeState{c: c}
	hs.transcript.trace = c.trace
	defer hs.wipe()
	for _, step := range []func() error{
		hs.makeClientHello,
		hs.sendClientHello,
		hs.readServerHello,
		hs.processServerHello,
		hs.establishHandshakeKeys,
		hs.readEncryptedExtensions,
		hs.readServerFinished,
		hs.sendClientFinished,
	} {
		if err := step(); err != nil {
			return c.fatal(hs.classify(err))
		}
	}
	return nil
}

// checkClientLimits rejects configuration that the ClientHello cannot
// carry (RFC 8446, RFC 7301, PROFILE.md section 1), so that no input of
// the public API reaches an encoder limit.
func checkClientLimits(cfg *Config) error {
	total := 0
	for _, p := range cfg.NextProtos {
		if len(p) == 0 || len(p) > 255 {
			return fmt.Errorf("tlspake: Config.NextProtos entry of %d bytes; each must be 1 to 255 bytes", len(p))
		}
		total += 1 + len(p)
	}
	if total > 1<<15 {
		return errors.New("tlspake: Config.NextProtos is too long")
	}
	if len(cfg.ServerName) > 255 {
		return errors.New("tlspake: Config.ServerName is longer than 255 bytes")
	}
	// PAKEClientHello: two identities and one 36-byte share, within a
	// 2^16-1 extension body.
	if len(cfg.ClientIdentity)+len(cfg.ServerIdentity)+6+36 > 1<<16-1 {
		return errors.New("tlspake: Config.ClientIdentity and ServerIdentity are too long for the pake extension (65,493 bytes together at most)")
	}
	total = 0
	for _, p := range cfg.PSKs {
		total += 2 + len(p.Identity) + 4 + 1 + p.hash().Size()
	}
	if total > 1<<15 {
		return errors.New("tlspake: Config.PSKs are too many or their identities too long")
	}
	return nil
}

// classify marks the errors that show the server is not a tlspake peer:
// an alert or non-TLS bytes in answer to the ClientHello, a ServerHello of
// an older version, or one without the pake extension.
func (hs *clientHandshakeState) classify(err error) error {
	var ae *AlertError
	if !errors.As(err, &ae) || errors.Is(err, ErrCodeMismatch) {
		return err
	}
	pskOnly := hs.hello != nil && hs.hello.hasPSK && !hs.hello.hasPAKE
	switch {
	case hs.sh == nil && ae.Received && ae.Alert == AlertAccessDenied:
		return &refusedError{err}
	case hs.sh == nil && ae.Received && hs.hello != nil && hs.hello.hasPSK &&
		(ae.Alert == AlertDecryptError || ae.Alert == AlertUnknownPSKIdentity ||
			// OpenSSL and GnuTLS answer a bad binder with illegal_parameter;
			// OpenSSL answers an unknown identity by falling back to
			// certificates, which a PSK-only hello cannot use.
			(pskOnly && (ae.Alert == AlertIllegalParameter || ae.Alert == AlertMissingExtension || ae.Alert == AlertHandshakeFailure))):
		return &pskRejectedError{err}
	case hs.sh == nil && ae.Received && ae.Alert != AlertAccessDenied && !pskOnly:
		return &notPAKEPeerError{err}
	case hs.sh == nil && !ae.Received && (ae.Alert == AlertProtocolVersion || !hs.c.sawRecord || hs.c.notTLS):
		return &notPAKEPeerError{err}
	case hs.sh != nil && !hs.sh.hasPAKE && ae.Alert == AlertMissingExtension:
		return &notPAKEPeerError{err}
	}
	return err
}

func (hs *clientHandshakeState) wipe() {
	if hs.pake != nil {
		hs.pake.Wipe() // unused when the server chose a PSK or the handshake failed early
	}
	for _, kx := range hs.kxs {
		if x, ok := kx.(*x25519Exchange); ok {
			clear(x.priv[:])
		} else if h, ok := kx.(*hybridExchange); ok {
			clear(h.x.priv[:])
		}
	}
	clear(hs.hsSecret)
	clear(hs.cHSSecret)
	clear(hs.sHSSecret)
	clear(hs.master)
}

func (hs *clientHandshakeState) makeClientHello() error {
	c, cfg := hs.c, hs.c.config
	if len(cfg.Code) == 0 && len(cfg.PSKs) == 0 {
		return errors.New("tlspake: Config.Code is empty: a client needs the peer's code (or a pre-shared key)")
	}
	for _, p := range cfg.PSKs {
		if len(p.Identity) == 0 || len(p.Identity) > 1<<16-1 || len(p.Secret) == 0 || (p.hash() != crypto.SHA256 && p.hash() != crypto.SHA384) {
			return errors.New("tlspake: Config.PSKs: each PSK needs an identity, a secret, and SHA-256 or SHA-384")
		}
	}
	for _, id := range cfg.cipherSuites() {
		if cipherSuiteByID(id) == nil {
			return errors.New("tlspake: Config.CipherSuites lists an unsupported suite " + CipherSuiteName(id))
		}
	}
	if err := checkClientLimits(cfg); err != nil {
		return err
	}
	groups := cfg.groups()
	for _, g := range groups {
		if !groupSupported(g) {
			return errors.New("tlspake: Config.Groups lists an unsupported group " + g.String())
		}
	}
	suites := slices.Clone(cfg.cipherSuites())
	if len(cfg.Code) == 0 {
		// Without a code, only suites a PSK can use are worth offering,
		// those of the first PSK's hash first: a server may pick the
		// suite before it looks at the PSKs.
		suites = slices.DeleteFunc(suites, func(id uint16) bool {
			return !slices.ContainsFunc(cfg.PSKs, func(p PSK) bool { return p.hash() == cipherSuiteByID(id).hash })
		})
		first := cfg.PSKs[0].hash()
		slices.SortStableFunc(suites, func(a, b uint16) int {
			ha, hb := cipherSuiteByID(a).hash == first, cipherSuiteByID(b).hash == first
			switch {
			case ha && !hb:
				return -1
			case hb && !ha:
				return 1
			}
			return 0
		})
		if len(suites) == 0 {
			return errors.New("tlspake: no configured cipher suite matches the hash of any PSK")
		}
	}
	h := &clientHelloMsg{
		vers:                 0x0303,
		random:               make([]byte, 32),
		cipherSuites:         suites,
		compressionMethods:   []uint8{0},
		serverName:           cfg.ServerName,
		hasSupportedGroups:   true,
		supportedGroups:      slices.Clone(groups),
		alpnProtocols:        cfg.NextProtos,
		hasSupportedVersions: true,
		supportedVersions:    []uint16{VersionTLS13},
		hasKeyShare:          true,
	}
	if _, err := io.ReadFull(cfg.rand(), h.random); err != nil {
		return errors.New("tlspake: reading randomness: " + err.Error())
	}
	// A key share for the first group. With the default groups, an X25519
	// share too (as browsers do), so that a server preferring X25519 needs
	// no HelloRetryRequest; explicit Groups get exactly one share.
	shareGroups := []CurveID{groups[0]}
	if len(cfg.Groups) == 0 {
		shareGroups = append(shareGroups, X25519)
	}
	for _, g := range shareGroups {
		kx, err := newClientKeyExchange(g, cfg.rand())
		if err != nil {
			return err
		}
		hs.kxs = append(hs.kxs, kx)
		h.keyShares = append(h.keyShares, keyShare{kx.group(), kx.share()})
	}

	if len(cfg.Code) > 0 {
		// CPace: client = initiator A; sid = ClientHello.random; CI binds
		// the identities as sent (PROFILE.md section 2).
		var err error
		hs.pake, err = cpace.NewInitiator(&cpace.Inputs{
			PRS: cfg.Code,
			CI:  pakeContext(cfg.ClientIdentity, cfg.ServerIdentity),
			SID: h.random,
		}, nil, cfg.rand())
		if err != nil {
			return err
		}
		hs.pakeHello = &pakeClientHello{
			clientIdentity: cfg.ClientIdentity,
			serverIdentity: cfg.ServerIdentity,
			shares:         []pakeShare{{PAKECPaceX25519SHA512, hs.pake.Message()}},
		}
		h.hasPAKE = true
		h.pake = hs.pakeHello.marshal()
	}
	hs.psks = cfg.PSKs
	hs.hello = h
	c.state.ClientIdentity = cfg.ClientIdentity
	c.state.ServerIdentity = cfg.ServerIdentity
	c.state.ServerName = cfg.ServerName
	return nil
}

// setPSKs adds the pre_shared_key extension for hs.psks to the hello and
// computes the binders over the transcript so far (prior, nil for the
// first ClientHello).
func (hs *clientHandshakeState) setPSKs(prior func() hash.Hash) {
	h := hs.hello
	h.hasPSK = len(hs.psks) > 0
	h.pskModes, h.pskIdentities, h.pskBinders = nil, nil, nil
	if !h.hasPSK {
		return
	}
	h.pskModes = []uint8{pskModeDHE}
	for _, p := range hs.psks {
		h.pskIdentities = append(h.pskIdentities, pskIdentity{identity: p.Identity})
		h.pskBinders = append(h.pskBinders, make([]byte, p.hash().Size()))
	}
	h.raw = nil
	raw := h.marshal()
	truncated := raw[:len(raw)-h.bindersLen]
	off := len(raw) - h.bindersLen + 2
	for i := range hs.psks {
		var th hash.Hash
		if prior != nil {
			th = prior()
		}
		b := pskBinder(&hs.psks[i], th, truncated)
		copy(raw[off+1:], b)
		h.pskBinders[i] = b
		off += 1 + len(b)
	}
}

func (hs *clientHandshakeState) sendClientHello() error {
	hs.setPSKs(nil)
	msg := hs.hello.marshal()
	hs.transcript.add(msg)
	if err := hs.c.writeHandshake(msg); err != nil {
		return err
	}
	hs.c.allowCCS = true
	return nil
}

func (hs *clientHandshakeState) readServerHello() error {
	msg, err := hs.c.readHandshake()
	if err != nil {
		return err
	}
	if msg[0] != typeServerHello {
		return alertf(AlertUnexpectedMessage, "expected ServerHello, got handshake message %d", msg[0])
	}
	sh, err := parseServerHello(msg)
	if err != nil {
		return err
	}
	if err := hs.checkServerHelloCommon(sh); err != nil {
		return err
	}
	if sh.isHelloRetryRequest() {
		if hs.hrr != nil {
			return alertf(AlertUnexpectedMessage, "a second HelloRetryRequest")
		}
		hs.hrr = sh
		hs.transcript.add(msg)
		if err := hs.processHelloRetryRequest(); err != nil {
			return err
		}
		return hs.readServerHello()
	}
	hs.sh = sh
	return nil
}

// checkServerHelloCommon runs the checks a ServerHello and a
// HelloRetryRequest share.
func (hs *clientHandshakeState) checkServerHelloCommon(sh *serverHelloMsg) error {
	if !sh.has(extSupportedVersions) {
		return alertf(AlertProtocolVersion, "the server does not speak TLS 1.3")
	}
	if sh.supportedVersion != VersionTLS13 {
		return alertf(AlertIllegalParameter, "the server selected version 0x%04x, which was not offered", sh.supportedVersion)
	}
	if sh.vers <= 0x0300 {
		return alertf(AlertProtocolVersion, "ServerHello legacy_version 0x%04x is SSL 3.0 or older", sh.vers)
	}
	if sh.vers != 0x0303 {
		return alertf(AlertIllegalParameter, "ServerHello legacy_version 0x%04x", sh.vers)
	}
	if !bytes.Equal(sh.sessionID, hs.hello.sessionID) {
		return alertf(AlertIllegalParameter, "ServerHello does not echo legacy_session_id")
	}
	if sh.compressionMethod != 0 {
		return alertf(AlertIllegalParameter, "ServerHello selected compression")
	}
	if !slices.Contains(hs.hello.cipherSuites, sh.cipherSuite) || cipherSuiteByID(sh.cipherSuite) == nil {
		return alertf(AlertIllegalParameter, "the server selected cipher suite 0x%04x, which was not offered", sh.cipherSuite)
	}
	if hs.hrr != nil && sh.cipherSuite != hs.hrr.cipherSuite {
		return alertf(AlertIllegalParameter, "ServerHello cipher suite differs from the HelloRetryRequest's")
	}
	hrr := sh.isHelloRetryRequest()
	for _, e := range sh.extensions {
		switch e {
		case extSupportedVersions, extKeyShare:
		case extCookie:
			if !hrr {
				return alertf(AlertIllegalParameter, "cookie in a ServerHello")
			}
		case ExtensionPAKE:
			if hrr {
				return alertf(alertPAKEInHelloRetryRequest, "a HelloRetryRequest carries the pake extension")
			}
		case extPreSharedKey:
			if !hs.hello.hasPSK {
				return alertf(AlertUnsupportedExtension, "the server selected a PSK that was not offered")
			}
			if hrr {
				return alertf(AlertIllegalParameter, "pre_shared_key is not allowed in a HelloRetryRequest")
			}
		case extServerName, extSupportedGroups, extSignatureAlgorithms, extALPN, extPadding, extEarlyData, extPSKModes:
			// Known, but not allowed here (RFC 8446 4.2).
			return alertf(AlertIllegalParameter, "extension %d is not allowed in a ServerHello", e)
		default:
			return alertf(AlertUnsupportedExtension, "the server sent extension %d, which was not offered", e)
		}
	}
	return nil
}

func (hs *clientHandshakeState) processHelloRetryRequest() error {
	hrr := hs.hrr
	g := hrr.selectedGroup
	if !hrr.has(extKeyShare) && len(hrr.cookie) == 0 {
		return alertf(AlertIllegalParameter, "a HelloRetryRequest that would not change the ClientHello")
	}
	if hrr.has(extKeyShare) {
		if !slices.Contains(hs.hello.supportedGroups, g) || !groupSupported(g) {
			return alertf(AlertIllegalParameter, "the HelloRetryRequest selected group %v, which was not offered", g)
		}
		if slices.ContainsFunc(hs.kxs, func(k keyExchange) bool { return k.group() == g }) {
			return alertf(AlertIllegalParameter, "the HelloRetryRequest selected group %v, for which a key share was sent", g)
		}
		kx, err := newClientKeyExchange(g, hs.c.config.rand())
		if err != nil {
			return err
		}
		hs.kxs = []keyExchange{kx}
	}
	hs.suite = cipherSuiteByID(hrr.cipherSuite)
	hs.c.suite = hs.suite
	hs.transcript.start(hs.suite, true)

	// The second ClientHello repeats the first except for key_share and
	// cookie: same random, same pake extension byte for byte.
	h2 := *hs.hello
	h2.raw = nil
	h2.keyShares = nil
	for _, kx := range hs.kxs {
		h2.keyShares = append(h2.keyShares, keyShare{kx.group(), kx.share()})
	}
	h2.cookie = hrr.cookie
	h2.earlyData = false // never in the second ClientHello (RFC 8446 4.2.10)
	hs.hello = &h2
	hs.c.state.DidHelloRetryRequest = true
	// Only PSKs whose hash matches the suite stay usable (RFC 8446 4.1.4).
	var keep []PSK
	for _, p := range hs.psks {
		if p.hash() == hs.suite.hash {
			keep = append(keep, p)
		}
	}
	hs.psks = keep
	if len(keep) == 0 && !h2.hasPAKE {
		return alertf(AlertHandshakeFailure, "the server chose a cipher suite that none of the pre-shared keys can use")
	}
	hs.setPSKs(hs.transcript.clone)
	msg := h2.marshal()
	hs.transcript.add(msg)
	return hs.c.writeHandshake(msg)
}

func (hs *clientHandshakeState) processServerHello() error {
	sh := hs.sh
	hs.suite = cipherSuiteByID(sh.cipherSuite)
	hs.c.suite = hs.suite
	if hs.transcript.h == nil {
		hs.transcript.start(hs.suite, false)
	}
	hs.transcript.add(sh.raw)

	if !sh.has(extKeyShare) {
		return alertf(AlertMissingExtension, "ServerHello has no key_share (psk_ke is not allowed)")
	}
	i := slices.IndexFunc(hs.kxs, func(k keyExchange) bool { return k.group() == sh.serverShare.group })
	if i < 0 {
		return alertf(AlertIllegalParameter, "the server's key share is for group %v, for which no share was sent", sh.serverShare.group)
	}
	hs.kx = hs.kxs[i]
	switch {
	case sh.hasPSK && sh.hasPAKE:
		return alertf(AlertIllegalParameter, "the server selected both a PSK and the pake extension")
	case sh.hasPSK:
		return hs.processPSKServerHello()
	case sh.hasPAKE && !hs.hello.hasPAKE:
		return alertf(AlertUnsupportedExtension, "the server sent the pake extension, which was not offered")
	case !sh.hasPAKE && hs.hello.hasPAKE:
		return alertf(AlertMissingExtension, "the server did not answer the pake extension: it is not a tlspake peer or does not accept code authentication")
	case !sh.hasPAKE:
		return alertf(AlertMissingExtension, "the server selected neither the offered PSK nor anything else")
	}
	ph, err := parsePAKEServerHello(sh.pake)
	if err != nil {
		return err
	}
	if ph.share.scheme != PAKECPaceX25519SHA512 {
		return alertf(AlertIllegalParameter, "the server selected PAKE scheme %v, which was not offered", ph.share.scheme)
	}
	if len(ph.share.message) != cpace.MessageSize {
		return alertf(AlertDecodeError, "the server's CPace share is %d bytes, want %d", len(ph.share.message), cpace.MessageSize)
	}
	res, err := hs.pake.Finish(ph.share.message, nil)
	if err != nil {
		return alertf(AlertIllegalParameter, "the server's CPace share is invalid: %v", err)
	}
	ecdhe, err := hs.kx.clientSharedSecret(sh.serverShare.data)
	if err != nil {
		return err
	}
	ikm := append(res.ISK, ecdhe...)
	defer clear(res.ISK)
	hs.c.tr("ISK", res.ISK)
	hs.c.tr("ecdhe_shared_secret", ecdhe)
	early := earlySecret(hs.suite.hash, nil)
	hs.c.tr("early_secret", early)
	hs.hsSecret = handshakeSecret(hs.suite.hash, early, ikm)
	hs.c.tr("handshake_secret", hs.hsSecret)
	clear(ikm)
	clear(ecdhe)

	c := hs.c
	c.pakeInFlight = true
	c.state.Version = VersionTLS13
	c.state.CipherSuite = hs.suite.id
	c.state.Group = hs.kx.group()
	c.state.PAKEScheme = PAKECPaceX25519SHA512
	c.state.Auth = AuthPAKE
	return nil
}

// processPSKServerHello completes a ServerHello that selected one of the
// offered pre-shared keys (psk_dhe_ke).
func (hs *clientHandshakeState) processPSKServerHello() error {
	sh := hs.sh
	if int(sh.selectedIdentity) >= len(hs.psks) {
		return alertf(AlertIllegalParameter, "the server selected PSK %d of %d offered", sh.selectedIdentity, len(hs.psks))
	}
	psk := &hs.psks[sh.selectedIdentity]
	if psk.hash() != hs.suite.hash {
		return alertf(AlertIllegalParameter, "the server selected a cipher suite whose hash does not match the PSK's")
	}
	ecdhe, err := hs.kx.clientSharedSecret(sh.serverShare.data)
	if err != nil {
		return err
	}
	early := earlySecret(hs.suite.hash, psk.Secret)
	hs.c.tr("ecdhe_shared_secret", ecdhe)
	hs.c.tr("early_secret", early)
	hs.hsSecret = handshakeSecret(hs.suite.hash, early, ecdhe)
	hs.c.tr("handshake_secret", hs.hsSecret)
	clear(early)
	clear(ecdhe)
	hs.psk = psk
	c := hs.c
	c.state.Version = VersionTLS13
	c.state.CipherSuite = hs.suite.id
	c.state.Group = hs.kx.group()
	c.state.Auth = AuthPSK
	c.state.PSKIdentity = psk.Identity
	c.state.ClientIdentity, c.state.ServerIdentity = nil, nil
	return nil
}

func (hs *clientHandshakeState) establishHandshakeKeys() error {
	h := hs.suite.hash
	hs.cHSSecret = deriveSecret(h, hs.hsSecret, labelClientHandshake, hs.transcript.h)
	hs.sHSSecret = deriveSecret(h, hs.hsSecret, labelServerHandshake, hs.transcript.h)
	if err := hs.c.setReadKey(append([]byte(nil), hs.sHSSecret...)); err != nil {
		return err
	}
	return hs.c.setWriteKey(append([]byte(nil), hs.cHSSecret...))
}

func (hs *clientHandshakeState) readEncryptedExtensions() error {
	msg, err := hs.c.readHandshake()
	if err != nil {
		return err
	}
	if msg[0] != typeEncryptedExtensions {
		return alertf(AlertUnexpectedMessage, "expected EncryptedExtensions, got handshake message %d", msg[0])
	}
	ee, err := parseEncryptedExtensions(msg)
	if err != nil {
		return err
	}
	for _, e := range ee.extensions {
		switch e {
		case extALPN:
			if len(hs.hello.alpnProtocols) == 0 {
				return alertf(AlertUnsupportedExtension, "the server sent ALPN, which was not offered")
			}
			if !slices.Contains(hs.hello.alpnProtocols, ee.alpn) {
				return alertf(AlertIllegalParameter, "the server selected ALPN protocol %q, which was not offered", ee.alpn)
			}
		case extServerName:
			if hs.hello.serverName == "" {
				return alertf(AlertUnsupportedExtension, "server_name acknowledged but not sent")
			}
		case extSupportedGroups:
			// A server may tell its preferences; they are not used.
		case extKeyShare, extSupportedVersions, extPreSharedKey, ExtensionPAKE, extCookie, extPSKModes, extSignatureAlgorithms:
			return alertf(AlertIllegalParameter, "extension %d is not allowed in EncryptedExtensions", e)
		default:
			return alertf(AlertUnsupportedExtension, "the server sent extension %d, which was not offered", e)
		}
	}
	hs.c.state.NegotiatedProtocol = ee.alpn
	hs.transcript.add(msg)
	return nil
}

func (hs *clientHandshakeState) readServerFinished() error {
	c := hs.c
	msg, err := c.readFinished(hs.suite.hash, hs.sHSSecret, hs.transcript.h, "server")
	if err != nil {
		return err
	}
	hs.transcript.add(msg)
	c.allowCCS = false
	c.pakeInFlight = false

	h := hs.suite.hash
	hs.master = masterSecret(h, hs.hsSecret)
	c.tr("master_secret", hs.master)
	cAP := deriveSecret(h, hs.master, labelClientApplication, hs.transcript.h)
	sAP := deriveSecret(h, hs.master, labelServerApplication, hs.transcript.h)
	c.expMaster = deriveSecret(h, hs.master, labelExporterMaster, hs.transcript.h)
	c.tr("exporter_master_secret", c.expMaster)
	hs.cAP = cAP
	return c.setReadKey(sAP)
}

func (hs *clientHandshakeState) sendClientFinished() error {
	c := hs.c
	verify := finishedVerifyData(hs.suite.hash, hs.cHSSecret, hs.transcript.h)
	msg := marshalFinished(verify)
	hs.transcript.add(msg)
	if err := c.writeHandshake(msg); err != nil {
		return err
	}
	return c.setWriteKey(hs.cAP)
}
