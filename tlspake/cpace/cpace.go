// Package cpace implements CPACE-X25519-SHA512, the balanced
// password-authenticated key exchange of draft-irtf-cfrg-cpace-21, with the
// group environment G_X25519 and SHA-512.
//
// Two parties that share a password-related string (PRS) each send one
// 32-byte message and derive the same 64-byte intermediate session key
// (ISK) if and only if they used the same PRS, channel identifier (CI) and
// session identifier (sid), and saw the same messages and associated data.
// An eavesdropper learns nothing about the PRS, and an active attacker gets
// one online guess per run.
//
// The initiator (party A) creates an [Initiator], sends [Initiator.Message]
// and calls [Initiator.Finish] with the responder's message. The responder
// (party B) creates a [Responder], sends [Responder.Message] and calls
// [Responder.Finish] with the initiator's message. Either party aborts with
// an [*InvalidShareError] when the peer's message is malformed or a
// low-order point.
//
// The shared point K never leaves this package; callers only see the ISK.
// The generator calculation (Elligator 2) and the scalar multiplications run
// in constant time. Secret scalars are zeroed once a run finishes.
package cpace

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/tlspake/pake/internal/cpacecore"
)

const (
	// Suite is the name of the cipher suite this package implements.
	Suite = "CPACE-X25519-SHA512"
	// MessageSize is the size of Ya and Yb.
	MessageSize = cpacecore.PointSize
	// ISKSize is the size of the ISK and of the sid output.
	ISKSize = cpacecore.ISKSize
)

// Setting selects how the protocol transcript is formed.
type Setting int

const (
	// InitiatorResponder is the setting with fixed roles: A speaks first
	// and the transcript is transcript_ir. It is the default and the one
	// TLS uses.
	InitiatorResponder Setting = iota
	// Symmetric is the setting in which either party may speak first; the
	// transcript is transcript_oc (ordered concatenation).
	Symmetric
)

// Inputs are the values both parties must agree on.
type Inputs struct {
	// PRS is the password-related string. It is required.
	PRS []byte
	// CI is the channel identifier; it may be empty. It is not sent.
	CI []byte
	// SID is the session identifier; it may be empty, but a fresh public
	// value known to both parties is recommended.
	SID []byte
	// Setting selects the transcript; the zero value is InitiatorResponder.
	Setting Setting
}

// Result is the output of a successful run.
type Result struct {
	// ISK is the 64-byte intermediate session key. Feed it to a key
	// derivation function before use.
	ISK []byte
	// SIDOutput is sid_output, a public identifier of this run that is
	// unique for honest parties; it is useful when SID was empty.
	SIDOutput []byte
}

// InvalidShareError reports a peer message that CPace must reject: one of
// the wrong length, or one that makes the shared point the neutral element
// (a low-order point on the curve or its twist). The exchange must be
// aborted.
type InvalidShareError struct {
	// Length is the length of the message received.
	Length int
	// Identity is true when the message had the right length but the
	// shared point was the neutral element.
	Identity bool
}

// Error says why the message was rejected.
func (e *InvalidShareError) Error() string {
	if e.Identity {
		return "cpace: the peer's message is a low-order point; the exchange was aborted (the peer is faulty or malicious)"
	}
	return fmt.Sprintf("cpace: the peer's message is %d bytes, want %d; the exchange was aborted", e.Length, MessageSize)
}

// errFinished is returned when Finish is called twice.
var errFinished = errors.New("cpace: Finish was already called; start a new run")

// party is the state common to both roles.
type party struct {
	in   Inputs
	y    [cpacecore.ScalarSize]byte
	msg  [MessageSize]byte
	ad   []byte
	done bool
}

func newParty(in *Inputs, ad []byte, random io.Reader) (*party, error) {
	if in == nil || len(in.PRS) == 0 {
		return nil, errors.New("cpace: Inputs.PRS is empty; a password-related string is required")
	}
	if in.Setting != InitiatorResponder && in.Setting != Symmetric {
		return nil, fmt.Errorf("cpace: unknown Setting %d", in.Setting)
	}
	if random == nil {
		random = rand.Reader
	}
	p := &party{
		in: Inputs{PRS: clone(in.PRS), CI: clone(in.CI), SID: clone(in.SID), Setting: in.Setting},
		ad: clone(ad),
	}
	// G_X25519.sample_scalar() = sample_random_bytes(32).
	if _, err := io.ReadFull(random, p.y[:]); err != nil {
		return nil, fmt.Errorf("cpace: reading randomness: %w", err)
	}
	g := cpacecore.CalculateGenerator(p.in.PRS, p.in.CI, p.in.SID)
	// The generator is never the identity (Elligator 2 output is a point of
	// order > 8 with overwhelming probability, and the clamped scalar kills
	// only the cofactor); the check is kept for completeness.
	if cpacecore.X25519(&p.msg, &p.y, &g) == 1 {
		return nil, errors.New("cpace: the generator is a low-order point; use another PRS")
	}
	return p, nil
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// finish computes K = X25519(y, peer) and the ISK; ya/ada and yb/adb are
// the transcript's halves in initiator-responder order.
func (p *party) finish(peer []byte, ya, ada, yb, adb []byte) (*Result, error) {
	if p.done {
		return nil, errFinished
	}
	if len(peer) != MessageSize {
		return nil, &InvalidShareError{Length: len(peer)}
	}
	p.done = true
	defer p.wipe()
	var k [cpacecore.PointSize]byte
	defer clear(k[:])
	if cpacecore.X25519(&k, &p.y, (*[32]byte)(peer)) == 1 {
		return nil, &InvalidShareError{Length: len(peer), Identity: true}
	}
	var isk, sidOut [ISKSize]byte
	if p.in.Setting == Symmetric {
		isk = cpacecore.ISKOC(p.in.SID, k[:], ya, ada, yb, adb)
		sidOut = cpacecore.SIDOutputOC(ya, ada, yb, adb)
	} else {
		isk = cpacecore.ISKIR(p.in.SID, k[:], ya, ada, yb, adb)
		sidOut = cpacecore.SIDOutputIR(ya, ada, yb, adb)
	}
	return &Result{ISK: isk[:], SIDOutput: sidOut[:]}, nil
}

func (p *party) wipe() {
	clear(p.y[:])
	clear(p.in.PRS)
}

// Initiator is party A of one CPace run.
type Initiator struct{ p *party }

// NewInitiator starts a run as party A with associated data ad (which may
// be empty and is sent alongside the message). random supplies the secret
// scalar; nil means crypto/rand.Reader. Inject a fixed reader only to
// reproduce test vectors.
func NewInitiator(in *Inputs, ad []byte, random io.Reader) (*Initiator, error) {
	p, err := newParty(in, ad, random)
	if err != nil {
		return nil, err
	}
	return &Initiator{p}, nil
}

// Message returns Ya, the message to send to the responder.
func (a *Initiator) Message() []byte { return clone(a.p.msg[:]) }

// Finish processes the responder's message yb with its associated data adb
// and returns the result. It returns an [*InvalidShareError] if yb must be
// rejected. Finish may be called once; the secret scalar is then zeroed.
func (a *Initiator) Finish(yb, adb []byte) (*Result, error) {
	return a.p.finish(yb, a.p.msg[:], a.p.ad, yb, adb)
}

// Wipe zeroes the secret scalar and the PRS copy, for a run that will not
// be finished (for example when the peer chose another authentication).
// Finish fails afterwards.
func (a *Initiator) Wipe() {
	a.p.done = true
	a.p.wipe()
}

// Responder is party B of one CPace run. Its message does not depend on
// the initiator's, so a responder may be prepared before Ya arrives.
type Responder struct{ p *party }

// NewResponder starts a run as party B with associated data ad. random
// supplies the secret scalar; nil means crypto/rand.Reader.
func NewResponder(in *Inputs, ad []byte, random io.Reader) (*Responder, error) {
	p, err := newParty(in, ad, random)
	if err != nil {
		return nil, err
	}
	return &Responder{p}, nil
}

// Message returns Yb, the message to send to the initiator.
func (b *Responder) Message() []byte { return clone(b.p.msg[:]) }

// Finish processes the initiator's message ya with its associated data ada
// and returns the result. It returns an [*InvalidShareError] if ya must be
// rejected. Finish may be called once; the secret scalar is then zeroed.
func (b *Responder) Finish(ya, ada []byte) (*Result, error) {
	return b.p.finish(ya, ya, ada, b.p.msg[:], b.p.ad)
}
