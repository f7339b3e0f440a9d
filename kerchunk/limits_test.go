package kerchunk

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
			_, err = Translate(bytes.NewReader(b), int64(len(b)), "/f.nc", Options{Name: c.file, Limits: c.lim})
			var le *limits.Error
			require.ErrorAs(t, err, &le, "%v", err)
			assert.True(t, errors.Is(err, limits.ErrExceeded))
			assert.Equal(t, c.what, le.What)
			assert.Equal(t, c.file, le.File)
			assert.Contains(t, err.Error(), c.file)
			// With the defaults, the same file translates.
			_, err = Translate(bytes.NewReader(b), int64(len(b)), "/f.nc", Options{Name: c.file})
			require.NoError(t, err)
		})
	}
}
