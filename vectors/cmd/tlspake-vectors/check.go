package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

const checkUsage = `usage: ` + progName + ` check [-dir DIR]

check verifies every vector file (*.json) under the vectors directory and
prints one line per file:

	ok   SUBDIR/FILE.json (what was verified)
	FAIL SUBDIR/FILE.json: what differs

followed by a line "N passed, N failed". The exit status is 1 if any file
fails or no vector file is found.

Each subdirectory of the vectors directory holds one kind of vector file
and has its own checker; a *.json file in a subdirectory without a checker
fails. The cmd directory, directories named testdata and directories whose
names start with "." or "_" are skipped, as are files not ending in .json.

Flags:

	-dir DIR
		the vectors directory. By default it is found from the working
		directory: ./vectors, or the working directory or one of its
		parents if it is named vectors, or the vectors directory of a
		parent.
`

// A checker verifies one vector file. name is the file's slash-separated
// path in fsys, the vectors directory; a checker may read other files of
// fsys that the file refers to. It returns a short summary of what was
// verified, such as "9 values", or an error that says what differs.
type checker func(fsys fs.FS, name string) (summary string, err error)

// checkers maps each subdirectory of the vectors directory to the checker
// of its files. To add a kind of vector file, create its subdirectory and
// register its checker here.
var checkers = map[string]checker{
	"cpace":     checkCPaceFile,
	"handshake": checkHandshakeFile,
	"negative":  checkNegativeFile,
}

// skipDir reports whether the directory at slash path p of the vectors
// directory holds no vector files.
func skipDir(p string) bool {
	base := path.Base(p)
	return p == "cmd" || base == "testdata" || strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_")
}

// fileResult is the outcome of checking one file.
type fileResult struct {
	name    string
	summary string
	err     error
}

// checkAll checks every vector file of fsys, in lexical order.
func checkAll(fsys fs.FS) ([]fileResult, error) {
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && skipDir(p) {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".json") {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	results := make([]fileResult, 0, len(names))
	for _, name := range names {
		r := fileResult{name: name}
		sub, _, nested := strings.Cut(name, "/")
		switch c, ok := checkers[sub]; {
		case !nested:
			r.err = fmt.Errorf("vector files belong in a subdirectory named for their kind (%s); move this file", knownKinds())
		case !ok:
			r.err = fmt.Errorf("no checker for subdirectory %q (known: %s); register one in checkers in vectors/cmd/%s/check.go", sub, knownKinds(), progName)
		default:
			r.summary, r.err = c(fsys, name)
		}
		results = append(results, r)
	}
	return results, nil
}

func knownKinds() string {
	kinds := make([]string, 0, len(checkers))
	for k := range checkers {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return strings.Join(kinds, ", ")
}

// isDir reports whether p is an existing directory.
func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// looksLikeVectorsDir reports whether dir holds at least one subdirectory
// that has a checker.
func looksLikeVectorsDir(dir string) bool {
	for kind := range checkers {
		if isDir(filepath.Join(dir, kind)) {
			return true
		}
	}
	return false
}

// errNoVectorsDir is returned by findVectorsDir when no directory fits.
var errNoVectorsDir = errors.New("cannot find the vectors directory")

// findVectorsDir finds the vectors directory from start: at start and at
// each of its parents in turn, the directory itself if it is named vectors,
// otherwise its vectors subdirectory, provided the candidate holds a
// subdirectory that has a checker. The search stops at the root of the Go
// module containing start, if any.
func findVectorsDir(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", err
	}
	for {
		if filepath.Base(dir) == "vectors" && looksLikeVectorsDir(dir) {
			return dir, nil
		}
		if cand := filepath.Join(dir, "vectors"); looksLikeVectorsDir(cand) {
			return cand, nil
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break // module root: a vectors directory above it is not ours
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errNoVectorsDir
}

func newFlagSet(name string) *flag.FlagSet {
	return flag.NewFlagSet(progName+" "+name, flag.ContinueOnError)
}

func runCheck(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	c := lookupCommand("check")
	fs := newFlagSet(c.name)
	dirFlag := fs.String("dir", "", "the vectors `directory`")
	if done, status := parseFlags(fs, c, args, stdout, stderr); done {
		return status
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s check: unexpected argument %q; to check another directory use -dir DIR\n\n", progName, fs.Arg(0))
		io.WriteString(stderr, c.usage)
		return exitUsage
	}

	dir := *dirFlag
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			fmt.Fprintf(stderr, "%s check: %v; pass the vectors directory with -dir DIR\n", progName, err)
			return exitUsage
		}
		dir, err = findVectorsDir(wd)
		if err != nil {
			fmt.Fprintf(stderr, "%s check: %v from %s (looked for a vectors directory with a %s subdirectory here and in the parent directories up to the module root); run from the repository root or pass -dir DIR\n",
				progName, err, wd, knownKinds())
			return exitUsage
		}
	} else if !isDir(dir) {
		fmt.Fprintf(stderr, "%s check: -dir %s is not a directory; give the path of the repository's vectors directory\n", progName, dir)
		return exitUsage
	}

	results, err := checkAll(os.DirFS(dir))
	if err != nil {
		fmt.Fprintf(stderr, "%s check: reading %s: %v\n", progName, dir, err)
		return exitFail
	}
	if len(results) == 0 {
		fmt.Fprintf(stderr, "%s check: no vector files (*.json) under %s; is -dir the repository's vectors directory?\n", progName, dir)
		return exitFail
	}
	passed, failed := 0, 0
	for _, r := range results {
		if r.err != nil {
			failed++
			fmt.Fprintf(stdout, "FAIL %s: %v\n", r.name, r.err)
			continue
		}
		passed++
		fmt.Fprintf(stdout, "ok   %s (%s)\n", r.name, r.summary)
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return exitFail
	}
	return exitOK
}
