package tlspake

import (
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
)

// The key schedule runs some forty HMACs per handshake on short inputs.
// These one-shot HMAC and HKDF functions (RFC 2104, RFC 5869) work on
// stack buffers, so that a handshake does not allocate a pair of digests
// per derivation. They are checked against crypto/hmac and crypto/hkdf.

// hmacBufSize fits a SHA-384 block plus any key-schedule input.
const hmacBufSize = 512

// hashSum returns Hash(data) into out (SHA-256 or SHA-384).
func hashSum(h crypto.Hash, out, data []byte) []byte {
	if h == crypto.SHA384 {
		s := sha512.Sum384(data)
		return append(out, s[:]...)
	}
	s := sha256.Sum256(data)
	return append(out, s[:]...)
}

func blockSize(h crypto.Hash) int {
	if h == crypto.SHA384 {
		return sha512.BlockSize
	}
	return sha256.BlockSize
}

// hmacSum appends HMAC-h(key, msg1 || msg2) to out.
func hmacSum(h crypto.Hash, out, key, msg1, msg2 []byte) []byte {
	bs := blockSize(h)
	var kb [sha512.BlockSize]byte
	if len(key) > bs {
		var t [sha512.Size384]byte
		copy(kb[:], hashSum(h, t[:0], key))
	} else {
		copy(kb[:], key)
	}
	var stack [hmacBufSize]byte
	buf := stack[:0]
	if n := bs + len(msg1) + len(msg2); n > hmacBufSize {
		buf = make([]byte, 0, n)
	}
	for i := range bs {
		buf = append(buf, kb[i]^0x36)
	}
	buf = append(append(buf, msg1...), msg2...)
	var inner [sha512.Size384]byte
	in := hashSum(h, inner[:0], buf)
	buf = buf[:0]
	for i := range bs {
		buf = append(buf, kb[i]^0x5c)
	}
	buf = append(buf, in...)
	out = hashSum(h, out, buf)
	clear(kb[:])
	clear(stack[:])
	return out
}

// hkdfExtract is HKDF-Extract(salt, ikm) = HMAC(salt, ikm).
func hkdfExtract(h crypto.Hash, salt, ikm []byte) []byte {
	return hmacSum(h, make([]byte, 0, h.Size()), salt, ikm, nil)
}

// hkdfExpand is HKDF-Expand(prk, info, length).
func hkdfExpand(h crypto.Hash, prk, info []byte, length int) []byte {
	out := make([]byte, 0, length)
	var t [sha512.Size384]byte
	prev := t[:0]
	var stack [hmacBufSize]byte
	for i := byte(1); len(out) < length; i++ {
		msg := append(append(append(stack[:0], prev...), info...), i)
		prev = hmacSum(h, t[:0], prk, msg, nil)
		out = append(out, prev[:min(len(prev), length-len(out))]...)
	}
	clear(t[:])
	clear(stack[:])
	return out
}
