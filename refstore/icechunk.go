package refstore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/greensight/vzarr/icechunk"
	"github.com/greensight/vzarr/kerchunk"
)

// DefaultCommitMessage is the message of the commit SaveIcechunk makes when
// none is given.
const DefaultCommitMessage = "vzarr: virtual references"

// Commit describes the snapshot SaveIcechunk committed.
type Commit struct {
	SnapshotID icechunk.ObjectID
	// Bytes is the size of the metadata files written.
	Bytes int64
}

// SaveIcechunk writes refs as a new Icechunk repository at url (a local
// directory that must not hold a repository yet): one commit on main,
// with message (DefaultCommitMessage when empty), whose virtual chunks
// point at the sources (icechunk.FromRefs) and whose config declares a
// virtual chunk container for each source directory. Blob URLs are not
// supported yet (ErrFormat).
func (s *Store) SaveIcechunk(ctx context.Context, url string, refs *kerchunk.Refs, message string) (*Commit, error) {
	base, err := s.IcechunkStorage(ctx, url)
	if err != nil {
		return nil, err
	}
	if message == "" {
		message = DefaultCommitMessage
	}
	containers, err := icechunk.RefsContainers(refs)
	if err != nil {
		return nil, err
	}
	st := &countingStorage{Storage: base}
	repo, err := icechunk.Create(ctx, st, icechunk.RepoConfig{VirtualChunkContainers: containers})
	if err != nil {
		return nil, fmt.Errorf("creating repository %s: %w", url, err)
	}
	sess, err := repo.NewSession(ctx, "main")
	if err != nil {
		return nil, err
	}
	if err := icechunk.FromRefs(ctx, sess, refs); err != nil {
		return nil, err
	}
	id, err := sess.Commit(ctx, message)
	if err != nil {
		return nil, fmt.Errorf("committing to %s: %w", url, err)
	}
	return &Commit{SnapshotID: id, Bytes: st.n}, nil
}

// IcechunkStorage returns the storage of the Icechunk repository at url:
// a local directory (a path or a file:// URL). It is the one place a URL
// becomes an icechunk.Storage; every command and stage that reads or
// writes a repository goes through it. Blob URLs are not supported yet
// (ErrFormat).
func (s *Store) IcechunkStorage(ctx context.Context, url string) (icechunk.Storage, error) {
	dir, ok := strings.CutPrefix(url, "file://")
	if !ok && strings.Contains(url, "://") {
		return nil, fmt.Errorf("%w %q: Icechunk repositories are written to local directories only, not %s", ErrFormat, string(Icechunk), url)
	}
	return icechunk.DirStorage{Root: filepath.Clean(dir)}, nil
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
