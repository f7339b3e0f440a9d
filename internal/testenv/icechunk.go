package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// IcechunkJudge locates the official Icechunk library — the Debian 13
// chroot of scripts/trixie (VZARR_TRIXIE_SCRIPT overrides the path) with
// `npm install @earthmover/icechunk@2.2.2` done in /opt/icechunk-js inside
// it (scripts/icechunk-judge) — and returns a function that runs
// icechunk/testdata/judge.cjs there with the given arguments (see that
// script for its commands) and returns its standard output. Paths given
// to it must be under /tmp, which the chroot mounts (t.TempDir is). It
// skips t when the chroot or the package is missing, unless
// VZARR_REQUIRE_TOOLS=1.
func IcechunkJudge(t testing.TB) func(args ...string) ([]byte, error) {
	t.Helper()
	root, ok := repoRoot()
	if !ok {
		SkipOrFail(t, "official Icechunk library unavailable: no go.mod above the working directory")
	}
	script := os.Getenv("VZARR_TRIXIE_SCRIPT")
	if script == "" {
		script = filepath.Join(root, "scripts", "trixie")
	}
	missing := func(why string) {
		SkipOrFail(t, "official Icechunk library unavailable: %s", why)
	}
	abs, err := filepath.Abs(script)
	if err != nil {
		missing(err.Error())
	}
	if _, err := os.Stat(abs); err != nil {
		missing("no " + script)
	}
	out, err := exec.Command(abs, "dir").Output()
	if err != nil {
		missing("trixie dir: " + err.Error())
	}
	chroot := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(chroot, "opt/icechunk-js/node_modules/@earthmover/icechunk/package.json")); err != nil {
		missing("npm package not installed in the chroot (run scripts/icechunk-judge)")
	}
	src, err := os.ReadFile(filepath.Join(root, "icechunk", "testdata", "judge.cjs"))
	if err != nil {
		t.Fatalf("judge script: %v", err)
	}
	dir := t.TempDir() // under /tmp, which scripts/trixie mounts
	js := filepath.Join(dir, "judge.cjs")
	if err := os.WriteFile(js, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return func(args ...string) ([]byte, error) {
		t.Helper()
		cmd := exec.Command(abs, append([]string{"run", "node", js}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "ICECHUNK_JS_DIR=/opt/icechunk-js")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return out, fmt.Errorf("judge %v: %w: %s", args, err, stderr.String())
		}
		return out, nil
	}
}
