package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/icechunk"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/pipeline"
)

// failingCompletion is a catalog whose CompleteRelease fails (as an
// unavailable catalog, so the register task is retried) while fail is
// set: the fault comes after the register stage's Icechunk commit.
type failingCompletion struct {
	catalog.Store
	fail     atomic.Bool
	attempts atomic.Int32
}

func (f *failingCompletion) CompleteRelease(ctx context.Context, id string, c catalog.Completion) (*catalog.Release, error) {
	if f.fail.Load() {
		f.attempts.Add(1)
		return nil, fmt.Errorf("%w: injected after the commit", catalog.ErrUnavailable)
	}
	return f.Store.CompleteRelease(ctx, id, c)
}

// TestIcechunkFailedReleaseUnpublished: a run whose register stage
// committed and tagged its snapshot but could not complete the Release
// (every attempt) fails, and its failure hook takes the commit back: the
// tag is deleted (recorded as deleted, as the spec does), main is back at
// the previous Release's snapshot, whose tag still reads the same chunks;
// the official library lists no such tag and cannot open it.
func TestIcechunkFailedReleaseUnpublished(t *testing.T) {
	ctx := context.Background()
	store := &failingCompletion{Store: catalog.NewMemory()}
	r := startRefs(t, store)
	src, files := testenv.CopySample(t, "..")
	require.NotEmpty(t, files)
	req := pipeline.SubmitRequest{DatasetID: "sample-tas", ResourceID: "monthly", SourceURL: src, DataType: "zarr",
		CollectionID: "samples", ProcessingOptions: pipeline.ProcessingOptions{ConcatDim: "time", OutputFormat: pipeline.OutputIcechunk}}
	j1 := r.run(t, req, 90*time.Second)
	require.Equal(t, catalog.StatusCompleted, j1.Status, j1.Error)
	repoDir := filepath.Join(r.out, "sample-tas", "monthly", pipeline.RepoName)
	openRepo := func() *icechunk.Repo {
		repo, err := icechunk.Open(ctx, icechunk.DirStorage{Root: repoDir})
		require.NoError(t, err)
		return repo
	}
	snap1 := openRepo().Info().Tags[j1.ReleaseID]
	want1 := wantChunks(t, filepath.Join(r.out, "sample-tas", "monthly", j1.ReleaseID, pipeline.CombinedName))
	n1 := checkSnapshotChunks(t, openRepo(), snap1, want1)

	store.fail.Store(true)
	req.ProcessingOptions.Overwrite = true
	j2 := r.run(t, req, 90*time.Second)
	require.Equal(t, catalog.StatusFailed, j2.Status)
	assert.Contains(t, j2.Error, "stage register")
	waitCleanedUp(t, store, j2.ID)
	assert.Positive(t, store.attempts.Load(), "the fault came after the commit")
	rel2, err := store.GetRelease(ctx, j2.ReleaseID)
	require.NoError(t, err)
	assert.Equal(t, catalog.StatusFailed, rel2.ProcessingStatus)

	repo := openRepo()
	info := repo.Info()
	assert.Equal(t, map[string]icechunk.ObjectID{j1.ReleaseID: snap1}, info.Tags, "the failed release's tag is gone, the first stays")
	assert.Equal(t, []string{j2.ReleaseID}, info.DeletedTags)
	assert.Equal(t, snap1, info.Branches["main"], "main is back at the first release's snapshot")
	require.GreaterOrEqual(t, len(info.Updates), 2)
	assert.Equal(t, []icechunk.UpdateKind{icechunk.UpdateTagDeleted, icechunk.UpdateBranchReset}, []icechunk.UpdateKind{info.Updates[0].Kind, info.Updates[1].Kind})
	assert.Equal(t, n1, checkSnapshotChunks(t, repo, snap1, want1), "the first tag reads the same chunks")
	assert.Contains(t, r.logs.String(), "deleted the tag of the failed release")
	assert.Contains(t, r.logs.String(), "reset main to the snapshot before the failed release")

	// The official library agrees (last: it skips when the library is missing).
	judge := testenv.IcechunkJudge(t)
	out, err := judge("tag", repoDir, "file://"+src+"/", j2.ReleaseID)
	require.NoError(t, err, "%s", out)
	var probe struct {
		Tags         []string `json:"tags"`
		Lookup       *string  `json:"lookup"`
		LookupError  *string  `json:"lookupError"`
		SessionError *string  `json:"sessionError"`
	}
	require.NoError(t, json.Unmarshal(out, &probe), "%s", out)
	assert.Equal(t, []string{j1.ReleaseID}, probe.Tags)
	assert.Nil(t, probe.Lookup, "the deleted tag does not resolve")
	assert.NotNil(t, probe.LookupError)
	assert.NotNil(t, probe.SessionError, "no session opens on the deleted tag")
	out, err = judge("read", repoDir, "file://"+src+"/")
	require.NoError(t, err)
	var rep judgeRead
	require.NoError(t, json.Unmarshal(out, &rep), "%s", out)
	assert.Equal(t, snap1.String(), rep.Refs["main"])
	checkJudged(t, rep.TagKeys[j1.ReleaseID], want1)
	checkJudged(t, rep.Keys, want1)
}
