package netcdf3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
)

// realworldDir holds files written by other projects' tools (see its
// SOURCES.md). It exists beside the repository on the project's machines
// and in CI, not in a user's clone.
const realworldDir = "../../shared/realworld"

var realworldFiles = []string{
	"netcdf4-python_CRM032_test1.nc",
	"netcdf4-python_netcdf_dummy_file.nc",
	"netcdf4-python_ubyte.nc",
	"xarray-data_eraint_uvz.nc",
	"xarray-data_tiny.nc",
}

// oracleScript prints, for each file, what netCDF4-python (netCDF-C) reads:
// dimensions, attributes, and each variable's dtype, shape and the SHA-256 of
// its raw data as stored (big-endian). Numbers are strings, floats in hex, so
// that NaN and every bit survive JSON.
const oracleScript = `
import hashlib, json, sys
import numpy as np, netCDF4

def num(x):
    return x.hex() if isinstance(x, float) else str(x)

def attrs(obj):
    out = []
    for name in obj.ncattrs():
        v = obj.getncattr(name)
        if isinstance(v, bytes):  # char _FillValue: raw bytes
            out.append({"name": name, "text": v.decode("utf-8", "replace"), "raw": True})
        elif isinstance(v, str):  # char: NULs removed
            out.append({"name": name, "text": v})
        else:
            a = np.atleast_1d(v)
            out.append({"name": name, "dtype": a.dtype.str[1:], "values": [num(x) for x in a.tolist()]})
    return out

out = {}
for path in sys.argv[1:]:
    ds = netCDF4.Dataset(path)
    ds.set_auto_maskandscale(False)
    ds.set_auto_chartostring(False)
    f = {"data_model": ds.data_model, "attrs": attrs(ds), "vars": [],
         "dims": [[d.name, len(d), d.isunlimited()] for d in ds.dimensions.values()]}
    for v in ds.variables.values():
        v.set_auto_maskandscale(False)
        v.set_auto_chartostring(False)
        a = np.asarray(v[...])
        if a.dtype.kind != "S":
            a = a.view(v.dtype)  # undo any _Unsigned view
        raw = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder(">")).tobytes()
        f["vars"].append({"name": v.name, "dims": list(v.dimensions), "shape": list(v.shape),
                          "dtype": v.dtype.newbyteorder(">").str, "attrs": attrs(v),
                          "sha256": hashlib.sha256(raw).hexdigest(), "nbytes": len(raw)})
    out[path] = f
json.dump(out, sys.stdout)
`

type oracleAttr struct {
	Name   string   `json:"name"`
	Text   *string  `json:"text"`
	Raw    bool     `json:"raw"`
	Dtype  string   `json:"dtype"`
	Values []string `json:"values"`
}

type oracleVar struct {
	Name   string       `json:"name"`
	Dims   []string     `json:"dims"`
	Shape  []int64      `json:"shape"`
	Dtype  string       `json:"dtype"`
	Attrs  []oracleAttr `json:"attrs"`
	SHA256 string       `json:"sha256"`
	NBytes int64        `json:"nbytes"`
}

type oracleFile struct {
	DataModel string       `json:"data_model"`
	Dims      [][]any      `json:"dims"`
	Attrs     []oracleAttr `json:"attrs"`
	Vars      []oracleVar  `json:"vars"`
}

func TestRealWorld(t *testing.T) {
	if _, err := os.Stat(realworldDir); err != nil {
		t.Skipf("%s absent: %v", realworldDir, err)
	}
	var paths []string
	for _, name := range realworldFiles {
		paths = append(paths, filepath.Join(realworldDir, name))
	}
	py := testenv.Python(t, "netCDF4", "numpy")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append([]string{"-c", oracleScript}, paths...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	var oracle map[string]oracleFile
	require.NoError(t, json.Unmarshal(out, &oracle))

	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want, ok := oracle[path]
			require.True(t, ok)
			file, err := os.ReadFile(path)
			require.NoError(t, err)
			f, err := Open(bytes.NewReader(file), int64(len(file)))
			require.NoError(t, err)

			assert.Equal(t, want.DataModel, f.Format.String())
			require.Len(t, f.Dims, len(want.Dims))
			for i, d := range want.Dims {
				assert.Equal(t, d[0], f.Dims[i].Name)
				assert.EqualValues(t, d[1], f.Dims[i].Len)
				assert.Equal(t, d[2], f.Dims[i].Unlimited)
			}
			checkOracleAttrs(t, "global", f.Attrs, want.Attrs)

			require.Len(t, f.Vars, len(want.Vars))
			for i, w := range want.Vars {
				v := &f.Vars[i]
				assert.Equal(t, w.Name, v.Name)
				assert.Equal(t, w.Dims, v.Dims, w.Name)
				assert.Equal(t, w.Shape, v.Shape, w.Name)
				assert.Equal(t, w.Dtype, v.Type.Dtype(), w.Name)
				checkOracleAttrs(t, w.Name, v.Attrs, w.Attrs)

				h := sha256.New()
				var n int64
				for _, r := range v.Slabs() {
					h.Write(file[r.Offset:r.End()])
					n += r.Length
				}
				assert.Equal(t, w.NBytes, n, w.Name)
				assert.Equal(t, w.SHA256, hex.EncodeToString(h.Sum(nil)), w.Name)
			}
		})
	}
}

func checkOracleAttrs(t *testing.T, where string, got []Attr, want []oracleAttr) {
	t.Helper()
	checkAttrList(t, where, got, want, func(w oracleAttr) string { return w.Name }, func(a Attr, w oracleAttr, label string) {
		if a.Type == Char {
			require.NotNil(t, w.Text, label)
			s := a.Value.(string)
			if !w.Raw {
				s = strings.ReplaceAll(s, "\x00", "")
			}
			if utf8.ValidString(s) {
				assert.Equal(t, *w.Text, s, label)
			}
			return
		}
		assert.Equal(t, w.Dtype, a.Type.Dtype()[1:], label)
		vals := scalars(a.Value)
		require.Len(t, vals, len(w.Values), label)
		for j, x := range vals {
			switch x := x.(type) {
			case float64:
				y, err := strconv.ParseFloat(w.Values[j], 64)
				require.NoError(t, err)
				assert.True(t, x == y || math.IsNaN(x) && math.IsNaN(y), "%s[%d]: %v != %v", label, j, x, y)
			default:
				assert.Equal(t, w.Values[j], formatInt(x), "%s[%d]", label, j)
			}
		}
	})
}

func formatInt(x any) string {
	switch x := x.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	}
	return "?"
}
