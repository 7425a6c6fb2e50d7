package tlspake

import (
	"bytes"
	"crypto"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"testing"
)

// TestHMACAgainstStdlib compares the one-shot HMAC with crypto/hmac for
// keys shorter than, equal to and longer than the block, and messages
// that cross the stack buffer.
func TestHMACAgainstStdlib(t *testing.T) {
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384} {
		for _, klen := range []int{0, 1, 32, 63, 64, 65, 128, 129, 300} {
			for _, mlen := range []int{0, 1, 55, 64, 200, 383, 384, 385, 1000} {
				key, msg := make([]byte, klen), make([]byte, mlen)
				rand.Read(key)
				rand.Read(msg)
				m := hmac.New(h.New, key)
				m.Write(msg)
				want := m.Sum(nil)
				got := hmacSum(h, nil, key, msg[:mlen/2], msg[mlen/2:])
				if !bytes.Equal(got, want) {
					t.Fatalf("%v key %d msg %d: mismatch", h, klen, mlen)
				}
			}
		}
	}
}

// RFC 4231 test case 2 (HMAC-SHA-256 and HMAC-SHA-384).
func TestHMACRFC4231(t *testing.T) {
	key, msg := []byte("Jefe"), []byte("what do ya want for nothing?")
	want256, _ := hex.DecodeString("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
	want384, _ := hex.DecodeString("af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649")
	if got := hmacSum(crypto.SHA256, nil, key, msg, nil); !bytes.Equal(got, want256) {
		t.Errorf("HMAC-SHA-256 = %x", got)
	}
	if got := hmacSum(crypto.SHA384, nil, key, msg, nil); !bytes.Equal(got, want384) {
		t.Errorf("HMAC-SHA-384 = %x", got)
	}
}

// TestHKDFAgainstStdlib compares extract and expand with crypto/hkdf, and
// checks RFC 5869 test case 1.
func TestHKDFAgainstStdlib(t *testing.T) {
	ikm, _ := hex.DecodeString("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b")
	salt, _ := hex.DecodeString("000102030405060708090a0b0c")
	info, _ := hex.DecodeString("f0f1f2f3f4f5f6f7f8f9")
	prk := hkdfExtract(crypto.SHA256, salt, ikm)
	if want, _ := hex.DecodeString("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"); !bytes.Equal(prk, want) {
		t.Errorf("PRK = %x", prk)
	}
	okm := hkdfExpand(crypto.SHA256, prk, info, 42)
	if want, _ := hex.DecodeString("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"); !bytes.Equal(okm, want) {
		t.Errorf("OKM = %x", okm)
	}
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384} {
		for _, n := range []int{1, 16, 32, 48, 49, 100, 255} {
			secret, in := make([]byte, 40), make([]byte, 30)
			rand.Read(secret)
			rand.Read(in)
			want, _ := hkdf.Extract(h.New, secret, in)
			if got := hkdfExtract(h, in, secret); !bytes.Equal(got, want) {
				t.Fatalf("%v extract mismatch", h)
			}
			wantOKM, _ := hkdf.Expand(h.New, want, string(in), n)
			if got := hkdfExpand(h, want, in, n); !bytes.Equal(got, wantOKM) {
				t.Fatalf("%v expand %d mismatch", h, n)
			}
		}
	}
}

func BenchmarkExpandLabel(b *testing.B) {
	secret := make([]byte, 32)
	ctx := make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		expandLabel(crypto.SHA256, secret, labelClientHandshake, ctx, 32)
	}
}
