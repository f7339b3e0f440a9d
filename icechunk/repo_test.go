package icechunk

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRepoWriteRead(t *testing.T) {
	ctx := context.Background()
	st := DirStorage{Root: t.TempDir()}
	repo, err := Create(ctx, st, RepoConfig{})
	require.NoError(t, err)
	_, err = Create(ctx, st, RepoConfig{})
	require.ErrorIs(t, err, ErrConflict, "a second create loses")

	s, err := repo.NewSession(ctx, "main")
	require.NoError(t, err)
	require.NoError(t, s.AddGroup("/", []byte(`{"zarr_format":3,"node_type":"group"}`)))
	require.NoError(t, s.AddArray("/g/x", []byte(`{"zarr_format":3,"node_type":"array"}`), []DimShape{{Length: 4, NumChunks: 2}}, []string{"t"}))
	require.NoError(t, s.AddGroup("/g", []byte(`{"zarr_format":3,"node_type":"group"}`)))
	require.NoError(t, s.SetChunk("/g/x", ChunkRef{Index: []uint32{0}, Location: "file:///src/a.bin", Offset: 8, Length: 16, ChecksumLastModified: 1700000000}))
	require.NoError(t, s.SetChunk("/g/x", ChunkRef{Index: []uint32{1}, Inline: []byte{9, 9}}))
	for _, bad := range []ChunkRef{{Index: []uint32{2}, Inline: []byte{1}}, {Index: []uint32{0, 0}, Inline: []byte{1}}, {Index: []uint32{0}}} {
		assert.ErrorIs(t, s.SetChunk("/g/x", bad), ErrInvalidArgument)
	}
	assert.ErrorIs(t, s.SetChunk("/g", ChunkRef{Index: []uint32{}, Inline: []byte{1}}), ErrNoNode)
	first, err := s.Commit(ctx, "first")
	require.NoError(t, err)
	require.NoError(t, repo.CreateTag(ctx, "v1", first))
	assert.ErrorIs(t, repo.CreateTag(ctx, "v1", first), ErrTagExists)

	// A fresh reader sees the commit, the tag and the ops log.
	r2, err := Open(ctx, st)
	require.NoError(t, err)
	id, err := r2.Ref("v1")
	require.NoError(t, err)
	assert.Equal(t, first, id)
	info := r2.Info()
	require.Len(t, info.Snapshots, 2)
	si, ok := info.SnapshotInfo(first)
	require.True(t, ok)
	assert.Equal(t, InitialSnapshotID, *si.Parent)
	kinds := []UpdateKind{}
	for _, u := range info.Updates {
		kinds = append(kinds, u.Kind)
	}
	assert.Equal(t, []UpdateKind{UpdateTagCreated, UpdateNewCommit, UpdateRepoInitialized}, kinds)
	assert.Empty(t, info.Updates[0].BackupPath)
	assert.NotEmpty(t, info.Updates[1].BackupPath)
	_, _, err = st.Get(ctx, OverwrittenDir+info.Updates[1].BackupPath)
	require.NoError(t, err, "the backup an update points at exists")

	snap, err := r2.Snapshot(ctx, first)
	require.NoError(t, err)
	assert.Equal(t, "first", snap.Message)
	paths := []string{}
	for _, n := range snap.Nodes {
		paths = append(paths, n.Path)
	}
	assert.Equal(t, []string{"/", "/g", "/g/x"}, paths)
	ref, err := r2.ResolveChunk(ctx, snap, "g/x/c/0")
	require.NoError(t, err)
	assert.Equal(t, "file:///src/a.bin", ref.Location)
	assert.Equal(t, uint64(8), ref.Offset)
	ref, err = r2.ResolveChunk(ctx, snap, "g/x/c/1")
	require.NoError(t, err)
	assert.Equal(t, []byte{9, 9}, ref.Inline)
	_, err = r2.ResolveChunk(ctx, snap, "g/c/0")
	assert.ErrorIs(t, err, ErrNoNode)
	_, err = r2.ResolveChunk(ctx, snap, "g/x/c/0/0")
	assert.ErrorIs(t, err, ErrInvalidArgument)

	tl, err := r2.TransactionLog(ctx, first)
	require.NoError(t, err)
	assert.Len(t, tl.NewGroups, 2)
	assert.Len(t, tl.NewArrays, 1)

	// A second commit changes one chunk and keeps the other.
	s2, err := r2.NewSession(ctx, "main")
	require.NoError(t, err)
	require.NoError(t, s2.SetChunk("/g/x", ChunkRef{Index: []uint32{1}, Inline: []byte{7}}))
	second, err := s2.Commit(ctx, "second")
	require.NoError(t, err)
	snap2, err := r2.Snapshot(ctx, second)
	require.NoError(t, err)
	ref, err = r2.ResolveChunk(ctx, snap2, "g/x/c/1")
	require.NoError(t, err)
	assert.Equal(t, []byte{7}, ref.Inline)
	ref, err = r2.ResolveChunk(ctx, snap2, "g/x/c/0")
	require.NoError(t, err)
	assert.Equal(t, "file:///src/a.bin", ref.Location)
	// Time travel: the tag still sees the first version.
	ref, err = r2.ResolveChunk(ctx, snap, "g/x/c/1")
	require.NoError(t, err)
	assert.Equal(t, []byte{9, 9}, ref.Inline)

	// The stale session (based on first) cannot move main any more.
	_, err = s.Commit(ctx, "stale")
	assert.True(t, errors.Is(err, ErrConflict), "got %v", err)
}

func TestRepoConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		vcc  VirtualChunkContainer
	}{
		{"not file url", VirtualChunkContainer{URLPrefix: "az://c/", Store: StoreLocalFilesystem}},
		{"no trailing slash", VirtualChunkContainer{URLPrefix: "file:///data", Store: StoreLocalFilesystem}},
		{"unknown store", VirtualChunkContainer{URLPrefix: "s3://b/", Store: "s3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Create(context.Background(), DirStorage{Root: t.TempDir()}, RepoConfig{VirtualChunkContainers: []VirtualChunkContainer{tt.vcc}})
			assert.ErrorIs(t, err, ErrInvalidArgument)
		})
	}
}

func TestPackManifests(t *testing.T) {
	grid := func(node byte, rows, cols uint32) ArrayManifest {
		a := ArrayManifest{Node: NodeID{node}}
		for i := rows; i > 0; i-- { // reversed: packManifests sorts
			for j := uint32(0); j < cols; j++ {
				a.Refs = append(a.Refs, ChunkRef{Index: []uint32{i - 1, j}, Inline: []byte{byte(i), byte(j)}})
			}
		}
		return a
	}
	tests := []struct {
		name      string
		arrays    []ArrayManifest
		max       int
		manifests int
		extents   map[byte][][][2]uint32 // node -> its manifest refs' extents
	}{
		{"no limit", []ArrayManifest{grid(1, 3, 2), grid(2, 1, 1)}, 0, 1,
			map[byte][][][2]uint32{1: {{{0, 3}, {0, 2}}}, 2: {{{0, 1}, {0, 1}}}}},
		{"rows of two", []ArrayManifest{grid(1, 3, 2)}, 2, 3,
			map[byte][][][2]uint32{1: {{{0, 1}, {0, 2}}, {{1, 2}, {0, 2}}, {{2, 3}, {0, 2}}}}},
		{"two rows fit in five", []ArrayManifest{grid(1, 3, 2)}, 5, 2,
			map[byte][][][2]uint32{1: {{{0, 2}, {0, 2}}, {{2, 3}, {0, 2}}}}},
		{"row larger than limit stays whole", []ArrayManifest{grid(1, 2, 3)}, 2, 2,
			map[byte][][][2]uint32{1: {{{0, 1}, {0, 3}}, {{1, 2}, {0, 3}}}}},
		{"arrays share a manifest", []ArrayManifest{grid(2, 1, 2), grid(1, 1, 1)}, 3, 1,
			map[byte][][][2]uint32{1: {{{0, 1}, {0, 1}}}, 2: {{{0, 1}, {0, 2}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			total := 0
			for _, a := range tt.arrays {
				total += len(a.Refs)
			}
			mans, refs := packManifests(tt.arrays, tt.max)
			require.Len(t, mans, tt.manifests)
			got := 0
			for _, m := range mans {
				got += m.NumRefs()
			}
			assert.Equal(t, total, got, "every ref lands in exactly one manifest")
			for node, want := range tt.extents {
				var ext [][][2]uint32
				for _, r := range refs[NodeID{node}] {
					ext = append(ext, r.Extents)
				}
				assert.Equal(t, want, ext, "node %d", node)
			}
		})
	}
}

func TestLastPerIndexAndMerge(t *testing.T) {
	ref := func(i uint32, v byte) ChunkRef { return ChunkRef{Index: []uint32{i}, Inline: []byte{v}} }
	tests := []struct {
		name       string
		old, newer []ChunkRef
		want       []ChunkRef
	}{
		{"later set wins", nil, []ChunkRef{ref(1, 1), ref(0, 1), ref(1, 2), ref(1, 3)}, []ChunkRef{ref(0, 1), ref(1, 3)}},
		{"new replaces old", []ChunkRef{ref(0, 1), ref(1, 1), ref(2, 1)}, []ChunkRef{ref(1, 9)}, []ChunkRef{ref(0, 1), ref(1, 9), ref(2, 1)}},
		{"interleave", []ChunkRef{ref(0, 1), ref(2, 1)}, []ChunkRef{ref(3, 9), ref(1, 9)}, []ChunkRef{ref(0, 1), ref(1, 9), ref(2, 1), ref(3, 9)}},
		{"only old", []ChunkRef{ref(0, 1)}, nil, []ChunkRef{ref(0, 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, mergeRefs(lastPerIndex(tt.old), lastPerIndex(tt.newer)))
		})
	}
}

// TestConcurrentWriters: writers with their own Repo handles race on one
// repository. Commits to the same branch from the same base: exactly one wins,
// the others fail with ErrConflict. Tags created meanwhile are retried on the
// new head and all land.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	st := DirStorage{Root: t.TempDir()}
	repo, err := Create(ctx, st, RepoConfig{})
	require.NoError(t, err)
	s, err := repo.NewSession(ctx, "main")
	require.NoError(t, err)
	require.NoError(t, s.AddGroup("/", []byte(`{}`)))
	base, err := s.Commit(ctx, "base")
	require.NoError(t, err)

	const writers = 4
	sessions := make([]*Session, writers)
	taggers := make([]*Repo, writers)
	for i := range sessions {
		r, err := Open(ctx, st)
		require.NoError(t, err)
		sessions[i], err = r.NewSession(ctx, "main")
		require.NoError(t, err)
		require.NoError(t, sessions[i].AddGroup("/g", []byte{'{', byte('0' + i), '}'}))
		taggers[i], err = Open(ctx, st)
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	commitErrs := make([]error, writers)
	tagErrs := make([]error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, commitErrs[i] = sessions[i].Commit(ctx, "racer")
		}()
		go func() {
			defer wg.Done()
			tagErrs[i] = taggers[i].CreateTag(ctx, "t"+string(rune('a'+i)), base)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range commitErrs {
		if err == nil {
			wins++
		} else {
			assert.ErrorIs(t, err, ErrConflict)
		}
	}
	assert.Equal(t, 1, wins, "exactly one commit on main wins")
	final, err := Open(ctx, st)
	require.NoError(t, err)
	for i, err := range tagErrs {
		if err == nil {
			assert.Contains(t, final.Info().Tags, "t"+string(rune('a'+i)))
		} else {
			assert.ErrorIs(t, err, ErrConflict, "a tagger only gives up after MaxCommitRetries lost races")
		}
	}
	assert.Len(t, final.Info().Snapshots, 3, "initial, base and the one winner")
}
