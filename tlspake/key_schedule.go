package tlspake

import (
	"crypto"
	"crypto/hkdf"
	"crypto/hmac"
	"hash"

	"golang.org/x/crypto/cryptobyte"
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
func expandLabel(h crypto.Hash, secret []byte, label string, context []byte, length int) []byte {
	var b cryptobyte.Builder
	b.AddUint16(uint16(length))
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddBytes([]byte("tls13 "))
		b.AddBytes([]byte(label))
	})
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddBytes(context)
	})
	info, err := b.Bytes()
	if err != nil {
		panic("tlspake: HKDF label too long") // labels are constants
	}
	out, err := hkdf.Expand(h.New, secret, string(info), length)
	if err != nil {
		panic("tlspake: HKDF-Expand length out of range: " + err.Error())
	}
	return out
}

// deriveSecret is Derive-Secret(secret, label, messages) where transcript
// is the running hash of the messages (nil for the empty string).
func deriveSecret(h crypto.Hash, secret []byte, label string, transcript hash.Hash) []byte {
	if transcript == nil {
		transcript = h.New()
	}
	return expandLabel(h, secret, label, transcript.Sum(nil), h.Size())
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
	prk, err := hkdf.Extract(h.New, ikm, salt)
	if err != nil {
		panic("tlspake: HKDF-Extract: " + err.Error())
	}
	return prk
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
	m := hmac.New(h.New, finishedKey)
	m.Write(transcript.Sum(nil))
	return m.Sum(nil)
}

// exportKeyingMaterial is TLS-Exporter(label, context, length) over the
// exporter master secret (RFC 8446 7.5).
func exportKeyingMaterial(h crypto.Hash, exporterMaster []byte, label string, context []byte, length int) []byte {
	secret := deriveSecret(h, exporterMaster, label, nil)
	ch := h.New()
	ch.Write(context)
	return expandLabel(h, secret, labelExporter, ch.Sum(nil), length)
}

// binderKey is the external-PSK binder key of RFC 8446 7.1.
func binderKey(h crypto.Hash, early []byte) []byte {
	return deriveSecret(h, early, labelExtBinder, nil)
}
