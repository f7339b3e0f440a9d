package blobio

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"gocloud.dev/blob"
)

// Condition makes Objects.Put conditional. The zero value writes
// unconditionally.
type Condition struct {
	// IfNoneMatch creates the object only if it does not exist
	// (If-None-Match: * on Azure).
	IfNoneMatch bool
	// IfMatch replaces the object only if its version is still this one
	// (If-Match: ETAG on Azure), as Get or an earlier Put returned it.
	IfMatch string
}

// Objects is a prefix of a bucket opened for whole-object reads, listings
// and conditional writes: the storage of a small database of objects (an
// Icechunk repository) whose one mutable object is replaced with
// compare-and-swap. Keys are relative to the prefix.
//
// What a condition means depends on the bucket:
//
//   - Azure (abfs://, az://, azblob://): each Put is one Put Blob request
//     carrying If-None-Match: * or If-Match: ETAG, so the service decides
//     between any number of writers in any number of processes; the
//     version is the blob's ETag, read from the response of the same
//     request that read or wrote the bytes.
//   - mem://: memory buckets live in one process, so a lock of the
//     MemBuckets guards every conditional Put through Objects (the check
//     and the write happen under it); the version is the SHA-256 of the
//     content. Writes that bypass Objects (WriteAtomic, a bucket handle)
//     are not guarded.
//   - local files (file://, paths): a conditional Put fails with
//     ErrUnsupported. gocloud.dev's fileblob checks IfNotExist with a stat
//     and a rename under a lock of one bucket handle, which another
//     process does not see, and it has no If-Match; use a directory
//     store that links and locks in the file system instead (icechunk.DirStorage).
//
// An Objects is safe for concurrent use; Close it when done.
type Objects struct {
	o      *Opener
	loc    *Location
	b      *blob.Bucket
	prefix string // key prefix, "" or ending in "/"
}

// OpenObjects opens the prefix rawURL names (a trailing "/" is implied).
// It makes no request.
func (o *Opener) OpenObjects(ctx context.Context, rawURL string) (*Objects, error) {
	loc, err := o.Parse(rawURL)
	if err != nil {
		return nil, wrap(ctx, "open", rawURL, err)
	}
	b, err := o.OpenLocation(ctx, loc)
	if err != nil {
		return nil, wrap(ctx, "open", rawURL, err)
	}
	prefix := loc.Key
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &Objects{o: o, loc: loc, b: b, prefix: prefix}, nil
}

// Close releases the bucket.
func (s *Objects) Close() error { return s.b.Close() }

// Location returns the parsed location of the prefix.
func (s *Objects) Location() *Location { c := *s.loc; return &c }

func (s *Objects) url(key string) string { return s.loc.WithKey(s.prefix + key).String() }

func (s *Objects) fail(ctx context.Context, op, key string, err error) error {
	return s.o.explain(s.loc, wrap(ctx, op, s.url(key), err))
}

// Get reads the whole object at key and returns it with its version.
// A missing object gives ErrNotFound.
func (s *Objects) Get(ctx context.Context, key string) ([]byte, string, error) {
	r, err := s.b.NewReader(ctx, s.prefix+key, nil)
	if err != nil {
		return nil, "", s.fail(ctx, "read", key, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, "", s.fail(ctx, "read", key, err)
	}
	if s.loc.IsAzure() {
		return data, etagString(blobVersion(r.As)), nil
	}
	return data, contentVersion(data), nil
}

// Stat returns the size, modification time and version of the object at
// key without reading it. On Azure the version is the ETag; elsewhere it
// is empty (a content version would need the bytes).
func (s *Objects) Stat(ctx context.Context, key string) (size int64, mod time.Time, version string, err error) {
	a, err := s.b.Attributes(ctx, s.prefix+key)
	if err != nil {
		return 0, time.Time{}, "", s.fail(ctx, "stat", key, err)
	}
	if s.loc.IsAzure() {
		version = etagString(blobVersion(a.As))
	}
	return a.Size, a.ModTime, version, nil
}

// Put writes data to key under cond, in one request, and returns the new
// version. A condition that does not hold gives ErrPrecondition and
// changes nothing; see Objects for what conditions mean on each bucket.
func (s *Objects) Put(ctx context.Context, key string, data []byte, cond Condition) (string, error) {
	v, err := s.put(ctx, key, data, cond)
	if err != nil {
		return "", s.fail(ctx, "write", key, err)
	}
	return v, nil
}

func (s *Objects) put(ctx context.Context, key string, data []byte, cond Condition) (string, error) {
	conditional := cond.IfNoneMatch || cond.IfMatch != ""
	switch {
	case s.loc.IsAzure():
		d := registeredAzure()
		if d == nil {
			return "", fmt.Errorf("%w: Azure writes need the Azure driver", ErrConfig)
		}
		return d.PutIf(ctx, s.b, s.prefix+key, data, cond)
	case s.loc.Scheme == SchemeMem && conditional:
		s.o.Mem.casMu.Lock()
		defer s.o.Mem.casMu.Unlock()
		cur, err := s.b.ReadAll(ctx, s.prefix+key)
		exists := err == nil
		if err != nil && classify(ctx, err) != ErrNotFound {
			return "", err
		}
		switch {
		case cond.IfNoneMatch && exists:
			return "", fmt.Errorf("%w: the object exists", ErrPrecondition)
		case cond.IfMatch != "" && !exists:
			return "", fmt.Errorf("%w: the object does not exist", ErrPrecondition)
		case cond.IfMatch != "" && contentVersion(cur) != cond.IfMatch:
			return "", fmt.Errorf("%w: the object changed", ErrPrecondition)
		}
	case conditional:
		return "", fmt.Errorf("%w: conditional writes to %s locations (a stat and a rename cannot exclude another process)", ErrUnsupported, s.loc.Scheme)
	}
	if err := s.b.WriteAll(ctx, s.prefix+key, data, &blob.WriterOptions{ContentType: contentType(key)}); err != nil {
		return "", err
	}
	return contentVersion(data), nil
}

// List returns the keys under prefix (relative to the Objects' prefix),
// sorted.
func (s *Objects) List(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	it := s.b.List(&blob.ListOptions{Prefix: s.prefix + prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, s.fail(ctx, "scan", prefix, err)
		}
		if !obj.IsDir {
			out = append(out, strings.TrimPrefix(obj.Key, s.prefix))
		}
	}
	return out, nil // blob listings are in key order
}

// contentVersion is the version of an object that has no ETag blobio can
// read atomically with its bytes: the SHA-256 of its content.
func contentVersion(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// etagString returns the string of an Azure ETag (an *azcore.ETag, a
// string type blobio's core does not import), "" for nil.
func etagString(v any) string {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.String {
		return ""
	}
	return rv.String()
}
