package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// References written as a Parquet set are read by every command that
// reads references (they once failed in combine and stac with not_found).
func TestParquetRefsEverywhere(t *testing.T) {
	dir := t.TempDir()
	cli := func(args ...string) (int, map[string]any) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		var res map[string]any
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &res), "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
		return code, res
	}
	var sets []string
	for _, y := range []string{"2015", "2016"} {
		set := filepath.Join(dir, "tas_"+y+".parq")
		code, res := cli("ref", filepath.Join("..", "..", "testdata", "sample", "tas_"+y+".nc"), "-o", set, "--format", "parquet")
		require.Equal(t, 0, code, res)
		sets = append(sets, set)
	}
	combined := filepath.Join(dir, "combined.json")
	code, res := cli(append([]string{"combine", "--concat-dim", "time", "-o", combined}, sets...)...)
	require.Equal(t, 0, code, res)
	assert.Len(t, res["result"].(map[string]any)["source_files"], 2)

	code, res = cli("stac", "--combined", sets[0], "--dataset-id", "d", "-o", filepath.Join(dir, "item.json"))
	assert.Equal(t, 0, code, res)
	code, res = cli("verify", sets[1])
	assert.Equal(t, 0, code, res)

	code, res = cli("combine", "--concat-dim", "time", "-o", filepath.Join(dir, "x.json"), filepath.Join(dir, "missing.parq"))
	assert.NotEqual(t, 0, code)
	assert.Equal(t, "not_found", res["error_type"], "a URL that is neither a file nor a set stays not_found")
}
