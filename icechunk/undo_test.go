package icechunk

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDeleteTagAndResetBranch: a deleted tag leaves the tags for the
// deleted tags (as the spec 2 repo info records it) and cannot be created
// again; a reset moves main back only from the head it names
// (compare-and-swap), and both are in the ops log; the snapshots stay.
func TestDeleteTagAndResetBranch(t *testing.T) {
	ctx := context.Background()
	st := DirStorage{Root: t.TempDir()}
	repo, s := newRepoSession(t, st, RepoConfig{})
	require.NoError(t, s.AddGroup("/", []byte(`{"zarr_format":3,"node_type":"group"}`)))
	first := commitSnapshot(t, repo, s, "first").ID
	require.NoError(t, repo.CreateTag(ctx, "r1", first))
	s, err := repo.NewSession(ctx, "main")
	require.NoError(t, err)
	require.NoError(t, s.AddGroup("/g", []byte(`{"zarr_format":3,"node_type":"group"}`)))
	second := commitSnapshot(t, repo, s, "second").ID
	require.NoError(t, repo.CreateTag(ctx, "r2", second))

	// A writer whose view is stale loses the compare-and-swap.
	other, err := Open(ctx, st)
	require.NoError(t, err)

	assert.ErrorIs(t, repo.DeleteTag(ctx, "nope"), ErrNoRef)
	assert.ErrorIs(t, repo.ResetBranch(ctx, "nope", first, second), ErrNoRef)
	assert.ErrorIs(t, repo.ResetBranch(ctx, "main", NewObjectID(), second), ErrNoRef)
	var ce *ConflictError
	require.ErrorAs(t, repo.ResetBranch(ctx, "main", InitialSnapshotID, first), &ce, "main is not at first")
	assert.Equal(t, second, ce.Head)
	assert.ErrorIs(t, ce, ErrConflict)

	require.NoError(t, repo.ResetBranch(ctx, "main", first, second))
	require.NoError(t, repo.DeleteTag(ctx, "r2"))
	assert.ErrorIs(t, repo.DeleteTag(ctx, "r2"), ErrNoRef, "deleted once")
	assert.ErrorIs(t, repo.CreateTag(ctx, "r2", second), ErrTagExists, "a deleted tag is never reused")

	// The stale writer re-reads and sees main moved: its reset fails.
	require.ErrorAs(t, other.ResetBranch(ctx, "main", InitialSnapshotID, second), &ce)
	assert.Equal(t, first, ce.Head)

	r, err := Open(ctx, st)
	require.NoError(t, err)
	info := r.Info()
	assert.Equal(t, first, info.Branches["main"])
	assert.Equal(t, map[string]ObjectID{"r1": first}, info.Tags)
	assert.Equal(t, []string{"r2"}, info.DeletedTags)
	_, err = r.Ref("r2")
	assert.ErrorIs(t, err, ErrNoRef)
	assert.Len(t, info.Snapshots, 3, "the snapshots stay")
	require.GreaterOrEqual(t, len(info.Updates), 2)
	assert.Equal(t, Update{Kind: UpdateTagDeleted, Name: "r2", Previous: second, At: info.Updates[0].At}, info.Updates[0])
	u := info.Updates[1]
	assert.Equal(t, []any{UpdateBranchReset, "main", second}, []any{u.Kind, u.Name, u.Previous})
	assert.NotEmpty(t, u.BackupPath)
	_, err = r.Snapshot(ctx, second)
	assert.NoError(t, err, "the snapshot file stays")
}
