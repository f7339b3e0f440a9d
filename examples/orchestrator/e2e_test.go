package main

// End-to-end tests of the platform deployment: the API and two worker
// processes (run in this test process, each with its own connections),
// PostgreSQL for the catalog, RabbitMQ for the queue and Azurite for the
// blobs, on a 50-file dataset written by testdata/gen_sample.py. They
// need scripts/postgres, scripts/rabbitmq and scripts/azurite running (CI
// starts them) and skip otherwise, or fail with VZARR_REQUIRE_TOOLS=1.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/pipeline"
)

// platform is the API, two workers and the services they share.
type platform struct {
	api       *orch
	opener    *blobio.Opener
	container string
	metrics   *pipeline.Metrics
	dsn       string
	schema    string
}

func startPlatform(t *testing.T) *platform {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	rabbit := testenv.RabbitURL(t)
	opener, container := testenv.Azurite(t)
	// The opener names no account: the STAC item takes the connection string's.
	t.Setenv("RABBIT_SERVER_URL", rabbit)
	p := &platform{opener: opener, container: container, metrics: &pipeline.Metrics{}, dsn: dsn,
		schema: "vzarr_e2e_" + testenv.RandomSuffix()}
	t.Cleanup(func() { dropSchema(t, dsn, p.schema) })
	tokens := tokensFile(t)
	cfg := func(mode string) *Config {
		return &Config{Mode: mode, Addr: "127.0.0.1:0", QueueURL: "rabbit://vzarr-e2e-" + p.schema + "?prefetch_count=16",
			CatalogDSN: dsn, CatalogSchema: p.schema, Migrate: true, Workers: 8, MaxBodyBytes: 64 << 10,
			LeaseTimeout: time.Minute, ShutdownTimeout: 10 * time.Second,
			// The API as deployed: token authentication, sources confined
			// to the test's container.
			Auth: "token", AuthTokensFile: tokens, AllowedSources: "abfs://" + container + "/",
			SubmitRate: DefaultSubmitRate, SubmitBurst: DefaultSubmitBurst}
	}
	// Workers first: they declare the queue; the API then publishes to it.
	for range 2 {
		startOrch(t, cfg("worker"), &Options{Opener: opener, Metrics: p.metrics})
	}
	p.api = startOrch(t, cfg("api"), &Options{Opener: opener})
	return p
}

func dropSchema(t *testing.T, dsn, schema string) {
	// The orchestrators have closed their pools by now (t.Cleanup runs
	// in reverse order).
	out, err := exec.Command("psql", dsn, "-qc", "DROP SCHEMA IF EXISTS "+schema+" CASCADE").CombinedOutput()
	if err != nil {
		t.Logf("dropping schema %s: %v %s", schema, err, out)
	}
}

// series writes n yearly files with gen_sample.py and uploads them under
// prefix; it returns the local files.
func (p *platform) series(t *testing.T, prefix string, n int) []string {
	t.Helper()
	py := testenv.Python(t, "netCDF4", "numpy")
	dir := filepath.Join(t.TempDir(), prefix)
	out, err := exec.Command(py, filepath.Join("..", "..", "testdata", "gen_sample.py"), "--out", dir,
		"--count", fmt.Sprint(n), "--start-year", "1971").CombinedOutput()
	require.NoError(t, err, "gen_sample.py: %s", out)
	files, err := filepath.Glob(filepath.Join(dir, "*.nc"))
	require.NoError(t, err)
	require.Len(t, files, n)
	sort.Strings(files)
	p.upload(t, prefix, files)
	return files
}

// bucket opens the platform's container; it is closed at the end of the
// test.
func (p *platform) bucket(t *testing.T) *blob.Bucket {
	t.Helper()
	b, _, err := p.opener.Open(context.Background(), "abfs://"+p.container+"/")
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func (p *platform) upload(t *testing.T, prefix string, files []string) {
	t.Helper()
	ctx := context.Background()
	b := p.bucket(t)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, b.WriteAll(ctx, prefix+"/"+filepath.Base(f), data, nil))
	}
}

func (p *platform) exists(t *testing.T, key string) bool {
	t.Helper()
	ok, err := p.bucket(t).Exists(context.Background(), key)
	require.NoError(t, err)
	return ok
}

func (p *platform) list(t *testing.T, prefix string) []string {
	t.Helper()
	res, err := p.opener.Scan(context.Background(), "abfs://"+p.container+"/"+prefix, blobio.ScanOptions{Pattern: "*", Recursive: true})
	require.NoError(t, err)
	return res.NCFiles
}

func (p *platform) read(t *testing.T, key string) []byte {
	t.Helper()
	data, err := p.bucket(t).ReadAll(context.Background(), key)
	require.NoError(t, err)
	return data
}

func submitBody(p *platform, prefix, resource string) map[string]any {
	return map[string]any{"dataset_id": "cmip6-tas", "resource_id": resource, "data_type": "zarr",
		"source_url": "abfs://" + p.container + "/" + prefix, "collection_id": "cmip6",
		"processing_options": map[string]any{"pipeline": "kerchunk", "concat_dim": "time", "file_pattern": "*.nc",
			"fail_on_chunking_warnings": false, "overwrite": false}}
}

func TestE2EPlatform(t *testing.T) {
	p := startPlatform(t)
	const n = 50

	t.Run("50 files from submit to COMPLETED", func(t *testing.T) {
		files := p.series(t, "cmip6/tas", n)
		body := submitBody(p, "cmip6/tas", "monthly")
		start := time.Now()
		code, resp := p.api.submit(t, body)
		require.Equal(t, http.StatusAccepted, code, resp)
		jobID := resp["job_id"].(string)
		st := p.api.waitDone(t, jobID, 5*time.Minute)
		wall := time.Since(start)
		require.Equal(t, "COMPLETED", st["status"], "%v", st["error"])

		// The Release holds the STAC item and the blob path.
		rel := st["release"].(map[string]any)
		assert.Equal(t, "COMPLETED", rel["processing_status"])
		// Each run has its own folder, named by its Release.
		runDir := "refs/cmip6-tas/monthly/" + resp["release_id"].(string)
		assert.Equal(t, runDir+"/combined.json", rel["blob_path"])
		assert.Equal(t, true, rel["has_stac_item"])
		_, full := p.api.do(t, "GET", "/api/jobs/status/"+jobID+"?stac_item=true", "", "")
		item := full["release"].(map[string]any)["stac_item_json"].(map[string]any)
		assert.Equal(t, "cmip6-tas-monthly", item["id"])
		assert.Equal(t, "cmip6", item["collection"])
		props := item["properties"].(map[string]any)
		assert.Equal(t, "1971-01-16T12:00:00Z", props["start_datetime"])
		assert.Equal(t, "2020-12-16T12:00:00Z", props["end_datetime"])
		refsAsset := item["assets"].(map[string]any)["references"].(map[string]any)
		assert.Equal(t, "abfs://"+p.container+"/"+runDir+"/combined.json", refsAsset["href"])

		// One reference per source and the combined one, in Azurite.
		refs := p.list(t, "refs/cmip6-tas/monthly")
		assert.Len(t, refs, n+1)
		assert.True(t, p.exists(t, runDir+"/tas_1971.json"))

		// The combined reference reads back what xarray reads from the 50
		// files: its chunk URLs name the blobs, which are the local files'
		// copies, so the check runs on the local files.
		combined := p.read(t, runDir+"/combined.json")
		dir := filepath.Dir(files[0])
		local := strings.ReplaceAll(string(combined), "abfs://"+p.container+"/cmip6/tas/", dir+"/")
		require.NotEqual(t, string(combined), local, "the chunk URLs name the blobs")
		refPath := filepath.Join(t.TempDir(), "combined.json")
		require.NoError(t, os.WriteFile(refPath, []byte(local), 0o644))
		testenv.CheckCombined(t, refPath, "time", files)

		// The same submit again: the same job, and no work.
		_, tasksBefore := p.api.do(t, "GET", "/api/dbadmin/tasks/"+jobID, "", "")
		code, again := p.api.submit(t, body)
		require.Equal(t, http.StatusOK, code, again)
		assert.Equal(t, jobID, again["job_id"])
		assert.Equal(t, resp["release_id"], again["release_id"])
		assert.Equal(t, "completed", again["status"])
		time.Sleep(300 * time.Millisecond)
		_, tasksAfter := p.api.do(t, "GET", "/api/dbadmin/tasks/"+jobID, "", "")
		assert.Equal(t, tasksBefore, tasksAfter, "no task was created or changed")
		_, st2 := p.api.do(t, "GET", "/api/jobs/status/"+jobID, "", "")
		assert.Equal(t, st["finished_at"], st2["finished_at"])

		// The benchmark numbers.
		var b strings.Builder
		fmt.Fprintf(&b, "50-file dataset, Postgres + RabbitMQ + Azurite, 2 workers x 8: wall %s (submit to COMPLETED), %d storage requests (%d opens, %d ranged reads, %d writes), %.1f MiB read, %.1f KiB written\n",
			wall.Round(time.Millisecond), p.metrics.Requests(), p.metrics.ObjectsOpened.Load(), p.metrics.ReadRequests.Load(),
			p.metrics.ObjectsWriten.Load(), float64(p.metrics.BytesRead.Load())/(1<<20), float64(p.metrics.BytesWritten.Load())/1024)
		for _, s := range st["stages"].([]any) {
			sm := s.(map[string]any)
			fmt.Fprintf(&b, "  %-9s %3.0f tasks: stage %4.0f ms (queue/plan wait %4.0f ms, tasks running %4.0f ms, task time summed %5.0f ms)\n",
				sm["name"], sm["tasks"], sm["duration_ms"], sm["wait_ms"], sm["run_ms"], sm["busy_ms"])
		}
		t.Log(b.String())
		if f := os.Getenv("VZARR_BENCH_OUT"); f != "" {
			_ = os.WriteFile(f, []byte(b.String()), 0o644)
		}
	})

	t.Run("one corrupt file among 50 fails the job", func(t *testing.T) {
		dir := t.TempDir()
		files := p.seriesLocal(t, dir, n)
		bad := files[17]
		data, err := os.ReadFile(bad)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(bad, data[:len(data)/2], 0o644))
		p.upload(t, "cmip6/tas-bad", files)
		code, resp := p.api.submit(t, submitBody(p, "cmip6/tas-bad", "bad"))
		require.Equal(t, http.StatusAccepted, code, resp)
		st := p.api.waitDone(t, resp["job_id"].(string), 5*time.Minute)
		require.Equal(t, "FAILED", st["status"])
		// The job turns FAILED first; the Release and the cleanup follow.
		p.api.waitCleanedUp(t, resp["job_id"].(string), time.Minute)
		_, st = p.api.do(t, "GET", "/api/jobs/status/"+resp["job_id"].(string), "", "")
		badURL := "abfs://" + p.container + "/cmip6/tas-bad/" + filepath.Base(bad)
		assert.Contains(t, st["error"], badURL, "the error names the file")
		rel := st["release"].(map[string]any)
		assert.Equal(t, "FAILED", rel["processing_status"])
		assert.Contains(t, rel["error"], badURL)
		assert.Empty(t, rel["blob_path"])
		assert.Equal(t, false, rel["has_stac_item"])
		assert.False(t, p.exists(t, "refs/cmip6-tas/bad/combined.json"), "no combined reference")
		assert.Empty(t, p.list(t, "refs/cmip6-tas/bad"), "no partial results")
		for _, s := range st["stages"].([]any) {
			assert.NotEqual(t, "ref", s.(map[string]any)["name"], "later stages never ran")
		}
	})
}

// seriesLocal writes n files without uploading them.
func (p *platform) seriesLocal(t *testing.T, dir string, n int) []string {
	t.Helper()
	py := testenv.Python(t, "netCDF4", "numpy")
	out, err := exec.Command(py, filepath.Join("..", "..", "testdata", "gen_sample.py"), "--out", dir,
		"--count", fmt.Sprint(n), "--start-year", "1971").CombinedOutput()
	require.NoError(t, err, "gen_sample.py: %s", out)
	files, err := filepath.Glob(filepath.Join(dir, "*.nc"))
	require.NoError(t, err)
	sort.Strings(files)
	return files
}

func TestStorageUnavailable(t *testing.T) {
	// Blob storage that does not answer: the job fails at scan with a
	// clear error, after the engine's retries.
	cfg := memConfig(t)
	conn := "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;"
	opener := &blobio.Opener{ConnectionString: conn}
	opener.Retry.MaxRetries = -1
	opener.Retry.TryTimeout = 2 * time.Second
	o := startOrch(t, cfg, &Options{Opener: opener})
	code, resp := o.submit(t, map[string]any{"dataset_id": "d", "resource_id": "r", "source_url": "abfs://data/tas", "data_type": "zarr"})
	require.Equal(t, http.StatusAccepted, code, resp)
	st := o.waitDone(t, resp["job_id"].(string), 2*time.Minute)
	require.Equal(t, "FAILED", st["status"])
	assert.Equal(t, "scan", st["stage"])
	f := st["failure"].(map[string]any)
	assert.Equal(t, "storage_unavailable", f["error_type"])
	assert.Contains(t, st["error"], "abfs://data/tas")
	assert.Contains(t, st["error"], "unavailable")
	_, tasks := o.do(t, "GET", "/api/dbadmin/tasks/"+resp["job_id"].(string), "", "")
	scan := tasks["tasks"].([]any)[0].(map[string]any)
	assert.EqualValues(t, 3, scan["attempts"], "retried before giving up")
	rel := st["release"].(map[string]any)
	assert.Equal(t, "FAILED", rel["processing_status"])
}
