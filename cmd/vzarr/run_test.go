package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
)

func TestRunCommand(t *testing.T) {
	src, _ := testenv.CopySample(t, filepath.Join("..", ".."))
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", src, "--concat-dim", "time", "--dataset-id", "sample-tas", "--resource-id", "monthly",
		"--out", out, "--progress", "always"}, &stdout, &stderr)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout.String(), stderr.String())

	var res struct {
		Success bool `json:"success"`
		Result  struct {
			JobID          string `json:"job_id"`
			Status         string `json:"status"`
			FileCount      int    `json:"file_count"`
			CombinedRefURL string `json:"combined_ref_url"`
			StacItemURL    string `json:"stac_item_url"`
			BlobPath       string `json:"blob_path"`
			Stages         []struct {
				Name  string `json:"name"`
				Tasks int    `json:"tasks"`
			} `json:"stages"`
			StorageRequests int64 `json:"storage_requests"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res), stdout.String())
	assert.True(t, res.Success)
	assert.Equal(t, "completed", res.Result.Status)
	assert.Equal(t, 6, res.Result.FileCount)
	assert.Equal(t, filepath.Join(out, "combined.json"), res.Result.CombinedRefURL)
	assert.Equal(t, res.Result.CombinedRefURL, res.Result.BlobPath)
	require.Len(t, res.Result.Stages, 5)
	assert.Equal(t, 6, res.Result.Stages[2].Tasks)
	assert.Positive(t, res.Result.StorageRequests)

	names, err := filepath.Glob(filepath.Join(out, "*.json"))
	require.NoError(t, err)
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	assert.ElementsMatch(t, []string{"tas_2015.json", "tas_2016.json", "tas_2017.json", "tas_2018.json", "tas_2019.json",
		"tas_2020.json", "combined.json", "stac-item.json"}, names)
	var item map[string]any
	b, err := os.ReadFile(res.Result.StacItemURL)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &item))
	assert.Equal(t, "sample-tas-monthly", item["id"])

	// Progress lines and the summary went to stderr.
	e := stderr.String()
	assert.Contains(t, e, "validate  6/6 files")
	assert.Contains(t, e, "ref       6/6 files")
	assert.Contains(t, e, "done: 6 files")
}

func TestRunCommandFailure(t *testing.T) {
	src, _ := testenv.CopySample(t, filepath.Join("..", ".."))
	bad := filepath.Join(src, "tas_2018.nc")
	b, err := os.ReadFile(bad)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bad, b[:1000], 0o644))
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", src, "--dataset-id", "d", "--resource-id", "r", "--out", out}, &stdout, &stderr)
	require.Equal(t, 1, code, stdout.String())
	var res map[string]any
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res))
	assert.Equal(t, false, res["success"])
	assert.Equal(t, "truncated_file", res["error_type"])
	assert.Contains(t, res["error"], bad)
	assert.Empty(t, stderr.String(), "no progress when stderr is not a terminal")
	_, err = os.Stat(out)
	assert.True(t, os.IsNotExist(err), "nothing written")
}

func TestRunCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{"run"},
		{"run", "src"},
		{"run", "src", "--out", "o"},
		{"run", "src", "--out", "o", "--dataset-id", "d"},
		{"run", "a", "b", "--out", "o", "--dataset-id", "d", "--resource-id", "r"},
		{"run", "src", "--out", "o", "--dataset-id", "d", "--resource-id", "r", "--progress", "sometimes"},
		{"run", "src", "--out", "o", "--dataset-id", "bad/id", "--resource-id", "r"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		assert.Equal(t, 2, code, strings.Join(args, " "))
		assert.Contains(t, stdout.String(), `"error_type": "usage_error"`, strings.Join(args, " "))
	}
}
