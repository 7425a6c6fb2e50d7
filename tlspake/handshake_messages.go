package tlspake

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// alertf returns the alert this side sends, with a reason.
func alertf(a Alert, format string, args ...any) *AlertError {
	return &AlertError{Alert: a, Reason: fmt.Sprintf(format, args...)}
}

// keyShare is a KeyShareEntry.
type keyShare struct {
	group CurveID
	data  []byte
}

// pskIdentity is a PskIdentity of the pre_shared_key extension.
type pskIdentity struct {
	identity            []byte
	obfuscatedTicketAge uint32
}

// marshalHandshake frames a handshake body with its type and length.
func marshalHandshake(typ uint8, body func(b *cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	b.AddUint8(typ)
	b.AddUint24LengthPrefixed(body)
	return mustBytes(&b)
}

type clientHelloMsg struct {
	raw                  []byte
	vers                 uint16
	random               []byte
	sessionID            []byte
	cipherSuites         []uint16
	compressionMethods   []uint8
	serverName           string
	supportedGroups      []CurveID
	hasSupportedGroups   bool
	hasSignatureAlgs     bool
	signatureAlgs        []uint16 // sent only when set (not by tlspake clients in profile version 1)
	alpnProtocols        []string
	supportedVersions    []uint16
	hasSupportedVersions bool
	keyShares            []keyShare
	hasKeyShare          bool
	pake                 []byte // the pake extension's body, as received
	hasPAKE              bool
	cookie               []byte
	pskModes             []uint8
	pskIdentities        []pskIdentity
	pskBinders           [][]byte
	hasPSK               bool
	earlyData            bool
	// bindersLen is the length of the binders list with its length
	// prefix, the tail of raw excluded from the binder hash.
	bindersLen int
}

func (m *clientHelloMsg) marshal() []byte {
	if m.raw != nil {
		return m.raw
	}
	m.raw = marshalHandshake(typeClientHello, func(b *cryptobyte.Builder) {
		b.AddUint16(m.vers)
		b.AddBytes(m.random)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.sessionID) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, s := range m.cipherSuites {
				b.AddUint16(s)
			}
		})
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.compressionMethods) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			if m.serverName != "" {
				b.AddUint16(extServerName)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						b.AddUint8(0) // host_name
						b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(m.serverName)) })
					})
				})
			}
			if m.hasSupportedGroups {
				b.AddUint16(extSupportedGroups)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						for _, g := range m.supportedGroups {
							b.AddUint16(uint16(g))
						}
					})
				})
			}
			if len(m.signatureAlgs) > 0 {
				b.AddUint16(extSignatureAlgorithms)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						for _, a := range m.signatureAlgs {
							b.AddUint16(a)
						}
					})
				})
			}
			if len(m.alpnProtocols) > 0 {
				b.AddUint16(extALPN)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						for _, p := range m.alpnProtocols {
							b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(p)) })
						}
					})
				})
			}
			if m.hasSupportedVersions {
				b.AddUint16(extSupportedVersions)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
						for _, v := range m.supportedVersions {
							b.AddUint16(v)
						}
					})
				})
			}
			if len(m.cookie) > 0 {
				b.AddUint16(extCookie)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.cookie) })
				})
			}
			if m.hasKeyShare {
				b.AddUint16(extKeyShare)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						for _, ks := range m.keyShares {
							b.AddUint16(uint16(ks.group))
							b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ks.data) })
						}
					})
				})
			}
			if m.hasPAKE {
				b.AddUint16(ExtensionPAKE)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.pake) })
			}
			if len(m.pskModes) > 0 {
				b.AddUint16(extPSKModes)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.pskModes) })
				})
			}
			if m.earlyData {
				b.AddUint16(extEarlyData)
				b.AddUint16(0)
			}
			if m.hasPSK { // pre_shared_key is always the last extension
				b.AddUint16(extPreSharedKey)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						for _, id := range m.pskIdentities {
							b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(id.identity) })
							b.AddUint32(id.obfuscatedTicketAge)
						}
					})
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						for _, bd := range m.pskBinders {
							b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(bd) })
						}
					})
				})
			}
		})
	})
	if m.hasPSK {
		m.bindersLen = 2
		for _, bd := range m.pskBinders {
			m.bindersLen += 1 + len(bd)
		}
	}
	return m.raw
}

// parseClientHello decodes a ClientHello message (with its 4-byte header).
// Anything that does not parse is a decode_error; a repeated extension or
// pre_shared_key that is not last is an illegal_parameter.
func parseClientHello(data []byte) (*clientHelloMsg, error) {
	m := &clientHelloMsg{raw: data}
	s := cryptobyte.String(data[4:])
	var sessionID, suites, comp, exts cryptobyte.String
	bad := alertf(AlertDecodeError, "malformed ClientHello")
	if !s.ReadUint16(&m.vers) || !s.ReadBytes(&m.random, 32) ||
		!s.ReadUint8LengthPrefixed(&sessionID) || len(sessionID) > 32 ||
		!s.ReadUint16LengthPrefixed(&suites) || len(suites) < 2 || len(suites)%2 != 0 ||
		!s.ReadUint8LengthPrefixed(&comp) || len(comp) < 1 {
		return nil, bad
	}
	m.sessionID = []byte(sessionID)
	for !suites.Empty() {
		var id uint16
		suites.ReadUint16(&id)
		m.cipherSuites = append(m.cipherSuites, id)
	}
	m.compressionMethods = []byte(comp)
	if s.Empty() {
		return m, nil // no extensions at all: legal syntax, rejected later
	}
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return nil, bad
	}
	seen := make(map[uint16]bool)
	for !exts.Empty() {
		var typ uint16
		var ext cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&ext) {
			return nil, bad
		}
		if seen[typ] {
			return nil, alertf(AlertIllegalParameter, "ClientHello repeats extension %d", typ)
		}
		seen[typ] = true
		if m.hasPSK {
			return nil, alertf(AlertIllegalParameter, "pre_shared_key is not the last extension in ClientHello")
		}
		ok := true
		switch typ {
		case extServerName:
			var list cryptobyte.String
			if ok = ext.ReadUint16LengthPrefixed(&list) && !list.Empty(); !ok {
				break
			}
			for !list.Empty() {
				var nameType uint8
				var name cryptobyte.String
				if ok = list.ReadUint8(&nameType) && list.ReadUint16LengthPrefixed(&name) && len(name) > 0; !ok {
					break
				}
				if nameType == 0 {
					if m.serverName != "" {
						ok = false
						break
					}
					m.serverName = string(name)
				}
			}
		case extSupportedGroups:
			m.hasSupportedGroups = true
			var list cryptobyte.String
			if ok = ext.ReadUint16LengthPrefixed(&list) && !list.Empty() && len(list)%2 == 0; !ok {
				break
			}
			for !list.Empty() {
				var g uint16
				list.ReadUint16(&g)
				m.supportedGroups = append(m.supportedGroups, CurveID(g))
			}
		case extSignatureAlgorithms:
			m.hasSignatureAlgs = true
			var list cryptobyte.String
			ok = ext.ReadUint16LengthPrefixed(&list) && !list.Empty() && len(list)%2 == 0
		case extALPN:
			var list cryptobyte.String
			if ok = ext.ReadUint16LengthPrefixed(&list) && !list.Empty(); !ok {
				break
			}
			for !list.Empty() {
				var p cryptobyte.String
				if ok = list.ReadUint8LengthPrefixed(&p) && len(p) > 0; !ok {
					break
				}
				m.alpnProtocols = append(m.alpnProtocols, string(p))
			}
		case extSupportedVersions:
			m.hasSupportedVersions = true
			var list cryptobyte.String
			if ok = ext.ReadUint8LengthPrefixed(&list) && !list.Empty() && len(list)%2 == 0; !ok {
				break
			}
			for !list.Empty() {
				var v uint16
				list.ReadUint16(&v)
				m.supportedVersions = append(m.supportedVersions, v)
			}
		case extCookie:
			var c cryptobyte.String
			ok = ext.ReadUint16LengthPrefixed(&c) && len(c) > 0
			m.cookie = []byte(c)
		case extKeyShare:
			m.hasKeyShare = true
			var list cryptobyte.String
			if ok = ext.ReadUint16LengthPrefixed(&list); !ok {
				break
			}
			for !list.Empty() {
				var g uint16
				var kx cryptobyte.String
				if ok = list.ReadUint16(&g) && list.ReadUint16LengthPrefixed(&kx) && len(kx) > 0; !ok {
					break
				}
				m.keyShares = append(m.keyShares, keyShare{CurveID(g), []byte(kx)})
			}
		case ExtensionPAKE:
			m.hasPAKE = true
			m.pake = []byte(ext)
			ext = nil
		case extPSKModes:
			var modes cryptobyte.String
			ok = ext.ReadUint8LengthPrefixed(&modes) && len(modes) > 0
			m.pskModes = []byte(modes)
		case extEarlyData:
			m.earlyData = true
		case extPreSharedKey:
			m.hasPSK = true
			var ids, binders cryptobyte.String
			if ok = ext.ReadUint16LengthPrefixed(&ids) && !ids.Empty(); !ok {
				break
			}
			for !ids.Empty() {
				var id pskIdentity
				var idb cryptobyte.String
				if ok = ids.ReadUint16LengthPrefixed(&idb) && len(idb) > 0 && ids.ReadUint32(&id.obfuscatedTicketAge); !ok {
					break
				}
				id.identity = []byte(idb)
				m.pskIdentities = append(m.pskIdentities, id)
			}
			if !ok {
				break
			}
			m.bindersLen = len(ext)
			if ok = ext.ReadUint16LengthPrefixed(&binders) && !binders.Empty(); !ok {
				break
			}
			for !binders.Empty() {
				var bd cryptobyte.String
				if ok = binders.ReadUint8LengthPrefixed(&bd) && len(bd) >= 32; !ok {
					break
				}
				m.pskBinders = append(m.pskBinders, []byte(bd))
			}
			ok = ok && len(m.pskBinders) == len(m.pskIdentities)
		default:
			ext = nil // unknown extensions (GREASE, padding, ...) are ignored
		}
		if !ok || !ext.Empty() {
			return nil, alertf(AlertDecodeError, "malformed extension %d in ClientHello", typ)
		}
	}
	return m, nil
}

type serverHelloMsg struct {
	raw               []byte
	vers              uint16
	random            []byte
	sessionID         []byte
	cipherSuite       uint16
	compressionMethod uint8
	supportedVersion  uint16
	serverShare       keyShare
	selectedGroup     CurveID // HelloRetryRequest only
	cookie            []byte  // HelloRetryRequest only
	pake              []byte
	hasPAKE           bool
	hasPSK            bool
	selectedIdentity  uint16
	extensions        []uint16 // types in order, for checks
}

func (m *serverHelloMsg) isHelloRetryRequest() bool {
	return string(m.random) == string(helloRetryRequestRandom[:])
}

func (m *serverHelloMsg) has(ext uint16) bool {
	for _, e := range m.extensions {
		if e == ext {
			return true
		}
	}
	return false
}

func (m *serverHelloMsg) marshal() []byte {
	if m.raw != nil {
		return m.raw
	}
	hrr := m.isHelloRetryRequest()
	m.raw = marshalHandshake(typeServerHello, func(b *cryptobyte.Builder) {
		b.AddUint16(m.vers)
		b.AddBytes(m.random)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.sessionID) })
		b.AddUint16(m.cipherSuite)
		b.AddUint8(m.compressionMethod)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16(extSupportedVersions)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(m.supportedVersion) })
			if hrr {
				if m.selectedGroup != 0 {
					b.AddUint16(extKeyShare)
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(uint16(m.selectedGroup)) })
				}
				if len(m.cookie) > 0 {
					b.AddUint16(extCookie)
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.cookie) })
					})
				}
			} else if m.serverShare.group != 0 {
				b.AddUint16(extKeyShare)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16(uint16(m.serverShare.group))
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.serverShare.data) })
				})
			}
			if m.hasPSK {
				b.AddUint16(extPreSharedKey)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(m.selectedIdentity) })
			}
			if m.hasPAKE {
				b.AddUint16(ExtensionPAKE)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.pake) })
			}
		})
	})
	return m.raw
}

// parseServerHello decodes a ServerHello or HelloRetryRequest.
func parseServerHello(data []byte) (*serverHelloMsg, error) {
	m := &serverHelloMsg{raw: data}
	s := cryptobyte.String(data[4:])
	var sessionID, exts cryptobyte.String
	bad := alertf(AlertDecodeError, "malformed ServerHello")
	if !s.ReadUint16(&m.vers) || !s.ReadBytes(&m.random, 32) ||
		!s.ReadUint8LengthPrefixed(&sessionID) || len(sessionID) > 32 ||
		!s.ReadUint16(&m.cipherSuite) || !s.ReadUint8(&m.compressionMethod) {
		return nil, bad
	}
	m.sessionID = []byte(sessionID)
	if s.Empty() {
		return m, nil
	}
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return nil, bad
	}
	hrr := m.isHelloRetryRequest()
	for !exts.Empty() {
		var typ uint16
		var ext cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&ext) {
			return nil, bad
		}
		if m.has(typ) {
			return nil, alertf(AlertIllegalParameter, "ServerHello repeats extension %d", typ)
		}
		m.extensions = append(m.extensions, typ)
		ok := true
		switch typ {
		case extSupportedVersions:
			ok = ext.ReadUint16(&m.supportedVersion)
		case extKeyShare:
			if hrr {
				var g uint16
				ok = ext.ReadUint16(&g)
				m.selectedGroup = CurveID(g)
			} else {
				var g uint16
				var kx cryptobyte.String
				ok = ext.ReadUint16(&g) && ext.ReadUint16LengthPrefixed(&kx) && len(kx) > 0
				m.serverShare = keyShare{CurveID(g), []byte(kx)}
			}
		case extCookie:
			var c cryptobyte.String
			ok = ext.ReadUint16LengthPrefixed(&c) && len(c) > 0
			m.cookie = []byte(c)
		case extPreSharedKey:
			m.hasPSK = true
			ok = ext.ReadUint16(&m.selectedIdentity)
		case ExtensionPAKE:
			m.hasPAKE = true
			m.pake = []byte(ext)
			ext = nil
		default:
			ext = nil // judged by the client against what it offered
		}
		if !ok || !ext.Empty() {
			return nil, alertf(AlertDecodeError, "malformed extension %d in ServerHello", typ)
		}
	}
	return m, nil
}

type encryptedExtensionsMsg struct {
	raw        []byte
	alpn       string
	extensions []uint16
}

func (m *encryptedExtensionsMsg) marshal() []byte {
	if m.raw != nil {
		return m.raw
	}
	m.raw = marshalHandshake(typeEncryptedExtensions, func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			if m.alpn != "" {
				b.AddUint16(extALPN)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
						b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(m.alpn)) })
					})
				})
			}
		})
	})
	return m.raw
}

func parseEncryptedExtensions(data []byte) (*encryptedExtensionsMsg, error) {
	m := &encryptedExtensionsMsg{raw: data}
	s := cryptobyte.String(data[4:])
	var exts cryptobyte.String
	bad := alertf(AlertDecodeError, "malformed EncryptedExtensions")
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return nil, bad
	}
	for !exts.Empty() {
		var typ uint16
		var ext cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&ext) {
			return nil, bad
		}
		for _, e := range m.extensions {
			if e == typ {
				return nil, alertf(AlertIllegalParameter, "EncryptedExtensions repeats extension %d", typ)
			}
		}
		m.extensions = append(m.extensions, typ)
		if typ == extALPN {
			var list, proto cryptobyte.String
			if !ext.ReadUint16LengthPrefixed(&list) || !list.ReadUint8LengthPrefixed(&proto) ||
				len(proto) == 0 || !list.Empty() || !ext.Empty() {
				return nil, alertf(AlertDecodeError, "malformed ALPN extension in EncryptedExtensions")
			}
			m.alpn = string(proto)
		}
	}
	return m, nil
}

func marshalFinished(verifyData []byte) []byte {
	return marshalHandshake(typeFinished, func(b *cryptobyte.Builder) { b.AddBytes(verifyData) })
}

func marshalKeyUpdate(requestUpdate bool) []byte {
	return marshalHandshake(typeKeyUpdate, func(b *cryptobyte.Builder) {
		if requestUpdate {
			b.AddUint8(1)
		} else {
			b.AddUint8(0)
		}
	})
}

// messageHash is the synthetic message that replaces ClientHello1 in the
// transcript after a HelloRetryRequest (RFC 8446 4.4.1).
func messageHash(digest []byte) []byte {
	return marshalHandshake(typeMessageHash, func(b *cryptobyte.Builder) { b.AddBytes(digest) })
}
