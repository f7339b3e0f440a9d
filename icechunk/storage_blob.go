package icechunk

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/greensight/vzarr/blobio"
)

// BlobStorage stores a repository under a prefix of blob storage, through
// blobio (its URLs, allowed hosts and credentials): Azure Blob Storage for
// real repositories, mem:// buckets for tests.
//
// Every object is written with one conditional request: new files with
// If-None-Match: *, the repo info file with If-Match: the ETag read before
// (its Version), so the service decides between concurrent writers in any
// number of processes and exactly one wins. A condition that does not hold
// gives ErrConflict (and blobio.ErrPrecondition), except that a create
// that finds the very bytes it was writing succeeds: that is what a retried
// request whose first try succeeded finds. On mem:// buckets the
// same conditions are checked and applied under a lock of the process's
// MemBuckets, which is where such buckets live; versions there are content
// hashes. Local directories are refused for writing (blobio.ErrUnsupported:
// gocloud.dev's file buckets cannot exclude another process): use
// DirStorage, which links and locks in the file system.
type BlobStorage struct {
	objs *blobio.Objects
}

// NewBlobStorage returns the storage of the repository under objs' prefix.
// The storage owns objs: Close closes it.
func NewBlobStorage(objs *blobio.Objects) *BlobStorage { return &BlobStorage{objs: objs} }

// OpenBlobStorage opens the repository prefix rawURL names with o (see
// blobio.Opener.OpenObjects). It makes no request.
func OpenBlobStorage(ctx context.Context, o *blobio.Opener, rawURL string) (*BlobStorage, error) {
	objs, err := o.OpenObjects(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	return NewBlobStorage(objs), nil
}

// Close releases the bucket.
func (s *BlobStorage) Close() error { return s.objs.Close() }

// Get reads an object and its version (an ETag on Azure).
func (s *BlobStorage) Get(ctx context.Context, path string) ([]byte, Version, error) {
	if err := checkStoragePath(path); err != nil {
		return nil, "", err
	}
	b, v, err := s.objs.Get(ctx, path)
	return b, Version(v), err
}

// Put writes an object honouring cond in one request.
func (s *BlobStorage) Put(ctx context.Context, path string, data []byte, cond PutCondition) (Version, error) {
	if err := checkStoragePath(path); err != nil {
		return "", err
	}
	v, err := s.objs.Put(ctx, path, data, blobio.Condition{IfNoneMatch: cond.IfNoneMatch, IfMatch: string(cond.IfMatch)})
	if errors.Is(err, blobio.ErrPrecondition) {
		if cond.IfNoneMatch {
			// The Azure SDK retries a request whose answer was lost; if the
			// first try created the object, the retry finds it. The same
			// bytes there mean the create happened (every new file's name
			// is random, or its content fixed, as the initial snapshot's).
			if cur, cv, gerr := s.objs.Get(ctx, path); gerr == nil && bytes.Equal(cur, data) {
				return Version(cv), nil
			}
		}
		return "", fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return Version(v), err
}

// List returns the paths under prefix, sorted.
func (s *BlobStorage) List(ctx context.Context, prefix string) ([]string, error) {
	return s.objs.List(ctx, prefix)
}
