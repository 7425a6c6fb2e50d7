package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlspake/pake/bench/internal/perf"
	"github.com/tlspake/pake/bench/internal/xbuild"
)

// fakeRun is a run whose every case takes k times the unit.
func fakeRun(t *testing.T, target string, runner string, unit float64) *run {
	t.Helper()
	tg, ok := xbuild.Lookup(target)
	if !ok {
		t.Fatalf("no target %s", target)
	}
	rep := &perf.Report{Platform: tg.GOOS + "/" + tg.GOARCH, GoVersion: "go1.test", NumCPU: 2, Count: 1, Benchtime: "1s"}
	for i, c := range perf.Cases {
		ns := unit * float64(i+1)
		if c.Name == perf.UnitCase {
			ns = unit
		}
		rep.Results = append(rep.Results, perf.Result{Name: c.Name, Label: c.Label, NsPerOp: ns, AllocsPerOp: 7, BytesPerOp: 1234})
	}
	for _, h := range perf.HeapCases {
		rep.Heap = append(rep.Heap, perf.HeapResult{Name: h.Name, Label: h.Label, BytesPerConn: 8192, Conns: 10})
	}
	b := &breakdown{total: time.Second, cats: make([]time.Duration, len(categories)), ladder: 600 * time.Millisecond}
	b.cats[0] = 700 * time.Millisecond
	b.cats[len(categories)-1] = 300 * time.Millisecond
	return &run{target: tg, runner: runner, report: rep, profile: map[string]*breakdown{"server": b, "client": b}}
}

func TestWriteReportAndChart(t *testing.T) {
	dir := t.TempDir()
	c := &config{count: 1, benchtime: time.Second, conns: 10, profile: time.Second,
		out: filepath.Join(dir, "REPORT.md"), chart: filepath.Join(dir, "report.png")}
	runs := []*run{
		fakeRun(t, "linux-amd64", "native", 40e3),
		fakeRun(t, "linux-armv6", "qemu-arm 7.2", 1.2e6),
	}
	tg, _ := xbuild.Lookup("linux-armv6")
	sizes := []xbuild.Sizes{{Target: tg, Bytes: []int64{9 << 20, 6 << 20}}}

	var md bytes.Buffer
	c.writeReport(&md, runs, sizes)
	s := md.String()
	for _, want := range []string{
		"![Cost of each operation in X25519-equivalents, per architecture](report.png)",
		"| X25519, variable base (cpacecore.X25519, our ladder) = the unit | **1** (40.0 µs) | **1** (1.20 ms) |",
		"linux-armv6 (qemu-arm 7.2)",
		"| linux-armv6 | arm GOARM=6 |",
		"9.00 MiB",
		"8192 B",
		"| Curve25519 field arithmetic",
		"*60%*",
		"make bench-device GOARCH=arm",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Every case has its row.
	for _, cs := range perf.Cases {
		if !strings.Contains(s, "| "+cs.Label+" |") {
			t.Errorf("report lacks the row %q", cs.Label)
		}
	}

	if err := writeChart(c.chart, runs); err != nil {
		t.Fatal(err)
	}
	png, err := os.ReadFile(c.chart)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 5000 {
		t.Errorf("chart: %d bytes, not a PNG image", len(png))
	}
}

func TestCategories(t *testing.T) {
	for fn, want := range map[string]int{
		"filippo.io/edwards25519/field.feMulGeneric":             0,
		"github.com/tlspake/pake/internal/cpacecore.X25519":      0,
		"crypto/internal/fips140/mlkem.kemKeyGen":                1,
		"crypto/internal/fips140/sha3.keccakF1600Generic":        1,
		"crypto/internal/fips140/sha512.blockGeneric":            2,
		"github.com/tlspake/pake/tlspake.hmacSum":                2,
		"crypto/internal/fips140/aes/gcm.gcmAesSeal":             3,
		"runtime.mallocgc":                                       4,
		"github.com/tlspake/pake/tlspake.(*Conn).readRecord":     5,
		"github.com/tlspake/pake/bench/internal/perf.(*side).op": 6,
	} {
		got := -1
		for i, c := range categories {
			if c.match(fn) {
				got = i
				break
			}
		}
		if got != want {
			t.Errorf("%s: category %d, want %d", fn, got, want)
		}
	}
}

func TestParseDur(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0": 0, "10ms": 10 * time.Millisecond, "1.83s": 1830 * time.Millisecond, "2mins": 2 * time.Minute,
	} {
		if got, err := parseDur(in); err != nil || got != want {
			t.Errorf("parseDur(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}
