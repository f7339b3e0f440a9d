package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresOptions configures a Postgres store.
type PostgresOptions struct {
	// Schema holds the catalog tables; default DefaultSchema ("app"). It
	// must pass ValidSchemaName.
	Schema string
	// Logger receives the store's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Postgres is the PostgreSQL Store. Create the tables with Migrate.
type Postgres struct {
	pool    *pgxpool.Pool
	ownPool bool
	schema  string
	log     *slog.Logger
	t       tables
}

var (
	_ Store       = (*Postgres)(nil)
	_ TaskBatcher = (*Postgres)(nil)
	_ TaskMover   = (*Postgres)(nil)
	_ TaskMover   = (*Memory)(nil)

	_ BriefTaskLister = (*Postgres)(nil)
	_ BriefTaskLister = (*Memory)(nil)
)

// tables holds the quoted, schema-qualified table names.
type tables struct{ assets, releases, jobs, tasks string }

// NewPostgres returns a store over an existing pool; Close leaves the pool
// open.
func NewPostgres(pool *pgxpool.Pool, opts PostgresOptions) (*Postgres, error) {
	if opts.Schema == "" {
		opts.Schema = DefaultSchema
	}
	if !ValidSchemaName(opts.Schema) {
		return nil, invalidf("schema name %q (want a lower-case identifier: letters, digits, _)", opts.Schema)
	}
	q := func(name string) string { return pgx.Identifier{opts.Schema, name}.Sanitize() }
	return &Postgres{pool: pool, schema: opts.Schema, log: opts.Logger,
		t: tables{assets: q("assets"), releases: q("releases"), jobs: q("jobs"), tasks: q("tasks")}}, nil
}

// OpenPostgres connects to the database at dsn (a postgres:// URL or a
// key=value string) and returns a store that owns the pool.
func OpenPostgres(ctx context.Context, dsn string, opts PostgresOptions) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, invalidf("dsn: %v", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("catalog: connect: %w", err)
	}
	p, err := NewPostgres(pool, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	p.ownPool = true
	return p, nil
}

// Pool returns the store's connection pool.
func (p *Postgres) Pool() *pgxpool.Pool { return p.pool }

// Schema returns the schema holding the tables.
func (p *Postgres) Schema() string { return p.schema }

// Close closes the pool when the store opened it.
func (p *Postgres) Close() {
	if p.ownPool {
		p.pool.Close()
	}
}

func (p *Postgres) logger() *slog.Logger {
	if p.log != nil {
		return p.log
	}
	return slog.Default()
}

// pgErr maps database errors to the catalog's.
func pgErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %s: %s", ErrConflict, op, pe.Message)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%w: %s: %s", ErrNotFound, op, pe.Detail)
		case "23514", "22P02", "22021", "22P05":
			// check_violation, invalid_text_representation,
			// character_not_in_repertoire (a NUL in text), untranslatable_character
			// (a NUL in jsonb)
			return fmt.Errorf("%w: %s: %s", ErrInvalid, op, pe.Message)
		}
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrIllegalTransition) || errors.Is(err, ErrConflict) ||
		errors.Is(err, ErrInvalid) || errors.Is(err, ErrUnavailable) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if unavailable(err) {
		return &UnavailableError{Op: op, Err: err}
	}
	return fmt.Errorf("catalog: %s: %w", op, err)
}

// unavailable reports whether err is a failure to reach the database or a
// connection lost: a failed connect, a network error, a connection closed
// under a query, or the server's connection_exception (08xxx),
// admin/crash shutdown, cannot_connect_now and too_many_connections.
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", "57P02", "57P03", "53300":
			return true
		}
		return strings.HasPrefix(pe.Code, "08")
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		strings.Contains(err.Error(), "conn closed")
}

// inTx runs fn in a transaction, committing when it returns nil.
func (p *Postgres) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// jsonArg passes JSON to a jsonb parameter (nil as NULL).
func jsonArg(b json.RawMessage) any {
	if b == nil {
		return nil
	}
	return string(b)
}

const assetCols = "id, dataset_id, resource_id, data_type, created_at, updated_at"

func scanAsset(row pgx.Row) (*Asset, error) {
	var a Asset
	if err := row.Scan(&a.ID, &a.DatasetID, &a.ResourceID, &a.DataType, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = utc(a.CreatedAt), utc(a.UpdatedAt)
	return &a, nil
}

const releaseCols = "id, asset_id, job_id, version, processing_status, approval_state, blob_path, stac_item_json, error, revision, created_at, updated_at, completed_at, approval_at, submitted_by, pruned_at"

func scanRelease(row pgx.Row) (*Release, error) {
	var r Release
	var item []byte
	if err := row.Scan(&r.ID, &r.AssetID, &r.JobID, &r.Version, &r.ProcessingStatus, &r.ApprovalState, &r.BlobPath,
		&item, &r.Error, &r.Revision, &r.CreatedAt, &r.UpdatedAt, &r.CompletedAt, &r.ApprovalAt, &r.SubmittedBy, &r.PrunedAt); err != nil {
		return nil, err
	}
	if item != nil {
		r.StacItemJSON = json.RawMessage(item)
	}
	r.CreatedAt, r.UpdatedAt = utc(r.CreatedAt), utc(r.UpdatedAt)
	r.CompletedAt, r.ApprovalAt, r.PrunedAt = utcPtr(r.CompletedAt), utcPtr(r.ApprovalAt), utcPtr(r.PrunedAt)
	return &r, nil
}

const jobCols = "id, type, stage, status, coalesce(release_id, ''), params, result, error, attempts, revision, created_at, updated_at, started_at, finished_at, submitted_by"

func scanJob(row pgx.Row) (*Job, error) {
	var j Job
	var params, result []byte
	if err := row.Scan(&j.ID, &j.Type, &j.Stage, &j.Status, &j.ReleaseID, &params, &result, &j.Error, &j.Attempts,
		&j.Revision, &j.CreatedAt, &j.UpdatedAt, &j.StartedAt, &j.FinishedAt, &j.SubmittedBy); err != nil {
		return nil, err
	}
	j.Params = json.RawMessage(params)
	if result != nil {
		j.Result = json.RawMessage(result)
	}
	j.CreatedAt, j.UpdatedAt = utc(j.CreatedAt), utc(j.UpdatedAt)
	j.StartedAt, j.FinishedAt = utcPtr(j.StartedAt), utcPtr(j.FinishedAt)
	return &j, nil
}

const taskCols = "id, job_id, type, stage, status, params, result, error, attempts, revision, created_at, updated_at, started_at, finished_at"

func scanTask(row pgx.Row) (*Task, error) {
	var t Task
	var params, result []byte
	if err := row.Scan(&t.ID, &t.JobID, &t.Type, &t.Stage, &t.Status, &params, &result, &t.Error, &t.Attempts,
		&t.Revision, &t.CreatedAt, &t.UpdatedAt, &t.StartedAt, &t.FinishedAt); err != nil {
		return nil, err
	}
	t.Params = json.RawMessage(params)
	if result != nil {
		t.Result = json.RawMessage(result)
	}
	t.CreatedAt, t.UpdatedAt = utc(t.CreatedAt), utc(t.UpdatedAt)
	t.StartedAt, t.FinishedAt = utcPtr(t.StartedAt), utcPtr(t.FinishedAt)
	return &t, nil
}

// one maps pgx.ErrNoRows to ErrNotFound.
func one[T any](v T, err error, kind, id string) (T, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		var zero T
		return zero, notFound(kind, id)
	}
	return v, err
}

// EnsureRelease implements Store. The asset row is locked (FOR NO KEY
// UPDATE) while the release is looked up and, when missing, inserted with
// the next version, so racing callers serialize per asset.
func (p *Postgres) EnsureRelease(ctx context.Context, key ReleaseKey) (*EnsureResult, error) {
	if err := key.norm(); err != nil {
		return nil, err
	}
	var res *EnsureResult
	err := p.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		res, err = p.ensureTx(ctx, tx, key)
		return err
	})
	if err != nil {
		return nil, pgErr("ensure release", err)
	}
	return res, nil
}

// CreateRun implements Store: EnsureRelease's statements and the Job's
// insert in one transaction.
func (p *Postgres) CreateRun(ctx context.Context, key ReleaseKey, job func(*EnsureResult) (NewJob, error)) (*EnsureResult, *Job, error) {
	if err := key.norm(); err != nil {
		return nil, nil, err
	}
	var res *EnsureResult
	var j *Job
	err := p.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if res, err = p.ensureTx(ctx, tx, key); err != nil {
			return err
		}
		nj, err := job(res)
		if err != nil {
			return err
		}
		nj.ReleaseID = res.Release.ID
		j, err = p.insertJob(ctx, tx, nj)
		return err
	})
	if err != nil {
		return nil, nil, pgErr("create run", err)
	}
	return res, j, nil
}

// ensureTx is EnsureRelease within tx.
func (p *Postgres) ensureTx(ctx context.Context, tx pgx.Tx, key ReleaseKey) (*EnsureResult, error) {
	res := &EnsureResult{}
	t := now()
	tag, err := tx.Exec(ctx, `INSERT INTO `+p.t.assets+` (`+assetCols+`) VALUES ($1, $2, $3, $4, $5, $5)
		ON CONFLICT (dataset_id, resource_id) DO NOTHING`, newID(), key.DatasetID, key.ResourceID, key.DataType, t)
	if err != nil {
		return nil, err
	}
	res.AssetCreated = tag.RowsAffected() == 1
	a, err := scanAsset(tx.QueryRow(ctx, `SELECT `+assetCols+` FROM `+p.t.assets+`
		WHERE dataset_id = $1 AND resource_id = $2 FOR NO KEY UPDATE`, key.DatasetID, key.ResourceID))
	if err != nil {
		return nil, err
	}
	if a.DataType != key.DataType {
		return nil, conflictf("asset %q has data type %q, not %q", a.ID, a.DataType, key.DataType)
	}
	res.Asset = a
	r, err := scanRelease(tx.QueryRow(ctx, `SELECT `+releaseCols+` FROM `+p.t.releases+`
		WHERE asset_id = $1 AND job_id = $2`, a.ID, key.JobID))
	if err == nil {
		res.Release = r
		return res, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	r, err = scanRelease(tx.QueryRow(ctx, `INSERT INTO `+p.t.releases+`
		(id, asset_id, job_id, version, processing_status, approval_state, submitted_by, created_at, updated_at)
		SELECT $1, $2, $3, coalesce(max(version), 0) + 1, $4, $5, $7, $6, $6 FROM `+p.t.releases+` WHERE asset_id = $2
		RETURNING `+releaseCols, newID(), a.ID, key.JobID, StatusPending, ApprovalPending, t, key.SubmittedBy))
	if err != nil {
		return nil, err
	}
	res.Release, res.ReleaseCreated = r, true
	return res, nil
}

// GetAsset implements Store.
func (p *Postgres) GetAsset(ctx context.Context, id string) (*Asset, error) {
	a, err := scanAsset(p.pool.QueryRow(ctx, `SELECT `+assetCols+` FROM `+p.t.assets+` WHERE id = $1`, id))
	a, err = one(a, err, "asset", id)
	return a, pgErr("get asset", err)
}

// FindAsset implements Store.
func (p *Postgres) FindAsset(ctx context.Context, datasetID, resourceID string) (*Asset, error) {
	a, err := scanAsset(p.pool.QueryRow(ctx, `SELECT `+assetCols+` FROM `+p.t.assets+`
		WHERE dataset_id = $1 AND resource_id = $2`, datasetID, resourceID))
	a, err = one(a, err, "asset", datasetID+"/"+resourceID)
	return a, pgErr("find asset", err)
}

// collect reads every row of a query with scan: an empty, non-nil slice
// when there is none. what names the operation in errors.
func collect[T any](rows pgx.Rows, err error, scan func(pgx.Row) (*T, error), what string) ([]*T, error) {
	if err != nil {
		return nil, pgErr(what, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*T, error) { return scan(row) })
	if err != nil {
		return nil, pgErr(what, err)
	}
	if out == nil {
		out = []*T{}
	}
	return out, nil
}

// GetRelease implements Store.
func (p *Postgres) GetRelease(ctx context.Context, id string) (*Release, error) {
	r, err := scanRelease(p.pool.QueryRow(ctx, `SELECT `+releaseCols+` FROM `+p.t.releases+` WHERE id = $1`, id))
	r, err = one(r, err, "release", id)
	return r, pgErr("get release", err)
}

// ListReleases implements Store.
func (p *Postgres) ListReleases(ctx context.Context, assetID string) ([]*Release, error) {
	rows, err := p.pool.Query(ctx, `SELECT `+releaseCols+` FROM `+p.t.releases+` WHERE asset_id = $1 ORDER BY version`, assetID)
	return collect(rows, err, scanRelease, "list releases")
}

// updateRelease locks release id, applies fn to it and writes it back
// with the next revision, in one transaction.
func (p *Postgres) updateRelease(ctx context.Context, op, id string, fn func(*Release, time.Time) error) (*Release, error) {
	var out *Release
	err := p.inTx(ctx, func(tx pgx.Tx) error {
		r, err := scanRelease(tx.QueryRow(ctx, `SELECT `+releaseCols+` FROM `+p.t.releases+` WHERE id = $1 FOR NO KEY UPDATE`, id))
		if r, err = one(r, err, "release", id); err != nil {
			return err
		}
		t := now()
		if err := fn(r, t); errors.Is(err, errUnchanged) {
			out = r
			return nil
		} else if err != nil {
			return err
		}
		r.Revision++
		r.UpdatedAt = t
		_, err = tx.Exec(ctx, `UPDATE `+p.t.releases+` SET processing_status = $2, approval_state = $3, blob_path = $4,
			stac_item_json = $5, error = $6, revision = $7, updated_at = $8, completed_at = $9, approval_at = $10,
			pruned_at = $11
			WHERE id = $1`, r.ID, r.ProcessingStatus, r.ApprovalState, r.BlobPath, jsonArg(r.StacItemJSON), r.Error,
			r.Revision, r.UpdatedAt, r.CompletedAt, r.ApprovalAt, r.PrunedAt)
		out = r
		return err
	})
	if err != nil {
		return nil, pgErr(op, err)
	}
	return out, nil
}

// UpdateStacItemJSON implements Store.
func (p *Postgres) UpdateStacItemJSON(ctx context.Context, releaseID string, item json.RawMessage) (*Release, error) {
	item, err := normJSON("stac_item_json", item, "")
	if err != nil {
		return nil, err
	}
	return p.updateRelease(ctx, "update stac_item_json", releaseID, setStacItem(item))
}

// SetBlobPath implements Store.
func (p *Postgres) SetBlobPath(ctx context.Context, releaseID, blobPath string) (*Release, error) {
	return p.updateRelease(ctx, "set blob_path", releaseID, setBlobPath(blobPath))
}

// TransitionRelease implements Store.
func (p *Postgres) TransitionRelease(ctx context.Context, releaseID string, tr Transition) (*Release, error) {
	return p.updateRelease(ctx, "transition release", releaseID, transitionRelease(tr))
}

// CompleteRelease implements Store.
func (p *Postgres) CompleteRelease(ctx context.Context, releaseID string, c Completion) (*Release, error) {
	item, err := normJSON("stac_item_json", c.StacItemJSON, "")
	if err != nil {
		return nil, err
	}
	return p.updateRelease(ctx, "complete release", releaseID, completeRelease(c, item))
}

// SetApproval implements Store.
func (p *Postgres) SetApproval(ctx context.Context, releaseID string, state ApprovalState) (*Release, error) {
	return p.updateRelease(ctx, "set approval", releaseID, setApproval(state))
}

// MarkReleasePruned implements Store.
func (p *Postgres) MarkReleasePruned(ctx context.Context, releaseID string, ifRevision int64) (*Release, error) {
	return p.updateRelease(ctx, "mark release pruned", releaseID, markPruned(ifRevision))
}

// CreateJob implements Store.
func (p *Postgres) CreateJob(ctx context.Context, nj NewJob) (*Job, error) {
	j, err := p.insertJob(ctx, p.pool, nj)
	return j, pgErr("create job", err)
}

// queryRower is a pool or a transaction.
type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// insertJob checks and inserts a new Job.
func (p *Postgres) insertJob(ctx context.Context, q queryRower, nj NewJob) (*Job, error) {
	params, err := nj.norm()
	if err != nil {
		return nil, err
	}
	var rel any
	if nj.ReleaseID != "" {
		rel = nj.ReleaseID
	}
	t := now()
	return scanJob(q.QueryRow(ctx, `INSERT INTO `+p.t.jobs+`
		(id, type, stage, status, release_id, submitted_by, params, revision, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8) RETURNING `+jobCols,
		nj.ID, nj.Type, nj.Stage, StatusPending, rel, nj.SubmittedBy, jsonArg(params), t))
}

// GetJob implements Store.
func (p *Postgres) GetJob(ctx context.Context, id string) (*Job, error) {
	j, err := scanJob(p.pool.QueryRow(ctx, `SELECT `+jobCols+` FROM `+p.t.jobs+` WHERE id = $1`, id))
	j, err = one(j, err, "job", id)
	return j, pgErr("get job", err)
}

// TransitionJob implements Store.
func (p *Postgres) TransitionJob(ctx context.Context, id string, tr Transition) (*Job, error) {
	return pgTransition(ctx, p, p.t.jobs, jobCols, scanJob, "job", id, tr)
}

// ListJobs implements Store.
func (p *Postgres) ListJobs(ctx context.Context, f JobFilter) ([]*Job, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	var before *time.Time
	if !f.UpdatedBefore.IsZero() {
		b := f.UpdatedBefore.UTC()
		before = &b
	}
	rows, err := p.pool.Query(ctx, `SELECT `+jobCols+` FROM `+p.t.jobs+`
		WHERE ($1 = '' OR status = $1) AND ($2::timestamptz IS NULL OR updated_at < $2)
		ORDER BY updated_at, id LIMIT $3`, string(f.Status), before, listLimit(f.Limit))
	return collect(rows, err, scanJob, "list jobs")
}

// TouchJob implements Store.
func (p *Postgres) TouchJob(ctx context.Context, id string, ifRevision int64) (*Job, error) {
	j, err := scanJob(p.pool.QueryRow(ctx, `UPDATE `+p.t.jobs+` SET revision = revision + 1, updated_at = $3
		WHERE id = $1 AND revision = $2 RETURNING `+jobCols, id, ifRevision, now()))
	if errors.Is(err, pgx.ErrNoRows) {
		if _, gerr := p.GetJob(ctx, id); gerr != nil {
			return nil, gerr
		}
		return nil, conflictf("job %q is not at revision %d", id, ifRevision)
	}
	return j, pgErr("touch job", err)
}

// CreateTask implements Store.
func (p *Postgres) CreateTask(ctx context.Context, nt NewTask) (*Task, error) {
	params, err := nt.norm()
	if err != nil {
		return nil, err
	}
	t := now()
	tk, err := scanTask(p.pool.QueryRow(ctx, `INSERT INTO `+p.t.tasks+`
		(id, job_id, type, stage, status, params, revision, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) RETURNING `+taskCols,
		nt.ID, nt.JobID, nt.Type, nt.Stage, StatusPending, jsonArg(params), t))
	return tk, pgErr("create task", err)
}

// CreateTasks implements TaskBatcher: one INSERT per MaxTaskBatch tasks.
func (p *Postgres) CreateTasks(ctx context.Context, ts []NewTask) (int, error) {
	if len(ts) == 0 {
		return 0, nil
	}
	params, err := normTasks(ts)
	if err != nil {
		return 0, err
	}
	t := now()
	created := 0
	for lo := 0; lo < len(ts); lo += MaxTaskBatch {
		hi := min(lo+MaxTaskBatch, len(ts))
		ids, types, stages, ps := make([]string, 0, hi-lo), make([]string, 0, hi-lo), make([]string, 0, hi-lo), make([]string, 0, hi-lo)
		for i := lo; i < hi; i++ {
			ids, types, stages, ps = append(ids, ts[i].ID), append(types, ts[i].Type), append(stages, ts[i].Stage), append(ps, string(params[i]))
		}
		tag, err := p.pool.Exec(ctx, `INSERT INTO `+p.t.tasks+`
			(id, job_id, type, stage, status, params, revision, created_at, updated_at)
			SELECT u.id, $1, u.type, u.stage, $2, u.params::jsonb, 1, $3, $3
			FROM unnest($4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS u(id, type, stage, params, ord)
			ORDER BY u.ord
			ON CONFLICT (id) DO NOTHING`,
			ts[0].JobID, StatusPending, t, ids, types, stages, ps)
		if err != nil {
			return created, pgErr("create tasks", err)
		}
		created += int(tag.RowsAffected())
	}
	return created, nil
}

// GetTask implements Store.
func (p *Postgres) GetTask(ctx context.Context, id string) (*Task, error) {
	tk, err := scanTask(p.pool.QueryRow(ctx, `SELECT `+taskCols+` FROM `+p.t.tasks+` WHERE id = $1`, id))
	tk, err = one(tk, err, "task", id)
	return tk, pgErr("get task", err)
}

// ListTasks implements Store.
func (p *Postgres) ListTasks(ctx context.Context, jobID string) ([]*Task, error) {
	rows, err := p.pool.Query(ctx, `SELECT `+taskCols+` FROM `+p.t.tasks+` WHERE job_id = $1 ORDER BY seq`, jobID)
	return collect(rows, err, scanTask, "list tasks")
}

// ListTasksBrief implements BriefTaskLister: the database sends the
// params and results of fullTypes' tasks (and FAILED tasks' results) only.
func (p *Postgres) ListTasksBrief(ctx context.Context, jobID string, fullTypes []string) ([]*Task, error) {
	if fullTypes == nil {
		fullTypes = []string{}
	}
	rows, err := p.pool.Query(ctx, `SELECT id, job_id, type, stage, status,
			CASE WHEN type = ANY($2::text[]) THEN params END,
			CASE WHEN type = ANY($2::text[]) OR status = 'FAILED' THEN result END,
			error, attempts, revision, created_at, updated_at, started_at, finished_at
		FROM `+p.t.tasks+` WHERE job_id = $1 ORDER BY seq`, jobID, fullTypes)
	return collect(rows, err, scanTask, "list tasks")
}

// FindTasks implements Store.
func (p *Postgres) FindTasks(ctx context.Context, f TaskFilter) ([]*Task, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	types := f.Types
	if types == nil {
		types = []string{}
	}
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		u := t.UTC()
		return &u
	}
	rows, err := p.pool.Query(ctx, `SELECT `+taskCols+` FROM `+p.t.tasks+`
		WHERE ($1 = '' OR status = $1) AND (cardinality($2::text[]) = 0 OR type = ANY($2::text[]))
			AND ($3::timestamptz IS NULL OR started_at < $3) AND ($4::timestamptz IS NULL OR updated_at < $4)
		ORDER BY started_at NULLS LAST, seq LIMIT $5`,
		string(f.Status), types, opt(f.StartedBefore), opt(f.UpdatedBefore), listLimit(f.Limit))
	return collect(rows, err, scanTask, "find tasks")
}

// ClaimTask implements Store: the oldest matching PENDING task is locked
// with FOR UPDATE SKIP LOCKED, so racing workers take different tasks.
func (p *Postgres) ClaimTask(ctx context.Context, c Claim) (*Task, error) {
	types := c.Types
	if types == nil {
		types = []string{}
	}
	t := now()
	tk, err := scanTask(p.pool.QueryRow(ctx, `WITH c AS (
			SELECT id FROM `+p.t.tasks+`
			WHERE status = 'PENDING' AND ($1 = '' OR job_id = $1)
				AND (cardinality($2::text[]) = 0 OR type = ANY($2::text[]))
				AND ($3 <= 0 OR attempts < $3)
			ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
		UPDATE `+p.t.tasks+` AS t SET status = 'PROCESSING', attempts = t.attempts + 1, error = '',
			started_at = $4, finished_at = NULL, revision = t.revision + 1, updated_at = $4
		FROM c WHERE t.id = c.id
		RETURNING `+prefixed("t.", taskCols), c.JobID, types, c.MaxAttempts, t))
	tk, err = one(tk, err, "task", "(none pending)")
	return tk, pgErr("claim task", err)
}

// prefixed qualifies a column list with a table alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, c := range parts {
		parts[i] = alias + c
	}
	return strings.Join(parts, ", ")
}

// TransitionTask implements Store.
func (p *Postgres) TransitionTask(ctx context.Context, id string, tr Transition) (*Task, error) {
	return pgTransition(ctx, p, p.t.tasks, taskCols, scanTask, "task", id, tr)
}

// pgTransition is TransitionJob and TransitionTask: table holds the
// records of kind, cols and scan read one.
//
// It takes two round trips and no explicit transaction (which would take
// four: BEGIN, a locking read, the update, COMMIT): it reads the record,
// checks and applies the transition, and writes it only if the record is
// still at the revision it read (every change of a job or task record
// increments its revision). A record changed in between is read again and
// the transition checked against it: with IfRevision that is ErrConflict,
// as with a locking read; without, the transition is tried again, up to
// maxTransitionTries times.
func pgTransition[T any, P runRecord[T]](ctx context.Context, p *Postgres, table, cols string, scan func(pgx.Row) (P, error),
	kind, id string, tr Transition) (P, error) {
	result, err := normJSON("result", tr.Result, "")
	if err != nil {
		return nil, err
	}
	for range maxTransitionTries {
		rec, err := scan(p.pool.QueryRow(ctx, `SELECT `+cols+` FROM `+table+` WHERE id = $1`, id))
		if rec, err = one(rec, err, kind, id); err != nil {
			return nil, pgErr("transition "+kind, err)
		}
		r := rec.run()
		read := r.Revision
		if err := checkTransition(kind, id, *r.Status, &tr, read); err != nil {
			return nil, pgErr("transition "+kind, err)
		}
		r.apply(tr, result, now())
		ok, err := p.writeRun(ctx, table, id, r, read)
		if err != nil {
			return nil, pgErr("transition "+kind, err)
		}
		if ok {
			return rec, nil
		}
	}
	return nil, conflictf("%s %q keeps changing", kind, id)
}

// writeRun writes a job's or task's run fields (r, applied to the record
// read at revision read) if the record is still at that revision, and
// reports whether it was.
func (p *Postgres) writeRun(ctx context.Context, table, id string, r run, read int64) (bool, error) {
	tag, err := p.pool.Exec(ctx, `UPDATE `+table+` SET status = $2, stage = $3, result = $4, error = $5, attempts = $6,
		revision = $7, updated_at = $8, started_at = $9, finished_at = $10 WHERE id = $1 AND revision = $11`,
		id, *r.Status, *r.Stage, jsonArg(r.Result), r.Error, r.Attempts, r.Revision, r.UpdatedAt, r.StartedAt, r.FinishedAt, read)
	return tag.RowsAffected() == 1, err
}

// MoveTask implements TaskMover: one statement, the revision-checked
// update of pgTransition without its read.
func (p *Postgres) MoveTask(ctx context.Context, t *Task, tr Transition) (*Task, error) {
	if tr.IfRevision != 0 && tr.IfRevision != t.Revision {
		return nil, conflictf("task %q: move from revision %d with IfRevision %d", t.ID, t.Revision, tr.IfRevision)
	}
	result, err := normJSON("result", tr.Result, "")
	if err != nil {
		return nil, err
	}
	moved := t.clone()
	r := moved.run()
	read := r.Revision
	if err := checkTransition("task", t.ID, *r.Status, &tr, read); err != nil {
		return nil, err
	}
	r.apply(tr, result, now())
	ok, err := p.writeRun(ctx, p.t.tasks, t.ID, r, read)
	if err != nil {
		return nil, pgErr("move task", err)
	}
	if !ok {
		return nil, conflictf("task %q is no longer at revision %d", t.ID, read)
	}
	return moved, nil
}

// maxTransitionTries bounds pgTransition's tries of a transition without
// IfRevision on a record that others keep changing.
const maxTransitionTries = 10

// DSNHasPassword reports whether a PostgreSQL DSN (a postgres:// URL or
// key=value pairs) holds a password. Commands refuse such a DSN on their
// command line, which every user of the machine can read (ps): the
// password belongs in the environment (PGPASSWORD, or a DSN in a
// variable) or a PGPASSFILE.
func DSNHasPassword(dsn string) bool {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		_, ok := u.User.Password()
		return ok || u.Query().Has("password")
	}
	for _, f := range strings.Fields(dsn) {
		if k, _, ok := strings.Cut(f, "="); ok && strings.TrimSpace(k) == "password" {
			return true
		}
	}
	return strings.Contains(dsn, "password")
}
