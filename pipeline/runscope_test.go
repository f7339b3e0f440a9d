package pipeline_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/engine"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/pipeline"
)

// runS20 runs the "s20"/"ow" asset on src and waits for a failed job's
// cleanup.
func runS20(t *testing.T, r *plRun, src string, overwrite bool) *catalog.Job {
	t.Helper()
	j := r.run(t, pipeline.SubmitRequest{DatasetID: "s20", ResourceID: "ow", SourceURL: src, DataType: "zarr",
		ProcessingOptions: pipeline.ProcessingOptions{ConcatDim: "time", Overwrite: overwrite}}, 90*time.Second)
	if j.Status == catalog.StatusFailed {
		waitCleanedUp(t, r.svc.Store, j.ID)
	}
	return j
}

// waitCleanedUp waits for the engine's marker that a FAILED job's failure
// hook (the cleanup) has run to the end: the job turns FAILED first.
func waitCleanedUp(t *testing.T, store catalog.Store, jobID string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		tasks, err := store.ListTasks(context.Background(), jobID)
		require.NoError(t, err)
		for _, tk := range tasks {
			// The marker is the hook's lease: COMPLETED once the hook has
			// run to the end (and the job is FAILED only then).
			if tk.Type == "engine.failure" && tk.Status == catalog.StatusCompleted {
				return
			}
		}
		require.False(t, time.Now().After(deadline), "job %s: no failure marker", jobID)
		time.Sleep(10 * time.Millisecond)
	}
}

// hashTree maps every file under dir (relative path) to its SHA-256.
func hashTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(h[:])
		return nil
	})
	if os.IsNotExist(err) {
		return out
	}
	require.NoError(t, err)
	return out
}

// withBadFile copies the sample and adds tas_1870.nc, a netCDF-4 file
// whose grid differs: the job fails at combine, after every ref is written.
func withBadFile(t *testing.T) string {
	t.Helper()
	dir, _ := testenv.CopySample(t, "..")
	b, err := os.ReadFile(filepath.Join("..", "testdata", "hdf5", "nc4_basic.nc"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tas_1870.nc"), b, 0o644))
	return dir
}

// TestFailedRunsKeepCompletedRelease is reproduction (1) of issue 11 on
// local files: a failed overwrite and a failed submit of another source on
// the same ids leave every object of the COMPLETED Release v1 as it was.
func TestFailedRunsKeepCompletedRelease(t *testing.T) {
	forEachStore(t, func(t *testing.T, store catalog.Store) {
		ctx := context.Background()
		r := startRefs(t, store)
		refs := r.out
		src, files := testenv.CopySample(t, "..")

		v1 := runS20(t, r, src, false)
		require.Equal(t, catalog.StatusCompleted, v1.Status, v1.Error)
		v1Dir := filepath.Join(refs, "s20", "ow", v1.ReleaseID)
		v1Hashes := hashTree(t, v1Dir)
		require.Len(t, v1Hashes, len(files)+1, "a reference per file and combined.json, in v1's own folder")
		rel1, err := store.GetRelease(ctx, v1.ReleaseID)
		require.NoError(t, err)
		assert.Equal(t, filepath.Join(v1Dir, "combined.json"), rel1.BlobPath)

		// The source gains an incompatible file; overwrite fails at combine.
		require.NoError(t, os.WriteFile(filepath.Join(src, "tas_1870.nc"),
			must(os.ReadFile(filepath.Join("..", "testdata", "hdf5", "nc4_basic.nc"))), 0o644))
		v2 := runS20(t, r, src, true)
		require.Equal(t, catalog.StatusFailed, v2.Status)
		assert.Contains(t, v2.Error, "stage combine")
		assert.Equal(t, v1Hashes, hashTree(t, v1Dir), "v1 is byte-identical after the failed overwrite")
		assert.Empty(t, hashTree(t, filepath.Join(refs, "s20", "ow", v2.ReleaseID)), "the failed run left nothing")

		// Another source on the same ids, without overwrite: fails too.
		v3 := runS20(t, r, withBadFile(t), false)
		require.Equal(t, catalog.StatusFailed, v3.Status)
		assert.NotEqual(t, v1.ReleaseID, v3.ReleaseID)
		assert.Equal(t, v1Hashes, hashTree(t, v1Dir), "v1 is byte-identical after the failed other-source run")
		assert.Empty(t, hashTree(t, filepath.Join(refs, "s20", "ow", v3.ReleaseID)))

		got, err := store.GetRelease(ctx, v1.ReleaseID)
		require.NoError(t, err)
		assert.Equal(t, catalog.StatusCompleted, got.ProcessingStatus)
		assert.Equal(t, rel1.BlobPath, got.BlobPath)
		checkCombined(t, got.BlobPath, files)
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestOverlappingRuns runs two runs of the same ids at once, one that
// completes and one that fails at combine: neither touches the other's
// folder, and the completed one is whole.
func TestOverlappingRuns(t *testing.T) {
	forEachStore(t, overlappingRuns)
}

func overlappingRuns(t *testing.T, store catalog.Store) {
	r := startRefs(t, store)
	refs := r.out
	good, files := testenv.CopySample(t, "..")
	bad := withBadFile(t)
	var wg sync.WaitGroup
	jobs := make([]*catalog.Job, 2)
	for i, src := range []string{good, bad} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jobs[i] = runS20(t, r, src, true)
		}()
	}
	wg.Wait()
	require.NotNil(t, jobs[0])
	require.NotNil(t, jobs[1])
	require.Equal(t, catalog.StatusCompleted, jobs[0].Status, jobs[0].Error)
	require.Equal(t, catalog.StatusFailed, jobs[1].Status)
	okDir := filepath.Join(refs, "s20", "ow", jobs[0].ReleaseID)
	h := hashTree(t, okDir)
	assert.Len(t, h, len(files)+1)
	assert.Empty(t, hashTree(t, filepath.Join(refs, "s20", "ow", jobs[1].ReleaseID)))
	assert.Len(t, hashTree(t, filepath.Join(refs, "s20", "ow")), len(files)+1, "nothing else in the asset folder")
	checkCombined(t, filepath.Join(okDir, "combined.json"), files)
}

// TestFailureCleanupIsRecorded drives the failure cleanup directly: it
// removes what the run's tasks recorded — also an object whose task never
// finished (a crash mid-write) — and never an object outside the run's
// folder or one a COMPLETED Release records.
func TestFailureCleanupIsRecorded(t *testing.T) {
	ctx := context.Background()
	store := catalog.NewMemory()
	dir := t.TempDir()
	deps := &pipeline.Deps{Store: store, Opener: &blobio.Opener{}}
	def := pipeline.NewDefinition(deps)
	write := func(p string) string {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(p), 0o644))
		return p
	}
	newJob := func(id, out string) *catalog.Job {
		ens, err := store.EnsureRelease(ctx, catalog.ReleaseKey{DatasetID: "d", ResourceID: "r", JobID: id})
		require.NoError(t, err)
		params, _ := json.Marshal(pipeline.JobParams{DatasetID: "d", ResourceID: "r", SourceURL: "/src", ConcatDim: "time",
			OutURL: out, ReleaseID: ens.Release.ID})
		j, err := store.CreateJob(ctx, catalog.NewJob{ID: id, Type: pipeline.JobType, ReleaseID: ens.Release.ID, Params: params})
		require.NoError(t, err)
		return j
	}
	task := func(j *catalog.Job, typ string, i int, params any, status catalog.Status) {
		b, _ := json.Marshal(params)
		tk, err := store.CreateTask(ctx, catalog.NewTask{ID: engine.TaskID(j.ID, typ, i), JobID: j.ID, Type: typ, Stage: typ, Params: b})
		require.NoError(t, err)
		if status != catalog.StatusPending {
			_, err = store.TransitionTask(ctx, tk.ID, catalog.Transition{To: catalog.StatusProcessing})
			require.NoError(t, err)
		}
		if status == catalog.StatusCompleted || status == catalog.StatusFailed {
			_, err = store.TransitionTask(ctx, tk.ID, catalog.Transition{To: status, Error: "x"})
			require.NoError(t, err)
		}
	}

	// A COMPLETED release whose run shares a folder with the failing one
	// (vzarr run --out DIR, or references from before run folders).
	shared := filepath.Join(dir, "shared")
	j1 := newJob("j1", shared)
	keptRef := write(filepath.Join(shared, "a.json"))
	task(j1, pipeline.StageRef, 0, pipeline.RefParams{NCURL: "/src/a.nc", RefURL: keptRef}, catalog.StatusCompleted)
	_, err := store.CompleteRelease(ctx, j1.ReleaseID, catalog.Completion{BlobPath: "x"})
	require.NoError(t, err)

	// The failing run: its own folder, and one task whose params name the
	// shared folder (it can happen only by corruption; still refused).
	own := filepath.Join(dir, "own")
	j2 := newJob("j2", own)
	done := write(filepath.Join(own, "b.json"))
	crashed := write(filepath.Join(own, "sub", "c.json"))
	combined := write(filepath.Join(own, "combined.json"))
	// A worker killed while writing c.json leaves blobio's temporary sibling.
	tmp := write(filepath.Join(own, "sub", ".c.json.tmp-12345"))
	outside := write(filepath.Join(dir, "elsewhere.json"))
	notMine := write(filepath.Join(own, "unrecorded.json"))
	task(j2, pipeline.StageRef, 0, pipeline.RefParams{NCURL: "/src/b.nc", RefURL: done}, catalog.StatusCompleted)
	task(j2, pipeline.StageRef, 1, pipeline.RefParams{NCURL: "/src/c.nc", RefURL: crashed}, catalog.StatusProcessing)
	task(j2, pipeline.StageRef, 2, pipeline.RefParams{NCURL: "/src/d.nc", RefURL: outside}, catalog.StatusFailed)
	task(j2, pipeline.StageRef, 3, pipeline.RefParams{NCURL: "/src/e.nc", RefURL: filepath.Join(own, "never.json")}, catalog.StatusPending)
	task(j2, pipeline.StageCombine, 0, pipeline.CombineParams{DatasetID: "d", RefURLs: []string{done}, ConcatDim: "time",
		CombinedRefURL: combined}, catalog.StatusFailed)
	require.NoError(t, def.OnFailure(ctx, j2, &engine.Failure{Stage: pipeline.StageCombine, Error: "boom"}))

	for _, tc := range []struct {
		path   string
		exists bool
	}{
		{done, false}, {crashed, false}, {combined, false}, {tmp, false},
		{outside, true}, {notMine, true}, {keptRef, true},
	} {
		_, err := os.Stat(tc.path)
		assert.Equal(t, tc.exists, err == nil, strings.TrimPrefix(tc.path, dir))
	}
	rel, err := store.GetRelease(ctx, j2.ReleaseID)
	require.NoError(t, err)
	assert.Equal(t, catalog.StatusFailed, rel.ProcessingStatus)

	// The same cleanup in the shared folder spares the COMPLETED run's object.
	j3 := newJob("j3", shared)
	task(j3, pipeline.StageRef, 0, pipeline.RefParams{NCURL: "/src/a.nc", RefURL: keptRef}, catalog.StatusProcessing)
	mine := write(filepath.Join(shared, "z.json"))
	task(j3, pipeline.StageRef, 1, pipeline.RefParams{NCURL: "/src/z.nc", RefURL: mine}, catalog.StatusCompleted)
	require.NoError(t, def.OnFailure(ctx, j3, &engine.Failure{Stage: pipeline.StageRef, Error: "boom"}))
	assert.FileExists(t, keptRef)
	assert.NoFileExists(t, mine)
}

// TestPrune completes four runs of one asset and prunes with the rules of
// pipeline.Prune, on every store.
func TestPrune(t *testing.T) {
	forEachStore(t, func(t *testing.T, store catalog.Store) {
		ctx := context.Background()
		pl := startRefs(t, store)
		refs := pl.out
		src, files := testenv.CopySample(t, "..")
		var rels []*catalog.Release
		for i := range 4 {
			j := runS20(t, pl, src, i > 0)
			require.Equal(t, catalog.StatusCompleted, j.Status, j.Error)
			r, err := store.GetRelease(ctx, j.ReleaseID)
			require.NoError(t, err)
			rels = append(rels, r)
		}
		folder := func(r *catalog.Release) string { return filepath.Join(refs, "s20", "ow", r.ID) }
		for _, r := range rels {
			require.Len(t, hashTree(t, folder(r)), len(files)+1)
		}
		// v1 is published (APPROVED); v3 is REJECTED.
		_, err := store.SetApproval(ctx, rels[0].ID, catalog.ApprovalApproved)
		require.NoError(t, err)
		_, err = store.SetApproval(ctx, rels[2].ID, catalog.ApprovalRejected)
		require.NoError(t, err)
		deps := &pipeline.Deps{Store: store, Opener: &blobio.Opener{}}
		opts := pipeline.PruneOptions{DatasetID: "s20", ResourceID: "ow", KeepLast: 1}

		tests := []struct {
			name   string
			opts   func(o *pipeline.PruneOptions)
			pruned []int // versions
			reason []string
		}{
			{name: "too young", opts: func(o *pipeline.PruneOptions) {
				o.OlderThan = time.Hour
			}},
			{name: "dry run", opts: func(o *pipeline.PruneOptions) {
				o.DryRun = true
				o.OlderThan = time.Hour
				o.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
			}, pruned: []int{2, 3}, reason: []string{pipeline.PruneSuperseded, pipeline.PruneRejected}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				o := opts
				tc.opts(&o)
				res, err := pipeline.Prune(ctx, deps, o)
				require.NoError(t, err)
				var got []int
				var reasons []string
				for _, p := range res.Pruned {
					got = append(got, p.Version)
					reasons = append(reasons, p.Reason)
					assert.Equal(t, len(files)+1, p.Objects)
				}
				assert.Equal(t, tc.pruned, got)
				assert.Equal(t, tc.reason, reasons)
				for _, r := range rels {
					assert.Len(t, hashTree(t, folder(r)), len(files)+1, "nothing deleted")
					g, err := store.GetRelease(ctx, r.ID)
					require.NoError(t, err)
					assert.Nil(t, g.PrunedAt)
				}
			})
		}

		// KeepLast 1: v2 (superseded) and v3 (REJECTED) go; v1 stays —
		// APPROVED, and no newer release is approved — and v4, the newest.
		v4Hashes := hashTree(t, folder(rels[3]))
		res, err := pipeline.Prune(ctx, deps, opts)
		require.NoError(t, err)
		require.Len(t, res.Pruned, 2)
		assert.Equal(t, []string{rels[3].ID, rels[0].ID}, res.Kept)
		for i, r := range rels {
			g, err := store.GetRelease(ctx, r.ID)
			require.NoError(t, err)
			if i == 1 || i == 2 {
				assert.Empty(t, hashTree(t, folder(r)), "v%d pruned", r.Version)
				assert.NotNil(t, g.PrunedAt)
				assert.Empty(t, g.BlobPath)
			} else {
				assert.Len(t, hashTree(t, folder(r)), len(files)+1)
				assert.Nil(t, g.PrunedAt)
				assert.Equal(t, r.BlobPath, g.BlobPath)
			}
		}
		assert.Equal(t, v4Hashes, hashTree(t, folder(rels[3])), "the newest release is untouched")

		// Once v4 is approved, v1 is superseded too; v4 never goes.
		_, err = store.SetApproval(ctx, rels[3].ID, catalog.ApprovalApproved)
		require.NoError(t, err)
		res, err = pipeline.Prune(ctx, deps, pipeline.PruneOptions{DatasetID: "s20", ResourceID: "ow"})
		require.NoError(t, err)
		require.Len(t, res.Pruned, 1)
		assert.Equal(t, rels[0].ID, res.Pruned[0].ReleaseID)
		assert.Equal(t, v4Hashes, hashTree(t, folder(rels[3])))
		assert.Empty(t, hashTree(t, folder(rels[0])))
		checkCombined(t, filepath.Join(folder(rels[3]), "combined.json"), files)

		// Nothing left to prune; unknown assets and missing ids are errors.
		res, err = pipeline.Prune(ctx, deps, opts)
		require.NoError(t, err)
		assert.Empty(t, res.Pruned)
		_, err = pipeline.Prune(ctx, deps, pipeline.PruneOptions{DatasetID: "s20", ResourceID: "nope"})
		assert.ErrorIs(t, err, catalog.ErrNotFound)
		_, err = pipeline.Prune(ctx, deps, pipeline.PruneOptions{DatasetID: "s20"})
		assert.Equal(t, pipeline.ErrTypeInvalidParams, pipeline.Fail(err).ErrorType)
	})
}
