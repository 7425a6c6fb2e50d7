package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tlspake/pake/internal/cpacecore"
)

const (
	draftFile    = "cpace/draft-irtf-cfrg-cpace-21.json"
	lowOrderJSON = "cpace/x25519-low-order.json"
)

// runTool runs the tool with args and stdin and returns its exit status,
// standard output and standard error.
func runTool(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	status := run(args, strings.NewReader(stdin), &stdout, &stderr)
	return status, stdout.String(), stderr.String()
}

// repoVectorsDir returns the repository's vectors directory.
func repoVectorsDir(t *testing.T) string {
	t.Helper()
	dir, err := findVectorsDir(".")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyVectors copies the vector files of the repository into a temporary
// directory and returns it.
func copyVectors(t *testing.T) string {
	t.Helper()
	src := repoVectorsDir(t)
	dst := t.TempDir()
	err := fs.WalkDir(os.DirFS(src), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && skipDir(p) {
				return fs.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, p), 0o755)
		}
		if !strings.HasSuffix(p, ".json") {
			return nil
		}
		data, err := os.ReadFile(filepath.Join(src, p))
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, p), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// countVectorFiles returns the number of vector files check reads in dir.
func countVectorFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != "." && skipDir(p) {
			return fs.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".json") {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// replaceInFile replaces the single occurrence of old in the file.
func replaceInFile(t *testing.T, name, old, new string) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), old); n != 1 {
		t.Fatalf("%s: %q occurs %d times, want 1", name, old, n)
	}
	if err := os.WriteFile(name, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// draftExchange returns the G_25519 object of the draft's JSON vectors.
func draftExchange(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoVectorsDir(t), draftFile))
	if err != nil {
		t.Fatal(err)
	}
	var all struct {
		G25519 map[string]string `json:"G_25519"`
	}
	if err := json.Unmarshal(data, &all); err != nil {
		t.Fatal(err)
	}
	if len(all.G25519) == 0 {
		t.Fatal("no G_25519 object in the draft's vectors")
	}
	return all.G25519
}

var summaryLine = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed\n\z`)

func TestCheckPassesOnRepositoryFiles(t *testing.T) {
	// The working directory of a test is the package directory, inside
	// vectors/: this also exercises the default -dir search.
	status, stdout, stderr := runTool(t, "", "check")
	if status != exitOK {
		t.Fatalf("check: status %d\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
	}
	for _, want := range []string{
		"ok   " + draftFile + " (9 values)\n",
		"ok   " + lowOrderJSON + " (12 points)\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
	}
	m := summaryLine.FindStringSubmatch(stdout)
	if m == nil || m[2] != "0" {
		t.Errorf("check output does not end with \"N passed, 0 failed\":\n%s", stdout)
	}
	if stderr != "" {
		t.Errorf("unexpected stderr: %s", stderr)
	}
}

func TestCheckExplicitDir(t *testing.T) {
	dir := copyVectors(t)
	status, stdout, _ := runTool(t, "", "check", "-dir", dir)
	if status != exitOK || !strings.HasSuffix(stdout, fmt.Sprintf("\n%d passed, 0 failed\n", countVectorFiles(t, dir))) {
		t.Fatalf("check -dir on a copy: status %d\n%s", status, stdout)
	}
}

func TestCheckDetectsChangedISK(t *testing.T) {
	dir := copyVectors(t)
	isk := draftExchange(t)["ISK_IR"]
	// Change the last byte of ISK_IR.
	last := isk[len(isk)-2:]
	repl := "00"
	if last == "00" {
		repl = "01"
	}
	bad := isk[:len(isk)-2] + repl
	replaceInFile(t, filepath.Join(dir, draftFile), isk, bad)

	status, stdout, _ := runTool(t, "", "check", "-dir", dir)
	if status != exitFail {
		t.Errorf("status %d, want %d", status, exitFail)
	}
	want := "FAIL " + draftFile + ": ISK_IR differs: got " + isk + " want " + bad + "\n"
	if !strings.Contains(stdout, want) {
		t.Errorf("output lacks %q:\n%s", want, stdout)
	}
	if !strings.Contains(stdout, "ok   "+lowOrderJSON) {
		t.Errorf("the unchanged file should still pass:\n%s", stdout)
	}
	if !strings.HasSuffix(stdout, fmt.Sprintf("\n%d passed, 1 failed\n", countVectorFiles(t, dir)-1)) {
		t.Errorf("output does not end with the counts:\n%s", stdout)
	}
}

func TestCheckDetectsMissingValue(t *testing.T) {
	dir := copyVectors(t)
	oc := draftExchange(t)["sid_output_oc"]
	replaceInFile(t, filepath.Join(dir, draftFile), `"sid_output_oc": "`+oc+`"`, `"sid_output_oc_": "`+oc+`"`)
	status, stdout, _ := runTool(t, "", "check", "-dir", dir)
	want := "FAIL " + draftFile + ": sid_output_oc is missing from G_25519\n"
	if status != exitFail || !strings.Contains(stdout, want) {
		t.Errorf("status %d, output lacks %q:\n%s", status, want, stdout)
	}
}

func TestCheckDetectsChangedLowOrderExpectations(t *testing.T) {
	cases := []struct {
		name, old, new, want string
	}{
		{
			name: "abort flag",
			old:  `"input": "Invalid Y6", "q": "d8e2c776bbacd510d09fd9278b7edcd25fc5ae9adfba3b6e040e8d3b71b21806", "abort": false`,
			new:  `"input": "Invalid Y6", "q": "d8e2c776bbacd510d09fd9278b7edcd25fc5ae9adfba3b6e040e8d3b71b21806", "abort": true`,
			want: `u6 ("Invalid Y6"): scalar_mult_vfy does not abort but must`,
		},
		{
			name: "q value",
			old:  `"q": "c85c655ebe8be44ba9c0ffde69f2fe10194458d137f09bbff725ce58803cdb38"`,
			new:  `"q": "c85c655ebe8be44ba9c0ffde69f2fe10194458d137f09bbff725ce58803cdb39"`,
			want: `u8 ("Invalid Y8"): q differs: got c85c655ebe8be44ba9c0ffde69f2fe10194458d137f09bbff725ce58803cdb38 want c85c655ebe8be44ba9c0ffde69f2fe10194458d137f09bbff725ce58803cdb39`,
		},
		{
			name: "missing case",
			old:  `{"name": "u0", "input": "Invalid Y0", "q": "0000000000000000000000000000000000000000000000000000000000000000", "abort": true},`,
			new:  ``,
			want: `X25519_points of draft-irtf-cfrg-cpace-21.json has points without a case: "Invalid Y0"`,
		},
		{
			name: "unknown field",
			old:  `"abort": true}`,
			new:  `"abort": true, "extra": 1}`,
			want: `unknown field "extra"`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyVectors(t)
			data, err := os.ReadFile(filepath.Join(dir, lowOrderJSON))
			if err != nil {
				t.Fatal(err)
			}
			// Replace only the first occurrence; some strings repeat.
			if !strings.Contains(string(data), c.old) {
				t.Fatalf("%s lacks %q", lowOrderJSON, c.old)
			}
			data = []byte(strings.Replace(string(data), c.old, c.new, 1))
			if err := os.WriteFile(filepath.Join(dir, lowOrderJSON), data, 0o644); err != nil {
				t.Fatal(err)
			}
			status, stdout, _ := runTool(t, "", "check", "-dir", dir)
			if status != exitFail {
				t.Errorf("status %d, want %d", status, exitFail)
			}
			if !strings.Contains(stdout, "FAIL "+lowOrderJSON+": ") || !strings.Contains(stdout, c.want) {
				t.Errorf("output lacks %q:\n%s", c.want, stdout)
			}
		})
	}
}

func TestCheckRejectsFilesWithoutChecker(t *testing.T) {
	dir := copyVectors(t)
	valid := countVectorFiles(t, dir)
	if err := os.MkdirAll(filepath.Join(dir, "future"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"future/a.json", "stray.json", "cpace/other.json"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`{}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Skipped: not JSON, or in a skipped directory.
	if err := os.MkdirAll(filepath.Join(dir, "cpace", "testdata"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"README.md", "cpace/testdata/x.json"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`junk`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	status, stdout, _ := runTool(t, "", "check", "-dir", dir)
	if status != exitFail {
		t.Errorf("status %d, want %d", status, exitFail)
	}
	for _, want := range []string{
		`FAIL future/a.json: no checker for subdirectory "future"`,
		`FAIL stray.json: vector files belong in a subdirectory`,
		`FAIL cpace/other.json: unrecognised cpace vector file`,
		fmt.Sprintf("\n%d passed, 3 failed\n", valid),
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "testdata/") || strings.Contains(stdout, " README.md") {
		t.Errorf("skipped files were checked:\n%s", stdout)
	}
}

func TestCheckEmptyAndMissingDir(t *testing.T) {
	status, _, stderr := runTool(t, "", "check", "-dir", t.TempDir())
	if status != exitFail || !strings.Contains(stderr, "no vector files") {
		t.Errorf("empty dir: status %d, stderr %q", status, stderr)
	}
	status, _, stderr = runTool(t, "", "check", "-dir", filepath.Join(t.TempDir(), "nope"))
	if status != exitUsage || !strings.Contains(stderr, "is not a directory") {
		t.Errorf("missing dir: status %d, stderr %q", status, stderr)
	}
}

func TestFindVectorsDir(t *testing.T) {
	root := t.TempDir()
	mkdir := func(p string) string {
		t.Helper()
		p = filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	repo := mkdir("repo")
	if err := os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module example.com/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vectors := mkdir("repo/vectors")
	mkdir("repo/vectors/cpace")
	mkdir("repo/vectors/cmd/tlspake-vectors")
	mkdir("repo/internal/x")
	// A vectors directory above the module root must not be found.
	mkdir("vectors/cpace")
	other := mkdir("other/module")
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/y\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, start := range []string{"repo", "repo/vectors", "repo/vectors/cpace", "repo/vectors/cmd/tlspake-vectors", "repo/internal/x"} {
		got, err := findVectorsDir(filepath.Join(root, start))
		if err != nil || got != vectors {
			t.Errorf("findVectorsDir(%s) = %q, %v; want %q", start, got, err, vectors)
		}
	}
	if got, err := findVectorsDir(other); !errors.Is(err, errNoVectorsDir) {
		t.Errorf("findVectorsDir(other module) = %q, %v; want errNoVectorsDir", got, err)
	}
}

func TestCheckDefaultDirNotFound(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	status, _, stderr := runTool(t, "", "check")
	if status != exitUsage || !strings.Contains(stderr, "cannot find the vectors directory") || !strings.Contains(stderr, "-dir DIR") {
		t.Errorf("status %d, stderr %q", status, stderr)
	}
}

// draftInputJSON returns the cpace command's input taken from the draft's
// G_25519 object.
func draftInputJSON(t *testing.T, v map[string]string) string {
	t.Helper()
	in := make(map[string]string)
	for _, k := range inputFields {
		in[k] = v[k]
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCPaceReproducesDraft(t *testing.T) {
	v := draftExchange(t)
	status, stdout, stderr := runTool(t, draftInputJSON(t, v), "cpace")
	if status != exitOK {
		t.Fatalf("status %d, stderr %s", status, stderr)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	order := []string{"g", "Ya", "Yb", "K", "ISK_IR", "ISK_SY", "sid_output_ir", "sid_output_oc"}
	if len(got) != len(order) {
		t.Errorf("output has %d keys, want %d:\n%s", len(got), len(order), stdout)
	}
	pos := -1
	for _, k := range order {
		if got[k] != v[k] {
			t.Errorf("%s = %s, want %s", k, got[k], v[k])
		}
		if got[k] != strings.ToUpper(got[k]) {
			t.Errorf("%s is not upper-case hex: %s", k, got[k])
		}
		i := strings.Index(stdout, `"`+k+`": `)
		if i < pos {
			t.Errorf("key %s out of order:\n%s", k, stdout)
		}
		pos = i
	}
	if !strings.HasPrefix(stdout, "{\n  \"g\": ") {
		t.Errorf("output is not indented JSON:\n%s", stdout)
	}
}

func TestCPaceOptionalFields(t *testing.T) {
	v := draftExchange(t)
	// Without CI, sid, ADa and ADb (absent, empty or null) the exchange
	// still runs; the results differ from the draft's.
	for _, in := range []string{
		`{"PRS":"` + v["PRS"] + `","ya":"` + v["ya"] + `","yb":"` + v["yb"] + `"}`,
		`{"PRS":"` + v["PRS"] + `","ya":"` + v["ya"] + `","yb":"` + v["yb"] + `","CI":"","sid":null,"ADa":"","ADb":""}`,
	} {
		status, stdout, stderr := runTool(t, in, "cpace")
		if status != exitOK {
			t.Fatalf("%s: status %d, stderr %s", in, status, stderr)
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatal(err)
		}
		if got["g"] == v["g"] || got["ISK_IR"] == "" {
			t.Errorf("%s: unexpected output %s", in, stdout)
		}
	}
}

func TestSharedPointIdentityAborts(t *testing.T) {
	v := draftExchange(t)
	in, err := exchangeInputsFromFields(v)
	if err != nil {
		t.Fatal(err)
	}
	// u0 of the draft's low-order points: the zero u-coordinate.
	var u0 [cpacecore.PointSize]byte
	_, err = sharedPoint(&in.ya, &u0)
	var idErr *identityError
	if !errors.As(err, &idErr) {
		t.Fatalf("sharedPoint(ya, u0) error = %v, want *identityError", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "K is the identity (G.I): CPace aborts (scalar_mult_vfy)") {
		t.Errorf("error message %q does not name the abort", msg)
	}
	// The cpace command reports the abort with exit status 1.
	var stdout, stderr bytes.Buffer
	if status := writeExchange(nil, &identityError{party: "A"}, &stdout, &stderr); status != exitFail {
		t.Errorf("writeExchange(identity) = %d, want %d", status, exitFail)
	}
	want := "tlspake-vectors: K is the identity (G.I): CPace aborts (scalar_mult_vfy) at party A; these inputs have no ISK\n"
	if stderr.String() != want || stdout.Len() != 0 {
		t.Errorf("writeExchange(identity): stdout %q, stderr %q; want stderr %q", stdout.String(), stderr.String(), want)
	}

	// A valid peer point gives no error.
	yb := [32]byte(mustHex(t, v["Yb"]))
	k, err := sharedPoint(&in.ya, &yb)
	if err != nil || !bytes.Equal(k[:], mustHex(t, v["K"])) {
		t.Errorf("sharedPoint(ya, Yb) = %X, %v; want %s", k, err, v["K"])
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCPaceBadInput(t *testing.T) {
	v := draftExchange(t)
	good := func(k, val string) string {
		m := map[string]any{"PRS": v["PRS"], "ya": v["ya"], "yb": v["yb"]}
		if val == "-" {
			delete(m, k)
		} else {
			m[k] = json.RawMessage(val)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cases := []struct {
		name, stdin, want string
	}{
		{"empty", "", "no input"},
		{"not JSON", "PRS=1", "not valid JSON"},
		{"array", `["PRS"]`, "input is a JSON array"},
		{"null", `null`, "input is null"},
		{"trailing", good("CI", `""`) + " {}", "after the JSON object"},
		{"missing PRS", good("PRS", "-"), `field "PRS" is missing`},
		{"empty PRS", good("PRS", `""`), `field "PRS" is empty`},
		{"missing ya", good("ya", "-"), `field "ya" is missing`},
		{"bad hex", good("sid", `"7g"`), `field "sid" is not valid hex`},
		{"odd hex", good("ADa", `"414"`), `field "ADa" is not valid hex`},
		{"short yb", good("yb", `"0102"`), `field "yb" is 2 bytes`},
		{"number", good("CI", `12`), `field "CI" must be a hex string`},
		{"unknown field", good("Ya", `"00"`), `unknown field "Ya"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, stdout, stderr := runTool(t, c.stdin, "cpace")
			if status != exitUsage {
				t.Errorf("status %d, want %d", status, exitUsage)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q lacks %q", stderr, c.want)
			}
			if stdout != "" {
				t.Errorf("unexpected stdout %q", stdout)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	cases := []struct {
		args   []string
		status int
		stdout string // expected in stdout; stderr must then be empty
		stderr string // expected in stderr; stdout must then be empty
	}{
		{[]string{"-h"}, exitOK, "The commands are", ""},
		{[]string{"--help"}, exitOK, "The commands are", ""},
		{[]string{"help"}, exitOK, "The commands are", ""},
		{[]string{"help", "check"}, exitOK, "usage: tlspake-vectors check [-dir DIR]", ""},
		{[]string{"help", "cpace"}, exitOK, "usage: tlspake-vectors cpace", ""},
		{[]string{"check", "-h"}, exitOK, "usage: tlspake-vectors check", ""},
		{[]string{"cpace", "-help"}, exitOK, "usage: tlspake-vectors cpace", ""},
		{nil, exitUsage, "", "no command given"},
		{[]string{"verify"}, exitUsage, "", `unknown command "verify"`},
		{[]string{"help", "verify"}, exitUsage, "", `unknown command "verify"`},
		{[]string{"help", "a", "b"}, exitUsage, "", "too many arguments"},
		{[]string{"check", "-bogus"}, exitUsage, "", "flag provided but not defined: -bogus"},
		{[]string{"check", "cpace"}, exitUsage, "", `unexpected argument "cpace"`},
		{[]string{"cpace", "in.json"}, exitUsage, "", `unexpected argument "in.json"`},
	}
	for _, c := range cases {
		status, stdout, stderr := runTool(t, "", c.args...)
		if status != c.status {
			t.Errorf("%q: status %d, want %d", c.args, status, c.status)
		}
		if c.stdout != "" && !strings.Contains(stdout, c.stdout) {
			t.Errorf("%q: stdout %q lacks %q", c.args, stdout, c.stdout)
		}
		if c.stderr != "" && !strings.Contains(stderr, c.stderr) {
			t.Errorf("%q: stderr %q lacks %q", c.args, stderr, c.stderr)
		}
		if c.stdout != "" && stderr != "" {
			t.Errorf("%q: unexpected stderr %q", c.args, stderr)
		}
		if c.stderr != "" && stdout != "" {
			t.Errorf("%q: unexpected stdout %q", c.args, stdout)
		}
	}
}
