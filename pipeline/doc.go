// Package pipeline holds the stage handlers of the virtualization
// pipeline. Each stage takes contract-shaped parameters and returns an
// Envelope, the JSON every stage answers with:
//
//	{"success": true, "result": {...}}
//	{"success": false, "error": "...", "error_type": "..."}
//
// ErrorType gives error_type from one table, the error vocabulary of the
// whole module: every sentinel error of the packages the stages call maps
// to one ErrType* constant (a *StageError names its type explicitly).
// The vzarr command uses the same table. The ref and combine stages write
// JSON or Parquet references through package refstore (ref_format).
//
// The register stage (Contract 6), RegisterZarrSTAC, builds the STAC item
// of a combined kerchunk reference file, caches it on the Release and
// completes the Release, in one catalog transaction. Stages log with slog:
// their inputs, the outcome and the duration.
//
// processing_options.output_format "icechunk" (default "kerchunk") makes
// the Releases of a dataset and resource snapshots of one Icechunk
// repository, REFS_URL/<dataset_id>/<resource_id>/repo.icechunk
// (Submitter.RepoURL): the register stage commits the run's combined
// references as one snapshot on main, tags it with the Release id, and
// then completes the Release with blob_path = the repository URL and an
// item describing the snapshot (stac.Options.Icechunk). The commit is the
// last step before the catalog update, so a run failing earlier commits
// nothing, and earlier Releases' tags are never moved.
//
// A job's stages share a blobio.HeadCache (Deps.HeadCacheBytes) in each
// process: the validate stage keeps the first read of each source it
// passed, the ref stage opens the source from it and keeps the reference
// it writes, and the combine stage reads that reference from it, so that
// a small file in blob storage costs one GET and one PUT. Whatever is not
// in the process's cache (a stage run by another worker, a head that did
// not fit or expired) is read from storage as before.
//
// Each run (Release) writes to its own folder,
// REFS_URL/<dataset_id>/<resource_id>/<release_id>/ (Submitter, RunFolder).
// A failed run's cleanup deletes exactly the objects its tasks' parameters
// recorded before they ran, inside that folder, never an object another
// live Release records; Prune applies the retention rules to old Releases.
package pipeline
