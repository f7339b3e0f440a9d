package kerchunk

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// attrsScript compares every attribute xarray's netcdf4 engine shows (those
// netCDF4-python lists, _NC-prefixed user attributes such as the byte
// array _NCPROPERTIES included) with the .zattrs of the references, value
// by value, without a Zarr reader in between (xarray's zarr backend hides
// attributes starting with "_NC"). It prints one line per difference, then
// "compared N".
const attrsScript = `
import json, sys
import numpy as np
import netCDF4
path, refs_path = sys.argv[1], sys.argv[2]
refs = json.load(open(refs_path))["refs"]
def norm(x):
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, bytes):
        x = x.decode("utf-8", "replace")
    if isinstance(x, list) and len(x) == 1:
        x = x[0]
    return x
def eq(a, b):
    a, b = norm(a), norm(b)
    if isinstance(a, float) and isinstance(b, (int, float)):
        return a == b or (a != a and b != b) or abs(a - b) <= 1e-6 * abs(a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(eq(x, y) for x, y in zip(a, b))
    return a == b
def zattrs(key):
    r = refs.get(key)
    return None if r is None else json.loads(r)
n = 0
def walk(g, prefix):
    global n
    objs = [(prefix or "/", g, zattrs(prefix + ".zattrs") or {})]
    for name, v in g.variables.items():
        ours = zattrs(prefix + name + "/.zattrs")
        if ours is not None:
            objs.append((prefix + name, v, ours))
    for where, o, ours in objs:
        for k in o.ncattrs():
            if k == "_FillValue":
                continue
            n += 1
            val = o.getncattr(k)
            if k not in ours:
                print("%s: attribute %s missing (%r)" % (where, k, val))
            elif not eq(val, ours[k]):
                print("%s: attribute %s: %r vs %r" % (where, k, val, ours[k]))
    for c in g.groups.values():
        walk(c, prefix + c.name + "/")
walk(netCDF4.Dataset(path), "")
print("compared", n)
`

// TestInteropAttributes checks, for every netCDF-4 input of the interop
// corpus, that the references carry every attribute netCDF4-python (and so
// xarray's netcdf4 engine) shows, with its value.
func TestInteropAttributes(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test in -short mode")
	}
	stacks, _ := requireTools(t)
	dir := t.TempDir()
	total := 0
	for _, path := range interopInputs(t, dir) {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		if bytes.HasPrefix(b, []byte("CDF")) || strings.HasPrefix(filepath.Base(path), "h5_big_") {
			continue
		}
		res, err := translateFile(path, Options{SkipUnsupported: true})
		require.NoError(t, err, path)
		out := filepath.Join(dir, filepath.Base(path)+".json")
		w, err := os.Create(out)
		require.NoError(t, err)
		require.NoError(t, WriteJSON(w, res.Refs, nil))
		require.NoError(t, w.Close())
		// One process per file: netCDF-C aborts on some plain HDF5 files.
		text, err := stacks[0].Command("-c", attrsScript, path, out).CombinedOutput()
		if err != nil {
			t.Logf("%s: netCDF4-python cannot read it: %s", filepath.Base(path), tail(string(text), 200))
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(text)), "\n")
		assert.Empty(t, lines[:len(lines)-1], "%s", filepath.Base(path))
		var n int
		_, err = fmt.Sscanf(lines[len(lines)-1], "compared %d", &n)
		require.NoError(t, err, "%s: %s", path, text)
		total += n
	}
	assert.Greater(t, total, 100, "attributes compared")
	t.Logf("%d attributes compared", total)
}
