package blobio

import (
	"container/list"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/greensight/vzarr/rangeio"
)

// DefaultMaxFetch bounds one BlobFetcher.Fetch (1 GiB, the most a chunk
// may decode to): ranges come from untrusted references.
const DefaultMaxFetch = 1 << 30

// RangeError is a Fetch of a range outside its object, or longer than
// DefaultMaxFetch. It wraps ErrInvalidArgument.
type RangeError struct {
	URL            string
	Offset, Length int64 // the range asked for
	Size           int64 // the object's size
}

// Error says which range was asked for and why it is refused.
func (e *RangeError) Error() string {
	if e.TooLong() {
		return fmt.Sprintf("%s: a range of %d bytes at %d, more than the %d bytes one fetch may read", e.URL, e.Length, e.Offset, int64(DefaultMaxFetch))
	}
	return fmt.Sprintf("%s: range of %d bytes at %d past the end of the object (%d bytes)", e.URL, e.Length, e.Offset, e.Size)
}

// Unwrap makes errors.Is(err, ErrInvalidArgument) hold.
func (e *RangeError) Unwrap() error { return ErrInvalidArgument }

// TooLong reports a range inside the object refused for its length only.
func (e *RangeError) TooLong() bool {
	return e.Offset >= 0 && e.Length > DefaultMaxFetch && e.Offset <= e.Size && e.Length <= e.Size-e.Offset
}

// DefaultMaxOpen is how many objects a BlobFetcher keeps open by default.
const DefaultMaxOpen = 32

// BlobFetcher fetches byte ranges of the URLs an Opener opens (local
// paths, file://, abfs://, az://, azblob://, mem://), such as the chunks
// kerchunk references point at (it is refread's default Fetcher). It keeps the MaxOpen most
// recently used objects open, each with a small block cache, so that the
// chunks of one file cost one open. It is safe for concurrent use; Close
// releases the open objects.
type BlobFetcher struct {
	opener  *Opener
	maxOpen int

	mu    sync.Mutex
	lru   *list.List // of *openObject, most recent first
	index map[string]*list.Element
}

type openObject struct {
	url  string
	once sync.Once
	obj  *Object
	err  error
	refs int  // Fetch calls using obj
	gone bool // evicted: close when refs drops to 0
}

// NewBlobFetcher returns a BlobFetcher over opener (nil: one configured
// from the environment, see NewOpenerFromEnv) keeping up to maxOpen
// objects open (<= 0: DefaultMaxOpen).
func NewBlobFetcher(opener *Opener, maxOpen int) *BlobFetcher {
	if opener == nil {
		opener = NewOpenerFromEnv()
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

// Fetch reads a byte range of url (the whole object when length < 0). A
// range outside the object, or longer than DefaultMaxFetch, is refused
// with a *RangeError before a buffer is allocated for it.
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
	if offset < 0 || length < 0 || offset > size || length > size-offset || length > DefaultMaxFetch {
		return nil, &RangeError{URL: url, Offset: offset, Length: length, Size: size}
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
