package validate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/limits"
)

// TestInspectLimits: the report checks chunk counts (a netCDF-3 record
// is a chunk: a file of 1-byte records has as many as bytes) and
// attribute sizes against Options.Limits before listing them.
func TestInspectLimits(t *testing.T) {
	cases := []struct {
		name, file string
		lim        limits.Limits
		chunks     bool
		what       string
	}{
		{"netCDF-3 records", "netcdf3/multirec_pad.nc", limits.Limits{ChunksPerVariable: 3}, false, limits.ChunksPerVariable},
		{"netCDF-3 attributes", "netcdf3/classic.nc", limits.Limits{AttrBytes: 2}, false, limits.AttrBytes},
		{"netCDF-4 attributes", "sample/tas_2015.nc", limits.Limits{AttrBytes: 4}, false, limits.AttrBytes},
		{"netCDF-4 chunk list", "sample/tas_2015.nc", limits.Limits{ChunksPerVariable: 1}, true, limits.ChunksPerVariable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "testdata", filepath.FromSlash(c.file)))
			require.NoError(t, err)
			opts := DefaultOptions()
			opts.Chunks = c.chunks
			_, err = Inspect(context.Background(), bytes.NewReader(b), int64(len(b)), "/f.nc", opts)
			require.NoError(t, err, "the defaults let it through")
			opts.Limits = c.lim
			_, err = Inspect(context.Background(), bytes.NewReader(b), int64(len(b)), "/f.nc", opts)
			var le *limits.Error
			require.ErrorAs(t, err, &le, "%v", err)
			assert.Equal(t, c.what, le.What)
		})
	}
}
