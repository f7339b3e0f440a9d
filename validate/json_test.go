package validate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/validate"
)

// encodingJSON is the report as encoding/json writes it on one line with
// HTML escaping off, less the newline: what Report.WriteJSON must equal.
func encodingJSON(t *testing.T, rep *validate.Report) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(rep))
	return strings.TrimSuffix(buf.String(), "\n")
}

// inspectFixture builds the report of data with the chunk listing, kept
// (stream false) or left to WriteJSON (stream true).
func inspectFixture(t *testing.T, data []byte, name string, stream bool) *validate.Report {
	t.Helper()
	opts := validate.DefaultOptions()
	opts.Chunks, opts.StreamChunks = true, stream
	rep, err := validate.Inspect(context.Background(), bytes.NewReader(data), int64(len(data)), name, opts)
	require.NoError(t, err)
	return rep
}

// TestWriteJSONEqualsEncodingJSON: Report.WriteJSON writes, byte for byte,
// what encoding/json writes for the report with its chunk lists held in
// memory, whether the report holds them or streams them from the file;
// for every HDF5 chunk index, netCDF-3 record variables, reports without
// a listing and names that need escaping.
func TestWriteJSONEqualsEncodingJSON(t *testing.T) {
	var files []string
	for _, g := range []string{"hdf5/*.h5", "hdf5/*.h5.gz", "netcdf3/*.nc", "sample/tas_2015.nc"} {
		m, err := filepath.Glob(filepath.Join("..", "testdata", g))
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.Greater(t, len(files), 20)
	listed := 0
	for _, src := range files {
		t.Run(filepath.Base(src), func(t *testing.T) {
			data := testenv.ReadFixture(t, src)
			want := encodingJSON(t, inspectFixture(t, data, src, false))
			for _, stream := range []bool{false, true} {
				var got bytes.Buffer
				require.NoError(t, inspectFixture(t, data, src, stream).WriteJSON(&got))
				assert.Equal(t, want, got.String(), "stream %v", stream)
			}
			if strings.Contains(want, `"chunk_list":[{`) {
				listed++
			}
			// Without the listing (the report of the validate stage).
			opts := validate.DefaultOptions()
			rep, err := validate.Inspect(context.Background(), bytes.NewReader(data), int64(len(data)), src, opts)
			require.NoError(t, err)
			var got bytes.Buffer
			require.NoError(t, rep.WriteJSON(&got))
			assert.Equal(t, encodingJSON(t, rep), got.String())
		})
	}
	assert.Greater(t, listed, 10, "fixtures with chunk lists")

	// Dataset names and layouts that JSON must escape.
	addr, size := int64(8), uint64(0)
	rep := &validate.Report{NCURL: "a<b>&\u2028", Variables: map[string]*validate.Variable{}, Dimensions: map[string]uint64{},
		Datasets: map[string]*validate.DatasetStorage{
			"q\"uo\\te\n\x01é<&>\u2029": {Layout: "contiguous", Addr: &addr, Size: &size},
			"plain":                     {Layout: "chunked", ChunkList: []validate.ChunkInfo{{Offset: nil, Addr: 1, Size: 2, FilterMask: 3}, {Offset: []uint64{}, Addr: -1}}},
			"empty":                     {Layout: "chunked", ChunkList: []validate.ChunkInfo{}},
			"nil":                       nil,
		}}
	var got bytes.Buffer
	require.NoError(t, rep.WriteJSON(&got))
	assert.Equal(t, encodingJSON(t, rep), got.String())
}

// TestWriteJSONStreamedBrokenIndex: a chunk B-tree whose last leaf is
// broken gives the same report streamed as held in memory: the chunks
// before the broken leaf, and the "chunk_index" error.
func TestWriteJSONStreamedBrokenIndex(t *testing.T) {
	src := filepath.Join("..", "testdata", "hdf5", "h5_big_btree_v1.h5.gz")
	data := testenv.ReadFixture(t, src)
	i := bytes.LastIndex(data, []byte("TREE"))
	require.Positive(t, i)
	data[i] = 'X'
	held := inspectFixture(t, data, src, false)
	require.NotEmpty(t, held.Errors)
	assert.Equal(t, "chunk_index", held.Errors[0].Code)
	want := encodingJSON(t, held)
	assert.Contains(t, want, `"chunk_list":[{`)
	var got bytes.Buffer
	require.NoError(t, inspectFixture(t, data, src, true).WriteJSON(&got))
	assert.Equal(t, want, got.String())
}

// failWriter fails every write.
type failWriter struct{}

var errWrite = errors.New("write failed")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

// TestWriteJSONWriteError: a failing writer's error is returned.
func TestWriteJSONWriteError(t *testing.T) {
	src := filepath.Join("..", "testdata", "hdf5", "h5_big_btree_v1.h5.gz")
	rep := inspectFixture(t, testenv.ReadFixture(t, src), src, true)
	assert.ErrorIs(t, rep.WriteJSON(failWriter{}), errWrite)
}
