// Package rangeio provides a concurrency-safe, caching io.ReaderAt for slow
// storage, where every request costs tens of milliseconds (a blob in Azure
// Blob Storage, a file on a network share).
//
// A Reader keeps a block-aligned LRU cache of what it has read. The first
// request it makes reads the start of the file (where the metadata of a
// netCDF-4/HDF5 or netCDF-3 file usually lives); a ReadAt that needs several
// missing blocks fetches each run of adjacent missing blocks with one request;
// concurrent reads of the same missing block share one request; bytes that
// are cached are never requested again; and Prefetch fetches many ranges at
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
	// when it coalesces ranges (a single block may still be longer).
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
	BlockSize     int64 // cache granularity in bytes
	FirstRead     int64 // bytes [0, FirstRead) are read by the first request; 0 disables
	MaxCacheBytes int64 // bound of the cached bytes (LRU eviction)
	CoalesceGap   int64 // Prefetch merges requests separated by at most this many bytes
	Concurrency   int   // bound of concurrent requests to the underlying ReaderAt

	initial []byte // WithInitialData
}

// Option changes a Config.
type Option func(*Config)

// WithBlockSize sets the cache granularity (default 64 KiB). Every request
// covers whole blocks (the last block of the file may be short).
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
// between two wanted ranges to fetch them with one request (default 64 KiB;
// counted in whole blocks).
func WithCoalesceGap(n int64) Option { return func(c *Config) { c.CoalesceGap = n } }

// WithConcurrency bounds the requests in flight to the underlying ReaderAt,
// across all callers of the Reader (default 8).
func WithConcurrency(n int) Option { return func(c *Config) { c.Concurrency = n } }

// WithInitialData hands the Reader the file's first len(p) bytes, which the
// caller has already fetched with one request of its own (typically the
// request that told it the file's size). They are cached as if they were
// the first read, so the Reader makes no first read of its own, and they are
// counted in Stats as one request of len(p) bytes. p must not be modified
// afterwards.
func WithInitialData(p []byte) Option { return func(c *Config) { c.initial = p } }

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

	mu         sync.Mutex
	blocks     map[int64]*list.Element // block index -> element of lru (*cached)
	lru        *list.List              // front: most recently used
	cached     int64                   // bytes held by blocks
	inflight   map[int64]*fetch        // block index -> request that will fill it
	firstTaken bool                    // the first read was issued (or handed in)
}

type cached struct {
	idx  int64
	data []byte
}

// fetch is one request for blocks [first, end); data holds their bytes once
// done is closed and err is nil.
type fetch struct {
	first, end int64
	done       chan struct{}
	data       []byte
	err        error
}

// NewReader returns a Reader of the size bytes of r.
func NewReader(r io.ReaderAt, size int64, opts ...Option) *Reader {
	if size < 0 {
		size = 0
	}
	cfg := NewConfig(opts...)
	rd := &Reader{
		r:        r,
		size:     size,
		cfg:      cfg,
		sem:      make(chan struct{}, cfg.Concurrency),
		blocks:   map[int64]*list.Element{},
		lru:      list.New(),
		inflight: map[int64]*fetch{},
	}
	if p := cfg.initial; p != nil {
		rd.firstTaken = true
		rd.requests.Add(1)
		rd.bytes.Add(int64(len(p)))
		if int64(len(p)) > size {
			p = p[:size]
		}
		// Cache the whole blocks (and the short last block of the file).
		full := int64(len(p)) / cfg.BlockSize
		if int64(len(p)) == size && size%cfg.BlockSize != 0 {
			full++
		}
		rd.mu.Lock()
		rd.insertLocked(0, full, p)
		rd.mu.Unlock()
	}
	return rd
}

// Size returns the size of the file.
func (r *Reader) Size() int64 { return r.size }

// Config returns the settings of the Reader.
func (r *Reader) Config() Config { c := r.cfg; c.initial = nil; return c }

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

func (r *Reader) nblocks() int64 { return (r.size + r.cfg.BlockSize - 1) / r.cfg.BlockSize }

// blockSpan returns the byte range [off, end) of blocks [first, last).
func (r *Reader) blockSpan(first, last int64) (off, end int64) {
	return first * r.cfg.BlockSize, min(last*r.cfg.BlockSize, r.size)
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
	bs := r.cfg.BlockSize
	b0, b1 := off/bs, (end-1)/bs+1

	// Under the lock: copy what is cached, note what is in flight, and
	// claim runs of missing blocks as new requests.
	var (
		waits []*fetch
		mine  []*fetch
	)
	r.mu.Lock()
	if !r.firstTaken && r.cfg.FirstRead > 0 {
		r.firstTaken = true
		fe := min((r.cfg.FirstRead+bs-1)/bs, r.nblocks())
		mine = append(mine, r.claimLocked(0, fe)...)
	}
	runStart := int64(-1) // first block of the run of missing blocks being collected
	for b := b0; b < b1; b++ {
		if el, ok := r.blocks[b]; ok {
			r.lru.MoveToFront(el)
			copyBlock(p, off, b*bs, el.Value.(*cached).data)
			continue
		}
		if f, ok := r.inflight[b]; ok {
			if len(waits) == 0 || waits[len(waits)-1] != f {
				waits = append(waits, f)
			}
			continue
		}
		if runStart < 0 {
			runStart = b
		}
		// Close the run at the end of the read or before a block we have.
		if b+1 == b1 || r.hasLocked(b+1) {
			f := r.newFetchLocked(runStart, b+1)
			mine = append(mine, f)
			waits = append(waits, f)
			runStart = -1
		}
	}
	r.mu.Unlock()

	r.run(mine, false)
	var firstErr error
	for _, f := range waits {
		<-f.done
		if f.err != nil {
			if firstErr == nil {
				firstErr = f.err
			}
			continue
		}
		fOff, _ := r.blockSpan(f.first, f.end)
		copyBlock(p, off, fOff, f.data)
	}
	if firstErr != nil {
		return 0, firstErr
	}
	return n, eof
}

// copyBlock copies the part of src (the bytes at srcOff) that overlaps
// p (the bytes at off).
func copyBlock(p []byte, off, srcOff int64, src []byte) {
	lo := max(off, srcOff)
	hi := min(off+int64(len(p)), srcOff+int64(len(src)))
	if lo < hi {
		copy(p[lo-off:hi-off], src[lo-srcOff:hi-srcOff])
	}
}

// hasLocked reports whether block b is cached or in flight.
func (r *Reader) hasLocked(b int64) bool {
	if _, ok := r.blocks[b]; ok {
		return true
	}
	_, ok := r.inflight[b]
	return ok
}

// claimLocked creates requests for the blocks in [first, end) that are
// neither cached nor in flight, one per run of adjacent such blocks.
func (r *Reader) claimLocked(first, end int64) []*fetch {
	var out []*fetch
	start := int64(-1)
	for b := first; b <= end; b++ {
		if b < end && !r.hasLocked(b) {
			if start < 0 {
				start = b
			}
			continue
		}
		if start >= 0 {
			out = append(out, r.newFetchLocked(start, b))
			start = -1
		}
	}
	return out
}

func (r *Reader) newFetchLocked(first, end int64) *fetch {
	f := &fetch{first: first, end: end, done: make(chan struct{})}
	for b := first; b < end; b++ {
		r.inflight[b] = f
	}
	return f
}

// run performs the requests fs, concurrently when there are several. With
// async it returns at once.
func (r *Reader) run(fs []*fetch, async bool) {
	switch {
	case len(fs) == 0:
	case len(fs) == 1 && !async:
		r.do(fs[0])
	default:
		var wg sync.WaitGroup
		for _, f := range fs {
			wg.Add(1)
			go func() { defer wg.Done(); r.do(f) }()
		}
		if !async {
			wg.Wait()
		}
	}
}

// do performs one request, fills the cache and wakes the waiters.
func (r *Reader) do(f *fetch) {
	off, end := r.blockSpan(f.first, f.end)
	buf := make([]byte, end-off)
	n, err := r.readAt(buf, off)
	r.requests.Add(1)
	r.bytes.Add(int64(n))
	if n == len(buf) {
		err = nil // io.ReaderAt may return io.EOF with a full read at the end
	} else if err == nil || err == io.EOF {
		err = fmt.Errorf("rangeio: short read at %d: got %d of %d bytes (file shorter than its size %d?): %w",
			off, n, len(buf), r.size, io.ErrUnexpectedEOF)
	}

	r.mu.Lock()
	for b := f.first; b < f.end; b++ {
		if r.inflight[b] == f {
			delete(r.inflight, b)
		}
	}
	if err == nil {
		r.insertLocked(f.first, f.end, buf)
		f.data = buf
	} else {
		f.err = err
	}
	r.mu.Unlock()
	close(f.done)
}

// readAt makes one request within the concurrency bound. A panic of the
// underlying ReaderAt becomes an error, so that no waiter hangs.
func (r *Reader) readAt(p []byte, off int64) (n int, err error) {
	r.sem <- struct{}{}
	defer func() {
		<-r.sem
		if v := recover(); v != nil {
			n, err = 0, fmt.Errorf("rangeio: the underlying ReadAt panicked: %v", v)
		}
	}()
	return r.r.ReadAt(p, off)
}

// insertLocked caches blocks [first, end) from data (the bytes of those
// blocks), copying so that evicting a block frees its memory, then evicts
// least recently used blocks down to the bound.
func (r *Reader) insertLocked(first, end int64, data []byte) {
	bs := r.cfg.BlockSize
	for b := first; b < end; b++ {
		lo := (b - first) * bs
		hi := min(lo+bs, int64(len(data)))
		if lo >= hi {
			break
		}
		if el, ok := r.blocks[b]; ok {
			r.lru.MoveToFront(el)
			continue
		}
		block := data[lo:hi]
		if end-first > 1 {
			block = append([]byte(nil), block...) // do not pin the whole request
		}
		c := &cached{idx: b, data: block}
		r.blocks[b] = r.lru.PushFront(c)
		r.cached += int64(len(c.data))
	}
	for r.cached > r.cfg.MaxCacheBytes {
		el := r.lru.Back()
		if el == nil {
			break
		}
		c := r.lru.Remove(el).(*cached)
		delete(r.blocks, c.idx)
		r.cached -= int64(len(c.data))
	}
}

// Prefetch fetches the blocks of ranges (clipped to the file) that are
// neither cached nor in flight, so that later ReadAt calls for them hit the
// cache. Two runs of such blocks are fetched with one request when the
// blocks between them are all missing too and total at most the coalesce
// gap (cached or in-flight bytes are never requested twice), and the request
// stays within 16 MiB. The requests run concurrently, at most the Reader's
// concurrency at once. If the Reader has made no request yet, the first read
// is one of the ranges. Prefetch returns when all requests are
// done (the first error, if any), or at once with ctx's error if ctx ends
// first; requests already issued then still complete and fill the cache.
func (r *Reader) Prefetch(ctx context.Context, ranges []Range) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	bs := r.cfg.BlockSize
	// Block spans wanted, sorted and merged.
	type span struct{ first, end int64 }
	var spans []span
	for _, rg := range ranges {
		lo, hi := max(rg.Off, 0), min(rg.Off+rg.Len, r.size)
		if rg.Len <= 0 || lo >= hi {
			continue
		}
		spans = append(spans, span{lo / bs, (hi-1)/bs + 1})
	}
	r.mu.Lock()
	if !r.firstTaken && r.cfg.FirstRead > 0 {
		r.firstTaken = true
		spans = append(spans, span{0, min((r.cfg.FirstRead+bs-1)/bs, r.nblocks())})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].first < spans[j].first })

	// Runs of missing blocks in the wanted spans.
	var runs []span
	for _, s := range spans {
		for b := s.first; b < s.end; b++ {
			if r.hasLocked(b) {
				continue
			}
			if n := len(runs); n > 0 && runs[n-1].end == b {
				runs[n-1].end = b + 1
			} else if n > 0 && runs[n-1].end > b {
				continue // already in the previous run
			} else {
				runs = append(runs, span{b, b + 1})
			}
		}
	}
	// Coalesce runs whose gap is small and entirely missing.
	maxBlocks := max(maxPrefetchRequest/bs, 1)
	var merged []span
	for _, ru := range runs {
		if n := len(merged); n > 0 {
			last := &merged[n-1]
			gapBytes := (ru.first - last.end) * bs
			if gapBytes <= r.cfg.CoalesceGap && ru.end-last.first <= maxBlocks && !r.anyLocked(last.end, ru.first) {
				last.end = ru.end
				continue
			}
		}
		merged = append(merged, ru)
	}
	var fs []*fetch
	for _, m := range merged {
		for b := m.first; b < m.end; b += maxBlocks {
			fs = append(fs, r.newFetchLocked(b, min(b+maxBlocks, m.end)))
		}
	}
	r.mu.Unlock()

	r.run(fs, true)
	var firstErr error
	for _, f := range fs {
		select {
		case <-f.done:
			if f.err != nil && firstErr == nil {
				firstErr = f.err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return firstErr
}

// anyLocked reports whether any block in [first, end) is cached or in flight.
func (r *Reader) anyLocked(first, end int64) bool {
	for b := first; b < end; b++ {
		if r.hasLocked(b) {
			return true
		}
	}
	return false
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
