package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Stack is one Python reader stack that interop tests check references
// with: the machine's Debian 12 python3 (xarray 2023.01, zarr 2.13, fsspec
// 2022.11) or Debian 13's (xarray 2025.3, zarr-python 3.0, fsspec 2025.3)
// in the chroot scripts/trixie builds.
type Stack struct {
	// Name is StackDebian12 or StackTrixie; tests use it as a subtest name.
	Name string
	// Argv runs the stack's python3: the interpreter's path, or the
	// chroot wrapper followed by its "python3" subcommand.
	Argv []string
}

// The reader stacks Pythons knows.
const (
	StackDebian12 = "debian12"
	StackTrixie   = "trixie"
)

// Command returns a command that runs the stack's python3 with args in the
// current directory.
func (s Stack) Command(args ...string) *exec.Cmd {
	argv := append(append([]string{}, s.Argv[1:]...), args...)
	return exec.Command(s.Argv[0], argv...)
}

// String returns the stack's name.
func (s Stack) String() string { return s.Name }

// TrixieStamp returns the stamp file scripts/trixie writes once the chroot
// is built ($VZARR_TRIXIE_DIR/stamp, default /var/cache/vzarr-trixie).
func TrixieStamp() string {
	dir := os.Getenv("VZARR_TRIXIE_DIR")
	if dir == "" {
		dir = "/var/cache/vzarr-trixie"
	}
	return filepath.Join(dir, "stamp")
}

// importChecks caches, per stack and module list, the outcome of the
// import probe: starting the chroot costs a process tree per call.
var importChecks sync.Map // string -> error

func probe(s Stack, modules []string) error {
	key := s.Name + "\x00" + strings.Join(modules, ",")
	if v, ok := importChecks.Load(key); ok {
		err, _ := v.(error)
		return err
	}
	var err error
	if len(modules) > 0 {
		out, e := s.Command("-c", "import "+strings.Join(modules, ", ")).CombinedOutput()
		if e != nil {
			err = fmt.Errorf("%s python3 cannot import %s: %v: %s", s.Name, strings.Join(modules, ", "), e, strings.TrimSpace(string(out)))
		}
	}
	importChecks.Store(key, err)
	return err
}

// wanted reports whether VZARR_STACKS (a comma-separated list of stack
// names; unset means all) selects the stack.
func wanted(name string) bool {
	v := os.Getenv("VZARR_STACKS")
	if v == "" {
		return true
	}
	for _, s := range strings.Split(v, ",") {
		if strings.TrimSpace(s) == name {
			return true
		}
	}
	return false
}

// Pythons returns the reader stacks whose python3 imports the modules, in
// a fixed order (debian12, trixie), for tests that run one subtest per
// stack. Debian 12's is /usr/bin/python3. Trixie's is scripts/trixie
// python3 once the chroot is built (scripts/trixie build; CI does it).
// VZARR_STACKS=debian12,trixie narrows the list. A selected stack that is
// missing or cannot import the modules is left out, or fails the test when
// VZARR_REQUIRE_TOOLS=1; with no stack left, the test skips.
func Pythons(t testing.TB, modules ...string) []Stack {
	t.Helper()
	var stacks []Stack
	if wanted(StackDebian12) {
		s := Stack{Name: StackDebian12, Argv: []string{"/usr/bin/python3"}}
		if _, err := os.Stat(s.Argv[0]); err != nil {
			missing(t, "%s is missing", s.Argv[0])
		} else if err := probe(s, modules); err != nil {
			missing(t, "%v", err)
		} else {
			stacks = append(stacks, s)
		}
	}
	if wanted(StackTrixie) {
		if s, err := trixie(); err != nil {
			missing(t, "%v", err)
		} else if err := probe(s, modules); err != nil {
			missing(t, "%v", err)
		} else {
			stacks = append(stacks, s)
		}
	}
	if len(stacks) == 0 {
		t.Skip("no Python reader stack with " + strings.Join(modules, ", "))
	}
	return stacks
}

// trixie returns the Debian 13 stack when its chroot is built.
func trixie() (Stack, error) {
	root, ok := repoRoot()
	if !ok {
		return Stack{}, fmt.Errorf("trixie: no go.mod above the working directory")
	}
	script := filepath.Join(root, "scripts", "trixie")
	if _, err := os.Stat(TrixieStamp()); err != nil {
		return Stack{}, fmt.Errorf("trixie: the Debian 13 chroot is not built (%s build): %w", script, err)
	}
	return Stack{Name: StackTrixie, Argv: []string{script, "python3"}}, nil
}

// missing fails t when tools are required, else logs why a stack is left
// out.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (VZARR_REQUIRE_TOOLS=1)", msg)
	}
	t.Log(msg + ": leaving that reader stack out")
}

// repoRoot returns the directory holding go.mod at or above the working
// directory.
func repoRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// CheckCombined runs ../shared/tools/check_refs.py --combined on a combined
// reference and the files it was combined from (concatenated along
// concatDim), on every reader stack (Pythons), and fails t unless each
// stack reports exactly one pass. Without ../shared (a user's clone) it
// logs and returns.
func CheckCombined(t testing.TB, refs, concatDim string, files []string) {
	t.Helper()
	tool, ok := SharedTool("check_refs.py")
	if !ok {
		t.Log("../shared/tools/check_refs.py is absent: skipping the xarray comparison")
		return
	}
	args := append([]string{tool, "--combined", "--refs", refs, "--concat-dim", concatDim, "--files"}, files...)
	for _, stack := range Pythons(t, "xarray", "fsspec", "zarr", "netCDF4") {
		out, err := stack.Command(args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "1 passed, 0 failed") {
			t.Errorf("%s: check_refs.py --combined %s: %v\n%s", stack.Name, refs, err, out)
		}
	}
}
