// Package paircode implements the printed device code of the tlspake wire
// profile (PROFILE.md section 4): ten Crockford base32 symbols, nine random
// ones (45 bits) and a Luhn mod 32 check symbol, printed as XXXXX-XXXXX.
//
// A person types the code from a device label; [Parse] forgives case,
// spaces, dashes and the look-alike letters I, L and O, and reports a typo
// locally (naming the character and its position, or a failed check
// symbol), so a mistyped code never costs an attempt against the device.
// The code's canonical form, [Code.PRS], is the CPace password-related
// string.
//
// A Code is a secret: its String method and its slog value are redacted.
// Use [Code.Printed] to show it deliberately.
package paircode

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"unicode/utf8"
)

// Alphabet is Crockford's base32 alphabet; a symbol's value is its index.
const Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Length is the number of symbols in a code, check symbol included.
const Length = 10

// Code is a valid device code. The zero Code is not valid; obtain one from
// Generate or Parse.
type Code struct {
	sym [Length]byte // symbol values 0..31
}

// Generate returns a fresh code: nine symbols from random (nil means
// crypto/rand.Reader), 45 bits in all, and the check symbol.
func Generate(random io.Reader) (Code, error) {
	if random == nil {
		random = rand.Reader
	}
	var buf [Length - 1]byte
	if _, err := io.ReadFull(random, buf[:]); err != nil {
		return Code{}, fmt.Errorf("paircode: reading randomness: %w", err)
	}
	var c Code
	for i, b := range buf {
		c.sym[i] = b & 31 // each byte is uniform, so its low five bits are too
	}
	clear(buf[:])
	c.sym[Length-1] = checkSymbol(c.sym[:Length-1])
	return c, nil
}

// luhnSum is the Luhn mod 32 sum of values, with factors starting at
// first (1 or 2) from the right and alternating.
func luhnSum(values []byte, first int) int {
	sum, factor := 0, first
	for i := len(values) - 1; i >= 0; i-- {
		p := int(values[i]) * factor
		sum += p/32 + p%32
		factor = 3 - factor
	}
	return sum
}

func checkSymbol(payload []byte) byte {
	return byte((32 - luhnSum(payload, 2)%32) % 32)
}

// Printed returns the code in its printed form, XXXXX-XXXXX.
func (c Code) Printed() string {
	s := c.Canonical()
	return s[:5] + "-" + s[5:]
}

// Canonical returns the ten symbols, upper case, without separator.
func (c Code) Canonical() string {
	var b [Length]byte
	for i, v := range c.sym {
		b[i] = Alphabet[v]
	}
	return string(b[:])
}

// PRS returns the canonical form as the CPace password-related string.
func (c Code) PRS() []byte { return []byte(c.Canonical()) }

// IsZero reports whether c is the zero Code.
func (c Code) IsZero() bool { return c == Code{} }

// String returns a redacted placeholder, so that a Code printed or logged
// by accident does not leak. Use Printed to show the code.
func (c Code) String() string { return "[redacted code]" }

// LogValue redacts the code in log/slog output.
func (c Code) LogValue() slog.Value { return slog.StringValue("[redacted code]") }

// ErrorKind classifies a ParseError.
type ErrorKind int

const (
	// BadCharacter: a character that is not part of a code.
	BadCharacter ErrorKind = iota + 1
	// WrongLength: too few or too many symbols.
	WrongLength
	// CheckMismatch: the check symbol does not match; probably a typo.
	CheckMismatch
)

// ParseError says why a typed code was rejected. It never contains the
// code itself, only the offending character.
type ParseError struct {
	Kind ErrorKind
	// Char and Pos (1-based, counted in characters of the input) name
	// the bad character, for BadCharacter.
	Char rune
	Pos  int
	// Symbols is the number of symbols found, for WrongLength.
	Symbols int
}

// Error says what is wrong with the typed code, without the code.
func (e *ParseError) Error() string {
	switch e.Kind {
	case BadCharacter:
		return fmt.Sprintf("paircode: character %q at position %d is not part of a code (codes use 0-9 and A-Z without U; I, L and O read as 1, 1 and 0)", e.Char, e.Pos)
	case WrongLength:
		return fmt.Sprintf("paircode: the code has %d symbols, want %d (printed as XXXXX-XXXXX)", e.Symbols, Length)
	default:
		return "paircode: the code's check symbol does not match: it was probably mistyped; compare it with the label"
	}
}

// Parse reads a code as a person typed it: ASCII spaces, tabs and dashes
// are dropped, ASCII letters are upper-cased (no Unicode case mapping), I
// and L read as 1 and O as 0. Any other character, a wrong length or a
// failed check is a *ParseError.
func Parse(s string) (Code, error) {
	var c Code
	n, pos := 0, 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		pos++
		if r == ' ' || r == '\t' || r == '-' {
			continue
		}
		v, ok := symbolValue(r)
		if !ok {
			return Code{}, &ParseError{Kind: BadCharacter, Char: r, Pos: pos}
		}
		if n < Length {
			c.sym[n] = v
		}
		n++
	}
	if n != Length {
		return Code{}, &ParseError{Kind: WrongLength, Symbols: n}
	}
	if luhnSum(c.sym[:], 1)%32 != 0 {
		return Code{}, &ParseError{Kind: CheckMismatch}
	}
	return c, nil
}

// symbolValue maps one typed ASCII character to its symbol value.
func symbolValue(r rune) (byte, bool) {
	if r >= 'a' && r <= 'z' {
		r -= 'a' - 'A'
	}
	switch r {
	case 'I', 'L':
		r = '1'
	case 'O':
		r = '0'
	}
	if r > 0x7f {
		return 0, false
	}
	for i := 0; i < len(Alphabet); i++ {
		if Alphabet[i] == byte(r) {
			return byte(i), true
		}
	}
	return 0, false
}
