package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const negativeClientHelloJSON = "negative/clienthello.json"

// TestCheckNegativeFiles: check runs the committed negative vectors and
// counts each file once, with its number of cases.
func TestCheckNegativeFiles(t *testing.T) {
	status, stdout, stderr := runTool(t, "", "check")
	if status != exitOK {
		t.Fatalf("check: status %d\n%s\n%s", status, stdout, stderr)
	}
	for _, name := range []string{"attempts", "clienthello", "psk", "serverhello"} {
		if !strings.Contains(stdout, "ok   negative/"+name+".json (") {
			t.Errorf("check output has no ok line for negative/%s.json:\n%s", name, stdout)
		}
	}
}

// TestCheckNegativeDetectsChangedAlert: changing one expected alert makes
// check fail, naming the file and the case.
func TestCheckNegativeDetectsChangedAlert(t *testing.T) {
	dir := copyVectors(t)
	name := filepath.Join(dir, filepath.FromSlash(negativeClientHelloJSON))
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	const id = "server-pake-shares-unsorted"
	i := bytes.Index(data, []byte(`"id": "`+id+`"`))
	if i < 0 {
		t.Fatalf("%s has no case %s", negativeClientHelloJSON, id)
	}
	old := []byte(`"alert": "illegal_parameter"`)
	j := bytes.Index(data[i:], old)
	if j < 0 {
		t.Fatalf("case %s does not expect illegal_parameter", id)
	}
	j += i
	data = append(data[:j:j], append([]byte(`"alert": "decode_error"`), data[j+len(old):]...)...)
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}

	status, stdout, _ := runTool(t, "", "check", "-dir", dir)
	if status != exitFail {
		t.Errorf("status %d, want %d", status, exitFail)
	}
	want := "FAIL " + negativeClientHelloJSON + ": case " + id + ": sent alert illegal_parameter, want decode_error"
	if !strings.Contains(stdout, want) {
		t.Errorf("output lacks %q:\n%s", want, stdout)
	}
	if wantEnd := fmt.Sprintf("\n%d passed, 1 failed\n", countVectorFiles(t, dir)-1); !strings.HasSuffix(stdout, wantEnd) {
		t.Errorf("output does not end with %q:\n%s", wantEnd, stdout)
	}
}

// TestGenNegative: the hidden gen-negative command writes the committed
// files, and help does not list it.
func TestGenNegative(t *testing.T) {
	dir := t.TempDir()
	status, stdout, stderr := runTool(t, "", "gen-negative", "-dir", dir)
	if status != exitOK {
		t.Fatalf("gen-negative: status %d\n%s\n%s", status, stdout, stderr)
	}
	repo := filepath.Join(repoVectorsDir(t), "negative")
	entries, err := os.ReadDir(filepath.Join(dir, "negative"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("gen-negative wrote nothing")
	}
	for _, e := range entries {
		got, err := os.ReadFile(filepath.Join(dir, "negative", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(repo, e.Name()))
		if err != nil {
			t.Errorf("gen-negative wrote %s, which is not committed: %v", e.Name(), err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("negative/%s differs from the committed file; run go generate ./vectors/...", e.Name())
		}
		if !strings.Contains(stdout, "wrote negative/"+e.Name()+" (") {
			t.Errorf("stdout does not report negative/%s:\n%s", e.Name(), stdout)
		}
	}

	_, help, _ := runTool(t, "", "help")
	if strings.Contains(help, "gen-negative") {
		t.Errorf("help lists the hidden command:\n%s", help)
	}
	if status, out, _ := runTool(t, "", "help", "gen-negative"); status != exitOK || !strings.Contains(out, "usage: tlspake-vectors gen-negative") {
		t.Errorf("help gen-negative: status %d\n%s", status, out)
	}
	if status, _, errOut := runTool(t, "", "gen-negative", "extra"); status != exitUsage || !strings.Contains(errOut, `unexpected argument "extra"`) {
		t.Errorf("gen-negative extra: status %d, stderr %q", status, errOut)
	}
}
