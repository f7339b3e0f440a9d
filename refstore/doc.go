// Package refstore is the one place kerchunk reference sets are loaded
// from and saved to storage: local paths, file:// and every blob URL
// package blobio opens (abfs://, az://, azblob://, mem://).
//
// A Store reads and writes both layouts vzarr produces:
//
//   - JSON: one kerchunk reference file (version 1 written; version 0 or
//     1 read, ours or Python kerchunk's);
//   - Parquet: a folder or blob prefix holding .zmetadata and
//     VAR/refs.N.parq, the layout of fsspec's LazyReferenceMapper, for
//     very large sets.
//
// Load finds out which one a URL holds. Save takes the Format from its
// argument, or, with Auto, from the URL (FormatOf: a name ending in .parq
// or .parquet is a Parquet set). Every write is atomic: a JSON file is
// written to a temporary sibling and renamed (local) or uploaded in one
// request (blob storage), so readers see the old file or the new one. A
// Parquet set is written whole to a staging folder or prefix first: a
// local set is then renamed into place; a blob set is copied into place
// server side, record files first and .zmetadata last, then the stale
// files of an older set and the staging prefix are deleted. A set that
// fails to be written leaves the older one as it was.
//
// refstore sits between kerchunk (the formats) and blobio (the storage);
// the commands, the pipeline stages, combine and stac all load and save
// references through it.
package refstore
