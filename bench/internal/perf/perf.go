// Package perf is the cross-architecture performance suite of tlspake:
// the operations that `make bench-report` and the on-device benchmark
// binary (bench/cmd/bench-device) time, and the table they print.
//
// Every time is also expressed in X25519-equivalents: divided by the time
// of one variable-base X25519 scalar multiplication with the project's
// own ladder (cpacecore.X25519), timed on the same machine just before
// each run of the case (the median of the per-run ratios is kept). That figure is comparable across machines and emulators: it
// says how much a handshake costs in units of the one operation a
// handshake cannot avoid, whatever the processor's speed.
//
// Each side of a handshake is timed alone by replaying the other side's
// recorded flight (see replay.go for why that is sound).
package perf

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// Result is the measurement of one Case.
type Result struct {
	Name, Label string
	// NsPerOp is the median of Runs.
	NsPerOp float64
	// Runs are the ns/op of each run.
	Runs []float64
	// Equivalents is the median over the runs of the run's ns/op divided
	// by the unit's ns/op measured just before that run: a slow spell of
	// a shared machine slows both and cancels out.
	Equivalents float64
	// UnitRuns are those unit measurements.
	UnitRuns []float64
	// AllocsPerOp and BytesPerOp are the heap allocations of one
	// operation (from the last run).
	AllocsPerOp, BytesPerOp int64
	// Iterations is the iteration count of the last run.
	Iterations int
}

// Report is one run of the suite on one machine.
type Report struct {
	// Platform is GOOS/GOARCH with its architecture variables, from the
	// binary's build information, such as "linux/arm GOARM=6".
	Platform string
	// Machine describes where it ran: the CPU model from /proc/cpuinfo,
	// or what the caller says (for example "qemu-arm 7.2 on ...").
	Machine   string
	GoVersion string
	NumCPU    int
	Started   time.Time
	Benchtime string
	Count     int
	Results   []Result
	Heap      []HeapResult
}

// Options control Run.
type Options struct {
	// Count is how many times each case runs; the median is kept.
	// Zero means 1.
	Count int
	// Filter, if not nil, selects cases by name. The unit case always
	// runs.
	Filter *regexp.Regexp
	// HeapConns is how many idle connections each heap case opens;
	// zero means 100, negative skips the heap cases.
	HeapConns int
	// Progress, if not nil, receives a line per case.
	Progress io.Writer
}

// Run runs the cases with testing.Benchmark (whose duration is the
// test.benchtime flag: call testing.Init and set it first, or get the
// default of 1s) and returns the report.
func Run(opts Options) (*Report, error) {
	count := max(opts.Count, 1)
	rep := &Report{
		Platform:  Platform(),
		Machine:   CPUModel(),
		GoVersion: runtime.Version(),
		NumCPU:    runtime.NumCPU(),
		Started:   time.Now().UTC(),
		Count:     count,
	}
	rep.Benchtime = lookupBenchtime()
	unitOp, err := Cases[0].Setup()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", UnitCase, err)
	}
	for _, c := range Cases {
		if opts.Filter != nil && c.Name != UnitCase && !opts.Filter.MatchString(c.Name) {
			continue
		}
		op, err := c.Setup()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name, err)
		}
		res := Result{Name: c.Name, Label: c.Label}
		var ratios []float64
		for range count {
			unit := timeOp(unitOp, unitTime)
			res.UnitRuns = append(res.UnitRuns, unit)
			var opErr error
			br := testing.Benchmark(func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := op(); err != nil {
						opErr = err
						b.SkipNow()
					}
				}
			})
			if opErr != nil {
				return nil, fmt.Errorf("%s: %w", c.Name, opErr)
			}
			if br.N == 0 {
				return nil, fmt.Errorf("%s: the benchmark did not run", c.Name)
			}
			ns := float64(br.T.Nanoseconds()) / float64(br.N)
			res.Runs = append(res.Runs, ns)
			ratios = append(ratios, ns/unit)
			res.AllocsPerOp, res.BytesPerOp, res.Iterations = br.AllocsPerOp(), br.AllocedBytesPerOp(), br.N
		}
		res.NsPerOp = median(res.Runs)
		res.Equivalents = median(ratios)
		if c.Name == UnitCase {
			res.Equivalents = 1
		}
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "%-16s %12.0f ns/op %8.2f X25519-eq  %5d allocs/op  %7d B/op\n",
				c.Name, res.NsPerOp, res.Equivalents, res.AllocsPerOp, res.BytesPerOp)
		}
		rep.Results = append(rep.Results, res)
	}
	if opts.HeapConns >= 0 {
		n := opts.HeapConns
		if n == 0 {
			n = 100
		}
		for _, hc := range HeapCases {
			if opts.Filter != nil && !opts.Filter.MatchString(hc.Name) {
				continue
			}
			hr, err := MeasureHeap(hc, n)
			if err != nil {
				return nil, err
			}
			if opts.Progress != nil {
				fmt.Fprintf(opts.Progress, "%-16s %12.0f B/conn\n", hc.Name, hr.BytesPerConn)
			}
			rep.Heap = append(rep.Heap, hr)
		}
	}
	return rep, nil
}

// unitTime is how long the unit is timed before each run of a case.
const unitTime = 200 * time.Millisecond

// timeOp returns the ns/op of op run repeatedly for at least d (after one
// untimed call).
func timeOp(op func() error, d time.Duration) float64 {
	op()
	n := 0
	start := time.Now()
	for {
		for range 10 {
			op()
		}
		n += 10
		if el := time.Since(start); el >= d {
			return float64(el.Nanoseconds()) / float64(n)
		}
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// lookupBenchtime returns the test.benchtime flag, which testing.Init
// registers, or its default.
func lookupBenchtime() string {
	if f := flagLookup("test.benchtime"); f != "" {
		return f
	}
	return "1s"
}

// Result returns the result called name.
func (r *Report) Result(name string) (Result, bool) {
	for _, x := range r.Results {
		if x.Name == name {
			return x, true
		}
	}
	return Result{}, false
}

// Unit returns the ns/op of the unit case, or 0.
func (r *Report) Unit() float64 {
	u, _ := r.Result(UnitCase)
	return u.NsPerOp
}

// Equivalents returns a result's time in X25519-equivalents: the median
// of its per-run ratios, or for a result without them its median time
// over the unit's.
func (r *Report) Equivalents(res Result) float64 {
	if res.Equivalents > 0 {
		return res.Equivalents
	}
	if u := r.Unit(); u > 0 {
		return res.NsPerOp / u
	}
	return 0
}

// Platform returns GOOS/GOARCH and the architecture variables this binary
// was built with, from its build information.
func Platform() string {
	p := runtime.GOOS + "/" + runtime.GOARCH
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return p
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOARM", "GOARM64", "GOAMD64", "GOMIPS", "GOMIPS64", "GO386", "GOPPC64", "GORISCV64":
			p += " " + s.Key + "=" + s.Value
		}
	}
	return p
}

// CPUModel returns the processor's name from /proc/cpuinfo, or "".
func CPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, key := range []string{"model name", "cpu model", "Hardware", "system type", "uarch", "cpu"} {
		for line := range strings.Lines(string(b)) {
			k, v, ok := strings.Cut(line, ":")
			if ok && strings.TrimSpace(k) == key {
				return strings.TrimSpace(v)
			}
		}
	}
	return ""
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report as aligned text: one row per case with its
// time, its X25519-equivalents and its allocations, then the heap per
// idle connection.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "tlspake performance suite: %s, %s, %d CPU, %s\n", r.Platform, orUnknown(r.Machine), r.NumCPU, r.GoVersion)
	fmt.Fprintf(w, "each case: median of %d run(s) of %s; unit: one X25519 (our ladder) = %s\n\n", r.Count, r.Benchtime, FormatNs(r.Unit()))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "case\ttime/op\tX25519-eq\tallocs/op\tB/op\t")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%d\t%d\t\n", res.Label, FormatNs(res.NsPerOp), r.Equivalents(res), res.AllocsPerOp, res.BytesPerOp)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Heap) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "idle connection\theap\t")
		for _, h := range r.Heap {
			fmt.Fprintf(tw, "%s\t%s\t\n", h.Label, FormatBytes(h.BytesPerConn))
		}
		return tw.Flush()
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown CPU"
	}
	return s
}

// FormatNs formats nanoseconds with a unit that keeps three or four
// significant digits.
func FormatNs(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

// FormatBytes formats a byte count in KiB above 10 KiB.
func FormatBytes(b float64) string {
	if b >= 10<<10 {
		return fmt.Sprintf("%.1f KiB", b/1024)
	}
	return fmt.Sprintf("%.0f B", b)
}

func flagLookup(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}
