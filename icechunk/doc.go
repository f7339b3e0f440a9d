// Package icechunk reads and writes repositories in the Icechunk storage format,
// spec version 2.1 (on disk the spec version byte is 2, as for spec 2.0).
//
// The package is the storage-format layer: object ids and their Crockford base32
// names ([ObjectID], [NodeID]), the binary file header ([FileHeader]) with zstd
// compression, the FlatBuffers payloads of the four metadata files (repo info,
// snapshot, manifest, transaction log), a small [Storage] interface with a
// local-directory implementation ([DirStorage]) that gives create-if-absent and
// compare-and-swap on the repo info file, a writer ([Create], [Repo.NewSession],
// [Session.Commit], [Repo.CreateTag]) and a reader ([Repo.Snapshot],
// [Snapshot.Nodes], [Repo.ResolveChunk]).
//
// # FlatBuffers: hand-written builders and accessors
//
// The schemas (icechunk-format/flatbuffers/*.fbs in earth-mover/icechunk, Apache-2.0)
// were read for field order and types only; the builders and accessors here are
// written by hand on top of github.com/google/flatbuffers/go. Reasons: no flatc
// binary is available pinned in this environment (the Debian package would pin a
// different flatc release than the module's v25.12.19 runtime, and generated Go
// would add ~3,000 lines for a handful of tables), the subset we need is small
// (about 20 tables, each a few slots), and the hand-written accessors go through one
// bounds-checked reader (fbTable) so hostile input yields [ErrCorrupt] instead of a
// panic. The vtable slot of every field is its declaration index in the schema
// (unions take two slots: the type byte, then the value); the slot constants are
// named after the schema fields so a reviewer can check them against the .fbs.
//
// # What is not implemented
//
// Repo config (a FlexBuffers blob in the repo info file) is not written yet, so the
// virtual chunk containers must be supplied by the reader's config at open time (the
// official library merges the given config over the stored one); [RepoConfig] and
// [VirtualChunkContainer] hold the intended values. Also missing: compressed virtual
// locations, native chunk files, the overwritten/ backups of the repo info file,
// snapshot metadata items, move operations, and expiration.
package icechunk
