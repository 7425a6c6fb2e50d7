package cpace_test

import (
	"bytes"
	"fmt"

	"github.com/tlspake/pake/tlspake/cpace"
)

func Example() {
	// Both parties know the password and agree on a channel identifier and
	// a fresh session identifier (here fixed for the example).
	in := &cpace.Inputs{
		PRS: []byte("K7Q2M-9XH4T"),
		CI:  []byte("printer.local"),
		SID: []byte("0123456789abcdef"),
	}

	a, err := cpace.NewInitiator(in, nil, nil)
	if err != nil {
		panic(err)
	}
	b, err := cpace.NewResponder(in, nil, nil)
	if err != nil {
		panic(err)
	}

	// A sends a.Message() to B; B sends b.Message() to A.
	resB, err := b.Finish(a.Message(), nil)
	if err != nil {
		panic(err)
	}
	resA, err := a.Finish(b.Message(), nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("same key:", bytes.Equal(resA.ISK, resB.ISK), len(resA.ISK))
	// Output: same key: true 64
}

func ExampleInvalidShareError() {
	b, _ := cpace.NewResponder(&cpace.Inputs{PRS: []byte("code")}, nil, nil)
	// A message of all zeros is the neutral element and must be rejected.
	_, err := b.Finish(make([]byte, 32), nil)
	fmt.Println(err)
	// Output: cpace: the peer's message is a low-order point; the exchange was aborted (the peer is faulty or malicious)
}
