package main

// End-to-end tests of pairing (PROFILE.md section 5) with the real
// binaries: tlspake pair/get/devices/forget and tlspake-device pairings,
// and the raw external-PSK path of tlspake get against openssl s_server.

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tlspake/pake/tlspake/paircode"
)

// startDeviceIn starts tlspake-device with the given state directory
// (so that a restart keeps the code and the pairings).
func startDeviceIn(t *testing.T, state string, args ...string) *daemon {
	t.Helper()
	deviceBin, _ := binaries(t)
	p := startProc(t, "tlspake-device", deviceBin, cleanEnv("XDG_STATE_HOME="+state), append([]string{"serve"}, args...)...)
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

// restart stops the daemon and starts it again on the same address with
// the same state directory.
func (d *daemon) restart(t *testing.T, args ...string) *daemon {
	t.Helper()
	if status := d.stop(t); status != 0 {
		t.Fatalf("device exited with %d on SIGTERM:\n%s", status, d.stderr.String())
	}
	return startDeviceIn(t, d.state, append([]string{"-listen", d.addr}, args...)...)
}

// runIn runs a program to completion with env, with a time limit.
func runIn(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %q did not finish in time; stderr:\n%s", filepath.Base(bin), args, stderr.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running %s: %v", bin, err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// cli runs tlspake with its configuration (the store of paired devices)
// in cfg.
func cli(t *testing.T, cfg string, args ...string) result {
	t.Helper()
	_, cliBin := binaries(t)
	return runIn(t, cliBin, cleanEnv("XDG_CONFIG_HOME="+cfg), args...)
}

// operator runs tlspake-device (for example "pairings list") on the
// daemon's state directory.
func (d *daemon) operator(t *testing.T, args ...string) result {
	t.Helper()
	deviceBin, _ := binaries(t)
	return runIn(t, deviceBin, cleanEnv("XDG_STATE_HOME="+d.state), args...)
}

var pairedRE = regexp.MustCompile(`paired with (\S+) \(pairing ([0-9a-f]{32})\), saved in (.+)\n`)

// pair runs tlspake pair and returns the pairing ID it reports.
func pairCLI(t *testing.T, cfg string, d *daemon) string {
	t.Helper()
	r := cli(t, cfg, "pair", "-code", d.code.Printed(), "https://"+d.addr)
	if r.status != 0 {
		t.Fatalf("tlspake pair: exit %d: %s", r.status, r.stderr)
	}
	m := pairedRE.FindStringSubmatch(r.stderr)
	if m == nil || m[1] != d.addr {
		t.Fatalf("tlspake pair did not report the pairing: %q", r.stderr)
	}
	if want := filepath.Join(cfg, "tlspake", "devices.json"); m[3] != want {
		t.Errorf("saved in %q, want %q", m[3], want)
	}
	r.assertNoCode(t, d.code)
	return m[2]
}

func (r result) wantPairAgain(t *testing.T, what string) {
	t.Helper()
	if r.status != 1 || !strings.Contains(r.stderr, "no longer recognises this client; pair again") {
		t.Fatalf("%s: exit %d, stderr %q; want exit 1 and \"pair again\"", what, r.status, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("%s: stdout %q", what, r.stdout)
	}
}

func (r result) wantStoredPairing(t *testing.T, what, addr string) {
	t.Helper()
	if r.status != 0 || !strings.Contains(r.stdout, "<h1>") {
		t.Fatalf("%s: exit %d, stderr %q", what, r.status, r.stderr)
	}
	if !strings.Contains(r.stderr, "connected to "+addr+" … ok") || !strings.Contains(r.stderr, "stored pairing") {
		t.Errorf("%s: progress does not mention the stored pairing: %q", what, r.stderr)
	}
}

func TestE2EPairing(t *testing.T) {
	dev := startDevice(t, "-name", "Paired Printer")
	cfg := t.TempDir()
	url := "https://" + dev.addr + "/"

	// Before pairing, get without a code is refused locally.
	r := cli(t, cfg, "get", url)
	if r.status != 1 || !strings.Contains(r.stderr, "no code given and no pairing") || !strings.Contains(r.stderr, "tlspake pair") {
		t.Fatalf("get before pairing: exit %d, stderr %q", r.status, r.stderr)
	}

	id := pairCLI(t, cfg, dev)
	if fi, err := os.Stat(filepath.Join(cfg, "tlspake", "devices.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("client store: %v, %v; want mode 0600", fi, err)
	}

	r = cli(t, cfg, "get", url)
	r.wantStoredPairing(t, "get after pair", dev.addr)
	if !strings.Contains(r.stdout, "<h1>Paired Printer</h1>") || !strings.Contains(r.stderr, "200 OK") {
		t.Errorf("get after pair: stdout %.300q stderr %q", r.stdout, r.stderr)
	}
	r.assertNoCode(t, dev.code)

	// Both sides list the pairing.
	r = cli(t, cfg, "devices")
	if r.status != 0 || !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(dev.addr)+`\t-\t`+id+`\tpaired \d{4}-\d\d-\d\dT`).MatchString(r.stdout) {
		t.Fatalf("tlspake devices: exit %d, stdout %q, stderr %q", r.status, r.stdout, r.stderr)
	}
	r = dev.operator(t, "pairings", "list")
	if r.status != 0 || !regexp.MustCompile(`(?m)^`+id+`\t\d{4}-\d\d-\d\dT\S+\t-\t127\.0\.0\.1:\d+$`).MatchString(r.stdout) {
		t.Fatalf("tlspake-device pairings list: exit %d, stdout %q, stderr %q", r.status, r.stdout, r.stderr)
	}
	if strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("pairings list shows %q, want one pairing", r.stdout)
	}
	if fi, err := os.Stat(filepath.Join(dev.state, "tlspake-device", "pairings.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("device pairing store: %v, %v; want mode 0600", fi, err)
	}

	// A restart with the same state keeps the pairings.
	{
		dev = dev.restart(t, "-name", "Paired Printer")
		if strings.Contains(dev.stderr.String(), "revoked") {
			t.Errorf("a restart with the same code revoked pairings:\n%s", dev.stderr.String())
		}
		cli(t, cfg, "get", url).wantStoredPairing(t, "get after restart", dev.addr)
	}

	// The operator revokes the pairing while the daemon runs.
	{
		r := dev.operator(t, "pairings", "revoke", id)
		if r.status != 0 || !strings.Contains(r.stderr, "revoked "+id) {
			t.Fatalf("pairings revoke: exit %d, stderr %q", r.status, r.stderr)
		}
		// The running daemon sees the operator's change at once.
		cli(t, cfg, "get", url).wantPairAgain(t, "get after revoke")
		r = dev.operator(t, "pairings", "revoke", id)
		if r.status != 1 || !strings.Contains(r.stderr, "no such pairing") {
			t.Errorf("revoking again: exit %d, stderr %q", r.status, r.stderr)
		}
		// With the code the client falls back to the PAKE.
		r = cli(t, cfg, "get", "-code", dev.code.Printed(), url)
		if r.status != 0 || !strings.Contains(r.stderr, "pairing with "+dev.addr+" … ok") || !strings.Contains(r.stderr, "CPace") {
			t.Fatalf("get with the code after revoke: exit %d, stderr %q", r.status, r.stderr)
		}
		// Pairing again restores the code-less access, with a new pairing.
		prev := id
		if id = pairCLI(t, cfg, dev); id == prev {
			t.Errorf("pairing again reused the revoked pairing %s", id)
		}
		cli(t, cfg, "get", url).wantStoredPairing(t, "get after pairing again", dev.addr)
	}

	// A new code (daemon stopped, code file replaced) revokes the pairings
	// made with the old one.
	{
		old := dev.code
		if status := dev.stop(t); status != 0 {
			t.Fatalf("device exited with %d", status)
		}
		fresh := newCode(t)
		codeFile := filepath.Join(dev.state, "tlspake-device", "code")
		if err := os.WriteFile(codeFile, []byte(fresh.Printed()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		dev = startDeviceIn(t, dev.state, "-listen", dev.addr, "-name", "Paired Printer")
		if dev.code != fresh {
			t.Fatal("the daemon did not pick up the new code")
		}
		log := dev.stderr.String()
		if !strings.Contains(log, "the code has changed: revoked the pairings made with the old one") || !strings.Contains(log, "revoked=1") {
			t.Errorf("the daemon did not log the revocation:\n%s", log)
		}
		assertNoCode(t, "device log", log, old)
		cli(t, cfg, "get", url).wantPairAgain(t, "get after the code changed")
		r := dev.operator(t, "pairings", "list")
		if r.status != 0 || r.stdout != "" || !strings.Contains(r.stderr, "no pairings") {
			t.Errorf("pairings list after the code changed: exit %d, stdout %q, stderr %q", r.status, r.stdout, r.stderr)
		}
		r = cli(t, cfg, "get", "-code", old.Printed(), url)
		if r.status != 1 || !strings.Contains(r.stderr, "rejected the code") {
			t.Errorf("get with the old code: exit %d, stderr %q", r.status, r.stderr)
		}
		id = pairCLI(t, cfg, dev)
		cli(t, cfg, "get", url).wantStoredPairing(t, "get after pairing with the new code", dev.addr)
		// A second restart with the unchanged new code keeps the pairing.
		dev = dev.restart(t)
		if strings.Contains(dev.stderr.String(), "code has changed") {
			t.Errorf("restart with the same code logged a code change:\n%s", dev.stderr.String())
		}
		cli(t, cfg, "get", url).wantStoredPairing(t, "get after the second restart", dev.addr)
	}

	// The client forgets the device.
	{
		r := cli(t, cfg, "forget", "https://"+dev.addr)
		if r.status != 0 || !strings.Contains(r.stderr, "forgot "+dev.addr) {
			t.Fatalf("forget: exit %d, stderr %q", r.status, r.stderr)
		}
		r = cli(t, cfg, "devices")
		if r.status != 0 || r.stdout != "" || !strings.Contains(r.stderr, "no paired devices") {
			t.Errorf("devices after forget: exit %d, stdout %q, stderr %q", r.status, r.stdout, r.stderr)
		}
		r = cli(t, cfg, "get", url)
		if r.status != 1 || !strings.Contains(r.stderr, "no code given and no pairing") {
			t.Errorf("get after forget: exit %d, stderr %q", r.status, r.stderr)
		}
		r = cli(t, cfg, "forget", "https://"+dev.addr)
		if r.status != 1 || !strings.Contains(r.stderr, "no pairing with "+dev.addr) {
			t.Errorf("forget again: exit %d, stderr %q", r.status, r.stderr)
		}
		// Forgetting is local: the device still lists the pairing.
		if r := dev.operator(t, "pairings", "list"); !strings.Contains(r.stdout, id) {
			t.Errorf("the device lost the pairing when the client forgot it: %q", r.stdout)
		}
	}
}

func TestE2EPairingStatusPage(t *testing.T) {
	dev := startDevice(t, "-name", "Status")
	cfg := t.TempDir()
	pairCLI(t, cfg, dev)
	r := cli(t, cfg, "get", "-q", "https://"+dev.addr+"/")
	if r.status != 0 {
		t.Fatalf("get: exit %d: %s", r.status, r.stderr)
	}
	if strings.Contains(r.stdout, "PAKEScheme(0x0000)") || !strings.Contains(r.stdout, "pairing") {
		t.Errorf("the daemon's status page over a paired (PSK) connection shows Authentication \"PAKEScheme(0x0000)\" and claims the connection uses the code; it should say it uses a pairing (device/cmd/tlspake-device/main.go statusPage)")
	}
}

func TestE2EMaxPairings(t *testing.T) {
	dev := startDevice(t, "-max-pairings", "1")
	cfgA, cfgB := t.TempDir(), t.TempDir()
	pairCLI(t, cfgA, dev)
	r := cli(t, cfgB, "pair", "-code", dev.code.Printed(), "https://"+dev.addr)
	if r.status != 1 {
		t.Fatalf("second pair: exit %d, stderr %q; want 1", r.status, r.stderr)
	}
	if !strings.Contains(r.stderr, "refused to pair") || !strings.Contains(r.stderr, "revoke") {
		t.Errorf("second pair: message does not say that the device is full and pairings must be revoked: %q", r.stderr)
	}
	r.assertNoCode(t, dev.code)
	if r := cli(t, cfgB, "devices"); r.stdout != "" {
		t.Errorf("the refused pairing was saved: %q", r.stdout)
	}
	// The first client is unaffected (no eviction).
	cli(t, cfgA, "get", "https://"+dev.addr+"/").wantStoredPairing(t, "first client", dev.addr)
	// Once the operator revokes, the second client can pair and the
	// first needs the code again.
	r = dev.operator(t, "pairings", "revoke-all")
	if r.status != 0 || !strings.Contains(r.stderr, "revoked 1 pairings") {
		t.Fatalf("revoke-all: exit %d, stderr %q", r.status, r.stderr)
	}
	pairCLI(t, cfgB, dev)
	cli(t, cfgB, "get", "https://"+dev.addr+"/").wantStoredPairing(t, "second client", dev.addr)
	cli(t, cfgA, "get", "https://"+dev.addr+"/").wantPairAgain(t, "first client after revoke-all")
}

func TestE2ENoPairing(t *testing.T) {
	dev := startDevice(t, "-no-pairing")
	cfg := t.TempDir()
	r := cli(t, cfg, "pair", "-code", dev.code.Printed(), "https://"+dev.addr)
	if r.status != 1 || !strings.Contains(r.stderr, "does not accept pairings") {
		t.Fatalf("pair with a -no-pairing device: exit %d, stderr %q", r.status, r.stderr)
	}
	r.assertNoCode(t, dev.code)
	if r := cli(t, cfg, "devices"); r.stdout != "" {
		t.Errorf("a refused pairing was saved: %q", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(dev.state, "tlspake-device", "pairings.json")); err == nil {
		t.Error("a -no-pairing device wrote a pairing store")
	}
	// The code keeps working.
	if r := cli(t, cfg, "get", "-q", "-code", dev.code.Printed(), "https://"+dev.addr+"/"); r.status != 0 {
		t.Errorf("get with the code: exit %d, %s", r.status, r.stderr)
	}
	// A device that paired earlier and now runs with -no-pairing does not
	// accept the pairing.
	dev = dev.restart(t) // pairing enabled again
	id := pairCLI(t, cfg, dev)
	dev = dev.restart(t, "-no-pairing")
	r = cli(t, cfg, "get", "https://"+dev.addr+"/")
	if r.status != 1 || strings.Contains(r.stdout, "<h1>") {
		t.Errorf("get with a pairing against a -no-pairing device: exit %d, stderr %q", r.status, r.stderr)
	}
	// ... but keeps it for when pairing is enabled again.
	if r := dev.operator(t, "pairings", "list"); !strings.Contains(r.stdout, id) {
		t.Errorf("pairings list: %q", r.stdout)
	}
}

func TestE2EProxyStoredPairing(t *testing.T) {
	dev := startDevice(t, "-name", "Proxied")
	cfg := t.TempDir()
	pairCLI(t, cfg, dev)
	_, cliBin := binaries(t)
	p := startProc(t, "tlspake proxy", cliBin, cleanEnv("XDG_CONFIG_HOME="+cfg), "proxy", "-listen", "127.0.0.1:0", "https://"+dev.addr)
	base := p.waitLog(t, regexp.MustCompile(`proxy ready: open (http://\S+)/ in a browser`))
	if !strings.Contains(p.stderr.String(), "stored pairing") {
		t.Errorf("proxy progress: %q", p.stderr.String())
	}
	hc := &http.Client{Timeout: 20 * time.Second}
	defer hc.CloseIdleConnections()
	resp, body := httpGet(t, hc, base+"/")
	if resp.StatusCode != 200 || !strings.Contains(body, "<h1>Proxied</h1>") {
		t.Fatalf("GET through the proxy: %s\n%s", resp.Status, body)
	}
	// Without a pairing, the proxy refuses to start.
	r := cli(t, t.TempDir(), "proxy", "-listen", "127.0.0.1:0", "https://"+dev.addr)
	if r.status != 1 || !strings.Contains(r.stderr, "no code given and no pairing") || strings.Contains(r.stderr, "proxy ready") {
		t.Errorf("proxy without code or pairing: exit %d, stderr %q", r.status, r.stderr)
	}
}

// openSSLServer starts openssl s_server -www in external-PSK mode on a
// free loopback port, or skips the test if openssl is not installed.
func openSSLServer(t *testing.T, identity, key string) string {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skipf("openssl is not installed: %v", err)
	}
	for range 3 { // another process may take the port in between
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		p := startProc(t, "openssl s_server", openssl, cleanEnv(),
			"s_server", "-tls1_3", "-nocert", "-psk", key, "-psk_identity", identity, "-www", "-accept", addr)
		deadline := time.After(15 * time.Second)
	wait:
		for !strings.Contains(p.stdout.String()+p.stderr.String(), "ACCEPT") {
			select {
			case <-p.done:
				break wait
			case <-deadline:
				t.Fatalf("openssl s_server did not start:\n%s%s", p.stdout.String(), p.stderr.String())
			case <-time.After(20 * time.Millisecond):
			}
		}
		if strings.Contains(p.stdout.String()+p.stderr.String(), "ACCEPT") {
			return addr
		}
		t.Logf("openssl s_server on %s exited: %s%s", addr, p.stdout.String(), p.stderr.String())
	}
	t.Fatal("could not start openssl s_server")
	return ""
}

func TestE2ERawPSKOpenSSL(t *testing.T) {
	binaries(t)
	const (
		identity = "tlspake-cli-interop"
		key      = "5f0c9e7a3b1d2c4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6"
		wrongKey = "5f0c9e7a3b1d2c4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e7"
	)
	addr := openSSLServer(t, identity, key)
	url := "https://" + addr + "/"
	cfg := t.TempDir()
	r := cli(t, cfg, "get", "-psk-identity", identity, "-psk-hex", key, url)
	if r.status != 0 {
		t.Fatalf("get with the raw PSK: exit %d, stderr %q", r.status, r.stderr)
	}
	for _, want := range []string{"s_server", "TLSv1.3", "Cipher is TLS_AES_128_GCM_SHA256", "</HTML>"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the s_server -www page lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "connected to "+addr+" … ok, TLS_AES_128_GCM_SHA256") || !strings.Contains(r.stderr, "PSK") ||
		strings.Contains(r.stderr, "stored pairing") {
		t.Errorf("progress: %q", r.stderr)
	}
	// Upper-case hex is hex too.
	if r := cli(t, cfg, "get", "-q", "-psk-identity", identity, "-psk-hex", strings.ToUpper(key), url); r.status != 0 {
		t.Errorf("upper-case -psk-hex: exit %d, stderr %q", r.status, r.stderr)
	}
	// The raw PSK path does not touch the store of paired devices.
	if _, err := os.Stat(filepath.Join(cfg, "tlspake")); err == nil {
		t.Error("the raw PSK path created the store of paired devices")
	}

	r = cli(t, cfg, "get", "-psk-identity", identity, "-psk-hex", wrongKey, url)
	if r.status != 1 || strings.Contains(r.stdout, "s_server") {
		t.Fatalf("get with a wrong key: exit %d, stdout %.200q, stderr %q", r.status, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, addr) {
		t.Errorf("wrong key: message does not name the server: %q", r.stderr)
	}
	wrongKeyMsg := r.stderr
	// s_server survives the failed handshake and serves the right key
	// again.
	if r := cli(t, cfg, "get", "-q", "-psk-identity", identity, "-psk-hex", key, url); r.status != 0 {
		t.Errorf("right key after a wrong one: exit %d, stderr %q", r.status, r.stderr)
	}
	if strings.Contains(wrongKeyMsg, "pair again with the code from its label") {
		t.Errorf("a wrong raw -psk-hex key is reported as %q: the raw-PSK path has no pairing or label, so the message should say the server rejected the PSK", strings.TrimSpace(wrongKeyMsg))
	}
}

func TestE2EPairingUsage(t *testing.T) {
	code := newCode(t)
	c := code.Printed()
	const u = "https://127.0.0.1:1/"
	for _, tc := range []struct {
		env  []string
		args []string
		want int
		msg  string
	}{
		{nil, []string{"get", "-psk-identity", "id", u}, 2, "-psk-identity and -psk-hex go together"},
		{nil, []string{"get", "-psk-hex", "00ff", u}, 2, "-psk-identity and -psk-hex go together"},
		{nil, []string{"get", "-psk-identity", "id", "-psk-hex", "00ff", "-code", c, u}, 2, "cannot be combined with a code"},
		{[]string{"TLSPAKE_CODE=" + c}, []string{"get", "-psk-identity", "id", "-psk-hex", "00ff", u}, 2, "cannot be combined with a code"},
		{nil, []string{"get", "-psk-identity", "id", "-psk-hex", "zz", u}, 2, "-psk-hex must be a non-empty hex string"},
		{nil, []string{"get", "-psk-identity", "id", "-psk-hex", "abc", u}, 2, "-psk-hex must be a non-empty hex string"},
		{nil, []string{"proxy", "-psk-identity", "id", "-psk-hex", "00", u}, 2, "psk-identity"},
		{nil, []string{"pair", u}, 2, "pairing needs the device code"},
		{nil, []string{"pair", "-code", c}, 2, "expected exactly one URL"},
		{nil, []string{"pair", "-code", c, "http://127.0.0.1:1"}, 2, "is not an https://DEVICE:PORT/ URL"},
		{nil, []string{"pair", "-psk-identity", "id", "-code", c, u}, 2, "psk-identity"},
		{nil, []string{"forget"}, 2, "expected exactly one URL"},
		{nil, []string{"devices", "-nosuchflag"}, 2, "nosuchflag"},
		{nil, []string{"pair", "-h"}, 0, "Usage: tlspake pair"},
		{nil, []string{"devices", "-h"}, 0, "Usage: tlspake devices"},
		{nil, []string{"forget", "-h"}, 0, "Usage: tlspake forget"},
	} {
		_, cliBin := binaries(t)
		env := cleanEnv(append([]string{"XDG_CONFIG_HOME=" + t.TempDir()}, tc.env...)...)
		r := runIn(t, cliBin, env, tc.args...)
		if r.status != tc.want || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("tlspake %q: exit %d (want %d), stderr %q (want %q)", tc.args, r.status, tc.want, r.stderr, tc.msg)
		}
		r.assertNoCode(t, code)
	}
	// A mistyped code for pair is caught locally (exit 1, like get).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := cli(t, t.TempDir(), "pair", "-code", typo(code), "https://"+l.Addr().String())
	if r.status != 1 || !strings.Contains(r.stderr, "mistyped") {
		t.Errorf("pair with a typo: exit %d, stderr %q", r.status, r.stderr)
	}
	l.(*net.TCPListener).SetDeadline(time.Now().Add(100 * time.Millisecond))
	if c, err := l.Accept(); err == nil {
		c.Close()
		t.Error("pair with a mistyped code opened a connection")
	}
}
