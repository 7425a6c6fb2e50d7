package negative

// TLS 1.3 wire encoding for the negative-vector generator, written from
// RFC 8446 and PROFILE.md with golang.org/x/crypto/cryptobyte, without the
// tlspake package's internals: the generator builds the bytes of each
// vector itself and uses our implementation only to learn the messages it
// sends (which depend on Config.Rand).

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Wire constants (RFC 8446, PROFILE.md).
const (
	recCCS       = 20
	recAlert     = 21
	recHandshake = 22
	recAppData   = 23

	hsClientHello         = 1
	hsServerHello         = 2
	hsEncryptedExtensions = 8
	hsCertificate         = 11
	hsFinished            = 20
	hsKeyUpdate           = 24
	hsMessageHash         = 254

	extServerName          = 0
	extSupportedGroups     = 10
	extSignatureAlgorithms = 13
	extALPN                = 16
	extPreSharedKey        = 41
	extEarlyData           = 42
	extSupportedVersions   = 43
	extCookie              = 44
	extPSKModes            = 45
	extKeyShare            = 51
	extPAKE                = 0x8a3b

	schemeCPace    = 0x4350
	schemeSPAKE2PP = 0x7d96

	groupX25519         = 0x001d
	groupX25519MLKEM768 = 0x11ec
	groupSecp256r1      = 0x0017

	suiteAES128GCM = 0x1301
	suiteAES256GCM = 0x1302
	suiteChaCha20  = 0x1303

	tls13 = 0x0304
	tls12 = 0x0303
)

// helloRetryRandom is SHA-256("HelloRetryRequest") (RFC 8446 4.1.3).
var helloRetryRandom = func() []byte {
	h := sha256.Sum256([]byte("HelloRetryRequest"))
	return h[:]
}()

// ext is one extension.
type ext struct {
	typ  uint16
	body []byte
}

type exts []ext

func (e exts) clone() exts {
	out := make(exts, len(e))
	copy(out, e)
	return out
}

func (e exts) index(typ uint16) int {
	for i, x := range e {
		if x.typ == typ {
			return i
		}
	}
	return -1
}

func (e exts) get(typ uint16) []byte {
	if i := e.index(typ); i >= 0 {
		return e[i].body
	}
	return nil
}

// without returns e without the extension typ.
func (e exts) without(typ uint16) exts {
	var out exts
	for _, x := range e {
		if x.typ != typ {
			out = append(out, x)
		}
	}
	return out
}

// with returns e with the body of typ replaced (or typ appended).
func (e exts) with(typ uint16, body []byte) exts {
	out := e.clone()
	if i := out.index(typ); i >= 0 {
		out[i].body = body
		return out
	}
	return append(out, ext{typ, body})
}

func build(f func(b *cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	f(&b)
	out, err := b.Bytes()
	if err != nil {
		panic(err) // only oversized fields, which the generator never builds
	}
	return out
}

func u16prefixed(body []byte) []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(body) })
	})
}

func (e exts) marshal() []byte {
	return build(func(b *cryptobyte.Builder) {
		for _, x := range e {
			b.AddUint16(x.typ)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(x.body) })
		}
	})
}

// handshake frames body as a handshake message of type typ.
func handshake(typ uint8, body []byte) []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddUint8(typ)
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(body) })
	})
}

// fixLength rewrites the 24-bit length of a handshake message to fit its
// body.
func fixLength(msg []byte) []byte {
	out := append([]byte(nil), msg...)
	n := len(out) - 4
	out[1], out[2], out[3] = byte(n>>16), byte(n>>8), byte(n)
	return out
}

// record frames body as one plaintext record (no length check: the
// generator also builds oversized records).
func record(typ uint8, vers uint16, body []byte) []byte {
	out := []byte{typ, byte(vers >> 8), byte(vers), byte(len(body) >> 8), byte(len(body))}
	return append(out, body...)
}

// Extension bodies.

func u16list(vals ...uint16) []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, v := range vals {
				b.AddUint16(v)
			}
		})
	})
}

func supportedVersions(vs ...uint16) []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, v := range vs {
				b.AddUint16(v)
			}
		})
	})
}

type keyShare struct {
	group uint16
	data  []byte
}

func keyShareList(shares ...keyShare) []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, s := range shares {
				b.AddUint16(s.group)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.data) })
			}
		})
	})
}

func keyShareEntry(s keyShare) []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddUint16(s.group)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.data) })
	})
}

type pakeShare struct {
	scheme  uint16
	message []byte
}

func addPAKEShare(b *cryptobyte.Builder, s pakeShare) {
	b.AddUint16(s.scheme)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.message) })
}

// pakeClientHello is the body of the pake extension in a ClientHello.
func pakeClientHello(cid, sid []byte, shares ...pakeShare) []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(cid) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sid) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, s := range shares {
				addPAKEShare(b, s)
			}
		})
	})
}

// pakeServerHello is the body of the pake extension in a ServerHello.
func pakeServerHello(s pakeShare) []byte {
	return build(func(b *cryptobyte.Builder) { addPAKEShare(b, s) })
}

func pskModes(modes ...uint8) []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(modes) })
	})
}

// preSharedKey is the body of a ClientHello's pre_shared_key extension.
func preSharedKey(identities [][]byte, binders [][]byte) []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, id := range identities {
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(id) })
				b.AddUint32(0) // obfuscated_ticket_age: 0 for external PSKs
			}
		})
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, bd := range binders {
				b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(bd) })
			}
		})
	})
}

// clientHello is a ClientHello the generator builds.
type clientHello struct {
	vers      uint16
	random    []byte
	sessionID []byte
	suites    []uint16
	comp      []byte
	exts      exts
	noExts    bool // omit the extensions block entirely
}

func (h clientHello) body() []byte {
	return build(func(b *cryptobyte.Builder) {
		b.AddUint16(h.vers)
		b.AddBytes(h.random)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(h.sessionID) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, s := range h.suites {
				b.AddUint16(s)
			}
		})
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(h.comp) })
		if !h.noExts {
			b.AddBytes(u16prefixed(h.exts.marshal()))
		}
	})
}

func (h clientHello) message() []byte { return handshake(hsClientHello, h.body()) }

// serverHello is a ServerHello or HelloRetryRequest the generator builds.
type serverHello struct {
	vers      uint16
	random    []byte
	sessionID []byte
	suite     uint16
	comp      uint8
	exts      exts
}

func (h serverHello) message() []byte {
	return handshake(hsServerHello, build(func(b *cryptobyte.Builder) {
		b.AddUint16(h.vers)
		b.AddBytes(h.random)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(h.sessionID) })
		b.AddUint16(h.suite)
		b.AddUint8(h.comp)
		b.AddBytes(u16prefixed(h.exts.marshal()))
	}))
}

// parseHello splits a ClientHello or ServerHello message (with its
// header) into its fields. It is used on the messages our implementation
// sends, which must parse.
func parseHello(msg []byte) (ch *clientHello, sh *serverHello, err error) {
	s := cryptobyte.String(msg)
	var typ uint8
	var body cryptobyte.String
	if !s.ReadUint8(&typ) || !s.ReadUint24LengthPrefixed(&body) || !s.Empty() {
		return nil, nil, errors.New("malformed handshake message")
	}
	var vers uint16
	var random, sessionID []byte
	if !body.ReadUint16(&vers) || !body.ReadBytes(&random, 32) || !body.ReadUint8LengthPrefixed((*cryptobyte.String)(&sessionID)) {
		return nil, nil, errors.New("malformed hello")
	}
	var e exts
	readExts := func() error {
		var block cryptobyte.String
		if !body.ReadUint16LengthPrefixed(&block) || !body.Empty() {
			return errors.New("malformed extensions block")
		}
		for !block.Empty() {
			var t uint16
			var b cryptobyte.String
			if !block.ReadUint16(&t) || !block.ReadUint16LengthPrefixed(&b) {
				return errors.New("malformed extension")
			}
			e = append(e, ext{t, []byte(b)})
		}
		return nil
	}
	switch typ {
	case hsClientHello:
		var suites, comp cryptobyte.String
		if !body.ReadUint16LengthPrefixed(&suites) || !body.ReadUint8LengthPrefixed(&comp) {
			return nil, nil, errors.New("malformed ClientHello")
		}
		h := &clientHello{vers: vers, random: random, sessionID: sessionID, comp: []byte(comp)}
		for !suites.Empty() {
			var id uint16
			if !suites.ReadUint16(&id) {
				return nil, nil, errors.New("malformed cipher_suites")
			}
			h.suites = append(h.suites, id)
		}
		if err := readExts(); err != nil {
			return nil, nil, err
		}
		h.exts = e
		return h, nil, nil
	case hsServerHello:
		h := &serverHello{vers: vers, random: random, sessionID: sessionID}
		if !body.ReadUint16(&h.suite) || !body.ReadUint8(&h.comp) {
			return nil, nil, errors.New("malformed ServerHello")
		}
		if err := readExts(); err != nil {
			return nil, nil, err
		}
		h.exts = e
		return nil, h, nil
	}
	return nil, nil, fmt.Errorf("handshake message of type %d, want a hello", typ)
}

// parseKeyShares reads a ClientHello's key_share body.
func parseKeyShares(body []byte) ([]keyShare, error) {
	s := cryptobyte.String(body)
	var list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() {
		return nil, errors.New("malformed key_share")
	}
	var out []keyShare
	for !list.Empty() {
		var g uint16
		var d cryptobyte.String
		if !list.ReadUint16(&g) || !list.ReadUint16LengthPrefixed(&d) {
			return nil, errors.New("malformed KeyShareEntry")
		}
		out = append(out, keyShare{g, []byte(d)})
	}
	return out, nil
}

// parsePAKEClientHello reads a ClientHello's pake body.
func parsePAKEClientHello(body []byte) (cid, sid []byte, shares []pakeShare, err error) {
	s := cryptobyte.String(body)
	var c, d, list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&c) || !s.ReadUint16LengthPrefixed(&d) || !s.ReadUint16LengthPrefixed(&list) || !s.Empty() {
		return nil, nil, nil, errors.New("malformed PAKEClientHello")
	}
	for !list.Empty() {
		var sh pakeShare
		var m cryptobyte.String
		if !list.ReadUint16(&sh.scheme) || !list.ReadUint16LengthPrefixed(&m) {
			return nil, nil, nil, errors.New("malformed PAKEShare")
		}
		sh.message = []byte(m)
		shares = append(shares, sh)
	}
	return []byte(c), []byte(d), shares, nil
}

// lvCat is lv_cat of draft-irtf-cfrg-cpace-21: each argument prefixed
// with its length as LEB128.
func lvCat(args ...[]byte) []byte {
	var out []byte
	for _, a := range args {
		n := len(a)
		for {
			b := byte(n & 0x7f)
			n >>= 7
			if n == 0 {
				out = append(out, b)
				break
			}
			out = append(out, b|0x80)
		}
		out = append(out, a...)
	}
	return out
}

// pakeCI is the CPace channel identifier of PROFILE.md section 2.
func pakeCI(cid, sid []byte) []byte { return lvCat([]byte("tls13pake"), cid, sid) }

// The TLS 1.3 key schedule (RFC 8446 7.1) with SHA-256, the hash of every
// suite the generator uses.

func sum256(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func hkdfExtract(ikm, salt []byte) []byte {
	out, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		panic(err)
	}
	return out
}

func expandLabel(secret []byte, label string, context []byte, n int) []byte {
	info := build(func(b *cryptobyte.Builder) {
		b.AddUint16(uint16(n))
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte("tls13 " + label)) })
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(context) })
	})
	out, err := hkdf.Expand(sha256.New, secret, string(info), n)
	if err != nil {
		panic(err)
	}
	return out
}

// deriveSecret is Derive-Secret with the transcript hash th.
func deriveSecret(secret []byte, label string, th []byte) []byte {
	return expandLabel(secret, label, th, 32)
}

var zeros32 = make([]byte, 32)

// earlySecret is the Early Secret for a PSK (nil: none).
func earlySecret(psk []byte) []byte {
	if psk == nil {
		psk = zeros32
	}
	return hkdfExtract(psk, zeros32)
}

func handshakeSecret(early, ikm []byte) []byte {
	return hkdfExtract(ikm, deriveSecret(early, "derived", sum256()))
}

// finishedMAC is the verify_data of a Finished (or a binder) for the base
// key and the transcript hash th.
func finishedMAC(base, th []byte) []byte {
	m := hmac.New(sha256.New, expandLabel(base, "finished", nil, 32))
	m.Write(th)
	return m.Sum(nil)
}

// pskBinder is the binder of an external PSK over the transcript hash of
// the messages before the ClientHello (prior, possibly empty) and the
// truncated ClientHello.
func pskBinder(psk, prior, truncated []byte) []byte {
	bk := deriveSecret(earlySecret(psk), "ext binder", sum256())
	return finishedMAC(bk, sum256(prior, truncated))
}

// messageHash is the synthetic message that replaces ClientHello1 in the
// transcript after a HelloRetryRequest (RFC 8446 4.4.1).
func messageHash(ch1 []byte) []byte { return handshake(hsMessageHash, sum256(ch1)) }

// recordKeys protect records of one direction with AES-128-GCM.
type recordKeys struct {
	aead cipher.AEAD
	iv   []byte
	seq  uint64
}

func newRecordKeys(secret []byte) *recordKeys {
	block, err := aes.NewCipher(expandLabel(secret, "key", nil, 16))
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &recordKeys{aead: aead, iv: expandLabel(secret, "iv", nil, 12)}
}

func (k *recordKeys) nonce() []byte {
	n := append([]byte(nil), k.iv...)
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], k.seq)
	for i := range seq {
		n[4+i] ^= seq[i]
	}
	return n
}

// seal returns one protected record holding data of inner type typ.
func (k *recordKeys) seal(typ uint8, data []byte) []byte {
	inner := append(append([]byte(nil), data...), typ)
	n := len(inner) + k.aead.Overhead()
	hdr := []byte{recAppData, 3, 3, byte(n >> 8), byte(n)}
	out := k.aead.Seal(hdr, k.nonce(), inner, hdr)
	k.seq++
	return out
}

// open decrypts one protected record (header included) and returns its
// inner type and content.
func (k *recordKeys) open(rec []byte) (uint8, []byte, error) {
	if len(rec) < 5 || rec[0] != recAppData {
		return 0, nil, errors.New("not a protected record")
	}
	plain, err := k.aead.Open(nil, k.nonce(), rec[5:], rec[:5])
	if err != nil {
		return 0, nil, err
	}
	k.seq++
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 {
		return 0, nil, errors.New("no content type")
	}
	return plain[i], plain[:i], nil
}
