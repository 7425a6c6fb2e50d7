package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tlspake/pake/internal/cpacecore"
)

const cpaceUsage = `usage: ` + progName + ` cpace < inputs.json

cpace reads one JSON object from standard input with the inputs of a
CPACE-X25519-SHA512 exchange (draft-irtf-cfrg-cpace-21), all hex strings:

	PRS   password-related string (required, not empty)
	CI    channel identifier (may be empty or absent)
	sid   session identifier (may be empty or absent)
	ya    party A's secret scalar, 32 bytes (required)
	yb    party B's secret scalar, 32 bytes (required)
	ADa   party A's associated data (may be empty or absent)
	ADb   party B's associated data (may be empty or absent)

and prints, as upper-case hex in a JSON object, the generator g, the
messages Ya and Yb, the shared point K, ISK_IR (initiator-responder
setting), ISK_SY (symmetric setting, transcript_oc), sid_output_ir and
sid_output_oc. The key names are those of the draft's JSON test vectors.

Exit status 1 means CPace aborts for these inputs (K is the neutral element);
exit status 2 means the input is malformed.
`

// exchangeInputs are the inputs of one CPACE-X25519-SHA512 exchange with
// fixed secret scalars.
type exchangeInputs struct {
	PRS, CI, SID []byte
	ADa, ADb     []byte
	ya, yb       [cpacecore.ScalarSize]byte
}

// exchangeOutputs are the values the draft's test vectors list.
type exchangeOutputs struct {
	G, Ya, Yb [cpacecore.PointSize]byte
	KA, KB    [cpacecore.PointSize]byte // K as computed by A and by B
	ISKIR     [cpacecore.ISKSize]byte
	ISKSY     [cpacecore.ISKSize]byte
	SIDOutIR  [cpacecore.ISKSize]byte
	SIDOutOC  [cpacecore.ISKSize]byte
}

// identityError reports that a scalar multiplication with a peer's message
// gave the neutral element, the case in which scalar_mult_vfy makes CPace
// abort.
type identityError struct {
	// party is "A" or "B": the party that computed the shared point.
	party string
}

func (e *identityError) Error() string {
	msg := "K is the identity (G.I): CPace aborts (scalar_mult_vfy)"
	if e.party != "" {
		msg += " at party " + e.party
	}
	return msg + "; these inputs have no ISK"
}

// sharedPoint computes K = scalar_mult_vfy(y, peer): the X25519 function of
// the secret scalar y and the peer's message. It returns an
// *identityError when the result is the neutral element.
func sharedPoint(y, peer *[32]byte) ([cpacecore.PointSize]byte, error) {
	var k [cpacecore.PointSize]byte
	if cpacecore.X25519(&k, y, peer) == 1 {
		return k, &identityError{}
	}
	return k, nil
}

// computeExchange runs both sides of the exchange. Both parties' K are
// returned so that a checker can compare each with the expected value.
func computeExchange(in *exchangeInputs) (*exchangeOutputs, error) {
	out := new(exchangeOutputs)
	out.G = cpacecore.CalculateGenerator(in.PRS, in.CI, in.SID)
	// Ya and Yb use scalar_mult, not scalar_mult_vfy: a low-order
	// generator would surface below as an identity K.
	cpacecore.X25519(&out.Ya, &in.ya, &out.G)
	cpacecore.X25519(&out.Yb, &in.yb, &out.G)
	var err error
	if out.KA, err = sharedPoint(&in.ya, &out.Yb); err != nil {
		return nil, &identityError{party: "A"}
	}
	if out.KB, err = sharedPoint(&in.yb, &out.Ya); err != nil {
		return nil, &identityError{party: "B"}
	}
	k := out.KA[:]
	out.ISKIR = cpacecore.ISKIR(in.SID, k, out.Ya[:], in.ADa, out.Yb[:], in.ADb)
	out.ISKSY = cpacecore.ISKOC(in.SID, k, out.Ya[:], in.ADa, out.Yb[:], in.ADb)
	out.SIDOutIR = cpacecore.SIDOutputIR(out.Ya[:], in.ADa, out.Yb[:], in.ADb)
	out.SIDOutOC = cpacecore.SIDOutputOC(out.Ya[:], in.ADa, out.Yb[:], in.ADb)
	return out, nil
}

// inputFields are the JSON keys of the cpace command's input, in the order
// the help text lists them.
var inputFields = []string{"PRS", "CI", "sid", "ya", "yb", "ADa", "ADb"}

// fieldDescriptions describe the required input fields for error messages.
var fieldDescriptions = map[string]string{
	"PRS": "the password-related string",
	"ya":  "party A's 32-byte secret scalar",
	"yb":  "party B's 32-byte secret scalar",
}

// inputError reports malformed input; it is a usage error (exit status 2).
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func inputErrorf(format string, args ...any) error {
	return &inputError{fmt.Sprintf(format, args...)}
}

// decodeHexField decodes value, the hex string of the field called name.
func decodeHexField(name, value string) ([]byte, error) {
	b, err := hex.DecodeString(value)
	if err != nil {
		return nil, inputErrorf("field %q is not valid hex (%v); give an even number of the digits 0-9, a-f, A-F", name, err)
	}
	return b, nil
}

// exchangeInputsFromFields builds the inputs from hex strings keyed by the
// draft's JSON key names. Keys that are not inputs are ignored.
func exchangeInputsFromFields(fields map[string]string) (*exchangeInputs, error) {
	in := new(exchangeInputs)
	for _, name := range inputFields {
		value, ok := fields[name]
		switch name {
		case "PRS", "ya", "yb":
			if !ok {
				return nil, inputErrorf("field %q is missing; give %s as hex", name, fieldDescriptions[name])
			}
		}
		b, err := decodeHexField(name, value)
		if err != nil {
			return nil, err
		}
		switch name {
		case "PRS":
			if len(b) == 0 {
				return nil, inputErrorf("field \"PRS\" is empty; CPace needs a password-related string")
			}
			in.PRS = b
		case "CI":
			in.CI = b
		case "sid":
			in.SID = b
		case "ADa":
			in.ADa = b
		case "ADb":
			in.ADb = b
		case "ya", "yb":
			if len(b) != cpacecore.ScalarSize {
				return nil, inputErrorf("field %q is %d bytes; a scalar must be %d bytes (%d hex digits)", name, len(b), cpacecore.ScalarSize, 2*cpacecore.ScalarSize)
			}
			if name == "ya" {
				in.ya = [32]byte(b)
			} else {
				in.yb = [32]byte(b)
			}
		}
	}
	return in, nil
}

// parseCPaceInput reads the cpace command's input: exactly one JSON object
// whose keys are among inputFields and whose values are strings. Keys are
// matched exactly (so "Ya" is not taken for "ya").
func parseCPaceInput(r io.Reader) (*exchangeInputs, error) {
	dec := json.NewDecoder(r)
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return nil, inputErrorf("no input; pipe a JSON object with the fields %s into standard input", strings.Join(inputFields, ", "))
		case errors.As(err, &typeErr):
			return nil, inputErrorf("input is a JSON %s; want an object with the fields %s", typeErr.Value, strings.Join(inputFields, ", "))
		}
		return nil, inputErrorf("input is not valid JSON: %v", err)
	}
	if raw == nil {
		return nil, inputErrorf("input is null; want a JSON object with the fields %s", strings.Join(inputFields, ", "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, inputErrorf("unexpected data after the JSON object; give exactly one object")
	}
	fields := make(map[string]string, len(raw))
	// Report problems in a stable order.
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(inputFields, k) {
			return nil, inputErrorf("unknown field %q; the input fields are %s (names are case-sensitive)", k, strings.Join(inputFields, ", "))
		}
		v := raw[k]
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			continue // null is the same as absent
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, inputErrorf("field %q must be a hex string, got %s", k, v)
		}
		fields[k] = s
	}
	return exchangeInputsFromFields(fields)
}

// cpaceOutput is the cpace command's output; the field order is the
// output's key order.
type cpaceOutput struct {
	G           string `json:"g"`
	Ya          string `json:"Ya"`
	Yb          string `json:"Yb"`
	K           string `json:"K"`
	ISKIR       string `json:"ISK_IR"`
	ISKSY       string `json:"ISK_SY"`
	SIDOutputIR string `json:"sid_output_ir"`
	SIDOutputOC string `json:"sid_output_oc"`
}

func upperHex(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

func runCPace(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := lookupCommand("cpace")
	fs := newFlagSet(c.name)
	if done, status := parseFlags(fs, c, args, stdout, stderr); done {
		return status
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s cpace: unexpected argument %q; the inputs are read from standard input\n\n", progName, fs.Arg(0))
		io.WriteString(stderr, c.usage)
		return exitUsage
	}
	in, err := parseCPaceInput(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "%s cpace: %v\n", progName, err)
		return exitUsage
	}
	out, err := computeExchange(in)
	return writeExchange(out, err, stdout, stderr)
}

// writeExchange prints the outcome of computeExchange: the values as JSON
// on stdout, or the reason for the abort on stderr. It returns the exit
// status.
func writeExchange(out *exchangeOutputs, err error, stdout, stderr io.Writer) int {
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", progName, err)
		return exitFail
	}
	if out.KA != out.KB {
		// Unreachable for X25519; reported rather than hidden.
		fmt.Fprintf(stderr, "%s: internal error: A and B computed different K (%X, %X)\n", progName, out.KA, out.KB)
		return exitFail
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(cpaceOutput{
		G:           upperHex(out.G[:]),
		Ya:          upperHex(out.Ya[:]),
		Yb:          upperHex(out.Yb[:]),
		K:           upperHex(out.KA[:]),
		ISKIR:       upperHex(out.ISKIR[:]),
		ISKSY:       upperHex(out.ISKSY[:]),
		SIDOutputIR: upperHex(out.SIDOutIR[:]),
		SIDOutputOC: upperHex(out.SIDOutOC[:]),
	}); err != nil {
		fmt.Fprintf(stderr, "%s: writing output: %v\n", progName, err)
		return exitFail
	}
	return exitOK
}
