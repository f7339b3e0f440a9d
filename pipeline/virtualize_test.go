package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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

// plRun is the pipeline running in process over local files.
type plRun struct {
	svc  *pipeline.Service
	out  string // where the references go
	logs *testenv.SyncBuffer
}

// startLocal runs the pipeline in process over local files; the
// references of a run go to r.out.
func startLocal(t *testing.T, store catalog.Store) *plRun {
	return startPipeline(t, store, false)
}

// startRefs runs the pipeline in process over local files with the
// platform's layout: REFS/<dataset_id>/<resource_id>/<release_id>/, REFS
// being r.out.
func startRefs(t *testing.T, store catalog.Store) *plRun {
	return startPipeline(t, store, true)
}

func startPipeline(t *testing.T, store catalog.Store, platformLayout bool) *plRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testenv.SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	out := filepath.Join(t.TempDir(), "refs")
	sub := pipeline.Submitter{OutURL: out, AllowedSchemes: []string{"file"}}
	if platformLayout {
		sub.OutURL, sub.RefsURL = "", out
	}
	svc, err := pipeline.NewService(ctx, pipeline.ServiceConfig{
		Store:    store,
		QueueURL: "mem://pipeline-test-" + testenv.RandomSuffix(),
		Deps:     pipeline.Deps{Opener: &blobio.Opener{}, Logger: log, Metrics: &pipeline.Metrics{}},
		Engine:   engine.Options{Concurrency: 8, RetryBackoff: 10 * time.Millisecond},
		Submit:   sub,
	})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { defer close(done); assert.NoError(t, svc.Work(ctx)) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = svc.Close(context.Background())
	})
	return &plRun{svc: svc, out: out, logs: logs}
}

// run submits req and waits up to timeout for the job to end.
func (r *plRun) run(t *testing.T, req pipeline.SubmitRequest, timeout time.Duration) *catalog.Job {
	t.Helper()
	ctx := context.Background()
	resp, err := r.svc.Submit(ctx, req)
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	j, err := r.svc.Wait(wctx, resp.JobID, 0)
	require.NoError(t, err)
	return j
}

// submit runs the sample's request on src.
func (r *plRun) submit(t *testing.T, src string) *catalog.Job {
	t.Helper()
	return r.run(t, pipeline.SubmitRequest{DatasetID: "sample-tas", ResourceID: "monthly", SourceURL: src,
		DataType: "zarr", CollectionID: "samples", ProcessingOptions: pipeline.ProcessingOptions{ConcatDim: "time"}}, 60*time.Second)
}

func TestVirtualizeSample(t *testing.T) {
	forEachStore(t, func(t *testing.T, store catalog.Store) {
		ctx := context.Background()
		r := startLocal(t, store)
		dir, files := testenv.CopySample(t, "..")
		j := r.submit(t, dir)
		require.Equal(t, catalog.StatusCompleted, j.Status, j.Error)
		assert.Equal(t, pipeline.StageRegister, j.Stage)

		// One reference per source, and the combined one.
		for _, f := range files {
			assert.FileExists(t, filepath.Join(r.out, strings.TrimSuffix(filepath.Base(f), ".nc")+".json"))
		}
		combined := filepath.Join(r.out, "combined.json")
		assert.FileExists(t, combined)

		// The job's summary: five stages, a task per file in two.
		var sum engine.JobSummary
		require.NoError(t, json.Unmarshal(j.Result, &sum))
		require.Len(t, sum.Stages, 5)
		for i, want := range []int{1, len(files), len(files), 1, 1} {
			assert.Equal(t, want, sum.Stages[i].Tasks, sum.Stages[i].Name)
			assert.Equal(t, catalog.StatusCompleted, sum.Stages[i].Status)
		}
		assert.JSONEq(t, `{"stac_item_cached": true, "release_updated": true, "blob_path": `+asJSON(t, combined)+`}`, string(sum.Result))

		// The Release holds the item and the blob path.
		rel, err := store.GetRelease(ctx, j.ReleaseID)
		require.NoError(t, err)
		assert.Equal(t, catalog.StatusCompleted, rel.ProcessingStatus)
		assert.Equal(t, combined, rel.BlobPath)
		var item struct {
			ID         string         `json:"id"`
			Collection string         `json:"collection"`
			Properties map[string]any `json:"properties"`
			BBox       []float64      `json:"bbox"`
		}
		require.NoError(t, json.Unmarshal(rel.StacItemJSON, &item))
		assert.Equal(t, "samples", item.Collection)
		assert.Equal(t, "2015-01-16T12:00:00Z", item.Properties["start_datetime"])
		assert.Equal(t, "2020-12-16T12:00:00Z", item.Properties["end_datetime"])
		// Grid centres -170..170 and -80..80 (20-degree cells).
		require.Len(t, item.BBox, 4)
		assert.InDelta(t, -180, item.BBox[0], 10)
		assert.InDelta(t, -85, item.BBox[1], 5)
		assert.InDelta(t, 180, item.BBox[2], 10)
		assert.InDelta(t, 85, item.BBox[3], 5)

		// The combine task's result is Contract 5.
		tk, err := store.GetTask(ctx, engine.TaskID(j.ID, pipeline.StageCombine, 0))
		require.NoError(t, err)
		var c map[string]any
		require.NoError(t, json.Unmarshal(engine.Result(tk), &c))
		for _, k := range []string{"dataset_id", "combined_ref_url", "source_files", "dimensions", "variables",
			"time_range", "spatial_extent", "ref_size_bytes"} {
			assert.Contains(t, c, k)
		}
		assert.Equal(t, map[string]any{"time": 72.0, "lat": 9.0, "lon": 18.0, "bnds": 2.0}, c["dimensions"])

		// INFO logs of every stage with inputs, counts, sizes, durations.
		logs := r.logs.String()
		for _, msg := range []string{`"msg":"pipeline: scanned"`, `"file_count":6`, `"msg":"pipeline: validated"`,
			`"msg":"pipeline: referenced"`, `"ref_size_bytes"`, `"msg":"pipeline: combined"`, `"msg":"pipeline: registered"`,
			`"duration"`} {
			assert.Contains(t, logs, msg)
		}
		checkCombined(t, combined, files)
	})
}

// checkCombined compares a combined reference with xarray's reading of its
// files on every reader stack (testenv.CheckCombined).
func checkCombined(t *testing.T, combined string, files []string) {
	t.Helper()
	testenv.CheckCombined(t, combined, "time", files)
}

func TestVirtualizeCorruptFile(t *testing.T) {
	ctx := context.Background()
	store := catalog.NewMemory()
	r := startLocal(t, store)
	dir, files := testenv.CopySample(t, "..")
	bad := files[3]
	b, err := os.ReadFile(bad)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bad, b[:len(b)/3], 0o644)) // truncated

	j := r.submit(t, dir)
	require.Equal(t, catalog.StatusFailed, j.Status)
	assert.Equal(t, pipeline.StageValidate, j.Stage)
	assert.Contains(t, j.Error, bad, "the error names the file")

	rel, err := store.GetRelease(ctx, j.ReleaseID)
	require.NoError(t, err)
	assert.Equal(t, catalog.StatusFailed, rel.ProcessingStatus)
	assert.Contains(t, rel.Error, bad)
	assert.Empty(t, rel.BlobPath)
	assert.Nil(t, rel.StacItemJSON)

	// Later stages never ran: nothing was written.
	_, err = os.Stat(r.out)
	assert.True(t, os.IsNotExist(err), "no output folder")
	st, err := engine.Status(ctx, store, j.ID)
	require.NoError(t, err)
	require.NotNil(t, st.Failure)
	assert.Equal(t, pipeline.ErrTypeTruncated, st.Failure.ErrorType)
	assert.Equal(t, pipeline.StageValidate, st.Stage)
}

func TestVirtualizeIncompatibleFilesLeaveNothing(t *testing.T) {
	// A file of another dataset among the sample: every file validates and
	// is referenced, then combine refuses the mix. The references written
	// are removed and the Release is FAILED.
	ctx := context.Background()
	store := catalog.NewMemory()
	r := startLocal(t, store)
	dir, _ := testenv.CopySample(t, "..")
	other, err := filepath.Glob(filepath.Join("..", "testdata", "series", "same_units", "*.nc"))
	require.NoError(t, err)
	require.NotEmpty(t, other)
	b, err := os.ReadFile(other[0])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tas_2021.nc"), b, 0o644))

	j := r.submit(t, dir)
	require.Equal(t, catalog.StatusFailed, j.Status)
	assert.Equal(t, pipeline.StageCombine, j.Stage)
	assert.Contains(t, j.Error, "tas_2021")
	rel, err := store.GetRelease(ctx, j.ReleaseID)
	require.NoError(t, err)
	assert.Equal(t, catalog.StatusFailed, rel.ProcessingStatus)
	left, _ := filepath.Glob(filepath.Join(r.out, "*"))
	assert.Empty(t, left, "the failed job's references were removed")
}

func TestVirtualizeNoFiles(t *testing.T) {
	r := startLocal(t, catalog.NewMemory())
	j := r.submit(t, t.TempDir())
	require.Equal(t, catalog.StatusFailed, j.Status)
	assert.Contains(t, j.Error, "no files match *.nc under")
}

func TestVirtualizeMissingSource(t *testing.T) {
	r := startLocal(t, catalog.NewMemory())
	j := r.submit(t, filepath.Join(t.TempDir(), "nowhere"))
	require.Equal(t, catalog.StatusFailed, j.Status)
	assert.Equal(t, pipeline.StageScan, j.Stage)
	st, err := engine.Status(context.Background(), r.svc.Store, j.ID)
	require.NoError(t, err)
	assert.Equal(t, pipeline.ErrTypeNotFound, st.Failure.ErrorType)
}

func TestStageEnvelopes(t *testing.T) {
	ctx := context.Background()
	dir, files := testenv.CopySample(t, "..")
	out := t.TempDir()
	deps := &pipeline.Deps{Opener: &blobio.Opener{}, Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))}
	run := func(stage string, params string) map[string]any {
		env := pipeline.Run(ctx, deps, stage, json.RawMessage(params))
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(asJSON(t, env)), &m))
		return m
	}
	scan := run("scan", `{"source_url": `+asJSON(t, dir)+`}`)
	assert.Equal(t, true, scan["success"])
	res := scan["result"].(map[string]any)
	assert.EqualValues(t, len(files), res["file_count"])
	assert.Len(t, res["nc_files"], len(files))
	assert.Contains(t, res, "total_size_bytes")

	val := run("validate", `{"nc_url": `+asJSON(t, files[0])+`}`)
	assert.Equal(t, true, val["success"])
	rep := val["result"].(map[string]any)
	assert.Equal(t, files[0], rep["nc_url"])
	for _, k := range []string{"status", "warnings", "recommendation", "variables", "dimensions"} {
		assert.Contains(t, rep, k)
	}

	var refs []string
	for _, f := range files {
		ref := filepath.Join(out, filepath.Base(f)+".json")
		r := run("ref", `{"nc_url": `+asJSON(t, f)+`, "ref_url": `+asJSON(t, ref)+`}`)
		require.Equal(t, true, r["success"], r["error"])
		rr := r["result"].(map[string]any)
		for _, k := range []string{"nc_url", "ref_url", "dimensions", "variables", "ref_size_bytes"} {
			assert.Contains(t, rr, k)
		}
		refs = append(refs, ref)
	}
	c := run("combine", `{"dataset_id": "d", "concat_dim": "time", "ref_urls": `+asJSON(t, refs)+`, "combined_ref_url": `+asJSON(t, filepath.Join(out, "c.json"))+`}`)
	require.Equal(t, true, c["success"], c["error"])
	cr := c["result"].(map[string]any)
	assert.Equal(t, []any{"2015-01-16T12:00:00Z", "2020-12-16T12:00:00Z"}, cr["time_range"])
	assert.Equal(t, []any{"tas"}, keys(cr["variables"]))

	for _, tc := range []struct{ stage, params, errType string }{
		{"scan", `{"source_url": "/no/such/dir"}`, "not_found"},
		{"scan", `{"source_url": "/tmp", "bogus": 1}`, "invalid_params"},
		{"validate", `{"nc_url": ` + asJSON(t, filepath.Join(dir, "missing.nc")) + `}`, "not_found"},
		{"validate", `{"nc_url": "/etc/hostname"}`, "not_netcdf"},
		{"ref", `{"nc_url": ` + asJSON(t, files[0]) + `}`, "invalid_params"},
		{"combine", `{"dataset_id": "d", "concat_dim": "time", "ref_urls": [], "combined_ref_url": "/tmp/x.json"}`, "invalid_params"},
		{"nope", `{}`, "invalid_params"},
	} {
		m := run(tc.stage, tc.params)
		assert.Equal(t, false, m["success"], tc.params)
		assert.Equal(t, tc.errType, m["error_type"], "%s %s: %v", tc.stage, tc.params, m["error"])
	}
}

func keys(v any) []any {
	m, _ := v.(map[string]any)
	var out []any
	for k := range m {
		out = append(out, k)
	}
	return out
}
