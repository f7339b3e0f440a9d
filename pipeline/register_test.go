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
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/pipeline"
	"github.com/greensight/vzarr/refstore"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// stores returns the catalog stores the tests run against: memory, and
// PostgreSQL when VZARR_PG_DSN names a server (required when
// VZARR_REQUIRE_TOOLS=1).
func stores(t *testing.T) map[string]func(t *testing.T) catalog.Store {
	out := map[string]func(t *testing.T) catalog.Store{
		"memory": func(*testing.T) catalog.Store { return catalog.NewMemory() },
	}
	dsn := os.Getenv("VZARR_PG_DSN")
	if dsn == "" {
		if os.Getenv("VZARR_REQUIRE_TOOLS") == "1" {
			t.Fatal("VZARR_PG_DSN is not set (VZARR_REQUIRE_TOOLS=1: PostgreSQL is required; run scripts/postgres start)")
		}
		return out
	}
	out["postgres"] = func(t *testing.T) catalog.Store { return testenv.Postgres(t) }
	return out
}

// forEachStore runs test as a subtest on each of the stores.
func forEachStore(t *testing.T, test func(t *testing.T, store catalog.Store)) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) { test(t, open(t)) })
	}
}

// fixture copies a reference fixture of testdata/stac into dir.
func fixture(t *testing.T, name, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "stac", name))
	require.NoError(t, err)
	path := filepath.Join(dir, "refs", "combined", name)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return path
}

type env struct {
	store   catalog.Store
	deps    pipeline.RegisterDeps
	release *catalog.Release
	params  pipeline.RegisterParams
	logs    *bytes.Buffer
}

func newEnv(t *testing.T, open func(*testing.T) catalog.Store) *env {
	t.Helper()
	s := open(t)
	ctx := context.Background()
	res, err := s.EnsureRelease(ctx, catalog.ReleaseKey{DatasetID: "cmip6-tas", ResourceID: "monthly", JobID: "job-1"})
	require.NoError(t, err)
	_, err = s.TransitionRelease(ctx, res.Release.ID, catalog.Transition{To: catalog.StatusProcessing})
	require.NoError(t, err)
	logs := &bytes.Buffer{}
	dir := t.TempDir()
	return &env{
		store:   s,
		release: res.Release,
		logs:    logs,
		deps: pipeline.RegisterDeps{
			Store:  s,
			Opener: &blobio.Opener{AccountName: "climatedata"},
			Logger: slog.New(slog.NewJSONHandler(logs, nil)),
			Now:    func() time.Time { return now },
		},
		params: pipeline.RegisterParams{
			ReleaseID:      res.Release.ID,
			DatasetID:      "cmip6-tas",
			ResourceID:     "monthly",
			CollectionID:   "cmip6",
			CombinedRefURL: fixture(t, "global_monthly.json", dir),
			Dimensions:     map[string]int64{"time": 12, "lat": 180, "lon": 360, "bnds": 2},
			Variables:      []string{"tas"},
			TimeRange:      []string{"2000-01-01T00:00:00Z", "2000-12-01T00:00:00Z"},
			SpatialExtent:  []float64{-180, -90, 180, 90},
		},
	}
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestRegisterZarrSTAC(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, open)
			ctx := context.Background()
			out := pipeline.RegisterZarrSTAC(ctx, e.deps, e.params)
			blobPath := e.params.CombinedRefURL // a local file: its absolute path
			assert.JSONEq(t, `{"success": true, "result": {"stac_item_cached": true, "release_updated": true,
				"blob_path": `+asJSON(t, blobPath)+`}}`, asJSON(t, out))

			rel, err := e.store.GetRelease(ctx, e.release.ID)
			require.NoError(t, err)
			assert.Equal(t, catalog.StatusCompleted, rel.ProcessingStatus)
			assert.Equal(t, blobPath, rel.BlobPath)
			require.NotNil(t, rel.StacItemJSON)

			var item map[string]any
			require.NoError(t, json.Unmarshal(rel.StacItemJSON, &item))
			assert.Equal(t, "cmip6-tas-monthly", item["id"])
			assert.Equal(t, "cmip6", item["collection"])
			assert.Equal(t, []any{-180.0, -90.0, 180.0, 90.0}, item["bbox"], "the combine result's extent wins")
			p := item["properties"].(map[string]any)
			assert.Equal(t, "2000-01-01T00:00:00Z", p["start_datetime"])
			assert.Equal(t, "2000-12-01T00:00:00Z", p["end_datetime"])
			assert.Equal(t, "2025-06-01T12:00:00Z", p["created"])
			vars := p["cube:variables"].(map[string]any)
			assert.Equal(t, "data", vars["tas"].(map[string]any)["type"])
			assert.Equal(t, "auxiliary", vars["time_bnds"].(map[string]any)["type"])
			assert.Equal(t, []any{1.0, 90.0, 180.0}, vars["tas"].(map[string]any)["zarr:chunks"])
			so := item["assets"].(map[string]any)["references"].(map[string]any)["xarray:open_kwargs"].(map[string]any)["storage_options"].(map[string]any)
			assert.Equal(t, e.params.CombinedRefURL, so["fo"])
			assert.Equal(t, "abfs", so["remote_protocol"])
			assert.Equal(t, map[string]any{"account_name": "climatedata"}, so["remote_options"])

			// The log names the inputs and the duration.
			var rec map[string]any
			require.NoError(t, json.Unmarshal([]byte(lastLine(e.logs.String())), &rec))
			assert.Equal(t, "pipeline: registered", rec["msg"])
			assert.Equal(t, e.release.ID, rec["release_id"])
			assert.Equal(t, e.params.CombinedRefURL, rec["combined_ref_url"])
			assert.Contains(t, rec, "duration")

			// A retried task on the COMPLETED release succeeds again.
			again := pipeline.RegisterZarrSTAC(ctx, e.deps, e.params)
			assert.True(t, again.Success, again.Error)

			// Once approved, the release is frozen.
			_, err = e.store.SetApproval(ctx, e.release.ID, catalog.ApprovalApproved)
			require.NoError(t, err)
			frozen := pipeline.RegisterZarrSTAC(ctx, e.deps, e.params)
			assert.False(t, frozen.Success)
			assert.Equal(t, pipeline.ErrTypeIllegalTransition, frozen.ErrorType)
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestRegisterFailures(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			tests := []struct {
				name     string
				mutate   func(e *env)
				wantType string
				wantMsg  string
			}{
				{"no release id", func(e *env) { e.params.ReleaseID = "" }, pipeline.ErrTypeInvalidParams, "release_id is required"},
				{"no ref url", func(e *env) { e.params.CombinedRefURL = " " }, pipeline.ErrTypeInvalidParams, "combined_ref_url"},
				{"bad time range", func(e *env) { e.params.TimeRange = []string{"yesterday", "today"} }, pipeline.ErrTypeInvalidParams, "time_range"},
				{"reversed time range", func(e *env) { e.params.TimeRange = []string{"2001-01-01", "2000-01-01"} }, pipeline.ErrTypeInvalidParams, "ends before"},
				{"three-value time range", func(e *env) { e.params.TimeRange = []string{"2000-01-01", "2000-01-02", "x"} }, pipeline.ErrTypeInvalidParams, "time_range"},
				{"bad extent", func(e *env) { e.params.SpatialExtent = []float64{0, 10, 5} }, pipeline.ErrTypeInvalidParams, "spatial_extent"},
				{"extent south of north", func(e *env) { e.params.SpatialExtent = []float64{0, 10, 5, 0} }, pipeline.ErrTypeInvalidParams, "spatial_extent"},
				{"unknown release", func(e *env) { e.params.ReleaseID = "nope" }, pipeline.ErrTypeNotFound, "release"},
				{"another dataset's release", func(e *env) { e.params.DatasetID = "era5" }, pipeline.ErrTypeReleaseMismatch, "belongs to cmip6-tas/monthly"},
				{"missing reference file", func(e *env) { e.params.CombinedRefURL += ".missing" }, pipeline.ErrTypeNotFound, ".missing"},
				{"not a reference file", func(e *env) {
					require.NoError(t, os.WriteFile(e.params.CombinedRefURL, []byte(`[1, 2]`), 0o644))
				}, pipeline.ErrTypeInvalidRefs, "invalid reference file"},
				{"no arrays", func(e *env) {
					require.NoError(t, os.WriteFile(e.params.CombinedRefURL, []byte(`{"version": 1, "refs": {".zgroup": "{}"}}`), 0o644))
				}, pipeline.ErrTypeInvalidRefs, "no arrays"},
				{"azure without account", func(e *env) {
					local := e.params.CombinedRefURL
					e.deps.Opener = &blobio.Opener{}
					e.deps.LoadRefs = func(ctx context.Context, _ string) (*kerchunk.Refs, error) {
						return (&refstore.Store{Opener: &blobio.Opener{}}).Load(ctx, local)
					}
					e.params.CombinedRefURL = "abfs://refs/combined/global_monthly.json"
				}, pipeline.ErrTypeInvalidMetadata, "storage account"},
				{"failed release", func(e *env) {
					_, err := e.store.TransitionRelease(context.Background(), e.release.ID, catalog.Transition{To: catalog.StatusFailed, Error: "combine failed"})
					require.NoError(t, err)
				}, pipeline.ErrTypeIllegalTransition, "FAILED"},
				{"no store", func(e *env) { e.deps.Store = nil }, pipeline.ErrTypeConfig, "no catalog store"},
				{"repo_url names no container", func(e *env) { e.params.RepoURL = "abfs:///repo.icechunk" }, pipeline.ErrTypeInvalidParams, "repo_url"},
				// Icechunk output records each source's ETag: blob sources
				// that cannot be read (the fixture's chunks are in
				// abfs://cmip/raw/, with no credential here) fail before
				// the repository is created.
				{"icechunk with unreadable blob sources", func(e *env) {
					e.params.RepoURL = filepath.Join(filepath.Dir(e.params.CombinedRefURL), "repo.icechunk")
				}, pipeline.ErrTypeInvalidParams, "virtual chunk source"},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					e := newEnv(t, open)
					tc.mutate(e)
					out := pipeline.RegisterZarrSTAC(context.Background(), e.deps, e.params)
					assert.False(t, out.Success)
					assert.Equal(t, tc.wantType, out.ErrorType, out.Error)
					assert.Contains(t, out.Error, tc.wantMsg)
					var m map[string]any
					require.NoError(t, json.Unmarshal([]byte(asJSON(t, out)), &m))
					assert.Equal(t, map[string]any{"success": false, "error": out.Error, "error_type": tc.wantType}, m)
					if e.deps.Store != nil && tc.wantType != pipeline.ErrTypeNotFound && tc.wantType != pipeline.ErrTypeReleaseMismatch {
						rel, err := e.store.GetRelease(context.Background(), e.release.ID)
						require.NoError(t, err)
						assert.NotEqual(t, catalog.StatusCompleted, rel.ProcessingStatus, "a failed stage completes nothing")
						assert.Nil(t, rel.StacItemJSON)
					}
					if e.params.RepoURL != "" && !strings.Contains(e.params.RepoURL, "://") {
						assert.NoDirExists(t, e.params.RepoURL, "a failed register creates no repository")
					}
				})
			}
		})
	}
}

func TestRegisterJSONParams(t *testing.T) {
	e := newEnv(t, func(*testing.T) catalog.Store { return catalog.NewMemory() })
	raw, err := json.Marshal(e.params)
	require.NoError(t, err)
	out := pipeline.RegisterZarrSTACJSON(context.Background(), e.deps, raw)
	assert.True(t, out.Success, out.Error)

	out = pipeline.RegisterZarrSTACJSON(context.Background(), e.deps, []byte(`{"release_id": 7}`))
	assert.Equal(t, pipeline.ErrTypeInvalidParams, out.ErrorType)
	out = pipeline.RegisterZarrSTACJSON(context.Background(), e.deps, []byte(`{"release": "x"}`))
	assert.Equal(t, pipeline.ErrTypeInvalidParams, out.ErrorType, "unknown fields are refused")
}

// TestRegisterFromBlobStorage reads the combined references through a
// blobio Opener (in-memory buckets stand in for Azure), with coordinate
// chunks read as byte ranges of another object.
func TestRegisterFromBlobStorage(t *testing.T) {
	e := newEnv(t, func(*testing.T) catalog.Store { return catalog.NewMemory() })
	ctx := context.Background()
	mem := &blobio.MemBuckets{}
	b := mem.Create("refs")
	defer b.Close()
	coords, err := os.ReadFile(filepath.Join("..", "testdata", "stac", "regional_coords.bin"))
	require.NoError(t, err)
	require.NoError(t, b.WriteAll(ctx, "coords.bin", coords, nil))
	refs, err := os.ReadFile(filepath.Join("..", "testdata", "stac", "regional_dateline.json"))
	require.NoError(t, err)
	text := strings.ReplaceAll(string(refs), "file://@TESTDATA@/regional_coords.bin", "mem://refs/coords.bin")
	require.NoError(t, b.WriteAll(ctx, "combined/pacific.json", []byte(text), nil))

	e.deps.Opener = &blobio.Opener{Mem: mem}
	e.deps.STAC = pipeline.STACConfig{Account: "climatedata"}
	e.params.CombinedRefURL = "mem://refs/combined/pacific.json"
	e.params.Dimensions = nil
	e.params.Variables = nil
	e.params.TimeRange = nil
	e.params.SpatialExtent = nil
	out := pipeline.RegisterZarrSTAC(ctx, e.deps, e.params)
	require.True(t, out.Success, out.Error)
	assert.Equal(t, "combined/pacific.json", out.Result.(*pipeline.RegisterResult).BlobPath)
	rel, err := e.store.GetRelease(ctx, e.release.ID)
	require.NoError(t, err)
	var item struct {
		BBox       []float64 `json:"bbox"`
		Properties struct {
			Start string `json:"start_datetime"`
		} `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(rel.StacItemJSON, &item))
	assert.Equal(t, []float64{170, 10, -160, 20}, item.BBox, "coordinates read from the blob")
	assert.Equal(t, "2000-01-01T00:00:00Z", item.Properties.Start)
}

// TestRegisterPublishRefURL: a reference read from a staging folder is
// registered under the folder it is published to.
func TestRegisterPublishRefURL(t *testing.T) {
	e := newEnv(t, func(*testing.T) catalog.Store { return catalog.NewMemory() })
	ctx := context.Background()
	e.params.PublishRefURL = "/data/published/combined.json"
	out := pipeline.RegisterZarrSTAC(ctx, e.deps, e.params)
	require.True(t, out.Success, out.Error)
	rel, err := e.store.GetRelease(ctx, e.release.ID)
	require.NoError(t, err)
	assert.Equal(t, "/data/published/combined.json", rel.BlobPath)
	assert.Contains(t, string(rel.StacItemJSON), `"/data/published/combined.json"`)
	assert.NotContains(t, string(rel.StacItemJSON), e.params.CombinedRefURL, "the staging path is not published")
}
