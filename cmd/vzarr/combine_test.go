package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/kerchunk"
)

func seriesFiles(t *testing.T, name string, files ...string) []string {
	t.Helper()
	var out []string
	for _, f := range files {
		p := filepath.Join("..", "..", "testdata", "series", name, f)
		_, err := os.Stat(p)
		require.NoError(t, err)
		out = append(out, p)
	}
	return out
}

func TestCombineCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "sub", "daily.json")
	files := seriesFiles(t, "per_file_units", "a.nc", "b.nc", "c.nc")

	// Source files, referenced on the fly; flags after the inputs work.
	var stdout, stderr bytes.Buffer
	args := append([]string{"combine", "--concat-dim", "time"}, files...)
	args = append(args, "-o", out, "--identical", "lat,lon")
	require.Equal(t, 0, run(args, &stdout, &stderr), "%s\n%s", stdout.String(), stderr.String())
	var res struct {
		Success bool `json:"success"`
		Result  struct {
			DatasetID      string                     `json:"dataset_id"`
			CombinedRefURL string                     `json:"combined_ref_url"`
			SourceFiles    []string                   `json:"source_files"`
			Dimensions     map[string]int             `json:"dimensions"`
			Variables      map[string]json.RawMessage `json:"variables"`
			TimeRange      []string                   `json:"time_range"`
			SpatialExtent  []float64                  `json:"spatial_extent"`
			RefSizeBytes   int64                      `json:"ref_size_bytes"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res), stdout.String())
	r := res.Result
	assert.True(t, res.Success)
	assert.Equal(t, "daily", r.DatasetID)
	abs, _ := filepath.Abs(out)
	assert.Equal(t, abs, r.CombinedRefURL)
	require.Len(t, r.SourceFiles, 3)
	assert.True(t, filepath.IsAbs(r.SourceFiles[0]))
	assert.Equal(t, 30, r.Dimensions["time"])
	assert.Contains(t, r.Variables, "tas")
	assert.Contains(t, r.Variables, "forecast_issue")
	assert.NotContains(t, r.Variables, "time_bnds")
	assert.Equal(t, []string{"2000-01-01T00:00:00Z", "2000-01-30T00:00:00Z"}, r.TimeRange)
	assert.Equal(t, []float64{-180, -45, 180, 45}, r.SpatialExtent)
	st, err := os.Stat(out)
	require.NoError(t, err)
	assert.Equal(t, st.Size(), r.RefSizeBytes)

	// Reference files as inputs, and a dataset id.
	var refFiles []string
	for i, f := range files {
		stdout.Reset()
		p := filepath.Join(dir, filepath.Base(f)+".json")
		require.Equal(t, 0, run([]string{"ref", f, "-o", p}, &stdout, &stderr), "%d %s", i, stdout.String())
		refFiles = append(refFiles, p)
	}
	out2 := filepath.Join(dir, "from_refs.json")
	stdout.Reset()
	require.Equal(t, 0, run(append([]string{"combine", "-o", out2, "--dataset-id", "ds1"}, refFiles...), &stdout, &stderr), stdout.String())
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res))
	assert.Equal(t, "ds1", res.Result.DatasetID)
	assert.Equal(t, 30, res.Result.Dimensions["time"])
	a, err := os.ReadFile(out)
	require.NoError(t, err)
	b, err := os.ReadFile(out2)
	require.NoError(t, err)
	ra, err := kerchunk.ReadJSON(bytes.NewReader(a))
	require.NoError(t, err)
	rb, err := kerchunk.ReadJSON(bytes.NewReader(b))
	require.NoError(t, err)
	assert.Equal(t, ra.Keys(), rb.Keys(), "the same references from source files and from reference files")

	// Parquet output: a directory of reference files.
	pq := filepath.Join(dir, "daily.parquet")
	stdout.Reset()
	require.Equal(t, 0, run(append([]string{"combine", "-o", pq, "--format", "parquet"}, files...), &stdout, &stderr), stdout.String())
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res))
	assert.Positive(t, res.Result.RefSizeBytes)
	_, err = os.Stat(filepath.Join(pq, ".zmetadata"))
	assert.NoError(t, err)
	got, err := kerchunk.ReadParquetSet(func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(pq, name)) })
	require.NoError(t, err)
	n := 0
	got.All(func(k string, _ kerchunk.Ref) bool {
		_, ok := ra.Get(k)
		assert.True(t, ok, k)
		n++
		return true
	})
	assert.Equal(t, ra.Len(), n)

	// Incompatible inputs: exit 1, the structured error.
	stdout.Reset()
	bad := seriesFiles(t, "uneven_middle", "a.nc", "b.nc", "c.nc")
	assert.Equal(t, 1, run(append([]string{"combine", "-o", filepath.Join(dir, "x.json")}, bad...), &stdout, &stderr))
	var fail map[string]any
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &fail))
	assert.Equal(t, false, fail["success"])
	assert.Equal(t, "incompatible_inputs", fail["error_type"])
	assert.Contains(t, fail["error"], "b.nc")
	_, err = os.Stat(filepath.Join(dir, "x.json"))
	assert.True(t, os.IsNotExist(err), "nothing written on failure")

	// A missing input.
	stdout.Reset()
	assert.Equal(t, 1, run([]string{"combine", "-o", filepath.Join(dir, "y.json"), filepath.Join(dir, "nope.nc")}, &stdout, &stderr))
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &fail))
	assert.Equal(t, "not_found", fail["error_type"], fail["error"])

	// Usage errors exit 2.
	stdout.Reset()
	assert.Equal(t, 2, run([]string{"combine", files[0]}, &stdout, &stderr))
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &fail))
	assert.Equal(t, "usage_error", fail["error_type"])
	assert.Equal(t, 2, run([]string{"combine", "-o", out}, &stdout, &stderr))
	assert.Equal(t, 0, run([]string{"combine", "-h"}, &stdout, &stderr))
}
