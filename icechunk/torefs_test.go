package icechunk

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/zarr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// commitRefs writes refs as one commit on main of a new repo in dir.
func commitRefs(t *testing.T, dir string, cfg RepoConfig, refs *kerchunk.Refs) (*Repo, ObjectID) {
	t.Helper()
	ctx := context.Background()
	repo, err := Create(ctx, DirStorage{Root: dir}, cfg)
	require.NoError(t, err)
	s, err := repo.NewSession(ctx, "main")
	require.NoError(t, err)
	require.NoError(t, FromRefs(ctx, s, refs))
	id, err := s.Commit(ctx, "m")
	require.NoError(t, err)
	return repo, id
}

// TestToRefs: a snapshot read back as references gives the metadata
// (canonical .zarray, .zattrs without xarray's v3 _FillValue, with
// _ARRAY_DIMENSIONS) and the chunk references FromRefs was given.
func TestToRefs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.bin")
	require.NoError(t, os.WriteFile(src, []byte("0123456789"), 0o644))
	zarray := `{"chunks":[2,3],"compressor":null,"dtype":"<i2","fill_value":-1,"filters":[{"id":"zlib","level":4}],"order":"C","shape":[4,3],"zarr_format":2}`
	refs := kerchunk.NewRefs(0)
	refs.SetText(".zgroup", zarr.GroupV2JSON)
	refs.SetText(".zattrs", `{"title":"t"}`)
	refs.SetText("g/.zgroup", zarr.GroupV2JSON)
	refs.SetText("g/v/.zarray", zarray)
	refs.SetText("g/v/.zattrs", `{"_ARRAY_DIMENSIONS":["y","x"],"units":"m"}`)
	refs.Set("g/v/0.0", kerchunk.Range("file://"+src, 2, 6))
	refs.Set("g/v/1.0", kerchunk.Inline([]byte("abc")))
	refs.SetText("s/.zarray", `{"chunks":[],"compressor":null,"dtype":"<f8","fill_value":null,"filters":null,"order":"C","shape":[],"zarr_format":2}`)
	refs.Set("s/0", kerchunk.Whole(src))

	repo, id := commitRefs(t, filepath.Join(dir, "repo"), RepoConfig{}, refs)
	snap, err := repo.Snapshot(ctx, id)
	require.NoError(t, err)
	got, err := repo.ToRefs(ctx, snap)
	require.NoError(t, err)
	want := map[string]string{
		".zgroup":     zarr.GroupV2JSON,
		".zattrs":     `{"title":"t"}`,
		"g/.zgroup":   zarr.GroupV2JSON,
		"g/v/.zarray": zarray,
		"g/v/.zattrs": `{"units":"m","_ARRAY_DIMENSIONS":["y","x"]}`,
		"s/.zarray":   `{"chunks":[],"compressor":null,"dtype":"<f8","fill_value":null,"filters":null,"order":"C","shape":[],"zarr_format":2}`,
	}
	for k, v := range want {
		text, ok := got.Text(k)
		require.True(t, ok, k)
		assert.JSONEq(t, v, text, k)
	}
	r, _ := got.Get("g/v/0.0")
	assert.Equal(t, kerchunk.Range("file://"+src, 2, 6), r)
	r, _ = got.Get("g/v/1.0")
	assert.Equal(t, []byte("abc"), r.Data)
	r, _ = got.Get("s/0")
	assert.Equal(t, kerchunk.Range("file://"+src, 0, 10), r, "a whole-object reference, sized")
	assert.Len(t, got.Keys(), len(want)+3)
}

// TestUpdateFromRefs: only what changed is committed (grown array: its new
// chunk; unchanged chunks keep their checksum even after the source's
// modification time moved); an array re-encoded with another chunk shape is
// replaced, with no chunk of the old encoding left.
func TestUpdateFromRefs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.bin")
	require.NoError(t, os.WriteFile(src, make([]byte, 64), 0o644))
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, os.Chtimes(src, old, old))
	v := func(n int) string {
		return `{"chunks":[2],"compressor":null,"dtype":"<i4","fill_value":null,"filters":null,"order":"C","shape":[` + string(rune('0'+n)) + `],"zarr_format":2}`
	}
	tc := func(n, chunk int) string {
		return `{"chunks":[` + string(rune('0'+chunk)) + `],"compressor":null,"dtype":"<f8","fill_value":null,"filters":null,"order":"C","shape":[` + string(rune('0'+n)) + `],"zarr_format":2}`
	}
	refs := kerchunk.NewRefs(0)
	refs.SetText(".zgroup", zarr.GroupV2JSON)
	refs.SetText("v/.zarray", v(4))
	refs.SetText("v/.zattrs", `{"_ARRAY_DIMENSIONS":["time"]}`)
	refs.Set("v/0", kerchunk.Range(src, 0, 8))
	refs.Set("v/1", kerchunk.Range(src, 8, 8))
	refs.SetText("time/.zarray", tc(4, 2))
	refs.SetText("time/.zattrs", `{"_ARRAY_DIMENSIONS":["time"]}`)
	refs.Set("time/0", kerchunk.Inline(make([]byte, 16)))
	refs.Set("time/1", kerchunk.Inline(make([]byte, 16)))
	repo, first := commitRefs(t, filepath.Join(dir, "repo"), RepoConfig{}, refs)
	snap1, err := repo.Snapshot(ctx, first)
	require.NoError(t, err)
	time1, _ := snap1.Node("/time")

	later := old.Add(time.Hour)
	require.NoError(t, os.Chtimes(src, later, later))
	refs.SetText("v/.zarray", v(6))
	refs.Set("v/2", kerchunk.Range(src, 16, 8))
	refs.SetText("time/.zarray", tc(6, 6))
	refs.Delete("time/1")
	refs.Set("time/0", kerchunk.Inline(make([]byte, 48)))
	s, err := repo.NewSession(ctx, "main")
	require.NoError(t, err)
	assert.Equal(t, first, s.BaseID())
	require.NoError(t, UpdateFromRefs(ctx, s, refs))
	second, err := s.Commit(ctx, "append")
	require.NoError(t, err)

	snap, err := repo.Snapshot(ctx, second)
	require.NoError(t, err)
	vn, _ := snap.Node("/v")
	assert.Equal(t, []DimShape{{Length: 6, NumChunks: 3}}, vn.Array.Shape)
	chunks, err := repo.ArrayRefs(ctx, vn)
	require.NoError(t, err)
	require.Len(t, chunks, 3)
	assert.Equal(t, LastModifiedChecksum(old), chunks[0].ChecksumLastModified, "an unchanged chunk keeps its checksum")
	assert.Equal(t, LastModifiedChecksum(later), chunks[2].ChecksumLastModified, "a new chunk gets the source's")
	tn, _ := snap.Node("/time")
	assert.NotEqual(t, time1.ID, tn.ID, "re-chunked: a new node")
	tchunks, err := repo.ArrayRefs(ctx, tn)
	require.NoError(t, err)
	require.Len(t, tchunks, 1, "no chunk of the old chunk shape left")
	assert.Len(t, tchunks[0].Inline, 48)

	tl, err := repo.TransactionLog(ctx, second)
	require.NoError(t, err)
	assert.Equal(t, []NodeID{tn.ID}, tl.NewArrays)
	assert.Equal(t, []NodeID{vn.ID}, tl.UpdatedArrays)
	for _, ac := range tl.UpdatedChunks {
		if ac.Node == vn.ID {
			assert.Equal(t, [][]uint32{{2}}, ac.Chunks, "only the new chunk of v")
		}
	}
}

// TestToRefsSourceURLs: virtual chunk locations become the URLs blobio
// opens through the container covering them: a local path for file://,
// abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH for an Azure
// container with an account; a location no container covers, or one of an
// Azure container naming no account, stays as it is.
func TestToRefsSourceURLs(t *testing.T) {
	ctx := context.Background()
	repo, s := newRepoSession(t, DirStorage{Root: t.TempDir()}, RepoConfig{VirtualChunkContainers: []VirtualChunkContainer{
		{URLPrefix: "file:///data/", Store: StoreLocalFilesystem},
		{URLPrefix: "az://bronze/", Store: StoreAzure, Options: map[string]string{"account": "acct"}},
		{URLPrefix: "az://bronze/deep/", Store: StoreAzure, Options: map[string]string{"account": "other"}},
		{URLPrefix: "az://noacct/", Store: StoreAzure},
	}})
	arrayJSON := []byte(`{"zarr_format":3,"node_type":"array","shape":[5],"data_type":"uint8",` +
		`"chunk_grid":{"name":"regular","configuration":{"chunk_shape":[1]}},` +
		`"chunk_key_encoding":{"name":"default","configuration":{"separator":"/"}},` +
		`"fill_value":0,"codecs":[{"name":"bytes"}],"attributes":{},"dimension_names":["x"]}`)
	require.NoError(t, s.AddGroup("/", []byte(`{"zarr_format":3,"node_type":"group","attributes":{}}`)))
	require.NoError(t, s.AddArray("/x", arrayJSON, []DimShape{{Length: 5, NumChunks: 5}}, []string{"x"}))
	locations := []string{"file:///data/a.nc", "az://bronze/y/b.nc", "az://bronze/deep/c.nc", "az://noacct/d.nc", "file:///elsewhere/e.nc"}
	for i, loc := range locations {
		require.NoError(t, s.SetChunk("/x", ChunkRef{Index: []uint32{uint32(i)}, Location: loc, Offset: uint64(i), Length: 1}))
	}
	id, err := s.Commit(ctx, "m")
	require.NoError(t, err)
	snap, err := repo.Snapshot(ctx, id)
	require.NoError(t, err)
	got, err := repo.ToRefs(ctx, snap)
	require.NoError(t, err)
	for i, want := range []string{"/data/a.nc", "abfs://bronze@acct.dfs.core.windows.net/y/b.nc",
		"abfs://bronze@other.dfs.core.windows.net/deep/c.nc", "az://noacct/d.nc", "file:///elsewhere/e.nc"} {
		r, ok := got.Get("x/" + string(rune('0'+i)))
		require.True(t, ok, i)
		assert.Equal(t, kerchunk.Range(want, int64(i), 1), r, locations[i])
	}
}

// TestReplaceFromRefs: references meant as the whole new content are
// refused (ErrIncomplete, nothing written) when they drop a node or a
// chunk of an array they keep the encoding of; an array they re-encode
// needs no cover of its old chunks.
func TestReplaceFromRefs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.bin")
	require.NoError(t, os.WriteFile(src, make([]byte, 64), 0o644))
	arr := func(n, chunk int) string {
		return fmt.Sprintf(`{"chunks":[%d],"compressor":null,"dtype":"<i4","fill_value":null,"filters":null,"order":"C","shape":[%d],"zarr_format":2}`, chunk, n)
	}
	base := func() *kerchunk.Refs {
		refs := kerchunk.NewRefs(0)
		refs.SetText(".zgroup", zarr.GroupV2JSON)
		refs.SetText("g/.zgroup", zarr.GroupV2JSON)
		refs.SetText("g/v/.zarray", arr(4, 2))
		refs.Set("g/v/0", kerchunk.Range(src, 0, 8))
		refs.Set("g/v/1", kerchunk.Range(src, 8, 8))
		refs.SetText("time/.zarray", arr(4, 2))
		refs.Set("time/0", kerchunk.Inline(make([]byte, 8)))
		refs.Set("time/1", kerchunk.Inline(make([]byte, 8)))
		return refs
	}
	repo, first := commitRefs(t, filepath.Join(dir, "repo"), RepoConfig{}, base())
	tests := []struct {
		name   string
		change func(*kerchunk.Refs)
		refuse bool
	}{
		{"the same", func(*kerchunk.Refs) {}, false},
		{"grown", func(r *kerchunk.Refs) {
			r.SetText("g/v/.zarray", arr(6, 2))
			r.Set("g/v/2", kerchunk.Range(src, 16, 8))
		}, false},
		{"time re-encoded in one chunk", func(r *kerchunk.Refs) {
			r.SetText("time/.zarray", arr(4, 4))
			r.Delete("time/1")
			r.Set("time/0", kerchunk.Inline(make([]byte, 16)))
		}, false},
		{"a chunk dropped", func(r *kerchunk.Refs) { r.Delete("g/v/1") }, true},
		{"shrunk", func(r *kerchunk.Refs) {
			r.SetText("g/v/.zarray", arr(2, 2))
			r.Delete("g/v/1")
		}, true},
		{"an array dropped", func(r *kerchunk.Refs) {
			r.Delete("time/.zarray")
			r.Delete("time/0")
			r.Delete("time/1")
		}, true},
		{"a group dropped", func(r *kerchunk.Refs) { r.Delete("g/.zgroup") }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refs := base()
			tt.change(refs)
			s, err := repo.NewSession(ctx, "main")
			require.NoError(t, err)
			require.Equal(t, first, s.BaseID())
			err = ReplaceFromRefs(ctx, s, refs)
			if tt.refuse {
				assert.ErrorIs(t, err, ErrIncomplete)
				assert.Empty(t, s.updated, "nothing written into the session")
				assert.Empty(t, s.newNode)
				assert.Empty(t, s.chunks)
				return
			}
			require.NoError(t, err)
			assert.NotEmpty(t, s.updated, "the root group is always rewritten")
		})
	}
}
