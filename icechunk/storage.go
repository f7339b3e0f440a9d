package icechunk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/greensight/vzarr/blobio"
)

// Version identifies one stored version of an object (an ETag on object stores).
type Version string

// PutCondition makes a Put conditional. The zero value writes unconditionally.
type PutCondition struct {
	IfNoneMatch bool    // create only: fail with ErrConflict if the object exists
	IfMatch     Version // replace only the version read before; ErrConflict otherwise
}

// Storage is the object store a repository lives in. Paths are relative to the
// repository root and use "/". Get reports a missing object with blobio.ErrNotFound;
// a conditional Put that loses reports ErrConflict. The implementations are
// DirStorage (local directories) and BlobStorage (Azure Blob Storage and
// mem:// through blobio, with If-None-Match / If-Match).
type Storage interface {
	Get(ctx context.Context, path string) ([]byte, Version, error)
	Put(ctx context.Context, path string, data []byte, cond PutCondition) (Version, error)
	List(ctx context.Context, prefix string) ([]string, error)
}

// DirStorage stores a repository in a local directory. Creation is atomic
// (link of a complete temporary file, which fails if the name exists) and
// compare-and-swap holds an exclusive lock file while it compares and renames.
// A writer that dies holding the lock leaves Root/.lock.<name> behind; remove it
// by hand.
type DirStorage struct {
	Root string
}

// contentVersion is the version of a local object: the SHA-256 of its bytes.
func contentVersion(b []byte) Version {
	s := sha256.Sum256(b)
	return Version(hex.EncodeToString(s[:16]))
}

// checkStoragePath refuses a path that could leave the repository root.
func checkStoragePath(path string) error {
	if path == "" || strings.HasPrefix(path, "/") || strings.Contains(path, "..") {
		return fmt.Errorf("%w: storage path %q", ErrInvalidArgument, path)
	}
	return nil
}

func (d DirStorage) local(path string) (string, error) {
	if err := checkStoragePath(path); err != nil {
		return "", err
	}
	return filepath.Join(d.Root, filepath.FromSlash(path)), nil
}

// Get reads an object.
func (d DirStorage) Get(ctx context.Context, path string) ([]byte, Version, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	p, err := d.local(path)
	if err != nil {
		return nil, "", err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("%w: %s", blobio.ErrNotFound, path)
	}
	if err != nil {
		return nil, "", fmt.Errorf("icechunk: read %s: %w", path, err)
	}
	return b, contentVersion(b), nil
}

// Put writes an object, atomically, honouring cond.
func (d DirStorage) Put(ctx context.Context, path string, data []byte, cond PutCondition) (Version, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	p, err := d.local(path)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", fmt.Errorf("icechunk: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-"+filepath.Base(p)+"-*")
	if err != nil {
		return "", fmt.Errorf("icechunk: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", fmt.Errorf("icechunk: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("icechunk: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("icechunk: write %s: %w", path, err)
	}
	v := contentVersion(data)
	switch {
	case cond.IfNoneMatch:
		if err := os.Link(tmp.Name(), p); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return "", fmt.Errorf("%w: %s exists", ErrConflict, path)
			}
			return "", fmt.Errorf("icechunk: create %s: %w", path, err)
		}
		return v, nil
	case cond.IfMatch != "":
		lock := filepath.Join(filepath.Dir(p), ".lock."+filepath.Base(p))
		lf, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return "", fmt.Errorf("%w: %s is locked by another writer", ErrConflict, path)
			}
			return "", fmt.Errorf("icechunk: lock %s: %w", path, err)
		}
		lf.Close()
		defer os.Remove(lock)
		cur, err := os.ReadFile(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("%w: %s does not exist", ErrConflict, path)
			}
			return "", fmt.Errorf("icechunk: read %s: %w", path, err)
		}
		if contentVersion(cur) != cond.IfMatch {
			return "", fmt.Errorf("%w: %s changed", ErrConflict, path)
		}
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", fmt.Errorf("icechunk: write %s: %w", path, err)
	}
	return v, nil
}

// List returns the paths under prefix, sorted.
func (d DirStorage) List(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(d.Root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			return nil
		}
		rel, err := filepath.Rel(d.Root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, prefix) {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("icechunk: list %s: %w", prefix, err)
	}
	sort.Strings(out)
	return out, nil
}
