package tlspake

import (
	"crypto"
	"hash"
)

// Labels of the TLS 1.3 key schedule (RFC 8446 7.1).
const (
	labelDerived           = "derived"
	labelExtBinder         = "ext binder"
	labelClientHandshake   = "c hs traffic"
	labelServerHandshake   = "s hs traffic"
	labelClientApplication = "c ap traffic"
	labelServerApplication = "s ap traffic"
	labelExporterMaster    = "exp master"
	labelTrafficUpdate     = "traffic upd"
	labelFinished          = "finished"
	labelExporter          = "exporter"
	labelKey               = "key"
	labelIV                = "iv"
)

// expandLabel is HKDF-Expand-Label(secret, label, context, length).
// The HkdfLabel structure is built by hand on the stack:
// uint16 length, opaque label<7..255> = "tls13 " + Label,
// opaque context<0..255>.
func expandLabel(h crypto.Hash, secret []byte, label string, context []byte, length int) []byte {
	if len(label) > 255-6 || len(context) > 255 || length > 255*h.Size() {
		panic("tlspake: HKDF-Expand-Label input out of range") // callers pass constants and digests
	}
	var stack [2 + 1 + 255 + 1 + 255]byte
	info := append(stack[:0], byte(length>>8), byte(length), byte(6+len(label)))
	info = append(append(info, "tls13 "...), label...)
	info = append(append(info, byte(len(context))), context...)
	return hkdfExpand(h, secret, info, length)
}

// deriveSecret is Derive-Secret(secret, label, messages) where transcript
// is the running hash of the messages (nil for the empty string).
func deriveSecret(h crypto.Hash, secret []byte, label string, transcript hash.Hash) []byte {
	var th [64]byte
	var digest []byte
	if transcript == nil {
		digest = hashSum(h, th[:0], nil)
	} else {
		digest = transcript.Sum(th[:0])
	}
	return expandLabel(h, secret, label, digest, h.Size())
}

// extract is HKDF-Extract(salt, ikm) with the suite's hash; a nil ikm or
// salt is a string of Hash.length zeros.
func extract(h crypto.Hash, ikm, salt []byte) []byte {
	if ikm == nil {
		ikm = make([]byte, h.Size())
	}
	if salt == nil {
		salt = make([]byte, h.Size())
	}
	return hkdfExtract(h, salt, ikm)
}

// earlySecret is HKDF-Extract(0, psk) (psk nil: zeros).
func earlySecret(h crypto.Hash, psk []byte) []byte {
	return extract(h, psk, nil)
}

// handshakeSecret is HKDF-Extract(Derive-Secret(early, "derived", ""), ikm)
// where ikm is ISK || (EC)DHE shared secret for PAKE handshakes
// (draft-ietf-tls-pake, "Key Schedule Modifications") and the (EC)DHE
// shared secret alone otherwise.
func handshakeSecret(h crypto.Hash, early, ikm []byte) []byte {
	return extract(h, ikm, deriveSecret(h, early, labelDerived, nil))
}

// masterSecret is HKDF-Extract(Derive-Secret(hs, "derived", ""), 0).
func masterSecret(h crypto.Hash, hs []byte) []byte {
	return extract(h, nil, deriveSecret(h, hs, labelDerived, nil))
}

// trafficKeys returns the write key and IV for a traffic secret.
func trafficKeys(s *cipherSuite, secret []byte) (key, iv []byte) {
	key = expandLabel(s.hash, secret, labelKey, nil, s.keyLen)
	iv = expandLabel(s.hash, secret, labelIV, nil, 12)
	return key, iv
}

// nextTrafficSecret is application_traffic_secret_N+1.
func nextTrafficSecret(s *cipherSuite, secret []byte) []byte {
	return expandLabel(s.hash, secret, labelTrafficUpdate, nil, s.hash.Size())
}

// finishedVerifyData is HMAC(finished_key, transcript hash).
func finishedVerifyData(h crypto.Hash, baseKey []byte, transcript hash.Hash) []byte {
	finishedKey := expandLabel(h, baseKey, labelFinished, nil, h.Size())
	var th [64]byte
	out := hmacSum(h, make([]byte, 0, h.Size()), finishedKey, transcript.Sum(th[:0]), nil)
	clear(finishedKey)
	return out
}

// exportKeyingMaterial is TLS-Exporter(label, context, length) over the
// exporter master secret (RFC 8446 7.5).
func exportKeyingMaterial(h crypto.Hash, exporterMaster []byte, label string, context []byte, length int) []byte {
	secret := deriveSecret(h, exporterMaster, label, nil)
	var ch [64]byte
	return expandLabel(h, secret, labelExporter, hashSum(h, ch[:0], context), length)
}

// binderKey is the external-PSK binder key of RFC 8446 7.1.
func binderKey(h crypto.Hash, early []byte) []byte {
	return deriveSecret(h, early, labelExtBinder, nil)
}
