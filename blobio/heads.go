package blobio

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/greensight/vzarr/rangeio"
)

// Defaults of a HeadCache (NewHeadCache).
const (
	// DefaultHeadCacheBytes bounds the bytes a HeadCache holds: the first
	// reads of 10,000 small netCDF-4 files (~15 KiB each) and their
	// references fit, as do a thousand 256 KiB first reads.
	DefaultHeadCacheBytes = 256 << 20
	// DefaultHeadCacheAge is how long a head stays usable: an open takes
	// no head older than this (it makes its request, as without a cache).
	DefaultHeadCacheAge = 10 * time.Minute
)

// HeadCache keeps the heads of objects in blob storage for one later open
// of the same URL in the same process, which then makes no request for
// them. A head is what an open read first (the object's first bytes, with
// its size and version, see OpenObject), or the whole of an object this
// process just wrote (KeepWritten). The pipeline's validate stage keeps
// the first read of each source for the ref stage, and the ref stage keeps
// each reference it writes for the combine stage: each object is then
// requested once, not twice.
//
// What an open from a head reads is what the object held when the head
// was read (or written); its further reads (past the head) are
// conditional on the head's version, as those of any open are on its
// first read's, so a blob replaced since gives ErrChanged rather than a
// mix of two versions. A head covering the whole object needs no further
// read. Heads older than the cache's age are not used.
//
// The policy suits stages that go through many objects in order, each
// read again once, later: the cache keeps the first heads that fit and
// refuses the rest (no eviction to make room: with a least-recently-used
// policy a pass over more objects than fit would evict every head before
// its second read); a head leaves when an open takes it, when it is
// replaced, or when it has expired (expired heads are dropped to make
// room). Every miss, whatever the reason, falls back to the request.
//
// Local files are never kept: the operating system's page cache already
// serves them without a round trip. Heads are keyed by the URL as given:
// another spelling of the same object is a miss. A HeadCache belongs to
// the Opener its objects were opened with; a nil *HeadCache keeps nothing
// and opens as the Opener does. It is safe for concurrent use.
type HeadCache struct {
	maxBytes int64
	maxAge   time.Duration
	now      func() time.Time // for tests

	mu      sync.Mutex
	entries map[string]*head
	order   *list.List // of *head, oldest first
	bytes   int64
	stats   HeadCacheStats
}

// head is a kept head: the first len(data) bytes of an object of size
// bytes, at version (an Azure ETag; nil when data is the whole object or
// the object has none).
type head struct {
	url     string
	data    []byte
	size    int64
	version any
	at      time.Time
	el      *list.Element
}

// HeadCacheStats counts what a HeadCache did.
type HeadCacheStats struct {
	Hits    int64 // opens served from a head
	Misses  int64 // opens that found no usable head
	Kept    int64 // heads kept
	Refused int64 // heads refused: no room
	Expired int64 // heads dropped for age
	Entries int   // heads held now
	Bytes   int64 // bytes held now
}

// NewHeadCache returns a HeadCache of at most maxBytes bytes (<= 0:
// DefaultHeadCacheBytes) whose heads are usable for maxAge (<= 0:
// DefaultHeadCacheAge).
func NewHeadCache(maxBytes int64, maxAge time.Duration) *HeadCache {
	if maxBytes <= 0 {
		maxBytes = DefaultHeadCacheBytes
	}
	if maxAge <= 0 {
		maxAge = DefaultHeadCacheAge
	}
	return &HeadCache{maxBytes: maxBytes, maxAge: maxAge, now: time.Now, entries: map[string]*head{}, order: list.New()}
}

// Stats returns the counts so far.
func (c *HeadCache) Stats() HeadCacheStats {
	if c == nil {
		return HeadCacheStats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stats
	st.Entries, st.Bytes = len(c.entries), c.bytes
	return st
}

// Room returns the size of the largest head the cache would keep now
// (after dropping expired heads): a writer that wants to keep what it
// writes copies at most this much.
func (c *HeadCache) Room() int64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked()
	return c.maxBytes - c.bytes
}

// Keep keeps the head of obj, an object just opened (OpenObject): the
// bytes of its first read, its size and its version, under obj.URL. It
// reports whether the head was kept: not for a local file, an object whose
// open read nothing (rangeio.WithFirstRead(0)), one itself opened from a
// head (its head was already used), or a head that does not fit.
func (c *HeadCache) Keep(obj *Object) bool {
	if c == nil || obj == nil || obj.shared || obj.fromHead || obj.head == nil {
		return false
	}
	h := *obj.head
	h.el = nil
	return c.put(&h)
}

// KeepWritten keeps data as the whole of the object at url, which this
// process has just written (and which must not be modified afterwards).
// It reports whether it was kept: not for a local file, a URL o does not
// parse, or data that does not fit.
func (c *HeadCache) KeepWritten(o *Opener, url string, data []byte) bool {
	if c == nil {
		return false
	}
	if loc, err := o.Parse(url); err != nil || loc.IsLocal() {
		return false
	}
	return c.put(&head{url: url, data: data, size: int64(len(data))})
}

// Drop forgets the head of url, if there is one (it counts as neither a
// hit nor a miss): a writer whose write of url failed drops it, so that
// no open takes an older head for the object.
func (c *HeadCache) Drop(url string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if h := c.entries[url]; h != nil {
		c.removeLocked(h)
	}
}

func (c *HeadCache) put(h *head) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[h.url]; old != nil {
		c.removeLocked(old) // the newer head replaces it
	}
	n := int64(len(h.data))
	if c.bytes+n > c.maxBytes {
		c.expireLocked()
	}
	if c.bytes+n > c.maxBytes {
		c.stats.Refused++
		return false
	}
	h.at = c.now()
	h.el = c.order.PushBack(h)
	c.entries[h.url] = h
	c.bytes += n
	c.stats.Kept++
	return true
}

// take removes the head of url from the cache and returns it, if it is
// there and not expired.
func (c *HeadCache) take(url string) *head {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.entries[url]
	if h != nil {
		c.removeLocked(h)
		if c.now().Sub(h.at) > c.maxAge {
			c.stats.Expired++
			h = nil
		}
	}
	if h == nil {
		c.stats.Misses++
		return nil
	}
	c.stats.Hits++
	return h
}

func (c *HeadCache) removeLocked(h *head) {
	c.order.Remove(h.el)
	delete(c.entries, h.url)
	c.bytes -= int64(len(h.data))
}

// expireLocked drops the heads older than the cache's age (the oldest
// are first in order).
func (c *HeadCache) expireLocked() {
	now := c.now()
	for el := c.order.Front(); el != nil; el = c.order.Front() {
		h := el.Value.(*head)
		if now.Sub(h.at) <= c.maxAge {
			return
		}
		c.removeLocked(h)
		c.stats.Expired++
	}
}

// Open opens the object at rawURL as o.OpenObject does, from the head kept
// for rawURL when there is one, which it takes out of the cache: the
// returned object holds the head's bytes, size and version, its Stats
// count no request for them, and its reads past them are ranged reads
// conditional on that version. The URL is parsed and checked as by
// OpenObject (an open from a head skips only the request). Without a
// usable head it is o.OpenObject(ctx, rawURL, opts...).
func (c *HeadCache) Open(ctx context.Context, o *Opener, rawURL string, opts ...rangeio.Option) (*Object, error) {
	return o.openObject(ctx, rawURL, c.take(rawURL), opts...)
}
