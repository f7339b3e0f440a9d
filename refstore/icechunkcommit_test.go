package refstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/icechunk"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/refstore"
)

// TestCommitIcechunkWhole: the commits a pipeline Release makes (Append,
// Create, Whole, ReuseTag): the first creates the repository with the
// containers given; the same tag again returns its snapshot and writes
// nothing; references that drop what main has are refused
// (icechunk.ErrIncomplete) and change nothing; an existing tag without
// ReuseTag is icechunk.ErrTagExists before anything is committed.
func TestCommitIcechunkWhole(t *testing.T) {
	ctx := context.Background()
	st := &refstore.Store{}
	refs := translate(t, "sample/tas_2020.nc")
	repoDir := filepath.Join(t.TempDir(), "repo")
	dataDir, err := filepath.Abs(filepath.Join("..", "testdata"))
	require.NoError(t, err)
	containers := []icechunk.VirtualChunkContainer{{URLPrefix: "file://" + dataDir + "/", Store: icechunk.StoreLocalFilesystem}}
	release := func(tag string) refstore.IcechunkCommit {
		return refstore.IcechunkCommit{Tag: tag, ReuseTag: true, Append: true, Create: true, Whole: true, Containers: containers}
	}
	open := func() *icechunk.Repo {
		repo, err := icechunk.Open(ctx, icechunk.DirStorage{Root: repoDir})
		require.NoError(t, err)
		return repo
	}

	c1, err := st.CommitIcechunk(ctx, repoDir, refs, release("r1"))
	require.NoError(t, err)
	repo := open()
	assert.Equal(t, c1.SnapshotID, repo.Info().Tags["r1"])
	got, err := repo.Info().Containers()
	require.NoError(t, err)
	assert.Equal(t, containers, got, "the containers given, not one per source folder")

	again, err := st.CommitIcechunk(ctx, repoDir, refs, release("r1"))
	require.NoError(t, err)
	assert.Equal(t, c1.SnapshotID, again.SnapshotID)
	assert.Zero(t, again.Bytes, "a reused tag writes nothing")
	assert.Len(t, open().Info().Snapshots, 2, "the initial snapshot and r1's")

	fewer := translate(t, "sample/tas_2020.nc")
	for _, k := range fewer.Keys() {
		if filepath.Dir(k) == "tas" && filepath.Base(k)[0] != '.' {
			fewer.Delete(k)
			break
		}
	}
	_, err = st.CommitIcechunk(ctx, repoDir, fewer, release("r2"))
	assert.ErrorIs(t, err, icechunk.ErrIncomplete)
	assert.Len(t, open().Info().Snapshots, 2)

	c2, err := st.CommitIcechunk(ctx, repoDir, refs, release("r2"))
	require.NoError(t, err)
	assert.NotEqual(t, c1.SnapshotID, c2.SnapshotID)
	_, err = st.CommitIcechunk(ctx, repoDir, refs, refstore.IcechunkCommit{Tag: "r2", Append: true})
	assert.ErrorIs(t, err, icechunk.ErrTagExists)
	assert.Len(t, open().Info().Snapshots, 3)
}

// TestCommitIcechunkConcurrent: writers racing to create one repository
// and commit to main, each the whole content, all succeed: a lost create
// becomes an append, a commit that loses main (and cannot be rebased: each
// rewrites the same nodes) starts over on the winner's snapshot. main ends
// on one of them, each tag on its own snapshot, the snapshots a chain.
func TestCommitIcechunkConcurrent(t *testing.T) {
	ctx := context.Background()
	st := &refstore.Store{}
	repoDir := filepath.Join(t.TempDir(), "repo")
	const writers = 3
	refs := make([]*kerchunk.Refs, writers) // a Refs is not safe for concurrent reads
	for i := range refs {
		refs[i] = translate(t, "sample/tas_2020.nc")
	}
	ids := make([]icechunk.ObjectID, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := st.CommitIcechunk(ctx, repoDir, refs[i], refstore.IcechunkCommit{Tag: fmt.Sprintf("w%d", i),
				Append: true, Create: true, Whole: true, ReuseTag: true})
			errs[i] = err
			if err == nil {
				ids[i] = c.SnapshotID
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "writer %d", i)
	}
	repo, err := icechunk.Open(ctx, icechunk.DirStorage{Root: repoDir})
	require.NoError(t, err)
	assert.Len(t, repo.Info().Snapshots, writers+1)
	assert.Contains(t, ids, repo.Info().Branches["main"])
	for i, id := range ids {
		assert.Equal(t, id, repo.Info().Tags[fmt.Sprintf("w%d", i)])
	}
}
