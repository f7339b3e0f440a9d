package netcdf4_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ncGroup is netCDF4-python's view of one group, from the truth files.
type ncGroup struct {
	Dimensions map[string]struct {
		Size      uint64 `json:"size"`
		Unlimited bool   `json:"unlimited"`
	} `json:"dimensions"`
	Variables map[string]struct {
		Dimensions []string `json:"dimensions"`
		Shape      []uint64 `json:"shape"`
	} `json:"variables"`
	Attributes map[string]any     `json:"attributes"`
	Groups     map[string]ncGroup `json:"groups"`
}

// TestViewMatchesTruthFiles compares the view (dimension names, sizes,
// unlimited flags; variables and their dimension names) with what netCDF-C
// reported through netCDF4-python when the fixtures were written.
func TestViewMatchesTruthFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "hdf5", "nc4_*.nc"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, p := range files {
		t.Run(filepath.Base(p), func(t *testing.T) {
			raw, err := os.ReadFile(p + ".truth.json")
			require.NoError(t, err)
			var tr struct {
				NetCDF struct {
					Root ncGroup `json:"root"`
				} `json:"netcdf"`
			}
			require.NoError(t, json.Unmarshal(raw, &tr))
			view := openView(t, p)
			assert.True(t, view.IsNetCDF4)

			wantDims, wantVars := flatten(tr.NetCDF.Root)

			gotDims := map[string][2]any{}
			for _, d := range view.Dims {
				gotDims[d.Key()] = [2]any{d.Size, d.Unlimited}
			}
			gotVars := map[string][]string{}
			for _, v := range view.Vars {
				names := v.DimNames()
				if names == nil {
					names = []string{}
				}
				gotVars[v.Key()] = names
			}
			assert.Equal(t, wantDims, gotDims, "dimensions")
			for name, dims := range wantVars {
				if !assert.Contains(t, gotVars, name) {
					continue
				}
				if dims == nil {
					dims = []string{}
				}
				assert.Equal(t, dims, gotVars[name], "dimensions of %s", name)
			}
			for name := range gotVars {
				assert.Contains(t, wantVars, name, "variable %s is not a netCDF variable", strings.TrimSpace(name))
			}
		})
	}
}
