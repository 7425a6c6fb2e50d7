// Command tlspake-vectors checks the conformance test vectors held in the
// project's vectors directory and computes CPace values from chosen inputs.
//
// Usage:
//
//	tlspake-vectors check [-dir DIR]
//	tlspake-vectors cpace < inputs.json
//	tlspake-vectors generate [-dir DIR] [FILE...]
//	tlspake-vectors serve -vector FILE -listen ADDR
//	tlspake-vectors connect -vector FILE ADDR
//	tlspake-vectors help [command]
//
// The check command verifies every vector file under DIR (by default the
// vectors directory of the repository containing the working directory)
// and prints one line per file followed by a line "N passed, N failed".
// It exits with status 1 if any file fails.
//
// The cpace command reads one JSON object with the hex-encoded inputs of a
// CPACE-X25519-SHA512 exchange (PRS, CI, sid, ya, yb, ADa, ADb) on standard
// input and prints the values the draft's test vectors list: g, Ya, Yb, K,
// ISK_IR, ISK_SY, sid_output_ir and sid_output_oc. It exits with status 1
// if the exchange aborts because K is the neutral element.
//
// Usage errors (unknown commands, bad flags, malformed input) exit with
// status 2. See vectors/README.md for the file formats.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const progName = "tlspake-vectors"

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // a vector did not verify, or the exchange aborted
	exitUsage = 2 // the command line or the input is malformed
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// command is one subcommand of the tool.
type command struct {
	name    string
	summary string
	// usage is the detailed help text, printed by "help NAME" and "NAME -h".
	usage string
	run   func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands lists the subcommands in the order the help text shows them.
// It is filled in by init to break the reference cycle with runHelp.
var commands []*command

func init() {
	commands = []*command{
		{
			name:    "check",
			summary: "verify every vector file the project holds",
			usage:   checkUsage,
			run:     runCheck,
		},
		{
			name:    "cpace",
			summary: "compute CPACE-X25519-SHA512 values from JSON inputs on stdin",
			usage:   cpaceUsage,
			run:     runCPace,
		},
		{
			name:    "generate",
			summary: "compute the handshake vectors' outputs from their inputs",
			usage:   generateUsage,
			run:     runGenerate,
		},
		{
			name:    "serve",
			summary: "act as a handshake vector's server over TCP and compare",
			usage:   serveUsage,
			run:     runServe,
		},
		{
			name:    "connect",
			summary: "act as a handshake vector's client over TCP and compare",
			usage:   connectUsage,
			run:     runConnect,
		},
		{
			name:    "help",
			summary: "show help for the tool or for one command",
			usage:   "usage: " + progName + " help [command]\n\nhelp shows the list of commands, or the detailed help of one command.\n",
			run:     runHelp,
		},
	}
}

// hiddenCommands are commands for the project's maintainers (such as
// generators run by go generate): they run like the others but the help
// does not list them. Files that define one add it in their init.
var hiddenCommands []*command

func lookupCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	for _, c := range hiddenCommands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// run is the whole program; it returns the exit status instead of calling
// os.Exit so that tests can drive it.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "%s: no command given\n\n", progName)
		writeUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		writeUsage(stdout)
		return exitOK
	}
	c := lookupCommand(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n", progName, args[0])
		writeUsage(stderr)
		return exitUsage
	}
	return c.run(args[1:], stdin, stdout, stderr)
}

func writeUsage(w io.Writer) {
	fmt.Fprintf(w, "%s checks the project's conformance test vectors and computes CPace values.\n\n", progName)
	fmt.Fprintf(w, "Usage:\n\n\t%s <command> [arguments]\n\nThe commands are:\n\n", progName)
	for _, c := range commands {
		fmt.Fprintf(w, "\t%-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nUse \"%s help <command>\" for more information about a command.\n", progName)
	fmt.Fprintf(w, "Exit status: 0 success, 1 a vector failed or CPace aborted, 2 usage error.\n")
}

func runHelp(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		writeUsage(stdout)
		return exitOK
	case 1:
		c := lookupCommand(args[0])
		if c == nil {
			fmt.Fprintf(stderr, "%s help: unknown command %q; run \"%s help\" for the list of commands\n", progName, args[0], progName)
			return exitUsage
		}
		io.WriteString(stdout, c.usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "%s help: too many arguments; usage: %s help [command]\n", progName, progName)
		return exitUsage
	}
}

// parseFlags parses the flags of subcommand c. It returns done=true with
// the exit status when the command must not go on: -h prints the command's
// help to stdout (status 0); a bad flag prints the error and the help to
// stderr (status 2).
func parseFlags(fs *flag.FlagSet, c *command, args []string, stdout, stderr io.Writer) (done bool, status int) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case err == nil:
		return false, exitOK
	case errors.Is(err, flag.ErrHelp):
		io.WriteString(stdout, c.usage)
		return true, exitOK
	default:
		fmt.Fprintf(stderr, "%s %s: %v\n\n", progName, c.name, err)
		io.WriteString(stderr, c.usage)
		return true, exitUsage
	}
}
