package refread

import (
	"container/list"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/kerchunk/codecs"
	"github.com/greensight/vzarr/rangeio"
)

// Fetcher reads the bytes a reference points at.
type Fetcher interface {
	// Fetch returns the length bytes at offset of the object at url, or
	// the whole object when length < 0.
	Fetch(ctx context.Context, url string, offset, length int64) ([]byte, error)
}

// FetcherFunc adapts a function to Fetcher.
type FetcherFunc func(ctx context.Context, url string, offset, length int64) ([]byte, error)

// Fetch calls f.
func (f FetcherFunc) Fetch(ctx context.Context, url string, offset, length int64) ([]byte, error) {
	return f(ctx, url, offset, length)
}

// DefaultMaxOpen is how many objects a BlobFetcher keeps open by default.
const DefaultMaxOpen = 32

// BlobFetcher fetches byte ranges of the URLs blobio opens (local paths,
// file://, abfs://, az://, azblob://, mem://). It keeps the MaxOpen most
// recently used objects open, each with a small block cache, so that the
// chunks of one file cost one open. It is safe for concurrent use; Close
// releases the open objects.
type BlobFetcher struct {
	opener  *blobio.Opener
	maxOpen int

	mu    sync.Mutex
	lru   *list.List // of *openObject, most recent first
	index map[string]*list.Element
}

type openObject struct {
	url  string
	once sync.Once
	obj  *blobio.Object
	err  error
	refs int  // Fetch calls using obj
	gone bool // evicted: close when refs drops to 0
}

// NewBlobFetcher returns a BlobFetcher over opener (nil: one configured
// from the environment, see blobio.NewOpenerFromEnv) keeping up to maxOpen
// objects open (<= 0: DefaultMaxOpen).
func NewBlobFetcher(opener *blobio.Opener, maxOpen int) *BlobFetcher {
	if opener == nil {
		opener = blobio.NewOpenerFromEnv()
	}
	if maxOpen <= 0 {
		maxOpen = DefaultMaxOpen
	}
	return &BlobFetcher{opener: opener, maxOpen: maxOpen, lru: list.New(), index: map[string]*list.Element{}}
}

// objectOptions: no read-ahead (references name exact ranges), a small
// cache per object.
var objectOptions = []rangeio.Option{rangeio.WithFirstRead(0), rangeio.WithBlockSize(64 << 10), rangeio.WithMaxCacheBytes(1 << 20)}

func (f *BlobFetcher) acquire(url string) *openObject {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.index[url]; ok {
		f.lru.MoveToFront(e)
		o := e.Value.(*openObject)
		o.refs++
		return o
	}
	o := &openObject{url: url, refs: 1}
	f.index[url] = f.lru.PushFront(o)
	for f.lru.Len() > f.maxOpen {
		last := f.lru.Back()
		old := last.Value.(*openObject)
		f.lru.Remove(last)
		delete(f.index, old.url)
		old.gone = true
		if old.refs == 0 {
			old.close()
		}
	}
	return o
}

func (f *BlobFetcher) release(o *openObject) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o.refs--
	if o.refs == 0 && o.gone {
		o.close()
	}
}

func (o *openObject) close() {
	if o.obj != nil {
		_ = o.obj.Close()
		o.obj = nil
	}
}

// Fetch reads a byte range of url (the whole object when length < 0).
func (f *BlobFetcher) Fetch(ctx context.Context, url string, offset, length int64) ([]byte, error) {
	o := f.acquire(url)
	defer f.release(o)
	o.once.Do(func() {
		// The object outlives this call: its reads must not depend on
		// the caller's context being alive.
		o.obj, o.err = f.opener.OpenObject(context.WithoutCancel(ctx), url, objectOptions...)
	})
	if o.err != nil {
		f.forget(o)
		return nil, o.err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	size := o.obj.Size()
	if length < 0 {
		offset, length = 0, size
	}
	if offset < 0 || length < 0 || offset > size || length > size-offset {
		return nil, fmt.Errorf("%w: %s: range of %d bytes at %d past the end of the object (%d bytes)", ErrBadRef, url, length, offset, size)
	}
	if length > codecs.MaxDecoded {
		return nil, fmt.Errorf("%w: %s: a chunk of %d bytes at %d, larger than the %d bytes a chunk may hold", ErrUnsupported, url, length, offset, int64(codecs.MaxDecoded))
	}
	buf := make([]byte, length)
	n, err := o.obj.ReadAt(buf, offset)
	if err != nil && !(err == io.EOF && int64(n) == length) {
		return nil, fmt.Errorf("reading %s [%d, %d): %w", url, offset, offset+length, err)
	}
	return buf, nil
}

// forget drops a failed open so that a later Fetch tries again.
func (f *BlobFetcher) forget(o *openObject) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.index[o.url]; ok && e.Value == o {
		f.lru.Remove(e)
		delete(f.index, o.url)
	}
}

// Close closes the open objects. The fetcher stays usable.
func (f *BlobFetcher) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for e := f.lru.Front(); e != nil; e = e.Next() {
		o := e.Value.(*openObject)
		o.gone = true
		if o.refs == 0 {
			o.close()
		}
	}
	f.lru.Init()
	f.index = map[string]*list.Element{}
	return nil
}
