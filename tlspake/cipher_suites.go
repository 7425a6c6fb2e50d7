package tlspake

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	_ "crypto/sha256" // registers crypto.SHA256
	_ "crypto/sha512" // registers crypto.SHA384

	"golang.org/x/crypto/chacha20poly1305"
)

// cipherSuite is a TLS 1.3 cipher suite: an AEAD and a hash for HKDF.
type cipherSuite struct {
	id     uint16
	name   string
	keyLen int
	hash   crypto.Hash
	aead   func(key []byte) (cipher.AEAD, error)
	// recordLimit is the number of records after which the writer moves to
	// a new key with KeyUpdate (RFC 8446 5.5: 2^24.5 full-size records
	// for AES-GCM; ChaCha20-Poly1305 has no practical limit, so the
	// sequence-number bound applies).
	recordLimit uint64
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

var cipherSuites = []*cipherSuite{
	{TLS_AES_128_GCM_SHA256, "TLS_AES_128_GCM_SHA256", 16, crypto.SHA256, newGCM, 1 << 24},
	{TLS_AES_256_GCM_SHA384, "TLS_AES_256_GCM_SHA384", 32, crypto.SHA384, newGCM, 1 << 24},
	{TLS_CHACHA20_POLY1305_SHA256, "TLS_CHACHA20_POLY1305_SHA256", 32, crypto.SHA256, chacha20poly1305.New, 1 << 62},
}

func cipherSuiteByID(id uint16) *cipherSuite {
	for _, s := range cipherSuites {
		if s.id == id {
			return s
		}
	}
	return nil
}
