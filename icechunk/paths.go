package icechunk

// Object paths relative to the repository root.
const (
	RepoInfoPath    = "repo"
	SnapshotsDir    = "snapshots/"
	ManifestsDir    = "manifests/"
	TransactionsDir = "transactions/"
	ChunksDir       = "chunks/"
	OverwrittenDir  = "overwritten/"
)

// SnapshotPath is the path of the snapshot file with the given id.
func SnapshotPath(id ObjectID) string { return SnapshotsDir + id.String() }

// ManifestPath is the path of the manifest file with the given id.
func ManifestPath(id ObjectID) string { return ManifestsDir + id.String() }

// TransactionLogPath is the path of the transaction log of the snapshot with the given id.
func TransactionLogPath(id ObjectID) string { return TransactionsDir + id.String() }

// ChunkPath is the path of the native chunk file with the given id.
func ChunkPath(id ObjectID) string { return ChunksDir + id.String() }
