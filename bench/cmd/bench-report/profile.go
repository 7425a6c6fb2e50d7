package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/tlspake/pake/bench/internal/xbuild"
)

// breakdown is where one side's handshake spends its CPU time, from a
// profile: each function's own (flat) time, summed by category.
type breakdown struct {
	total  time.Duration   // samples under the handshake function
	cats   []time.Duration // parallel to categories
	ladder time.Duration   // cumulative time in cpacecore.X25519
}

// category groups functions by name.
type category struct {
	label string
	match func(fn string) bool
}

func hasAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// categories are checked in order; the first match wins.
var categories = []category{
	{"Curve25519 field arithmetic (X25519 ladder, fixed-base, Elligator 2)", func(fn string) bool {
		return hasAny(fn, "filippo.io/edwards25519", "/internal/cpacecore.", "math/bits.")
	}},
	{"ML-KEM-768", func(fn string) bool { return hasAny(strings.ToLower(fn), "mlkem", "sha3", "keccak") }},
	{"SHA-256/SHA-512, HMAC, HKDF (transcript, key schedule, CPace hashes)", func(fn string) bool {
		return hasAny(strings.ToLower(fn), "sha256", "sha512", "hmac", "hkdf")
	}},
	{"AEAD record protection (AES-GCM)", func(fn string) bool {
		return hasAny(strings.ToLower(fn), "/aes", "gcm", "chacha", "poly1305", "subtle.xor")
	}},
	{"Go runtime (allocation, GC, scheduling)", func(fn string) bool {
		return strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "internal/runtime") || strings.HasPrefix(fn, "sync")
	}},
	{"tlspake itself (messages, records, state machine)", func(fn string) bool {
		return strings.HasPrefix(fn, "github.com/tlspake/pake/tlspake")
	}},
	{"other", func(string) bool { return true }},
}

// profileBreakdown reads the CPU profile prof of bin with go tool pprof,
// restricted to the samples under the function matching focus.
func profileBreakdown(ctx context.Context, bin, prof, focus string) (*breakdown, error) {
	goBin, err := xbuild.GoCommand()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, goBin, "tool", "pprof", "-top", "-nodecount=1000000", "-nodefraction=0",
		"-edgefraction=0", "-focus="+focus, bin, prof)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof: %v\n%s", err, stderr.String())
	}
	b := &breakdown{cats: make([]time.Duration, len(categories))}
	sc := bufio.NewScanner(bytes.NewReader(out))
	inTable := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if !inTable {
			inTable = len(f) == 5 && f[0] == "flat" && f[4] == "cum%"
			continue
		}
		if len(f) < 6 {
			continue
		}
		flat, err1 := parseDur(f[0])
		cum, err2 := parseDur(f[3])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("pprof line %q: %v %v", sc.Text(), err1, err2)
		}
		fn := f[5]
		for i, c := range categories {
			if c.match(fn) {
				b.cats[i] += flat
				break
			}
		}
		b.total += flat
		if fn == "github.com/tlspake/pake/internal/cpacecore.X25519" {
			b.ladder = cum
		}
	}
	if !inTable || b.total == 0 {
		return nil, fmt.Errorf("no samples under %s in %s", focus, prof)
	}
	return b, nil
}

// parseDur parses pprof's durations: "0", "10ms", "1.83s", "1mins".
func parseDur(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	s = strings.Replace(s, "mins", "m", 1)
	s = strings.Replace(s, "hrs", "h", 1)
	return time.ParseDuration(s)
}

// share returns d as a percentage of the total.
func (b *breakdown) share(d time.Duration) float64 {
	return 100 * float64(d) / float64(b.total)
}
