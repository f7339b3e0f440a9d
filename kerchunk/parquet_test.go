package kerchunk

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/parquet"
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
// back to the same references. (internal/parquet's tests check the files
// against arrow-go's independent Parquet reader and writer.)
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
		// Equal references: TestVerifyFixtures checks them against the
		// source (through refread, which this package cannot import).
	}
}

func TestParquetRejectsCorruptFiles(t *testing.T) {
	b, err := parquet.Encode(pqRows([]Ref{Range("/a", 1, 2)}, []bool{true}))
	require.NoError(t, err)
	for i := 0; i < len(b); i += 3 {
		c := append([]byte(nil), b...)
		c[i] ^= 0xff
		_, _, _ = parquet.Decode(c, 1) // must not panic
	}
	_, _, err = parquet.Decode(b[:len(b)-5], 1)
	assert.Error(t, err)
}

// TestParquetKeyOrder writes the same references with chunk keys in grid
// order (written straight from the set) and shuffled between arrays, out
// of order, with a key spelled twice ("v/01" after "v/1": the later wins,
// as the sorted path keeps it): every order gives the same files.
func TestParquetKeyOrder(t *testing.T) {
	zarray := func(n int) string {
		return `{"chunks":[1],"compressor":null,"dtype":"<i2","fill_value":null,"filters":null,"order":"C","shape":[` + strconv.Itoa(n) + `],"zarr_format":2}`
	}
	build := func(keys []string) *Refs {
		s := NewRefs(0)
		s.SetText(".zgroup", `{"zarr_format":2}`)
		s.SetText("w/.zarray", zarray(4))
		s.SetText("v/.zarray", zarray(5))
		for _, k := range keys {
			switch {
			case k == "v/01":
				s.Set(k, Inline([]byte("later")))
			case strings.HasPrefix(k, "v/"):
				s.Set(k, Range("/data/v.nc", int64(len(k))*100+int64(k[len(k)-1]), 7))
			default:
				s.Set(k, Inline([]byte(k)))
			}
		}
		return s
	}
	write := func(s *Refs) map[string][]byte {
		files, put, _ := memStore()
		require.NoError(t, WriteParquetSet(s, put, &ParquetOptions{RecordSize: 2}))
		return files
	}
	want := write(build([]string{"v/0", "v/1", "v/2", "v/4", "w/0", "w/3"}))
	assert.Len(t, want, 1+3+2, "records v/refs.0-2, w/refs.0-1, .zmetadata")
	for _, keys := range [][]string{
		{"w/0", "w/3", "v/0", "v/1", "v/2", "v/4"},
		{"v/4", "w/3", "v/0", "w/0", "v/2", "v/1"},
	} {
		assert.Equal(t, want, write(build(keys)), "%v", keys)
	}
	dup := write(build([]string{"v/0", "v/1", "v/2", "v/4", "w/0", "w/3", "v/01"}))
	back, err := ReadParquetSet(func(name string) ([]byte, error) {
		b, ok := dup[name]
		if !ok {
			return nil, os.ErrNotExist
		}
		return b, nil
	})
	require.NoError(t, err)
	got, ok := back.Get("v/1")
	require.True(t, ok)
	assert.Equal(t, []byte("later"), got.Data)
}
