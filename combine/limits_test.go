package combine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/limits"
)

// childEnv makes the test binary a child process that combines the
// comma-separated files it names and prints the outcome as JSON (see
// TestMain), so that TestCombineHugeTimeRSS can measure its memory.
// wrapEnv makes it a small process that runs that child and adds the
// child's peak RSS (from its rusage) to the outcome: on Linux a child's
// ru_maxrss counts the memory of the process that started it (os/exec
// starts it sharing the parent's address space until exec), so the test
// process, grown by other tests, must not start the measured one itself.
const (
	childEnv = "VZARR_COMBINE_LIMIT_CHILD"
	wrapEnv  = "VZARR_COMBINE_LIMIT_WRAP"
)

func TestMain(m *testing.M) {
	if files := os.Getenv(childEnv); files != "" {
		os.Exit(combineChild(strings.Split(files, ",")))
	}
	if files := os.Getenv(wrapEnv); files != "" {
		os.Exit(combineWrap(files))
	}
	os.Exit(m.Run())
}

// childOutcome is what a child process prints.
type childOutcome struct {
	OK      bool    `json:"ok"`
	Limit   bool    `json:"limit"`
	Error   string  `json:"error"`
	Seconds float64 `json:"seconds"`
	MaxRSS  int64   `json:"max_rss"` // bytes, set by the wrapper
}

func combineWrap(files string) int {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+files, wrapEnv+"=")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	var oc childOutcome
	if err == nil {
		err = json.Unmarshal(out, &oc)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "child: %v\n%s", err, out)
		return 1
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		oc.MaxRSS = ru.Maxrss * 1024 // kilobytes on Linux
	}
	_ = json.NewEncoder(os.Stdout).Encode(oc)
	return 0
}

func combineChild(files []string) int {
	start := time.Now()
	_, err := Combine(context.Background(), urlSources(files), Options{ConcatDim: "time"})
	out := childOutcome{OK: err == nil, Limit: errors.Is(err, limits.ErrExceeded), Seconds: time.Since(start).Seconds()}
	if err != nil {
		out.Error = err.Error()
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
	return 0
}

// urlSources are the inputs as vzarr combine gives them: source files
// translated on the fly.
func urlSources(files []string) []Source {
	var s []Source
	for _, f := range files {
		s = append(s, &URLSource{URL: f})
	}
	return s
}

// hugeTime writes, with testdata/gen_huge_time.py, a netCDF-4 file whose
// unlimited time dimension declares n steps in units (only four written;
// every one with values), and returns its path.
func hugeTime(t *testing.T, dir, name string, n float64, units string, values bool) string {
	t.Helper()
	py := testenv.Python(t, "netCDF4", "h5py", "numpy")
	path := filepath.Join(dir, name)
	args := []string{filepath.Join("..", "testdata", "gen_huge_time.py"), path, fmt.Sprint(n), "--units", units}
	if values {
		args = append(args, "--values")
	}
	out, err := exec.Command(py, args...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return path
}

const (
	days  = "days since 2000-01-01"
	hours = "hours since 2000-01-01"
)

// TestCombineHugeTime: files that declare 2^40 or 1e8 time steps fail
// with a limit error naming the file, the variable, the value and the
// limit, both when the time axis is read for the summary and when it is
// re-encoded across units (where the process used to die).
func TestCombineHugeTime(t *testing.T) {
	dir := t.TempDir()
	d40 := hugeTime(t, dir, "d40.nc", 1<<40, days, false)
	h40 := hugeTime(t, dir, "h40.nc", 1<<40, hours, false)
	d8 := hugeTime(t, dir, "d8.nc", 1e8, days, false)
	h8 := hugeTime(t, dir, "h8.nc", 1e8, hours, false)
	cases := []struct {
		name  string
		files []string
		file  string
		value uint64
	}{
		{"2^40, one file", []string{d40}, d40, 1 << 40},
		{"2^40, same units", []string{d40, d40}, d40, 2 << 40},
		{"2^40, units re-encoded", []string{d40, h40}, d40, 2 << 40},
		{"1e8, one file", []string{d8}, d8, 1e8},
		{"1e8, units re-encoded", []string{d8, h8}, d8, 2e8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Combine(context.Background(), urlSources(c.files), Options{ConcatDim: "time"})
			require.Error(t, err)
			assert.ErrorIs(t, err, limits.ErrExceeded)
			var le *limits.Error
			require.ErrorAs(t, err, &le)
			assert.Equal(t, limits.CoordElements, le.What)
			assert.Equal(t, c.file, le.File)
			assert.Equal(t, "time", le.Variable)
			assert.Equal(t, c.value, le.Value)
			assert.Equal(t, int64(limits.DefaultCoordElements), le.Limit)
			for _, want := range []string{c.file, `"time"`, fmt.Sprint(c.value), "50000000"} {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

// TestCombineLongTimeAxis: a legitimate 1e6-step time axis per file
// still combines, re-encoded from hours to days across two files.
func TestCombineLongTimeAxis(t *testing.T) {
	dir := t.TempDir()
	a := hugeTime(t, dir, "a.nc", 1e6, days, true)
	b := hugeTime(t, dir, "b.nc", 1e6, hours, true)
	res, err := Combine(context.Background(), urlSources([]string{a, b}), Options{ConcatDim: "time"})
	require.NoError(t, err)
	assert.Equal(t, uint64(2e6), res.Dimensions["time"])
	// a: days 0 .. 999999; b: hours 0 .. 999999 (~114 years).
	assert.Equal(t, []string{"2000-01-01T00:00:00Z", "4737-11-27T00:00:00Z"}, res.TimeRange)

	// Options.Limits is the limit: each file's 1e6 steps fit under
	// 1.5e6, the re-encoded 2e6 do not.
	_, err = Combine(context.Background(), urlSources([]string{a, b}), Options{ConcatDim: "time",
		Limits: limits.Limits{CoordElements: 1_500_000}})
	var le *limits.Error
	require.ErrorAs(t, err, &le)
	assert.Equal(t, limits.Error{What: limits.CoordElements, File: a, Variable: "time", Value: 2e6, Limit: 1_500_000}, *le)
}

// TestCombineHugeTimeRSS combines the 2^40 and 1e8 files in a child
// process (this test binary, see TestMain) and checks its peak memory:
// the limit error comes before any allocation sized by the files. The
// times are logged, not asserted.
func TestCombineHugeTimeRSS(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]string{
		"2^40": {hugeTime(t, dir, "d40.nc", 1<<40, days, false), hugeTime(t, dir, "h40.nc", 1<<40, hours, false)},
		"1e8":  {hugeTime(t, dir, "d8.nc", 1e8, days, false), hugeTime(t, dir, "h8.nc", 1e8, hours, false)},
		"1e6":  {hugeTime(t, dir, "a.nc", 1e6, days, true), hugeTime(t, dir, "b.nc", 1e6, hours, true)},
	}
	for name, files := range cases {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), wrapEnv+"="+strings.Join(files, ","))
			out, err := cmd.Output()
			require.NoError(t, err, "%s", out)
			var oc childOutcome
			require.NoError(t, json.Unmarshal(out, &oc), "%s", out)
			rss := oc.MaxRSS
			require.Positive(t, rss)
			t.Logf("%s: ok=%v limit=%v, %.2f s, max RSS %.1f MB: %s", name, oc.OK, oc.Limit, oc.Seconds, float64(rss)/1e6, oc.Error)
			if name == "1e6" {
				assert.True(t, oc.OK, oc.Error) // its memory is logged only
				return
			}
			assert.True(t, oc.Limit, oc.Error)
			assert.Less(t, rss, int64(200<<20), "peak RSS")
		})
	}
}
