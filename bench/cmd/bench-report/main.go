// Command bench-report measures tlspake on several architectures and
// writes bench/REPORT.md and its chart. `make bench-report` runs it.
//
// For each benchmark target (by default this machine, ARMv6 and
// little-endian MIPS) it builds bench/cmd/bench-device, runs it natively
// or under the target's qemu-user emulator, and collects its JSON report;
// every time is expressed in X25519-equivalents, the time of one X25519
// measured in the same run on the same (possibly emulated) processor. It
// also takes a CPU profile of each side's handshake on each target, to
// show where the time goes, and builds the shipped binaries of every
// target of `make cross` for the size table.
//
// Usage:
//
//	go run ./bench/cmd/bench-report [-targets native,linux-armv6,linux-mipsle-softfloat] [-count 3] [-benchtime 1s]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/tlspake/pake/bench/internal/perf"
	"github.com/tlspake/pake/bench/internal/xbuild"
)

// run is the measurement of one target.
type run struct {
	target  xbuild.Target
	runner  string // "native" or the emulator and its version
	report  *perf.Report
	profile map[string]*breakdown // by side: "server", "client"
}

type config struct {
	targets   []xbuild.Target
	count     int
	benchtime time.Duration
	conns     int
	profile   time.Duration
	out       string
	chart     string
	root      string
	tmp       string
}

func main() {
	list := flag.String("targets", "native,linux-armv6,linux-mipsle-softfloat", "comma-separated benchmark `targets` (native = this machine's)")
	count := flag.Int("count", 3, "runs of each case; the median is kept")
	benchtime := flag.Duration("benchtime", time.Second, "minimum run time of each case")
	conns := flag.Int("conns", 100, "idle connections per heap case")
	profile := flag.Duration("profile", 3*time.Second, "length of each side's CPU profile per target; 0 skips profiling")
	out := flag.String("o", "bench/REPORT.md", "report `file`, relative to the module root")
	chart := flag.String("chart", "bench/report.png", "chart `file` (PNG), relative to the module root")
	flag.Parse()

	cfg := config{count: *count, benchtime: *benchtime, conns: *conns, profile: *profile}
	if err := cfg.init(*list, *out, *chart); err != nil {
		fail(err)
	}
	defer os.RemoveAll(cfg.tmp)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := cfg.run(ctx); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench-report:", err)
	os.Exit(1)
}

func (c *config) init(list, out, chart string) error {
	root, err := xbuild.ModuleRoot()
	if err != nil {
		return err
	}
	c.root = root
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "native" {
			name = runtime.GOOS + "-" + runtime.GOARCH
		}
		t, ok := xbuild.Lookup(name)
		if !ok {
			return fmt.Errorf("unknown target %q", name)
		}
		c.targets = append(c.targets, t)
	}
	c.out, c.chart = abs(root, out), abs(root, chart)
	c.tmp, err = os.MkdirTemp("", "bench-report-")
	return err
}

func abs(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}

func (c *config) run(ctx context.Context) error {
	var runs []*run
	for _, t := range c.targets {
		r, err := c.measure(ctx, t)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	fmt.Fprintln(os.Stderr, "building the shipped binaries for the size table")
	sizes, err := xbuild.BuildAll(ctx, c.root, filepath.Join(c.tmp, "cross"), xbuild.Targets, nil)
	if err != nil {
		return err
	}
	if err := writeChart(c.chart, runs); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	var md bytes.Buffer
	c.writeReport(&md, runs, sizes)
	if err := os.WriteFile(c.out, md.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s and %s\n", c.out, c.chart)
	return nil
}

// measure builds bench-device for t, runs the suite and the profiles.
func (c *config) measure(ctx context.Context, t xbuild.Target) (*run, error) {
	bin := filepath.Join(c.tmp, "bench-device-"+t.Name)
	fmt.Fprintf(os.Stderr, "== %s: building bench-device\n", t.Name)
	// Not stripped, so that the profiles have symbols.
	if err := t.BuildUnstripped(ctx, c.root, "./bench/cmd/bench-device", bin); err != nil {
		return nil, err
	}
	r := &run{target: t, runner: "native", profile: map[string]*breakdown{}}
	if !t.Native() {
		r.runner = emulatorVersion(t.Qemu)
	}
	fmt.Fprintf(os.Stderr, "== %s: running the suite (%s)\n", t.Name, r.runner)
	args := []string{"-json", "-count", fmt.Sprint(c.count), "-benchtime", c.benchtime.String(), "-conns", fmt.Sprint(c.conns)}
	var stdout bytes.Buffer
	if err := c.exec(ctx, t, bin, &stdout, args...); err != nil {
		return nil, err
	}
	r.report = new(perf.Report)
	if err := json.Unmarshal(stdout.Bytes(), r.report); err != nil {
		return nil, fmt.Errorf("%s: reading the suite's JSON: %w", t.Name, err)
	}
	if c.profile <= 0 {
		return r, nil
	}
	for _, s := range []struct{ side, fn string }{{"server", "serverHandshake"}, {"client", "clientHandshake"}} {
		fmt.Fprintf(os.Stderr, "== %s: profiling the %s side\n", t.Name, s.side)
		prof := filepath.Join(c.tmp, t.Name+"-"+s.side+".prof")
		if err := c.exec(ctx, t, bin, nil, "-run", "^"+s.side+"$", "-count", "1", "-benchtime", c.profile.String(),
			"-conns", "-1", "-cpuprofile", prof); err != nil {
			return nil, err
		}
		b, err := profileBreakdown(ctx, bin, prof, s.fn)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Name, err)
		}
		r.profile[s.side] = b
	}
	return r, nil
}

// exec runs the target's program bin with args, natively or emulated; its
// progress goes to our standard error.
func (c *config) exec(ctx context.Context, t xbuild.Target, bin string, stdout *bytes.Buffer, args ...string) error {
	cmd, err := t.Command(ctx, bin, args...)
	if err != nil {
		return err
	}
	cmd.Stdout = io.Discard
	if stdout != nil {
		cmd.Stdout = stdout
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %s: %w", t.Name, strings.Join(cmd.Args, " "), err)
	}
	return nil
}

// emulatorVersion returns "qemu-arm 7.2.22" or the like.
func emulatorVersion(qemu string) string {
	out, err := exec.Command(qemu, "--version").Output()
	if err != nil {
		return qemu
	}
	first, _, _ := strings.Cut(string(out), "\n")
	// "qemu-arm version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"
	f := strings.Fields(first)
	if len(f) >= 3 && f[1] == "version" {
		return qemu + " " + f[2]
	}
	return qemu
}
