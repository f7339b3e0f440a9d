// Command vzarr inspects NetCDF/HDF5 files and writes virtual Zarr references.
//
// Each subcommand lives in its own file and registers itself in init with
// register, so that the usage text lists exactly the commands that exist.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/greensight/vzarr/internal/cpuprofile"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// command is one vzarr subcommand.
type command struct {
	name     string
	synopsis string // what follows "vzarr ": "ref [flags] SRC -o OUT"
	summary  string // what it does, one line
	help     string // more for --help (optional)
	example  string // example command lines, one a line
	run      func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

// register adds a subcommand; called from init functions.
func register(c command) { commands[c.name] = c }

func init() {
	register(command{name: "version", synopsis: "version", summary: "print the version",
		example: "vzarr version", run: runVersion})
}

func main() {
	stop := cpuprofile.Start(os.Getenv, os.Stderr)
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func usage() string {
	var b strings.Builder
	b.WriteString("vzarr: virtual Zarr stores for NetCDF/HDF5 archives\n\nUsage:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  vzarr %s\n      %s\n", commands[n].synopsis, commands[n].summary)
	}
	b.WriteString("\nRun \"vzarr COMMAND --help\" for the flags and an example of a command.\n")
	return b.String()
}

// run dispatches a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage())
		return 0
	}
	if cmd, ok := commands[args[0]]; ok {
		return cmd.run(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "vzarr: unknown command %q\n\n%s", args[0], usage())
	return 2
}

// runVersion prints {"success": true, "result": {"version": ...}}.
func runVersion(args []string, stdout, stderr io.Writer) int {
	f := newFlags("version", stderr)
	help, err := f.parse(args)
	if help {
		return 0
	}
	if err == nil && f.NArg() > 0 {
		err = usagef("version takes no arguments")
	}
	if err != nil {
		return f.usageFail(stdout, err)
	}
	return success(stdout, map[string]string{"version": version})
}
