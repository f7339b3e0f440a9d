package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/internal/testenv"
)

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("VZARR_TEST_LOGS") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// orch is a running orchestrator.
type orch struct {
	base string
	stop func()
}

// startOrch runs the orchestrator with cfg until the test ends.
func startOrch(t *testing.T, cfg *Config, opts *Options) *orch {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	addr := make(chan string, 1)
	opts.Listening = func(a string) { addr <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, testLogger(t), opts) }()
	o := &orch{}
	stopped := false
	o.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("the orchestrator did not stop within 30 s")
		}
	}
	t.Cleanup(o.stop)
	if cfg.Mode == "worker" {
		return o
	}
	select {
	case a := <-addr:
		o.base = "http://" + a
	case err := <-done:
		t.Fatalf("orchestrator: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the API did not start")
	}
	return o
}

func memConfig() *Config {
	return &Config{Mode: "all", Addr: "127.0.0.1:0", QueueURL: "mem://orch-test-" + testenv.RandomSuffix(),
		Workers: 8, AllowLocal: true, MaxBodyBytes: 64 << 10, LeaseTimeout: time.Minute, ShutdownTimeout: 5 * time.Second}
}

func (o *orch) do(t *testing.T, method, path, contentType, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, o.base+path, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	if len(b) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(b, &m), "%s", b)
	}
	return resp.StatusCode, m
}

func (o *orch) submit(t *testing.T, body any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	return o.do(t, "POST", "/api/platform/submit", "application/json", string(b))
}

// waitDone polls the status endpoint until the job ends.
func (o *orch) waitDone(t *testing.T, jobID string, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, st := o.do(t, "GET", "/api/jobs/status/"+jobID, "", "")
		require.Equal(t, http.StatusOK, code, st)
		if s := st["status"]; s == "COMPLETED" || s == "FAILED" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s not done after %s: %v", jobID, timeout, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sampleDir(t *testing.T) string {
	t.Helper()
	src, err := filepath.Glob(filepath.Join("..", "..", "testdata", "sample", "*.nc"))
	require.NoError(t, err)
	require.NotEmpty(t, src)
	dir := t.TempDir()
	for _, f := range src {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644))
	}
	return dir
}

func TestAPIValidation(t *testing.T) {
	cfg := memConfig()
	cfg.MaxBodyBytes = 1024
	o := startOrch(t, cfg, nil)
	good := `{"dataset_id":"d","resource_id":"r","source_url":"abfs://c/p","data_type":"zarr","processing_options":{"concat_dim":"time"}}`
	for _, tc := range []struct {
		name, method, path, ctype, body string
		code                            int
		errType, contains               string
	}{
		{"not json", "POST", "/api/platform/submit", "application/json", `dataset_id=d`, 400, "invalid_request", "invalid character"},
		{"unknown field", "POST", "/api/platform/submit", "application/json", `{"dataset":"d"}`, 400, "invalid_request", `unknown field "dataset"`},
		{"missing ids", "POST", "/api/platform/submit", "application/json", `{"source_url":"abfs://c/p","data_type":"zarr"}`, 400, "invalid_request", "dataset_id"},
		{"https source", "POST", "/api/platform/submit", "application/json", strings.Replace(good, "abfs://c/p", "https://x.blob.core.windows.net/c/p", 1), 400, "invalid_request", "source_url"},
		{"wrong data_type", "POST", "/api/platform/submit", "application/json", strings.Replace(good, `"zarr"`, `"cog"`, 1), 400, "invalid_request", "data_type"},
		{"too large", "POST", "/api/platform/submit", "application/json", `{"dataset_id":"` + strings.Repeat("x", 2000) + `"}`, 413, "request_too_large", "1024 bytes"},
		{"form body", "POST", "/api/platform/submit", "application/x-www-form-urlencoded", good, 415, "invalid_request", "Content-Type"},
		{"unknown job", "GET", "/api/jobs/status/vz-nope", "", "", 404, "not_found", "vz-nope"},
		{"unknown job tasks", "GET", "/api/dbadmin/tasks/vz-nope", "", "", 404, "not_found", "vz-nope"},
		{"GET submit", "GET", "/api/platform/submit", "", "", 405, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, m := o.do(t, tc.method, tc.path, tc.ctype, tc.body)
			assert.Equal(t, tc.code, code, "%v", m)
			if tc.errType != "" {
				assert.Equal(t, false, m["success"])
				assert.Equal(t, tc.errType, m["error_type"])
				assert.Contains(t, m["error"], tc.contains)
			}
		})
	}
	code, m := o.do(t, "GET", "/healthz", "", "")
	assert.Equal(t, 200, code, m)
	code, m = o.do(t, "GET", "/readyz", "", "")
	assert.Equal(t, 200, code, m)
}

func TestAPISubmitToCompletion(t *testing.T) {
	cfg := memConfig()
	out := t.TempDir()
	cfg.RefsURL = out
	o := startOrch(t, cfg, &Options{Opener: &blobio.Opener{}})
	dir := sampleDir(t)
	body := map[string]any{"dataset_id": "sample", "resource_id": "monthly", "source_url": dir, "data_type": "zarr",
		"collection_id": "samples", "processing_options": map[string]any{"pipeline": "kerchunk", "concat_dim": "time",
			"file_pattern": "tas_*.nc", "fail_on_chunking_warnings": false, "overwrite": false}}
	code, resp := o.submit(t, body)
	require.Equal(t, http.StatusAccepted, code, resp)
	assert.Equal(t, true, resp["success"])
	assert.Equal(t, "queued", resp["status"])
	for _, k := range []string{"job_id", "release_id", "asset_id"} {
		assert.NotEmpty(t, resp[k], k)
	}
	jobID := resp["job_id"].(string)

	st := o.waitDone(t, jobID, 60*time.Second)
	require.Equal(t, "COMPLETED", st["status"], st["error"])
	assert.Equal(t, "register", st["stage"])
	rel := st["release"].(map[string]any)
	assert.Equal(t, "COMPLETED", rel["processing_status"])
	assert.Equal(t, resp["release_id"], rel["id"])
	assert.Equal(t, filepath.Join(out, "sample", "monthly", "combined.json"), rel["blob_path"])
	assert.Equal(t, true, rel["has_stac_item"])
	assert.NotContains(t, rel, "stac_item_json")
	counts := st["task_counts"].(map[string]any)
	assert.EqualValues(t, 15, counts["COMPLETED"])
	stages := st["stages"].([]any)
	require.Len(t, stages, 5)

	_, withItem := o.do(t, "GET", "/api/jobs/status/"+jobID+"?stac_item=true", "", "")
	item := withItem["release"].(map[string]any)["stac_item_json"].(map[string]any)
	assert.Equal(t, "Feature", item["type"])

	code, tasks := o.do(t, "GET", "/api/dbadmin/tasks/"+jobID, "", "")
	require.Equal(t, 200, code)
	assert.EqualValues(t, 15, tasks["total"])
	assert.Len(t, tasks["stage_gates"], 5)
	code, tasks = o.do(t, "GET", "/api/dbadmin/tasks/"+jobID+"?stage=ref&limit=2&offset=1", "", "")
	require.Equal(t, 200, code)
	assert.EqualValues(t, 6, tasks["total"])
	list := tasks["tasks"].([]any)
	require.Len(t, list, 2)
	first := list[0].(map[string]any)
	assert.Equal(t, jobID+"/ref/00001", first["id"])
	result := first["result"].(map[string]any)
	assert.Equal(t, true, result["success"])
	assert.Contains(t, result["result"], "ref_url")
	code, _ = o.do(t, "GET", "/api/dbadmin/tasks/"+jobID+"?status=BOGUS", "", "")
	assert.Equal(t, 400, code)

	// The same submit again: the same job, no new work.
	code, again := o.submit(t, body)
	require.Equal(t, http.StatusOK, code, again)
	assert.Equal(t, jobID, again["job_id"])
	assert.Equal(t, resp["release_id"], again["release_id"])
	assert.Equal(t, "completed", again["status"])
	_, after := o.do(t, "GET", "/api/dbadmin/tasks/"+jobID, "", "")
	assert.Equal(t, 15.0, after["total"])

	// overwrite: a new run with its own Release.
	body["processing_options"].(map[string]any)["overwrite"] = true
	code, run2 := o.submit(t, body)
	require.Equal(t, http.StatusAccepted, code, run2)
	assert.Equal(t, jobID+"-r2", run2["job_id"])
	assert.NotEqual(t, resp["release_id"], run2["release_id"])
	st2 := o.waitDone(t, run2["job_id"].(string), 60*time.Second)
	assert.Equal(t, "COMPLETED", st2["status"])
	assert.EqualValues(t, 2, st2["release"].(map[string]any)["version"])
}

func TestAPIFailedJob(t *testing.T) {
	cfg := memConfig()
	cfg.RefsURL = t.TempDir()
	o := startOrch(t, cfg, &Options{Opener: &blobio.Opener{}})
	dir := sampleDir(t)
	bad := filepath.Join(dir, "tas_2017.nc")
	require.NoError(t, os.WriteFile(bad, []byte("CDF\x01 not really netCDF"), 0o644))
	code, resp := o.submit(t, map[string]any{"dataset_id": "sample", "resource_id": "bad", "source_url": dir, "data_type": "zarr"})
	require.Equal(t, http.StatusAccepted, code, resp)
	st := o.waitDone(t, resp["job_id"].(string), 60*time.Second)
	assert.Equal(t, "FAILED", st["status"])
	assert.Equal(t, "validate", st["stage"])
	assert.Contains(t, st["error"], bad)
	f := st["failure"].(map[string]any)
	assert.Equal(t, "validate", f["stage"])
	assert.Contains(t, f["task_id"], "/validate/00002")
	rel := st["release"].(map[string]any)
	assert.Equal(t, "FAILED", rel["processing_status"])
	assert.Contains(t, rel["error"], bad)
}

func TestParseConfig(t *testing.T) {
	t.Setenv("VZARR_MODE", "")
	os.Unsetenv("VZARR_MODE")
	for _, tc := range []struct {
		args []string
		env  map[string]string
		err  string
		chk  func(t *testing.T, c *Config)
	}{
		{args: nil, chk: func(t *testing.T, c *Config) {
			assert.Equal(t, "all", c.Mode)
			assert.Equal(t, "mem://vzarr-tasks", c.QueueURL)
			assert.Equal(t, int64(64<<10), c.MaxBodyBytes)
			assert.Zero(t, c.MemoryBudget)
		}},
		{args: []string{"-mode", "api"}, err: "needs a shared catalog"},
		{args: []string{"-mode", "worker", "-catalog", "postgres://x"}, err: "needs a shared queue"},
		{args: []string{"-mode", "worker", "-catalog", "postgres://x", "-queue", "rabbit://q"}},
		{args: []string{"-mode", "bogus"}, err: "-mode must be"},
		{env: map[string]string{"VZARR_MODE": "api", "VZARR_CATALOG_DSN": "postgres://x", "VZARR_QUEUE_URL": "azuresb://t",
			"VZARR_MAX_BODY_BYTES": "100", "VZARR_WORKERS": "3", "VZARR_ALLOW_LOCAL": "true"},
			chk: func(t *testing.T, c *Config) {
				assert.Equal(t, "api", c.Mode)
				assert.Equal(t, "azuresb://t", c.QueueURL)
				assert.Equal(t, int64(100), c.MaxBodyBytes)
				assert.Equal(t, 3, c.Workers)
				assert.True(t, c.AllowLocal)
			}},
		{args: []string{"extra"}, err: "unexpected arguments"},
		{args: []string{"-memory-budget", "3GiB"}, chk: func(t *testing.T, c *Config) { assert.Equal(t, int64(3<<30), c.MemoryBudget) }},
		{env: map[string]string{"VZARR_MEMORY_BUDGET": "512MiB"}, chk: func(t *testing.T, c *Config) { assert.Equal(t, int64(512<<20), c.MemoryBudget) }},
		{args: []string{"-memory-budget", "lots"}, err: "-memory-budget"},
	} {
		t.Run(fmt.Sprint(tc.args, tc.env), func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := parseConfig(tc.args)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			if tc.chk != nil {
				tc.chk(t, c)
			}
		})
	}
}

func TestGracefulShutdown(t *testing.T) {
	o := startOrch(t, memConfig(), nil)
	code, _ := o.do(t, "GET", "/healthz", "", "")
	require.Equal(t, 200, code)
	start := time.Now()
	o.stop()
	assert.Less(t, time.Since(start), 10*time.Second)
	_, err := http.Get(o.base + "/healthz")
	assert.Error(t, err, "the listener is closed")
}

func TestStoreUnavailableReady(t *testing.T) {
	// A catalog that cannot be reached: /readyz says so.
	st := &downStore{Store: catalog.NewMemory()}
	o := startOrch(t, memConfig(), &Options{Store: st})
	st.down = true
	code, m := o.do(t, "GET", "/readyz", "", "")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "unavailable", m["error_type"])
	code, m = o.submit(t, map[string]any{"dataset_id": "d", "resource_id": "r", "source_url": "abfs://c/p", "data_type": "zarr"})
	assert.Equal(t, http.StatusInternalServerError, code)
	assert.Contains(t, m["error"], "database is down")
}

type downStore struct {
	catalog.Store
	down bool
}

var errDown = fmt.Errorf("catalog: database is down")

func (d *downStore) GetJob(ctx context.Context, id string) (*catalog.Job, error) {
	if d.down {
		return nil, errDown
	}
	return d.Store.GetJob(ctx, id)
}
