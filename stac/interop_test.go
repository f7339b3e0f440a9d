package stac_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/refstore"
	"github.com/greensight/vzarr/stac"
)

const openItem = `
import json, sys
import xarray as xr
item = json.load(open(sys.argv[1]))
kw = item["assets"]["references"]["xarray:open_kwargs"]
ds = xr.open_dataset(**kw)
out = {
    "sizes": {k: int(v) for k, v in ds.sizes.items()},
    "data_vars": sorted(ds.data_vars),
    "lat": [float(ds.lat.min()), float(ds.lat.max())],
    "lon": [float(ds.lon.min()), float(ds.lon.max())],
    "time": [str(ds.time.values[0])[:19] + "Z", str(ds.time.values[-1])[:19] + "Z"],
    "tas_units": ds.tas.attrs.get("units"),
    "tas_mean": float(ds.tas.isel(time=0).mean()),
}
print(json.dumps(out))
`

// TestOpenKwargsWithXarray opens a reference file with xarray through the
// item's xarray:open_kwargs, exactly as a user would, and checks that what
// xarray sees is what the item says, on every reader stack.
func TestOpenKwargsWithXarray(t *testing.T) {
	stacks := testenv.Pythons(t, "xarray", "fsspec", "zarr")
	dir := t.TempDir()
	refPath := filepath.Join(dir, "nc4_basic.json")
	f, err := os.Create(refPath)
	require.NoError(t, err)
	require.NoError(t, kerchunk.WriteJSON(f, translateFixture(t, "testdata/hdf5/nc4_basic.nc"), nil))
	require.NoError(t, f.Close())

	refs, err := (&refstore.Store{}).Load(context.Background(), refPath)
	require.NoError(t, err)
	info, err := stac.FromReferences(context.Background(), refs, stac.RefOptions{})
	require.NoError(t, err)
	item, err := stac.Build(info, stac.Options{DatasetID: "sample", RefURL: refPath, Created: created})
	require.NoError(t, err)
	itemPath := filepath.Join(dir, "item.json")
	require.NoError(t, os.WriteFile(itemPath, encode(t, item), 0o644))

	for _, stack := range stacks {
		t.Run(stack.Name, func(t *testing.T) {
			out, err := stack.Command("-c", openItem, itemPath).Output()
			if ee, ok := err.(*exec.ExitError); ok {
				t.Fatalf("python: %v\n%s", err, ee.Stderr)
			}
			require.NoError(t, err)
			var got struct {
				Sizes    map[string]int64 `json:"sizes"`
				DataVars []string         `json:"data_vars"`
				Lat, Lon []float64
				Time     []string
				Units    string  `json:"tas_units"`
				Mean     float64 `json:"tas_mean"`
			}
			require.NoError(t, json.Unmarshal(out, &got))
			dims := item.Properties.CubeDimensions
			for name, d := range got.Sizes {
				require.Contains(t, dims, name)
				assert.Equal(t, info.Dimension(name).Size, d, name)
			}
			assert.Equal(t, []any{got.Lat[0], got.Lat[1]}, dims["lat"].Extent)
			assert.Equal(t, []any{got.Lon[0], got.Lon[1]}, dims["lon"].Extent)
			assert.Equal(t, []any{got.Time[0], got.Time[1]}, dims["time"].Extent)
			assert.Equal(t, item.Properties.StartDatetime, got.Time[0])
			assert.Contains(t, got.DataVars, "tas")
			assert.Equal(t, "K", got.Units)
			assert.Equal(t, item.Properties.CubeVariables["tas"].Unit, got.Units)
			assert.Greater(t, got.Mean, 150.0, "the data is read through the references")
		})
	}
}

const openGroups = `
import json, sys
import xarray as xr
item = json.load(open(sys.argv[1]))
kw = item["assets"]["references"]["xarray:open_kwargs"]
out = {}
for g in sys.argv[2:]:
    with xr.open_dataset(**kw, group=g) as ds:
        out[g] = sorted(ds.variables)
print(json.dumps(out))
`

// TestOpenKwargsGroupsWithXarray opens every group of a grouped file
// through the item's xarray:open_kwargs plus group=: on every stack each
// group shows the arrays the references hold directly below it. The
// kwargs do not force consolidated=False, so zarr-python 3 reads the
// references' .zmetadata instead of listing the store (which fails below
// the root of a reference:// store).
func TestOpenKwargsGroupsWithXarray(t *testing.T) {
	stacks := testenv.Pythons(t, "xarray", "fsspec", "zarr")
	dir := t.TempDir()
	refPath := filepath.Join(dir, "nc4_groups.json")
	refs := translateFixture(t, "testdata/hdf5/nc4_groups.nc")
	f, err := os.Create(refPath)
	require.NoError(t, err)
	require.NoError(t, kerchunk.WriteJSON(f, refs, nil))
	require.NoError(t, f.Close())
	info, err := stac.FromReferences(context.Background(), refs, stac.RefOptions{})
	require.NoError(t, err)
	require.True(t, info.Consolidated)
	item, err := stac.Build(info, stac.Options{DatasetID: "groups", RefURL: refPath, Created: created})
	require.NoError(t, err)
	itemPath := filepath.Join(dir, "item.json")
	require.NoError(t, os.WriteFile(itemPath, encode(t, item), 0o644))

	// The arrays of each group below the root, from the references.
	want := map[string][]string{}
	refs.All(func(k string, _ kerchunk.Ref) bool {
		if arr, ok := strings.CutSuffix(k, "/.zarray"); ok {
			if i := strings.LastIndexByte(arr, '/'); i > 0 {
				want[arr[:i]] = append(want[arr[:i]], arr[i+1:])
			}
		}
		return true
	})
	require.NotEmpty(t, want)
	groups := make([]string, 0, len(want))
	for g := range want {
		slices.Sort(want[g])
		groups = append(groups, g)
	}
	for _, stack := range stacks {
		t.Run(stack.Name, func(t *testing.T) {
			out, err := stack.Command(append([]string{"-c", openGroups, itemPath}, groups...)...).Output()
			if ee, ok := err.(*exec.ExitError); ok {
				t.Fatalf("python: %v\n%s", err, ee.Stderr)
			}
			require.NoError(t, err)
			var got map[string][]string
			require.NoError(t, json.Unmarshal(out, &got))
			assert.Equal(t, want, got)
		})
	}
}
