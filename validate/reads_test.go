package validate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/rangeio"
)

// netCDF4Files are the netCDF-4 files whose metadata sits in the first MB:
// the fixtures written by netCDF-C, and the real-world files when present.
func netCDF4Files(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "hdf5", "nc4_*.nc"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	rw, _ := filepath.Glob(filepath.Join("..", "..", "shared", "realworld", "*.nc"))
	for _, p := range rw {
		fh, err := os.Open(p)
		require.NoError(t, err)
		st, _ := fh.Stat()
		if Sniff(fh, st.Size()) == FormatHDF5 {
			files = append(files, p)
		}
		fh.Close()
	}
	return files
}

// TestInspectReadCount checks the round trips a full inspection (every
// variable, every chunk listed) makes to slow storage.
func TestInspectReadCount(t *testing.T) {
	for _, p := range netCDF4Files(t) {
		t.Run(filepath.Base(p), func(t *testing.T) {
			fh, err := os.Open(p)
			require.NoError(t, err)
			defer fh.Close()
			st, err := fh.Stat()
			require.NoError(t, err)
			cr := rangeio.NewCountingReaderAt(fh)
			opts := DefaultOptions()
			opts.Chunks = true
			// The cache a caller puts in front of slow storage (blobio's
			// objects are such readers).
			cached := rangeio.NewReader(cr, st.Size(), blobio.MetadataReaderOptions(0)...)
			rep, err := Inspect(context.Background(), cached, st.Size(), p, opts)
			require.NoError(t, err)
			require.NotEmpty(t, rep.Variables)
			stats := cr.Stats()
			t.Logf("%s: %d bytes, %d requests, %d bytes read", filepath.Base(p), st.Size(), stats.Requests, stats.Bytes)
			assert.LessOrEqual(t, stats.Requests, int64(3), "requests for %s", p)
			if !strings.Contains(p, "shared") {
				assert.LessOrEqual(t, stats.Bytes, st.Size(), "no byte read twice")
			}
		})
	}
}
