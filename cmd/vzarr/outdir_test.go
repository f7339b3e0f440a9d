package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/internal/testenv"
)

// dirHashes maps the files under dir to their SHA-256.
func dirHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = hex.EncodeToString(h[:])
		return nil
	}))
	return out
}

// siblings lists the names next to dir other than dir itself (staging
// or set-aside folders left behind would show here).
func siblings(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Dir(dir))
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		if e.Name() != filepath.Base(dir) {
			out = append(out, e.Name())
		}
	}
	return out
}

func runCLI(t *testing.T, args ...string) (int, map[string]any) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"run"}, args...), &stdout, &stderr)
	var res map[string]any
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res), "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
	return code, res
}

func TestRunOutReplace(t *testing.T) {
	src, _ := testenv.CopySample(t, filepath.Join("..", ".."))
	out := filepath.Join(t.TempDir(), "out")
	ids := []string{"--dataset-id", "d", "--resource-id", "r", "--out", out}
	code, res := runCLI(t, append([]string{src}, ids...)...)
	require.Equal(t, 0, code, res)
	first := dirHashes(t, out)
	require.Len(t, first, 8, "6 references, combined.json, stac-item.json")

	// The source loses a file and gains an incompatible one.
	require.NoError(t, os.Remove(filepath.Join(src, "tas_2020.nc")))
	bad, err := os.ReadFile(filepath.Join("..", "..", "testdata", "hdf5", "nc4_basic.nc"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(src, "tas_1870.nc"), bad, 0o644))

	t.Run("another run is refused without --overwrite", func(t *testing.T) {
		code, res := runCLI(t, append([]string{src}, ids...)...)
		assert.Equal(t, 1, code)
		assert.Equal(t, "output_exists", res["error_type"])
		assert.Contains(t, res["error"], out)
		assert.Equal(t, first, dirHashes(t, out))
		assert.Empty(t, siblings(t, out))
	})
	t.Run("a failed --overwrite leaves the folder as it was", func(t *testing.T) {
		code, res := runCLI(t, append([]string{src, "--overwrite"}, ids...)...)
		assert.Equal(t, 1, code)
		assert.Equal(t, "incompatible_inputs", res["error_type"], res)
		assert.Equal(t, first, dirHashes(t, out))
		assert.Empty(t, siblings(t, out), "no staging folder left")
	})
	t.Run("--overwrite replaces the whole set", func(t *testing.T) {
		require.NoError(t, os.Remove(filepath.Join(src, "tas_1870.nc")))
		code, res := runCLI(t, append([]string{src, "--overwrite"}, ids...)...)
		require.Equal(t, 0, code, res)
		r := res["result"].(map[string]any)
		combined := filepath.Join(out, "combined.json")
		assert.Equal(t, combined, r["combined_ref_url"])
		assert.Equal(t, combined, r["blob_path"], "the Release names the published folder, not the staging one")
		got := dirHashes(t, out)
		names := make([]string, 0, len(got))
		for k := range got {
			names = append(names, k)
		}
		sort.Strings(names)
		assert.Equal(t, []string{"combined.json", "stac-item.json", "tas_2015.json", "tas_2016.json", "tas_2017.json",
			"tas_2018.json", "tas_2019.json"}, names, "the stale tas_2020.json is gone")
		assert.NotEqual(t, first["combined.json"], got["combined.json"])
		assert.Empty(t, siblings(t, out))
		item, err := os.ReadFile(filepath.Join(out, "stac-item.json"))
		require.NoError(t, err)
		assert.Contains(t, string(item), `"`+combined+`"`)
		assert.NotContains(t, string(item), "vzarr-staging")
	})
	t.Run("--overwrite refuses a folder with other files", func(t *testing.T) {
		require.NoError(t, os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644))
		before := dirHashes(t, out)
		code, res := runCLI(t, append([]string{src, "--overwrite"}, ids...)...)
		assert.Equal(t, 1, code)
		assert.Equal(t, "output_exists", res["error_type"])
		assert.Contains(t, res["error"], "notes.txt")
		assert.Equal(t, before, dirHashes(t, out))
	})
}

func TestSwapOutBlob(t *testing.T) {
	backends := map[string]func(t *testing.T) (*blobio.Opener, string){
		"mem": func(*testing.T) (*blobio.Opener, string) {
			o := &blobio.Opener{Mem: &blobio.MemBuckets{}}
			o.Mem.Create("c").Close()
			return o, "mem://c"
		},
		"azurite": func(t *testing.T) (*blobio.Opener, string) {
			o, container := testenv.Azurite(t)
			return o, "abfs://" + container
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			o, root := open(t)
			b, _, err := o.Open(ctx, root+"/")
			require.NoError(t, err)
			defer b.Close()
			put := func(key, v string) { require.NoError(t, b.WriteAll(ctx, key, []byte(v), nil)) }
			put("refs/x/a.json", "old a")
			put("refs/x/stale.json", "old stale")
			put("refs/x/combined.json", "old combined")
			put("refs/x.vzarr-staging-1/a.json", "new a")
			put("refs/x.vzarr-staging-1/sub/b.json", "new b")
			put("refs/x.vzarr-staging-1/combined.json", "new combined")
			put("refs/xy/keep.json", "a neighbour")
			require.NoError(t, swapOut(ctx, o, root+"/refs/x.vzarr-staging-1", root+"/refs/x", "1"))
			got := map[string]string{}
			res, err := o.Scan(ctx, root+"/refs", blobio.ScanOptions{Pattern: "*", Recursive: true})
			require.NoError(t, err)
			for _, u := range res.NCFiles {
				key := strings.TrimPrefix(u, root+"/")
				v, err := b.ReadAll(ctx, key)
				require.NoError(t, err)
				got[key] = string(v)
			}
			assert.Equal(t, map[string]string{"refs/x/a.json": "new a", "refs/x/sub/b.json": "new b",
				"refs/x/combined.json": "new combined", "refs/xy/keep.json": "a neighbour"}, got)
		})
	}
}

func TestIsSetMember(t *testing.T) {
	for name, want := range map[string]bool{"a.json": true, "combined.json": true, ".a.json.tmp-123": true,
		"notes.txt": false, "a.nc": false, ".hidden": false} {
		assert.Equal(t, want, isSetMember(name), name)
	}
}

// TestRunOutReplaceBlob: vzarr run --out on a blob prefix (Azurite).
func TestRunOutReplaceBlob(t *testing.T) {
	o, container := testenv.Azurite(t)
	ctx := context.Background()
	src, _ := testenv.CopySample(t, filepath.Join("..", ".."))
	out := "abfs://" + container + "/out"
	ids := []string{"--dataset-id", "d", "--resource-id", "r", "--out", out}
	code, res := runCLI(t, append([]string{src}, ids...)...)
	require.Equal(t, 0, code, res)
	list := func() []string {
		r, err := o.Scan(ctx, "abfs://"+container+"/", blobio.ScanOptions{Pattern: "*", Recursive: true})
		require.NoError(t, err)
		return r.NCFiles
	}
	require.Len(t, list(), 8)

	code, res = runCLI(t, append([]string{src}, ids...)...)
	assert.Equal(t, 1, code)
	assert.Equal(t, "output_exists", res["error_type"])

	require.NoError(t, os.Remove(filepath.Join(src, "tas_2020.nc")))
	code, res = runCLI(t, append([]string{src, "--overwrite"}, ids...)...)
	require.Equal(t, 0, code, res)
	assert.Equal(t, "out/combined.json", res["result"].(map[string]any)["blob_path"])
	got := list()
	assert.Len(t, got, 7, "5 references, combined.json, stac-item.json: no stale reference, no staging object: %v", got)
	assert.NotContains(t, got, out+"/tas_2020.json")
}
