package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/pipeline"
	"github.com/greensight/vzarr/queue"
)

// recordingQueue records the jobs queued, and checks that each job's
// Release exists when it is queued.
type recordingQueue struct {
	t     *testing.T
	store catalog.Store
	mu    sync.Mutex
	jobs  []string
	err   error
}

func (q *recordingQueue) Enqueue(ctx context.Context, jobID string) error {
	if q.err != nil {
		return q.err
	}
	j, err := q.store.GetJob(ctx, jobID)
	require.NoError(q.t, err)
	_, err = q.store.GetRelease(ctx, j.ReleaseID)
	require.NoError(q.t, err, "the Release exists before the job is queued")
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, jobID)
	return nil
}

func validSubmit() pipeline.SubmitRequest {
	return pipeline.SubmitRequest{DatasetID: "cmip6-tas", ResourceID: "monthly", SourceURL: "abfs://climate/cmip6/tas/",
		DataType: "zarr", ProcessingOptions: pipeline.ProcessingOptions{ConcatDim: "time"}}
}

func TestSubmitRequestValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(r *pipeline.SubmitRequest)
		field string
	}{
		{"no dataset_id", func(r *pipeline.SubmitRequest) { r.DatasetID = "" }, "dataset_id"},
		{"blank resource_id", func(r *pipeline.SubmitRequest) { r.ResourceID = "  " }, "resource_id"},
		{"dataset_id with a slash", func(r *pipeline.SubmitRequest) { r.DatasetID = "a/b" }, "dataset_id"},
		{"no source_url", func(r *pipeline.SubmitRequest) { r.SourceURL = "" }, "source_url"},
		{"https source", func(r *pipeline.SubmitRequest) { r.SourceURL = "https://acct.blob.core.windows.net/c/x" }, "source_url"},
		{"local source", func(r *pipeline.SubmitRequest) { r.SourceURL = "/data/tas" }, "source_url"},
		{"az source", func(r *pipeline.SubmitRequest) { r.SourceURL = "az://c/x" }, "source_url"},
		{"data_type cog", func(r *pipeline.SubmitRequest) { r.DataType = "cog" }, "data_type"},
		{"no data_type", func(r *pipeline.SubmitRequest) { r.DataType = "" }, "data_type"},
		{"unknown pipeline", func(r *pipeline.SubmitRequest) { r.ProcessingOptions.Pipeline = "virtualizarr" }, "processing_options.pipeline"},
		{"pattern with a slash", func(r *pipeline.SubmitRequest) { r.ProcessingOptions.FilePattern = "a/*.nc" }, "processing_options.file_pattern"},
		{"bad pattern", func(r *pipeline.SubmitRequest) { r.ProcessingOptions.FilePattern = "[" }, "processing_options.file_pattern"},
		{"concat_dim with a space", func(r *pipeline.SubmitRequest) { r.ProcessingOptions.ConcatDim = "ti me" }, "processing_options.concat_dim"},
		{"bad collection_id", func(r *pipeline.SubmitRequest) { r.CollectionID = "-x" }, "collection_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := validSubmit()
			tc.edit(&r)
			err := r.Normalize()
			require.ErrorIs(t, err, pipeline.ErrInvalidRequest)
			var re *pipeline.RequestError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tc.field, re.Field, err.Error())
		})
	}
	t.Run("defaults", func(t *testing.T) {
		r := validSubmit()
		r.ProcessingOptions = pipeline.ProcessingOptions{}
		require.NoError(t, r.Normalize())
		assert.Equal(t, pipeline.ProcessingOptions{Pipeline: "kerchunk", ConcatDim: "time", FilePattern: "*.nc"}, r.ProcessingOptions)
	})
	t.Run("abfs with account", func(t *testing.T) {
		r := validSubmit()
		r.SourceURL = "abfs://climate@acct.dfs.core.windows.net/cmip6/tas"
		require.NoError(t, r.Normalize())
	})
	t.Run("local allowed by option", func(t *testing.T) {
		r := validSubmit()
		r.SourceURL = "/data/tas"
		require.NoError(t, r.Normalize("file"))
	})
}

func TestDecodeSubmitRequest(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"ok", `{"dataset_id":"d","resource_id":"r","source_url":"abfs://c/p","data_type":"zarr",
			"processing_options":{"pipeline":"kerchunk","concat_dim":"time","file_pattern":"*.nc","fail_on_chunking_warnings":true,"overwrite":false}}`, ""},
		{"unknown field", `{"dataset_id":"d","concat_dimm":"time"}`, `unknown field "concat_dimm"`},
		{"unknown option", `{"processing_options":{"concat_dimm":"time"}}`, `unknown field "concat_dimm"`},
		{"wrong type", `{"dataset_id": 5}`, "dataset_id: want a string"},
		{"wrong option type", `{"processing_options":{"overwrite":"yes"}}`, "processing_options.overwrite: want a bool"},
		{"empty", ``, "empty body"},
		{"two values", `{} {}`, "more than one JSON value"},
		{"not json", `dataset_id=d`, "invalid character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipeline.DecodeSubmitRequest(strings.NewReader(tc.body))
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, pipeline.ErrInvalidRequest)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestJobIDIsDeterministic(t *testing.T) {
	a := pipeline.JobID("d", "r", "abfs://c/p")
	assert.Equal(t, a, pipeline.JobID("d", "r", "abfs://c/p"))
	assert.NotEqual(t, a, pipeline.JobID("d", "r", "abfs://c/q"))
	assert.NotEqual(t, a, pipeline.JobID("d", "r2", "abfs://c/p"))
	// The separator keeps ("ab", "c") and ("a", "bc") apart.
	assert.NotEqual(t, pipeline.JobID("ab", "c", "x"), pipeline.JobID("a", "bc", "x"))
	assert.Regexp(t, `^vz-[0-9a-f]{24}$`, a)
}

func TestSubmit(t *testing.T) {
	ctx := context.Background()
	store := catalog.NewMemory()
	q := &recordingQueue{t: t, store: store}
	s := &pipeline.Submitter{Store: store, Queue: q}

	first, err := s.Submit(ctx, validSubmit())
	require.NoError(t, err)
	assert.True(t, first.Created)
	assert.Equal(t, "queued", first.Status)
	assert.Equal(t, pipeline.JobID("cmip6-tas", "monthly", "abfs://climate/cmip6/tas/"), first.JobID)

	job, err := store.GetJob(ctx, first.JobID)
	require.NoError(t, err)
	assert.Equal(t, pipeline.JobType, job.Type)
	assert.Equal(t, first.ReleaseID, job.ReleaseID)
	assert.JSONEq(t, `{"dataset_id":"cmip6-tas","resource_id":"monthly","source_url":"abfs://climate/cmip6/tas/",
		"concat_dim":"time","file_pattern":"*.nc","out_url":"abfs://climate/refs/cmip6-tas/monthly",
		"release_id":"`+first.ReleaseID+`"}`, string(job.Params))
	rel, err := store.GetRelease(ctx, first.ReleaseID)
	require.NoError(t, err)
	assert.Equal(t, first.AssetID, rel.AssetID)
	assert.Equal(t, first.JobID, rel.JobID)

	t.Run("the same request again does no work", func(t *testing.T) {
		// The job has started meanwhile: no message is queued.
		_, err := store.TransitionJob(ctx, first.JobID, catalog.Transition{To: catalog.StatusProcessing})
		require.NoError(t, err)
		again, err := s.Submit(ctx, validSubmit())
		require.NoError(t, err)
		assert.False(t, again.Created)
		assert.Equal(t, first.JobID, again.JobID)
		assert.Equal(t, first.ReleaseID, again.ReleaseID)
		assert.Equal(t, "processing", again.Status)
		assert.Len(t, q.jobs, 1)
		rels, err := store.ListReleases(ctx, first.AssetID)
		require.NoError(t, err)
		assert.Len(t, rels, 1)
	})
	t.Run("overwrite starts a new run", func(t *testing.T) {
		r := validSubmit()
		r.ProcessingOptions.Overwrite = true
		run2, err := s.Submit(ctx, r)
		require.NoError(t, err)
		assert.True(t, run2.Created)
		assert.Equal(t, first.JobID+"-r2", run2.JobID)
		assert.Equal(t, first.AssetID, run2.AssetID)
		assert.NotEqual(t, first.ReleaseID, run2.ReleaseID)
		rel, err := store.GetRelease(ctx, run2.ReleaseID)
		require.NoError(t, err)
		assert.Equal(t, 2, rel.Version)
		run3, err := s.Submit(ctx, r)
		require.NoError(t, err)
		assert.Equal(t, first.JobID+"-r3", run3.JobID)
		assert.Len(t, q.jobs, 3)
	})
	t.Run("a job left PENDING is queued again", func(t *testing.T) {
		r := validSubmit()
		r.ResourceID = "daily"
		q.err = errors.New("queue down")
		_, err := s.Submit(ctx, r)
		require.ErrorContains(t, err, "queue down")
		q.err = nil
		resp, err := s.Submit(ctx, r)
		require.NoError(t, err)
		assert.False(t, resp.Created)
		assert.Equal(t, "queued", resp.Status)
		assert.Equal(t, resp.JobID, q.jobs[len(q.jobs)-1])
	})
	t.Run("concurrent identical submits get one job", func(t *testing.T) {
		r := validSubmit()
		r.ResourceID = "hourly"
		var wg sync.WaitGroup
		ids := make([]string, 8)
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := s.Submit(ctx, r)
				if assert.NoError(t, err) {
					ids[i] = resp.JobID
				}
			}()
		}
		wg.Wait()
		for _, id := range ids {
			assert.Equal(t, ids[0], id)
		}
		a, err := store.FindAsset(ctx, "cmip6-tas", "hourly")
		require.NoError(t, err)
		rels, err := store.ListReleases(ctx, a.ID)
		require.NoError(t, err)
		assert.Len(t, rels, 1)
	})
	t.Run("invalid", func(t *testing.T) {
		r := validSubmit()
		r.DataType = "cog"
		_, err := s.Submit(ctx, r)
		assert.ErrorIs(t, err, pipeline.ErrInvalidRequest)
	})
}

func TestOutFolder(t *testing.T) {
	r := validSubmit()
	for _, tc := range []struct {
		s    pipeline.Submitter
		src  string
		want string
	}{
		{pipeline.Submitter{}, "abfs://climate/cmip6/tas/", "abfs://climate/refs/cmip6-tas/monthly"},
		{pipeline.Submitter{}, "abfs://climate@acct.dfs.core.windows.net/cmip6/tas", "abfs://climate@acct.dfs.core.windows.net/refs/cmip6-tas/monthly"},
		{pipeline.Submitter{RefsURL: "abfs://published/refs/"}, "abfs://climate/x", "abfs://published/refs/cmip6-tas/monthly"},
		{pipeline.Submitter{OutURL: "/tmp/out"}, "abfs://climate/x", "/tmp/out"},
	} {
		r.SourceURL = tc.src
		got, err := tc.s.OutFolder(&r)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
}

// TestSubmitQueueUnavailable: while the broker is away a submit fails
// with queue.ErrUnavailable and creates no Job, Asset or Release; once it
// is back the same submit creates and queues the job.
func TestSubmitQueueUnavailable(t *testing.T) {
	ctx := context.Background()
	store := catalog.NewMemory()
	q := &recordingQueue{t: t, store: store}
	var ready error = fmt.Errorf("%w: rabbit://vzarr-tasks: connection refused", queue.ErrUnavailable)
	s := &pipeline.Submitter{Store: store, Queue: q, Ready: func(context.Context) error { return ready }}
	_, err := s.Submit(ctx, validSubmit())
	require.ErrorIs(t, err, queue.ErrUnavailable)
	id := pipeline.JobID("cmip6-tas", "monthly", "abfs://climate/cmip6/tas/")
	_, err = store.GetJob(ctx, id)
	assert.ErrorIs(t, err, catalog.ErrNotFound, "no job")
	_, err = store.FindAsset(ctx, "cmip6-tas", "monthly")
	assert.ErrorIs(t, err, catalog.ErrNotFound, "no asset, no release")
	assert.Empty(t, q.jobs)

	ready = nil
	resp, err := s.Submit(ctx, validSubmit())
	require.NoError(t, err)
	assert.True(t, resp.Created)
	assert.Equal(t, []string{id}, q.jobs)
}
