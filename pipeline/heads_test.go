package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
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

// TestRequestsPerFile runs a virtualize job, as vzarr run does, over
// sources in blob storage (mem://) and counts its storage requests: with
// the head cache each file costs one GET (validate's first read, from
// which the ref stage opens the source) and one PUT (its reference, which
// the combine stage reads from the cache); without it, four (two GETs of
// the source, the PUT, a GET of the reference). The combined reference is
// the same either way.
func TestRequestsPerFile(t *testing.T) {
	_, files := testenv.CopySample(t, "..")
	n := int64(len(files))
	combined := map[string][]byte{}
	for _, tc := range []struct {
		name       string
		cacheBytes int64
		reads      int64 // GETs per file
	}{
		{"head cache", 0, 1},
		{"no head cache", -1, 3},
		// Room for no head: every open misses and reads, as without it.
		{"head cache too small", 1000, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			mem := &blobio.MemBuckets{}
			src := mem.Create("src")
			for _, f := range files {
				b, err := os.ReadFile(f)
				require.NoError(t, err)
				require.NoError(t, src.WriteAll(ctx, "archive/"+filepath.Base(f), b, nil))
			}
			require.NoError(t, src.Close())
			require.NoError(t, mem.Create("refs").Close())
			metrics := &pipeline.Metrics{}
			store := catalog.NewMemory()
			svc, err := pipeline.NewService(ctx, pipeline.ServiceConfig{
				Store:    store,
				QueueURL: "mem://heads-test-" + testenv.RandomSuffix(),
				Deps:     pipeline.Deps{Opener: &blobio.Opener{Mem: mem}, Metrics: metrics, HeadCacheBytes: tc.cacheBytes},
				Engine:   engine.Options{Concurrency: 8, RetryBackoff: 10 * time.Millisecond},
				Submit:   pipeline.Submitter{OutURL: "mem://refs/run/", AllowedSchemes: []string{blobio.SchemeMem}},
			})
			require.NoError(t, err)
			done := make(chan struct{})
			go func() { defer close(done); assert.NoError(t, svc.Work(ctx)) }()
			defer func() { cancel(); <-done; _ = svc.Close(context.Background()) }()

			resp, err := svc.Submit(ctx, pipeline.SubmitRequest{DatasetID: "sample-tas", ResourceID: "monthly", SourceURL: "mem://src/archive/",
				DataType: "zarr", ProcessingOptions: pipeline.ProcessingOptions{ConcatDim: "time"}})
			require.NoError(t, err)
			wctx, stop := context.WithTimeout(ctx, time.Minute)
			defer stop()
			j, err := svc.Wait(wctx, resp.JobID, 0)
			require.NoError(t, err)
			require.Equal(t, catalog.StatusCompleted, j.Status, j.Error)

			assert.Equal(t, tc.reads*n, metrics.ReadRequests.Load(), "GETs")
			assert.Equal(t, n+1, metrics.ObjectsWriten.Load(), "PUTs: the references and combined.json")
			assert.Equal(t, (tc.reads+1)*n+1, metrics.Requests())
			assert.Equal(t, 3*n, metrics.ObjectsOpened.Load(), "validate, ref and combine open each file's objects")

			refs := mem.Create("refs")
			defer refs.Close()
			b, err := refs.ReadAll(ctx, "run/"+pipeline.CombinedName)
			require.NoError(t, err)
			combined[tc.name] = b
		})
	}
	require.Len(t, combined, 3)
	assert.JSONEq(t, string(combined["no head cache"]), string(combined["head cache"]))
	assert.JSONEq(t, string(combined["no head cache"]), string(combined["head cache too small"]))
}
