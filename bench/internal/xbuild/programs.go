package xbuild

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// Program is a command the project ships.
type Program struct {
	// Name is the binary's name.
	Name string
	// Pkg is its package, relative to the module root.
	Pkg string
}

// Programs are the binaries `make cross` builds for every target.
var Programs = []Program{
	{"tlspake-device", "./device/cmd/tlspake-device"},
	{"tlspake", "./client/cmd/tlspake"},
}

// Sizes are the sizes in bytes of the Programs built for one target.
type Sizes struct {
	Target Target
	Bytes  []int64 // parallel to Programs
}

// BuildAll builds every program for every target under
// outDir/TARGET/NAME, with the module root as the working directory, and
// returns the sizes. It reports each build on progress, if not nil.
func BuildAll(ctx context.Context, root, outDir string, targets []Target, progress io.Writer) ([]Sizes, error) {
	var all []Sizes
	for _, t := range targets {
		s := Sizes{Target: t}
		for _, p := range Programs {
			out := filepath.Join(outDir, t.Name, p.Name)
			if progress != nil {
				fmt.Fprintf(progress, "building %s for %s\n", p.Name, t.Name)
			}
			if err := t.Build(ctx, root, p.Pkg, out); err != nil {
				return nil, err
			}
			fi, err := os.Stat(out)
			if err != nil {
				return nil, err
			}
			s.Bytes = append(s.Bytes, fi.Size())
		}
		all = append(all, s)
	}
	return all, nil
}

// MiB formats a size in mebibytes with two decimals.
func MiB(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

// WriteSizes writes the size table as aligned text.
func WriteSizes(w io.Writer, sizes []Sizes) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"target", "build"}
	for _, p := range Programs {
		head = append(head, p.Name)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, s := range sizes {
		row := []string{s.Target.Name, strings.Join(append([]string{s.Target.GOARCH}, s.Target.Env...), " ")}
		for _, b := range s.Bytes {
			row = append(row, fmt.Sprintf("%s %10d B", MiB(b), b))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// ModuleRoot returns the directory of the main module's go.mod, as the go
// command sees it from the current directory.
func ModuleRoot() (string, error) {
	goBin, err := GoCommand()
	if err != nil {
		return "", err
	}
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module")
	}
	return filepath.Dir(mod), nil
}

// Select returns the targets named in list (comma-separated), or all of
// them for "" or "all".
func Select(list string) ([]Target, error) {
	if list == "" || list == "all" {
		return Targets, nil
	}
	var ts []Target
	for _, name := range strings.Split(list, ",") {
		t, ok := Lookup(strings.TrimSpace(name))
		if !ok {
			var names []string
			for _, t := range Targets {
				names = append(names, t.Name)
			}
			return nil, fmt.Errorf("unknown target %q; known: %s", name, strings.Join(names, ", "))
		}
		ts = append(ts, t)
	}
	return ts, nil
}
