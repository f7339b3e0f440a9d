package validate

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func inspectFile(t *testing.T, p string, opts Options) *Report {
	t.Helper()
	fh, err := os.Open(p)
	require.NoError(t, err)
	defer fh.Close()
	st, err := fh.Stat()
	require.NoError(t, err)
	rep, err := Inspect(context.Background(), fh, st.Size(), p, opts)
	require.NoError(t, err)
	return rep
}

func TestInspectNetCDF4Basic(t *testing.T) {
	opts := DefaultOptions()
	opts.Chunks = true
	rep := inspectFile(t, filepath.Join("..", "testdata", "hdf5", "nc4_basic.nc"), opts)
	assert.Equal(t, "hdf5", rep.Format)
	tas := rep.Variables["tas"]
	require.NotNil(t, tas, "variables: %v", rep.Variables)
	assert.Equal(t, []string{"time", "lat", "lon"}, tas.Dims)
	assert.Equal(t, "float32", tas.Dtype)
	assert.Equal(t, []uint64{4, 18, 36}, tas.Chunks)
	assert.Equal(t, "chunked", tas.Layout)
	require.NotNil(t, tas.Compression)
	assert.Equal(t, "gzip", *tas.Compression)
	assert.Equal(t, uint64(36), rep.Dimensions["lat"])
	assert.Equal(t, uint64(72), rep.Dimensions["lon"])
	// The storage listing covers every chunk the variable reports.
	ds := rep.Datasets["tas"]
	require.NotNil(t, ds)
	assert.Len(t, ds.ChunkList, tas.NumChunks)
	var stored uint64
	for _, c := range ds.ChunkList {
		stored += c.Size
	}
	assert.Equal(t, tas.StoredBytes, stored)
}

func TestInspectFindings(t *testing.T) {
	opts := DefaultOptions()
	rep := inspectFile(t, filepath.Join("..", "testdata", "hdf5", "h5_earliest_layouts.h5"), opts)
	codes := map[string]string{}
	for _, e := range rep.Errors {
		codes[e.Variable] = e.Code
	}
	assert.Equal(t, "unsupported_filter", codes["filters/szip"], "szip has no Zarr codec")
	assert.Equal(t, "unsupported_filter", codes["filters/scaleoffset_int"])
	assert.Equal(t, StatusError, rep.Status)
	assert.Equal(t, RecommendNotSuitable, rep.Recommendation)

	// Thresholds are configurable: with a huge tiny-chunk threshold every
	// multi-chunk variable warns.
	opts.TinyChunkBytes = 1 << 40
	rep = inspectFile(t, filepath.Join("..", "testdata", "hdf5", "nc4_basic.nc"), opts)
	var tiny bool
	for _, w := range rep.Warnings {
		if w.Variable == "tas" && w.Code == "tiny_chunks" {
			tiny = true
		}
	}
	assert.True(t, tiny, "warnings: %v", rep.Warnings)
	assert.Equal(t, StatusWarning, rep.Status)
}

func TestInspectNetCDF3(t *testing.T) {
	opts := DefaultOptions()
	opts.Chunks = true
	rep := inspectFile(t, filepath.Join("..", "testdata", "netcdf3", "classic.nc"), opts)
	assert.Equal(t, "netcdf3", rep.Format)
	require.NotEmpty(t, rep.Variables)
	for name, v := range rep.Variables {
		st := rep.Datasets[name]
		require.NotNil(t, st, name)
		if v.Layout == "record" {
			assert.Len(t, st.ChunkList, v.NumChunks, name)
			assert.Equal(t, uint64(1), v.Chunks[0], name)
		}
	}
}

func TestInspectNotNetCDF(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.nc")
	require.NoError(t, os.WriteFile(p, []byte("definitely not a netCDF file"), 0o644))
	fh, err := os.Open(p)
	require.NoError(t, err)
	defer fh.Close()
	_, err = Inspect(context.Background(), fh, 28, p, DefaultOptions())
	assert.ErrorIs(t, err, ErrNotNetCDF)
}

// TestInspectPackedFloat32: variables packed with a float32 scale_factor
// or add_offset get the "packed_float32_attrs" note (xarray unpacks
// them to float64 through Zarr), in netCDF-4 and netCDF-3 files; float64
// packing attributes and unpacked variables get none.
func TestInspectPackedFloat32(t *testing.T) {
	nc4, err := filepath.Glob(filepath.Join("..", "testdata", "series", "same_units", "*.nc"))
	require.NoError(t, err)
	require.NotEmpty(t, nc4)
	tests := []struct {
		file string
		want map[string]string // variable -> attributes named in the message
	}{
		{nc4[0], map[string]string{"pr": "scale_factor and add_offset are float32"}},
		{filepath.Join("..", "kerchunk", "testdata", "nc3_packed_f4.nc"), map[string]string{
			"p32": "scale_factor and add_offset are float32", "s32": "scale_factor is float32"}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			rep := inspectFile(t, tt.file, DefaultOptions())
			got := map[string]string{}
			for _, w := range rep.Notes {
				if w.Code == "packed_float32_attrs" {
					got[w.Variable] = w.Message
				}
			}
			require.Len(t, got, len(tt.want), "%v", rep.Notes)
			for v, msg := range tt.want {
				assert.Contains(t, got[v], msg, v)
			}
			// A note is not a warning: it neither changes the status nor
			// fails a run with fail_on_warnings.
			for _, w := range rep.Warnings {
				assert.NotEqual(t, "packed_float32_attrs", w.Code)
			}
			if len(rep.Warnings) == 0 && len(rep.Errors) == 0 {
				assert.Equal(t, StatusSuccess, rep.Status, "notes alone leave the status at success")
			}
			assert.NotEqual(t, StatusError, rep.Status)
		})
	}
}
