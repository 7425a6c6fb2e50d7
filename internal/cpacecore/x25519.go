package cpacecore

import (
	"crypto/subtle"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// ScalarSize and PointSize are the sizes of X25519 scalars and u-coordinates.
const (
	ScalarSize = 32
	PointSize  = 32
)

// Basepoint is the u-coordinate 9 of the Curve25519 base point.
var Basepoint = [PointSize]byte{9}

// X25519 computes the RFC 7748 X25519 function of scalar and the
// u-coordinate point into dst: the scalar is clamped, bit 255 of the point
// is ignored and non-canonical values are reduced. It runs in constant time
// with respect to both inputs and returns 1 when the result is all zero
// (the neutral element G.I), 0 otherwise, also in constant time.
func X25519(dst *[PointSize]byte, scalar, point *[32]byte) int {
	var k [32]byte
	copy(k[:], scalar[:])
	k[0] &= 248
	k[31] &= 127
	k[31] |= 64

	var x1, x2, z2, x3, z3, tmp0, tmp1 field.Element
	// SetBytes drops bit 255 and accepts non-canonical encodings, exactly
	// as decodeUCoordinate requires.
	if _, err := x1.SetBytes(point[:]); err != nil {
		panic("cpacecore: unreachable: point has length 32")
	}
	x2.One()
	z2.Zero()
	x3.Set(&x1)
	z3.One()

	swap := 0
	for pos := 254; pos >= 0; pos-- {
		b := int(k[pos/8]>>uint(pos&7)) & 1
		swap ^= b
		x2.Swap(&x3, swap)
		z2.Swap(&z3, swap)
		swap = b

		// One ladder step (RFC 7748 section 5).
		tmp0.Subtract(&x3, &z3)     // D
		tmp1.Subtract(&x2, &z2)     // B
		x2.Add(&x2, &z2)            // A
		z2.Add(&x3, &z3)            // C
		z3.Multiply(&tmp0, &x2)     // DA
		z2.Multiply(&z2, &tmp1)     // CB
		tmp0.Square(&tmp1)          // BB
		tmp1.Square(&x2)            // AA
		x3.Add(&z3, &z2)            // DA + CB
		z2.Subtract(&z3, &z2)       // DA - CB
		x2.Multiply(&tmp1, &tmp0)   // AA * BB
		tmp1.Subtract(&tmp1, &tmp0) // E = AA - BB
		z2.Square(&z2)              // (DA - CB)^2
		z3.Mult32(&tmp1, 121666)    // a24' * E, with a24' = (A+2)/4
		x3.Square(&x3)              // (DA + CB)^2
		tmp0.Add(&tmp0, &z3)        // BB + a24' * E
		z3.Multiply(&x1, &z2)       // x1 * (DA - CB)^2
		z2.Multiply(&tmp1, &tmp0)   // E * (BB + a24' * E)
	}
	x2.Swap(&x3, swap)
	z2.Swap(&z3, swap)

	z2.Invert(&z2)
	x2.Multiply(&x2, &z2)
	copy(dst[:], x2.Bytes())
	clear(k[:])

	var zero [PointSize]byte
	return subtle.ConstantTimeCompare(dst[:], zero[:])
}

// X25519Base computes X25519(scalar, 9), the public key of scalar, with
// the fixed-base multiplication of edwards25519 (precomputed tables, in
// constant time) followed by the birational map to the Montgomery
// u-coordinate. It is several times faster than a ladder on the base
// point and gives the same result.
func X25519Base(dst *[PointSize]byte, scalar *[32]byte) {
	s, err := edwards25519.NewScalar().SetBytesWithClamping(scalar[:])
	if err != nil {
		panic("cpacecore: unreachable: 32-byte scalar")
	}
	p := new(edwards25519.Point).ScalarBaseMult(s)
	copy(dst[:], p.BytesMontgomery())
}
