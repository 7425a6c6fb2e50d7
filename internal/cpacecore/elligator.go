package cpacecore

import "filippo.io/edwards25519/field"

// curveA is the Montgomery coefficient A = 486662 of Curve25519.
var curveA = new(field.Element).Mult32(new(field.Element).One(), 486662)

// Elligator2 maps the field element u to the u-coordinate of a point on
// Curve25519 with map_to_curve_elligator2 of RFC 9380 section 6.7.1
// (Z = 2, J = A, K = 1), keeping only the x (u) coordinate. It has no
// branch or table index on u.
func Elligator2(u *field.Element) *field.Element {
	var one, t, x1, x2, gx1 field.Element
	one.One()

	// x1 = -A / (1 + Z*u^2); the denominator is never zero because -1/2
	// is not a square mod p, but inv0 semantics are kept for safety.
	t.Square(u)
	t.Add(&t, &t)
	t.Add(&t, &one)
	t.Invert(&t) // Invert(0) = 0, which is inv0.
	x1.Multiply(curveA, &t)
	x1.Negate(&x1)
	// If x1 == 0, x1 = -A (step 2 of the RFC's map).
	var negA field.Element
	negA.Negate(curveA)
	x1.Select(&negA, &x1, x1.Equal(new(field.Element).Zero()))

	// gx1 = x1^3 + A*x1^2 + x1 = x1 * (x1 * (x1 + A) + 1)
	gx1.Add(&x1, curveA)
	gx1.Multiply(&gx1, &x1)
	gx1.Add(&gx1, &one)
	gx1.Multiply(&gx1, &x1)

	// x2 = -x1 - A
	x2.Add(&x1, curveA)
	x2.Negate(&x2)

	// x = x1 if gx1 is square, else x2.
	_, isSquare := new(field.Element).SqrtRatio(&gx1, &one)
	return new(field.Element).Select(&x1, &x2, isSquare)
}
