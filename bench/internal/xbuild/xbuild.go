// Package xbuild holds the cross-compilation targets of the device daemon
// and the client, and builds Go programs for them: statically linked
// (CGO_ENABLED=0), with -trimpath and stripped (-ldflags='-s -w'), as a
// firmware image would ship them. It also knows which qemu-user emulator
// runs each target on a development machine.
//
// To add a target, add one line to Targets; `make cross`, the emulated
// tests (bench/emulated_test.go, for targets with Emulated set) and
// `make bench-report` pick it up.
package xbuild

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// Target is one operating system and architecture to build for.
type Target struct {
	// Name names the target in tables and output directories.
	Name string
	// GOOS and GOARCH are the Go platform.
	GOOS, GOARCH string
	// Env holds the architecture variables, such as "GOARM=6" or
	// "GOMIPS=softfloat".
	Env []string
	// Qemu is the qemu-user program that runs the target's binaries on
	// another architecture (Debian's qemu-user package).
	Qemu string
	// Emulated marks the targets whose tests run under qemu in CI.
	Emulated bool
	// Hardware says which devices the target is for.
	Hardware string
}

// Targets are the platforms `make cross` builds, most capable first.
//
// ARM: GOARM=6 binaries also run on ARMv7; GOARM=7 ones use the ARMv7
// instructions. MIPS: most router SoCs have no FPU, and a softfloat
// binary runs on all of them (a hardfloat one would trap into the
// kernel's FPU emulator on every float instruction, or die).
var Targets = []Target{
	{Name: "linux-amd64", GOOS: "linux", GOARCH: "amd64", Qemu: "qemu-x86_64",
		Hardware: "x86-64 appliances, NAS, development machines"},
	{Name: "linux-arm64", GOOS: "linux", GOARCH: "arm64", Qemu: "qemu-aarch64",
		Hardware: "64-bit ARM: Raspberry Pi 3/4/5, recent routers and cameras"},
	{Name: "linux-armv7", GOOS: "linux", GOARCH: "arm", Env: []string{"GOARM=7"}, Qemu: "qemu-arm",
		Hardware: "32-bit ARMv7 (Cortex-A7/A9): cameras, printers, routers"},
	{Name: "linux-armv6", GOOS: "linux", GOARCH: "arm", Env: []string{"GOARM=6"}, Qemu: "qemu-arm", Emulated: true,
		Hardware: "ARMv6 (ARM11): Raspberry Pi Zero/1, older devices; runs on ARMv7 too"},
	{Name: "linux-mips-softfloat", GOOS: "linux", GOARCH: "mips", Env: []string{"GOMIPS=softfloat"}, Qemu: "qemu-mips", Emulated: true,
		Hardware: "big-endian MIPS32 routers (Atheros/QCA ath79)"},
	{Name: "linux-mipsle-softfloat", GOOS: "linux", GOARCH: "mipsle", Env: []string{"GOMIPS=softfloat"}, Qemu: "qemu-mipsel", Emulated: true,
		Hardware: "little-endian MIPS32 routers (MediaTek MT7621, MT76x8)"},
}

// Lookup returns the target called name.
func Lookup(name string) (Target, bool) {
	for _, t := range Targets {
		if t.Name == name {
			return t, true
		}
	}
	return Target{}, false
}

// Native reports whether the target's binaries run directly on this
// machine.
func (t Target) Native() bool {
	return t.GOOS == runtime.GOOS && t.GOARCH == runtime.GOARCH
}

// Environ returns the environment for the go command: the current one with
// the target's platform, its architecture variables and CGO_ENABLED=0.
// Variables of other targets (GOARM, GOMIPS and the like) are dropped so
// that the caller's environment cannot leak into the build.
func (t Target) Environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOOS", "GOARCH", "CGO_ENABLED", "GOARM", "GOARM64", "GOAMD64", "GOMIPS", "GOMIPS64", "GO386", "GOPPC64", "GORISCV64":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "CGO_ENABLED=0", "GOOS="+t.GOOS, "GOARCH="+t.GOARCH)
	return append(env, t.Env...)
}

// Command returns the command that runs the target's program bin with
// args: bin itself on this machine's platform, else bin under the
// target's qemu-user emulator. It fails when the emulator is not
// installed.
func (t Target) Command(ctx context.Context, bin string, args ...string) (*exec.Cmd, error) {
	if t.Native() {
		return exec.CommandContext(ctx, bin, args...), nil
	}
	q, err := exec.LookPath(t.Qemu)
	if err != nil {
		return nil, fmt.Errorf("%s binaries need %s (Debian package qemu-user): %w", t.Name, t.Qemu, err)
	}
	return exec.CommandContext(ctx, q, append([]string{bin}, args...)...), nil
}

// BuildFlags are the go build flags of a shipped binary.
var BuildFlags = []string{"-trimpath", "-ldflags=-s -w"}

// Build runs `go build` with BuildFlags for the target: pkg (a package
// path or a directory relative to dir) into out. dir is the working
// directory of the go command, "" for the current one.
func (t Target) Build(ctx context.Context, dir, pkg, out string) error {
	args := append([]string{"build"}, BuildFlags...)
	return t.goCmd(ctx, dir, append(args, "-o", out, pkg)...)
}

// BuildUnstripped is Build without stripping the symbol table, for
// binaries that are profiled.
func (t Target) BuildUnstripped(ctx context.Context, dir, pkg, out string) error {
	return t.goCmd(ctx, dir, "build", "-trimpath", "-o", out, pkg)
}

// BuildTest runs `go test -c` for the target: the test binary of pkg
// into out. It is not stripped, so that a failure shows a full trace.
func (t Target) BuildTest(ctx context.Context, dir, pkg, out string) error {
	return t.goCmd(ctx, dir, "test", "-c", "-trimpath", "-o", out, pkg)
}

func (t Target) goCmd(ctx context.Context, dir string, args ...string) error {
	goBin, err := GoCommand()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = t.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: go %s: %v\n%s", t.Name, strings.Join(args, " "), err, out)
	}
	return nil
}

// GoCommand returns the go command from $PATH (go test and go run put
// the running toolchain's first).
func GoCommand() (string, error) {
	return exec.LookPath("go")
}
