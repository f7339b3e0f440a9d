package refstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/icechunk"
	"github.com/greensight/vzarr/refstore"
)

// TestUndoIcechunkCommit: undoing a commit deletes its tag and resets main
// to the snapshot before it; undoing again changes nothing; a commit that
// another one was made on top of keeps main where it is (only its tag
// goes); an attempt that committed without tagging is found by its
// message; an earlier commit's tag and snapshot are never touched; a
// repository that does not exist is nothing to undo.
func TestUndoIcechunkCommit(t *testing.T) {
	ctx := context.Background()
	st := &refstore.Store{}
	refs := translate(t, "sample/tas_2020.nc")
	repoDir := filepath.Join(t.TempDir(), "repo")
	release := func(tag string) refstore.IcechunkCommit {
		return refstore.IcechunkCommit{Message: "release " + tag, Tag: tag, ReuseTag: true, Append: true, Create: true, Whole: true}
	}
	commit := func(c refstore.IcechunkCommit) icechunk.ObjectID {
		res, err := st.CommitIcechunk(ctx, repoDir, refs, c)
		require.NoError(t, err)
		return res.SnapshotID
	}
	info := func() *icechunk.RepoInfo {
		repo, err := icechunk.Open(ctx, icechunk.DirStorage{Root: repoDir})
		require.NoError(t, err)
		return repo.Info()
	}

	u, err := st.UndoIcechunkCommit(ctx, repoDir, release("r0"))
	require.NoError(t, err)
	assert.Equal(t, &refstore.IcechunkUndo{}, u, "no repository: nothing to undo")

	c1 := commit(release("r1"))
	c2 := commit(release("r2"))
	u, err = st.UndoIcechunkCommit(ctx, repoDir, release("r2"))
	require.NoError(t, err)
	assert.Equal(t, &refstore.IcechunkUndo{Tagged: c2, TagDeleted: true, BranchReset: true, From: c2, To: c1}, u)
	assert.Equal(t, c1, info().Branches["main"])
	assert.Equal(t, map[string]icechunk.ObjectID{"r1": c1}, info().Tags)
	assert.Equal(t, []string{"r2"}, info().DeletedTags)

	u, err = st.UndoIcechunkCommit(ctx, repoDir, release("r2"))
	require.NoError(t, err)
	assert.Equal(t, &refstore.IcechunkUndo{}, u, "undone already")

	// Another release committed on top: main keeps it.
	c3 := commit(release("r3"))
	c4 := commit(release("r4"))
	u, err = st.UndoIcechunkCommit(ctx, repoDir, release("r3"))
	require.NoError(t, err)
	assert.Equal(t, &refstore.IcechunkUndo{Tagged: c3, TagDeleted: true, BranchMoved: true, Head: c4}, u)
	assert.Equal(t, c4, info().Branches["main"])
	assert.Equal(t, map[string]icechunk.ObjectID{"r1": c1, "r4": c4}, info().Tags)

	// Two attempts of r5 committed, neither tagged: main goes back past both.
	untagged := release("r5")
	untagged.Tag = ""
	c5 := commit(untagged)
	c5b := commit(untagged)
	u, err = st.UndoIcechunkCommit(ctx, repoDir, release("r5"))
	require.NoError(t, err)
	assert.Equal(t, &refstore.IcechunkUndo{BranchReset: true, From: c5b, To: c4}, u)
	assert.NotEqual(t, c5, c5b)
	assert.Equal(t, c4, info().Branches["main"])
	assert.Equal(t, map[string]icechunk.ObjectID{"r1": c1, "r4": c4}, info().Tags, "the other tags stay")
}
