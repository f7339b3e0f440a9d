package blobio

import (
	"context"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/blob/driver"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/gcerrors"
)

// MemBuckets is a set of named in-memory buckets for mem://NAME/PATH URLs,
// for tests. Give it to an Opener (Opener.Mem); there is no global registry.
// The zero value is an empty set, safe for concurrent use.
type MemBuckets struct {
	mu sync.Mutex
	m  map[string]*blob.Bucket
	// casMu guards the conditional writes of Objects (check and write).
	casMu sync.Mutex
}

// Create makes the bucket name if it does not exist (like creating a
// container) and returns a handle to it; Close the handle when done.
func (m *MemBuckets) Create(name string) *blob.Bucket {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]*blob.Bucket{}
	}
	if _, ok := m.m[name]; !ok {
		m.m[name] = memblob.OpenBucket(nil)
	}
	return blob.NewBucket(&sharedBucket{m.m[name]})
}

// Delete removes the bucket name and its objects.
func (m *MemBuckets) Delete(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b, ok := m.m[name]; ok {
		_ = b.Close()
		delete(m.m, name)
	}
}

// open returns a handle to an existing bucket.
func (m *MemBuckets) open(name string) (*blob.Bucket, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.m[name]
	if !ok {
		return nil, false
	}
	return blob.NewBucket(&sharedBucket{b}), true
}

// sharedBucket is a gocloud.dev driver that forwards to a *blob.Bucket,
// except that closing it leaves the shared bucket open: each Open of a
// mem:// URL gets its own handle to close.
type sharedBucket struct{ b *blob.Bucket }

func (s *sharedBucket) ErrorCode(err error) gcerrors.ErrorCode { return gcerrors.Code(err) }
func (s *sharedBucket) As(i any) bool                          { return s.b.As(i) }
func (s *sharedBucket) ErrorAs(err error, i any) bool          { return s.b.ErrorAs(err, i) }
func (s *sharedBucket) Close() error                           { return nil }

func (s *sharedBucket) Attributes(ctx context.Context, key string) (*driver.Attributes, error) {
	a, err := s.b.Attributes(ctx, key)
	if err != nil {
		return nil, err
	}
	return &driver.Attributes{
		CacheControl: a.CacheControl, ContentDisposition: a.ContentDisposition,
		ContentEncoding: a.ContentEncoding, ContentLanguage: a.ContentLanguage,
		ContentType: a.ContentType, Metadata: a.Metadata, CreateTime: a.CreateTime,
		ModTime: a.ModTime, Size: a.Size, MD5: a.MD5, ETag: a.ETag, AsFunc: a.As,
	}, nil
}

func (s *sharedBucket) ListPaged(ctx context.Context, opts *driver.ListOptions) (*driver.ListPage, error) {
	token := opts.PageToken
	if len(token) == 0 {
		token = blob.FirstPageToken
	}
	size := opts.PageSize
	if size <= 0 { // a List iterator leaves the page size to the driver
		size = 1000
	}
	objs, next, err := s.b.ListPage(ctx, token, size, &blob.ListOptions{
		Prefix: opts.Prefix, Delimiter: opts.Delimiter, BeforeList: opts.BeforeList,
	})
	if err != nil {
		return nil, err
	}
	page := &driver.ListPage{NextPageToken: next}
	for _, o := range objs {
		page.Objects = append(page.Objects, &driver.ListObject{
			Key: o.Key, ModTime: o.ModTime, Size: o.Size, MD5: o.MD5, IsDir: o.IsDir, AsFunc: o.As,
		})
	}
	return page, nil
}

type sharedReader struct{ r *blob.Reader }

func (r sharedReader) Read(p []byte) (int, error) { return r.r.Read(p) }
func (r sharedReader) Close() error               { return r.r.Close() }
func (r sharedReader) As(i any) bool              { return r.r.As(i) }
func (r sharedReader) Attributes() *driver.ReaderAttributes {
	return &driver.ReaderAttributes{ContentType: r.r.ContentType(), ModTime: r.r.ModTime(), Size: r.r.Size()}
}

func (s *sharedBucket) NewRangeReader(ctx context.Context, key string, offset, length int64, opts *driver.ReaderOptions) (driver.Reader, error) {
	r, err := s.b.NewRangeReader(ctx, key, offset, length, &blob.ReaderOptions{BeforeRead: opts.BeforeRead})
	if err != nil {
		return nil, err
	}
	return sharedReader{r}, nil
}

func (s *sharedBucket) NewTypedWriter(ctx context.Context, key, contentType string, opts *driver.WriterOptions) (driver.Writer, error) {
	return s.b.NewWriter(ctx, key, &blob.WriterOptions{
		BufferSize: opts.BufferSize, MaxConcurrency: opts.MaxConcurrency,
		CacheControl: opts.CacheControl, ContentDisposition: opts.ContentDisposition,
		ContentEncoding: opts.ContentEncoding, ContentLanguage: opts.ContentLanguage,
		ContentType: contentType, ContentMD5: opts.ContentMD5, Metadata: opts.Metadata,
		BeforeWrite: opts.BeforeWrite, IfNotExist: opts.IfNotExist,
		DisableContentTypeDetection: opts.DisableContentTypeDetection || contentType == "",
	})
}

func (s *sharedBucket) Copy(ctx context.Context, dstKey, srcKey string, opts *driver.CopyOptions) error {
	return s.b.Copy(ctx, dstKey, srcKey, &blob.CopyOptions{BeforeCopy: opts.BeforeCopy})
}

func (s *sharedBucket) Delete(ctx context.Context, key string, opts *driver.DeleteOptions) error {
	return s.b.DeleteWithOptions(ctx, key, &blob.DeleteOptions{BeforeDelete: opts.BeforeDelete})
}

func (s *sharedBucket) SignedURL(ctx context.Context, key string, opts *driver.SignedURLOptions) (string, error) {
	return s.b.SignedURL(ctx, key, &blob.SignedURLOptions{
		Expiry: opts.Expiry, Method: opts.Method, ContentType: opts.ContentType,
		EnforceAbsentContentType: opts.EnforceAbsentContentType, BeforeSign: opts.BeforeSign,
	})
}
