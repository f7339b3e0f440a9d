package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStacCommand(t *testing.T) {
	ref := filepath.Join("..", "..", "testdata", "stac", "global_monthly.json")
	out := filepath.Join(t.TempDir(), "item.json")
	var stdout, stderr bytes.Buffer
	code := run([]string{"stac", "--combined", ref, "--dataset-id", "cmip6-tas", "--resource-id", "monthly",
		"--collection", "cmip6", "--href", "abfs://refs/cmip6/tas.json", "--account", "climatedata",
		"--created", "2025-01-02T03:04:05Z", "-o", out}, &stdout, &stderr)
	require.Equal(t, 0, code, "stdout %s stderr %s", stdout.String(), stderr.String())
	var sum map[string]any
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &sum))
	assert.Equal(t, map[string]any{"success": true, "result": map[string]any{"item_id": "cmip6-tas-monthly", "output": out}}, sum)

	b, err := os.ReadFile(out)
	require.NoError(t, err)
	var item map[string]any
	require.NoError(t, json.Unmarshal(b, &item))
	assert.Equal(t, "cmip6-tas-monthly", item["id"])
	assert.Equal(t, "cmip6", item["collection"])
	assert.Equal(t, []any{-180.0, -89.5, 180.0, 89.5}, item["bbox"])
	p := item["properties"].(map[string]any)
	assert.Equal(t, "2025-01-02T03:04:05Z", p["created"])
	assert.Equal(t, "2000-01-01T00:00:00Z", p["start_datetime"])
	a := item["assets"].(map[string]any)["references"].(map[string]any)
	assert.Equal(t, "abfs://refs/cmip6/tas.json", a["href"])

	// To standard output, https hrefs, the reference file as an argument.
	stdout.Reset()
	code = run([]string{"stac", ref, "--dataset-id", "d", "--href", "abfs://refs/x.json", "--account", "acct",
		"--href-style", "https"}, &stdout, &stderr)
	require.Equal(t, 0, code, stdout.String())
	var env struct {
		Result struct {
			ItemID string         `json:"item_id"`
			Item   map[string]any `json:"item"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &env))
	item = env.Result.Item
	assert.Equal(t, "d", env.Result.ItemID)
	assert.Equal(t, "https://acct.blob.core.windows.net/refs/x.json", item["assets"].(map[string]any)["references"].(map[string]any)["href"])
}

func TestStacCommandErrors(t *testing.T) {
	ref := filepath.Join("..", "..", "testdata", "stac", "global_monthly.json")
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		wantType string
	}{
		{"no reference file", []string{"stac", "--dataset-id", "d"}, 2, "usage_error"},
		{"no dataset id", []string{"stac", "--combined", ref}, 2, "usage_error"},
		{"bad href style", []string{"stac", "--combined", ref, "--dataset-id", "d", "--href-style", "s3"}, 2, "usage_error"},
		{"bad created", []string{"stac", "--combined", ref, "--dataset-id", "d", "--created", "now"}, 2, "usage_error"},
		{"missing file", []string{"stac", "--combined", ref + ".missing", "--dataset-id", "d"}, 1, "not_found"},
		{"not references", []string{"stac", "--combined", filepath.Join("..", "..", "testdata", "hdf5", "nc4_basic.nc"), "--dataset-id", "d"}, 1, "invalid_references"},
		{"azure href without account", []string{"stac", "--combined", ref, "--dataset-id", "d", "--href", "abfs://refs/x.json"}, 1, "invalid_metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AZURE_STORAGE_ACCOUNT_NAME", "")
			t.Setenv("AZURE_STORAGE_ACCOUNT", "")
			var stdout, stderr bytes.Buffer
			assert.Equal(t, tc.code, run(tc.args, &stdout, &stderr), stdout.String())
			var f map[string]any
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &f), stdout.String())
			assert.Equal(t, false, f["success"])
			assert.Equal(t, tc.wantType, f["error_type"], f["error"])
		})
	}
}
