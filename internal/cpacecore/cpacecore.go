package cpacecore

import (
	"crypto/sha512"

	"filippo.io/edwards25519/field"
)

// Suite constants of CPACE-X25519-SHA512.
const (
	// DSI is G_X25519.DSI.
	DSI = "CPace255"
	// HashBlockSize is H.s_in_bytes for SHA-512.
	HashBlockSize = 128
	// ISKSize is the size of ISK and of sid_output (H.b_in_bytes of SHA-512).
	ISKSize = sha512.Size
)

// HashGeneratorString returns the first 32 bytes of SHA-512 over the
// generator string (gen_str_hash in the draft).
func HashGeneratorString(prs, ci, sid []byte) [32]byte {
	gs := GeneratorString([]byte(DSI), prs, ci, sid, HashBlockSize)
	h := sha512.Sum512(gs)
	clear(gs)
	var out [32]byte
	copy(out[:], h[:32])
	clear(h[:])
	return out
}

// DecodeUCoordinate is decodeUCoordinate(b, 255) of RFC 7748, reduced into
// a field element.
func DecodeUCoordinate(b *[32]byte) *field.Element {
	e, err := new(field.Element).SetBytes(b[:])
	if err != nil {
		panic("cpacecore: unreachable: 32-byte input")
	}
	return e
}

// CalculateGenerator is G_X25519.calculate_generator(SHA-512, PRS, CI, sid).
func CalculateGenerator(prs, ci, sid []byte) [PointSize]byte {
	h := HashGeneratorString(prs, ci, sid)
	u := DecodeUCoordinate(&h)
	clear(h[:])
	var g [PointSize]byte
	copy(g[:], Elligator2(u).Bytes())
	return g
}

// ISKIR is the ISK for the initiator-responder setting:
// SHA-512(lv_cat(DSI||"_ISK", sid, K) || transcript_ir(Ya,ADa,Yb,ADb)).
func ISKIR(sid, k, ya, ada, yb, adb []byte) [ISKSize]byte {
	return isk(sid, k, TranscriptIR(ya, ada, yb, adb))
}

// ISKOC is the ISK for the symmetric setting, with transcript_oc.
func ISKOC(sid, k, ya, ada, yb, adb []byte) [ISKSize]byte {
	return isk(sid, k, TranscriptOC(ya, ada, yb, adb))
}

func isk(sid, k, transcript []byte) [ISKSize]byte {
	h := sha512.New()
	prefix := LVCat([]byte(DSI+"_ISK"), sid, k)
	h.Write(prefix)
	h.Write(transcript)
	clear(prefix)
	var out [ISKSize]byte
	h.Sum(out[:0])
	return out
}

// SIDOutputIR is sid_output = SHA-512("CPaceSidOutput" || transcript_ir(...)).
func SIDOutputIR(ya, ada, yb, adb []byte) [ISKSize]byte {
	return sha512.Sum512(append([]byte("CPaceSidOutput"), TranscriptIR(ya, ada, yb, adb)...))
}

// SIDOutputOC is sid_output with transcript_oc.
func SIDOutputOC(ya, ada, yb, adb []byte) [ISKSize]byte {
	return sha512.Sum512(append([]byte("CPaceSidOutput"), TranscriptOC(ya, ada, yb, adb)...))
}
