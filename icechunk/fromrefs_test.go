package icechunk

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/zarr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFromRefs: groups, arrays (dimension names, attributes without
// _ARRAY_DIMENSIONS, default chunk keys), inline and virtual chunks (whole-object
// refs sized, local paths as file:// URLs, last-modified checksums) and the
// containers, read back through our reader.
func TestFromRefs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.bin")
	require.NoError(t, os.WriteFile(src, []byte("0123456789"), 0o644))
	fi, err := os.Stat(src)
	require.NoError(t, err)

	refs := kerchunk.NewRefs(0)
	refs.SetText(".zgroup", `{"zarr_format":2}`)
	refs.SetText(".zattrs", `{"title":"t","missing":NaN}`)
	refs.SetText("g/.zgroup", `{"zarr_format":2}`)
	refs.SetText("g/v/.zarray", `{"zarr_format":2,"shape":[4,3],"chunks":[2,3],"dtype":"<i2","fill_value":-1,"order":"C","compressor":null,"filters":null}`)
	refs.SetText("g/v/.zattrs", `{"_ARRAY_DIMENSIONS":["y","x"],"units":"m"}`)
	refs.Set("g/v/0.0", kerchunk.Range(src, 2, 12))
	refs.Set("g/v/1.0", kerchunk.Inline([]byte("abcdefghijkl")))
	refs.SetText("s/.zarray", `{"zarr_format":2,"shape":[],"chunks":[],"dtype":"<f8","fill_value":null,"order":"C","compressor":null,"filters":null}`)
	refs.Set("s/0", kerchunk.Whole("file://"+src))
	refs.SetText("f/.zarray", `{"zarr_format":2,"shape":[1],"chunks":[1],"dtype":"<f4","fill_value":"NaN","order":"C","compressor":null,"filters":null}`)
	refs.SetText("f/.zattrs", `{"_FillValue":"stale"}`)
	refs.SetText(".zmetadata", `{"metadata":{},"zarr_consolidated_format":1}`)

	containers, err := RefsContainers(refs)
	require.NoError(t, err)
	assert.Equal(t, []VirtualChunkContainer{{URLPrefix: "file://" + dir + "/", Store: StoreLocalFilesystem}}, containers)

	repo, id := commitRefs(t, filepath.Join(dir, "repo"), RepoConfig{VirtualChunkContainers: containers}, refs)
	snap, err := repo.Snapshot(ctx, id)
	require.NoError(t, err)

	var paths []string
	for _, n := range snap.Nodes {
		paths = append(paths, n.Path)
	}
	assert.ElementsMatch(t, []string{"/", "/g", "/g/v", "/s", "/f"}, paths)
	for path, want := range map[string]string{"/s": `"attributes":{}`, "/f": `"attributes":{"_FillValue":"AAAAAAAA+H8="}`} {
		n, ok := snap.Node(path)
		require.True(t, ok, path)
		assert.Contains(t, string(n.UserData), want, path)
	}
	root, _ := snap.Node("/")
	assert.True(t, root.IsGroup())
	assert.Contains(t, string(root.UserData), `"attributes":{"title":"t","missing":NaN}`)
	v, ok := snap.Node("/g/v")
	require.True(t, ok)
	require.NotNil(t, v.Array)
	assert.Equal(t, []DimShape{{Length: 4, NumChunks: 2}, {Length: 3, NumChunks: 1}}, v.Array.Shape)
	assert.Equal(t, []string{"y", "x"}, v.Array.DimensionNames)
	var meta map[string]any
	require.NoError(t, json.Unmarshal(v.UserData, &meta))
	assert.Equal(t, map[string]any{"units": "m", "_FillValue": -1.0}, meta["attributes"], "fill_value also as xarray's v3 _FillValue")
	assert.Equal(t, []any{"y", "x"}, meta["dimension_names"])
	assert.Equal(t, map[string]any{"name": "default"}, meta["chunk_key_encoding"])
	assert.EqualValues(t, -1, meta["fill_value"])

	c, err := repo.ResolveChunk(ctx, snap, "g/v/c/0/0")
	require.NoError(t, err)
	assert.Equal(t, ChunkRef{Index: []uint32{0, 0}, Location: "file://" + src, Offset: 2, Length: 12,
		ChecksumLastModified: LastModifiedChecksum(fi.ModTime())}, c)
	c, err = repo.ResolveChunk(ctx, snap, "g/v/c/1/0")
	require.NoError(t, err)
	assert.Equal(t, []byte("abcdefghijkl"), c.Inline)
	c, err = repo.ResolveChunk(ctx, snap, "s/c")
	require.NoError(t, err)
	assert.Equal(t, uint64(10), c.Length, "a whole-object ref spans the file")
	assert.Equal(t, []uint32{}, c.Index)
}

// TestFromRefsRejects: a location vzarr cannot check yet, and a missing source.
func TestFromRefsRejects(t *testing.T) {
	ctx := context.Background()
	for name, url := range map[string]string{"remote": "abfs://c/x.nc", "missing": "/nonexistent/vzarr/x.nc"} {
		t.Run(name, func(t *testing.T) {
			refs := kerchunk.NewRefs(0)
			refs.SetText("v/.zarray", `{"zarr_format":2,"shape":[2],"chunks":[2],"dtype":"|u1","fill_value":0,"order":"C","compressor":null,"filters":null}`)
			refs.Set("v/0", kerchunk.Range(url, 0, 2))
			repo, err := Create(ctx, DirStorage{Root: t.TempDir()}, RepoConfig{})
			require.NoError(t, err)
			s, err := repo.NewSession(ctx, "main")
			require.NoError(t, err)
			assert.ErrorIs(t, FromRefs(ctx, s, refs), ErrInvalidArgument)
		})
	}
}

// TestOfficialLibraryReadsTranslatedFixtures is the end-to-end check of the
// Icechunk output: each fixture is translated, written as a repo with
// FromRefs, read back key by key by the official library (every chunk of main,
// virtual ones resolved against the source), written out as a plain Zarr v3
// directory, and opened with xarray + zarr-python 3 in the Debian 13 chroot,
// where every variable must equal xr.open_dataset of the source (decoded and
// raw; testdata/xrcompare.py).
func TestOfficialLibraryReadsTranslatedFixtures(t *testing.T) {
	run := judge(t)
	trixie, err := filepath.Abs(filepath.Join("..", "scripts", "trixie"))
	require.NoError(t, err)
	compare, err := os.ReadFile(filepath.Join("testdata", "xrcompare.py"))
	require.NoError(t, err)
	ctx := context.Background()
	passed := 0
	fixtures := []string{
		"sample/tas_2020.nc",            // chunked, zlib + shuffle
		"series/leap_years/tas_2000.nc", // CF packing (scale_factor, add_offset)
		"series/unwritten_chunks/a.nc",  // chunks never written: fill values
		"series/netcdf3_records/m0.nc",  // netCDF-3 record variables
		"series/calendar_360/a.nc",      // a non-standard calendar
	}
	for _, glob := range []string{"hdf5/nc4_*.nc", "netcdf3/*.nc"} { // groups, types, netCDF-3 variants
		m, err := filepath.Glob(filepath.Join("..", "testdata", glob))
		require.NoError(t, err)
		for _, p := range m {
			fixtures = append(fixtures, strings.TrimPrefix(filepath.ToSlash(p), "../testdata/"))
		}
	}
	// Arrays Zarr v3 has no data type for fail the conversion (typed) instead of
	// being written wrong.
	wantErr := map[string]error{"hdf5/nc4_types.nc": zarr.ErrUnsupported} // the vlen-array "ragged"
	noVariables := map[string]bool{"netcdf3/empty.nc": true}
	for _, fx := range fixtures {
		t.Run(fx, func(t *testing.T) {
			base := t.TempDir()
			src := filepath.Join(base, "src", filepath.Base(fx))
			require.NoError(t, os.MkdirAll(filepath.Dir(src), 0o755))
			data, err := os.ReadFile(filepath.Join("..", "testdata", fx))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(src, data, 0o644))
			f, err := os.Open(src)
			require.NoError(t, err)
			defer f.Close()
			tr, err := kerchunk.Translate(ctx, f, int64(len(data)), src, kerchunk.Options{})
			require.NoError(t, err)
			containers, err := RefsContainers(tr.Refs)
			require.NoError(t, err)
			repoDir := filepath.Join(base, "repo")
			repo, err := Create(ctx, DirStorage{Root: repoDir}, RepoConfig{VirtualChunkContainers: containers})
			require.NoError(t, err)
			s, err := repo.NewSession(ctx, "main")
			require.NoError(t, err)
			if err := wantErr[fx]; err != nil {
				assert.ErrorIs(t, FromRefs(ctx, s, tr.Refs), err)
				passed++
				return
			}
			require.NoError(t, FromRefs(ctx, s, tr.Refs))
			_, err = s.Commit(ctx, "fixture "+fx)
			require.NoError(t, err)

			var rep judgeReport
			out := mustJudge(t, run, "read", repoDir, "file://"+filepath.Dir(src)+"/")
			require.NoError(t, json.Unmarshal(out, &rep), "%s", out)
			zdir := filepath.Join(base, "plain.zarr")
			var groups []string
			for k, v := range rep.Keys {
				require.NotNil(t, v, "key %s", k)
				b, err := base64.StdEncoding.DecodeString(*v)
				require.NoError(t, err)
				p := filepath.Join(zdir, filepath.FromSlash(k))
				require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
				require.NoError(t, os.WriteFile(p, b, 0o644))
				if g, ok := strings.CutSuffix(k, "/zarr.json"); ok && strings.Contains(string(b), `"node_type":"group"`) {
					groups = append(groups, g)
				}
			}
			script := filepath.Join(base, "xrcompare.py")
			require.NoError(t, os.WriteFile(script, compare, 0o644))
			cmd := exec.Command(trixie, append([]string{"run", "python3", script, zdir, src}, groups...)...)
			out, err = cmd.Output()
			require.NoError(t, err, "%s", out)
			var res struct {
				Compared int      `json:"compared"`
				Skipped  []string `json:"skipped"`
				Notes    []string `json:"notes"`
				Errors   []string `json:"errors"`
			}
			require.NoError(t, json.Unmarshal(out, &res), "%s", out)
			assert.Empty(t, res.Errors)
			assert.Equal(t, noVariables[fx], res.Compared == 0, "variables compared: %d", res.Compared)
			t.Logf("%s: %d keys read by the official library, %d variable comparisons, groups %v, skipped (data types Debian 13's zarr 3.0.6 cannot read) %v, accepted differences %v",
				fx, len(rep.Keys), res.Compared, groups, res.Skipped, res.Notes)
			if !t.Failed() {
				passed++
			}
		})
	}
	t.Logf("%d of %d fixtures pass (%d refused as unsupported, the rest equal through the official library and xarray)",
		passed, len(fixtures), len(wantErr))
}

func TestChunkIndex(t *testing.T) {
	tests := []struct {
		key, sep string
		rank     int
		want     []uint32 // nil: not a chunk key
	}{
		{"0", ".", 0, []uint32{}},
		{"1", ".", 0, nil},
		{"3", ".", 1, []uint32{3}},
		{"1.2", ".", 2, []uint32{1, 2}},
		{"1/2", "/", 2, []uint32{1, 2}},
		{"1.2.3", ".", 2, nil},
		{"1.2", ".", 3, nil},
		{"1/2", ".", 2, nil},
		{"x.0", ".", 2, nil},
		{"4294967296", ".", 1, nil},
		{"", ".", 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.key+"/"+strconv.Itoa(tt.rank), func(t *testing.T) {
			idx := make([]uint32, tt.rank)
			ok := chunkIndex(tt.key, tt.sep, idx)
			assert.Equal(t, tt.want != nil, ok)
			if ok {
				assert.Equal(t, tt.want, idx)
			}
		})
	}
}

// TestFromRefsChunkKeys: "/"-separated chunk keys, an array inside a group
// next to one at the top, keys that are no chunk ignored, and a chunk outside
// the grid refused.
func TestFromRefsChunkKeys(t *testing.T) {
	ctx := context.Background()
	meta := func(sep string) string {
		return `{"zarr_format":2,"shape":[2,2],"chunks":[1,1],"dtype":"|u1","fill_value":0,"order":"C","compressor":null,"filters":null,"dimension_separator":"` + sep + `"}`
	}
	refs := kerchunk.NewRefs(0)
	refs.SetText("g/.zgroup", `{"zarr_format":2}`)
	refs.SetText("g/a/.zarray", meta("/"))
	refs.SetText("a/.zarray", meta("."))
	for _, k := range []string{"g/a/1/0", "g/a/0/1", "a/1.1", "a/0.0"} {
		refs.Set(k, kerchunk.Inline([]byte(k)))
	}
	refs.Set("g/a/x", kerchunk.Inline([]byte("not a chunk")))
	refs.Set("a/0/0", kerchunk.Inline([]byte("not a chunk of a dot-separated array")))
	repo, s := newRepoSession(t, DirStorage{Root: t.TempDir()}, RepoConfig{})
	require.NoError(t, FromRefs(ctx, s, refs))
	snap := commitSnapshot(t, repo, s, "m")
	for key, chunk := range map[string]string{"g/a/1/0": "g/a/c/1/0", "g/a/0/1": "g/a/c/0/1", "a/1.1": "a/c/1/1", "a/0.0": "a/c/0/0"} {
		c, err := repo.ResolveChunk(ctx, snap, chunk)
		require.NoError(t, err, chunk)
		assert.Equal(t, key, string(c.Inline), chunk)
	}
	for _, chunk := range []string{"g/a/c/0/0", "a/c/0/1"} {
		_, err := repo.ResolveChunk(ctx, snap, chunk)
		assert.ErrorIs(t, err, ErrNoChunk, chunk)
	}

	refs.Set("a/2.0", kerchunk.Inline([]byte{1}))
	s, err := repo.NewSession(ctx, "main")
	require.NoError(t, err)
	assert.ErrorIs(t, FromRefs(ctx, s, refs), ErrInvalidArgument, "chunk 2 of a 2-chunk dimension")
}
