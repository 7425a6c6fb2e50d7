package negative

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// committedDir is the repository's vectors/negative directory, seen from
// this package's directory.
const committedDir = "../../../../negative"

func readCommitted(t *testing.T) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(committedDir)
	if err != nil {
		t.Fatal(err)
	}
	files := make(map[string][]byte)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(committedDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = data
	}
	return files
}

// TestCommittedFilesAreGenerated: the generator is deterministic and the
// committed files are its output (run "go generate ./vectors/..." after
// changing it).
func TestCommittedFilesAreGenerated(t *testing.T) {
	first, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	second, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	committed := readCommitted(t)
	if len(first) != len(committed) {
		t.Errorf("the generator writes %d files, %s holds %d", len(first), committedDir, len(committed))
	}
	for i, f := range first {
		if !bytes.Equal(f.Data, second[i].Data) {
			t.Errorf("%s: two runs of the generator differ", f.Name)
		}
		if !bytes.Equal(f.Data, committed[f.Name]) {
			t.Errorf("%s: the committed file is not the generator's output; run go generate ./vectors/...", f.Name)
		}
	}
}

// TestCommittedFilesPass runs every committed case, and checks the
// coverage the files promise.
func TestCommittedFilesPass(t *testing.T) {
	fsys := os.DirFS(committedDir)
	total := 0
	ids := make(map[string]string)
	roles := make(map[string]int)
	alerts := make(map[string]bool)
	for name, data := range readCommitted(t) {
		summary, err := CheckFile(fsys, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var f negativeFile
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(summary, fmt.Sprintf("%d cases", len(f.Cases))) {
			t.Errorf("%s: summary %q for %d cases", name, summary, len(f.Cases))
		}
		total += len(f.Cases)
		for _, c := range f.Cases {
			if other, dup := ids[c.ID]; dup {
				t.Errorf("case id %s is in %s and %s", c.ID, other, name)
			}
			ids[c.ID] = name
			roles[c.Role]++
			alerts[c.Expected.Alert] = true
		}
	}
	if total < 40 {
		t.Errorf("%d cases in all, want at least 40", total)
	}
	if roles["server"] == 0 || roles["client"] == 0 {
		t.Errorf("cases per role: %v", roles)
	}
	// Every alert of PROFILE.md's table that bytes can provoke.
	for _, a := range []string{"missing_extension", "decode_error", "illegal_parameter", "unsupported_extension",
		"bad_record_mac", "decrypt_error", "access_denied", "protocol_version", "record_overflow", "unexpected_message", "handshake_failure"} {
		if !alerts[a] {
			t.Errorf("no case expects %s", a)
		}
	}
}

// mutate returns the committed file name with edit applied to its decoded
// form, re-encoded.
func mutate(t *testing.T, name string, edit func(f *negativeFile)) fstest.MapFS {
	t.Helper()
	var f negativeFile
	if err := json.Unmarshal(readCommitted(t)[name], &f); err != nil {
		t.Fatal(err)
	}
	edit(&f)
	data, err := json.Marshal(&f)
	if err != nil {
		t.Fatal(err)
	}
	return fstest.MapFS{name: {Data: data}}
}

// only keeps the case id (and the cases edit needs) to keep tests quick.
func only(f *negativeFile, ids ...string) {
	var keep []negativeCase
	for _, c := range f.Cases {
		for _, id := range ids {
			if c.ID == id {
				keep = append(keep, c)
			}
		}
	}
	f.Cases = keep
}

func findCase(t *testing.T, f *negativeFile, id string) *negativeCase {
	t.Helper()
	for i := range f.Cases {
		if f.Cases[i].ID == id {
			return &f.Cases[i]
		}
	}
	t.Fatalf("no case %s", id)
	return nil
}

func TestCheckDetectsWrongExpectations(t *testing.T) {
	for _, tc := range []struct {
		name, file, id string
		edit           func(c *negativeCase)
		want           []string
	}{
		{"plaintext alert", "clienthello.json", "server-pake-shares-unsorted",
			func(c *negativeCase) { c.Expected.Alert = "decode_error" },
			[]string{"case server-pake-shares-unsorted: sent alert illegal_parameter, want decode_error",
				"case server-pake-shares-unsorted: the alert on the wire is alert 022f (illegal_parameter), want 0232 (decode_error)"}},
		{"protected alert", "serverhello.json", "client-server-finished-does-not-verify",
			func(c *negativeCase) { c.Expected.Alert = "bad_record_mac" },
			[]string{"case client-server-finished-does-not-verify: sent alert decrypt_error, want bad_record_mac"}},
		{"protected flag", "clienthello.json", "server-client-finished-does-not-verify",
			func(c *negativeCase) { c.Expected.Protected = false },
			[]string{"case server-client-finished-does-not-verify: no plaintext alert on the wire, want 0233 (decrypt_error); our implementation sent protected record"}},
		{"plaintext flag", "clienthello.json", "server-pake-without-key-share",
			func(c *negativeCase) { c.Expected.Protected = true },
			[]string{"case server-pake-without-key-share: alert sent in plaintext (alert 026d (missing_extension)), want it protected"}},
		{"error class", "serverhello.json", "client-neither-pake-nor-psk",
			func(c *negativeCase) { c.Expected.Error = "code_mismatch" },
			[]string{"case client-neither-pake-nor-psk: the handshake error does not match code_mismatch"}},
		{"no alert expected", "clienthello.json", "server-pake-no-shares",
			func(c *negativeCase) { c.Expected = negativeExpected{Error: "unexpected_eof"} },
			[]string{"case server-pake-no-shares: sent alert illegal_parameter, want none", "an alert is on the wire (alert 022f (illegal_parameter)), want none",
				"does not match unexpected_eof"}},
		{"received alert", "serverhello.json", "client-fatal-alert-handshake-failure",
			func(c *negativeCase) { c.Expected.Received = "access_denied" },
			[]string{"case client-fatal-alert-handshake-failure: the handshake error does not report received alert access_denied"}},
		{"interim response", "clienthello.json", "server-hrr-second-client-hello-random-changed",
			func(c *negativeCase) {
				c.Interim[0].Response = c.Interim[0].Response[:20] + "ff" + c.Interim[0].Response[22:]
			},
			[]string{"case server-hrr-second-client-hello-random-changed: interim[0] (after "}},
		{"client hello", "serverhello.json", "client-pake-scheme-not-offered",
			func(c *negativeCase) { c.ClientHello = c.ClientHello[:len(c.ClientHello)-2] + "ff" },
			[]string{"case client-pake-scheme-not-offered: our client's first flight differs from client_hello"}},
		{"known bug that passes", "clienthello.json", "server-pake-no-shares",
			func(c *negativeCase) { c.KnownBug = "imaginary" },
			[]string{"case server-pake-no-shares: passes but is marked known_bug (imaginary)"}},
		{"wrong alert", "psk.json", "client-psk-in-hello-retry-request",
			func(c *negativeCase) { c.Expected.Alert = "unsupported_extension" },
			[]string{"case client-psk-in-hello-retry-request: sent alert illegal_parameter, want unsupported_extension"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := mutate(t, tc.file, func(f *negativeFile) {
				only(f, tc.id)
				tc.edit(findCase(t, f, tc.id))
			})
			_, err := CheckFile(fsys, tc.file)
			if err == nil {
				t.Fatal("the mutated case passes")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestKnownBugsAreNamed(t *testing.T) {
	// A case marked known_bug that still fails (here, made to fail by a
	// wrong expectation) is reported by name and does not fail the file.
	fsys := mutate(t, "psk.json", func(f *negativeFile) {
		only(f, "client-psk-in-hello-retry-request", "server-psk-binder-bit-flipped")
		c := findCase(t, f, "client-psk-in-hello-retry-request")
		c.Expected.Alert = "unsupported_extension"
		c.KnownBug = "imaginary"
	})
	summary, err := CheckFile(fsys, "psk.json")
	if err != nil {
		t.Fatal(err)
	}
	if want := "2 cases; 1 known bug(s), still failing: client-psk-in-hello-retry-request"; summary != want {
		t.Errorf("summary %q, want %q", summary, want)
	}
}

func TestRandExhausted(t *testing.T) {
	fsys := mutate(t, "clienthello.json", func(f *negativeFile) {
		only(f, "server-pake-low-order-u0")
		f.Config.Rand = f.Config.Rand[:40] // 20 bytes
	})
	_, err := CheckFile(fsys, "clienthello.json")
	if err == nil || !strings.Contains(err.Error(), "Config.Rand ran out of the 20 bytes of config.rand") {
		t.Errorf("error %v does not say the randomness ran out", err)
	}
}

func TestCheckRejectsMalformedFiles(t *testing.T) {
	good := `{"kind":"tlspake-negative","version":1,"description":"d","config":{"code":"41","client_identity":"","server_identity":"","groups":["X25519"],"cipher_suites":["TLS_AES_128_GCM_SHA256"],"rand":"00"},"cases":[%s]}`
	okCase := `{"id":"a","comment":"","role":"server","input":"00","expected":{"alert":"decode_error"}}`
	for _, tc := range []struct {
		name, data, want string
	}{
		{"unknown field", strings.Replace(good, `"version":1`, `"version":1,"extra":0`, 1), `unknown field "extra"`},
		{"kind", strings.Replace(good, "tlspake-negative", "other", 1), `"kind" is "other"`},
		{"version", strings.Replace(good, `"version":1`, `"version":2`, 1), `"version" is 2`},
		{"no description", strings.Replace(good, `"description":"d"`, `"description":""`, 1), `"description" is empty`},
		{"no rand", strings.Replace(good, `"rand":"00"`, `"rand":""`, 1), "config.rand is empty"},
		{"unknown group", strings.Replace(good, `["X25519"]`, `["P256"]`, 1), `unknown group "P256"`},
		{"unknown suite", strings.Replace(good, `["TLS_AES_128_GCM_SHA256"]`, `["RC4"]`, 1), `unknown cipher suite "RC4"`},
		{"no cases", strings.Replace(good, "%s", "", 1), `"cases" is empty`},
		{"duplicate id", strings.Replace(good, "%s", okCase+","+okCase, 1), "case a: id used twice"},
		{"bad role", strings.Replace(good, "%s", strings.Replace(okCase, `"server"`, `"proxy"`, 1), 1), `case a: "role" is "proxy"`},
		{"client without client_hello", strings.Replace(good, "%s", strings.Replace(okCase, `"server"`, `"client"`, 1), 1), `needs "client_hello"`},
		{"server with client_hello", strings.Replace(good, "%s", strings.Replace(okCase, `"role"`, `"client_hello":"00","role"`, 1), 1), `"client_hello" is for role "client" only`},
		{"bad hex", strings.Replace(good, "%s", strings.Replace(okCase, `"input":"00"`, `"input":"0g"`, 1), 1), `"input" must be non-empty hex`},
		{"unknown alert", strings.Replace(good, "%s", strings.Replace(okCase, "decode_error", "decode_failure", 1), 1), `unknown alert name "decode_failure"`},
		{"unknown error", strings.Replace(good, "%s", strings.Replace(okCase, `"alert":"decode_error"`, `"error":"eof"`, 1), 1), `unknown "error" "eof"`},
		{"empty expectation", strings.Replace(good, "%s", strings.Replace(okCase, `"alert":"decode_error"`, ``, 1), 1), `"expected" needs`},
		{"protected without alert", strings.Replace(good, "%s", strings.Replace(okCase, `"alert":"decode_error"`, `"protected":true,"error":"unexpected_eof"`, 1), 1), `"protected" needs "alert"`},
		{"interim past the input", strings.Replace(good, "%s", strings.Replace(okCase, `"expected"`, `"interim":[{"after":2,"response":"00"}],"expected"`, 1), 1), `interim[0]: "after" must be increasing`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := strings.Replace(tc.data, "%s", okCase, 1)
			_, err := CheckFile(fstest.MapFS{"f.json": {Data: []byte(data)}}, "f.json")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestLowOrderPointsMatchDraft: the points the generator uses are the
// draft's u0..u5 and u7, as its JSON file lists them.
func TestLowOrderPointsMatchDraft(t *testing.T) {
	data, err := os.ReadFile("../../../../cpace/draft-irtf-cfrg-cpace-21.json")
	if err != nil {
		t.Fatal(err)
	}
	var draft struct {
		Points map[string]string `json:"X25519_points"`
	}
	if err := json.Unmarshal(data, &draft); err != nil {
		t.Fatal(err)
	}
	for _, p := range lowOrderPoints {
		key := "Invalid Y" + strings.TrimPrefix(p.name, "u")
		if !strings.EqualFold(draft.Points[key], p.hex) {
			t.Errorf("%s = %s, the draft's %q is %s", p.name, p.hex, key, draft.Points[key])
		}
	}
}

func TestMemConn(t *testing.T) {
	a, b := memPipe()
	defer a.Close()
	defer b.Close()
	if _, err := a.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	a.CloseWrite()
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "hello" {
		t.Errorf("ReadAll = %q, %v", got, err)
	}
	// b can still write after a's CloseWrite.
	if _, err := b.Write([]byte("back")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(a, buf); err != nil || string(buf) != "back" {
		t.Errorf("ReadFull = %q, %v", buf, err)
	}
}

func TestMemConnDeadlineAndClose(t *testing.T) {
	a, b := memPipe()
	defer b.Close()
	a.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	start := time.Now()
	_, err := a.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("Read = %v after %v, want a timeout after 20ms", err, time.Since(start))
	}
	a.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, err := a.Read(make([]byte, 1))
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	a.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Read after Close succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not interrupt Read")
	}
	if _, err := b.Write([]byte("x")); err == nil {
		t.Error("Write to a closed peer succeeded")
	}
}

// TestNoGoroutinesLeft: checking a file leaves no goroutine behind.
func TestNoGoroutinesLeft(t *testing.T) {
	fsys := mutate(t, "serverhello.json", func(f *negativeFile) {
		only(f, "client-hrr-second", "client-server-finished-does-not-verify", "client-record-cut-short", "client-fatal-alert-access-denied")
	})
	before := runtime.NumGoroutine()
	if _, err := CheckFile(fsys, "serverhello.json"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

var caseLine = regexp.MustCompile(`case [a-z0-9-]+: `)

// TestProblemsNameTheCase: every problem of a failing file starts with
// the case id.
func TestProblemsNameTheCase(t *testing.T) {
	fsys := mutate(t, "attempts.json", func(f *negativeFile) {
		for i := range f.Cases {
			f.Cases[i].Expected = negativeExpected{Alert: "user_canceled"}
		}
	})
	_, err := CheckFile(fsys, "attempts.json")
	if err == nil {
		t.Fatal("passes")
	}
	parts := strings.Split(err.Error(), "; case ")
	if len(parts) < 12 {
		t.Errorf("%d problems for 12 wrong cases", len(parts))
	}
	if !caseLine.MatchString(err.Error()[:min(len(err.Error()), 60)]) {
		t.Errorf("the first problem does not start with its case: %v", err)
	}
}

// TestKnownCoreBugs runs each case marked known_bug with the mark
// removed: it is skipped, with the bug and what differs, while the bug
// lasts, and fails once the case passes (then remove the mark from the
// generator and regenerate).
func TestKnownCoreBugs(t *testing.T) {
	for name, data := range readCommitted(t) {
		var f negativeFile
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		for _, c := range f.Cases {
			if c.KnownBug == "" {
				continue
			}
			t.Run(c.ID, func(t *testing.T) {
				fsys := mutate(t, name, func(f *negativeFile) {
					only(f, c.ID)
					f.Cases[0].KnownBug = ""
				})
				if _, err := CheckFile(fsys, name); err != nil {
					t.Skipf("BUG: %s (%s: %v)", c.KnownBug, name, err)
				}
				t.Errorf("%s: %s passes: the bug is fixed; remove knownBug from the generator and regenerate", name, c.ID)
			})
		}
	}
}
