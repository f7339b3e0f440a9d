package main

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/greensight/vzarr/icechunk"
	"github.com/greensight/vzarr/pipeline"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fixture(t *testing.T, rel string) string {
	p, err := filepath.Abs(filepath.Join("../../testdata", rel))
	require.NoError(t, err)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("fixture %s missing", rel)
	}
	return p
}

func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRefWritesContract4Result(t *testing.T) {
	src := fixture(t, "hdf5/nc4_basic.nc")
	out := filepath.Join(t.TempDir(), "sub", "basic.json")
	code, stdout, stderr := runCmd("ref", src, "-o", out, "--inline-threshold", "100")
	require.Equal(t, 0, code, stdout+stderr)
	var res struct {
		Success bool `json:"success"`
		Result  struct {
			NCURL      string            `json:"nc_url"`
			RefURL     string            `json:"ref_url"`
			Dimensions map[string]uint64 `json:"dimensions"`
			Variables  map[string]struct {
				Shape []uint64 `json:"shape"`
				Dims  []string `json:"dims"`
				Dtype string   `json:"dtype"`
			} `json:"variables"`
			RefSizeBytes int64 `json:"ref_size_bytes"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	assert.True(t, res.Success)
	assert.Equal(t, src, res.Result.NCURL)
	assert.Equal(t, out, res.Result.RefURL)
	assert.Equal(t, uint64(12), res.Result.Dimensions["time"])
	assert.Equal(t, []string{"time", "lat", "lon"}, res.Result.Variables["tas"].Dims)
	assert.Equal(t, "float32", res.Result.Variables["tas"].Dtype)
	st, err := os.Stat(out)
	require.NoError(t, err)
	assert.Equal(t, st.Size(), res.Result.RefSizeBytes)
	data, _ := os.ReadFile(out)
	assert.Contains(t, string(data), `"templates":{"u":"`+src+`"}`)

	// verify reads the chunks back and compares with the source.
	code, stdout, _ = runCmd("verify", out, "--sample", "0")
	require.Equal(t, 0, code, stdout)
	assert.Contains(t, stdout, `"ok": true`)
}

func TestRefOutDirManyInParallel(t *testing.T) {
	a := fixture(t, "hdf5/nc4_basic.nc")
	b := fixture(t, "netcdf3/classic.nc")
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.nc")
	code, stdout, _ := runCmd("ref", "--out-dir", dir, a, b, missing)
	assert.Equal(t, 1, code) // one source failed
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 3)
	for i, want := range []string{a, b, missing} {
		var r map[string]any
		require.NoError(t, json.Unmarshal([]byte(lines[i]), &r), lines[i])
		if i < 2 {
			assert.Equal(t, true, r["success"])
			res := r["result"].(map[string]any)
			assert.Equal(t, want, res["nc_url"])
			_, err := os.Stat(filepath.Join(dir, filepath.Base(want)+".json"))
			assert.NoError(t, err)
		} else {
			assert.Equal(t, false, r["success"])
			assert.Equal(t, want, r["nc_url"])
		}
	}
	// netCDF-3 references hold everything inline for tiny files: verify
	// needs the source then.
	code, stdout, _ = runCmd("verify", filepath.Join(dir, "classic.nc.json"), "--source", b)
	assert.Equal(t, 0, code, stdout)
}

// TestRefBadInputLeavesNoOutput: truncated and corrupt files give a clear
// error, and an existing output is replaced only by a complete one.
func TestRefBadInputLeavesNoOutput(t *testing.T) {
	src := fixture(t, "hdf5/nc4_basic.nc")
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json")
	require.NoError(t, os.WriteFile(out, []byte("previous"), 0o644))

	cases := map[string][]byte{
		"truncated_header.nc": data[:100],
		"truncated_data.nc":   data[:len(data)-5000],
		"not_netcdf.nc":       []byte("hello, world: not a netCDF file at all"),
		"empty.nc":            {},
	}
	corrupt := append([]byte(nil), data...)
	for i := 48; i < 4096 && i < len(corrupt); i += 7 {
		corrupt[i] ^= 0x5a
	}
	cases["corrupt.nc"] = corrupt
	for name, b := range cases {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		code, stdout, _ := runCmd("ref", p, "-o", out)
		assert.Equal(t, 1, code, name)
		var f pipeline.Envelope
		require.NoError(t, json.Unmarshal([]byte(stdout), &f), name)
		assert.False(t, f.Success)
		assert.NotEmpty(t, f.Error, name)
		assert.NotEqual(t, "", f.ErrorType, name)
		got, _ := os.ReadFile(out)
		assert.Equal(t, "previous", string(got), "%s: the previous output must survive", name)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		assert.False(t, strings.Contains(e.Name(), ".tmp"), "temporary file left behind: %s", e.Name())
	}
}

func TestRefUsage(t *testing.T) {
	code, _, _ := runCmd("ref")
	assert.Equal(t, 2, code)
	code, stdout, _ := runCmd("ref", "a.nc", "-o", "b.json", "--format", "xml")
	assert.Equal(t, 2, code)
	assert.Contains(t, stdout, "usage_error")
}

func TestRefParquetDirectory(t *testing.T) {
	src := fixture(t, "hdf5/nc4_groups.nc")
	out := filepath.Join(t.TempDir(), "groups.parquet")
	for i := 0; i < 2; i++ { // the second run replaces the first set
		code, stdout, _ := runCmd("ref", src, "-o", out, "--format", "parquet")
		require.Equal(t, 0, code, stdout)
	}
	_, err := os.Stat(filepath.Join(out, ".zmetadata"))
	require.NoError(t, err)
	entries, _ := os.ReadDir(filepath.Dir(out))
	assert.Len(t, entries, 1, "no temporary directory left behind")
	code, stdout, _ := runCmd("verify", out, "--source", src, "--sample", "0")
	assert.Equal(t, 0, code, stdout)
	assert.Contains(t, stdout, `"ok": true`)
}

// TestRefIcechunk: --format icechunk writes a new repository with one commit
// on main (the --message), whose snapshot the result names; a second run into
// the same repository fails instead of replacing it.
func TestRefIcechunk(t *testing.T) {
	src := fixture(t, "hdf5/nc4_basic.nc")
	out := filepath.Join(t.TempDir(), "repo")
	code, stdout, stderr := runCmd("ref", src, "-o", out, "--format", "icechunk", "--message", "basic v1")
	require.Equal(t, 0, code, stdout+stderr)
	var res struct {
		Success bool `json:"success"`
		Result  struct {
			RefURL       string `json:"ref_url"`
			SnapshotID   string `json:"snapshot_id"`
			RefSizeBytes int64  `json:"ref_size_bytes"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	assert.True(t, res.Success)
	assert.Positive(t, res.Result.RefSizeBytes)

	ctx := context.Background()
	repo, err := icechunk.Open(ctx, icechunk.DirStorage{Root: out})
	require.NoError(t, err)
	head, err := repo.Ref("main")
	require.NoError(t, err)
	assert.Equal(t, head.String(), res.Result.SnapshotID)
	snap, err := repo.Snapshot(ctx, head)
	require.NoError(t, err)
	assert.Equal(t, "basic v1", snap.Message)
	tas, ok := snap.Node("/tas")
	require.True(t, ok)
	assert.Equal(t, []string{"time", "lat", "lon"}, tas.Array.DimensionNames)
	refs, err := repo.ArrayRefs(ctx, tas)
	require.NoError(t, err)
	require.NotEmpty(t, refs)
	virtual := 0
	for _, r := range refs {
		if r.Location != "" {
			virtual++
			assert.Equal(t, "file://"+src, r.Location)
		}
	}
	assert.Positive(t, virtual, "tas is referenced, not copied")
	assert.NotEmpty(t, repo.Info().Config, "the virtual chunk container is declared")

	code, stdout, _ = runCmd("ref", src, "-o", out, "--format", "icechunk")
	assert.Equal(t, 1, code, stdout)
	assert.Contains(t, stdout, `"success": false`)
}

// TestRefConcurrencyFlags: -j and --memory-budget default to vzarr run's
// values for the sources' kind, take explicit values, and refuse a bad
// budget as a usage error.
func TestRefConcurrencyFlags(t *testing.T) {
	srcs := []string{fixture(t, "hdf5/nc4_basic.nc"), fixture(t, "hdf5/nc4_classic.nc")}
	for _, tc := range []struct {
		name  string
		flags []string
		code  int
	}{
		{"defaults", nil, 0},
		{"explicit", []string{"-j", "1", "--memory-budget", "64MiB"}, 0},
		{"no budget", []string{"--memory-budget", "0"}, 0},
		{"bad budget", []string{"--memory-budget", "lots"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append(append([]string{"ref"}, tc.flags...), append([]string{"-o", dir + "/"}, srcs...)...)
			code, stdout, _ := runCmd(args...)
			require.Equal(t, tc.code, code, stdout)
			if tc.code != 0 {
				assert.Contains(t, stdout, pipeline.ErrTypeUsage)
				return
			}
			for _, s := range srcs {
				_, err := os.Stat(filepath.Join(dir, filepath.Base(s)+".json"))
				assert.NoError(t, err, s)
			}
		})
	}
}
