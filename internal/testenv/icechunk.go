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

// IcechunkJudge locates the official Icechunk library: the Debian 13
// chroot of scripts/trixie (VZARR_TRIXIE_SCRIPT overrides the path) with
// `npm install @earthmover/icechunk@2.2.2` done in /opt/icechunk-js inside
// it (scripts/icechunk-judge). It returns a runner of
// icechunk/testdata/judge.cjs (see its comment for the modes) that returns
// the script's stdout. It skips t when either is missing, unless
// VZARR_REQUIRE_TOOLS=1.
func IcechunkJudge(t testing.TB) func(args ...string) ([]byte, error) {
	t.Helper()
	root, ok := repoRoot()
	if !ok {
		SkipOrFail(t, "official Icechunk library unavailable: no repository root")
	}
	abs := os.Getenv("VZARR_TRIXIE_SCRIPT")
	if abs == "" {
		abs = filepath.Join(root, "scripts", "trixie")
	}
	abs, err := filepath.Abs(abs)
	if err != nil {
		SkipOrFail(t, "official Icechunk library unavailable: %v", err)
	}
	if _, err := os.Stat(abs); err != nil {
		SkipOrFail(t, "official Icechunk library unavailable: no %s", abs)
	}
	out, err := exec.Command(abs, "dir").Output()
	if err != nil {
		SkipOrFail(t, "official Icechunk library unavailable: trixie dir: %v", err)
	}
	chroot := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(chroot, "opt/icechunk-js/node_modules/@earthmover/icechunk/package.json")); err != nil {
		SkipOrFail(t, "official Icechunk library unavailable: npm package not installed in the chroot (run scripts/icechunk-judge)")
	}
	src, err := os.ReadFile(filepath.Join(root, "icechunk", "testdata", "judge.cjs"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() // under /tmp, which scripts/trixie mounts
	js := filepath.Join(dir, "judge.cjs")
	if err := os.WriteFile(js, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return func(args ...string) ([]byte, error) {
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
