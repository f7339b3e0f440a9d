package kerchunk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/parquet"
	"github.com/greensight/vzarr/limits"
)

// TestReadJSONLimits: "gen" entries are counted before they are
// expanded, so that a few bytes cannot stand for billions of references.
func TestReadJSONLimits(t *testing.T) {
	gen := func(dims string) string {
		return `{"version":1,"refs":{"a/.zarray":"{}"},"gen":[{"key":"a/{{i}}","url":"/x","offset":"{{i}}","length":1,"dimensions":` + dims + `}]}`
	}
	cases := []struct {
		name  string
		json  string
		lim   limits.Limits
		keys  int    // when it reads
		value uint64 // when it fails
	}{
		{"count", gen(`{"i":1000000000000}`), limits.Limits{}, 0, 1e12},
		{"product", gen(`{"i":100000,"j":100000}`), limits.Limits{}, 0, 1e10 + 1},
		{"empty times huge", gen(`{"i":0,"j":9000000000000000000}`), limits.Limits{}, 0, 9e18},
		{"range", gen(`{"i":{"start":0,"stop":9000000000000000000,"step":3}}`), limits.Limits{}, 0, 3e18},
		{"negative range", gen(`{"i":{"start":10,"stop":0,"step":-5}}`), limits.Limits{}, 3, 0},
		{"within", gen(`{"i":4}`), limits.Limits{ChunksPerFile: 5}, 5, 0},
		{"lowered", gen(`{"i":5}`), limits.Limits{ChunksPerFile: 5}, 0, 6},
		{"version 0", `{"a/.zarray":"{}","a/0":"x","a/1":"y"}`, limits.Limits{ChunksPerFile: 2}, 0, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			refs, err := ReadJSONLimits(strings.NewReader(c.json), c.lim)
			if c.keys > 0 {
				require.NoError(t, err)
				assert.Equal(t, c.keys, refs.Len())
				return
			}
			var le *limits.Error
			require.ErrorAs(t, err, &le, "%v", err)
			assert.Equal(t, limits.ChunksPerFile, le.What)
			assert.Equal(t, c.value, le.Value)
		})
	}
}

// TestTranslateLimits: chunk counts and attribute sizes above the limits
// fail with a *limits.Error naming the file and variable.
func TestTranslateLimits(t *testing.T) {
	nc4 := filepath.Join("..", "testdata", "sample", "tas_2015.nc")
	nc3 := filepath.Join("..", "testdata", "netcdf3", "classic.nc")
	cases := []struct {
		name, file string
		lim        limits.Limits
		what       string
	}{
		{"netCDF-4 chunks per file", nc4, limits.Limits{ChunksPerFile: 2}, limits.ChunksPerFile},
		{"netCDF-4 chunks per variable", nc4, limits.Limits{ChunksPerVariable: 1}, limits.ChunksPerVariable},
		{"netCDF-4 attribute bytes", nc4, limits.Limits{AttrBytes: 4}, limits.AttrBytes},
		{"netCDF-3 chunks per file", nc3, limits.Limits{ChunksPerFile: 1}, limits.ChunksPerFile},
		{"netCDF-3 attribute bytes", nc3, limits.Limits{AttrBytes: 2}, limits.AttrBytes},
		{"netCDF-3 names", nc3, limits.Limits{StringBytes: 2}, limits.StringBytes},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := os.ReadFile(c.file)
			require.NoError(t, err)
			_, err = Translate(context.Background(), bytes.NewReader(b), int64(len(b)), "/f.nc", Options{Name: c.file, Limits: c.lim})
			var le *limits.Error
			require.ErrorAs(t, err, &le, "%v", err)
			assert.True(t, errors.Is(err, limits.ErrExceeded))
			assert.Equal(t, c.what, le.What)
			assert.Equal(t, c.file, le.File)
			assert.Contains(t, err.Error(), c.file)
			// With the defaults, the same file translates.
			_, err = Translate(context.Background(), bytes.NewReader(b), int64(len(b)), "/f.nc", Options{Name: c.file})
			require.NoError(t, err)
		})
	}
}

// TestReadParquetSetLimits: a .zmetadata declaring a huge chunk grid or
// record_size fails before the records are listed, and a refs file with
// more rows than its record_size is refused.
func TestReadParquetSetLimits(t *testing.T) {
	zmeta := func(shape, chunks string, rs int) []byte {
		za := `{"chunks":` + chunks + `,"compressor":null,"dtype":"<f8","fill_value":null,"filters":null,"order":"C","shape":` + shape + `,"zarr_format":2}`
		b, _ := json.Marshal(map[string]any{"metadata": map[string]any{".zgroup": map[string]int{"zarr_format": 2}, "v/.zarray": json.RawMessage(za)}, "record_size": rs})
		return b
	}
	cases := []struct {
		name string
		meta []byte
		what string
	}{
		{"grid of 2^60 chunks", zmeta("[1152921504606846976]", "[1]", 1), limits.ChunksPerVariable},
		{"overflowing grid", zmeta("[4294967296,4294967296,4294967296]", "[1,1,1]", 1000), limits.ChunksPerVariable},
		{"record size", zmeta("[10]", "[1]", 1<<40), limits.ChunksPerFile},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			_, err := ReadParquetSet(func(name string) ([]byte, error) {
				if name == ".zmetadata" {
					return c.meta, nil
				}
				calls++
				return nil, os.ErrNotExist
			})
			var le *limits.Error
			require.ErrorAs(t, err, &le, "%v", err)
			assert.Equal(t, c.what, le.What)
			assert.Zero(t, calls, "no refs file asked for")
		})
	}

	// A refs file of 3 rows in a set of record_size 2.
	rows := []Ref{Range("/a", 1, 2), Range("/a", 3, 2), Range("/a", 5, 2)}
	b, err := parquet.Encode(pqRows(rows, []bool{true, true, true}))
	require.NoError(t, err)
	_, err = ReadParquetSet(func(name string) ([]byte, error) {
		switch name {
		case ".zmetadata":
			return zmeta("[4]", "[1]", 2), nil
		case "v/refs.0.parq":
			return b, nil
		}
		return nil, os.ErrNotExist
	})
	require.ErrorIs(t, err, ErrBadRefs)
	assert.Contains(t, err.Error(), "at most 2 rows")
}

// TestNetCDF3LimitNames: limit errors of netCDF-3 headers name the
// attribute ("@title", "var@units").
func TestNetCDF3LimitNames(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "netcdf3", "classic.nc"))
	require.NoError(t, err)
	_, err = Translate(context.Background(), bytes.NewReader(b), int64(len(b)), "/f.nc", Options{Name: "c.nc", Limits: limits.Limits{AttrBytes: 2}})
	var le *limits.Error
	require.ErrorAs(t, err, &le)
	assert.Equal(t, "c.nc", le.File)
	assert.Regexp(t, `^[A-Za-z0-9_]*@[A-Za-z0-9_]+$`, le.Variable)
}
