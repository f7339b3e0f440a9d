package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/pipeline"
	"github.com/greensight/vzarr/validate"
)

func TestInspectCommand(t *testing.T) {
	basic := filepath.Join("..", "..", "testdata", "hdf5", "nc4_basic.nc")
	var out, errb bytes.Buffer
	require.Equal(t, 0, run([]string{"inspect", basic, "--chunks"}, &out, &errb), errb.String())
	var env struct {
		Success bool           `json:"success"`
		Result  map[string]any `json:"result"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &env))
	assert.True(t, env.Success)
	rep := env.Result
	assert.Equal(t, "hdf5", rep["format"])
	assert.Contains(t, rep, "datasets")
	assert.Contains(t, rep["variables"], "tas")

	// Warnings only fail the command when asked to.
	out.Reset()
	assert.Equal(t, 0, run([]string{"inspect", "--tiny-chunk-bytes", "1099511627776", basic}, &out, &errb))
	out.Reset()
	assert.Equal(t, 1, run([]string{"inspect", "--fail-on-warnings", "--tiny-chunk-bytes", "1099511627776", basic}, &out, &errb))

	// Filters without a Zarr codec are errors.
	out.Reset()
	assert.Equal(t, 1, run([]string{"inspect", filepath.Join("..", "..", "testdata", "hdf5", "h5_earliest_layouts.h5")}, &out, &errb))
	require.NoError(t, json.Unmarshal(out.Bytes(), &env))
	assert.Equal(t, "error", env.Result["status"])

	// With --chunks the listing is the answer: every dataset (szip and
	// scale-offset ones too) with the report's errors beside it, exit 0.
	out.Reset()
	assert.Equal(t, 0, run([]string{"inspect", "--chunks", filepath.Join("..", "..", "testdata", "hdf5", "h5_latest_layouts.h5")}, &out, &errb))
	var listingEnv struct {
		Result struct {
			Status   string                    `json:"status"`
			Errors   []map[string]string       `json:"errors"`
			Datasets map[string]map[string]any `json:"datasets"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &listingEnv))
	listing := listingEnv.Result
	assert.Equal(t, "error", listing.Status)
	assert.NotEmpty(t, listing.Errors)
	for _, name := range []string{"filters/szip", "filters/scaleoffset_float", "filters/gzip1"} {
		assert.NotEmpty(t, listing.Datasets[name]["chunk_list"], name)
	}

	// A truncated file gives the structured error.
	data, err := os.ReadFile(basic)
	require.NoError(t, err)
	cut := filepath.Join(t.TempDir(), "cut.nc")
	require.NoError(t, os.WriteFile(cut, data[:2000], 0o644))
	out.Reset()
	assert.Equal(t, 1, run([]string{"inspect", cut}, &out, &errb))
	var fail map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &fail))
	assert.Equal(t, false, fail["success"])
	assert.Equal(t, "truncated_file", fail["error_type"], fail["error"])

	// Sources are URLs: file:// works like a path; a missing object is a
	// clear not_found error.
	abs, err := filepath.Abs(basic)
	require.NoError(t, err)
	out.Reset()
	assert.Equal(t, 0, run([]string{"inspect", "file://" + abs}, &out, &errb), out.String())
	out.Reset()
	assert.Equal(t, 1, run([]string{"inspect", abs + ".missing"}, &out, &errb))
	require.NoError(t, json.Unmarshal(out.Bytes(), &fail))
	assert.Equal(t, "not_found", fail["error_type"], fail["error"])

	// Usage errors exit 2.
	assert.Equal(t, 2, run([]string{"inspect"}, &out, &errb))
}

// TestInspectChunksStreamedOutput: the streamed listing of "inspect
// --chunks" is byte for byte what encoding/json writes for the envelope of
// the report with its chunk lists held in memory (the output before they
// were streamed).
func TestInspectChunksStreamedOutput(t *testing.T) {
	for _, name := range []string{"nc4_basic.nc", "h5_latest_layouts.h5", "h5_big_btree_v1.h5.gz", "h5_big_extensible_array.h5.gz"} {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join("..", "..", "testdata", "hdf5", name)
			data := testenv.ReadFixture(t, src)
			path := filepath.Join(t.TempDir(), strings.TrimSuffix(name, ".gz"))
			require.NoError(t, os.WriteFile(path, data, 0o644))
			opts := validate.DefaultOptions()
			opts.Chunks = true
			rep, err := validate.Inspect(context.Background(), bytes.NewReader(data), int64(len(data)), path, opts)
			require.NoError(t, err)
			var want bytes.Buffer
			require.NoError(t, encodeJSON(&want, pipeline.OK(rep), false))

			var out, errb bytes.Buffer
			require.Equal(t, 0, run([]string{"inspect", "--chunks", path}, &out, &errb), errb.String())
			assert.Equal(t, want.String(), out.String())
		})
	}
}
