package kerchunk_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/kerchunk"
)

// TestTranslateCancelled: a done context stops translation with its error,
// for netCDF-4 and netCDF-3 files.
func TestTranslateCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, name := range []string{"hdf5/nc4_basic.nc", "netcdf3/classic.nc"} {
		data, err := os.ReadFile(filepath.Join("..", "testdata", name))
		require.NoError(t, err)
		_, err = kerchunk.Translate(ctx, bytes.NewReader(data), int64(len(data)), "/"+name, kerchunk.Options{})
		assert.ErrorIs(t, err, context.Canceled, name)
	}
}
