package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/internal/testenv"
)

// ownPostgres starts a PostgreSQL server of this test's own (scripts/postgres
// with its own VZARR_PG_DIR and port, never the shared one), stopped and
// removed when the test ends. It returns the script's runner and the DSN.
func ownPostgres(t *testing.T) (pg func(cmd string) string, dsn string) {
	t.Helper()
	testenv.PostgresDSN(t) // the tests' PostgreSQL is configured: the server binaries exist
	dir, err := os.MkdirTemp("", "vzarr-pg-outage-")
	require.NoError(t, err)
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "postgres"))
	require.NoError(t, err)
	pg = func(cmd string) string {
		c := exec.Command(script, cmd)
		// A port below Linux's ephemeral range (32768-60999): there a
		// client connection of a test running in parallel may hold it.
		c.Env = append(os.Environ(), "VZARR_PG_DIR="+dir, "VZARR_PG_PORT=25470", "VZARR_PG_DB=vzarr_outage")
		out, err := c.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("scripts/postgres %s: %v: %s", cmd, err, ee.Stderr)
			}
			t.Fatalf("scripts/postgres %s: %v", cmd, err)
		}
		return strings.TrimSpace(string(out))
	}
	t.Cleanup(func() {
		pg("stop")
		_ = os.RemoveAll(dir)
	})
	pg("start")
	return pg, pg("dsn")
}

// TestPostgresOutage stops the catalog's PostgreSQL server under a
// running API: submits and reads answer 503 catalog_unavailable without
// connection details, and the refused submit left no record.
func TestPostgresOutage(t *testing.T) {
	pg, dsn := ownPostgres(t)
	cfg := memConfig(t)
	cfg.CatalogDSN, cfg.CatalogSchema, cfg.Migrate = dsn, "app", true
	dir, _ := testenv.CopySample(t, filepath.Join("..", ".."))
	cfg.AllowedSources = "file://" + dir
	cfg.RefsURL = t.TempDir()
	o := startOrch(t, cfg, &Options{Opener: &blobio.Opener{}})

	body := func(resource string) map[string]any {
		return map[string]any{"dataset_id": "sample", "resource_id": resource, "source_url": dir, "data_type": "zarr"}
	}
	code, resp := o.submit(t, body("before"))
	require.Equal(t, http.StatusAccepted, code, "%v", resp)
	st := o.waitDone(t, resp["job_id"].(string), time.Minute)
	require.Equal(t, "COMPLETED", st["status"], "%v", st["error"])

	pg("stop")
	code, m := o.submit(t, body("during"))
	assert.Equal(t, http.StatusServiceUnavailable, code, "%v", m)
	assert.Equal(t, "catalog_unavailable", m["error_type"])
	port := dsn[strings.LastIndex(dsn, ":")+1:]
	port = port[:strings.Index(port, "/")]
	for _, secret := range []string{"postgres", "127.0.0.1", port, "vzarr_outage"} {
		assert.NotContains(t, fmt.Sprint(m), secret)
	}
	code, m = o.do(t, "GET", "/api/jobs/status/"+resp["job_id"].(string), "", "")
	assert.Equal(t, http.StatusServiceUnavailable, code, "%v", m)
	assert.Equal(t, "catalog_unavailable", m["error_type"])
	code, _, _ = o.doAs(t, "", "GET", "/readyz", "", "")
	assert.Equal(t, http.StatusServiceUnavailable, code)

	// Back up: the records are those of the first submit only.
	pg("start")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg("dsn"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	for table, want := range map[string]int{"assets": 1, "releases": 1, "jobs": 1} {
		var n int
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM app."+table).Scan(&n))
		assert.Equal(t, want, n, table)
	}
	var during int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM app.assets WHERE resource_id = 'during'").Scan(&during))
	assert.Zero(t, during)
}
