package refstore

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/greensight/vzarr/icechunk"
	"github.com/greensight/vzarr/kerchunk"
)

// DefaultCommitMessage is the message of the commit SaveIcechunk makes when
// none is given.
const DefaultCommitMessage = "vzarr: virtual references"

// Commit describes the snapshot SaveIcechunk committed.
type Commit struct {
	SnapshotID icechunk.ObjectID
	// Bytes is the size of the metadata files written (0 when
	// IcechunkCommit.ReuseTag found the tag and nothing was written).
	Bytes int64
}

// SaveIcechunk writes refs as a new Icechunk repository at url (a local
// directory or a blob prefix, see IcechunkStorage, that must not hold a
// repository yet): one commit on main, with message
// (DefaultCommitMessage when empty), whose virtual chunks point at the
// sources (icechunk.FromRefs, which reads the sources' ETags or
// modification times with the Store's Opener) and whose config declares
// the virtual chunk containers covering them (icechunk.RefsContainers). It
// is CommitIcechunk without Append.
func (s *Store) SaveIcechunk(ctx context.Context, url string, refs *kerchunk.Refs, message string) (*Commit, error) {
	return s.CommitIcechunk(ctx, url, refs, IcechunkCommit{Message: message})
}

// createIcechunk creates a repository in st declaring containers (nil:
// those src gives for refs) and commits refs on IcechunkBranch.
func createIcechunk(ctx context.Context, st icechunk.Storage, src *icechunk.Sources, refs *kerchunk.Refs,
	containers []icechunk.VirtualChunkContainer, message string) (*icechunk.Repo, icechunk.ObjectID, error) {
	var none icechunk.ObjectID
	if err := src.Stat(ctx, refs); err != nil {
		return nil, none, err // before the repository is created
	}
	if containers == nil {
		var err error
		if containers, err = src.Containers(refs); err != nil {
			return nil, none, err
		}
	}
	repo, err := icechunk.Create(ctx, st, icechunk.RepoConfig{VirtualChunkContainers: containers})
	if err != nil {
		return nil, none, fmt.Errorf("creating repository: %w", err)
	}
	sess, err := repo.NewSession(ctx, IcechunkBranch)
	if err != nil {
		return nil, none, err
	}
	if err := src.FromRefs(ctx, sess, refs); err != nil {
		return nil, none, err
	}
	id, err := sess.Commit(ctx, message)
	return repo, id, err
}

// IcechunkStorage returns the storage of the Icechunk repository at url: a
// local directory (a path or a file:// URL; icechunk.DirStorage) or a blob
// prefix (abfs://, abfss://, az://, azblob:// on Azure Blob Storage, and
// mem:// for tests; icechunk.BlobStorage, opened with the Store's Opener
// and so its allowed hosts and credentials, and written with If-None-Match
// / If-Match). It is the one place a URL becomes an icechunk.Storage;
// every command and stage that reads or writes a repository goes through
// it. A BlobStorage holds a bucket: close it (io.Closer) when done.
func (s *Store) IcechunkStorage(ctx context.Context, url string) (icechunk.Storage, error) {
	o := s.opener()
	loc, err := o.Parse(url)
	if err != nil {
		return nil, err
	}
	if loc.IsLocal() {
		return icechunk.DirStorage{Root: filepath.Clean(loc.Path())}, nil
	}
	return icechunk.OpenBlobStorage(ctx, o, url)
}

// countingStorage counts the bytes written through it.
type countingStorage struct {
	icechunk.Storage
	n int64
}

func (c *countingStorage) Put(ctx context.Context, path string, data []byte, cond icechunk.PutCondition) (icechunk.Version, error) {
	v, err := c.Storage.Put(ctx, path, data, cond)
	if err == nil {
		c.n += int64(len(data))
	}
	return v, err
}
