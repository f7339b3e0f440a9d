package main

import (
	"context"
	"encoding/json"
	"flag"
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

	"github.com/greensight/vzarr/auth"
	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/engine"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/pipeline"
)

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("VZARR_TEST_LOGS") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// The test clients of token mode (tokensFile): the platform may submit
// and read, the reader only read, the writer only submit.
const (
	tokPlatform = "tok-platform-3f9c2a7b1e"
	tokReader   = "tok-reader-8d41c0e6aa"
	tokWriter   = "tok-writer-52b7e19f0c"
)

// tokensFile writes token mode's client file (hashes only) and returns
// its path.
func tokensFile(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "tokens")
	body := "# test clients\n" +
		"platform:" + auth.HashToken(tokPlatform) + ":submit,read\n" +
		"reader:" + auth.HashToken(tokReader) + ":read\n" +
		"writer:" + auth.HashToken(tokWriter) + ":submit\n"
	require.NoError(t, os.WriteFile(f, []byte(body), 0o600))
	return f
}

// orch is a running orchestrator.
type orch struct {
	base string
	stop func()
	// token is sent as the bearer token of do and submit (the platform's).
	token string
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
	o := &orch{token: tokPlatform}
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

// memConfig is an orchestrator in one process, with an in-memory queue,
// token authentication (tokensFile) and every source of the configured
// accounts allowed.
func memConfig(t *testing.T) *Config {
	return &Config{Mode: "all", Addr: "127.0.0.1:0", QueueURL: "mem://orch-test-" + testenv.RandomSuffix(),
		Workers: 8, AllowLocal: true, MaxBodyBytes: 64 << 10, LeaseTimeout: time.Minute, ShutdownTimeout: 5 * time.Second,
		Auth: "token", AuthTokensFile: tokensFile(t), AllowedSources: "*", SubmitRate: 100, SubmitBurst: 100}
}

func (o *orch) do(t *testing.T, method, path, contentType, body string) (int, map[string]any) {
	t.Helper()
	code, m, _ := o.doAs(t, o.token, method, path, contentType, body)
	return code, m
}

// doAs sends a request with a bearer token ("" for none) and returns the
// status, the JSON body and the headers.
func (o *orch) doAs(t *testing.T, token, method, path, contentType, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, o.base+path, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
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
	return resp.StatusCode, m, resp.Header
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

func TestAPIValidation(t *testing.T) {
	cfg := memConfig(t)
	cfg.MaxBodyBytes = 1024
	o := startOrch(t, cfg, &Options{Opener: &blobio.Opener{AccountName: "acct"}})
	good := `{"dataset_id":"d","resource_id":"r","source_url":"abfs://cnt/p","data_type":"zarr","processing_options":{"concat_dim":"time"}}`
	for _, tc := range []struct {
		name, method, path, ctype, body string
		code                            int
		errType, contains               string
	}{
		{"not json", "POST", "/api/platform/submit", "application/json", `dataset_id=d`, 400, "invalid_request", "invalid character"},
		{"unknown field", "POST", "/api/platform/submit", "application/json", `{"dataset":"d"}`, 400, "invalid_request", `unknown field "dataset"`},
		{"missing ids", "POST", "/api/platform/submit", "application/json", `{"source_url":"abfs://cnt/p","data_type":"zarr"}`, 400, "invalid_request", "dataset_id"},
		{"https source", "POST", "/api/platform/submit", "application/json", strings.Replace(good, "abfs://cnt/p", "https://x.blob.core.windows.net/c/p", 1), 400, "invalid_request", "source_url"},
		{"wrong data_type", "POST", "/api/platform/submit", "application/json", strings.Replace(good, `"zarr"`, `"cog"`, 1), 400, "invalid_request", "data_type"},
		{"unknown output_format", "POST", "/api/platform/submit", "application/json", strings.Replace(good, `"concat_dim":"time"`, `"concat_dim":"time","output_format":"zarr3"`, 1), 400, "invalid_request", "processing_options.output_format"},
		{"too large", "POST", "/api/platform/submit", "application/json", `{"dataset_id":"` + strings.Repeat("x", 2000) + `"}`, 413, "request_too_large", "1024 bytes"},
		{"form body", "POST", "/api/platform/submit", "application/x-www-form-urlencoded", good, 415, "unsupported_media_type", "Content-Type"},
		{"no Content-Type (sendBeacon)", "POST", "/api/platform/submit", "", good, 415, "unsupported_media_type", "Content-Type"},
		{"text/plain", "POST", "/api/platform/submit", "text/plain;charset=UTF-8", good, 415, "unsupported_media_type", "Content-Type"},
		{"json with charset", "POST", "/api/platform/submit", "application/json; charset=utf-8", strings.Replace(good, `"zarr"`, `"cog"`, 1), 400, "invalid_request", "data_type"},
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
	// /healthz and /readyz need no credentials.
	code, m, _ := o.doAs(t, "", "GET", "/healthz", "", "")
	assert.Equal(t, 200, code, m)
	code, m, _ = o.doAs(t, "", "GET", "/readyz", "", "")
	assert.Equal(t, 200, code, m)
}

// startSample runs an orchestrator over a copy of the sample (the only
// source it allows) on store; it returns the orchestrator, the refs
// folder and the sample's folder.
func startSample(t *testing.T, store catalog.Store) (o *orch, out, dir string) {
	t.Helper()
	cfg := memConfig(t)
	out = t.TempDir()
	cfg.RefsURL = out
	dir, _ = testenv.CopySample(t, filepath.Join("..", ".."))
	cfg.AllowedSources = "file://" + dir
	return startOrch(t, cfg, &Options{Opener: &blobio.Opener{}, Store: store}), out, dir
}

func TestAPISubmitToCompletion(t *testing.T) {
	store := catalog.NewMemory()
	o, out, dir := startSample(t, store)
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
	// The caller is recorded on the job and the Release.
	job, err := store.GetJob(context.Background(), jobID)
	require.NoError(t, err)
	assert.Equal(t, "platform", job.SubmittedBy)

	st := o.waitDone(t, jobID, 60*time.Second)
	require.Equal(t, "COMPLETED", st["status"], st["error"])
	assert.Equal(t, "register", st["stage"])
	rel := st["release"].(map[string]any)
	assert.Equal(t, "COMPLETED", rel["processing_status"])
	assert.Equal(t, resp["release_id"], rel["id"])
	assert.Equal(t, "platform", rel["submitted_by"])
	assert.Equal(t, filepath.Join(out, "sample", "monthly", resp["release_id"].(string), "combined.json"), rel["blob_path"])
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
	assert.EqualValues(t, 100, tasks["limit"])
	assert.NotContains(t, tasks, "next_offset")
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

// TestAPISubmitIcechunk: processing_options.output_format goes through
// the same submit path: the Release is a snapshot of the asset's
// Icechunk repository.
func TestAPISubmitIcechunk(t *testing.T) {
	o, out, dir := startSample(t, catalog.NewMemory())
	code, resp := o.submit(t, map[string]any{"dataset_id": "sample", "resource_id": "monthly", "source_url": dir, "data_type": "zarr",
		"processing_options": map[string]any{"concat_dim": "time", "output_format": "icechunk"}})
	require.Equal(t, http.StatusAccepted, code, resp)
	st := o.waitDone(t, resp["job_id"].(string), 60*time.Second)
	require.Equal(t, "COMPLETED", st["status"], st["error"])
	rel := st["release"].(map[string]any)
	assert.Equal(t, filepath.Join(out, "sample", "monthly", "repo.icechunk"), rel["blob_path"])
	_, withItem := o.do(t, "GET", "/api/jobs/status/"+resp["job_id"].(string)+"?stac_item=true", "", "")
	item := withItem["release"].(map[string]any)["stac_item_json"].(map[string]any)
	asset := item["assets"].(map[string]any)["icechunk"].(map[string]any)
	assert.Equal(t, "application/vnd.zarr+icechunk", asset["type"])
	assert.Equal(t, resp["release_id"], asset["icechunk:tag"])
	assert.NotEmpty(t, asset["icechunk:snapshot_id"])
}

func TestAPIFailedJob(t *testing.T) {
	cfg := memConfig(t)
	cfg.RefsURL = t.TempDir()
	dir, _ := testenv.CopySample(t, filepath.Join("..", ".."))
	cfg.AllowedSources = "file://" + dir
	o := startOrch(t, cfg, &Options{Opener: &blobio.Opener{}})
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
	for _, k := range []string{"VZARR_MODE", "VZARR_CATALOG_DSN", "DATABASE_URL", "VZARR_QUEUE_URL", "VZARR_ADDR",
		"VZARR_SUBMIT_RATE", "VZARR_SUBMIT_BURST", "VZARR_AUTH_TOKENS_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	// The API's required settings; cases blank them to test their absence.
	t.Setenv("VZARR_AUTH", "none")
	t.Setenv("VZARR_ALLOWED_SOURCES", "abfs://data/era5/")
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
			assert.Equal(t, "none", c.Auth)
			assert.Equal(t, "abfs://data/era5/", c.AllowedSources)
			assert.Equal(t, DefaultSubmitRate, c.SubmitRate)
			assert.Equal(t, DefaultSubmitBurst, c.SubmitBurst)
			// Defaults for blob sources, as vzarr run's: many tasks at
			// once (each waits on round trips), their memory bounded.
			assert.Equal(t, pipeline.RemoteWorkers(), c.Workers)
			assert.GreaterOrEqual(t, c.Workers, 64)
			assert.Equal(t, int64(pipeline.RemoteMemoryBudget), c.MemoryBudget)
		}},
		{args: []string{"-mode", "api"}, err: "needs a shared catalog"},
		{args: []string{"-mode", "worker", "-catalog", "postgres://x"}, err: "needs a shared queue"},
		{args: []string{"-mode", "worker", "-catalog", "postgres://x", "-queue", "rabbit://q"}},
		{args: []string{"-mode", "bogus"}, err: "-mode must be"},
		{env: map[string]string{"VZARR_MODE": "api", "VZARR_CATALOG_DSN": "postgres://x", "VZARR_QUEUE_URL": "azuresb://t",
			"VZARR_MAX_BODY_BYTES": "100", "VZARR_WORKERS": "3", "VZARR_ALLOW_LOCAL": "true",
			"VZARR_SUBMIT_RATE": "0.5", "VZARR_SUBMIT_BURST": "7", "VZARR_AUTH": "token", "VZARR_AUTH_TOKENS_FILE": "/etc/vzarr/tokens"},
			chk: func(t *testing.T, c *Config) {
				assert.Equal(t, "api", c.Mode)
				assert.Equal(t, "azuresb://t", c.QueueURL)
				assert.Equal(t, int64(100), c.MaxBodyBytes)
				assert.Equal(t, 3, c.Workers)
				assert.True(t, c.AllowLocal)
				assert.Equal(t, 0.5, c.SubmitRate)
				assert.Equal(t, 7, c.SubmitBurst)
				assert.Equal(t, "token", c.Auth)
				assert.Equal(t, "/etc/vzarr/tokens", c.AuthTokensFile)
			}},
		{args: []string{"extra"}, err: "unexpected arguments"},

		// Authentication is required and explicit.
		{env: map[string]string{"VZARR_AUTH": ""}, err: "needs an authentication mode: set -auth (VZARR_AUTH)"},
		{args: []string{"-auth", "basic"}, err: "-auth must be entra, token or none"},
		{args: []string{"-auth", "none", "-addr", "0.0.0.0:8080"}, err: "loopback"},
		{args: []string{"-auth", "none", "-addr", ":8080"}, err: "loopback"},
		{args: []string{"-auth", "none", "-addr", "[::1]:8080"}},
		{args: []string{"-auth", "entra", "-addr", "0.0.0.0:8080"}, chk: func(t *testing.T, c *Config) { assert.Equal(t, "entra", c.Auth) }},
		{args: []string{"-auth", "token", "-auth-tokens-file", "/run/tokens"}, chk: func(t *testing.T, c *Config) {
			assert.Equal(t, "/run/tokens", c.AuthTokensFile)
		}},
		// Workers serve no API: neither is needed.
		{args: []string{"-mode", "worker", "-catalog", "postgres://x", "-queue", "rabbit://q"},
			env: map[string]string{"VZARR_AUTH": "", "VZARR_ALLOWED_SOURCES": ""}},

		// The allow-list of sources is required.
		{env: map[string]string{"VZARR_ALLOWED_SOURCES": ""}, err: "needs an allow-list of sources: set -allowed-sources"},
		{args: []string{"-allowed-sources", "*"}, chk: func(t *testing.T, c *Config) { assert.Equal(t, "*", c.AllowedSources) }},

		// Rate limit.
		{args: []string{"-submit-rate", "-1"}, err: "-submit-rate"},
		{args: []string{"-submit-burst", "0"}, err: "-submit-burst"},
		{args: []string{"-submit-rate", "0"}, chk: func(t *testing.T, c *Config) { assert.Zero(t, c.SubmitRate) }},

		// No password on the command line.
		{args: []string{"-catalog", "postgres://vzarr:s3cret@db.example/vzarr"}, err: "VZARR_CATALOG_DSN"},
		{args: []string{"-catalog", "postgres://vzarr@db.example/vzarr?password=s3cret"}, err: "PGPASSFILE"},
		{args: []string{"-catalog", "host=db.example user=vzarr password=s3cret"}, err: "holds a password"},
		{args: []string{"-catalog", "host=db.example user=vzarr password = s3cret"}, err: "holds a password"},
		{args: []string{"-catalog", "postgres://vzarr@db.example/vzarr"}, chk: func(t *testing.T, c *Config) {
			assert.Equal(t, "postgres://vzarr@db.example/vzarr", c.CatalogDSN)
		}},
		{env: map[string]string{"VZARR_CATALOG_DSN": "postgres://vzarr:s3cret@db.example/vzarr"}, chk: func(t *testing.T, c *Config) {
			assert.Equal(t, "postgres://vzarr:s3cret@db.example/vzarr", c.CatalogDSN, "a password in the environment is fine")
		}},
		{env: map[string]string{"DATABASE_URL": "postgres://a@b/c"}, chk: func(t *testing.T, c *Config) {
			assert.Equal(t, "postgres://a@b/c", c.CatalogDSN)
		}},
		{args: []string{"-memory-budget", "3GiB"}, chk: func(t *testing.T, c *Config) { assert.Equal(t, int64(3<<30), c.MemoryBudget) }},
		{env: map[string]string{"VZARR_MEMORY_BUDGET": "512MiB"}, chk: func(t *testing.T, c *Config) { assert.Equal(t, int64(512<<20), c.MemoryBudget) }},
		{args: []string{"-memory-budget", "lots"}, err: "-memory-budget"},
		{args: []string{"-memory-budget", "0", "-workers", "8"}, chk: func(t *testing.T, c *Config) {
			assert.Zero(t, c.MemoryBudget)
			assert.Equal(t, 8, c.Workers)
		}},
	} {
		t.Run(fmt.Sprint(tc.args, tc.env), func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := parseConfig(tc.args)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.NotContains(t, err.Error(), "s3cret", "the error does not repeat the password")
				return
			}
			require.NoError(t, err)
			if tc.chk != nil {
				tc.chk(t, c)
			}
		})
	}
}

// TestHelpHidesDSN: -h does not print the DSN of the environment (it may
// hold a password).
func TestHelpHidesDSN(t *testing.T) {
	t.Setenv("VZARR_CATALOG_DSN", "postgres://vzarr:s3cret@db.example/vzarr")
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stderr := os.Stderr
	os.Stderr = w
	_, err = parseConfig([]string{"-h"})
	os.Stderr = stderr
	require.NoError(t, w.Close())
	assert.ErrorIs(t, err, flag.ErrHelp)
	out, rerr := io.ReadAll(r)
	require.NoError(t, rerr)
	assert.Contains(t, string(out), "-catalog")
	assert.NotContains(t, string(out), "s3cret")
}

// TestRunRefusesUnsafeConfig: run itself (not only the flag parser)
// refuses to serve the API without authentication, on a public address
// with -auth none, or without an allow-list.
func TestRunRefusesUnsafeConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		err  string
	}{
		{"no auth", func(c *Config) { c.Auth = "" }, "authentication mode"},
		{"none on every interface", func(c *Config) { c.Auth, c.Addr = "none", "0.0.0.0:0" }, "loopback"},
		{"no allow-list", func(c *Config) { c.AllowedSources = "" }, "allow-list"},
		{"token mode without a file", func(c *Config) { c.AuthTokensFile = "" }, "tokens file"},
		{"bad allow-list", func(c *Config) { c.AllowedSources = "https://example.com/x" }, "-allowed-sources"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := memConfig(t)
			tc.edit(cfg)
			err := run(context.Background(), cfg, testLogger(t), &Options{Opener: &blobio.Opener{AccountName: "acct"}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}

func TestGracefulShutdown(t *testing.T) {
	o := startOrch(t, memConfig(t), nil)
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
	o := startOrch(t, memConfig(t), &Options{Store: st, Opener: &blobio.Opener{AccountName: "acct"}})
	st.down = true
	code, m, _ := o.doAs(t, "", "GET", "/readyz", "", "")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "catalog_unavailable", m["error_type"])
	assert.Equal(t, "not ready", m["error"], "an open endpoint gives no details")
	// An unclassified failure is 500 with a generic message; the detail
	// is in the log only.
	code, m = o.submit(t, map[string]any{"dataset_id": "d", "resource_id": "r", "source_url": "abfs://cnt/p", "data_type": "zarr"})
	assert.Equal(t, http.StatusInternalServerError, code)
	assert.Equal(t, "internal_error", m["error_type"])
	assert.NotContains(t, m["error"], "database is down")
}

// TestQueueUnavailableReady: /readyz is 503 queue_unavailable while the
// connections to RabbitMQ are cut (a proxy stands for the broker), without
// the broker's address, and 200 again once the queue has reconnected.
func TestQueueUnavailableReady(t *testing.T) {
	px, via := testenv.RabbitProxy(t)
	t.Setenv("RABBIT_SERVER_URL", via)
	cfg := memConfig(t)
	cfg.Mode = "api"
	cfg.QueueURL = "rabbit://vzarr-readyz-test-" + testenv.RandomSuffix()
	o := startOrch(t, cfg, &Options{Store: catalog.NewMemory()})
	code, m := o.do(t, "GET", "/readyz", "", "")
	require.Equal(t, http.StatusOK, code, m)

	px.Cut()
	require.Eventually(t, func() bool { code, _ := o.do(t, "GET", "/readyz", "", ""); return code == 503 }, 10*time.Second, 10*time.Millisecond)
	code, m = o.do(t, "GET", "/readyz", "", "")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "queue_unavailable", m["error_type"])
	assert.Equal(t, false, m["success"])
	assert.NotContains(t, m["error"], px.Addr(), "no host in the body")
	assert.NotContains(t, m["error"], "guest")
	code, m = o.do(t, "GET", "/healthz", "", "")
	assert.Equal(t, http.StatusOK, code, "alive, only not ready")
	body := map[string]any{"dataset_id": "d", "resource_id": "r", "source_url": "abfs://cnt/p", "data_type": "zarr"}
	code, m = o.submit(t, body)
	assert.Equal(t, http.StatusServiceUnavailable, code, m)
	assert.Equal(t, "unavailable", m["error_type"])

	px.Heal()
	require.Eventually(t, func() bool { code, _ := o.do(t, "GET", "/readyz", "", ""); return code == 200 }, 30*time.Second, 20*time.Millisecond)
	code, m = o.submit(t, body)
	assert.Equal(t, http.StatusAccepted, code, "the submit during the outage created nothing: %v", m)
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

// The status endpoint says which lease a stage waits for, judged by the
// configured lease (not the engine's default of 10 minutes).
func TestAPIStatusSaysWhichLeaseItWaits(t *testing.T) {
	cfg := memConfig(t)
	cfg.LeaseTimeout = 3 * time.Minute
	store := catalog.NewMemory()
	o := startOrch(t, cfg, &Options{Store: store, Opener: &blobio.Opener{}})
	ctx := context.Background()
	// A job whose scan task a worker holds (no message is queued, so no
	// worker of this process touches it).
	job, err := store.CreateJob(ctx, catalog.NewJob{ID: "vz-lease", Type: "virtualize", Stage: "scan"})
	require.NoError(t, err)
	_, err = store.TransitionJob(ctx, job.ID, catalog.Transition{To: catalog.StatusProcessing, Stage: "scan"})
	require.NoError(t, err)
	_, err = store.CreateTask(ctx, catalog.NewTask{ID: engine.GateID(job.ID, "scan"), JobID: job.ID, Type: engine.GateType, Stage: "scan"})
	require.NoError(t, err)
	tk, err := store.CreateTask(ctx, catalog.NewTask{ID: job.ID + "/scan/00000", JobID: job.ID, Type: "scan", Stage: "scan"})
	require.NoError(t, err)
	tk, err = store.TransitionTask(ctx, tk.ID, catalog.Transition{To: catalog.StatusProcessing})
	require.NoError(t, err)

	code, st := o.do(t, "GET", "/api/jobs/status/"+job.ID, "", "")
	require.Equal(t, http.StatusOK, code, st)
	until := tk.StartedAt.Add(cfg.LeaseTimeout).Format(time.RFC3339)
	assert.Equal(t, "waiting for lease of task "+tk.ID+" until "+until, st["note"])
}
