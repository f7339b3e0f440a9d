// Package catalog keeps the platform's Asset/Release records and the
// pipeline's Job and Task records.
//
// Every dataset is published as an Asset, keyed by (dataset_id,
// resource_id), with numbered Releases. A Release goes through processing
// (PENDING → PROCESSING → COMPLETED or FAILED) and then through approval
// (PENDING → APPROVED or REJECTED). While it is processed, the STAC item of
// the virtual dataset is only cached on the Release (StacItemJSON); the
// platform's approval flow copies it to pgSTAC. This package never writes
// pgSTAC. A REJECTED Release is the catalog's revoked one (there is no
// separate REVOKED status). When retention (pipeline.Prune) deletes a
// COMPLETED Release's data, MarkReleasePruned sets its PrunedAt and clears
// its BlobPath; a pruned Release changes no more.
//
// Store is the interface the pipeline uses. Two implementations share one
// behavioural test suite:
//
//   - Memory: in-process, the default of tests and the CLI.
//   - Postgres: PostgreSQL through pgx v5 (pgxpool), tables in a
//     configurable schema (default "app"), created by Migrate from SQL
//     migrations embedded in the binary.
//
// Changes that span rows run in one transaction; CreateRun stores a new
// run's Asset, Release and Job together, so that a failure leaves none of
// them behind. Racing workers are
// handled with row locks (SELECT ... FOR UPDATE, and FOR UPDATE SKIP LOCKED
// to claim tasks) and unique constraints, so that N workers creating the
// same Asset/Release get one row; callers may also ask for optimistic
// locking with Transition.IfRevision.
//
// Errors are typed: errors.Is(err, ErrNotFound), ErrIllegalTransition
// (with a *TransitionError for errors.As), ErrConflict, ErrInvalid (also a
// NUL character in any string, which PostgreSQL cannot store; both stores
// refuse it) and ErrUnavailable (the database cannot be reached; an
// *UnavailableError whose message may name the host and user: log it,
// do not show it to clients).
// Timestamps are UTC with microsecond precision in both stores.
package catalog
