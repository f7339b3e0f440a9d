package icechunk

import (
	"context"
	"errors"
	"slices"
	"strconv"
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

// packedGrid returns the refs of a rows × cols grid, set in reverse row order
// (so they need sorting), each inline with its own bytes.
func packedGrid(pool *refPool, rows, cols uint32) *arrayRefs {
	a := &arrayRefs{grid: newGridKeys([]DimShape{{Length: uint64(rows), NumChunks: rows}, {Length: uint64(cols), NumChunks: cols}})}
	for i := rows; i > 0; i-- {
		for j := uint32(0); j < cols; j++ {
			pr, err := pool.pack(a.grid.key([]uint32{i - 1, j}), &ChunkRef{Inline: []byte{byte(i - 1), byte(j)}})
			if err != nil {
				panic(err)
			}
			a.add(pr)
		}
	}
	a.sortLast()
	return a
}

func TestPackManifests(t *testing.T) {
	type grid struct {
		node       byte
		rows, cols uint32
	}
	tests := []struct {
		name      string
		arrays    []grid // in node-id order
		max       int
		manifests int
		extents   map[byte][][][2]uint32 // node -> its manifest refs' extents
	}{
		{"no limit", []grid{{1, 3, 2}, {2, 1, 1}}, 0, 1,
			map[byte][][][2]uint32{1: {{{0, 3}, {0, 2}}}, 2: {{{0, 1}, {0, 1}}}}},
		{"rows of two", []grid{{1, 3, 2}}, 2, 3,
			map[byte][][][2]uint32{1: {{{0, 1}, {0, 2}}, {{1, 2}, {0, 2}}, {{2, 3}, {0, 2}}}}},
		{"two rows fit in five", []grid{{1, 3, 2}}, 5, 2,
			map[byte][][][2]uint32{1: {{{0, 2}, {0, 2}}, {{2, 3}, {0, 2}}}}},
		{"row larger than limit stays whole", []grid{{1, 2, 3}}, 2, 2,
			map[byte][][][2]uint32{1: {{{0, 1}, {0, 3}}, {{1, 2}, {0, 3}}}}},
		{"arrays share a manifest", []grid{{1, 1, 1}, {2, 1, 2}}, 3, 1,
			map[byte][][][2]uint32{1: {{{0, 1}, {0, 1}}}, 2: {{{0, 1}, {0, 2}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := &refPool{}
			var arrays []manifestSegment
			total := 0
			for _, g := range tt.arrays {
				a := packedGrid(pool, g.rows, g.cols)
				arrays = append(arrays, manifestSegment{node: NodeID{g.node}, refs: a, end: a.n})
				total += a.n
			}
			w := newManifestWriter(pool)
			ext := map[byte][][][2]uint32{}
			got, mans := 0, 0
			err := packManifests(arrays, tt.max, func(segs []manifestSegment) error {
				id := NewObjectID()
				payload, exts := w.encode(id, segs)
				m, err := DecodeManifest(payload)
				require.NoError(t, err)
				assert.Equal(t, id, m.ID)
				for k, seg := range segs {
					require.Equal(t, seg.node, m.Arrays[k].Node)
					ext[seg.node[0]] = append(ext[seg.node[0]], exts[k])
					for i, r := range m.Arrays[k].Refs {
						assert.Equal(t, []byte{byte(r.Index[0]), byte(r.Index[1])}, r.Inline, "ref %d keeps its bytes", i)
						assert.True(t, covers(exts[k], r.Index), "extents cover %v", r.Index)
					}
				}
				got += m.NumRefs()
				mans++
				return nil
			})
			require.NoError(t, err)
			assert.Equal(t, tt.manifests, mans)
			assert.Equal(t, total, got, "every ref lands in exactly one manifest")
			assert.Equal(t, tt.extents, ext)
		})
	}
}

func TestSortLastAndMerge(t *testing.T) {
	type set struct {
		i uint32
		v byte
	}
	pack := func(pool *refPool, sets []set) *arrayRefs {
		a := &arrayRefs{grid: newGridKeys([]DimShape{{Length: 1 << 20, NumChunks: 1 << 20}})}
		for _, s := range sets {
			pr, err := pool.pack(uint64(s.i), &ChunkRef{Inline: []byte{s.v}})
			require.NoError(t, err)
			a.add(pr)
		}
		a.sortLast()
		return a
	}
	tests := []struct {
		name       string
		old, newer []set
		want       []set
	}{
		{"later set wins", nil, []set{{1, 1}, {0, 1}, {1, 2}, {1, 3}}, []set{{0, 1}, {1, 3}}},
		{"sorted input with a repeat", nil, []set{{0, 1}, {1, 1}, {1, 2}}, []set{{0, 1}, {1, 2}}},
		{"radix digits above 16 bits", nil, []set{{1 << 18, 1}, {3, 2}, {1<<18 + 1, 3}, {1 << 17, 4}}, []set{{3, 2}, {1 << 17, 4}, {1 << 18, 1}, {1<<18 + 1, 3}}},
		{"new replaces old", []set{{0, 1}, {1, 1}, {2, 1}}, []set{{1, 9}}, []set{{0, 1}, {1, 9}, {2, 1}}},
		{"interleave", []set{{0, 1}, {2, 1}}, []set{{3, 9}, {1, 9}}, []set{{0, 1}, {1, 9}, {2, 1}, {3, 9}}},
		{"only old", []set{{0, 1}}, nil, []set{{0, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := &refPool{}
			merged := mergeRefs(pack(pool, tt.old), pack(pool, tt.newer))
			var got []set
			for i := 0; i < merged.n; i++ {
				pr := merged.at(i)
				got = append(got, set{uint32(pr.key), pool.unpack(pr, nil).Inline[0]})
			}
			assert.Equal(t, tt.want, got)
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

// newRepoSession creates a repository in st with cfg and starts a session on main.
func newRepoSession(tb testing.TB, st Storage, cfg RepoConfig) (*Repo, *Session) {
	tb.Helper()
	repo, err := Create(context.Background(), st, cfg)
	require.NoError(tb, err)
	s, err := repo.NewSession(context.Background(), "main")
	require.NoError(tb, err)
	return repo, s
}

// commitSnapshot commits s and returns the new snapshot.
func commitSnapshot(tb testing.TB, repo *Repo, s *Session, message string) *Snapshot {
	tb.Helper()
	id, err := s.Commit(context.Background(), message)
	require.NoError(tb, err)
	snap, err := repo.Snapshot(context.Background(), id)
	require.NoError(tb, err)
	return snap
}

// TestSessionSplitAndUpdate: refs set out of order and repeated, over two
// arrays and split manifests, read back chunk by chunk; a second commit
// replaces some refs, adds rows after a grid change and keeps the rest; each
// transaction log lists exactly the chunks its commit set.
func TestSessionSplitAndUpdate(t *testing.T) {
	ctx := context.Background()
	repo, s := newRepoSession(t, DirStorage{Root: t.TempDir()}, RepoConfig{})
	s.MaxRefsPerManifest = 5
	require.NoError(t, s.AddGroup("/", []byte(`{}`)))
	shape := func(rows uint32) []DimShape {
		return []DimShape{{Length: uint64(rows), NumChunks: rows}, {Length: 3, NumChunks: 3}}
	}
	require.NoError(t, s.AddArray("/a", []byte(`{}`), shape(4), nil))
	require.NoError(t, s.AddArray("/b", []byte(`{}`), []DimShape{}, nil))
	loc := func(i, j uint32) string { return "file:///src/" + string(rune('a'+i)) + ".nc" }
	idx := make([]uint32, 2) // reused: SetChunk copies it
	set := func(s *Session, i, j uint32, off uint64) {
		idx[0], idx[1] = i, j
		require.NoError(t, s.SetChunk("/a", ChunkRef{Index: idx, Location: loc(i, j), Offset: off, Length: 1, ChecksumETag: "e"}))
	}
	for i := uint32(4); i > 0; i-- {
		for j := uint32(0); j < 3; j++ {
			set(s, i-1, j, 1) // overwritten below
			set(s, i-1, j, uint64(100*(i-1)+j))
		}
	}
	require.NoError(t, s.SetChunk("/b", ChunkRef{Index: []uint32{}, Inline: []byte{5}}))
	first := commitSnapshot(t, repo, s, "first").ID

	check := func(id ObjectID, rows uint32, want func(i, j uint32) uint64) *Snapshot {
		snap, err := repo.Snapshot(ctx, id)
		require.NoError(t, err)
		for i := range rows {
			for j := range uint32(3) {
				key := "a/c/" + strconv.Itoa(int(i)) + "/" + strconv.Itoa(int(j))
				ref, err := repo.ResolveChunk(ctx, snap, key)
				require.NoError(t, err, key)
				assert.Equal(t, want(i, j), ref.Offset, key)
				assert.Equal(t, loc(i, j), ref.Location, key)
				assert.Equal(t, "e", ref.ChecksumETag, key)
			}
		}
		ref, err := repo.ResolveChunk(ctx, snap, "b/c")
		require.NoError(t, err)
		assert.Equal(t, []byte{5}, ref.Inline)
		for _, f := range snap.ManifestFiles {
			assert.LessOrEqual(t, f.NumChunkRefs, uint32(6), "a manifest holds at most 5 refs, or one row of 3 more")
		}
		return snap
	}
	snap := check(first, 4, func(i, j uint32) uint64 { return uint64(100*i + j) })
	total := 0
	for _, f := range snap.ManifestFiles {
		total += int(f.NumChunkRefs)
	}
	assert.Equal(t, 13, total, "every ref in exactly one manifest")
	assert.Len(t, snap.ManifestFiles, 4, "cut at 5 refs: one row of 3 per manifest, the scalar sharing the first or the last")
	tl, err := repo.TransactionLog(ctx, first)
	require.NoError(t, err)
	require.Len(t, tl.UpdatedChunks, 2)
	chunks := 0
	for _, ac := range tl.UpdatedChunks {
		chunks += len(ac.Chunks)
		assert.True(t, slices.IsSortedFunc(ac.Chunks, slices.Compare), "sorted chunk indexes")
	}
	assert.Equal(t, 13, chunks)

	s2, err := repo.NewSession(ctx, "main")
	require.NoError(t, err)
	s2.MaxRefsPerManifest = 5
	set(s2, 1, 1, 7)
	require.NoError(t, s2.AddArray("/a", []byte(`{}`), shape(5), nil))
	for j := uint32(0); j < 3; j++ {
		set(s2, 4, j, uint64(400+j))
	}
	second, err := s2.Commit(ctx, "second")
	require.NoError(t, err)
	check(second, 5, func(i, j uint32) uint64 {
		if i == 1 && j == 1 {
			return 7
		}
		return uint64(100*i + j)
	})
	tl, err = repo.TransactionLog(ctx, second)
	require.NoError(t, err)
	require.Len(t, tl.UpdatedChunks, 1)
	assert.Equal(t, [][]uint32{{1, 1}, {4, 0}, {4, 1}, {4, 2}}, tl.UpdatedChunks[0].Chunks)
	check(first, 4, func(i, j uint32) uint64 { return uint64(100*i + j) }) // time travel
}
