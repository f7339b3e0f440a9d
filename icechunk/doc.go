// Package icechunk reads and writes repositories in the Icechunk storage format,
// spec version 2.1 (on disk the spec version byte is 2, as for spec 2.0; 2.1 only
// adds an optional field vzarr does not write).
//
// The package is the storage-format layer: object ids and their Crockford base32
// names ([ObjectID], [NodeID]), the binary file header ([FileHeader]) with zstd
// compression, the FlatBuffers payloads of the four metadata files (repo info,
// snapshot, manifest, transaction log), a small [Storage] interface with a
// local-directory implementation ([DirStorage]) and a blob one ([BlobStorage]:
// Azure Blob Storage and mem:// through blobio) that give create-if-absent and
// compare-and-swap on the repo info file, a writer ([Create], [Repo.NewSession],
// [Session.Commit], [Repo.CreateTag], [Repo.DeleteTag], [Repo.ResetBranch]) and a reader ([Repo.Snapshot],
// [Snapshot.Node], [Repo.ResolveChunk]).
//
// # Layout and files
//
// A repository is a directory (or object prefix) holding repo (the repo info
// file, the only object ever replaced), snapshots/ID, manifests/ID,
// transactions/ID (one per snapshot, same id), chunks/ID and overwritten/ (the
// previous repo info files, named repo.<ms until 3000-01-01>.<random id>). Every
// metadata file starts with a 39-byte header: the 12 UTF-8 bytes of "ICE🧊CHUNK",
// a 24-byte space-padded implementation name, the spec version byte (2), the file
// type (1 snapshot, 2 manifest, 4 transaction log, 6 repo info) and the
// compression byte (1 zstd), then the zstd-compressed FlatBuffers payload (file
// identifier "Ichk"). Object ids are 12 random bytes, node ids 8, rendered in
// upper-case Crockford base32 without padding (20 and 13 characters); the first
// snapshot of every repository has the fixed id 1CECHNKREP0F1RSTCMT0.
//
// # Storage and concurrent writers
//
// Every file but the repo info is written once, create-if-absent; the repo
// info is replaced with compare-and-swap on the Version read with it.
// [DirStorage] links a complete temporary file into place (create) and holds a
// lock file while it compares and renames (replace). [BlobStorage] sends one
// Put Blob request per object with If-None-Match: * or If-Match: ETAG, so
// Azure decides between writers in any number of processes; its Version is
// the ETag of the response that read or wrote the bytes (never one read
// separately, which could belong to another writer's object). On mem://
// buckets the same conditions are checked under a lock of the process's
// blobio.MemBuckets; file:// prefixes refuse conditional writes
// (blobio.ErrUnsupported) and are served by DirStorage instead
// (refstore.Store.IcechunkStorage is the one place a URL becomes a Storage).
//
// A commit that loses the race for its branch is rebased: [Session.Commit]
// reads the transaction logs of the commits that moved the branch and, when
// none touched a node the session changed (and none created a node at a path
// the session creates), lays the session's nodes over the new head, writes a
// new snapshot (the manifests are reused) and tries again, at most
// [MaxCommitRetries] times; otherwise it fails with a [*ConflictError]
// (errors.Is [ErrConflict]) and the branch keeps the other commit. Other
// updates of the repo info (a tag) are simply re-applied to the new file.
//
// # FlatBuffers: hand-written builders and accessors
//
// The schemas (icechunk-format/flatbuffers/*.fbs in earth-mover/icechunk, Apache-2.0)
// were read for field order and types only; the builders and accessors here are
// written by hand on top of github.com/google/flatbuffers/go. Reasons: the flatc
// Debian ships here (flatbuffers-compiler 2.0.8 in Debian 12) is years older than
// the module's v25.12.19 runtime, so generated code would need a second pinned
// toolchain every developer and CI installs; the subset we need is small (about 20
// tables of a few slots each); and hand-written accessors all go through one bounds-checked
// reader (fbTable) so hostile input yields [ErrCorrupt] instead of a panic, which
// generated Go code does not give. The vtable slot of a field is its declaration
// index in the schema (a union takes two: the type byte, then the value); the
// slot constants are named after the schema fields so a reviewer can check them
// against the .fbs.
//
// The repository config inside the repo info file is FlexBuffers written with
// Rust serde's layout (structs and maps as maps, None as null, an enum variant as a
// one-entry map); vzarr writes only the virtual chunk containers ([RepoConfig])
// and passes any other config through unchanged when it commits to a repository
// another implementation created.
//
// # Verified against the official library
//
// interop_test.go runs @earthmover/icechunk 2.2.2 (the Rust library as a Node
// addon, in the Debian 13 chroot of scripts/trixie, installed in /opt/icechunk-js
// there by scripts/icechunk-judge): it opens repositories written here, lists every key
// of main and of each tag and reads every chunk (virtual, inline, split
// manifests, history, diff, a last-modified checksum that must refuse a changed
// source), and it writes repositories (one with compressed locations) that are
// read and committed to here and then read back by it. interop_azure_test.go
// has it open a repository written to Azurite (Storage.newAzureBlob with the
// emulator option) whose virtual chunks are Azure blobs checked by ETag: every
// chunk equals its reference, and a rewritten source is refused. The tests
// skip when the chroot, the package or Azurite is missing, unless
// VZARR_REQUIRE_TOOLS=1.
//
// # Large commits
//
// A [Session] keeps the chunk refs it is given packed: 24 bytes per chunk (its
// index as the row-major position in the array's chunk grid, the byte range,
// and an index into the session's table of distinct sources, inline chunks and
// native chunk ids), in fixed-size blocks that never move as they grow; the
// location and checksum of a virtual ref are stored once per source, not once
// per chunk. [Session.SetChunk] copies the ref, so callers may reuse its index
// slice. Commit sorts each array's refs by that position (one pass when they
// were set in order, else an LSD radix sort of a permutation applied in
// place), keeps the last ref set for each chunk, and writes the manifests one
// at a time, split by [Session.MaxRefsPerManifest] (default
// [DefaultMaxRefsPerManifest]) at boundaries of the first dimension: each is
// built in one of two reused FlatBuffers builders while the previous one is
// compressed and stored. The transaction log, which lists every chunk the
// commit set and is not split, is laid out front to back (every FlatBuffers
// offset points forward) straight into a streaming zstd encoder, so its
// payload is never held whole. BenchmarkCommitScale and scripts/bench-icechunk
// measure a commit of FILES × CHUNKS virtual refs (wall and CPU time, peak RSS,
// manifests and bytes written).
//
// # From kerchunk references
//
// [FromRefs] writes a kerchunk reference set (the Zarr v2 metadata and chunk
// references every vzarr translation produces) into a [Session]: groups and
// arrays become Zarr v3 zarr.json documents (zarr.ArrayV3Of, default "/" chunk
// keys, dimension_names from _ARRAY_DIMENSIONS, the v2 fill_value also as the
// _FillValue attribute xarray masks Zarr v3 data with), inline references
// inline chunks and range references virtual chunks ([Sources]): a local
// source becomes file:///PATH, checked by its last-modified time, and an Azure
// blob (abfs://, az://, azblob://, any account spelling blobio reads) becomes
// az://CONTAINER/PATH, as Icechunk names Azure locations, checked by its ETag;
// [RefsContainers] lists the containers the repo config needs, one per source
// directory: file:///DIR/ of the local file system, or az://CONTAINER/DIR/ of
// store type azure with the storage account as its "account" option (the
// reader supplies credentials and, for an emulator, its endpoint). It lives here, not in refstore, because it is a mapping onto this
// package's Session (refstore only decides where a set is saved:
// refstore.Store.SaveIcechunk, behind `vzarr ref --format icechunk`).
// testdata/xrcompare.py with TestOfficialLibraryReadsTranslatedFixtures is the
// end-to-end check: the official library reads every chunk of the repo, the
// keys become a plain Zarr v3 directory, and xarray + zarr-python 3 must read
// the same variables from it as from the source.
//
// # Back to references, and appends
//
// [Repo.ToRefs] is the inverse of FromRefs: a snapshot as a kerchunk
// reference set (zarr.ArrayV2Of for the metadata, a byte range for each
// virtual chunk, its location mapped through the covering container of the
// repo config, [RepoInfo.Containers], to the URL blobio opens:
// [VirtualChunkContainer.SourceURL]), so that what reads and checks references reads a
// repository too: refread.Verify behind `vzarr verify REPO`, and package
// combine, whose first input is the repository's current version when
// `vzarr combine --append` adds files (the same compatibility checks, CF
// times re-encoded in the repository's units). [UpdateFromRefs] commits
// such a combined set on top of the session's base, writing only what
// differs: new chunks and grown arrays' metadata; unchanged chunks keep
// their checksums, and an array whose encoding or chunking changed (a
// re-encoded time coordinate) is replaced by a new node. [ReplaceFromRefs]
// does the same for references that are the whole new content (a pipeline
// Release) and refuses ([ErrIncomplete]) those that drop a node or chunk
// of the base, which a commit cannot delete yet. refstore.Store.CommitIcechunk
// is the one caller that commits references (create or append, tag,
// retries after a lost race).
//
// # Not implemented yet
//
// FromRefs takes local files and Azure blobs of the public cloud only (no
// http, mem:// or sovereign-cloud sources) and fails on arrays Zarr v3 has no
// data type for (vlen-array ragged arrays). Writing compressed virtual locations (the official library compresses them with
// a trained zstd dictionary once a manifest has 1,000 virtual refs; they are read
// here, and written plain, which the format allows), native chunk files, deleting or moving nodes, branch
// creation and deletion, snapshot and repo metadata items, expiration and garbage
// collection (a rebased commit leaves the snapshot of its lost attempt behind,
// unreferenced), and the ops-log size limit (all updates stay in one file).
package icechunk
