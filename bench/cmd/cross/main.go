// Command cross builds the device daemon and the client for every target
// of bench/internal/xbuild (static, -trimpath, stripped) and prints their
// sizes. `make cross` runs it.
//
// Usage:
//
//	go run ./bench/cmd/cross [-o bin/cross] [-targets linux-armv6,linux-mips-softfloat]
//
// Binaries go to OUT/TARGET/tlspake-device and OUT/TARGET/tlspake.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/tlspake/pake/bench/internal/xbuild"
)

func main() {
	out := flag.String("o", "bin/cross", "output `directory`, relative to the module root")
	list := flag.String("targets", "all", "comma-separated target `names`, or all")
	flag.Parse()
	if err := run(*out, *list); err != nil {
		fmt.Fprintln(os.Stderr, "cross:", err)
		os.Exit(1)
	}
}

func run(out, list string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	targets, err := xbuild.Select(list)
	if err != nil {
		return err
	}
	root, err := xbuild.ModuleRoot()
	if err != nil {
		return err
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	sizes, err := xbuild.BuildAll(ctx, root, out, targets, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Printf("Stripped static binaries (-trimpath -ldflags='-s -w', CGO_ENABLED=0) in %s:\n\n", out)
	return xbuild.WriteSizes(os.Stdout, sizes)
}
