package netcdf4_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/netcdf4"
)

// BenchmarkInspectSmall opens a small netCDF-4 file, builds its netCDF view
// and counts every chunk: the per-file metadata cost of the pipeline.
func BenchmarkInspectSmall(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "hdf5", "nc4_basic.nc"))
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		f, err := hdf5meta.Open(bytes.NewReader(data), int64(len(data)))
		require.NoError(b, err)
		v, err := netcdf4.New(context.Background(), f)
		require.NoError(b, err)
		for _, x := range v.Vars {
			if x.Dataset.Layout.Class == hdf5meta.LayoutChunked {
				if _, _, err := x.Dataset.NumChunks(); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}
