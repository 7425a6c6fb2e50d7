package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"github.com/tlspake/pake/internal/testutil"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlspake/pake/tlspake"
)

// handshakeFiles returns the names of the repository's handshake vectors.
func handshakeFiles(t *testing.T) (dir string, names []string) {
	t.Helper()
	dir = repoVectorsDir(t)
	entries, err := os.ReadDir(filepath.Join(dir, handshakeDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	if len(names) < 10 {
		t.Fatalf("only %d handshake vectors in %s", len(names), dir)
	}
	return dir, names
}

func readVector(t *testing.T, dir, name string) (*hsFile, *hsValidated) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, handshakeDir, name))
	if err != nil {
		t.Fatal(err)
	}
	f, err := decodeHandshakeFile(data)
	if err != nil {
		t.Fatal(err)
	}
	in, err := resolveInputs(&f.Inputs, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := validateInputs(in)
	if err != nil {
		t.Fatal(err)
	}
	return f, v
}

func TestHandshakeVectorsCheck(t *testing.T) {
	dir, names := handshakeFiles(t)
	fsys := os.DirFS(dir)
	for _, n := range names {
		summary, err := checkHandshakeFile(fsys, handshakeDir+"/"+n)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if !regexp.MustCompile(`^\d+ values, \d+ records$`).MatchString(summary) {
			t.Errorf("%s: summary %q", n, summary)
		}
	}
	// The check command lists them like the other kinds.
	_, stdout, _ := runTool(t, "", "check", "-dir", dir)
	for _, n := range names {
		if !strings.Contains(stdout, "ok   handshake/"+n+" (") {
			t.Errorf("check output lacks an ok line for %s:\n%s", n, stdout)
		}
	}
}

// TestHandshakeGenerateFromInputs proves that generate writes the files
// deterministically from the inputs in them: starting from files that
// hold only "kind" and "inputs" (and PSKs without their values), it
// writes every byte of the repository's files, and a second run changes
// nothing.
func TestHandshakeGenerateFromInputs(t *testing.T) {
	dir, names := handshakeFiles(t)
	tmp := t.TempDir()
	hdir := filepath.Join(tmp, handshakeDir)
	if err := os.Mkdir(hdir, 0o755); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, handshakeDir, n))
		if err != nil {
			t.Fatal(err)
		}
		want[n] = data
		f, err := decodeHandshakeFile(data)
		if err != nil {
			t.Fatal(err)
		}
		f.Description, f.Outputs = "", nil
		for _, psks := range [][]hsPSK{f.Inputs.Client.PSKs, f.Inputs.Server.PSKs} {
			for i := range psks {
				if psks[i].PairingFrom != "" {
					psks[i].Identity, psks[i].Secret = "", ""
				}
			}
		}
		stripped, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(hdir, n), stripped, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	status, stdout, stderr := runTool(t, "", "generate", "-dir", tmp)
	if status != exitOK {
		t.Fatalf("generate: status %d\n%s%s", status, stdout, stderr)
	}
	for _, n := range names {
		got, err := os.ReadFile(filepath.Join(hdir, n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[n]) {
			i := 0
			for i < len(got) && i < len(want[n]) && got[i] == want[n][i] {
				i++
			}
			line, col := lineCol(got, i)
			t.Errorf("%s: generated from its inputs, it differs from the repository's file at line %d, column %d", n, line, col)
		}
	}
	status, stdout, _ = runTool(t, "", "generate", "-dir", tmp)
	if status != exitOK || strings.Count(stdout, "unchanged ") != len(names) {
		t.Errorf("second generate: status %d, want every file unchanged:\n%s", status, stdout)
	}
}

// jsonToken is one scalar or object key of a JSON document.
type jsonToken struct {
	path       string
	key        bool
	start, end int // the token's bytes, quotes included
}

// jsonTokens lists the scalars and keys of data with their paths.
func jsonTokens(t *testing.T, data []byte) []jsonToken {
	t.Helper()
	type frame struct {
		path      string
		obj       bool
		key       string
		index     int
		expectKey bool
	}
	var stack []*frame
	var out []jsonToken
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	prev := 0
	childPath := func() string {
		top := stack[len(stack)-1]
		if top.obj {
			return joinPath(top.path, top.key)
		}
		return fmt.Sprintf("%s[%d]", top.path, top.index)
	}
	advance := func() {
		if len(stack) == 0 {
			return
		}
		top := stack[len(stack)-1]
		if top.obj {
			top.expectKey = true
		} else {
			top.index++
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		end := int(dec.InputOffset())
		start := prev
		for start < end && strings.ContainsRune(" \n\t\r,:", rune(data[start])) {
			start++
		}
		prev = end
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{', '[':
				p := ""
				if len(stack) > 0 {
					p = childPath()
				}
				stack = append(stack, &frame{path: p, obj: tok == '{', expectKey: tok == '{'})
			default:
				stack = stack[:len(stack)-1]
				advance()
			}
		case string:
			top := stack[len(stack)-1]
			if top.obj && top.expectKey {
				top.key, top.expectKey = tok, false
				out = append(out, jsonToken{path: joinPath(top.path, tok), key: true, start: start, end: end})
				continue
			}
			out = append(out, jsonToken{path: childPath(), start: start, end: end})
			advance()
		default:
			out = append(out, jsonToken{path: childPath(), start: start, end: end})
			advance()
		}
	}
	return out
}

// changeByte returns a different byte that keeps a token well formed:
// another hex digit for a hex digit, another letter for a letter, and so
// on.
func changeByte(c byte) byte {
	switch {
	case c >= '0' && c <= '8', c >= 'a' && c <= 'e', c >= 'A' && c <= 'Y':
		return c + 1
	case c == '9':
		return 'a'
	case c == 'f':
		return '0'
	case c == 'z' || c == 'Z':
		return c - 1
	case c == '.':
		return ','
	}
	return 'x'
}

// TestHandshakeCheckNamesEveryChangedValue changes one byte of every
// value and of every key of every handshake vector, in turn, and requires
// check to fail with a message that names the value: the changed value
// itself for outputs, the description and the keys, and for inputs the
// input (when it is malformed) or the first value it changes.
func TestHandshakeCheckNamesEveryChangedValue(t *testing.T) {
	dir, names := handshakeFiles(t)
	fsys := os.DirFS(dir)
	hexRE := regexp.MustCompile(`^"[0-9a-f]+"$`)
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			t.Parallel()
			checkEveryChange(t, fsys, n, hexRE)
		})
	}
}

// checkEveryChange changes one byte of every value and key of the vector
// file n in turn and requires check to name what changed.
func checkEveryChange(t *testing.T, fsys fs.FS, n string, hexRE *regexp.Regexp) {
	mutations := 0
	name := handshakeDir + "/" + n
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	c := &hsChecker{}
	if _, err := c.check(fsys, name, data); err != nil {
		t.Fatalf("%s: %v", n, err)
	}
	for _, tok := range jsonTokens(t, data) {
		raw := string(data[tok.start:tok.end])
		if raw == "true" || raw == "false" || raw == `""` {
			continue // no one-byte change keeps these well formed
		}
		// The last character of the token's text, and for hex
		// inputs also the second (the low bits of the first byte,
		// which clamping would clear in a scalar).
		positions := []int{tok.end - 1}
		if strings.HasPrefix(raw, `"`) {
			positions = []int{tok.end - 2}
			if !tok.key && strings.HasPrefix(tok.path, "inputs.") && hexRE.MatchString(raw) && len(raw) > 4 {
				positions = append(positions, tok.start+2)
			}
		}
		for _, pos := range positions {
			if strings.HasSuffix(tok.path, ".mlkem_seed") && pos > tok.start+64 {
				// z, the second half of the seed, affects no output
				// of a vector whose client never decapsulates (see
				// vectors/README.md); change d instead.
				pos = tok.start + 64
			}
			mut := bytes.Clone(data)
			mut[pos] = changeByte(mut[pos])
			mutations++
			_, err := c.check(fsys, name, mut)
			what := fmt.Sprintf("%s: changing byte %d (%q to %q) in %s", n, pos, data[pos], mut[pos], tok.path)
			if err != nil && strings.Contains(err.Error(), "not valid JSON") {
				t.Errorf("%s: the change should keep the JSON valid: %v", what, err)
				continue
			}
			if err == nil {
				t.Errorf("%s: check passes", what)
				continue
			}
			msg := err.Error()
			switch {
			case tok.key:
				key := tok.path[strings.LastIndexAny(tok.path, ".")+1:]
				if i := strings.LastIndex(key, "["); i >= 0 {
					key = key[:i]
				}
				mutKey := key[:len(key)-1] + string(changeByte(key[len(key)-1]))
				if !strings.Contains(msg, mutKey) && !strings.Contains(msg, key) {
					t.Errorf("%s: message does not name the key: %s", what, msg)
				}
			case strings.HasPrefix(tok.path, "inputs."):
				if !strings.Contains(msg, tok.path) && !strings.Contains(msg, "outputs.") && !strings.Contains(msg, "description") {
					t.Errorf("%s: message names neither the input nor a value it changes: %s", what, msg)
				}
			default:
				if !strings.Contains(msg, tok.path) {
					t.Errorf("%s: message does not name %s: %s", what, tok.path, msg)
				}
			}
		}
	}
	// Formatting: a changed space or an upper-case hex digit keeps
	// every value but is not canonical.
	upper := bytes.Clone(data)
	if loc := regexp.MustCompile(`"key": "[0-9a-f]+"`).FindIndex(upper); loc != nil {
		value := upper[loc[0]+len(`"key": "`) : loc[1]-1]
		copy(value, bytes.ToUpper(value))
	}
	for _, mut := range [][]byte{
		bytes.Replace(data, []byte("\n  "), []byte("\n\t"), 1),
		upper,
	} {
		if bytes.Equal(mut, data) {
			continue
		}
		_, err := c.check(fsys, name, mut)
		if err == nil || !strings.Contains(err.Error(), "canonical form") {
			t.Errorf("%s: reformatted file: got %v, want a canonical form error", n, err)
		}
	}
	t.Logf("%d one-byte changes, each detected", mutations)
}

func TestHandshakeCheckMessageExample(t *testing.T) {
	// The message README.md shows.
	dst := copyVectors(t)
	name := filepath.Join(dst, handshakeDir, "aes-128-gcm-sha256.json")
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	// The client's handshake_secret is the first one after "outputs".
	i := bytes.Index(data, []byte(`"outputs"`))
	i += bytes.Index(data[i:], []byte(`"handshake_secret": "`)) + len(`"handshake_secret": "`)
	data[i] = changeByte(data[i])
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	status, stdout, _ := runTool(t, "", "check", "-dir", dst)
	if status != exitFail {
		t.Fatalf("status %d", status)
	}
	want := "FAIL handshake/aes-128-gcm-sha256.json: outputs.client.key_schedule.handshake_secret differs: the file has"
	if !strings.Contains(stdout, want) {
		t.Errorf("check output lacks %q:\n%s", want, stdout)
	}
	if !summaryLine.MatchString(stdout) {
		t.Errorf("no summary line:\n%s", stdout)
	}
}

// recordingReader records the sizes of the reads from a random source.
type recordingReader struct {
	mu    sync.Mutex
	sizes []int
}

func (r *recordingReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	r.sizes = append(r.sizes, len(p))
	r.mu.Unlock()
	return rand.Read(p)
}

// TestRandomReadOrder documents, with the plain API and no vector, how
// much randomness each party reads and in which order; vectors/README.md
// describes it.
func TestRandomReadOrder(t *testing.T) {
	pairing := tlspake.PSK{Identity: []byte("0123456789abcdef"), Secret: bytes.Repeat([]byte{7}, 32)}
	x25519 := []tlspake.CurveID{tlspake.X25519}
	cases := []struct {
		name           string
		client, server tlspake.Config
		wantC, wantS   []int
		ok             bool
	}{
		{"code", tlspake.Config{Code: []byte("c"), ServerIdentity: []byte("s"), Groups: x25519}, tlspake.Config{Code: []byte("c"), ServerIdentity: []byte("s"), Groups: x25519},
			[]int{32, 32, 32}, []int{32, 32, 32}, true},
		{"default groups: two key shares", tlspake.Config{Code: []byte("c")}, tlspake.Config{Code: []byte("c"), Groups: x25519},
			[]int{32, 64, 32, 32, 32}, []int{32, 32, 32}, true},
		{"hello retry request", tlspake.Config{Code: []byte("c"), Groups: []tlspake.CurveID{tlspake.X25519MLKEM768, tlspake.X25519}}, tlspake.Config{Code: []byte("c"), Groups: x25519},
			[]int{32, 64, 32, 32, 32}, []int{32, 32, 32}, true},
		{"unknown identity", tlspake.Config{Code: []byte("c"), ServerIdentity: []byte("x"), Groups: x25519}, tlspake.Config{Code: []byte("c"), ServerIdentity: []byte("s"), Groups: x25519},
			[]int{32, 32, 32}, []int{32, 32, 64, 32, 32}, false},
		{"psk", tlspake.Config{PSKs: []tlspake.PSK{pairing}, Groups: x25519}, tlspake.Config{GetPSK: func([]byte) (tlspake.PSK, bool) { return pairing, true }, Groups: x25519},
			[]int{32, 32}, []int{32, 32}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc, rs := &recordingReader{}, &recordingReader{}
			tc.client.Rand, tc.server.Rand = rc, rs
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			cc, sc := tlspake.Client(a, &tc.client), tlspake.Server(b, &tc.server)
			errc := make(chan error, 1)
			go func() {
				err := sc.HandshakeContext(ctx)
				b.Close()
				errc <- err
			}()
			cerr := cc.HandshakeContext(ctx)
			a.Close()
			serr := <-errc
			if (cerr == nil) != tc.ok || (serr == nil) != tc.ok {
				t.Fatalf("client %v, server %v; want success %v", cerr, serr, tc.ok)
			}
			if fmt.Sprint(rc.sizes) != fmt.Sprint(tc.wantC) {
				t.Errorf("client read %v, want %v", rc.sizes, tc.wantC)
			}
			if fmt.Sprint(rs.sizes) != fmt.Sprint(tc.wantS) {
				t.Errorf("server read %v, want %v", rs.sizes, tc.wantS)
			}
		})
	}
}

func TestHandshakeInputErrors(t *testing.T) {
	dir, _ := handshakeFiles(t)
	base, err := os.ReadFile(filepath.Join(dir, handshakeDir, "aes-128-gcm-sha256.json"))
	if err != nil {
		t.Fatal(err)
	}
	f0, _ := decodeHandshakeFile(base)
	cases := []struct {
		name   string
		change func(f *hsFile)
		want   string
	}{
		{"unclamped scalar", func(f *hsFile) { f.Inputs.Client.Random.Ya = "01" + f.Inputs.Client.Random.Ya[2:] },
			"inputs.client.random.ya: is not clamped"},
		{"short random", func(f *hsFile) { f.Inputs.Server.Random.ServerHelloRandom = "00" },
			"inputs.server.random.server_hello_random: is 1 bytes, want 32"},
		{"missing ya", func(f *hsFile) { f.Inputs.Client.Random.Ya = "" }, "inputs.client.random.ya: is missing"},
		{"unknown suite", func(f *hsFile) { f.Inputs.Server.CipherSuites = []string{"TLS_AES_128_CCM_SHA256"} },
			`inputs.server.cipher_suites[0]: unknown cipher suite "TLS_AES_128_CCM_SHA256"`},
		{"extra random value", func(f *hsFile) { f.Inputs.Client.Random.HRRX25519PrivateKey = f.Inputs.Client.Random.X25519PrivateKey },
			"inputs.client.random.hrr_x25519_private_key was never read by the client"},
		{"missing random value", func(f *hsFile) { f.Inputs.Server.Random.Yb = "" },
			"the server read 32 random bytes after its last random value in the vector"},
		{"hybrid server", func(f *hsFile) {
			f.Inputs.Client.Groups = []string{"X25519MLKEM768"}
			f.Inputs.Client.Random.MLKEMSeed = strings.Repeat("ab", 64)
			f.Inputs.Server.Groups = []string{"X25519MLKEM768"}
		}, "not reproducible"},
		{"bad step", func(f *hsFile) { f.Inputs.Application[0].From = "both" }, `inputs.application[0].from: is "both"`},
		{"key_update pending", func(f *hsFile) {
			yes := true
			f.Inputs.Application = append(f.Inputs.Application[:4:4], hsStep{From: "client", Type: stepKeyUpdate, RequestUpdate: &yes})
		}, "a key_update from the client must be followed"},
		{"no exporter", func(f *hsFile) { f.Inputs.Exporter = nil }, "inputs.exporter is missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, _ := json.Marshal(f0)
			var f hsFile
			json.Unmarshal(data, &f)
			tc.change(&f)
			_, err := regenerate(&f, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestHandshakeKeyUpdate generates a vector with KeyUpdates once the core
// offers the trigger (handshake_keyupdate.go).
func TestHandshakeKeyUpdate(t *testing.T) {
	dir, _ := handshakeFiles(t)
	f, _ := readVector(t, dir, "aes-128-gcm-sha256.json")
	yes, no := true, false
	var a []hsStep // the exchange without its own KeyUpdate
	for _, st := range f.Inputs.Application {
		if st.Type != stepKeyUpdate {
			a = append(a, st)
		}
	}
	f.Inputs.Application = []hsStep{a[0], a[1],
		{From: "client", Type: stepKeyUpdate, RequestUpdate: &yes}, a[2],
		{From: "server", Type: stepKeyUpdate, RequestUpdate: &no}, a[3], a[4], a[5]}
	r, err := regenerate(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	var kus []string
	for _, rec := range r.Outputs.Records {
		if strings.HasPrefix(rec.Summary, "KeyUpdate") {
			kus = append(kus, rec.From+" "+rec.Summary+" "+rec.Protection)
		}
	}
	want := []string{
		"client KeyUpdate update_requested client_application_traffic_secret_0",
		"server KeyUpdate update_not_requested server_application_traffic_secret_0",
		"server KeyUpdate update_not_requested server_application_traffic_secret_1",
	}
	if fmt.Sprint(kus) != fmt.Sprint(want) {
		t.Errorf("KeyUpdate records %q, want %q", kus, want)
	}
}

// startServe runs "serve" for the vector on a free loopback port and
// returns its address and a function that waits for it to exit.
func startServe(t *testing.T, vector string) (addr string, wait func() (int, string)) {
	t.Helper()
	var out testutil.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"serve", "-vector", vector, "-listen", "127.0.0.1:0", "-timeout", "20s"}, nil, &out, &out)
	}()
	re := regexp.MustCompile(`listening on (\S+)\n`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case status := <-done:
			t.Fatalf("serve exited with %d: %s", status, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not start listening")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return addr, func() (int, string) {
		select {
		case status := <-done:
			return status, out.String()
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not exit")
			return 0, ""
		}
	}
}

func TestHandshakeServeConnect(t *testing.T) {
	dir, _ := handshakeFiles(t)
	for _, n := range []string{"aes-128-gcm-sha256.json", "hello-retry-request.json", "chacha20-poly1305-sha256.json",
		"wrong-code.json", "unknown-identity.json", "psk-pairing.json"} {
		t.Run(n, func(t *testing.T) {
			vec := filepath.Join(dir, handshakeDir, n)
			addr, wait := startServe(t, vec)
			status, stdout, stderr := runTool(t, "", "connect", "-vector", vec, "-timeout", "20s", addr)
			sstatus, sout := wait()
			if status != exitOK || !strings.Contains(stdout, "PASS handshake/"+n+" as the client") {
				t.Errorf("connect: status %d\n%s%s", status, stdout, stderr)
			}
			if sstatus != exitOK || !strings.Contains(sout, "PASS handshake/"+n+" as the server") {
				t.Errorf("serve: status %d\n%s", sstatus, sout)
			}
		})
	}
}

// plainSteps runs party's side of the exchange with the plain API.
func plainSteps(c *tlspake.Conn, update func(bool) error, v *hsValidated, party string) error {
	for _, st := range v.steps {
		switch {
		case st.from == party && st.typ == stepKeyUpdate:
			if err := update(st.requestUpdate); err != nil {
				return err
			}
		case st.from == party && st.typ == stepData:
			if _, err := c.Write(st.data); err != nil {
				return err
			}
		case st.from == party && st.typ == stepCloseWrite:
			if err := c.CloseWrite(); err != nil {
				return err
			}
		case st.typ == stepData:
			buf := make([]byte, len(st.data))
			if _, err := io.ReadFull(c, buf); err != nil {
				return err
			}
			if !bytes.Equal(buf, st.data) {
				return fmt.Errorf("read %q, want %q", buf, st.data)
			}
		case st.typ == stepCloseWrite:
			if _, err := c.Read(make([]byte, 1)); err != io.EOF {
				return fmt.Errorf("read %v, want io.EOF", err)
			}
		}
	}
	return nil
}

// TestHandshakeServeWithPlainClient runs serve against a plain
// tlspake.Client configured with the vector's inputs.
func TestHandshakeServeWithPlainClient(t *testing.T) {
	dir, _ := handshakeFiles(t)
	for _, n := range []string{"alpn-server-name.json", "psk-pairing-with-code.json", "wrong-code.json"} {
		t.Run(n, func(t *testing.T) {
			vec := filepath.Join(dir, handshakeDir, n)
			f, v := readVector(t, dir, n)
			addr, wait := startServe(t, vec)
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(20 * time.Second))
			cfg := clientConfig(&v.client, &randStream{party: "client", vals: v.client.random})
			c := tlspake.Client(conn, cfg)
			var update func(bool) error
			herr := c.HandshakeContext(withKeyUpdater(t.Context(), func(u func(bool) error) { update = u }))
			if f.Outputs.Client.Result.Completed {
				if herr != nil {
					t.Fatal(herr)
				}
				if err := plainSteps(c, update, v, "client"); err != nil {
					t.Fatal(err)
				}
			} else if herr == nil {
				t.Fatal("the handshake completed; the vector says it fails")
			}
			conn.Close()
			status, out := wait()
			if status != exitOK || !strings.Contains(out, "PASS handshake/"+n+" as the server") {
				t.Errorf("serve: status %d\n%s", status, out)
			}
		})
	}
}

// TestHandshakeConnectWithPlainServer runs connect against a plain
// tlspake.Server configured with the vector's inputs.
func TestHandshakeConnectWithPlainServer(t *testing.T) {
	dir, _ := handshakeFiles(t)
	for _, n := range []string{"aes-256-gcm-sha384.json", "two-key-shares.json", "unknown-identity.json"} {
		t.Run(n, func(t *testing.T) {
			f, v := readVector(t, dir, n)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			done := make(chan error, 1)
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					done <- err
					return
				}
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(20 * time.Second))
				c := tlspake.Server(conn, serverConfig(&v.server, &randStream{party: "server", vals: v.server.random}))
				var update func(bool) error
				herr := c.HandshakeContext(withKeyUpdater(context.Background(), func(u func(bool) error) { update = u }))
				switch {
				case f.Outputs.Server.Result.Completed && herr != nil:
					done <- herr
				case f.Outputs.Server.Result.Completed:
					done <- plainSteps(c, update, v, "server")
				case herr == nil:
					done <- fmt.Errorf("the handshake completed; the vector says it fails")
				default:
					done <- nil
				}
			}()
			status, stdout, stderr := runTool(t, "", "connect", "-vector", filepath.Join(dir, handshakeDir, n), "-timeout", "20s", ln.Addr().String())
			if err := <-done; err != nil {
				t.Errorf("plain server: %v", err)
			}
			if status != exitOK || !strings.Contains(stdout, "PASS handshake/"+n+" as the client") {
				t.Errorf("connect: status %d\n%s%s", status, stdout, stderr)
			}
		})
	}
}

// TestHandshakeServeNamesDifference: a client whose code differs from the
// vector's sends another Ya, and serve names that field.
func TestHandshakeServeNamesDifference(t *testing.T) {
	dir, _ := handshakeFiles(t)
	n := "aes-128-gcm-sha256.json"
	_, v := readVector(t, dir, n)
	addr, wait := startServe(t, filepath.Join(dir, handshakeDir, n))
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	cfg := clientConfig(&v.client, &randStream{party: "client", vals: v.client.random})
	cfg.Code = []byte("7KQ2M9XPBN")
	if err := tlspake.Client(conn, cfg).HandshakeContext(t.Context()); err == nil {
		t.Error("the handshake completed")
	}
	conn.Close()
	status, out := wait()
	want := "FAIL handshake/" + n + " as the server: outputs.records[0] from the client (ClientHello): ClientHello.pake CPACE_X25519_SHA512 pake_message differs: expected "
	if status != exitFail || !strings.Contains(out, want) {
		t.Errorf("serve: status %d, want %d and %q in:\n%s", status, exitFail, want, out)
	}
}

// TestHandshakeConnectNamesEncryptedDifference: a server that selects
// another ALPN protocol sends the vector's ServerHello but another
// EncryptedExtensions, which connect decrypts and names.
func TestHandshakeConnectNamesEncryptedDifference(t *testing.T) {
	dir, _ := handshakeFiles(t)
	n := "alpn-server-name.json"
	_, v := readVector(t, dir, n)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		cfg := serverConfig(&v.server, &randStream{party: "server", vals: v.server.random})
		cfg.NextProtos = []string{"h2", "http/1.1"}
		done <- tlspake.Server(conn, cfg).HandshakeContext(context.Background())
	}()
	status, stdout, stderr := runTool(t, "", "connect", "-vector", filepath.Join(dir, handshakeDir, n), "-timeout", "20s", ln.Addr().String())
	<-done
	want := "FAIL handshake/" + n + " as the client: outputs.records[2] from the server (EncryptedExtensions): EncryptedExtensions.application_layer_protocol_negotiation differs: expected 000908687474702f312e31 received 000302683"
	if status != exitFail || !strings.Contains(stdout, want) {
		t.Errorf("connect: status %d, want %d and %q in:\n%s%s", status, exitFail, want, stdout, stderr)
	}
}

func TestHandshakeServeConnectUsage(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "-listen", "127.0.0.1:0"}, "-vector and -listen are required"},
		{[]string{"connect", "-vector", "x.json"}, "one address are required"},
		{[]string{"serve", "-vector", "nonexistent.json", "-listen", "127.0.0.1:0"}, "nonexistent.json"},
		{[]string{"generate", "-dir", "/nonexistent"}, "is not a directory"},
	}
	for _, c := range cases {
		status, _, stderr := runTool(t, "", c.args...)
		if status != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: status %d stderr %q, want %d and %q", c.args, status, stderr, exitUsage, c.want)
		}
	}
	for _, cmd := range []string{"generate", "serve", "connect"} {
		status, stdout, _ := runTool(t, "", "help", cmd)
		if status != exitOK || !strings.Contains(stdout, "usage: tlspake-vectors "+cmd) {
			t.Errorf("help %s: %d %q", cmd, status, stdout)
		}
	}
}
