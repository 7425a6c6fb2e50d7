package main

import (
	"bytes"
	"context"
	"github.com/tlspake/pake/internal/testutil"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tlspake/pake/client"
	"github.com/tlspake/pake/tlspake/paircode"
)

// isolate points the daemon's state at a fresh directory and clears the
// code variable; it returns the default code file path.
func isolate(t *testing.T) string {
	t.Helper()
	state := t.TempDir()
	t.Setenv("STATE_DIRECTORY", "")
	t.Setenv("XDG_STATE_HOME", state)
	t.Setenv(codeEnv, "")
	return filepath.Join(state, "tlspake-device", "code")
}

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	status := run(t.Context(), args, &stdout, &stderr)
	return status, stdout.String(), stderr.String()
}

func readCode(t *testing.T, path string) paircode.Code {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := paircode.Parse(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func assertNoCode(t *testing.T, where, s string, code paircode.Code) {
	t.Helper()
	up := strings.ToUpper(s)
	if strings.Contains(up, code.Canonical()) || strings.Contains(up, code.Printed()) {
		t.Errorf("%s contains the code:\n%s", where, s)
	}
}

var deviceCodeLine = regexp.MustCompile(`(?m)^Device code: (\S+)$`)

func TestShowCode(t *testing.T) {
	path := isolate(t)
	status, out, errOut := runCmd(t, "show-code")
	if status != 0 {
		t.Fatalf("show-code exit %d: %s", status, errOut)
	}
	code := readCode(t, path)
	m := deviceCodeLine.FindStringSubmatch(out)
	if m == nil || m[1] != code.Printed() {
		t.Fatalf("show-code printed %q, want the code from %s", out, path)
	}
	if !strings.Contains(out, "Pairing URI: tlspake:"+code.Printed()+"\n") {
		t.Errorf("no pairing URI in:\n%s", out)
	}
	if !strings.ContainsAny(out, "█▀▄") {
		t.Errorf("no QR code in:\n%s", out)
	}

	// Again, with hints: the same code, and the hints in the URI.
	status, out, _ = runCmd(t, "show-code", "-addr", "10.0.0.2:8443", "-identity", "cam")
	if status != 0 {
		t.Fatal("second show-code failed")
	}
	if want := "Pairing URI: tlspake:" + code.Printed() + "?addr=10.0.0.2%3A8443&id=cam\n"; !strings.Contains(out, want) {
		t.Errorf("want %q in:\n%s", want, out)
	}
}

func TestShowCodeFromEnv(t *testing.T) {
	path := isolate(t)
	code, err := paircode.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(codeEnv, strings.ToLower(code.Canonical()))
	status, out, errOut := runCmd(t, "show-code")
	if status != 0 {
		t.Fatalf("exit %d: %s", status, errOut)
	}
	if m := deviceCodeLine.FindStringSubmatch(out); m == nil || m[1] != code.Printed() {
		t.Fatalf("printed %q, want the code from $%s", out, codeEnv)
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("a code file was created although $%s is set", codeEnv)
	}

	// A mistyped variable is an error that does not echo it.
	b := []byte(code.Printed())
	if b[1] == 'Z' {
		b[1] = 'Y'
	} else {
		b[1] = 'Z'
	}
	t.Setenv(codeEnv, string(b))
	status, out, errOut = runCmd(t, "show-code")
	if status != 1 || !strings.Contains(errOut, "$"+codeEnv) {
		t.Fatalf("typo in $%s: exit %d, stderr %q", codeEnv, status, errOut)
	}
	if strings.Contains(errOut+out, string(b)) {
		t.Errorf("output echoes the mistyped code: %q", errOut)
	}
}

func TestCodeFileReadableByOthers(t *testing.T) {
	path := isolate(t)
	if status, _, _ := runCmd(t, "show-code"); status != 0 {
		t.Fatal("show-code failed")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	status, out, errOut := runCmd(t, "serve", "-listen", "127.0.0.1:0")
	if status != 1 || !strings.Contains(errOut, "readable by others") {
		t.Fatalf("serve with a 0644 code file: exit %d, stderr %q", status, errOut)
	}
	assertNoCode(t, "output", out+errOut, readCode(t, path))
}

func TestLabel(t *testing.T) {
	path := isolate(t)
	out := filepath.Join(t.TempDir(), "lbl")
	status, stdout, errOut := runCmd(t, "label", "-o", out, "-name", "Printer", "-addr", "192.168.1.20:8443")
	if status != 0 {
		t.Fatalf("label exit %d: %s", status, errOut)
	}
	code := readCode(t, path)
	for _, ext := range []string{".png", ".svg"} {
		fi, err := os.Stat(out + ext)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600 (it contains the code)", ext, fi.Mode().Perm())
		}
		if !strings.Contains(errOut, "wrote "+out+ext) {
			t.Errorf("stderr does not report %s: %q", ext, errOut)
		}
	}
	f, err := os.Open(out + ".png")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatalf("label PNG: %v", err)
	}
	svg, _ := os.ReadFile(out + ".svg")
	if !bytes.Contains(svg, []byte(code.Printed())) || !bytes.Contains(svg, []byte("Printer")) {
		t.Errorf("label SVG lacks the code or name")
	}
	if stdout != "" {
		t.Errorf("label without -terminal wrote to stdout: %q", stdout)
	}
	assertNoCode(t, "stderr", errOut, code)

	status, stdout, _ = runCmd(t, "label", "-o", out, "-terminal")
	if status != 0 || !strings.Contains(stdout, "Device code: "+code.Printed()) {
		t.Fatalf("label -terminal: exit %d, stdout %q", status, stdout)
	}

	if status, _, errOut := runCmd(t, "label", "-o", out, "-addr", "nonsense"); status != 2 || !strings.Contains(errOut, "host:port") {
		t.Fatalf("label -addr nonsense: exit %d, %q", status, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want int
		msg  string
	}{
		{[]string{"bogus"}, 2, "unknown command"},
		{[]string{"serve", "-log-format", "xml"}, 2, "-log-format"},
		{[]string{"serve", "-upstream", "http://127.0.0.1:1", "-dir", dir}, 2, "cannot be used together"},
		{[]string{"serve", "extra"}, 2, "unexpected argument"},
		{[]string{"-nosuchflag"}, 2, "nosuchflag"},
		{[]string{"show-code", "extra"}, 2, "unexpected argument"},
		{[]string{"serve", "-upstream", "ftp://x", "-listen", "127.0.0.1:0"}, 1, "not an http:// or https:// URL"},
		{[]string{"serve", "-dir", filepath.Join(dir, "missing"), "-listen", "127.0.0.1:0"}, 1, "not a directory"},
		{[]string{"serve", "-listen", "256.0.0.1:99999"}, 1, "tlspake-device:"},
		{[]string{"help"}, 0, ""},
		{[]string{"serve", "-h"}, 0, ""},
	} {
		status, out, errOut := runCmd(t, tc.args...)
		if status != tc.want || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%q: exit %d (want %d), stderr %q (want %q)", tc.args, status, tc.want, errOut, tc.msg)
		}
		if tc.args[0] == "help" && !strings.Contains(out, "Usage:") {
			t.Errorf("help: stdout %q", out)
		}
	}
}

// TestServeInProcess runs the daemon's serve command in the test process,
// fetches the status page and stops it by cancelling the context.
func TestServeInProcess(t *testing.T) {
	path := isolate(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr testutil.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-name", "Test <Device>", "-identity", "dev-1"}, &stdout, &stderr)
	}()
	re := regexp.MustCompile(`msg=serving addr=(\S+)`)
	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for addr == "" {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case status := <-done:
			t.Fatalf("serve exited with %d: %s", status, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %s", stderr.String())
		}
	}
	code := readCode(t, path)
	if !strings.Contains(stderr.String(), "created a new device code") {
		t.Errorf("first start did not report creating the code: %s", stderr.String())
	}

	tr := &client.Transport{Code: code.Printed(), Options: client.Options{Identity: "dev-1"}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	resp, err := hc.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	for _, want := range []string{
		"<h1>Test &lt;Device&gt;</h1>",
		"<td>TLS 1.3, TLS_",
		"<td>CPACE_X25519_SHA512</td>",
		"<td>dev-1</td>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q:\n%s", want, page)
		}
	}
	if resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	resp, err = hc.Get("https://" + addr + "/other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/other: %s", resp.Status)
	}

	cancel()
	select {
	case status := <-done:
		if status != 0 {
			t.Fatalf("serve exited with %d after cancel", status)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop after cancel")
	}
	if !strings.Contains(stderr.String(), "msg=stopped") {
		t.Errorf("no stop in log: %s", stderr.String())
	}
	if stdout.String() != "" {
		t.Errorf("serve without -show-code wrote to stdout: %q", stdout.String())
	}
	assertNoCode(t, "log", stderr.String(), code)
}
