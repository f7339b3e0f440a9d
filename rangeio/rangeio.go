// Package rangeio provides a concurrency-safe, caching io.ReaderAt for slow
// storage, where every request costs tens of milliseconds (a blob in Azure
// Blob Storage, a file on a network share).
//
// A Reader keeps an LRU cache of the byte ranges it has read. The first
// request it makes reads the start of the file (where the metadata of a
// netCDF-4/HDF5 or netCDF-3 file usually lives); a ReadAt reads each missing
// part with one request, widened to whole blocks where nothing is cached;
// concurrent reads of the same missing bytes share one request; bytes that
// are cached or in flight are never requested again; and Prefetch fetches many ranges at
// once, coalescing near ones and issuing the requests concurrently.
//
// The package has no cloud dependencies: anything that implements
// io.ReaderAt can be wrapped.
package rangeio

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// Defaults of the options.
const (
	DefaultBlockSize     = 64 << 10
	DefaultFirstRead     = 1 << 20
	DefaultMaxCacheBytes = 64 << 20
	DefaultCoalesceGap   = 64 << 10
	DefaultConcurrency   = 8

	// maxPrefetchRequest caps the length of one request made by Prefetch
	// (longer ranges are split).
	maxPrefetchRequest = 16 << 20
)

// Stats counts what a Reader asked of its underlying io.ReaderAt.
type Stats struct {
	Requests int64 // calls to the underlying ReadAt
	Bytes    int64 // bytes those calls returned
}

// Range is a byte range [Off, Off+Len) of a file.
type Range struct{ Off, Len int64 }

// Prefetcher is an io.ReaderAt that can fetch ranges before they are read
// (a *Reader does, in few concurrent requests). It is optional: parsers
// take a plain io.ReaderAt and, when they know which ranges they will read
// next, ask for them if their reader is a Prefetcher. Whether reads are
// cached is the caller's choice (blobio's objects are Readers).
type Prefetcher interface {
	io.ReaderAt
	Prefetch(ctx context.Context, ranges []Range) error
}

// StatsReporter is a reader that counts the requests it made (a *Reader,
// a *CountingReaderAt).
type StatsReporter interface {
	Stats() Stats
}

var (
	_ Prefetcher    = (*Reader)(nil)
	_ StatsReporter = (*Reader)(nil)
	_ StatsReporter = (*CountingReaderAt)(nil)
)

// Config holds the settings of a Reader; see the With* options.
type Config struct {
	BlockSize     int64 // ReadAt widens its requests to whole blocks of this many bytes
	FirstRead     int64 // bytes [0, FirstRead) are read by the first request; 0 disables
	MaxCacheBytes int64 // bound of the cached bytes (LRU eviction)
	CoalesceGap   int64 // Prefetch merges requests separated by at most this many bytes
	Concurrency   int   // bound of concurrent requests to the underlying ReaderAt
	// Limiter, when not nil, also bounds the requests in flight, across
	// every Reader that shares it.
	Limiter *Limiter

	initial []byte // WithInitialData, WithCachedData
	// initialCached: initial came from the caller's cache (WithCachedData),
	// not from a request.
	initialCached bool
}

// Option changes a Config.
type Option func(*Config)

// WithBlockSize sets the granularity of ReadAt's requests (default 64 KiB):
// a missing part of a read is widened to whole blocks, as far as nothing
// cached or in flight is there. Prefetch reads ranges at their own size.
func WithBlockSize(n int64) Option { return func(c *Config) { c.BlockSize = n } }

// WithFirstRead sets how much of the file's start the first request reads
// (default 1 MiB, rounded up to whole blocks and capped at the size).
// 0 disables the read-ahead.
func WithFirstRead(n int64) Option { return func(c *Config) { c.FirstRead = n } }

// WithMaxCacheBytes bounds the memory of the cache (default 64 MiB); the
// least recently used blocks are evicted first. Buffers of requests in
// flight are not counted.
func WithMaxCacheBytes(n int64) Option { return func(c *Config) { c.MaxCacheBytes = n } }

// WithCoalesceGap sets how many unwanted (missing) bytes Prefetch may read
// between two wanted ranges to fetch them with one request (default 64 KiB).
func WithCoalesceGap(n int64) Option { return func(c *Config) { c.CoalesceGap = n } }

// WithConcurrency bounds the requests in flight to the underlying ReaderAt,
// across all callers of the Reader (default 8).
func WithConcurrency(n int) Option { return func(c *Config) { c.Concurrency = n } }

// WithLimiter makes the Reader's requests also count against l, which
// other Readers may share (a bound per process); nil for none.
func WithLimiter(l *Limiter) Option { return func(c *Config) { c.Limiter = l } }

// Limiter bounds the requests in flight across the Readers that share it
// (WithLimiter), and across any other callers that take a slot with
// Acquire (blobio bounds the requests to each storage endpoint with one).
// It is safe for concurrent use.
type Limiter struct{ sem chan struct{} }

// NewLimiter returns a Limiter of n requests in flight (at least 1).
func NewLimiter(n int) *Limiter { return &Limiter{sem: make(chan struct{}, max(n, 1))} }

// Cap returns the number of requests the Limiter lets run at once.
func (l *Limiter) Cap() int { return cap(l.sem) }

// InFlight returns the number of slots taken now.
func (l *Limiter) InFlight() int { return len(l.sem) }

// Acquire takes a slot, waiting while all are taken, or returns ctx's
// error if ctx ends first (then no slot is taken). Each successful Acquire
// must be followed by one Release.
func (l *Limiter) Acquire(ctx context.Context) error {
	select {
	case l.sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case l.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release gives back a slot that Acquire took.
func (l *Limiter) Release() { <-l.sem }

// WithInitialData hands the Reader the file's first len(p) bytes, which the
// caller has already fetched with one request of its own (typically the
// request that told it the file's size). They are cached as if they were
// the first read, so the Reader makes no first read of its own, and they are
// counted in Stats as one request of len(p) bytes. p must not be modified
// afterwards.
func WithInitialData(p []byte) Option {
	return func(c *Config) { c.initial, c.initialCached = p, false }
}

// WithCachedData hands the Reader the file's first len(p) bytes as the
// caller kept them from an earlier read (a cache such as blobio.HeadCache):
// they are cached as with WithInitialData, so the Reader makes no first
// read, but Stats counts no request for them (none was made now). p must
// not be modified afterwards.
func WithCachedData(p []byte) Option {
	return func(c *Config) { c.initial, c.initialCached = p, true }
}

// NewConfig returns the Config that opts give, with the defaults filled in.
func NewConfig(opts ...Option) Config {
	c := Config{
		BlockSize:     DefaultBlockSize,
		FirstRead:     DefaultFirstRead,
		MaxCacheBytes: DefaultMaxCacheBytes,
		CoalesceGap:   DefaultCoalesceGap,
		Concurrency:   DefaultConcurrency,
	}
	for _, o := range opts {
		o(&c)
	}
	if c.BlockSize <= 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.FirstRead < 0 {
		c.FirstRead = 0
	}
	if c.MaxCacheBytes <= 0 {
		c.MaxCacheBytes = DefaultMaxCacheBytes
	}
	if c.CoalesceGap < 0 {
		c.CoalesceGap = 0
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	return c
}

// Reader is a caching io.ReaderAt over another io.ReaderAt of known size.
// It is safe for concurrent use.
type Reader struct {
	r    io.ReaderAt
	size int64
	cfg  Config
	sem  chan struct{} // bounds requests in flight

	requests atomic.Int64
	bytes    atomic.Int64

	mu sync.Mutex
	// ext are the ranges read or being read: disjoint, sorted by offset
	// (so their ends are sorted too). The cached ones are also in lru.
	ext        []*extent
	lru        *list.List // of *extent; front: most recently used
	cached     int64      // bytes held by cached extents
	firstTaken bool       // the first read was issued (or handed in)
}

// extent is one request's byte range [off, end). data holds its bytes once
// done is closed and err is nil; el is its element of lru while it is
// cached.
type extent struct {
	off, end int64
	done     chan struct{}
	data     []byte
	err      error
	el       *list.Element
}

// NewReader returns a Reader of the size bytes of r.
func NewReader(r io.ReaderAt, size int64, opts ...Option) *Reader {
	if size < 0 {
		size = 0
	}
	cfg := NewConfig(opts...)
	rd := &Reader{
		r:    r,
		size: size,
		cfg:  cfg,
		sem:  make(chan struct{}, cfg.Concurrency),
		lru:  list.New(),
	}
	if p := cfg.initial; p != nil {
		rd.firstTaken = true
		if !cfg.initialCached {
			rd.requests.Add(1)
			rd.bytes.Add(int64(len(p)))
		}
		if int64(len(p)) > size {
			p = p[:size]
		}
		if len(p) > 0 {
			e := &extent{off: 0, end: int64(len(p)), done: make(chan struct{}), data: p}
			close(e.done)
			rd.mu.Lock()
			rd.ext = append(rd.ext, e)
			rd.cacheLocked(e)
			rd.mu.Unlock()
		}
	}
	return rd
}

// Size returns the size of the file.
func (r *Reader) Size() int64 { return r.size }

// Config returns the settings of the Reader.
func (r *Reader) Config() Config { c := r.cfg; c.initial, c.initialCached = nil, false; return c }

// Stats returns the requests made to the underlying ReaderAt so far.
func (r *Reader) Stats() Stats {
	return Stats{Requests: r.requests.Load(), Bytes: r.bytes.Load()}
}

// CachedBytes returns the bytes currently held in the cache.
func (r *Reader) CachedBytes() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cached
}

// ReadAt implements io.ReaderAt: it returns io.EOF when fewer than len(p)
// bytes remain at off.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("rangeio: negative offset")
	}
	if off >= r.size {
		return 0, io.EOF
	}
	n := len(p)
	var eof error
	if int64(n) > r.size-off {
		n = int(r.size - off)
		eof = io.EOF
	}
	if n == 0 {
		return 0, nil
	}
	p = p[:n]
	end := off + int64(n)

	// Under the lock: claim what is missing as new requests (widened to
	// whole blocks where nothing else is), then note every range the read
	// needs, cached or in flight.
	r.mu.Lock()
	mine := r.firstReadLocked()
	for _, m := range r.missingLocked(nil, off, end) {
		lo, hi := r.widenLocked(m.Off, m.Off+m.Len)
		mine = append(mine, r.newExtentLocked(lo, hi))
	}
	var need []*extent
	for i := r.extentsAfterLocked(off); i < len(r.ext) && r.ext[i].off < end; i++ {
		e := r.ext[i]
		if e.el != nil {
			r.lru.MoveToFront(e.el)
		}
		need = append(need, e)
	}
	r.mu.Unlock()

	r.run(mine, false)
	for _, e := range need {
		<-e.done
		if e.err != nil {
			return 0, e.err
		}
		copyRange(p, off, e.off, e.data)
	}
	return n, eof
}

// firstReadLocked claims the first read, if it is still to be made.
func (r *Reader) firstReadLocked() []*extent {
	if r.firstTaken || r.cfg.FirstRead <= 0 {
		return nil
	}
	r.firstTaken = true
	bs := r.cfg.BlockSize
	var out []*extent
	for _, m := range r.missingLocked(nil, 0, min((r.cfg.FirstRead+bs-1)/bs*bs, r.size)) {
		out = append(out, r.newExtentLocked(m.Off, m.Off+m.Len))
	}
	return out
}

// widenLocked widens the missing range [lo, hi) to whole blocks, as far as
// no other range is cached or in flight there and the file goes.
func (r *Reader) widenLocked(lo, hi int64) (int64, int64) {
	bs := r.cfg.BlockSize
	wlo, whi := lo/bs*bs, min((hi+bs-1)/bs*bs, r.size)
	if i := r.extentsAfterLocked(lo); i > 0 {
		wlo = max(wlo, r.ext[i-1].end) // the one before ends at or before lo
	}
	if i := r.extentsAfterLocked(hi - 1); i < len(r.ext) {
		whi = min(whi, r.ext[i].off) // the one after starts at or after hi
	}
	return min(wlo, lo), max(whi, hi)
}

// copyRange copies the part of src (the bytes at srcOff) that overlaps
// p (the bytes at off).
func copyRange(p []byte, off, srcOff int64, src []byte) {
	lo := max(off, srcOff)
	hi := min(off+int64(len(p)), srcOff+int64(len(src)))
	if lo < hi {
		copy(p[lo-off:hi-off], src[lo-srcOff:hi-srcOff])
	}
}

// newExtentLocked records a request for [lo, hi) as in flight.
func (r *Reader) newExtentLocked(lo, hi int64) *extent {
	e := &extent{off: lo, end: hi, done: make(chan struct{})}
	i := sort.Search(len(r.ext), func(i int) bool { return r.ext[i].off > lo })
	r.ext = slices.Insert(r.ext, i, e)
	return e
}

func (r *Reader) removeExtentLocked(e *extent) {
	i := sort.Search(len(r.ext), func(i int) bool { return r.ext[i].off >= e.off })
	if i < len(r.ext) && r.ext[i] == e {
		r.ext = slices.Delete(r.ext, i, i+1)
	}
}

// extentsAfterLocked returns the index of the first range that ends after
// off.
func (r *Reader) extentsAfterLocked(off int64) int {
	return sort.Search(len(r.ext), func(i int) bool { return r.ext[i].end > off })
}

// missingLocked appends to out the parts of [off, end) that are neither
// cached nor in flight.
func (r *Reader) missingLocked(out []Range, off, end int64) []Range {
	cur := off
	for i := r.extentsAfterLocked(off); i < len(r.ext) && r.ext[i].off < end; i++ {
		if e := r.ext[i]; e.off > cur {
			out = append(out, Range{cur, e.off - cur})
		}
		cur = max(cur, r.ext[i].end)
	}
	if cur < end {
		out = append(out, Range{cur, end - cur})
	}
	return out
}

// holdsLocked reports whether any byte of [lo, hi) is cached or in flight.
func (r *Reader) holdsLocked(lo, hi int64) bool {
	i := r.extentsAfterLocked(lo)
	return lo < hi && i < len(r.ext) && r.ext[i].off < hi
}

// run performs the requests es, concurrently when there are several. With
// async it returns at once.
func (r *Reader) run(es []*extent, async bool) {
	switch {
	case len(es) == 0:
	case len(es) == 1 && !async:
		r.do(es[0])
	default:
		var wg sync.WaitGroup
		for _, e := range es {
			wg.Add(1)
			go func() { defer wg.Done(); r.do(e) }()
		}
		if !async {
			wg.Wait()
		}
	}
}

// do performs one request, caches its bytes and wakes the waiters. A
// failed request is forgotten, so that a later read tries again.
func (r *Reader) do(e *extent) {
	buf := make([]byte, e.end-e.off)
	n, err := r.readAt(buf, e.off)
	r.requests.Add(1)
	r.bytes.Add(int64(n))
	if n == len(buf) {
		err = nil // io.ReaderAt may return io.EOF with a full read at the end
	} else if err == nil || err == io.EOF {
		err = fmt.Errorf("rangeio: short read at %d: got %d of %d bytes (file shorter than its size %d?): %w",
			e.off, n, len(buf), r.size, io.ErrUnexpectedEOF)
	}
	r.mu.Lock()
	if err == nil {
		e.data = buf
		r.cacheLocked(e)
	} else {
		e.err = err
		r.removeExtentLocked(e)
	}
	r.mu.Unlock()
	close(e.done)
}

// readAt makes one request within the concurrency bounds. A panic of the
// underlying ReaderAt becomes an error, so that no waiter hangs.
func (r *Reader) readAt(p []byte, off int64) (n int, err error) {
	r.sem <- struct{}{}
	if l := r.cfg.Limiter; l != nil {
		l.sem <- struct{}{}
		defer func() { <-l.sem }()
	}
	defer func() {
		<-r.sem
		if v := recover(); v != nil {
			n, err = 0, fmt.Errorf("rangeio: the underlying ReadAt panicked: %v", v)
		}
	}()
	return r.r.ReadAt(p, off)
}

// cacheLocked adds a fetched range to the cache, then evicts the least
// recently used ranges down to the bound.
func (r *Reader) cacheLocked(e *extent) {
	e.el = r.lru.PushFront(e)
	r.cached += int64(len(e.data))
	for r.cached > r.cfg.MaxCacheBytes {
		el := r.lru.Back()
		if el == nil {
			break
		}
		v := r.lru.Remove(el).(*extent)
		v.el = nil
		r.removeExtentLocked(v)
		r.cached -= int64(len(v.data))
	}
}

// Prefetch fetches ranges (clipped to the file) at their own size, so that
// later ReadAt calls within them hit the cache; bytes that are cached or in
// flight are not requested again. Two missing ranges are fetched with one
// request when the gap between them is at most the coalesce gap and holds
// nothing cached or in flight, and the request stays within 16 MiB. The
// requests run concurrently, at most the Reader's concurrency at once. If
// the Reader has made no request yet, the first read is one of them.
// Prefetch returns when all requests are done (the first error, if any), or
// at once with ctx's error if ctx ends first; requests already issued then
// still complete and fill the cache.
func (r *Reader) Prefetch(ctx context.Context, ranges []Range) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// The wanted ranges, clipped, sorted and merged where they overlap.
	want := make([]Range, 0, len(ranges))
	for _, rg := range ranges {
		lo, hi := max(rg.Off, 0), min(rg.Off+max(rg.Len, 0), r.size)
		if lo < hi {
			want = append(want, Range{lo, hi - lo})
		}
	}
	sort.Slice(want, func(i, j int) bool { return want[i].Off < want[j].Off })
	r.mu.Lock()
	es := r.firstReadLocked()
	var missing []Range
	for i := 0; i < len(want); {
		lo, hi := want[i].Off, want[i].Off+want[i].Len
		for i++; i < len(want) && want[i].Off <= hi; i++ {
			hi = max(hi, want[i].Off+want[i].Len)
		}
		missing = r.missingLocked(missing, lo, hi)
	}
	// Coalesce across small gaps that hold nothing cached or in flight.
	var merged []Range
	for _, m := range missing {
		if n := len(merged); n > 0 {
			last := &merged[n-1]
			gapLo := last.Off + last.Len
			if m.Off-gapLo <= r.cfg.CoalesceGap && m.Off+m.Len-last.Off <= maxPrefetchRequest && !r.holdsLocked(gapLo, m.Off) {
				last.Len = m.Off + m.Len - last.Off
				continue
			}
		}
		merged = append(merged, m)
	}
	for _, m := range merged {
		for off := m.Off; off < m.Off+m.Len; off += maxPrefetchRequest {
			es = append(es, r.newExtentLocked(off, min(off+maxPrefetchRequest, m.Off+m.Len)))
		}
	}
	r.mu.Unlock()

	r.run(es, true)
	var firstErr error
	for _, e := range es {
		select {
		case <-e.done:
			if e.err != nil && firstErr == nil {
				firstErr = e.err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return firstErr
}

// CountingReaderAt counts the requests and bytes of an io.ReaderAt; it is
// safe for concurrent use. Use it in tests and benchmarks to see how many
// round trips a reader would make to remote storage.
type CountingReaderAt struct {
	R        io.ReaderAt
	requests atomic.Int64
	bytes    atomic.Int64
}

// NewCountingReaderAt returns a CountingReaderAt over r.
func NewCountingReaderAt(r io.ReaderAt) *CountingReaderAt { return &CountingReaderAt{R: r} }

// ReadAt implements io.ReaderAt.
func (c *CountingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.R.ReadAt(p, off)
	c.requests.Add(1)
	c.bytes.Add(int64(n))
	return n, err
}

// Stats returns the counts so far.
func (c *CountingReaderAt) Stats() Stats {
	return Stats{Requests: c.requests.Load(), Bytes: c.bytes.Load()}
}

// Reset sets the counts to zero.
func (c *CountingReaderAt) Reset() {
	c.requests.Store(0)
	c.bytes.Store(0)
}
