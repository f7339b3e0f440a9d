package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
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
		{"unknown output_format", func(r *pipeline.SubmitRequest) { r.ProcessingOptions.OutputFormat = "zarr" }, "processing_options.output_format"},
		{"output_format in capitals", func(r *pipeline.SubmitRequest) { r.ProcessingOptions.OutputFormat = "Icechunk" }, "processing_options.output_format"},
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
		assert.Equal(t, pipeline.ProcessingOptions{Pipeline: "virtualzarr", ConcatDim: "time", FilePattern: "*.nc", OutputFormat: "kerchunk"}, r.ProcessingOptions)
	})
	t.Run("output formats", func(t *testing.T) {
		for _, f := range []string{pipeline.OutputKerchunk, pipeline.OutputIcechunk} {
			r := validSubmit()
			r.ProcessingOptions.OutputFormat = f
			require.NoError(t, r.Normalize())
			assert.Equal(t, f, r.ProcessingOptions.OutputFormat)
		}
	})
	t.Run("kerchunk is an alias of virtualzarr", func(t *testing.T) {
		for _, name := range []string{"virtualzarr", "kerchunk"} {
			r := validSubmit()
			r.ProcessingOptions.Pipeline = name
			require.NoError(t, r.Normalize())
			assert.Equal(t, pipeline.PipelineVirtualZarr, r.ProcessingOptions.Pipeline)
		}
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

// TestSubmitRequestControlCharacters: a control character in any string
// field is refused, naming the field.
func TestSubmitRequestControlCharacters(t *testing.T) {
	fields := map[string]func(r *pipeline.SubmitRequest, v string){
		"dataset_id":                      func(r *pipeline.SubmitRequest, v string) { r.DatasetID += v },
		"resource_id":                     func(r *pipeline.SubmitRequest, v string) { r.ResourceID += v },
		"source_url":                      func(r *pipeline.SubmitRequest, v string) { r.SourceURL += v },
		"data_type":                       func(r *pipeline.SubmitRequest, v string) { r.DataType += v },
		"collection_id":                   func(r *pipeline.SubmitRequest, v string) { r.CollectionID = "c" + v },
		"processing_options.pipeline":     func(r *pipeline.SubmitRequest, v string) { r.ProcessingOptions.Pipeline = "virtualzarr" + v },
		"processing_options.concat_dim":   func(r *pipeline.SubmitRequest, v string) { r.ProcessingOptions.ConcatDim += v },
		"processing_options.file_pattern": func(r *pipeline.SubmitRequest, v string) { r.ProcessingOptions.FilePattern = "*.nc" + v },
		"processing_options.output_format": func(r *pipeline.SubmitRequest, v string) {
			r.ProcessingOptions.OutputFormat = "icechunk" + v
		},
		"submitted_by": func(r *pipeline.SubmitRequest, v string) { r.SubmittedBy = "alice" + v },
	}
	for field, set := range fields {
		for _, c := range []string{"\x00", "\x1b", "\n", "\x7f", "\u0085", "\u2028", "\u2029"} {
			t.Run(field+"/"+fmt.Sprintf("%U", []rune(c)[0]), func(t *testing.T) {
				r := validSubmit()
				set(&r, c)
				err := r.Normalize()
				require.ErrorIs(t, err, pipeline.ErrInvalidRequest)
				var re *pipeline.RequestError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, field, re.Field)
				assert.Contains(t, re.Reason, "control character")
			})
		}
	}
	// Other non-ASCII text is not a control character.
	r := validSubmit()
	r.SubmittedBy = "Zoë Ångström"
	require.NoError(t, r.Normalize())
}

func TestDecodeSubmitRequest(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"ok", `{"dataset_id":"d","resource_id":"r","source_url":"abfs://c/p","data_type":"zarr",
			"processing_options":{"pipeline":"kerchunk","concat_dim":"time","file_pattern":"*.nc","fail_on_chunking_warnings":true,"overwrite":false}}`, ""},
		{"unknown field", `{"dataset_id":"d","concat_dimm":"time"}`, `unknown field "concat_dimm"`},
		{"unknown option", `{"processing_options":{"concat_dimm":"time"}}`, `unknown field "concat_dimm"`},
		{"the caller is not the body's to say", `{"dataset_id":"d","submitted_by":"admin"}`, `unknown field "submitted_by"`},
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
		"concat_dim":"time","file_pattern":"*.nc","out_url":"abfs://climate/refs/cmip6-tas/monthly/`+first.ReleaseID+`",
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
		// Each run writes to its own folder, named by its Release.
		j2, err := store.GetJob(ctx, run2.JobID)
		require.NoError(t, err)
		assert.Contains(t, string(j2.Params), `"out_url":"abfs://climate/refs/cmip6-tas/monthly/`+run2.ReleaseID+`"`)
		run3, err := s.Submit(ctx, r)
		require.NoError(t, err)
		assert.Equal(t, first.JobID+"-r3", run3.JobID)
		assert.Len(t, q.jobs, 3)
	})
	t.Run("a failed publish leaves the job PENDING and is queued again", func(t *testing.T) {
		r := validSubmit()
		r.ResourceID = "daily"
		q.err = errors.New("queue down")
		first, err := s.Submit(ctx, r)
		require.NoError(t, err, "the records are committed: the engine's sweeper publishes the job")
		assert.True(t, first.Created)
		assert.Equal(t, "queued", first.Status)
		job, err := store.GetJob(ctx, first.JobID)
		require.NoError(t, err)
		assert.Equal(t, catalog.StatusPending, job.Status)
		_, err = store.GetRelease(ctx, first.ReleaseID)
		require.NoError(t, err)
		// Submitting again while the queue is still down answers alike.
		again, err := s.Submit(ctx, r)
		require.NoError(t, err)
		assert.False(t, again.Created)
		assert.Equal(t, first.JobID, again.JobID)
		q.err = nil
		resp, err := s.Submit(ctx, r)
		require.NoError(t, err)
		assert.False(t, resp.Created)
		assert.Equal(t, "queued", resp.Status)
		assert.Equal(t, resp.JobID, q.jobs[len(q.jobs)-1])
	})
	t.Run("the caller is recorded on the job and the release", func(t *testing.T) {
		r := validSubmit()
		r.ResourceID = "yearly"
		r.SubmittedBy = "svc-platform"
		resp, err := s.Submit(ctx, r)
		require.NoError(t, err)
		job, err := store.GetJob(ctx, resp.JobID)
		require.NoError(t, err)
		assert.Equal(t, "svc-platform", job.SubmittedBy)
		rel, err := store.GetRelease(ctx, resp.ReleaseID)
		require.NoError(t, err)
		assert.Equal(t, "svc-platform", rel.SubmittedBy)
	})
	t.Run("a NUL creates no records", func(t *testing.T) {
		r := validSubmit()
		r.ResourceID = "nul"
		r.ProcessingOptions.ConcatDim = "ti\x00me"
		_, err := s.Submit(ctx, r)
		require.ErrorIs(t, err, pipeline.ErrInvalidRequest)
		_, err = store.FindAsset(ctx, "cmip6-tas", "nul")
		assert.ErrorIs(t, err, catalog.ErrNotFound)
		_, err = store.GetJob(ctx, pipeline.JobID("cmip6-tas", "nul", r.SourceURL))
		assert.ErrorIs(t, err, catalog.ErrNotFound)
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

// TestSubmitAllowList: with Sources set, a source_url outside the
// allow-list is refused before any record is created.
func TestSubmitAllowList(t *testing.T) {
	ctx := context.Background()
	store := catalog.NewMemory()
	q := &recordingQueue{t: t, store: store}
	o := &blobio.Opener{AccountName: "acct", Accounts: []string{"rmhazuregeobronze"}}
	list, err := blobio.ParseAllowList("abfs://climate/cmip6/, abfs://rmhazuregeobronze/netcdf/era5/", o, false)
	require.NoError(t, err)
	s := &pipeline.Submitter{Store: store, Queue: q, Sources: list, RefsURL: "abfs://refs/out"}
	for _, tc := range []struct {
		url  string
		want error // nil: accepted
	}{
		{"abfs://climate/cmip6/tas/", nil},
		{"abfs://rmhazuregeobronze/netcdf/era5/", nil},
		{"abfs://c@attacker.evil.example/x", blobio.ErrSourceNotAllowed},
		{"abfs://climate@acct.dfs.core.windows.net.evil.example/cmip6/x", blobio.ErrSourceNotAllowed},
		{"abfs://climate/cmip6-evil/x", blobio.ErrSourceNotAllowed},
		{"abfs://climate@otheracct.dfs.core.windows.net/cmip6/x", blobio.ErrSourceNotAllowed},
		{"abfs://climate/cmip6/%2e%2e/secret/", pipeline.ErrInvalidRequest},
	} {
		t.Run(tc.url, func(t *testing.T) {
			r := validSubmit()
			r.ResourceID = "r" + pipeline.JobID("", "", tc.url)[3:12]
			r.SourceURL = tc.url
			resp, err := s.Submit(ctx, r)
			if tc.want == nil {
				require.NoError(t, err)
				assert.True(t, resp.Created)
				return
			}
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, tc.want == blobio.ErrSourceNotAllowed, pipeline.ErrorType(err) == "source_not_allowed", pipeline.ErrorType(err))
			_, err = store.FindAsset(ctx, r.DatasetID, r.ResourceID)
			assert.ErrorIs(t, err, catalog.ErrNotFound, "no record")
		})
	}
	assert.Len(t, q.jobs, 2)
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
		// The Icechunk repository of the asset is in the asset folder.
		repo, err := tc.s.RepoURL(&r)
		require.NoError(t, err)
		assert.Equal(t, tc.want+"/repo.icechunk", repo)
	}
	s := pipeline.Submitter{OutURL: "/tmp/out.vzarr-staging-1", PublishURL: "/tmp/out"}
	repo, err := s.RepoURL(&r)
	require.NoError(t, err)
	assert.Equal(t, "/tmp/out/repo.icechunk", repo, "a staged run commits to the repository where its set is published")
}

// A worker checks the scan stage's source against its own allow-list,
// before any storage call: job params written by another process (or
// edited in the catalog) read only allowed sources.
func TestScanChecksSources(t *testing.T) {
	ctx := context.Background()
	allowed := t.TempDir()
	other := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(allowed, "a.nc"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(other, "b.nc"), []byte("x"), 0o644))
	list, err := blobio.ParseAllowList("file://"+allowed+"/", &blobio.Opener{}, true)
	require.NoError(t, err)
	deps := &pipeline.Deps{Opener: &blobio.Opener{}, Sources: list}

	res, err := pipeline.Scan(ctx, deps, pipeline.ScanParams{SourceURL: allowed, FilePattern: "*.nc"})
	require.NoError(t, err)
	assert.Equal(t, 1, res.FileCount)

	for _, src := range []string{other, "abfs://c@attacker.evil.example/x", allowed + "/../" + filepath.Base(other)} {
		_, err = pipeline.Scan(ctx, deps, pipeline.ScanParams{SourceURL: src, FilePattern: "*.nc"})
		require.Error(t, err, src)
		assert.Contains(t, []string{pipeline.ErrTypeSourceNotAllowed, pipeline.ErrTypeConfig}, pipeline.ErrorType(err), "%s: %v", src, err)
	}
	_, err = pipeline.Scan(ctx, deps, pipeline.ScanParams{SourceURL: other, FilePattern: "*.nc"})
	assert.Equal(t, pipeline.ErrTypeSourceNotAllowed, pipeline.ErrorType(err))
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

// Stages called concurrently with one zero Deps (no Opener) share the
// environment's Opener without writing to the Deps: no data race under
// -race.
func TestZeroDepsConcurrentStages(t *testing.T) {
	ctx := context.Background()
	deps := &pipeline.Deps{}
	dir := t.TempDir()
	src, err := filepath.Abs(filepath.Join("..", "testdata", "sample", "tas_2015.nc"))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := pipeline.GenerateRef(ctx, deps, pipeline.RefParams{NCURL: src, RefURL: filepath.Join(dir, fmt.Sprintf("r%d.json", i))})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Nil(t, deps.Opener, "the shared Deps is not written to")
}
