package kerchunk

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func memStore() (map[string][]byte, func(string, []byte) error, func(string) ([]byte, error)) {
	m := map[string][]byte{}
	put := func(name string, b []byte) error { m[name] = append([]byte(nil), b...); return nil }
	get := func(name string) ([]byte, error) {
		b, ok := m[name]
		if !ok {
			return nil, os.ErrNotExist
		}
		return b, nil
	}
	return m, put, get
}

// TestParquetRoundTrip writes fixture references as Parquet and reads them
// back to the same references. (The files were checked once against
// arrow-go's independent Parquet reader and writer, see parquet.go.)
func TestParquetRoundTrip(t *testing.T) {
	for _, rel := range []string{"../testdata/hdf5/nc4_groups.nc", "../testdata/netcdf3/classic.nc", "testdata/nc4_edge.nc", "testdata/filters.h5"} {
		if _, err := os.Stat(rel); err != nil {
			continue
		}
		abs, _ := filepath.Abs(rel)
		res, err := translateFile(abs, Options{})
		require.NoError(t, err)
		files, put, get := memStore()
		require.NoError(t, WriteParquetSet(res.Refs, put, &ParquetOptions{RecordSize: 3}))
		require.Contains(t, files, ".zmetadata")
		back, err := ReadParquetSet(get)
		require.NoError(t, err, rel)
		assert.Equal(t, res.Refs.Len(), back.Len(), rel)
		for _, k := range res.Refs.Keys() {
			want, _ := res.Refs.Get(k)
			got, ok := back.Get(k)
			require.True(t, ok, "%s: %s", rel, k)
			if IsMetadataKey(k) {
				assert.Equal(t, string(want.Data), string(got.Data), k)
				continue
			}
			assert.Equal(t, want, got, "%s: %s", rel, k)
		}
		rep := verifyFile(t, abs, back, 0)
		assert.True(t, rep.OK(), "%v", rep.Mismatches)
	}
}

func TestParquetRejectsCorruptFiles(t *testing.T) {
	b, err := encodeRefsParquet([]Ref{Range("/a", 1, 2)}, []bool{true})
	require.NoError(t, err)
	for i := 0; i < len(b); i += 3 {
		c := append([]byte(nil), b...)
		c[i] ^= 0xff
		_, _, _ = decodeParquet(c, 1) // must not panic
	}
	_, _, err = decodeParquet(b[:len(b)-5], 1)
	assert.Error(t, err)
}
