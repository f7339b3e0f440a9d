package netcdf4_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
)

// ncDumpScript prints netCDF4-python's (netCDF-C's) view of one file:
// per group, dimensions (size, unlimited) and variables' dimension names.
const ncDumpScript = `
import json, sys, netCDF4
def grp(g):
    return {"dimensions": {n: {"size": len(d), "unlimited": d.isunlimited()} for n, d in g.dimensions.items()},
            "variables": {n: {"dimensions": list(v.dimensions)} for n, v in g.variables.items()},
            "groups": {n: grp(c) for n, c in g.groups.items()}}
with netCDF4.Dataset(sys.argv[1]) as d:
    json.dump(grp(d), sys.stdout)
`

// TestViewMatchesNetCDFC compares the view with netCDF-C, through
// netCDF4-python, on every HDF5 file of the test data that netCDF-C
// opens: the same dimensions (names, sizes, unlimited) in each group, the
// same variables with the same dimension names, and no variable netCDF-C
// does not show except those marked HDF5Only.
func TestViewMatchesNetCDFC(t *testing.T) {
	py := testenv.Python(t, "netCDF4")
	dir := t.TempDir()
	compared := 0
	for _, p := range hdf5Files(t) {
		t.Run(filepath.Base(p), func(t *testing.T) {
			src := p
			if strings.HasSuffix(p, ".gz") {
				src = filepath.Join(dir, strings.TrimSuffix(filepath.Base(p), ".gz"))
				require.NoError(t, os.WriteFile(src, testenv.ReadFixture(t, p), 0o644))
			}
			// netCDF-C refuses (or crashes on) some plain HDF5 files: a
			// dangling link, a datatype it cannot read. Nothing to compare.
			out, err := exec.Command(py, "-c", ncDumpScript, src).Output()
			if err != nil {
				t.Skipf("netCDF-C cannot open %s: %v", filepath.Base(p), err)
			}
			var root ncGroup
			require.NoError(t, json.Unmarshal(out, &root))
			compared++
			wantDims, wantVars := flatten(root)
			view := openView(t, p)
			gotDims := map[string][2]any{}
			for _, d := range view.Dims {
				gotDims[d.Key()] = [2]any{d.Size, d.Unlimited}
			}
			gotVars := map[string][]string{}
			for _, v := range view.Vars {
				if v.HDF5Only {
					assert.NotContains(t, wantVars, v.Key(), "netCDF-C shows %s, marked HDF5Only", v.Key())
					continue
				}
				gotVars[v.Key()] = v.DimNames()
			}
			for k, d := range wantDims {
				assert.Equal(t, d, gotDims[k], "dimension %s (size, unlimited)", k)
			}
			assert.Equal(t, wantVars, gotVars, "variables and their dimension names")
		})
	}
	t.Logf("compared %d files with netCDF-C", compared)
}

// flatten returns a group tree's dimensions and variables keyed by path.
func flatten(root ncGroup) (map[string][2]any, map[string][]string) {
	dims := map[string][2]any{}
	vars := map[string][]string{}
	var walk func(prefix string, g ncGroup)
	walk = func(prefix string, g ncGroup) {
		for n, d := range g.Dimensions {
			dims[prefix+n] = [2]any{d.Size, d.Unlimited}
		}
		for n, v := range g.Variables {
			names := v.Dimensions
			if names == nil {
				names = []string{}
			}
			vars[prefix+n] = names
		}
		for n, sub := range g.Groups {
			walk(prefix+n+"/", sub)
		}
	}
	walk("", root)
	return dims, vars
}
