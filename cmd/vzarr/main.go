// Command vzarr inspects NetCDF/HDF5 files and writes virtual Zarr references.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `vzarr: virtual Zarr stores for NetCDF/HDF5 archives

Usage:
  vzarr inspect [--chunks] [--fail-on-warnings] FILE   chunking validation report (JSON)
  vzarr version                                        print the version

Run "vzarr COMMAND -h" for the flags of a command.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "version":
		fmt.Fprintln(stdout, "vzarr", version)
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	if cmd, ok := commands[args[0]]; ok {
		return cmd(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "vzarr: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// commands maps subcommand names to their implementations.
var commands = map[string]func(args []string, stdout, stderr io.Writer) int{}
