package stac_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/stac"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// created is the fixed creation time of golden items.
var created = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// readFixture reads a reference fixture of testdata/stac, putting the
// fixture directory's absolute path where it says @TESTDATA@.
func readFixture(t *testing.T, name string) *kerchunk.Refs {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "testdata", "stac"))
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	refs, err := kerchunk.ReadJSON(strings.NewReader(strings.ReplaceAll(string(b), "@TESTDATA@", filepath.ToSlash(dir))))
	require.NoError(t, err)
	return refs
}

// translateFixture makes references of a NetCDF fixture with the project's
// translator, as the ref stage does.
func translateFixture(t *testing.T, path string) *kerchunk.Refs {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("..", path))
	require.NoError(t, err)
	f, err := os.Open(abs)
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	res, err := kerchunk.Translate(context.Background(), f, st.Size(), abs, kerchunk.Options{})
	require.NoError(t, err)
	return res.Refs
}

func encode(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	return b.Bytes()
}

func TestGoldenItems(t *testing.T) {
	tests := []struct {
		name     string
		refs     func(t *testing.T) *kerchunk.Refs
		opts     stac.Options
		warnings []string
	}{
		{
			name: "global_monthly",
			refs: func(t *testing.T) *kerchunk.Refs { return readFixture(t, "global_monthly.json") },
			opts: stac.Options{DatasetID: "cmip6-tas", ResourceID: "monthly", Collection: "cmip6",
				RefURL: "abfs://refs/cmip6/tas_monthly.json", Account: "climatedata",
				TiTiler: &stac.TiTiler{BaseURL: "https://tiles.example.org/xarray/"}},
		},
		{
			name: "regional_dateline",
			refs: func(t *testing.T) *kerchunk.Refs { return readFixture(t, "regional_dateline.json") },
			opts: stac.Options{DatasetID: "pacific-pr", ResourceID: "6h", Collection: "regional",
				RefURL: "abfs://refs/pacific/pr.json", Account: "climatedata", HrefStyle: stac.HrefHTTPS,
				RemoteProtocol: "abfs"},
		},
		{
			name: "point_v0",
			refs: func(t *testing.T) *kerchunk.Refs { return readFixture(t, "point_v0.json") },
			opts: stac.Options{DatasetID: "station", RefURL: "https://climatedata.blob.core.windows.net/refs/station.json",
				HrefStyle: stac.HrefHTTPS},
		},
		{
			name: "nc4_basic",
			refs: func(t *testing.T) *kerchunk.Refs { return translateFixture(t, "testdata/hdf5/nc4_basic.nc") },
			opts: stac.Options{ID: "sample-tas", DatasetID: "sample", Collection: "samples",
				RefURL: "az://refs/sample/nc4_basic.json", Account: "climatedata", RemoteProtocol: "abfs"},
		},
		{
			name:     "netcdf3_classic",
			refs:     func(t *testing.T) *kerchunk.Refs { return translateFixture(t, "testdata/netcdf3/classic.nc") },
			opts:     stac.Options{DatasetID: "classic", ResourceID: "nc3", RefURL: "/data/refs/classic.json"},
			warnings: []string{`projected coordinate "x": no grid mapping with crs_wkt, spatial_ref or epsg_code`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, err := stac.FromReferences(context.Background(), tc.refs(t), stac.RefOptions{})
			require.NoError(t, err)
			assert.Equal(t, tc.warnings, info.Warnings)
			tc.opts.Created = created
			item, err := stac.Build(info, tc.opts)
			require.NoError(t, err)
			got := encode(t, item)
			require.NoError(t, validateItem(t, got))
			assertItemShape(t, got)

			path := filepath.Join("testdata", "golden", tc.name+".json")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./stac -run TestGoldenItems -update to create it")
			assert.Equal(t, string(want), string(got), "golden file %s (rerun with -update after checking the diff)", path)
		})
	}
}
