// Command bench-device is tlspake's performance suite as one static
// binary, for a firmware engineer to copy to a board and run:
//
//	make bench-device GOARCH=arm          # or arm64, mips, mipsle, amd64
//	scp bin/bench-device-linux-arm root@board:/tmp/
//	ssh root@board /tmp/bench-device-linux-arm
//
// It prints one row per operation: its time, its cost in
// X25519-equivalents (its time divided by one X25519 scalar
// multiplication measured in the same run: comparable across machines),
// and its allocations; then the heap each idle connection keeps. Each
// -count takes about 20 seconds (the default, 3, about a minute); -count 1
// -benchtime 300ms gives a quick look.
//
// `make bench-report` runs the same binary natively and under qemu and
// collects its -json output into bench/REPORT.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/tlspake/pake/bench/internal/perf"
)

func main() {
	testing.Init()
	benchtime := flag.Duration("benchtime", time.Second, "minimum run `time` of each case")
	count := flag.Int("count", 3, "runs of each case; the median is kept")
	run := flag.String("run", "", "only the cases whose name matches this `regexp` (the X25519 unit always runs)")
	conns := flag.Int("conns", 100, "idle connections opened per heap case; negative skips them")
	asJSON := flag.Bool("json", false, "print the report as JSON instead of a table")
	machine := flag.String("machine", "", "`description` of the machine for the report; empty means the CPU model from /proc/cpuinfo")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to `file`")
	list := flag.Bool("list", false, "list the cases and exit")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: %s [flags]\n\nRuns tlspake's performance suite and prints a table.\n\nFlags:\n", os.Args[0])
		flag.VisitAll(func(f *flag.Flag) {
			if strings.HasPrefix(f.Name, "test.") {
				return // testing's own flags
			}
			name, usage := flag.UnquoteUsage(f)
			if f.DefValue != "" && f.DefValue != "false" {
				usage += " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(flag.CommandLine.Output(), "  -%s %s\n    \t%s\n", f.Name, name, usage)
		})
	}
	flag.Parse()
	if *list {
		for _, c := range perf.Cases {
			fmt.Printf("%-16s %s\n", c.Name, c.Label)
		}
		for _, c := range perf.HeapCases {
			fmt.Printf("%-16s %s (heap per idle connection)\n", c.Name, c.Label)
		}
		return
	}
	if err := flag.Set("test.benchtime", benchtime.String()); err != nil {
		fail(err)
	}
	opts := perf.Options{Count: *count, HeapConns: *conns, Progress: os.Stderr}
	if *run != "" {
		re, err := regexp.Compile(*run)
		if err != nil {
			fail(err)
		}
		opts.Filter = re
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fail(err)
			}
		}()
	}
	rep, err := perf.Run(opts)
	if err != nil {
		fail(err)
	}
	if *machine != "" {
		rep.Machine = *machine
	}
	if *asJSON {
		err = rep.WriteJSON(os.Stdout)
	} else {
		err = rep.WriteTable(os.Stdout)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench-device:", err)
	os.Exit(1)
}
