package xbuild

import (
	"slices"
	"strings"
	"testing"
)

func TestTargets(t *testing.T) {
	seen := map[string]bool{}
	for _, tg := range Targets {
		if seen[tg.Name] {
			t.Errorf("duplicate target %s", tg.Name)
		}
		seen[tg.Name] = true
		if tg.GOOS == "" || tg.GOARCH == "" || tg.Qemu == "" || tg.Hardware == "" {
			t.Errorf("%s: incomplete: %+v", tg.Name, tg)
		}
	}
	// The emulated tests need these three, big-endian MIPS above all.
	for _, name := range []string{"linux-armv6", "linux-mips-softfloat", "linux-mipsle-softfloat"} {
		if tg, ok := Lookup(name); !ok || !tg.Emulated {
			t.Errorf("%s: missing or not emulated", name)
		}
	}
}

func TestEnviron(t *testing.T) {
	t.Setenv("GOARM", "5")
	t.Setenv("GOMIPS", "hardfloat")
	t.Setenv("CGO_ENABLED", "1")
	tg, _ := Lookup("linux-mipsle-softfloat")
	env := tg.Environ()
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=mipsle", "GOMIPS=softfloat"} {
		if !slices.Contains(env, want) {
			t.Errorf("environment lacks %s", want)
		}
	}
	for _, kv := range env {
		if kv == "GOARM=5" || kv == "GOMIPS=hardfloat" || kv == "CGO_ENABLED=1" {
			t.Errorf("environment keeps the caller's %s", kv)
		}
	}
}

func TestSelect(t *testing.T) {
	all, err := Select("all")
	if err != nil || len(all) != len(Targets) {
		t.Fatalf("Select(all) = %d targets, %v", len(all), err)
	}
	two, err := Select("linux-armv6, linux-mips-softfloat")
	if err != nil || len(two) != 2 || two[1].GOARCH != "mips" {
		t.Fatalf("Select of two: %v, %v", two, err)
	}
	if _, err := Select("linux-vax"); err == nil || !strings.Contains(err.Error(), "linux-armv6") {
		t.Errorf("Select of an unknown target: %v; want an error listing the known ones", err)
	}
}

func TestWriteSizes(t *testing.T) {
	tg, _ := Lookup("linux-armv6")
	var b strings.Builder
	if err := WriteSizes(&b, []Sizes{{Target: tg, Bytes: []int64{3 << 20, 1 << 20}}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"linux-armv6", "arm GOARM=6", "3.00 MiB", "1.00 MiB", "tlspake-device"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("size table lacks %q:\n%s", want, b.String())
		}
	}
}
