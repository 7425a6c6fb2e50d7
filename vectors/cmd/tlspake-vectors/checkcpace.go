package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/tlspake/pake/internal/cpacecore"
)

// The cpace subdirectory holds two kinds of file, told apart by content:
//
//   - the CPace draft's JSON test vectors as published, recognised by their
//     "G_25519" object; only that object is checked here;
//   - files with "kind": lowOrderKind, which give the expected results of
//     G_X25519.scalar_mult_vfy on the draft's low-order points.

// draftExchangeObject is the object of the draft's JSON test vectors for
// CPACE-X25519-SHA512.
const draftExchangeObject = "G_25519"

// lowOrderKind is the "kind" of a low-order-point expectations file.
const lowOrderKind = "x25519-scalar-mult-vfy-low-order"

func checkCPaceFile(fsys fs.FS, name string) (string, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return "", err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return "", fmt.Errorf("not a JSON object: %v", err)
	}
	if obj, ok := top[draftExchangeObject]; ok {
		return checkDraftExchange(obj)
	}
	var kind string
	if raw, ok := top["kind"]; ok {
		if err := json.Unmarshal(raw, &kind); err != nil {
			return "", fmt.Errorf(`"kind" must be a string, got %s`, raw)
		}
	}
	if kind == lowOrderKind {
		return checkLowOrder(fsys, name, data)
	}
	return "", fmt.Errorf(`unrecognised cpace vector file: want the draft's JSON test vectors (with a %q object) or a file with "kind": %q; see vectors/README.md`,
		draftExchangeObject, lowOrderKind)
}

// mismatches collects the differences found in one file.
type mismatches []string

func (m *mismatches) addf(format string, args ...any) {
	*m = append(*m, fmt.Sprintf(format, args...))
}

func (m mismatches) err() error {
	if len(m) == 0 {
		return nil
	}
	return errors.New(strings.Join(m, "; "))
}

// checkDraftExchange recomputes every output of the draft's G_25519 object
// from its inputs. K is checked twice: as computed by A and as computed by B.
func checkDraftExchange(raw json.RawMessage) (string, error) {
	var fields map[string]string
	if err := json.Unmarshal(raw, &fields); err != nil {
		return "", fmt.Errorf("%s: want an object of hex strings: %v", draftExchangeObject, err)
	}
	in, err := exchangeInputsFromFields(fields)
	if err != nil {
		return "", fmt.Errorf("%s: %v", draftExchangeObject, err)
	}
	out, err := computeExchange(in)
	if err != nil {
		return "", fmt.Errorf("%s: %v", draftExchangeObject, err)
	}
	values := []struct {
		key, label string
		got        []byte
	}{
		{"g", "g", out.G[:]},
		{"Ya", "Ya", out.Ya[:]},
		{"Yb", "Yb", out.Yb[:]},
		{"K", "K (computed by A from Yb)", out.KA[:]},
		{"K", "K (computed by B from Ya)", out.KB[:]},
		{"ISK_IR", "ISK_IR", out.ISKIR[:]},
		{"ISK_SY", "ISK_SY", out.ISKSY[:]},
		{"sid_output_ir", "sid_output_ir", out.SIDOutIR[:]},
		{"sid_output_oc", "sid_output_oc", out.SIDOutOC[:]},
	}
	var m mismatches
	for _, v := range values {
		wantHex, ok := fields[v.key]
		if !ok {
			m.addf("%s is missing from %s", v.key, draftExchangeObject)
			continue
		}
		want, err := hex.DecodeString(wantHex)
		if err != nil {
			m.addf("%s is not valid hex: %v", v.key, err)
			continue
		}
		if !bytes.Equal(v.got, want) {
			m.addf("%s differs: got %X want %s", v.label, v.got, wantHex)
		}
	}
	if err := m.err(); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d values", len(values)), nil
}

// lowOrderFile is the format of a low-order-point expectations file. The
// points u themselves are read from the object Inputs.Object of the file
// Inputs.File (a path relative to this file's directory), so that they are
// taken from the published vectors rather than copied.
type lowOrderFile struct {
	Kind   string `json:"kind"`
	Source string `json:"source"`
	Note   string `json:"note"`
	Inputs struct {
		File   string `json:"file"`
		Object string `json:"object"`
	} `json:"inputs"`
	// Scalar is the scalar s of every multiplication.
	Scalar string         `json:"s"`
	Cases  []lowOrderCase `json:"cases"`
}

type lowOrderCase struct {
	// Name is the draft text's name of the point, u0 to ub.
	Name string `json:"name"`
	// Input is the key of the point in the inputs object.
	Input string `json:"input"`
	// Q is the expected result of G_X25519.scalar_mult_vfy(s, u).
	Q string `json:"q"`
	// Abort says whether the point must make CPace abort, that is whether
	// scalar_mult_vfy returns the neutral element.
	Abort *bool `json:"abort"`
}

func checkLowOrder(fsys fs.FS, name string, data []byte) (string, error) {
	var f lowOrderFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return "", fmt.Errorf("malformed %s file: %v", lowOrderKind, err)
	}
	if f.Source == "" {
		return "", errors.New(`"source" is empty; cite the document the expected values come from`)
	}
	if len(f.Cases) == 0 {
		return "", errors.New(`"cases" is empty; nothing to check`)
	}
	s, err := hex.DecodeString(f.Scalar)
	if err != nil || len(s) != cpacecore.ScalarSize {
		return "", fmt.Errorf(`"s" must be %d bytes of hex, got %q`, cpacecore.ScalarSize, f.Scalar)
	}
	points, err := readPointObject(fsys, path.Join(path.Dir(name), f.Inputs.File), f.Inputs.Object)
	if err != nil {
		return "", err
	}

	var m mismatches
	covered := make(map[string]bool)
	for i, c := range f.Cases {
		label := fmt.Sprintf("case %d", i)
		if c.Name != "" {
			label = c.Name
		}
		label += fmt.Sprintf(" (%q)", c.Input)
		if covered[c.Input] {
			m.addf("%s: input listed twice", label)
			continue
		}
		covered[c.Input] = true
		uHex, ok := points[c.Input]
		if !ok {
			m.addf("%s: no such point in %s of %s", label, f.Inputs.Object, f.Inputs.File)
			continue
		}
		u, err := hex.DecodeString(uHex)
		if err != nil || len(u) != cpacecore.PointSize {
			m.addf("%s: point %q in %s is not %d bytes of hex", label, uHex, f.Inputs.File, cpacecore.PointSize)
			continue
		}
		want, err := hex.DecodeString(c.Q)
		if err != nil || len(want) != cpacecore.PointSize {
			m.addf("%s: \"q\" must be %d bytes of hex, got %q", label, cpacecore.PointSize, c.Q)
			continue
		}
		if c.Abort == nil {
			m.addf("%s: \"abort\" is missing; say whether the draft requires an abort", label)
			continue
		}
		var q [cpacecore.PointSize]byte
		identity := cpacecore.X25519(&q, (*[32]byte)(s), (*[32]byte)(u)) == 1
		if !bytes.Equal(q[:], want) {
			m.addf("%s: q differs: got %x want %s", label, q, c.Q)
		}
		switch {
		case identity && !*c.Abort:
			m.addf("%s: scalar_mult_vfy aborts (result is G.I) but must not", label)
		case !identity && *c.Abort:
			m.addf("%s: scalar_mult_vfy does not abort but must", label)
		}
	}
	var uncovered []string
	for k := range points {
		if !covered[k] {
			uncovered = append(uncovered, fmt.Sprintf("%q", k))
		}
	}
	if len(uncovered) > 0 {
		slices.Sort(uncovered)
		m.addf("%s of %s has points without a case: %s; add their expected results from the draft text",
			f.Inputs.Object, f.Inputs.File, strings.Join(uncovered, ", "))
	}
	if err := m.err(); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d points", len(f.Cases)), nil
}

// readPointObject returns the object called object in the JSON file name
// of fsys, whose values must be strings.
func readPointObject(fsys fs.FS, name, object string) (map[string]string, error) {
	if !fs.ValidPath(name) || object == "" {
		return nil, fmt.Errorf(`"inputs" must name a file in the vectors directory and an object in it, got file %q object %q`, name, object)
	}
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("reading the input points: %v", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("reading the input points: %s is not a JSON object: %v", name, err)
	}
	raw, ok := top[object]
	if !ok {
		return nil, fmt.Errorf("reading the input points: %s has no object %q", name, object)
	}
	var points map[string]string
	if err := json.Unmarshal(raw, &points); err != nil {
		return nil, fmt.Errorf("reading the input points: %s of %s is not an object of hex strings: %v", object, name, err)
	}
	return points, nil
}
