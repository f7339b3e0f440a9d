package validate_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/validate"
)

// sourceFiles returns every NetCDF/HDF5 file of the repository's test data
// and, when it exists, of ../shared/realworld.
func sourceFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, pat := range []string{
		"../testdata/hdf5/*.h5", "../testdata/hdf5/*.nc", "../testdata/hdf5/*.h5.gz",
		"../testdata/netcdf3/*.nc", "../kerchunk/testdata/*.h5", "../kerchunk/testdata/*.nc",
		"../testdata/sample/*.nc", "../testdata/series/*/*.nc",
		"../../shared/realworld/*.nc",
	} {
		m, err := filepath.Glob(pat)
		require.NoError(t, err)
		out = append(out, m...)
	}
	sort.Strings(out)
	require.NotEmpty(t, out)
	return out
}

func readSource(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	if strings.HasSuffix(p, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		require.NoError(t, err)
		data, err = io.ReadAll(zr)
		require.NoError(t, err)
	}
	return data
}

// TestInspectAndRefAgree checks that the validation report (vzarr inspect)
// and the kerchunk translation (vzarr ref) describe the same dataset on
// every file: the same variables (translated or listed as skipped) and the
// same dimension names for each translated one, and the same dimensions.
func TestInspectAndRefAgree(t *testing.T) {
	ctx := context.Background()
	for _, p := range sourceFiles(t) {
		t.Run(filepath.Base(p), func(t *testing.T) {
			data := readSource(t, p)
			rep, err := validate.Inspect(ctx, bytes.NewReader(data), int64(len(data)), p, validate.DefaultOptions())
			require.NoError(t, err)
			abs, err := filepath.Abs(p)
			require.NoError(t, err)
			res, err := kerchunk.Translate(ctx, bytes.NewReader(data), int64(len(data)), abs, kerchunk.Options{SkipUnsupported: true})
			require.NoError(t, err)

			refVars := map[string]bool{}
			for name, v := range res.Variables {
				refVars[name] = true
				if assert.Contains(t, rep.Variables, name, "ref translates %s, inspect does not report it", name) {
					assert.Equal(t, v.Dims, rep.Variables[name].Dims, "dimensions of %s", name)
				}
			}
			for _, s := range res.Skipped {
				refVars[s.Variable] = true
			}
			for name := range rep.Variables {
				assert.True(t, refVars[name], "inspect reports %s, ref neither translates nor skips it", name)
			}
			assert.Equal(t, rep.Dimensions, res.Dimensions, "dimensions")
		})
	}
}
