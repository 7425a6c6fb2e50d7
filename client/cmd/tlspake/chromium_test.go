package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// findChromium returns the Chromium binary, or "" if there is none.
func findChromium() string {
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestE2EChromium loads the device's status page in headless Chromium
// through tlspake proxy: an unmodified browser reaches the device.
func TestE2EChromium(t *testing.T) {
	chromium := findChromium()
	if chromium == "" {
		t.Skip("chromium not installed (apt-get install chromium); skipping the browser test")
	}
	dev := startDevice(t, "-name", "Browser Printer")
	_, base := startProxy(t, dev)

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-proxy-server", "--user-data-dir="+t.TempDir(),
		"--dump-dom", base+"/")
	cmd.Env = cleanEnv("HOME=" + t.TempDir())
	// Chromium starts helper processes: put them all in one process
	// group so that a timeout (or the cleanup) ends every one of them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() { syscall.Kill(-pgid, syscall.SIGKILL) })
	err := cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("chromium did not finish in time; stderr:\n%s", stderr.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	dom := stdout.String()
	if !strings.Contains(dom, "<h1>Browser Printer</h1>") {
		t.Fatalf("chromium (exit %v) did not render the status page; DOM:\n%s\nstderr:\n%s", err, dom, stderr.String())
	}
	for _, want := range []string{"TLS 1.3", "CPACE_X25519_SHA512"} {
		if !strings.Contains(dom, want) {
			t.Errorf("DOM lacks %q", want)
		}
	}
	t.Logf("chromium rendered the page in %v", time.Since(start).Round(time.Millisecond))
}
