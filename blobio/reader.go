package blobio

import (
	"context"
	"fmt"
	"io"
	"slices"

	"gocloud.dev/blob"

	"github.com/greensight/vzarr/rangeio"
)

// blobReaderAt is an io.ReaderAt of ranged reads of one blob: every ReadAt
// is one request. Reads use the context given to NewReaderAt.
type blobReaderAt struct {
	ctx     context.Context
	bucket  *blob.Bucket
	key     string
	name    string // for errors
	explain func(error) error
	version any // Azure: the version (ETag) every read must match
}

// readerOptions makes Azure reads conditional on the blob's version (ETag), so that a
// blob replaced while it is being read gives ErrChanged instead of a mix of
// two versions.
func (r *blobReaderAt) readerOptions() *blob.ReaderOptions {
	if r.version == nil {
		return nil
	}
	if d := registeredAzure(); d != nil {
		return d.ReaderOptions(r.version)
	}
	return nil
}

func (r *blobReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	rr, err := r.bucket.NewRangeReader(r.ctx, r.key, off, int64(len(p)), r.readerOptions())
	if err != nil {
		return 0, r.explain(wrap(r.ctx, "read", r.name, fmt.Errorf("range [%d, %d): %w", off, off+int64(len(p)), err)))
	}
	defer rr.Close()
	n, err := io.ReadFull(rr, p)
	switch {
	case err == io.ErrUnexpectedEOF || (err == io.EOF && n == 0):
		return n, io.EOF
	case err != nil:
		return n, r.explain(wrap(r.ctx, "read", r.name, fmt.Errorf("range [%d, %d): %w", off, off+int64(len(p)), err)))
	}
	return n, nil
}

// NewReaderAt returns a caching io.ReaderAt (a rangeio.Reader, whose Size is
// the blob's size and whose Stats count the blob requests) over ranged reads
// of key in b.
//
// It makes one request at once: the first read of rangeio (the blob's first
// 1 MiB by default, see rangeio.WithFirstRead), which also tells the size;
// with rangeio.WithFirstRead(0) that request asks for the attributes
// instead. A missing blob gives an error for which errors.Is(err,
// ErrNotFound) holds. On Azure every later read is conditional on the blob's
// ETag: if the blob is replaced meanwhile, reads fail with ErrChanged.
//
// ctx governs the reads that the returned reader makes later too (io.ReaderAt
// has no context); cancel it to abandon them.
func NewReaderAt(ctx context.Context, b *blob.Bucket, key string, opts ...rangeio.Option) (*rangeio.Reader, error) {
	r, _, err := newReaderAt(ctx, b, key, key, nil, nil, opts...)
	return r, err
}

// newReaderAt is NewReaderAt with a name for errors, a function that
// explains them (nil for none) and the head of the object kept from an
// earlier read (nil for none: the first read is made). It also returns
// the head it read (nil when it read none).
func newReaderAt(ctx context.Context, b *blob.Bucket, key, name string, explain func(error) error, kept *head, opts ...rangeio.Option) (_ *rangeio.Reader, _ *head, err error) {
	if explain == nil {
		explain = func(err error) error { return err }
	}
	defer func() { err = explain(err) }()
	src := &blobReaderAt{ctx: ctx, bucket: b, key: key, name: name, explain: explain}
	if kept != nil {
		src.version = kept.version
		return rangeio.NewReader(src, kept.size, append(slices.Clip(opts), rangeio.WithCachedData(kept.data))...), nil, nil
	}
	cfg := rangeio.NewConfig(opts...)
	if first := (cfg.FirstRead + cfg.BlockSize - 1) / cfg.BlockSize * cfg.BlockSize; first > 0 {
		rr, err := b.NewRangeReader(ctx, key, 0, first, nil)
		if isInvalidRange(err) {
			// Azure answers 416 to a range read of an empty blob.
			return rangeio.NewReader(src, 0, opts...), &head{data: []byte{}}, nil
		}
		if err != nil {
			return nil, nil, wrap(ctx, "read", name, err)
		}
		defer rr.Close()
		src.version = blobVersion(rr.As)
		size := rr.Size()
		data := make([]byte, min(first, size))
		if _, err := io.ReadFull(rr, data); err != nil {
			return nil, nil, wrap(ctx, "read", name, fmt.Errorf("range [0, %d): %w", len(data), err))
		}
		r := rangeio.NewReader(src, size, append(slices.Clip(opts), rangeio.WithInitialData(data))...)
		return r, &head{data: data, size: size, version: src.version}, nil
	}
	attrs, err := b.Attributes(ctx, key)
	if err != nil {
		return nil, nil, wrap(ctx, "stat", name, err)
	}
	src.version = blobVersion(attrs.As)
	return rangeio.NewReader(src, attrs.Size, opts...), nil, nil
}

func isInvalidRange(err error) bool {
	d := registeredAzure()
	return err != nil && d != nil && d.InvalidRange(err)
}

// blobVersion is the version of an Azure blob that as (a reader's or
// attributes' As) reports, nil for other blobs.
func blobVersion(as func(any) bool) any {
	if d := registeredAzure(); d != nil {
		return d.Version(as)
	}
	return nil
}

// Object is an open blob or file: a caching io.ReaderAt with its URLs.
type Object struct {
	*rangeio.Reader
	URL      string // the URL it was opened with
	RefURL   string // the URL fsspec resolves to it, for chunk references
	bucket   *blob.Bucket
	shared   bool  // bucket is the Opener's (local files): not closed here
	head     *head // what the open read first (nil: nothing), for HeadCache.Keep
	fromHead bool  // opened from a HeadCache's head: no request was made
}

// Close releases the object's bucket.
func (obj *Object) Close() error {
	if obj.shared {
		return nil
	}
	return obj.bucket.Close()
}

// Request concurrency of the metadata reader (MetadataReaderOptions).
const (
	// MetadataConcurrency bounds the requests in flight per blob: enough
	// for every node of one level of a big file's chunk indexes at once,
	// so that the dependent round trips are the depth of the metadata.
	MetadataConcurrency = 128
	// LocalMetadataConcurrency bounds them per local file, where a request
	// costs microseconds.
	LocalMetadataConcurrency = 4
	// MaxMetadataRequests bounds them across the process.
	MaxMetadataRequests = 256
)

// metadataLimiter is the process-wide bound of MetadataReaderOptions.
var metadataLimiter = rangeio.NewLimiter(MaxMetadataRequests)

// The first read of the metadata reader (MetadataReaderOptions), by what
// the caller knows of the file's size.
const (
	// MetadataFirstRead is the first read of a file of unknown size:
	// netCDF-4 files keep most metadata near the start, and a file this
	// small is read whole in one request.
	MetadataFirstRead = 256 << 10
	// MetadataWholeFileMax is the largest file of known size read whole
	// by the first request: up to here the whole file costs less transfer
	// time than one more round trip (512 KiB at 50 MB/s is 10 ms; a round
	// trip to blob storage 20-50 ms), and files of a few hundred KiB may
	// need bytes anywhere (metadata, data inlined into references).
	MetadataWholeFileMax = 512 << 10
	// MetadataHeadRead is the first read of a bigger file of known size:
	// its start, where the superblock, the root group and the object
	// headers written when the file was defined lie. Its chunk indexes
	// cannot all be in any first read (they grow with the data, among the
	// chunks), so a first read bigger than its head costs bytes and saves
	// no round trip. Measured: the metadata at the start of the files of
	// ../shared/realworld, the testdata and the benchmark files ends
	// within 2-43 KiB, and no file bigger than MetadataWholeFileMax reads
	// anything between 64 and 256 KiB; on the appended hourly file
	// (1.1 GB) 21 KiB of the 256 KiB first read were metadata.
	MetadataHeadRead = 64 << 10
)

// metadataFirstRead is the first read of MetadataReaderOptions(size).
func metadataFirstRead(size int64) int64 {
	switch {
	case size <= 0:
		return MetadataFirstRead
	case size <= MetadataWholeFileMax:
		return size
	}
	return MetadataHeadRead
}

// MetadataReaderOptions is the read cache for opening NetCDF/HDF5 files
// to read their metadata (OpenObject(ctx, url,
// MetadataReaderOptions(size)...)). size is the file's size when the
// caller knows it (a scan's listing), else 0; it only sizes the first
// request (a stale size costs requests, never correctness): a file of up
// to MetadataWholeFileMax is read whole in one request, a bigger one's
// first request reads its first MetadataHeadRead bytes, a file of unknown
// size its first MetadataFirstRead bytes. Later misses read 16 KiB blocks;
// the ranges the parsers ask for ahead (chunk index nodes, whose sizes the
// format gives) are read at their own size, coalesced only across gaps of
// at most 4 KiB, up to MetadataConcurrency requests per blob at once
// (LocalMetadataConcurrency for local files, see OpenObject) and
// MaxMetadataRequests per process. Measured on a 1.1 GB netCDF-4 file
// appended hour by hour (about 460 scattered B-tree nodes): 16 KiB blocks
// read 5 times the bytes of the nodes, 8 requests at a time made 66
// dependent round trips. The parsers themselves take any io.ReaderAt and
// add no cache: this is the one place the policy is decided.
func MetadataReaderOptions(size int64) []rangeio.Option {
	return []rangeio.Option{rangeio.WithFirstRead(metadataFirstRead(size)), rangeio.WithBlockSize(16 << 10), rangeio.WithCoalesceGap(4 << 10),
		rangeio.WithConcurrency(MetadataConcurrency), rangeio.WithLimiter(metadataLimiter)}
}

// OpenObject opens the object at rawURL for ranged reads (see NewReaderAt).
// A local file makes at most LocalMetadataConcurrency requests at once.
func (o *Opener) OpenObject(ctx context.Context, rawURL string, opts ...rangeio.Option) (*Object, error) {
	return o.openObject(ctx, rawURL, nil, opts...)
}

// openObject is OpenObject from the head kept of the object (nil: none,
// the first read is made; see HeadCache.Open).
func (o *Opener) openObject(ctx context.Context, rawURL string, kept *head, opts ...rangeio.Option) (*Object, error) {
	loc, err := o.Parse(rawURL)
	if err != nil {
		return nil, wrap(ctx, "open", rawURL, err)
	}
	if loc.Key == "" || loc.Key[len(loc.Key)-1] == '/' {
		return nil, wrap(ctx, "open", rawURL, fmt.Errorf("%w: the URL names a directory, not an object", ErrInvalidArgument))
	}
	// Local files share the Opener's bucket of the file system root (a
	// bucket per open cost about a twentieth of the CPU of many small
	// files); others get a bucket per object over the driver's client.
	shared := loc.IsLocal()
	var b *blob.Bucket
	if shared {
		b, err = o.localBucket()
	} else {
		b, err = o.OpenLocation(ctx, loc)
	}
	if err != nil {
		return nil, wrap(ctx, "open", rawURL, err)
	}
	if shared {
		if c := rangeio.NewConfig(opts...).Concurrency; c > LocalMetadataConcurrency {
			opts = append(slices.Clip(opts), rangeio.WithConcurrency(LocalMetadataConcurrency))
		}
	}
	r, h, err := newReaderAt(ctx, b, loc.Key, rawURL, func(err error) error { return o.explain(loc, err) }, kept, opts...)
	if err != nil {
		if !shared {
			_ = b.Close()
		}
		return nil, err
	}
	if h != nil {
		h.url = rawURL
	}
	o.logger().DebugContext(ctx, "blobio: opened object", "url", rawURL, "size", r.Size(), "from_head", kept != nil)
	return &Object{Reader: r, URL: rawURL, RefURL: loc.RefURL(), bucket: b, shared: shared, head: h, fromHead: kept != nil}, nil
}
