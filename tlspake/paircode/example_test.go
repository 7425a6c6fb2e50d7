package paircode_test

import (
	"fmt"

	"github.com/tlspake/pake/tlspake/paircode"
)

func ExampleParse() {
	// A person types the code from the label, in lower case with a space.
	code, err := paircode.Parse("k7q2m 9xh4v")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(code.Printed(), string(code.PRS()))

	// A typo is caught locally, before anything reaches the network.
	_, err = paircode.Parse("K7Q2M-9XH4P")
	fmt.Println(err)
	// Output:
	// K7Q2M-9XH4V K7Q2M9XH4V
	// paircode: the code's check symbol does not match: it was probably mistyped; compare it with the label
}

func ExampleGenerate() {
	code, err := paircode.Generate(nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(code)                // redacted: a code is a secret
	fmt.Println(len(code.Printed())) // shown only when asked
	// Output:
	// [redacted code]
	// 11
}
