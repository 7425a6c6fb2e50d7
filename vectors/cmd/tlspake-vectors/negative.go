package main

//go:generate go run . gen-negative

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tlspake/pake/vectors/cmd/tlspake-vectors/internal/negative"
)

// The negative vectors (vectors/negative/*.json) live in the package
// internal/negative: their checker is registered in checkers (check.go),
// and gen-negative, a hidden command, writes them.

const genNegativeUsage = `usage: ` + progName + ` gen-negative [-dir DIR]

gen-negative writes the negative vector files, negative/*.json, of the
vectors directory (found as for check, or given with -dir), replacing
them. It builds every input from the rules of RFC 8446 and PROFILE.md; it
runs our client and server only to record the messages they send (their
ClientHello and their flights, which depend on config.rand) and to check
that the unmodified flights complete a handshake. The output is
deterministic. "go generate ./vectors/..." runs it.
`

func init() {
	hiddenCommands = append(hiddenCommands, &command{
		name:    "gen-negative",
		summary: "write the negative vector files (for maintainers)",
		usage:   genNegativeUsage,
		run:     runGenNegative,
	})
}

func runGenNegative(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	c := lookupCommand("gen-negative")
	fs := newFlagSet(c.name)
	dirFlag := fs.String("dir", "", "the vectors `directory`")
	if done, status := parseFlags(fs, c, args, stdout, stderr); done {
		return status
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s gen-negative: unexpected argument %q\n\n", progName, fs.Arg(0))
		io.WriteString(stderr, c.usage)
		return exitUsage
	}
	dir := *dirFlag
	if dir == "" {
		wd, err := os.Getwd()
		if err == nil {
			dir, err = findVectorsDir(wd)
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s gen-negative: %v; pass -dir DIR\n", progName, err)
			return exitUsage
		}
	} else if !isDir(dir) {
		fmt.Fprintf(stderr, "%s gen-negative: -dir %s is not a directory\n", progName, dir)
		return exitUsage
	}
	files, err := negative.Generate()
	if err != nil {
		fmt.Fprintf(stderr, "%s gen-negative: %v\n", progName, err)
		return exitFail
	}
	out := filepath.Join(dir, "negative")
	if err := os.MkdirAll(out, 0o755); err != nil {
		fmt.Fprintf(stderr, "%s gen-negative: %v\n", progName, err)
		return exitFail
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(out, f.Name), f.Data, 0o644); err != nil {
			fmt.Fprintf(stderr, "%s gen-negative: %v\n", progName, err)
			return exitFail
		}
		fmt.Fprintf(stdout, "wrote negative/%s (%d cases)\n", f.Name, f.Cases)
	}
	return exitOK
}

// checkNegativeFile is the checker of the negative subdirectory.
func checkNegativeFile(fsys fs.FS, name string) (string, error) {
	return negative.CheckFile(fsys, name)
}
