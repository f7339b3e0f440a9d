package main

// Tests of the API's protections (issue 10): authentication on every
// endpoint but /healthz and /readyz, request hygiene, the allow-list of
// sources, the rate limit, paging, and a catalog outage.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/pipeline"
)

const goodBody = `{"dataset_id":"d","resource_id":"r","source_url":"abfs://cnt/p","data_type":"zarr"}`

func TestAPIAuth(t *testing.T) {
	store := catalog.NewMemory()
	o := startOrch(t, memConfig(t), &Options{Store: store, Opener: &blobio.Opener{AccountName: "acct"}})
	code, resp := o.submit(t, map[string]any{"dataset_id": "d", "resource_id": "r", "source_url": "abfs://cnt/p", "data_type": "zarr"})
	require.Equal(t, http.StatusAccepted, code, resp)
	job := resp["job_id"].(string)

	for _, tc := range []struct {
		name, token, method, path, ctype, body string
		code                                   int
		errType, challenge                     string
	}{
		{"submit without a token", "", "POST", "/api/platform/submit", "application/json", goodBody, 401, "unauthorized", `Bearer realm="vzarr"`},
		{"submit with a wrong token", "tok-wrong", "POST", "/api/platform/submit", "application/json", goodBody, 401, "unauthorized", `error="invalid_token"`},
		{"submit by a read-only client", tokReader, "POST", "/api/platform/submit", "application/json", goodBody, 403, "forbidden", `error="insufficient_scope"`},
		{"submit by a submit-only client", tokWriter, "POST", "/api/platform/submit", "application/json", goodBody, 200, "", ""},
		{"status without a token", "", "GET", "/api/jobs/status/" + job, "", "", 401, "unauthorized", "Bearer"},
		{"status by a submit-only client", tokWriter, "GET", "/api/jobs/status/" + job, "", "", 403, "forbidden", "insufficient_scope"},
		{"status by a reader", tokReader, "GET", "/api/jobs/status/" + job, "", "", 200, "", ""},
		{"tasks without a token", "", "GET", "/api/dbadmin/tasks/" + job, "", "", 401, "unauthorized", "Bearer"},
		{"tasks with a wrong token", "tok-wrong", "GET", "/api/dbadmin/tasks/" + job, "", "", 401, "unauthorized", "invalid_token"},
		{"tasks by a submit-only client", tokWriter, "GET", "/api/dbadmin/tasks/" + job, "", "", 403, "forbidden", "insufficient_scope"},
		{"tasks by a reader", tokReader, "GET", "/api/dbadmin/tasks/" + job, "", "", 200, "", ""},
		{"unknown job needs credentials first", "", "GET", "/api/jobs/status/vz-nope", "", "", 401, "unauthorized", "Bearer"},
		{"healthz is open", "", "GET", "/healthz", "", "", 200, "", ""},
		{"readyz is open", "", "GET", "/readyz", "", "", 200, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, m, h := o.doAs(t, tc.token, tc.method, tc.path, tc.ctype, tc.body)
			assert.Equal(t, tc.code, code, "%v", m)
			if tc.errType != "" {
				assert.Equal(t, false, m["success"])
				assert.Equal(t, tc.errType, m["error_type"])
				assert.Contains(t, h.Get("WWW-Authenticate"), tc.challenge)
				assert.NotContains(t, fmt.Sprint(m), "tok-", "no token in the answer")
			}
		})
	}
	// The submit of a refused caller created nothing: the one job is the
	// platform's, whose name is recorded.
	j, err := store.GetJob(context.Background(), job)
	require.NoError(t, err)
	assert.Equal(t, "platform", j.SubmittedBy)
	rel, err := store.GetRelease(context.Background(), j.ReleaseID)
	require.NoError(t, err)
	assert.Equal(t, "platform", rel.SubmittedBy)
}

// TestAPIAuthNoneLoopback: -auth none serves on a loopback address, every
// caller "anonymous".
func TestAPIAuthNoneLoopback(t *testing.T) {
	cfg := memConfig(t)
	cfg.Auth, cfg.AuthTokensFile = "none", ""
	store := catalog.NewMemory()
	o := startOrch(t, cfg, &Options{Store: store, Opener: &blobio.Opener{AccountName: "acct"}})
	code, m, _ := o.doAs(t, "", "POST", "/api/platform/submit", "application/json", goodBody)
	require.Equal(t, http.StatusAccepted, code, m)
	j, err := store.GetJob(context.Background(), m["job_id"].(string))
	require.NoError(t, err)
	assert.Equal(t, "anonymous", j.SubmittedBy)
}

// stringFields are the string fields of a submit request, as JSON paths.
var stringFields = []string{"dataset_id", "resource_id", "source_url", "data_type", "collection_id",
	"processing_options.pipeline", "processing_options.concat_dim", "processing_options.file_pattern"}

// bodyWith returns a valid submit body whose field holds a control
// character (JSON-escaped as esc, e.g. \u0000).
func bodyWith(field, esc string) string {
	po := map[string]any{"pipeline": "virtualzarr", "concat_dim": "time", "file_pattern": "*.nc"}
	b := map[string]any{"dataset_id": "nul-ds", "resource_id": "nul-res", "source_url": "abfs://cnt/p",
		"data_type": "zarr", "collection_id": "coll", "processing_options": po}
	const mark = "MARK"
	if name, ok := strings.CutPrefix(field, "processing_options."); ok {
		po[name] = po[name].(string) + mark
	} else {
		b[field] = b[field].(string) + mark
	}
	raw, _ := json.Marshal(b)
	return strings.Replace(string(raw), mark, esc, 1)
}

// TestAPIControlCharacters: a NUL or another control character in any
// string field is 400 naming the field, and creates no record, on the
// in-memory and the PostgreSQL catalog.
func TestAPIControlCharacters(t *testing.T) {
	stores := map[string]func(t *testing.T) (catalog.Store, func(t *testing.T) int){
		"memory": func(t *testing.T) (catalog.Store, func(t *testing.T) int) {
			m := catalog.NewMemory()
			return m, func(t *testing.T) int {
				n := 0
				if _, err := m.FindAsset(context.Background(), "nul-ds", "nul-res"); err == nil {
					n++
				}
				return n
			}
		},
		"postgres": func(t *testing.T) (catalog.Store, func(t *testing.T) int) {
			pg := testenv.Postgres(t)
			return pg, func(t *testing.T) int { return countRows(t, pg) }
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			store, rows := open(t)
			o := startOrch(t, memConfig(t), &Options{Store: store, Opener: &blobio.Opener{AccountName: "acct"}})
			for _, field := range stringFields {
				for _, esc := range []string{`\u0000`, `\u001b`, `\n`, `\u007f`, `\u2028`} {
					t.Run(field+esc, func(t *testing.T) {
						code, m := o.do(t, "POST", "/api/platform/submit", "application/json", bodyWith(field, esc))
						assert.Equal(t, http.StatusBadRequest, code, "%v", m)
						assert.Equal(t, "invalid_request", m["error_type"])
						assert.Contains(t, m["error"], field+": holds the control character")
					})
				}
			}
			assert.Zero(t, rows(t), "no record was created")
			// The same body without the character is accepted.
			code, m := o.do(t, "POST", "/api/platform/submit", "application/json", bodyWith("dataset_id", ""))
			require.Equal(t, http.StatusAccepted, code, "%v", m)
			assert.NotZero(t, rows(t))
		})
	}
}

// countRows counts the records of a PostgreSQL catalog.
func countRows(t *testing.T, pg *catalog.Postgres) int {
	t.Helper()
	total := 0
	for _, table := range []string{"assets", "releases", "jobs"} {
		var n int
		err := pg.Pool().QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{pg.Schema(), table}.Sanitize()).Scan(&n)
		require.NoError(t, err)
		total += n
	}
	return total
}

// countingCredential counts the tokens asked for.
type countingCredential struct{ n atomic.Int64 }

func (c *countingCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.n.Add(1)
	return azcore.AccessToken{Token: "secret-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestAPISourceNotAllowed: the reproduction of issue 10 and other
// spellings are refused with 400; no record or job is created, so no
// worker ever asks for a storage token or opens a connection for them.
func TestAPISourceNotAllowed(t *testing.T) {
	cfg := memConfig(t)
	cfg.AllowedSources = "abfs://data@acct.dfs.core.windows.net/era5/"
	cred := &countingCredential{}
	store := catalog.NewMemory()
	o := startOrch(t, cfg, &Options{Store: store, Opener: &blobio.Opener{AccountName: "acct", Credential: cred}})
	const notAllowed, invalid = "source_not_allowed", "invalid_request"
	for _, tc := range []struct{ src, errType string }{
		{"abfs://c@attacker.evil.example/x", notAllowed},
		{"abfs://data@ATTACKER.EVIL.EXAMPLE/era5/x", notAllowed},
		{"abfs://data%40attacker.evil.example/era5/", notAllowed},
		{"abfs://data@acct.dfs.core.windows.net.evil.example/era5/", notAllowed},
		{"abfs://data@acct.dfs.core.windows.net./era5/", notAllowed},
		{"abfs://data@10.0.0.1/era5/", notAllowed},
		{"abfs://data@otheracct.dfs.core.windows.net/era5/", notAllowed},
		{"abfs://data@acct.dfs.core.windows.net/era5-evil/", notAllowed},
		{"abfs://data@acct.dfs.core.windows.net/era5/../secret/", invalid},
		{"abfs://data/era4/", notAllowed},
		{"abfs://other/era5/", notAllowed},
		{"abfs://../x", invalid},
		{"abfs://C?x#y", invalid},
	} {
		t.Run(tc.src, func(t *testing.T) {
			code, m := o.submit(t, map[string]any{"dataset_id": "d", "resource_id": "r", "source_url": tc.src, "data_type": "zarr"})
			assert.Equal(t, http.StatusBadRequest, code, "%v", m)
			assert.Equal(t, tc.errType, m["error_type"], "%v", m)
			assert.Contains(t, m["error"], "source_url")
		})
	}
	_, err := store.FindAsset(context.Background(), "d", "r")
	assert.ErrorIs(t, err, catalog.ErrNotFound, "no record for a refused source")
	o.stop()
	assert.Zero(t, cred.n.Load(), "no storage token was requested")
}

func TestAPIRateLimit(t *testing.T) {
	cfg := memConfig(t)
	cfg.SubmitRate, cfg.SubmitBurst = 0.01, 3 // one token per 100 s
	o := startOrch(t, cfg, &Options{Opener: &blobio.Opener{AccountName: "acct"}})
	bad := `{"dataset_id":"-"}` // cheap: refused after the limit is taken
	for i := range 3 {
		code, m := o.do(t, "POST", "/api/platform/submit", "application/json", bad)
		require.Equal(t, http.StatusBadRequest, code, "submit %d: %v", i, m)
	}
	code, m, h := o.doAs(t, tokPlatform, "POST", "/api/platform/submit", "application/json", bad)
	assert.Equal(t, http.StatusTooManyRequests, code, "%v", m)
	assert.Equal(t, "rate_limited", m["error_type"])
	retry, err := strconv.Atoi(h.Get("Retry-After"))
	require.NoError(t, err, "Retry-After: %q", h.Get("Retry-After"))
	assert.InDelta(t, 100, retry, 1)
	// Another caller has a bucket of its own.
	code, m, _ = o.doAs(t, tokWriter, "POST", "/api/platform/submit", "application/json", bad)
	assert.Equal(t, http.StatusBadRequest, code, "%v", m)
	// Reads are not limited.
	code, _ = o.do(t, "GET", "/api/jobs/status/vz-nope", "", "")
	assert.Equal(t, http.StatusNotFound, code)
}

func TestRateLimiter(t *testing.T) {
	l := newRateLimiter(1, 2)
	now := time.Unix(1e9, 0)
	l.now = func() time.Time { return now }
	l.maxKeys = 3
	ok, _ := l.allow("a")
	assert.True(t, ok)
	ok, _ = l.allow("a")
	assert.True(t, ok)
	ok, wait := l.allow("a")
	assert.False(t, ok)
	assert.Equal(t, time.Second, wait)
	now = now.Add(time.Second)
	ok, _ = l.allow("a")
	assert.True(t, ok, "a token a second")

	for _, k := range []string{"b", "c", "d"} {
		ok, _ := l.allow(k)
		assert.True(t, ok)
	}
	assert.Equal(t, 3, l.tracked(), "at most maxKeys callers are kept")
	// "a" was the least recently seen: forgotten, it starts full again.
	ok, _ = l.allow("a")
	assert.True(t, ok)
	ok, _ = l.allow("a")
	assert.True(t, ok)
	assert.Equal(t, 3, l.tracked())

	assert.Nil(t, newRateLimiter(0, 5), "rate 0: no limit")
}

func TestAPITasksPaging(t *testing.T) {
	store := catalog.NewMemory()
	o := startOrch(t, memConfig(t), &Options{Store: store})
	ctx := context.Background()
	j, err := store.CreateJob(ctx, catalog.NewJob{ID: "vz-paged", Type: pipeline.JobType, Stage: "ref"})
	require.NoError(t, err)
	const n = 1234
	for i := range n {
		_, err := store.CreateTask(ctx, catalog.NewTask{ID: fmt.Sprintf("%s/ref/%05d", j.ID, i), JobID: j.ID, Type: "ref", Stage: "ref"})
		require.NoError(t, err)
	}
	page := func(q string) (int, map[string]any) {
		return o.do(t, "GET", "/api/dbadmin/tasks/"+j.ID+q, "", "")
	}
	for _, tc := range []struct {
		q                      string
		code, count, off, next int // next -1: none
		limit                  int
	}{
		{"", 200, 100, 0, 100, 100},
		{"?offset=100", 200, 100, 100, 200, 100},
		{"?limit=1000", 200, 1000, 0, 1000, 1000},
		{"?limit=1000&offset=1000", 200, n - 1000, 1000, -1, 1000},
		{"?limit=10&offset=1230", 200, 4, 1230, -1, 10},
		{"?offset=5000", 200, 0, 5000, -1, 100},
		{"?limit=0", 200, 0, 0, -1, 0},
		{"?limit=1001", 400, 0, 0, 0, 0},
		{"?limit=-1", 400, 0, 0, 0, 0},
		{"?offset=x", 400, 0, 0, 0, 0},
	} {
		t.Run(tc.q, func(t *testing.T) {
			code, m := page(tc.q)
			require.Equal(t, tc.code, code, "%v", m["error"])
			if code != 200 {
				assert.Equal(t, "invalid_request", m["error_type"])
				return
			}
			assert.EqualValues(t, n, m["total"])
			assert.EqualValues(t, tc.off, m["offset"])
			assert.EqualValues(t, tc.limit, m["limit"])
			assert.Len(t, m["tasks"], tc.count)
			if tc.next < 0 {
				assert.NotContains(t, m, "next_offset")
			} else {
				assert.EqualValues(t, tc.next, m["next_offset"])
			}
			if tc.count > 0 {
				first := m["tasks"].([]any)[0].(map[string]any)
				assert.Equal(t, fmt.Sprintf("%s/ref/%05d", j.ID, tc.off), first["id"])
			}
		})
	}
}

// TestAPICatalogUnavailable: a catalog database nobody answers for is 503
// catalog_unavailable, with no host, port, user or database in the body.
func TestAPICatalogUnavailable(t *testing.T) {
	addr := testenv.ClosedAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cfg := memConfig(t)
	cfg.CatalogDSN = "postgres://vzarr_user@" + addr + "/vzarr_db?sslmode=disable&connect_timeout=5"
	cfg.Migrate = false
	o := startOrch(t, cfg, &Options{Opener: &blobio.Opener{AccountName: "acct"}})
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/platform/submit", goodBody},
		{"GET", "/api/jobs/status/vz-x", ""},
		{"GET", "/api/dbadmin/tasks/vz-x", ""},
	} {
		code, m := o.do(t, tc.method, tc.path, "application/json", tc.body)
		assert.Equal(t, http.StatusServiceUnavailable, code, "%s: %v", tc.path, m)
		assert.Equal(t, "catalog_unavailable", m["error_type"], tc.path)
		for _, secret := range []string{"vzarr_user", "vzarr_db", "127.0.0.1", port} {
			assert.NotContains(t, fmt.Sprint(m), secret, tc.path)
		}
	}
	code, m, _ := o.doAs(t, "", "GET", "/readyz", "", "")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.NotContains(t, fmt.Sprint(m), port)
}
