package main

// End-to-end tests: the real tlspake-device and tlspake binaries, built
// once per test run, talking over loopback.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/tlspake/pake/internal/testutil"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tlspake/pake/tlspake/paircode"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	status := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(status)
}

// binaries builds tlspake-device and tlspake once per test run.
func binaries(t *testing.T) (deviceBin, cliBin string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "tlspake-e2e-")
		if buildErr != nil {
			return
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("finding the go command: %w", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goBin, "build", "-buildvcs=false", "-o", buildDir+string(filepath.Separator),
			"github.com/tlspake/pake/device/cmd/tlspake-device", "github.com/tlspake/pake/client/cmd/tlspake")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "tlspake-device"), filepath.Join(buildDir, "tlspake")
}

// cleanEnv is the environment without anything that could leak a code,
// a state directory or a proxy setting into the processes under test.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "TLSPAKE_CODE", "TLSPAKE_DEVICE_CODE", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "STATE_DIRECTORY",
			"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// proc is a long-running process under test.
type proc struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr testutil.SyncBuffer
	done           chan struct{}
	waitErr        error
}

func startProc(t *testing.T, name, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("%s stderr:\n%s", p.name, p.stderr.String())
		}
	})
	return p
}

// stop sends SIGTERM, waits, and kills the process if it lingers. It
// returns the exit status.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s did not stop on SIGTERM; killing it", p.name)
			p.cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.Errorf("%s did not die", p.name)
				return -1
			}
		}
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitLog waits for re to match the process's stderr and returns the
// first submatch.
func (p *proc) waitLog(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		if m := re.FindStringSubmatch(p.stderr.String()); m != nil {
			return m[1]
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before logging %q:\n%s", p.name, p.waitErr, re, p.stderr.String())
		case <-deadline:
			t.Fatalf("%s did not log %q in time:\n%s", p.name, re, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

type daemon struct {
	*proc
	addr  string
	code  paircode.Code
	state string
}

var servingRE = regexp.MustCompile(`msg=serving addr=(\S+)`)

// startDevice starts tlspake-device on a free loopback port with a fresh
// state directory, and reads its code from the code file.
func startDevice(t *testing.T, args ...string) *daemon {
	t.Helper()
	deviceBin, _ := binaries(t)
	state := t.TempDir()
	p := startProc(t, "tlspake-device", deviceBin, cleanEnv("XDG_STATE_HOME="+state),
		append([]string{"serve", "-listen", "127.0.0.1:0"}, args...)...)
	addr := p.waitLog(t, servingRE)
	b, err := os.ReadFile(filepath.Join(state, "tlspake-device", "code"))
	if err != nil {
		t.Fatal(err)
	}
	code, err := paircode.Parse(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{proc: p, addr: addr, code: code, state: state}
	t.Cleanup(func() { assertNoCode(t, "device log", d.stderr.String(), code) })
	return d
}

type result struct {
	status         int
	stdout, stderr string
}

// runCLI runs the tlspake command to completion (with a time limit).
func runCLI(t *testing.T, env []string, args ...string) result {
	t.Helper()
	_, cliBin := binaries(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cliBin, args...)
	if env == nil {
		env = cleanEnv()
	}
	cmd.Env = append(env, "XDG_CONFIG_HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("tlspake %q did not finish in time; stderr:\n%s", args, stderr.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running tlspake: %v", err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// assertNoCode checks that s shows none of the codes, in any form.
func assertNoCode(t *testing.T, where, s string, codes ...paircode.Code) {
	t.Helper()
	up := strings.ToUpper(s)
	for _, c := range codes {
		if strings.Contains(up, c.Canonical()) || strings.Contains(up, c.Printed()) {
			t.Errorf("%s shows a code:\n%s", where, s)
		}
	}
}

func (r result) assertNoCode(t *testing.T, codes ...paircode.Code) {
	t.Helper()
	assertNoCode(t, "stdout", r.stdout, codes...)
	assertNoCode(t, "stderr", r.stderr, codes...)
}

func newCode(t *testing.T) paircode.Code {
	t.Helper()
	c, err := paircode.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// typo changes one symbol of code (the check symbol catches it).
func typo(code paircode.Code) string {
	b := []byte(code.Printed())
	if b[8] == 'K' {
		b[8] = 'M'
	} else {
		b[8] = 'K'
	}
	return string(b)
}

func TestE2EGet(t *testing.T) {
	dev := startDevice(t, "-name", "E2E Printer")
	url := "https://" + dev.addr + "/"
	wrong := newCode(t)

	t.Run("right code", func(t *testing.T) {
		r := runCLI(t, nil, "get", "-code", dev.code.Printed(), url)
		if r.status != 0 {
			t.Fatalf("exit %d: %s", r.status, r.stderr)
		}
		for _, want := range []string{"<h1>E2E Printer</h1>", "TLS 1.3", "CPACE_X25519_SHA512"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("body lacks %q:\n%s", want, r.stdout)
			}
		}
		if !strings.Contains(r.stderr, "pairing with "+dev.addr+" … ok") || !strings.Contains(r.stderr, "200 OK") {
			t.Errorf("progress: %s", r.stderr)
		}
		r.assertNoCode(t, dev.code)
	})

	t.Run("code forms", func(t *testing.T) {
		for name, r := range map[string]result{
			"lower case from $TLSPAKE_CODE": runCLI(t, cleanEnv("TLSPAKE_CODE="+strings.ToLower(dev.code.Canonical())), "get", "-q", url),
			"pairing URI":                   runCLI(t, nil, "get", "-q", "-code", paircode.Invite{Code: dev.code}.URI(), url),
		} {
			if r.status != 0 || !strings.Contains(r.stdout, "<h1>E2E Printer</h1>") {
				t.Errorf("%s: exit %d: %s", name, r.status, r.stderr)
			}
			if r.stderr != "" {
				t.Errorf("%s: -q still wrote %q", name, r.stderr)
			}
			r.assertNoCode(t, dev.code)
		}
	})

	t.Run("headers and status", func(t *testing.T) {
		r := runCLI(t, nil, "get", "-q", "-i", "-code", dev.code.Printed(), url)
		if r.status != 0 || !strings.HasPrefix(r.stdout, "HTTP/1.1 200 OK\r\n") || !strings.Contains(r.stdout, "Content-Type: text/html") {
			t.Errorf("-i: exit %d, stdout %.200q", r.status, r.stdout)
		}
		r = runCLI(t, nil, "get", "-q", "-code", dev.code.Printed(), url+"missing")
		if r.status != 0 {
			t.Errorf("404 without -f: exit %d", r.status)
		}
		r = runCLI(t, nil, "get", "-f", "-code", dev.code.Printed(), url+"missing")
		if r.status != 1 || !strings.Contains(r.stderr, "404") {
			t.Errorf("404 with -f: exit %d, stderr %q", r.status, r.stderr)
		}
	})

	t.Run("typo", func(t *testing.T) {
		bad := typo(dev.code)
		r := runCLI(t, nil, "get", "-code", bad, url)
		if r.status != 1 || !strings.Contains(r.stderr, "mistyped") {
			t.Fatalf("exit %d, stderr %q", r.status, r.stderr)
		}
		if strings.Contains(r.stderr+r.stdout, bad) {
			t.Errorf("output echoes the typed code: %s", r.stderr)
		}
		r.assertNoCode(t, dev.code)

		// Against a listener that records connections: none is made.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		r = runCLI(t, nil, "get", "-code", bad, "https://"+l.Addr().String()+"/")
		if r.status != 1 || !strings.Contains(r.stderr, "mistyped") {
			t.Fatalf("exit %d, stderr %q", r.status, r.stderr)
		}
		// The process has exited: a connection it made would be queued.
		l.(*net.TCPListener).SetDeadline(time.Now().Add(100 * time.Millisecond))
		if c, err := l.Accept(); err == nil {
			c.Close()
			t.Fatal("a mistyped code opened a connection")
		}
	})

	t.Run("wrong code", func(t *testing.T) {
		r := runCLI(t, nil, "get", "-code", wrong.Printed(), url)
		if r.status != 1 || !strings.Contains(r.stderr, "rejected the code") {
			t.Fatalf("exit %d, stderr %q", r.status, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("stdout %q", r.stdout)
		}
		r.assertNoCode(t, dev.code, wrong)
	})

	// The device saw exactly one failed handshake: the wrong code. The
	// typo never reached it.
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(dev.stderr.String(), "handshake failed") < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	devLog := dev.stderr.String()
	if n := strings.Count(devLog, "handshake failed"); n != 1 {
		t.Errorf("device logged %d failed handshakes, want 1 (the wrong code only):\n%s", n, devLog)
	}
	if !strings.Contains(devLog, "did not know the code") {
		t.Errorf("device log does not explain the failure:\n%s", devLog)
	}
	assertNoCode(t, "device log", devLog, wrong)
}

func TestE2EShowCode(t *testing.T) {
	dev := startDevice(t, "-show-code")
	m := regexp.MustCompile(`(?m)^Device code: (\S+)$`).FindStringSubmatch(dev.stdout.String())
	if m == nil || m[1] != dev.code.Printed() {
		t.Fatalf("-show-code printed %q, want the code from the code file", dev.stdout.String())
	}
	wantURI := "Pairing URI: " + paircode.Invite{Code: dev.code, Addr: dev.addr}.URI()
	if !strings.Contains(dev.stdout.String(), wantURI) {
		t.Errorf("stdout lacks %q:\n%s", wantURI, dev.stdout.String())
	}
	// The URI from the QR code works as the code.
	r := runCLI(t, nil, "get", "-q", "-code", paircode.Invite{Code: dev.code, Addr: dev.addr}.URI(), "https://"+dev.addr+"/")
	if r.status != 0 {
		t.Fatalf("get with the printed URI: exit %d: %s", r.status, r.stderr)
	}
}

func TestE2EDeviceDown(t *testing.T) {
	dev := startDevice(t)
	if status := dev.stop(t); status != 0 {
		t.Errorf("device exited with %d on SIGTERM, want 0", status)
	}
	if !strings.Contains(dev.stderr.String(), "msg=stopped") {
		t.Errorf("device did not log its stop:\n%s", dev.stderr.String())
	}
	r := runCLI(t, nil, "get", "-code", dev.code.Printed(), "https://"+dev.addr+"/")
	if r.status != 1 || !strings.Contains(r.stderr, "cannot reach "+dev.addr) {
		t.Fatalf("exit %d, stderr %q", r.status, r.stderr)
	}
	r.assertNoCode(t, dev.code)
}

func TestE2ENotDevice(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ordinary https")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	code := newCode(t)
	r := runCLI(t, nil, "get", "-code", code.Printed(), srv.URL+"/")
	if r.status != 1 || !strings.Contains(r.stderr, "not a tlspake device") {
		t.Fatalf("exit %d, stderr %q", r.status, r.stderr)
	}
	if strings.Contains(r.stdout, "ordinary https") {
		t.Error("the body of a non-device server was printed")
	}
	r.assertNoCode(t, code)
}

func TestE2EUsage(t *testing.T) {
	code := newCode(t)
	c := code.Printed()
	for _, tc := range []struct {
		args []string
		want int
		msg  string
	}{
		{nil, 2, "Usage:"},
		{[]string{"bogus"}, 2, "unknown command"},
		{[]string{"get"}, 2, "expected exactly one URL"},
		{[]string{"get", "-code", c}, 2, "expected exactly one URL"},
		{[]string{"get", "-code", c, "https://127.0.0.1:1/", "extra"}, 2, "expected exactly one URL"},
		{[]string{"get", "-code", c, "http://127.0.0.1:1/"}, 2, "is not an https://DEVICE:PORT/ URL"},
		{[]string{"get", "-nosuchflag", "https://127.0.0.1:1/"}, 2, "nosuchflag"},
		{[]string{"get", "-code", c, "-H", "NoColon", "https://127.0.0.1:1/"}, 2, "is not 'Name: value'"},
		{[]string{"proxy", "-code", c}, 2, "expected exactly one URL"},
		{[]string{"proxy", "-code", c, "-listen", "0.0.0.0:0", "https://127.0.0.1:1"}, 2, "not a loopback address"},
		{[]string{"proxy", "-code", c, "-listen", "192.0.2.1:8080", "https://127.0.0.1:1"}, 2, "-allow-remote"},
		{[]string{"help"}, 0, ""},
		{[]string{"get", "-h"}, 0, "Usage: tlspake get"},
	} {
		r := runCLI(t, nil, tc.args...)
		if r.status != tc.want || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("tlspake %q: exit %d (want %d), stderr %q (want %q)", tc.args, r.status, tc.want, r.stderr, tc.msg)
		}
		r.assertNoCode(t, code)
	}
}

// startProxy starts tlspake proxy on a free loopback port and returns its
// base URL.
func startProxy(t *testing.T, dev *daemon, args ...string) (*proc, string) {
	t.Helper()
	_, cliBin := binaries(t)
	args = append([]string{"proxy", "-code", dev.code.Printed(), "-listen", "127.0.0.1:0"}, args...)
	args = append(args, "https://"+dev.addr)
	p := startProc(t, "tlspake proxy", cliBin, cleanEnv("XDG_CONFIG_HOME="+t.TempDir()), args...)
	base := p.waitLog(t, regexp.MustCompile(`proxy ready: open (http://\S+)/ in a browser`))
	t.Cleanup(func() {
		assertNoCode(t, "proxy stderr", p.stderr.String(), dev.code)
		assertNoCode(t, "proxy stdout", p.stdout.String(), dev.code)
	})
	return p, base
}

func httpGet(t *testing.T, hc *http.Client, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading: %v", url, err)
	}
	return resp, string(b)
}

func TestE2EProxyStatusPage(t *testing.T) {
	dev := startDevice(t, "-name", "Proxy Printer")
	p, base := startProxy(t, dev)
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("proxy base %q", base)
	}
	hc := &http.Client{Timeout: 20 * time.Second}
	resp, body := httpGet(t, hc, base+"/")
	if resp.StatusCode != 200 || !strings.Contains(body, "<h1>Proxy Printer</h1>") || !strings.Contains(body, "TLS 1.3") {
		t.Fatalf("GET /: %s\n%s", resp.Status, body)
	}
	resp, _ = httpGet(t, hc, base+"/missing")
	if resp.StatusCode != 404 {
		t.Errorf("GET /missing: %s", resp.Status)
	}
	hc.CloseIdleConnections()
	if status := p.stop(t); status != 0 {
		t.Errorf("proxy exited with %d on SIGTERM", status)
	}
	if !strings.Contains(p.stderr.String(), "proxy stopped") {
		t.Errorf("proxy stderr:\n%s", p.stderr.String())
	}
}

func TestE2EProxyRedirects(t *testing.T) {
	var devAddr testutil.SyncBuffer // set once the device is up
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/go":
			http.Redirect(w, r, "https://"+devAddr.String()+"/landing?x=1", http.StatusFound)
		case "/rel":
			http.Redirect(w, r, "/landing?x=2", http.StatusSeeOther)
		case "/away":
			http.Redirect(w, r, "https://example.com/elsewhere", http.StatusFound)
		case "/near":
			http.Redirect(w, r, "https://"+devAddr.String()+"0/x", http.StatusFound)
		case "/userinfo":
			http.Redirect(w, r, "https://"+devAddr.String()+"@example.com/x", http.StatusFound)
		case "/landing":
			fmt.Fprintf(w, "landed %s", r.URL.RawQuery)
		default:
			http.NotFound(w, r)
		}
	}))
	defer upstream.Close()
	dev := startDevice(t, "-upstream", upstream.URL)
	io.WriteString(&devAddr, dev.addr)
	_, base := startProxy(t, dev)

	noFollow := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer noFollow.CloseIdleConnections()
	for path, want := range map[string]string{
		"/go":   base + "/landing?x=1",           // absolute, to the device: rewritten
		"/rel":  "/landing?x=2",                  // relative: unchanged
		"/away": "https://example.com/elsewhere", // another host: unchanged
	} {
		resp, _ := httpGet(t, noFollow, base+path)
		if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != want {
			t.Errorf("GET %s: %s, Location %q, want %q", path, resp.Status, resp.Header.Get("Location"), want)
		}
	}

	// Only the device's own URLs may be rewritten; the check is a string
	// prefix match on "https://HOST:PORT", so URLs that merely start with
	// it (another port whose number begins with the device's, or userinfo
	// naming another host) are rewritten too: the second becomes a plain
	// http:// URL on another host.
	t.Run("prefix", func(t *testing.T) {
		for path, want := range map[string]string{
			"/near":     "https://" + dev.addr + "0/x",
			"/userinfo": "https://" + dev.addr + "@example.com/x",
		} {
			resp, _ := httpGet(t, noFollow, base+path)
			if got := resp.Header.Get("Location"); got != want {
				t.Errorf("GET %s: Location %q, want %q unchanged", path, got, want)
			}
		}
	})

	follow := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != strings.TrimPrefix(base, "http://") {
			return fmt.Errorf("redirected off the proxy to %s", req.URL)
		}
		return nil
	}}
	defer follow.CloseIdleConnections()
	if resp, body := httpGet(t, follow, base+"/go"); resp.StatusCode != 200 || body != "landed x=1" {
		t.Errorf("following /go: %s %q", resp.Status, body)
	}
}

func TestE2EProxyCodeChecks(t *testing.T) {
	dev := startDevice(t)
	wrong := newCode(t)
	// A wrong code is reported before the proxy starts serving.
	r := runCLI(t, nil, "proxy", "-code", wrong.Printed(), "-listen", "127.0.0.1:0", "https://"+dev.addr)
	if r.status != 1 || !strings.Contains(r.stderr, "rejected the code") || strings.Contains(r.stderr, "proxy ready") {
		t.Fatalf("wrong code: exit %d, stderr %q", r.status, r.stderr)
	}
	r.assertNoCode(t, dev.code, wrong)
	r = runCLI(t, nil, "proxy", "-code", typo(dev.code), "-listen", "127.0.0.1:0", "https://"+dev.addr)
	if r.status != 1 || !strings.Contains(r.stderr, "mistyped") {
		t.Fatalf("typo: exit %d, stderr %q", r.status, r.stderr)
	}

	// -allow-remote lets a non-loopback address through.
	_, base := startProxy(t, dev, "-listen", "0.0.0.0:0", "-allow-remote")
	host, port, err := net.SplitHostPort(strings.TrimPrefix(base, "http://"))
	// A wildcard listening address is shown as localhost, a URL a
	// browser can open.
	if err != nil || host != "localhost" {
		t.Fatalf("proxy base %q, want http://localhost:PORT", base)
	}
	hc := &http.Client{Timeout: 20 * time.Second}
	defer hc.CloseIdleConnections()
	if resp, body := httpGet(t, hc, "http://127.0.0.1:"+port+"/"); resp.StatusCode != 200 || !strings.Contains(body, "<h1>") {
		t.Fatalf("GET through the -allow-remote proxy: %s", resp.Status)
	}
}

func TestE2ELargeDownload(t *testing.T) {
	const size = 64 << 20
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	var seed [32]byte
	seed[0] = 42
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.NewChaCha8(seed), size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := h.Sum(nil)

	dev := startDevice(t, "-dir", dir)
	url := "https://" + dev.addr + "/big.bin"

	start := time.Now()
	out := filepath.Join(t.TempDir(), "got.bin")
	r := runCLI(t, nil, "get", "-q", "-code", dev.code.Printed(), "-o", out, url)
	if r.status != 0 {
		t.Fatalf("get: exit %d: %s", r.status, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("get -o wrote %d bytes to stdout", len(r.stdout))
	}
	got, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	h.Reset()
	n, err := io.Copy(h, got)
	got.Close()
	if err != nil || n != size || !bytes.Equal(h.Sum(nil), want) {
		t.Fatalf("get -o: %d bytes, sha256 match %v, err %v", n, bytes.Equal(h.Sum(nil), want), err)
	}
	t.Logf("tlspake get: 64 MiB in %v", time.Since(start).Round(time.Millisecond))

	_, base := startProxy(t, dev)
	start = time.Now()
	req, err := http.NewRequestWithContext(t.Context(), "GET", base+"/big.bin", nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 60 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != size {
		t.Fatalf("proxy: %s, Content-Length %d", resp.Status, resp.ContentLength)
	}
	h.Reset()
	n, err = io.Copy(h, resp.Body)
	if err != nil || n != size || !bytes.Equal(h.Sum(nil), want) {
		t.Fatalf("proxy: %d bytes, sha256 match %v, err %v", n, bytes.Equal(h.Sum(nil), want), err)
	}
	t.Logf("through the proxy: 64 MiB in %v", time.Since(start).Round(time.Millisecond))
}
