package kerchunk

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
)

// The interop test writes references for every fixture and every
// real-world file, then asks real xarray/fsspec/zarr (Debian's Python) to
// compare them with the originals: ../../shared/tools/check_refs.py when it
// exists, else (or with VZARR_REFCHECK=own) the project's own
// testdata/refcheck.py. It skips when Python or its packages are missing,
// unless VZARR_REQUIRE_TOOLS=1.

// Errors the checker reports for reasons outside the references. Any
// other error fails the test.
var (
	// The original cannot be read by xarray/h5netcdf (a dangling soft link,
	// an object reference attribute, compound or opaque data), or the
	// environment lacks cftime.
	anyCaseAllowed = []string{"cannot open original", "cannot read original"}
	// Per case: documented limits of the translation or of the checker.
	caseAllowed = map[string][]string{
		"h5_earliest_types.h5": typesAllowed,
		"h5_latest_types.h5":   typesAllowed,
		// The checker compares vlen sequences with ==, ambiguous for arrays,
		// and netCDF4-python reports their base dtype; a variable shorter
		// than its unlimited dimension has the netCDF shape, not h5py's.
		"nc4_types.nc": {"ragged:", "raw:fill_off_unlimited: shape (3,) vs (5,)"},
		"nc4_edge.nc":  {"raw:short_series: shape (5, 30) vs (10, 30)", "raw:short_series_fill: shape (6,) vs (10,)"},
		// xarray's zarr backend hides attributes starting with "_NC".
		"netcdf4-python_test_gold.nc": {"'_NCPROPERTIES' missing"},
	}
	typesAllowed = []string{
		// h5netcdf shows HDF5 array types without their dimensions; h5py
		// (the raw level, which passes) with them, as the references do.
		"shape (2,) vs (2, 3)", "shape (3,) vs (3, 2, 2)", "shape (4,) vs (4, 3)",
		// Object references become target paths; h5py returns Reference
		// objects.
		"objref: 4 of 4 values differ",
		// vlen sequences compared with == (ambiguous for arrays).
		"vlen_f8:", "vlen_i4:",
		// Unsupported: null dataspaces, compounds with vlen members, region
		// references (translated with SkipUnsupported).
		"null_f4: array missing", "null_vstr: array missing", "compound_vlen' missing",
		"compound_vlen: array missing", "regionref' missing", "regionref: array missing",
	}
)

type interopCase struct {
	Name   string   `json:"name"`
	File   string   `json:"file"`
	Engine string   `json:"engine"`
	Format string   `json:"format"`
	Groups []string `json:"groups"`
}

// interopModules are the Python modules the checker imports.
var interopModules = []string{"xarray", "fsspec", "zarr", "numcodecs", "h5py", "netCDF4", "h5netcdf"}

// requireTools returns the reader stacks (testenv.Pythons) and the checker
// script.
func requireTools(t *testing.T) (stacks []testenv.Stack, checker string) {
	t.Helper()
	stacks = testenv.Pythons(t, interopModules...)
	checker = "../../shared/tools/check_refs.py"
	if _, err := os.Stat(checker); err != nil || os.Getenv("VZARR_REFCHECK") == "own" {
		checker = "testdata/refcheck.py"
	}
	return stacks, checker
}

// interopInputs lists the fixtures and real-world files, decompressing
// .gz fixtures into dir.
func interopInputs(t *testing.T, dir string) []string {
	var files []string
	for _, pat := range []string{"../testdata/hdf5/*.h5", "../testdata/hdf5/*.nc", "../testdata/netcdf3/*.nc", "testdata/*.h5", "testdata/*.nc", "../../shared/realworld/*.nc"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	gz, _ := filepath.Glob("../testdata/hdf5/*.h5.gz")
	for _, g := range gz {
		out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(g), ".gz"))
		f, err := os.Open(g)
		require.NoError(t, err)
		zr, err := gzip.NewReader(f)
		require.NoError(t, err)
		w, err := os.Create(out)
		require.NoError(t, err)
		_, err = io.Copy(w, zr)
		require.NoError(t, err)
		require.NoError(t, w.Close())
		f.Close()
		files = append(files, out)
	}
	for i, f := range files {
		abs, err := filepath.Abs(f)
		require.NoError(t, err)
		files[i] = abs
	}
	sort.Strings(files)
	return files
}

func TestInteropCheckRefs(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test in -short mode")
	}
	stacks, checker := requireTools(t)
	dir := t.TempDir()
	if d := os.Getenv("VZARR_INTEROP_DIR"); d != "" { // keep the corpus for inspection
		dir = d
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	files := interopInputs(t, dir)
	require.NotEmpty(t, files)
	var cases []interopCase
	mapping := map[string]string{}
	// The variables each case's translation left out (listed in
	// Result.Skipped): the checker finds them missing, and nothing else.
	skipped := map[string][]string{}
	for _, path := range files {
		name := filepath.Base(path)
		if strings.HasPrefix(name, "h5_big_") && os.Getenv("VZARR_INTEROP_ALL") != "1" {
			continue // 100,000 chunks take xarray a minute each; TestVerifyFixtures covers them
		}
		res, err := translateFile(path, Options{OpenSource: localOpenSource})
		if err != nil && errors.Is(err, ErrUnsupported) {
			t.Logf("%s: %v; translating with SkipUnsupported", name, err)
			res, err = translateFile(path, Options{SkipUnsupported: true, OpenSource: localOpenSource})
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		out := filepath.Join(dir, name+".json")
		w, err := os.Create(out)
		require.NoError(t, err)
		require.NoError(t, WriteJSON(w, res.Refs, nil))
		require.NoError(t, w.Close())
		c := interopCase{Name: name, File: path, Format: res.Format, Engine: "netcdf4", Groups: []string{""}}
		switch res.Format {
		case "hdf5":
			c.Engine = "h5netcdf"
		case "netcdf4":
		default:
		}
		if !strings.HasPrefix(res.Format, "netcdf3") {
			c.Format = "hdf5"
		}
		for _, k := range res.Refs.Keys() {
			if strings.HasSuffix(k, "/.zgroup") {
				c.Groups = append(c.Groups, strings.TrimSuffix(k, "/.zgroup"))
			}
		}
		for _, s := range res.Skipped {
			base := s.Variable[strings.LastIndexByte(s.Variable, '/')+1:]
			skipped[name] = append(skipped[name], "variable '"+base+"' missing from refs", "raw:"+s.Variable+": array missing from refs")
		}
		cases = append(cases, c)
		mapping[name] = out
	}
	corpus := filepath.Join(dir, "corpus")
	require.NoError(t, os.MkdirAll(corpus, 0o755))
	writeJSONFile(t, filepath.Join(corpus, "cases.json"), map[string]any{"cases": cases})
	writeJSONFile(t, filepath.Join(dir, "map.json"), mapping)

	for _, stack := range stacks {
		t.Run(stack.Name, func(t *testing.T) {
			t.Parallel()
			checkStack(t, stack, checker, dir, corpus, cases, skipped)
		})
	}
}

// checkStack runs the checker over the corpus on one reader stack and
// judges its results: a failing case passes the test only when every error
// is a tolerated limit (anyCaseAllowed, caseAllowed) or a known failure of
// this stack (knownFailures); every known failure of the stack must still
// occur, so the table shrinks as the references improve.
func checkStack(t *testing.T, stack testenv.Stack, checker, dir, corpus string, cases []interopCase, skipped map[string][]string) {
	start := time.Now()
	jsonOut := filepath.Join(dir, "results-"+stack.Name+".json")
	cmd := stack.Command(checker, "--corpus", corpus, "--map", filepath.Join(dir, "map.json"), "-v", "--json-out", jsonOut)
	// libhdf5 resolves external raw data files relative to the working
	// directory unless told, as the references do, to use the HDF5 file's.
	cmd.Env = append(os.Environ(), "HDF5_EXTFILE_PREFIX=${ORIGIN}")
	out, _ := cmd.CombinedOutput()
	t.Logf("%s: checker ran in %v", stack.Name, time.Since(start).Round(time.Millisecond))
	// The -v text lists at most 50 errors per case; the JSON results hold
	// them all, so they are judged when the checker wrote them.
	status, errs := parseChecker(out)
	if b, err := os.ReadFile(jsonOut); err == nil {
		var rs []struct {
			Name    string   `json:"name"`
			OK      bool     `json:"ok"`
			Errors  []string `json:"errors"`
			Seconds float64  `json:"seconds"`
		}
		require.NoError(t, json.Unmarshal(b, &rs), "%s", jsonOut)
		for _, r := range rs {
			status[r.Name] = "FAIL"
			if r.OK {
				status[r.Name] = "PASS"
			}
			errs[r.Name] = r.Errors
		}
		sort.Slice(rs, func(i, j int) bool { return rs[i].Seconds > rs[j].Seconds })
		for i := 0; i < len(rs) && i < 5; i++ {
			t.Logf("slowest: %s %.1fs", rs[i].Name, rs[i].Seconds)
		}
	}
	known := knownFor(stack.Name)
	seen := make([]bool, len(known))
	var pass, failKnown, failNew int
	for _, c := range cases {
		st, ok := status[c.Name]
		if !ok {
			failNew++
			t.Errorf("%s: no result from the checker:\n%s", c.Name, tail(string(out), 3000))
			continue
		}
		if st == "PASS" {
			pass++
			continue
		}
		allowed := append(append(append([]string{}, anyCaseAllowed...), caseAllowed[c.Name]...), skipped[c.Name]...)
		var unexpected []string
		for _, e := range errs[c.Name] {
			ok := false
			for _, a := range allowed {
				if strings.Contains(e, a) {
					ok = true
					break
				}
			}
			for i, k := range known {
				if k.Case == c.Name && k.Cause.Errors.MatchString(e) {
					seen[i], ok = true, true
				}
			}
			if !ok {
				unexpected = append(unexpected, e)
			}
		}
		if len(unexpected) > 0 || len(errs[c.Name]) == 0 {
			failNew++
			t.Errorf("%s: FAIL %s:\n  %s", stack.Name, c.Name, strings.Join(unexpected, "\n  "))
		} else {
			failKnown++
			t.Logf("%s: FAIL %s, only for known reasons (%d errors)", stack.Name, c.Name, len(errs[c.Name]))
		}
	}
	for i, k := range known {
		if !seen[i] {
			t.Errorf("%s: known failure of %s no longer occurs (%s): delete it from knownFailures", stack.Name, k.Case, k.Cause.Reason)
		}
	}
	t.Logf("%s: %d cases: %d pass, %d fail for tolerated or known reasons, %d fail otherwise", stack.Name, len(cases), pass, failKnown, failNew)
	for _, k := range known {
		t.Logf("%s: known failure: %s: %s (issue 13: %s)", stack.Name, k.Case, k.Cause.Reason, k.Cause.Item)
	}
}

// parseChecker reads the checker's -v output: PASS or FAIL per case, and
// each failing case's error lines.
func parseChecker(out []byte) (status map[string]string, errs map[string][]string) {
	status = map[string]string{}
	errs = map[string][]string{}
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "PASS "):
			cur = strings.TrimPrefix(line, "PASS ")
			status[cur] = "PASS"
		case strings.HasPrefix(line, "FAIL "):
			cur, _, _ = strings.Cut(strings.TrimPrefix(line, "FAIL "), ": ")
			status[cur] = "FAIL"
		case strings.HasPrefix(strings.TrimSpace(line), "error: ") && cur != "":
			errs[cur] = append(errs[cur], strings.TrimPrefix(strings.TrimSpace(line), "error: "))
		}
	}
	return status, errs
}

func translateFile(path string, opts Options) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return Translate(context.Background(), f, st.Size(), path, opts)
}

func writeJSONFile(t *testing.T, path string, v any) {
	b, err := json.MarshalIndent(v, "", " ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestInteropDimNames compares every variable's dimension names with those
// netCDF-C (through netCDF4-python) gives, phony dimensions included, for
// every HDF5 input netCDF-C can open.
func TestInteropDimNames(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test in -short mode")
	}
	stacks, _ := requireTools(t)
	stack := stacks[0] // netCDF-C's names: one stack is enough
	script := `
import json, sys, netCDF4
out = {}
for path in sys.argv[1:]:
    try:
        ds = netCDF4.Dataset(path)
    except Exception:
        continue
    dims = {}
    def walk(g, prefix):
        for n, v in g.variables.items():
            dims[prefix + n] = list(v.dimensions)
        for c in g.groups.values():
            walk(c, prefix + c.name + "/")
    walk(ds, "")
    out[path] = dims
print(json.dumps(out))
`
	var paths []string
	for _, f := range interopInputs(t, t.TempDir()) {
		if b, err := os.ReadFile(f); err == nil && len(b) > 8 && !bytes.HasPrefix(b, []byte("CDF")) {
			paths = append(paths, f)
		}
	}
	// One process per file: netCDF-C aborts on some HDF5 files.
	want := map[string]map[string][]string{}
	for _, p := range paths {
		out, err := stack.Command("-c", script, p).Output()
		if err != nil {
			continue
		}
		var got map[string]map[string][]string
		require.NoError(t, json.Unmarshal(out, &got))
		for k, v := range got {
			want[k] = v
		}
	}
	require.NotEmpty(t, want)
	for path, vars := range want {
		res, err := translateFile(path, Options{SkipUnsupported: true})
		require.NoError(t, err, path)
		for v, dims := range vars {
			info := res.Variables[v]
			if info == nil {
				continue // skipped as unsupported
			}
			require.Equal(t, dims, info.Dims, "%s: %s", filepath.Base(path), v)
		}
	}
}
