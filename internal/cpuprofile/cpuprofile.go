// Package cpuprofile writes a CPU profile of a process to the file named
// by VZARR_CPUPROFILE, for benchmarks (scripts/bench-archive profiles
// `vzarr run` and the orchestrator's processes with it).
package cpuprofile

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// EnvVar names the profile's file.
const EnvVar = "VZARR_CPUPROFILE"

// Start starts the CPU profile when getenv(EnvVar) names a file and
// returns the function that stops it and closes the file. Without the
// variable it does nothing; an error is written to stderr (a profile is
// never a reason to fail the program).
func Start(getenv func(string) string, stderr io.Writer) func() {
	path := getenv(EnvVar)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		if err = pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", EnvVar, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
