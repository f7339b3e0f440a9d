package catalog

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one embedded SQL migration, migrations/NNNN_name.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("catalog: migration file %q is not named NNNN_name.sql", name)
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", name))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: rest, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("catalog: two migrations numbered %d", out[i].Version)
		}
	}
	return out, nil
}

// DefaultSchema is the PostgreSQL schema of the catalog tables.
const DefaultSchema = "app"

// ValidSchemaName reports whether s may name the catalog's schema: a
// lower-case SQL identifier of at most 63 bytes, not starting with "pg_".
func ValidSchemaName(s string) bool {
	// A hand-written ^[a-z_][a-z0-9_]{0,62}$: compiling that expression
	// at start-up cost every vzarr command about 6 million instructions.
	if len(s) == 0 || len(s) > 63 || strings.HasPrefix(s, "pg_") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || c == '_' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// migrateLockKey is the advisory lock that serializes migrations of one
// schema across processes.
func migrateLockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("vzarr/catalog/migrate/" + schema))
	return int64(h.Sum64())
}

// Migrate creates the schema when missing and applies the embedded
// migrations not applied yet, in one transaction under an advisory lock,
// so that processes starting together migrate once. Applied versions are
// kept in the schema's schema_migrations table. It returns the versions it
// applied. A database migrated by a newer binary (an unknown version) is an
// error.
func (p *Postgres) Migrate(ctx context.Context) ([]int, error) {
	migs, err := Migrations()
	if err != nil {
		return nil, err
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("catalog: migrate: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLockKey(p.schema)); err != nil {
		return nil, fmt.Errorf("catalog: migrate: lock: %w", err)
	}
	quoted := pgx.Identifier{p.schema}.Sanitize()
	if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+quoted); err != nil {
		return nil, fmt.Errorf("catalog: migrate: create schema: %w", err)
	}
	// SET LOCAL search_path, so that the migrations name tables unqualified.
	if _, err := tx.Exec(ctx, "SELECT set_config('search_path', $1, true)", quoted); err != nil {
		return nil, fmt.Errorf("catalog: migrate: search_path: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY,
		name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("catalog: migrate: %w", err)
	}
	rows, err := tx.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("catalog: migrate: %w", err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("catalog: migrate: %w", err)
	}
	have := map[int]bool{}
	latest := migs[len(migs)-1].Version
	for _, v := range done {
		have[int(v)] = true
		if int(v) > latest {
			return nil, fmt.Errorf("catalog: migrate: schema %s is at migration %d, newer than this binary's %d", p.schema, v, latest)
		}
	}
	var applied []int
	for _, m := range migs {
		if have[m.Version] {
			continue
		}
		// No arguments: the simple protocol, which runs several statements.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return nil, fmt.Errorf("catalog: migration %04d_%s: %w", m.Version, m.Name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
			return nil, fmt.Errorf("catalog: migrate: %w", err)
		}
		applied = append(applied, m.Version)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("catalog: migrate: commit: %w", err)
	}
	if len(applied) > 0 {
		p.logger().Info("catalog: migrated", "schema", p.schema, "applied", applied)
	}
	return applied, nil
}
