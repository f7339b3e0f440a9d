package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/catalog"
)

// runSuite is the behavioural test suite every Store must pass. open
// returns a new, empty store.
func runSuite(t *testing.T, open func(t *testing.T) catalog.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s catalog.Store)
	}{
		{"EnsureReleaseIdempotent", testEnsureIdempotent},
		{"EnsureReleaseVersions", testEnsureVersions},
		{"EnsureReleaseInvalid", testEnsureInvalid},
		{"NotFound", testNotFound},
		{"StacItemAndBlobPath", testStacItemAndBlobPath},
		{"ReleaseTransitions", testReleaseTransitions},
		{"CompleteRelease", testCompleteRelease},
		{"Approval", testApproval},
		{"MarkReleasePruned", testMarkPruned},
		{"OptimisticLock", testOptimisticLock},
		{"JobsAndTasks", testJobsAndTasks},
		{"ConcurrentEnsureSameKey", testConcurrentEnsureSame},
		{"ConcurrentEnsureManyJobs", testConcurrentEnsureMany},
		{"ConcurrentClaim", testConcurrentClaim},
		{"ConcurrentTransitions", testConcurrentTransitions},
		{"CreateRun", testCreateRun},
		{"CreateRunAllOrNothing", testCreateRunAllOrNothing},
		{"ListJobs", testListJobs},
		{"TouchJob", testTouchJob},
		{"FindTasks", testFindTasks},
		{"CreateTasks", testCreateTasks},
		{"ListTasksBrief", testListTasksBrief},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			tc.fn(t, s)
		})
	}
}

// race runs fn(0), ..., fn(n-1) in n goroutines, released together, and
// waits for all of them.
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// ensure creates (or finds) the release of key(job) and fails the test on
// an error.
func ensure(t *testing.T, s catalog.Store, job string) *catalog.EnsureResult {
	t.Helper()
	res, err := s.EnsureRelease(ctxT(t), key(job))
	require.NoError(t, err)
	return res
}

func key(job string) catalog.ReleaseKey {
	return catalog.ReleaseKey{DatasetID: "era5", ResourceID: "t2m", JobID: job}
}

func assertUTC(t *testing.T, ts ...time.Time) {
	t.Helper()
	for _, x := range ts {
		assert.Equal(t, time.UTC, x.Location())
		assert.False(t, x.IsZero())
		assert.Equal(t, x, x.Truncate(time.Microsecond))
	}
}

func testEnsureIdempotent(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	first, err := s.EnsureRelease(ctx, key("job-1"))
	require.NoError(t, err)
	assert.True(t, first.AssetCreated)
	assert.True(t, first.ReleaseCreated)
	a, r := first.Asset, first.Release
	assert.Equal(t, "era5", a.DatasetID)
	assert.Equal(t, "t2m", a.ResourceID)
	assert.Equal(t, catalog.DataTypeZarr, a.DataType)
	assert.Equal(t, a.ID, r.AssetID)
	assert.Equal(t, "job-1", r.JobID)
	assert.Equal(t, 1, r.Version)
	assert.Equal(t, catalog.StatusPending, r.ProcessingStatus)
	assert.Equal(t, catalog.ApprovalPending, r.ApprovalState)
	assert.Equal(t, int64(1), r.Revision)
	assert.Nil(t, r.StacItemJSON)
	assert.Nil(t, r.CompletedAt)
	assertUTC(t, a.CreatedAt, a.UpdatedAt, r.CreatedAt, r.UpdatedAt)

	again, err := s.EnsureRelease(ctx, key("job-1"))
	require.NoError(t, err)
	assert.False(t, again.AssetCreated)
	assert.False(t, again.ReleaseCreated)
	assert.Equal(t, a, again.Asset)
	assert.Equal(t, r, again.Release)

	got, err := s.GetRelease(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, r, got)
	ga, err := s.GetAsset(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, a, ga)
	fa, err := s.FindAsset(ctx, "era5", "t2m")
	require.NoError(t, err)
	assert.Equal(t, a, fa)

	// Another resource of the same dataset is another asset.
	other, err := s.EnsureRelease(ctx, catalog.ReleaseKey{DatasetID: "era5", ResourceID: "tp", JobID: "job-1"})
	require.NoError(t, err)
	assert.True(t, other.AssetCreated)
	assert.NotEqual(t, a.ID, other.Asset.ID)
	assert.Equal(t, 1, other.Release.Version)

	// The same key with another data type conflicts.
	_, err = s.EnsureRelease(ctx, catalog.ReleaseKey{DatasetID: "era5", ResourceID: "t2m", JobID: "job-1", DataType: "cog"})
	assert.ErrorIs(t, err, catalog.ErrConflict)
}

func testEnsureVersions(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	var ids []string
	for i, job := range []string{"a", "b", "", "c"} {
		res := ensure(t, s, job)
		assert.Equal(t, i+1, res.Release.Version, "job %q", job)
		assert.Equal(t, i == 0, res.AssetCreated)
		ids = append(ids, res.Release.ID)
	}
	res := ensure(t, s, "b")
	assert.Equal(t, 2, res.Release.Version)
	list, err := s.ListReleases(ctx, res.Asset.ID)
	require.NoError(t, err)
	require.Len(t, list, 4)
	for i, r := range list {
		assert.Equal(t, i+1, r.Version)
		assert.Equal(t, ids[i], r.ID)
	}
	empty, err := s.ListReleases(ctx, "no-such-asset")
	require.NoError(t, err)
	assert.Empty(t, empty)
}

func testEnsureInvalid(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	for _, k := range []catalog.ReleaseKey{{ResourceID: "r"}, {DatasetID: "d"}, {}} {
		_, err := s.EnsureRelease(ctx, k)
		assert.ErrorIs(t, err, catalog.ErrInvalid, "%+v", k)
	}
}

func testNotFound(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	for name, fn := range map[string]func() error{
		"GetAsset":   func() error { _, err := s.GetAsset(ctx, "nope"); return err },
		"FindAsset":  func() error { _, err := s.FindAsset(ctx, "nope", "nope"); return err },
		"GetRelease": func() error { _, err := s.GetRelease(ctx, "nope"); return err },
		"UpdateStac": func() error { _, err := s.UpdateStacItemJSON(ctx, "nope", json.RawMessage(`{}`)); return err },
		"BlobPath":   func() error { _, err := s.SetBlobPath(ctx, "nope", "x"); return err },
		"Transition": func() error {
			_, err := s.TransitionRelease(ctx, "nope", catalog.Transition{To: catalog.StatusProcessing})
			return err
		},
		"Complete": func() error { _, err := s.CompleteRelease(ctx, "nope", catalog.Completion{}); return err },
		"Approval": func() error { _, err := s.SetApproval(ctx, "nope", catalog.ApprovalApproved); return err },
		"GetJob":   func() error { _, err := s.GetJob(ctx, "nope"); return err },
		"TransitionJob": func() error {
			_, err := s.TransitionJob(ctx, "nope", catalog.Transition{To: catalog.StatusProcessing})
			return err
		},
		"GetTask": func() error { _, err := s.GetTask(ctx, "nope"); return err },
		"CreateTask": func() error {
			_, err := s.CreateTask(ctx, catalog.NewTask{JobID: "nope", Type: "ref"})
			return err
		},
		"CreateJobRelease": func() error {
			_, err := s.CreateJob(ctx, catalog.NewJob{Type: "virtualize", ReleaseID: "nope"})
			return err
		},
		"ClaimNone": func() error { _, err := s.ClaimTask(ctx, catalog.Claim{}); return err },
	} {
		assert.ErrorIs(t, fn(), catalog.ErrNotFound, name)
	}
}

func testStacItemAndBlobPath(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	res := ensure(t, s, "j")
	id := res.Release.ID
	item := json.RawMessage(`{"type":"Feature","id":"era5-t2m","properties":{"datetime":null}}`)
	r, err := s.UpdateStacItemJSON(ctx, id, item)
	require.NoError(t, err)
	assert.JSONEq(t, string(item), string(r.StacItemJSON))
	assert.Equal(t, int64(2), r.Revision)
	assert.False(t, r.UpdatedAt.Before(res.Release.UpdatedAt))

	r, err = s.SetBlobPath(ctx, id, "refs/era5/t2m.json")
	require.NoError(t, err)
	assert.Equal(t, "refs/era5/t2m.json", r.BlobPath)
	assert.Equal(t, int64(3), r.Revision)

	got, err := s.GetRelease(ctx, id)
	require.NoError(t, err)
	assert.JSONEq(t, string(item), string(got.StacItemJSON))
	assert.Equal(t, "refs/era5/t2m.json", got.BlobPath)
	assert.Equal(t, catalog.StatusPending, got.ProcessingStatus, "caching the item changes no status")

	_, err = s.UpdateStacItemJSON(ctx, id, json.RawMessage(`{"broken"`))
	assert.ErrorIs(t, err, catalog.ErrInvalid)
}

func testReleaseTransitions(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	P, R, C, F := catalog.StatusPending, catalog.StatusProcessing, catalog.StatusCompleted, catalog.StatusFailed
	// path: the moves that bring a new release to the "from" state.
	paths := map[catalog.Status][]catalog.Status{P: nil, R: {R}, C: {R, C}, F: {F}}
	for _, from := range []catalog.Status{P, R, C, F} {
		for _, to := range []catalog.Status{P, R, C, F} {
			t.Run(fmt.Sprintf("%s-%s", from, to), func(t *testing.T) {
				res := ensure(t, s, fmt.Sprintf("%s-%s", from, to))
				id := res.Release.ID
				for _, st := range paths[from] {
					_, err := s.TransitionRelease(ctx, id, catalog.Transition{To: st, Error: "boom"})
					require.NoError(t, err)
				}
				r, err := s.TransitionRelease(ctx, id, catalog.Transition{To: to, Error: "disk full"})
				if !catalog.CanTransition(from, to) {
					require.ErrorIs(t, err, catalog.ErrIllegalTransition)
					var te *catalog.TransitionError
					require.ErrorAs(t, err, &te)
					assert.Equal(t, string(from), te.From)
					assert.Equal(t, string(to), te.To)
					got, err := s.GetRelease(ctx, id)
					require.NoError(t, err)
					assert.Equal(t, from, got.ProcessingStatus, "a refused move changes nothing")
					return
				}
				require.NoError(t, err)
				assert.Equal(t, to, r.ProcessingStatus)
				if to == F {
					assert.Equal(t, "disk full", r.Error)
				} else {
					assert.Empty(t, r.Error)
				}
				if to == C {
					require.NotNil(t, r.CompletedAt)
					assertUTC(t, *r.CompletedAt)
				}
			})
		}
	}
	// The table itself: COMPLETED is final, the others move on.
	assert.False(t, catalog.CanTransition(C, R))
	assert.False(t, catalog.CanTransition(C, F))
	assert.False(t, catalog.CanTransition(P, C))
	assert.True(t, catalog.CanTransition(F, R))
	res := ensure(t, s, "bad-status")
	_, err := s.TransitionRelease(ctx, res.Release.ID, catalog.Transition{To: "DONE"})
	assert.ErrorIs(t, err, catalog.ErrInvalid)
}

func testCompleteRelease(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	item := json.RawMessage(`{"type": "Feature", "id": "x"}`)
	for _, tc := range []struct {
		name    string
		path    []catalog.Status
		wantErr error
	}{
		{"from PENDING", nil, nil},
		{"from PROCESSING", []catalog.Status{catalog.StatusProcessing}, nil},
		{"again from COMPLETED", []catalog.Status{catalog.StatusProcessing, catalog.StatusCompleted}, nil},
		{"from FAILED", []catalog.Status{catalog.StatusFailed}, catalog.ErrIllegalTransition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := ensure(t, s, tc.name)
			id := res.Release.ID
			for _, st := range tc.path {
				_, err := s.TransitionRelease(ctx, id, catalog.Transition{To: st, Error: "x"})
				require.NoError(t, err)
			}
			r, err := s.CompleteRelease(ctx, id, catalog.Completion{BlobPath: "refs/a.json", StacItemJSON: item})
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				got, err := s.GetRelease(ctx, id)
				require.NoError(t, err)
				assert.Empty(t, got.BlobPath)
				assert.Nil(t, got.StacItemJSON)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, catalog.StatusCompleted, r.ProcessingStatus)
			assert.Equal(t, "refs/a.json", r.BlobPath)
			assert.JSONEq(t, string(item), string(r.StacItemJSON))
			assert.Empty(t, r.Error)
			require.NotNil(t, r.CompletedAt)
			got, err := s.GetRelease(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, r.Revision, got.Revision)
			assert.JSONEq(t, string(item), string(got.StacItemJSON))
		})
	}
	_, err := s.CompleteRelease(ctx, "whatever", catalog.Completion{StacItemJSON: json.RawMessage(`nope`)})
	assert.ErrorIs(t, err, catalog.ErrInvalid)
}

func testApproval(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	res := ensure(t, s, "approve")
	id := res.Release.ID
	_, err := s.SetApproval(ctx, id, catalog.ApprovalApproved)
	require.ErrorIs(t, err, catalog.ErrIllegalTransition, "not COMPLETED yet")
	_, err = s.CompleteRelease(ctx, id, catalog.Completion{BlobPath: "refs/x.json", StacItemJSON: json.RawMessage(`{}`)})
	require.NoError(t, err)
	_, err = s.SetApproval(ctx, id, catalog.ApprovalPending)
	require.ErrorIs(t, err, catalog.ErrInvalid)
	r, err := s.SetApproval(ctx, id, catalog.ApprovalApproved)
	require.NoError(t, err)
	assert.Equal(t, catalog.ApprovalApproved, r.ApprovalState)
	require.NotNil(t, r.ApprovalAt)

	// An approved release is frozen.
	_, err = s.SetApproval(ctx, id, catalog.ApprovalRejected)
	assert.ErrorIs(t, err, catalog.ErrIllegalTransition)
	_, err = s.UpdateStacItemJSON(ctx, id, json.RawMessage(`{"changed": true}`))
	assert.ErrorIs(t, err, catalog.ErrIllegalTransition)
	_, err = s.SetBlobPath(ctx, id, "refs/other.json")
	assert.ErrorIs(t, err, catalog.ErrIllegalTransition)
	_, err = s.CompleteRelease(ctx, id, catalog.Completion{BlobPath: "refs/other.json"})
	assert.ErrorIs(t, err, catalog.ErrIllegalTransition)
	got, err := s.GetRelease(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "refs/x.json", got.BlobPath)
	assert.JSONEq(t, `{}`, string(got.StacItemJSON))
}

func testMarkPruned(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	completed := func(job string, approval catalog.ApprovalState) *catalog.Release {
		res := ensure(t, s, job)
		r, err := s.CompleteRelease(ctx, res.Release.ID, catalog.Completion{BlobPath: "refs/" + job + "/combined.json", StacItemJSON: json.RawMessage(`{}`)})
		require.NoError(t, err)
		if approval != catalog.ApprovalPending {
			r, err = s.SetApproval(ctx, r.ID, approval)
			require.NoError(t, err)
		}
		return r
	}
	for _, approval := range []catalog.ApprovalState{catalog.ApprovalPending, catalog.ApprovalApproved, catalog.ApprovalRejected} {
		t.Run(string(approval), func(t *testing.T) {
			r := completed("prune-"+string(approval), approval)
			_, err := s.MarkReleasePruned(ctx, r.ID, r.Revision+5)
			require.ErrorIs(t, err, catalog.ErrConflict, "a stale revision")
			p, err := s.MarkReleasePruned(ctx, r.ID, r.Revision)
			require.NoError(t, err)
			require.NotNil(t, p.PrunedAt)
			assertUTC(t, *p.PrunedAt)
			assert.Empty(t, p.BlobPath)
			assert.Equal(t, r.Revision+1, p.Revision)
			assert.Equal(t, catalog.StatusCompleted, p.ProcessingStatus)
			assert.Equal(t, approval, p.ApprovalState)
			got, err := s.GetRelease(ctx, r.ID)
			require.NoError(t, err)
			assert.Equal(t, p.PrunedAt, got.PrunedAt)
			assert.Empty(t, got.BlobPath)

			again, err := s.MarkReleasePruned(ctx, r.ID, 0)
			require.NoError(t, err, "idempotent")
			assert.Equal(t, p.Revision, again.Revision)
			assert.Equal(t, p.PrunedAt, again.PrunedAt)

			// A pruned release changes no more.
			_, err = s.CompleteRelease(ctx, r.ID, catalog.Completion{BlobPath: "refs/again.json"})
			assert.ErrorIs(t, err, catalog.ErrIllegalTransition)
			_, err = s.SetBlobPath(ctx, r.ID, "refs/again.json")
			assert.ErrorIs(t, err, catalog.ErrIllegalTransition)
		})
	}
	t.Run("not COMPLETED", func(t *testing.T) {
		res := ensure(t, s, "prune-pending")
		_, err := s.MarkReleasePruned(ctx, res.Release.ID, 0)
		assert.ErrorIs(t, err, catalog.ErrIllegalTransition)
		_, err = s.TransitionRelease(ctx, res.Release.ID, catalog.Transition{To: catalog.StatusFailed, Error: "x"})
		require.NoError(t, err)
		_, err = s.MarkReleasePruned(ctx, res.Release.ID, 0)
		assert.ErrorIs(t, err, catalog.ErrIllegalTransition)
		got, err := s.GetRelease(ctx, res.Release.ID)
		require.NoError(t, err)
		assert.Nil(t, got.PrunedAt)
	})
	_, err := s.MarkReleasePruned(ctx, "nope", 0)
	assert.ErrorIs(t, err, catalog.ErrNotFound)
}

func testOptimisticLock(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	res := ensure(t, s, "lock")
	rev := res.Release.Revision
	r, err := s.TransitionRelease(ctx, res.Release.ID, catalog.Transition{To: catalog.StatusProcessing, IfRevision: rev})
	require.NoError(t, err)
	assert.Equal(t, rev+1, r.Revision)
	// A second writer holding the old revision loses.
	_, err = s.TransitionRelease(ctx, res.Release.ID, catalog.Transition{To: catalog.StatusFailed, IfRevision: rev})
	assert.ErrorIs(t, err, catalog.ErrConflict)
	_, err = s.CompleteRelease(ctx, res.Release.ID, catalog.Completion{BlobPath: "x", IfRevision: rev})
	assert.ErrorIs(t, err, catalog.ErrConflict)
	r, err = s.CompleteRelease(ctx, res.Release.ID, catalog.Completion{BlobPath: "x", IfRevision: rev + 1})
	require.NoError(t, err)
	assert.Equal(t, catalog.StatusCompleted, r.ProcessingStatus)
}

func testJobsAndTasks(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	res := ensure(t, s, "job-x")
	j, err := s.CreateJob(ctx, catalog.NewJob{ID: "job-x", Type: "virtualize", Stage: "ref", ReleaseID: res.Release.ID,
		Params: json.RawMessage(`{"dataset_id": "era5"}`)})
	require.NoError(t, err)
	assert.Equal(t, "job-x", j.ID)
	assert.Equal(t, catalog.StatusPending, j.Status)
	assert.Equal(t, res.Release.ID, j.ReleaseID)
	assert.JSONEq(t, `{"dataset_id": "era5"}`, string(j.Params))
	assertUTC(t, j.CreatedAt, j.UpdatedAt)
	_, err = s.CreateJob(ctx, catalog.NewJob{ID: "job-x", Type: "virtualize"})
	assert.ErrorIs(t, err, catalog.ErrConflict)
	_, err = s.CreateJob(ctx, catalog.NewJob{})
	assert.ErrorIs(t, err, catalog.ErrInvalid)
	_, err = s.CreateJob(ctx, catalog.NewJob{Type: "x", Params: json.RawMessage(`[1,`)})
	assert.ErrorIs(t, err, catalog.ErrInvalid)

	plain, err := s.CreateJob(ctx, catalog.NewJob{Type: "virtualize"})
	require.NoError(t, err)
	assert.NotEmpty(t, plain.ID)
	assert.JSONEq(t, `{}`, string(plain.Params))
	assert.Empty(t, plain.ReleaseID)

	j, err = s.TransitionJob(ctx, "job-x", catalog.Transition{To: catalog.StatusProcessing, Stage: "combine"})
	require.NoError(t, err)
	assert.Equal(t, 1, j.Attempts)
	assert.Equal(t, "combine", j.Stage)
	require.NotNil(t, j.StartedAt)
	j, err = s.TransitionJob(ctx, "job-x", catalog.Transition{To: catalog.StatusFailed, Error: "combine failed"})
	require.NoError(t, err)
	assert.Equal(t, "combine failed", j.Error)
	require.NotNil(t, j.FinishedAt)
	j, err = s.TransitionJob(ctx, "job-x", catalog.Transition{To: catalog.StatusProcessing})
	require.NoError(t, err)
	assert.Equal(t, 2, j.Attempts)
	assert.Empty(t, j.Error)
	assert.Nil(t, j.FinishedAt)
	j, err = s.TransitionJob(ctx, "job-x", catalog.Transition{To: catalog.StatusCompleted, Stage: "register",
		Result: json.RawMessage(`{"ok": true}`)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"ok": true}`, string(j.Result))
	_, err = s.TransitionJob(ctx, "job-x", catalog.Transition{To: catalog.StatusProcessing})
	assert.ErrorIs(t, err, catalog.ErrIllegalTransition)
	got, err := s.GetJob(ctx, "job-x")
	require.NoError(t, err)
	assert.Equal(t, j, got)

	var taskIDs []string
	for _, typ := range []string{"ref", "ref", "combine"} {
		tk, err := s.CreateTask(ctx, catalog.NewTask{JobID: "job-x", Type: typ, Stage: typ, Params: json.RawMessage(`{"n": 1}`)})
		require.NoError(t, err)
		assert.Equal(t, catalog.StatusPending, tk.Status)
		taskIDs = append(taskIDs, tk.ID)
	}
	_, err = s.CreateTask(ctx, catalog.NewTask{ID: taskIDs[0], JobID: "job-x", Type: "ref"})
	assert.ErrorIs(t, err, catalog.ErrConflict)
	_, err = s.CreateTask(ctx, catalog.NewTask{JobID: "job-x"})
	assert.ErrorIs(t, err, catalog.ErrInvalid)
	list, err := s.ListTasks(ctx, "job-x")
	require.NoError(t, err)
	require.Len(t, list, 3)
	for i, tk := range list {
		assert.Equal(t, taskIDs[i], tk.ID, "creation order")
	}

	// Claims take the oldest matching task.
	c, err := s.ClaimTask(ctx, catalog.Claim{Types: []string{"combine"}})
	require.NoError(t, err)
	assert.Equal(t, taskIDs[2], c.ID)
	assert.Equal(t, catalog.StatusProcessing, c.Status)
	assert.Equal(t, 1, c.Attempts)
	c, err = s.ClaimTask(ctx, catalog.Claim{JobID: "job-x"})
	require.NoError(t, err)
	assert.Equal(t, taskIDs[0], c.ID)
	_, err = s.ClaimTask(ctx, catalog.Claim{JobID: plain.ID})
	assert.ErrorIs(t, err, catalog.ErrNotFound)

	// Failed, requeued, and out of attempts.
	_, err = s.TransitionTask(ctx, c.ID, catalog.Transition{To: catalog.StatusFailed, Error: "timeout"})
	require.NoError(t, err)
	_, err = s.TransitionTask(ctx, c.ID, catalog.Transition{To: catalog.StatusPending})
	require.NoError(t, err)
	c2, err := s.ClaimTask(ctx, catalog.Claim{JobID: "job-x", MaxAttempts: 2})
	require.NoError(t, err)
	assert.Equal(t, taskIDs[0], c2.ID)
	assert.Equal(t, 2, c2.Attempts)
	done, err := s.TransitionTask(ctx, c2.ID, catalog.Transition{To: catalog.StatusCompleted, Result: json.RawMessage(`{"ref_url": "refs/a.json"}`)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"ref_url": "refs/a.json"}`, string(done.Result))
	require.NotNil(t, done.FinishedAt)
	_, err = s.TransitionTask(ctx, c2.ID, catalog.Transition{To: catalog.StatusProcessing})
	assert.ErrorIs(t, err, catalog.ErrIllegalTransition)
	gt, err := s.GetTask(ctx, c2.ID)
	require.NoError(t, err)
	assert.Equal(t, done, gt)
	c3, err := s.ClaimTask(ctx, catalog.Claim{})
	require.NoError(t, err)
	assert.Equal(t, taskIDs[1], c3.ID)
}

const racers = 16

func testConcurrentEnsureSame(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	results := make([]*catalog.EnsureResult, racers)
	errs := make([]error, racers)
	race(racers, func(i int) {
		results[i], errs[i] = s.EnsureRelease(ctx, key("race"))
	})
	assetsCreated, releasesCreated := 0, 0
	for i := range racers {
		require.NoError(t, errs[i])
		assert.Equal(t, results[0].Asset.ID, results[i].Asset.ID)
		assert.Equal(t, results[0].Release.ID, results[i].Release.ID)
		if results[i].AssetCreated {
			assetsCreated++
		}
		if results[i].ReleaseCreated {
			releasesCreated++
		}
	}
	assert.Equal(t, 1, assetsCreated)
	assert.Equal(t, 1, releasesCreated)
	list, err := s.ListReleases(ctx, results[0].Asset.ID)
	require.NoError(t, err)
	assert.Len(t, list, 1)
}

func testConcurrentEnsureMany(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	errs := make([]error, racers)
	race(racers, func(i int) {
		_, errs[i] = s.EnsureRelease(ctx, key(fmt.Sprintf("job-%02d", i)))
	})
	for _, err := range errs {
		require.NoError(t, err)
	}
	a, err := s.FindAsset(ctx, "era5", "t2m")
	require.NoError(t, err)
	list, err := s.ListReleases(ctx, a.ID)
	require.NoError(t, err)
	require.Len(t, list, racers)
	jobs := map[string]bool{}
	for i, r := range list {
		assert.Equal(t, i+1, r.Version, "versions are 1..N without gaps or duplicates")
		jobs[r.JobID] = true
	}
	assert.Len(t, jobs, racers)
}

func testConcurrentClaim(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	j, err := s.CreateJob(ctx, catalog.NewJob{Type: "virtualize"})
	require.NoError(t, err)
	const tasks = 24
	for range tasks {
		_, err := s.CreateTask(ctx, catalog.NewTask{JobID: j.ID, Type: "ref"})
		require.NoError(t, err)
	}
	var mu sync.Mutex
	claimed := map[string]int{}
	race(6, func(i int) {
		for {
			tk, err := s.ClaimTask(ctx, catalog.Claim{JobID: j.ID})
			if errors.Is(err, catalog.ErrNotFound) {
				return
			}
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			claimed[tk.ID]++
			mu.Unlock()
			_, err = s.TransitionTask(ctx, tk.ID, catalog.Transition{To: catalog.StatusCompleted})
			assert.NoError(t, err)
		}
	})
	assert.Len(t, claimed, tasks)
	for id, n := range claimed {
		assert.Equal(t, 1, n, "task %s claimed %d times", id, n)
	}
	list, err := s.ListTasks(ctx, j.ID)
	require.NoError(t, err)
	for _, tk := range list {
		assert.Equal(t, catalog.StatusCompleted, tk.Status)
		assert.Equal(t, 1, tk.Attempts)
	}
}

// testConcurrentTransitions races workers moving one release from
// PENDING to PROCESSING: exactly one wins, the others see an illegal move.
func testConcurrentTransitions(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	res := ensure(t, s, "move")
	errs := make([]error, racers)
	race(racers, func(i int) {
		_, errs[i] = s.TransitionRelease(ctx, res.Release.ID, catalog.Transition{To: catalog.StatusProcessing})
	})
	var wins, lost []int
	for i, err := range errs {
		if err == nil {
			wins = append(wins, i)
		} else {
			assert.ErrorIs(t, err, catalog.ErrIllegalTransition)
			lost = append(lost, i)
		}
	}
	sort.Ints(wins)
	assert.Len(t, wins, 1)
	assert.Len(t, lost, racers-1)
	got, err := s.GetRelease(ctx, res.Release.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(2), got.Revision)
}

// runJob builds the Job of a CreateRun, naming the release in its params
// (as the pipeline's submit does).
func runJob(id string) func(*catalog.EnsureResult) (catalog.NewJob, error) {
	return func(res *catalog.EnsureResult) (catalog.NewJob, error) {
		return catalog.NewJob{ID: id, Type: "virtualize", Stage: "scan", SubmittedBy: "alice",
			Params: json.RawMessage(`{"release_id":"` + res.Release.ID + `"}`)}, nil
	}
}

func testCreateRun(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	k := key("job-1")
	k.SubmittedBy = "alice"
	res, j, err := s.CreateRun(ctx, k, runJob("job-1"))
	require.NoError(t, err)
	assert.True(t, res.AssetCreated)
	assert.True(t, res.ReleaseCreated)
	assert.Equal(t, "alice", res.Release.SubmittedBy)
	assert.Equal(t, "job-1", res.Release.JobID)
	assert.Equal(t, "job-1", j.ID)
	assert.Equal(t, res.Release.ID, j.ReleaseID)
	assert.Equal(t, "alice", j.SubmittedBy)
	assert.Equal(t, catalog.StatusPending, j.Status)
	assert.JSONEq(t, `{"release_id":"`+res.Release.ID+`"}`, string(j.Params))

	gj, err := s.GetJob(ctx, "job-1")
	require.NoError(t, err)
	assert.Equal(t, j, gj)
	gr, err := s.GetRelease(ctx, res.Release.ID)
	require.NoError(t, err)
	assert.Equal(t, res.Release, gr)
	assert.Equal(t, "alice", gr.SubmittedBy)

	// A second run of the same asset: the next version, the same asset.
	k2 := key("job-2")
	res2, j2, err := s.CreateRun(ctx, k2, runJob("job-2"))
	require.NoError(t, err)
	assert.False(t, res2.AssetCreated)
	assert.Equal(t, res.Asset.ID, res2.Asset.ID)
	assert.Equal(t, 2, res2.Release.Version)
	assert.Empty(t, res2.Release.SubmittedBy)
	assert.Equal(t, res2.Release.ID, j2.ReleaseID)

	// EnsureRelease records submitted_by on a new release only.
	k3 := key("job-1")
	k3.SubmittedBy = "mallory"
	again, err := s.EnsureRelease(ctx, k3)
	require.NoError(t, err)
	assert.Equal(t, "alice", again.Release.SubmittedBy)
}

func testCreateRunAllOrNothing(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	_, _, err := s.CreateRun(ctx, key("job-1"), runJob("job-1"))
	require.NoError(t, err)
	boom := errors.New("boom")
	nul := catalog.ReleaseKey{DatasetID: "era5", ResourceID: "t2m", JobID: "job-\x00"}
	for _, tc := range []struct {
		name    string
		key     catalog.ReleaseKey
		job     func(*catalog.EnsureResult) (catalog.NewJob, error)
		wantErr error
	}{
		{"existing job id", catalog.ReleaseKey{DatasetID: "new-ds", ResourceID: "r", JobID: "job-9"}, runJob("job-1"), catalog.ErrConflict},
		{"existing job id, existing asset", key("job-9"), runJob("job-1"), catalog.ErrConflict},
		{"builder fails", catalog.ReleaseKey{DatasetID: "new-ds", ResourceID: "r", JobID: "job-9"},
			func(*catalog.EnsureResult) (catalog.NewJob, error) { return catalog.NewJob{}, boom }, boom},
		{"NUL in dataset_id", catalog.ReleaseKey{DatasetID: "new\x00ds", ResourceID: "r", JobID: "job-9"}, runJob("job-9"), catalog.ErrInvalid},
		{"NUL in job_id of the key", nul, runJob("job-9"), catalog.ErrInvalid},
		{"NUL in submitted_by", catalog.ReleaseKey{DatasetID: "new-ds", ResourceID: "r", JobID: "job-9", SubmittedBy: "a\x00"}, runJob("job-9"), catalog.ErrInvalid},
		{"NUL in the job's params", catalog.ReleaseKey{DatasetID: "new-ds", ResourceID: "r", JobID: "job-9"},
			func(*catalog.EnsureResult) (catalog.NewJob, error) {
				return catalog.NewJob{ID: "job-9", Type: "virtualize", Params: json.RawMessage(`{"concat_dim":"ti\u0000me"}`)}, nil
			}, catalog.ErrInvalid},
		{"NUL in the job's id", catalog.ReleaseKey{DatasetID: "new-ds", ResourceID: "r", JobID: "job-9"}, runJob("job\x009"), catalog.ErrInvalid},
		{"no job type", catalog.ReleaseKey{DatasetID: "new-ds", ResourceID: "r", JobID: "job-9"},
			func(*catalog.EnsureResult) (catalog.NewJob, error) { return catalog.NewJob{ID: "job-9"}, nil }, catalog.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.CreateRun(ctx, tc.key, tc.job)
			require.ErrorIs(t, err, tc.wantErr)
			_, err = s.FindAsset(ctx, "new-ds", "r")
			assert.ErrorIs(t, err, catalog.ErrNotFound, "no asset left behind")
			a, err := s.FindAsset(ctx, "era5", "t2m")
			require.NoError(t, err)
			rels, err := s.ListReleases(ctx, a.ID)
			require.NoError(t, err)
			assert.Len(t, rels, 1, "no release left behind")
			_, err = s.GetJob(ctx, "job-9")
			assert.ErrorIs(t, err, catalog.ErrNotFound, "no job created")
		})
	}
	// A NUL in a JSON string is refused by CreateJob too; an escaped
	// backslash followed by u0000 is not a NUL.
	_, err = s.CreateJob(ctx, catalog.NewJob{Type: "virtualize", Params: json.RawMessage(`{"x":"\u0000"}`)})
	assert.ErrorIs(t, err, catalog.ErrInvalid)
	j, err := s.CreateJob(ctx, catalog.NewJob{Type: "virtualize", Params: json.RawMessage(`{"x":"\\u0000"}`)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"x":"\\u0000"}`, string(j.Params))
}

// listCase is one filter of a listing and the ids it must return, in order.
type listCase[F any] struct {
	name string
	f    F
	want []string
}

// checkListing runs each case's filter through list and compares the ids
// of what it returns.
func checkListing[F, R any](t *testing.T, list func(F) ([]R, error), id func(R) string, cases []listCase[F]) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := list(tc.f)
			require.NoError(t, err)
			ids := []string{}
			for _, r := range got {
				ids = append(ids, id(r))
			}
			assert.Equal(t, tc.want, ids)
		})
	}
}

func testListJobs(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	var ids []string
	for i := range 4 {
		j, err := s.CreateJob(ctx, catalog.NewJob{ID: fmt.Sprintf("lj-%d", i), Type: "virtualize"})
		require.NoError(t, err)
		ids = append(ids, j.ID)
		time.Sleep(2 * time.Millisecond) // distinct updated_at
	}
	_, err := s.TransitionJob(ctx, ids[1], catalog.Transition{To: catalog.StatusProcessing})
	require.NoError(t, err)
	cut := time.Now()
	time.Sleep(2 * time.Millisecond)
	_, err = s.TransitionJob(ctx, ids[2], catalog.Transition{To: catalog.StatusProcessing})
	require.NoError(t, err)
	checkListing(t, func(f catalog.JobFilter) ([]*catalog.Job, error) { return s.ListJobs(ctx, f) },
		func(j *catalog.Job) string { return j.ID }, []listCase[catalog.JobFilter]{
			{"all, oldest change first", catalog.JobFilter{}, []string{ids[0], ids[3], ids[1], ids[2]}},
			{"pending", catalog.JobFilter{Status: catalog.StatusPending}, []string{ids[0], ids[3]}},
			{"processing", catalog.JobFilter{Status: catalog.StatusProcessing}, []string{ids[1], ids[2]}},
			{"processing before cut", catalog.JobFilter{Status: catalog.StatusProcessing, UpdatedBefore: cut}, []string{ids[1]}},
			{"limit", catalog.JobFilter{Limit: 1}, []string{ids[0]}},
			{"none", catalog.JobFilter{Status: catalog.StatusCompleted}, []string{}},
		})
	_, err = s.ListJobs(ctx, catalog.JobFilter{Status: "BOGUS"})
	assert.ErrorIs(t, err, catalog.ErrInvalid)
}

func testTouchJob(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	j, err := s.CreateJob(ctx, catalog.NewJob{Type: "virtualize", Params: json.RawMessage(`{"a":1}`)})
	require.NoError(t, err)
	time.Sleep(2 * time.Millisecond)
	// Of racing touches of one revision, exactly one succeeds.
	var wins, conflicts int
	var mu sync.Mutex
	race(8, func(i int) {
		_, err := s.TouchJob(ctx, j.ID, j.Revision)
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			wins++
		} else if assert.ErrorIs(t, err, catalog.ErrConflict) {
			conflicts++
		}
	})
	assert.Equal(t, 1, wins)
	assert.Equal(t, 7, conflicts)
	got, err := s.GetJob(ctx, j.ID)
	require.NoError(t, err)
	assert.Equal(t, j.Revision+1, got.Revision)
	assert.True(t, got.UpdatedAt.After(j.UpdatedAt))
	assert.Equal(t, catalog.StatusPending, got.Status)
	assert.JSONEq(t, `{"a":1}`, string(got.Params))
	assertUTC(t, got.UpdatedAt)
	_, err = s.TouchJob(ctx, "no-such-job", 1)
	assert.ErrorIs(t, err, catalog.ErrNotFound)
}

func testFindTasks(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	j, err := s.CreateJob(ctx, catalog.NewJob{ID: "ft", Type: "virtualize"})
	require.NoError(t, err)
	for i := range 4 {
		typ := "ref"
		if i == 3 {
			typ = "gate"
		}
		_, err := s.CreateTask(ctx, catalog.NewTask{ID: fmt.Sprintf("ft/%d", i), JobID: j.ID, Type: typ})
		require.NoError(t, err)
	}
	// Started in the order 2, 0, 3; task 1 never starts.
	for _, id := range []string{"ft/2", "ft/0", "ft/3"} {
		_, err := s.TransitionTask(ctx, id, catalog.Transition{To: catalog.StatusProcessing})
		require.NoError(t, err)
		time.Sleep(2 * time.Millisecond)
	}
	cut := time.Now()
	time.Sleep(2 * time.Millisecond)
	_, err = s.TransitionTask(ctx, "ft/2", catalog.Transition{To: catalog.StatusFailed, Error: "x"})
	require.NoError(t, err)
	_, err = s.TransitionTask(ctx, "ft/2", catalog.Transition{To: catalog.StatusProcessing})
	require.NoError(t, err) // restarted after the cut
	checkListing(t, func(f catalog.TaskFilter) ([]*catalog.Task, error) { return s.FindTasks(ctx, f) },
		func(tk *catalog.Task) string { return tk.ID }, []listCase[catalog.TaskFilter]{
			{"processing, by start", catalog.TaskFilter{Status: catalog.StatusProcessing}, []string{"ft/0", "ft/3", "ft/2"}},
			{"types", catalog.TaskFilter{Status: catalog.StatusProcessing, Types: []string{"ref"}}, []string{"ft/0", "ft/2"}},
			{"started before", catalog.TaskFilter{Status: catalog.StatusProcessing, StartedBefore: cut}, []string{"ft/0", "ft/3"}},
			{"updated before", catalog.TaskFilter{UpdatedBefore: cut, Types: []string{"ref"}}, []string{"ft/0", "ft/1"}},
			{"pending", catalog.TaskFilter{Status: catalog.StatusPending}, []string{"ft/1"}},
			{"limit", catalog.TaskFilter{Status: catalog.StatusProcessing, Limit: 2}, []string{"ft/0", "ft/3"}},
			{"none", catalog.TaskFilter{Status: catalog.StatusCompleted}, []string{}},
		})
	_, err = s.FindTasks(ctx, catalog.TaskFilter{Status: "BOGUS"})
	assert.ErrorIs(t, err, catalog.ErrInvalid)
}

// CreateTasks stores new tasks in creation order, skips existing IDs and
// refuses mixed or invalid batches whole.
func testCreateTasks(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	b, ok := s.(catalog.TaskBatcher)
	require.True(t, ok, "the catalog's stores batch task creation")
	_, err := s.CreateJob(ctx, catalog.NewJob{ID: "job-b", Type: "virtualize"})
	require.NoError(t, err)
	_, err = s.CreateTask(ctx, catalog.NewTask{ID: "job-b/ref/1", JobID: "job-b", Type: "ref", Stage: "ref",
		Params: json.RawMessage(`{"old": true}`)})
	require.NoError(t, err)
	n := catalog.MaxTaskBatch + 5 // two statements
	var ts []catalog.NewTask
	for i := range n {
		ts = append(ts, catalog.NewTask{ID: fmt.Sprintf("job-b/ref/%d", i), JobID: "job-b", Type: "ref", Stage: "ref",
			Params: json.RawMessage(fmt.Sprintf(`{"i": %d}`, i))})
	}
	created, err := b.CreateTasks(ctx, ts)
	require.NoError(t, err)
	assert.Equal(t, n-1, created)
	all, err := s.ListTasks(ctx, "job-b")
	require.NoError(t, err)
	require.Len(t, all, n)
	assert.Equal(t, "job-b/ref/1", all[0].ID)
	assert.JSONEq(t, `{"old": true}`, string(all[0].Params), "an existing task is kept")
	assert.Equal(t, "job-b/ref/0", all[1].ID)
	assert.Equal(t, "job-b/ref/2", all[2].ID)
	assert.Equal(t, fmt.Sprintf("job-b/ref/%d", n-1), all[n-1].ID)
	assert.JSONEq(t, `{"i": 2}`, string(all[2].Params))
	assert.Equal(t, catalog.StatusPending, all[2].Status)
	assert.Equal(t, int64(1), all[2].Revision)

	again, err := b.CreateTasks(ctx, ts[:10])
	require.NoError(t, err)
	assert.Zero(t, again)

	_, err = s.CreateJob(ctx, catalog.NewJob{ID: "job-c", Type: "virtualize"})
	require.NoError(t, err)
	_, err = b.CreateTasks(ctx, []catalog.NewTask{{ID: "c1", JobID: "job-c", Type: "ref"}, {ID: "c2", JobID: "job-b", Type: "ref"}})
	assert.ErrorIs(t, err, catalog.ErrInvalid)
	_, err = b.CreateTasks(ctx, []catalog.NewTask{{ID: "c3", JobID: "job-c", Type: "ref", Params: json.RawMessage(`[1,`)}})
	assert.ErrorIs(t, err, catalog.ErrInvalid)
	_, err = b.CreateTasks(ctx, []catalog.NewTask{{ID: "c4", JobID: "no-such-job", Type: "ref"}})
	assert.ErrorIs(t, err, catalog.ErrNotFound)
	cs, err := s.ListTasks(ctx, "job-c")
	require.NoError(t, err)
	assert.Empty(t, cs)
}

func testListTasksBrief(t *testing.T, s catalog.Store) {
	ctx := ctxT(t)
	l, ok := s.(catalog.BriefTaskLister)
	require.True(t, ok, "the catalog's stores list tasks briefly")
	_, err := s.CreateJob(ctx, catalog.NewJob{ID: "job-l", Type: "virtualize"})
	require.NoError(t, err)
	for _, nt := range []catalog.NewTask{
		{ID: "job-l/gate", JobID: "job-l", Type: "gate", Stage: "ref", Params: json.RawMessage(`{"index":1}`)},
		{ID: "job-l/ok", JobID: "job-l", Type: "ref", Stage: "ref", Params: json.RawMessage(`{"url":"a"}`)},
		{ID: "job-l/bad", JobID: "job-l", Type: "ref", Stage: "ref", Params: json.RawMessage(`{"url":"b"}`)},
	} {
		_, err := s.CreateTask(ctx, nt)
		require.NoError(t, err)
	}
	move := func(id string, to catalog.Status, result string) {
		_, err := s.TransitionTask(ctx, id, catalog.Transition{To: catalog.StatusProcessing})
		require.NoError(t, err)
		_, err = s.TransitionTask(ctx, id, catalog.Transition{To: to, Result: json.RawMessage(result), Error: "e"})
		require.NoError(t, err)
	}
	move("job-l/gate", catalog.StatusCompleted, `{"tasks":2}`)
	move("job-l/ok", catalog.StatusCompleted, `{"success":true}`)
	move("job-l/bad", catalog.StatusFailed, `{"success":false}`)
	full, err := s.ListTasks(ctx, "job-l")
	require.NoError(t, err)
	brief, err := l.ListTasksBrief(ctx, "job-l", []string{"gate"})
	require.NoError(t, err)
	require.Len(t, brief, len(full))
	tests := []struct {
		id             string
		params, result string
	}{
		{"job-l/gate", `{"index":1}`, `{"tasks":2}`}, // a full type: both kept
		{"job-l/ok", "", ""},                         // neither
		{"job-l/bad", "", `{"success":false}`},       // a FAILED task's result
	}
	for i, tc := range tests {
		b, f := brief[i], full[i]
		assert.Equal(t, tc.id, b.ID)
		if tc.params == "" {
			assert.Nil(t, b.Params, tc.id)
		} else {
			assert.JSONEq(t, tc.params, string(b.Params), tc.id)
		}
		if tc.result == "" {
			assert.Nil(t, b.Result, tc.id)
		} else {
			assert.JSONEq(t, tc.result, string(b.Result), tc.id)
		}
		// The rest is ListTasks'.
		b.Params, b.Result = f.Params, f.Result
		assert.Equal(t, f, b, tc.id)
	}
}
