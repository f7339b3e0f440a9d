package catalog_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/catalog"
)

// The PostgreSQL tests run against the server named by VZARR_PG_DSN
// (scripts/postgres start; eval "$(scripts/postgres env)"). Without it they
// skip, or fail when VZARR_REQUIRE_TOOLS=1 (as in CI). Each test works in a
// schema of its own, dropped afterwards.

var (
	poolOnce sync.Once
	pool     *pgxpool.Pool
	poolErr  error
)

func pgPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	dsn := os.Getenv("VZARR_PG_DSN")
	if dsn == "" {
		if os.Getenv("VZARR_REQUIRE_TOOLS") == "1" {
			t.Fatal("VZARR_PG_DSN is not set (VZARR_REQUIRE_TOOLS=1: PostgreSQL is required; run scripts/postgres start)")
		}
		t.Skip("VZARR_PG_DSN is not set; run scripts/postgres start and eval \"$(scripts/postgres env)\"")
	}
	poolOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			poolErr = err
			return
		}
		cfg.MaxConns = 32
		pool, poolErr = pgxpool.NewWithConfig(ctx, cfg)
		if poolErr == nil {
			poolErr = pool.Ping(ctx)
		}
	})
	require.NoError(t, poolErr, "connecting to VZARR_PG_DSN")
	return pool
}

// testSchema returns a fresh schema name, dropped when the test ends.
func testSchema(t *testing.T, p *pgxpool.Pool) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "vzarr_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := p.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE")
		assert.NoError(t, err)
	})
	return name
}

func newPostgres(t *testing.T) *catalog.Postgres {
	t.Helper()
	p := pgPool(t)
	s, err := catalog.NewPostgres(p, catalog.PostgresOptions{Schema: testSchema(t, p)})
	require.NoError(t, err)
	applied, err := s.Migrate(ctxT(t))
	require.NoError(t, err)
	require.NotEmpty(t, applied)
	t.Cleanup(s.Close)
	return s
}

func TestPostgresStore(t *testing.T) {
	runSuite(t, func(t *testing.T) catalog.Store { return newPostgres(t) })
}

// TestPostgresEnsureOneRow checks the race at the row level: N goroutines
// creating the same Asset/Release leave one row in each table.
func TestPostgresEnsureOneRow(t *testing.T) {
	s := newPostgres(t)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.EnsureRelease(ctx, catalog.ReleaseKey{DatasetID: "cmip6", ResourceID: "tas", JobID: "j1"})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	for _, table := range []string{"assets", "releases"} {
		var n int
		err := s.Pool().QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{s.Schema(), table}.Sanitize()).Scan(&n)
		require.NoError(t, err)
		assert.Equal(t, 1, n, table)
	}
}

func TestPostgresMigrate(t *testing.T) {
	p := pgPool(t)
	ctx := ctxT(t)
	schema := testSchema(t, p)
	s, err := catalog.NewPostgres(p, catalog.PostgresOptions{Schema: schema})
	require.NoError(t, err)
	migs, err := catalog.Migrations()
	require.NoError(t, err)
	require.NotEmpty(t, migs)

	// Processes starting together: one applies the migrations, the others
	// wait on the advisory lock and find nothing to do.
	var wg sync.WaitGroup
	applied := make([][]int, 6)
	for i := range applied {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			applied[i], err = s.Migrate(ctx)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	total := 0
	for _, a := range applied {
		total += len(a)
	}
	assert.Equal(t, len(migs), total, "each migration applied once")

	var n int
	require.NoError(t, p.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, "schema_migrations"}.Sanitize()).Scan(&n))
	assert.Equal(t, len(migs), n)
	again, err := s.Migrate(ctx)
	require.NoError(t, err)
	assert.Empty(t, again)

	// The tables are in the schema, not in public.
	var tables []string
	rows, err := p.Query(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", schema)
	require.NoError(t, err)
	tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"assets", "jobs", "releases", "schema_migrations", "tasks"}, tables)

	// A database migrated by a newer binary is refused.
	_, err = p.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, "schema_migrations"}.Sanitize()+" (version, name) VALUES (9999, 'future')")
	require.NoError(t, err)
	_, err = s.Migrate(ctx)
	assert.ErrorContains(t, err, "newer than this binary")
}

func TestPostgresOpen(t *testing.T) {
	p := pgPool(t)
	ctx := ctxT(t)
	schema := testSchema(t, p)
	s, err := catalog.OpenPostgres(ctx, os.Getenv("VZARR_PG_DSN"), catalog.PostgresOptions{Schema: schema})
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Migrate(ctx)
	require.NoError(t, err)
	res, err := s.EnsureRelease(ctx, catalog.ReleaseKey{DatasetID: "d", ResourceID: "r"})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Release.Version)

	_, err = catalog.OpenPostgres(ctx, "postgres://[::1", catalog.PostgresOptions{})
	assert.ErrorIs(t, err, catalog.ErrInvalid)
}

// TestPostgresErrorsHidePassword: neither a DSN that does not parse nor a
// failed connection repeats the DSN's password.
func TestPostgresErrorsHidePassword(t *testing.T) {
	ctx := ctxT(t)
	for _, dsn := range []string{"postgres://vzarr:s3cret@[::1", "postgres://vzarr:s3cret@127.0.0.1:bad/db",
		"host=127.0.0.1 port=x user=vzarr password=s3cret"} {
		_, err := catalog.OpenPostgres(ctx, dsn, catalog.PostgresOptions{})
		require.ErrorIs(t, err, catalog.ErrInvalid, dsn)
		assert.NotContains(t, err.Error(), "s3cret", dsn)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	s, err := catalog.OpenPostgres(ctx, "postgres://vzarr:s3cret@"+addr+"/db?sslmode=disable", catalog.PostgresOptions{})
	require.NoError(t, err)
	defer s.Close()
	_, err = s.GetJob(ctx, "j")
	require.ErrorIs(t, err, catalog.ErrUnavailable)
	assert.NotContains(t, err.Error(), "s3cret")
}

// TestPostgresUnavailable: a server that does not answer is ErrUnavailable
// on every call, and the error is an *UnavailableError.
func TestPostgresUnavailable(t *testing.T) {
	ctx := ctxT(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // a port nobody listens on
	s, err := catalog.OpenPostgres(ctx, "postgres://vzarr@"+addr+"/vzarr?sslmode=disable&connect_timeout=5", catalog.PostgresOptions{})
	require.NoError(t, err, "the pool connects lazily")
	defer s.Close()
	for name, fn := range map[string]func() error{
		"GetJob": func() error { _, err := s.GetJob(ctx, "j"); return err },
		"EnsureRelease": func() error {
			_, err := s.EnsureRelease(ctx, catalog.ReleaseKey{DatasetID: "d", ResourceID: "r"})
			return err
		},
		"CreateRun": func() error {
			_, _, err := s.CreateRun(ctx, catalog.ReleaseKey{DatasetID: "d", ResourceID: "r"},
				func(*catalog.EnsureResult) (catalog.NewJob, error) { return catalog.NewJob{Type: "x"}, nil })
			return err
		},
		"ListTasks": func() error { _, err := s.ListTasks(ctx, "j"); return err },
		"Migrate":   func() error { _, err := s.Migrate(ctx); return err },
	} {
		err := fn()
		if name == "Migrate" {
			// Migrate wraps the driver's error with its step.
			assert.Error(t, err, name)
			continue
		}
		require.ErrorIs(t, err, catalog.ErrUnavailable, name)
		var ue *catalog.UnavailableError
		require.ErrorAs(t, err, &ue, name)
		assert.NotEmpty(t, ue.Op, name)
		assert.NotErrorIs(t, err, catalog.ErrNotFound, name)
	}
}

// statementCounter is a pgx tracer that counts the statements sent
// (BEGIN and COMMIT included): the round trips of a store call.
type statementCounter struct{ n atomic.Int64 }

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// countedStore returns a migrated catalog in a schema of its own whose
// connections count their statements, with one job and one ref task.
func countedStore(t *testing.T) (*catalog.Postgres, *statementCounter, *catalog.Job, *catalog.Task) {
	shared := pgPool(t)
	ctx := ctxT(t)
	cfg := shared.Config().Copy()
	counter := &statementCounter{}
	cfg.ConnConfig.Tracer = counter
	own, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(own.Close)
	s, err := catalog.NewPostgres(own, catalog.PostgresOptions{Schema: testSchema(t, shared)})
	require.NoError(t, err)
	_, err = s.Migrate(ctx)
	require.NoError(t, err)
	job, err := s.CreateJob(ctx, catalog.NewJob{Type: "x"})
	require.NoError(t, err)
	task, err := s.CreateTask(ctx, catalog.NewTask{JobID: job.ID, Type: "ref", Stage: "ref"})
	require.NoError(t, err)
	return s, counter, job, task
}

// TestPostgresTransitionRoundTrips checks that a job or task transition
// takes two statements (a read and a revision-checked update, no
// transaction), and that racing transitions still move a record once.
func TestPostgresTransitionRoundTrips(t *testing.T) {
	ctx := ctxT(t)
	s, counter, job, task := countedStore(t)

	steps := []struct {
		name string
		move func() error
	}{
		{"job to PROCESSING", func() error {
			_, err := s.TransitionJob(ctx, job.ID, catalog.Transition{To: catalog.StatusProcessing, Stage: "ref", IfRevision: job.Revision})
			return err
		}},
		{"task claimed", func() error {
			_, err := s.TransitionTask(ctx, task.ID, catalog.Transition{To: catalog.StatusProcessing, IfRevision: task.Revision})
			return err
		}},
		{"task completed", func() error {
			_, err := s.TransitionTask(ctx, task.ID, catalog.Transition{To: catalog.StatusCompleted, Result: []byte(`{"ok":true}`)})
			return err
		}},
	}
	for _, st := range steps {
		before := counter.n.Load()
		require.NoError(t, st.move(), st.name)
		assert.EqualValues(t, 2, counter.n.Load()-before, "%s: statements", st.name)
	}
	got, err := s.GetTask(ctx, task.ID)
	require.NoError(t, err)
	assert.Equal(t, catalog.StatusCompleted, got.Status)
	assert.EqualValues(t, task.Revision+2, got.Revision)
	assert.Equal(t, 1, got.Attempts)
	assert.JSONEq(t, `{"ok":true}`, string(got.Result))

	// 16 workers claim one task at its revision: exactly one wins, the
	// others get ErrConflict.
	racy, err := s.CreateTask(ctx, catalog.NewTask{JobID: job.ID, Type: "ref", Stage: "ref"})
	require.NoError(t, err)
	var wg sync.WaitGroup
	var won, lost atomic.Int64
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.TransitionTask(ctx, racy.ID, catalog.Transition{To: catalog.StatusProcessing, IfRevision: racy.Revision})
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, catalog.ErrConflict):
				lost.Add(1)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 1, won.Load())
	assert.EqualValues(t, 15, lost.Load())
	got, err = s.GetTask(ctx, racy.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, got.Attempts, "claimed once")
	assert.EqualValues(t, racy.Revision+1, got.Revision)
}

// TestPostgresMoveTask checks TaskMover on PostgreSQL: one statement per
// move, a stale copy refused with ErrConflict, racing moves of one copy
// applied once.
func TestPostgresMoveTask(t *testing.T) {
	ctx := ctxT(t)
	s, counter, job, task := countedStore(t)

	before := counter.n.Load()
	claimed, err := s.MoveTask(ctx, task, catalog.Transition{To: catalog.StatusProcessing})
	require.NoError(t, err)
	assert.EqualValues(t, 1, counter.n.Load()-before, "one statement")
	assert.Equal(t, catalog.StatusPending, task.Status, "the caller's copy is not changed")
	assert.Equal(t, catalog.StatusProcessing, claimed.Status)
	assert.Equal(t, 1, claimed.Attempts)
	assert.EqualValues(t, task.Revision+1, claimed.Revision)

	tests := []struct {
		name string
		from *catalog.Task
		tr   catalog.Transition
		want error
	}{
		{"a stale copy", task, catalog.Transition{To: catalog.StatusProcessing}, catalog.ErrConflict},
		{"an IfRevision that is not the copy's", claimed, catalog.Transition{To: catalog.StatusCompleted, IfRevision: task.Revision}, catalog.ErrConflict},
		{"a move the copy's status does not allow", claimed, catalog.Transition{To: catalog.StatusPending + "X"}, catalog.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.MoveTask(ctx, tc.from, tc.tr)
			assert.ErrorIs(t, err, tc.want)
		})
	}
	done, err := s.MoveTask(ctx, claimed, catalog.Transition{To: catalog.StatusCompleted, Result: []byte(`{"n": 1}`)})
	require.NoError(t, err)
	got, err := s.GetTask(ctx, task.ID)
	require.NoError(t, err)
	assert.Equal(t, done.Revision, got.Revision)
	assert.Equal(t, catalog.StatusCompleted, got.Status)
	assert.JSONEq(t, `{"n":1}`, string(got.Result))
	assert.Equal(t, 1, got.Attempts)
	require.NotNil(t, got.FinishedAt)
	_, err = s.MoveTask(ctx, got, catalog.Transition{To: catalog.StatusProcessing})
	var te *catalog.TransitionError
	assert.ErrorAs(t, err, &te, "COMPLETED is final")

	racy, err := s.CreateTask(ctx, catalog.NewTask{JobID: job.ID, Type: "ref", Stage: "ref"})
	require.NoError(t, err)
	var wg sync.WaitGroup
	var won, lost atomic.Int64
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.MoveTask(ctx, racy, catalog.Transition{To: catalog.StatusProcessing})
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, catalog.ErrConflict):
				lost.Add(1)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 1, won.Load())
	assert.EqualValues(t, 15, lost.Load())
	got, err = s.GetTask(ctx, racy.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, got.Attempts, "claimed once")
}
