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
)

func TestPruneCommandUsage(t *testing.T) {
	t.Setenv("VZARR_CATALOG_DSN", "")
	for _, args := range [][]string{
		{"prune"},
		{"prune", "--catalog", "postgres://x"},
		{"prune", "--catalog", "postgres://x", "--dataset-id", "d"},
		{"prune", "--catalog", "postgres://x", "--dataset-id", "d", "--resource-id", "r", "--keep-last", "0"},
		{"prune", "--catalog", "postgres://x", "--dataset-id", "d", "--resource-id", "r", "--older-than", "-1h"},
		{"prune", "--catalog", "postgres://x", "--dataset-id", "d", "--resource-id", "r", "extra"},
		// A password on the command line is refused (ps shows it).
		{"prune", "--catalog", "postgres://u:pw@x/db", "--dataset-id", "d", "--resource-id", "r"},
		{"prune", "--catalog", "host=x password=pw", "--dataset-id", "d", "--resource-id", "r"},
		{"run", "testdata/sample", "--out", "/tmp/never-written", "--dataset-id", "d", "--resource-id", "r", "--catalog", "postgres://u:pw@x/db"},
	} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 2, run(args, &stdout, &stderr), strings.Join(args, " "))
		assert.Contains(t, stdout.String(), `"error_type": "usage_error"`, strings.Join(args, " "))
	}
}

// TestPruneCommand runs three releases of one asset with vzarr run
// --catalog: two into the same --out (the second replaces the first's set
// there) and one into another folder, then prunes.
func TestPruneCommand(t *testing.T) {
	pg := testenv.Postgres(t) // a migrated schema, dropped afterwards
	dsn := testenv.PostgresDSN(t)
	cat := []string{"--catalog", dsn, "--catalog-schema", pg.Schema()}
	src, _ := testenv.CopySample(t, filepath.Join("..", ".."))
	out1 := filepath.Join(t.TempDir(), "out1")
	out2 := filepath.Join(t.TempDir(), "out2")
	ids := []string{"--dataset-id", "d", "--resource-id", "r"}
	for _, a := range [][]string{
		{src, "--out", out1},
		{src, "--out", out1, "--overwrite"},
	} {
		code, res := runCLI(t, append(append(a, ids...), cat...)...)
		require.Equal(t, 0, code, res)
	}
	h1 := dirHashes(t, out1)
	require.Len(t, h1, 8)

	prune := func(extra ...string) map[string]any {
		var stdout, stderr bytes.Buffer
		code := run(append(append([]string{"prune"}, append(ids, cat...)...), extra...), &stdout, &stderr)
		require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
		var res map[string]any
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &res))
		return res["result"].(map[string]any)
	}
	// v1 is superseded, but its objects are v2's now (same folder): the
	// release is marked pruned and nothing is deleted.
	res := prune()
	require.Len(t, res["pruned"], 1)
	p := res["pruned"].([]any)[0].(map[string]any)
	assert.EqualValues(t, 1, p["version"])
	assert.Equal(t, "superseded", p["reason"])
	assert.EqualValues(t, 0, p["objects"])
	assert.Equal(t, h1, dirHashes(t, out1), "v2's set is untouched")

	// v3 in another folder supersedes v2: v2's references go.
	code, r3 := runCLI(t, append(append([]string{src, "--out", out2, "--overwrite"}, ids...), cat...)...)
	require.Equal(t, 0, code, r3)
	h2 := dirHashes(t, out2)
	dry := prune("--dry-run")
	require.Len(t, dry["pruned"], 1)
	assert.Equal(t, h1, dirHashes(t, out1), "a dry run deletes nothing")
	res = prune()
	require.Len(t, res["pruned"], 1)
	p = res["pruned"].([]any)[0].(map[string]any)
	assert.EqualValues(t, 2, p["version"])
	assert.EqualValues(t, 7, p["objects"], "6 references and combined.json")
	left, err := os.ReadDir(out1)
	require.NoError(t, err)
	require.Len(t, left, 1)
	assert.Equal(t, "stac-item.json", left[0].Name(), "only the CLI's own copy of the item stays")
	assert.Equal(t, h2, dirHashes(t, out2), "the newest release is untouched")
	a, err := pg.FindAsset(context.Background(), "d", "r")
	require.NoError(t, err)
	rels, err := pg.ListReleases(context.Background(), a.ID)
	require.NoError(t, err)
	require.Len(t, rels, 3)
	assert.NotNil(t, rels[0].PrunedAt)
	assert.NotNil(t, rels[1].PrunedAt)
	assert.Empty(t, rels[1].BlobPath)
	assert.Nil(t, rels[2].PrunedAt)
	assert.Equal(t, filepath.Join(out2, "combined.json"), rels[2].BlobPath)
}
