package rangeio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/fixture"
)

// recorder is an io.ReaderAt that records every request and how often each
// byte was read; an optional gate holds requests until it is closed, and
// delay slows each request down.
type recorder struct {
	data  []byte
	gate  chan struct{}
	delay time.Duration
	fail  atomic.Pointer[error]

	mu       sync.Mutex
	reqs     []Range
	perByte  []int
	inFlight int
	maxInFl  int
}

func newRecorder(data []byte) *recorder {
	return &recorder{data: data, perByte: make([]int, len(data))}
}

func (r *recorder) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	r.inFlight++
	r.maxInFl = max(r.maxInFl, r.inFlight)
	r.mu.Unlock()
	defer func() { r.mu.Lock(); r.inFlight--; r.mu.Unlock() }()
	if r.gate != nil {
		<-r.gate
	}
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	if e := r.fail.Load(); e != nil {
		return 0, *e
	}
	n, err := bytes.NewReader(r.data).ReadAt(p, off)
	r.mu.Lock()
	r.reqs = append(r.reqs, Range{off, int64(len(p))})
	for i := off; r.perByte != nil && i < off+int64(n); i++ {
		r.perByte[i]++
	}
	r.mu.Unlock()
	return n, err
}

func (r *recorder) requests() []Range {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Range(nil), r.reqs...)
}

func (r *recorder) maxPerByte() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := 0
	for _, c := range r.perByte {
		m = max(m, c)
	}
	return m
}

// TestReadAtMatchesBytesReader is a property test: for random files,
// settings and reads, Reader.ReadAt returns what bytes.Reader.ReadAt does.
func TestReadAtMatchesBytesReader(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		size := rng.IntN(300_000)
		if seed%10 == 0 {
			size = rng.IntN(10) // tiny files, including empty ones
		}
		data := fixture.RandomBytes(seed, size)
		bs := int64(1 + rng.IntN(20_000))
		opts := []Option{
			WithBlockSize(bs),
			WithFirstRead(int64(rng.IntN(100_000))),
			WithMaxCacheBytes(int64(1 + rng.IntN(200_000))), // often forces eviction
			WithCoalesceGap(int64(rng.IntN(50_000))),
			WithConcurrency(1 + rng.IntN(4)),
		}
		t.Run(fmt.Sprintf("seed%d_size%d_bs%d", seed, size, bs), func(t *testing.T) {
			rec := newRecorder(data)
			r := NewReader(rec, int64(size), opts...)
			want := bytes.NewReader(data)
			for i := 0; i < 200; i++ {
				off := int64(rng.IntN(size+100)) - 20
				n := rng.IntN(40_000)
				if i%50 == 0 {
					// Occasionally prefetch some ranges first.
					var rs []Range
					for k := 0; k < 5; k++ {
						rs = append(rs, Range{int64(rng.IntN(size + 10)), int64(rng.IntN(30_000))})
					}
					require.NoError(t, r.Prefetch(context.Background(), rs))
				}
				got := make([]byte, n)
				exp := make([]byte, n)
				gn, gerr := r.ReadAt(got, off)
				en, eerr := want.ReadAt(exp, off)
				require.Equal(t, en, gn, "n for ReadAt(%d, %d)", n, off)
				if eerr == nil {
					require.NoError(t, gerr)
				} else if errors.Is(eerr, io.EOF) {
					require.ErrorIs(t, gerr, io.EOF)
				} else {
					require.Error(t, gerr) // negative offset
				}
				require.Equal(t, exp[:en], got[:gn])
			}
			assert.LessOrEqual(t, r.CachedBytes(), r.Config().MaxCacheBytes)
			st := r.Stats()
			assert.Equal(t, int64(len(rec.requests())), st.Requests)
		})
	}
}

func TestFirstReadCoversStart(t *testing.T) {
	data := fixture.RandomBytes(1, 5<<20)
	rec := newRecorder(data)
	r := NewReader(rec, int64(len(data)))
	assert.Equal(t, int64(len(data)), r.Size())

	p := make([]byte, 100)
	_, err := r.ReadAt(p, 10)
	require.NoError(t, err)
	assert.Equal(t, data[10:110], p)
	assert.Equal(t, []Range{{0, 1 << 20}}, rec.requests())
	assert.Equal(t, Stats{Requests: 1, Bytes: 1 << 20}, r.Stats())

	// Anything in the first MiB is now cached: no request.
	for _, off := range []int64{0, 4096, 500_000, 1<<20 - 100} {
		_, err := r.ReadAt(p, off)
		require.NoError(t, err)
		assert.Equal(t, data[off:off+100], p)
	}
	assert.Equal(t, int64(1), r.Stats().Requests)

	// A read elsewhere fetches just its block; reading it again is free.
	_, err = r.ReadAt(p, 3<<20+5)
	require.NoError(t, err)
	_, err = r.ReadAt(p, 3<<20+500)
	require.NoError(t, err)
	assert.Equal(t, []Range{{0, 1 << 20}, {3 << 20, 64 << 10}}, rec.requests())
}

func TestFirstReadCappedAtSize(t *testing.T) {
	data := fixture.RandomBytes(2, 1000)
	rec := newRecorder(data)
	r := NewReader(rec, 1000)
	p := make([]byte, 10)
	_, err := r.ReadAt(p, 990)
	require.NoError(t, err)
	assert.Equal(t, []Range{{0, 1000}}, rec.requests())
	assert.Equal(t, Stats{Requests: 1, Bytes: 1000}, r.Stats())
}

func TestFirstReadElsewhere(t *testing.T) {
	// A first ReadAt far from the start still reads the start (one request)
	// plus its own block (another request).
	data := fixture.RandomBytes(3, 4<<20)
	rec := newRecorder(data)
	r := NewReader(rec, int64(len(data)), WithFirstRead(256<<10))
	p := make([]byte, 10)
	_, err := r.ReadAt(p, 3<<20)
	require.NoError(t, err)
	assert.ElementsMatch(t, []Range{{0, 256 << 10}, {3 << 20, 64 << 10}}, rec.requests())
}

func TestMissingSpanIsOneRequest(t *testing.T) {
	data := fixture.RandomBytes(4, 1<<20)
	rec := newRecorder(data)
	r := NewReader(rec, int64(len(data)), WithFirstRead(0), WithBlockSize(1024))

	// Ten missing blocks: one request.
	p := make([]byte, 10*1024-200)
	_, err := r.ReadAt(p, 100)
	require.NoError(t, err)
	assert.Equal(t, []Range{{0, 10 * 1024}}, rec.requests())

	// Cache block 20, then read blocks 15..24: two requests (15..19 and
	// 21..24), and block 20 is not read again.
	_, err = r.ReadAt(p[:10], 20*1024+3)
	require.NoError(t, err)
	q := make([]byte, 10*1024)
	_, err = r.ReadAt(q, 15*1024)
	require.NoError(t, err)
	assert.Equal(t, data[15*1024:25*1024], q)
	assert.ElementsMatch(t, []Range{{0, 10 * 1024}, {20 * 1024, 1024}, {15 * 1024, 5 * 1024}, {21 * 1024, 4 * 1024}}, rec.requests())
	assert.Equal(t, 1, rec.maxPerByte())
}

// TestNeverReadTwiceWhileCached: with a cache large enough for the file,
// random reads, prefetches and concurrent readers never request a byte twice.
func TestNeverReadTwiceWhileCached(t *testing.T) {
	data := fixture.RandomBytes(5, 3<<20)
	rec := newRecorder(data)
	rec.delay = 100 * time.Microsecond
	r := NewReader(rec, int64(len(data)), WithBlockSize(4096), WithFirstRead(64<<10))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for i := 0; i < 300; i++ {
				off := int64(rng.IntN(len(data)))
				p := make([]byte, rng.IntN(20_000))
				if i%37 == 0 {
					assert.NoError(t, r.Prefetch(context.Background(), []Range{{off, 50_000}, {off + 80_000, 1000}}))
				}
				n, err := r.ReadAt(p, off)
				if err != nil {
					assert.ErrorIs(t, err, io.EOF)
				}
				assert.Equal(t, data[off:off+int64(n)], p[:n])
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, rec.maxPerByte())
}

func TestCachedReadMakesNoRequest(t *testing.T) {
	data := fixture.RandomBytes(6, 200_000)
	rec := newRecorder(data)
	r := NewReader(rec, int64(len(data)), WithFirstRead(0))
	p := make([]byte, 150_000)
	_, err := r.ReadAt(p, 1000)
	require.NoError(t, err)
	before := r.Stats()
	for i := 0; i < 100; i++ {
		_, err := r.ReadAt(p[:1000], int64(i*1000+2000))
		require.NoError(t, err)
	}
	assert.Equal(t, before, r.Stats())
}

// TestConcurrentSameBlockSingleRequest runs in a synctest bubble: the
// fetch is released once every reader waits.
func TestConcurrentSameBlockSingleRequest(t *testing.T) {
	synctest.Test(t, testConcurrentSameBlockSingleRequest)
}

func testConcurrentSameBlockSingleRequest(t *testing.T) {
	data := fixture.RandomBytes(7, 1<<20)
	rec := newRecorder(data)
	rec.gate = make(chan struct{})
	r := NewReader(rec, int64(len(data)), WithFirstRead(0))
	const n = 32
	var wg, started sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			p := make([]byte, 100)
			started.Done()
			_, err := r.ReadAt(p, int64(200_000+i))
			assert.NoError(t, err)
			assert.Equal(t, data[200_000+i:200_000+i+100], p)
		}()
	}
	started.Wait()
	synctest.Wait() // all wait: one on the gate, the others for the block in flight
	close(rec.gate)
	wg.Wait()
	assert.Len(t, rec.requests(), 1)
	assert.Equal(t, int64(1), r.Stats().Requests)
}

func TestConcurrencyBound(t *testing.T) {
	data := fixture.RandomBytes(8, 4<<20)
	rec := newRecorder(data)
	rec.delay = 2 * time.Millisecond
	r := NewReader(rec, int64(len(data)), WithFirstRead(0), WithConcurrency(3), WithBlockSize(4096), WithCoalesceGap(0))
	var rs []Range
	for i := 0; i < 50; i++ {
		rs = append(rs, Range{int64(i) * 40_000, 100})
	}
	require.NoError(t, r.Prefetch(context.Background(), rs))
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := make([]byte, 10)
			_, err := r.ReadAt(p, int64(3<<20+i*10_000))
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	rec.mu.Lock()
	maxInFlight := rec.maxInFl
	rec.mu.Unlock()
	assert.LessOrEqual(t, maxInFlight, 3)
	assert.Greater(t, maxInFlight, 1)
}

func TestEOF(t *testing.T) {
	data := fixture.RandomBytes(9, 1000)
	r := NewReader(bytes.NewReader(data), 1000, WithBlockSize(64))
	p := make([]byte, 100)

	n, err := r.ReadAt(p, 900)
	assert.Equal(t, 100, n)
	assert.NoError(t, err, "a read ending exactly at the end is not EOF")

	n, err = r.ReadAt(p, 950)
	assert.Equal(t, 50, n)
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, data[950:], p[:50])

	n, err = r.ReadAt(p, 1000)
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, io.EOF)

	n, err = r.ReadAt(p, 5000)
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, io.EOF)

	n, err = r.ReadAt(p[:0], 10)
	assert.Equal(t, 0, n)
	assert.NoError(t, err)

	_, err = r.ReadAt(p, -1)
	assert.Error(t, err)

	empty := NewReader(bytes.NewReader(nil), 0)
	n, err = empty.ReadAt(p, 0)
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, int64(0), empty.Stats().Requests)

	// io.SectionReader over a Reader works to the end.
	all, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
	require.NoError(t, err)
	assert.Equal(t, data, all)
}

func TestShortUnderlyingFile(t *testing.T) {
	data := fixture.RandomBytes(10, 1000)
	r := NewReader(bytes.NewReader(data), 2000, WithBlockSize(512), WithFirstRead(0))
	p := make([]byte, 100)
	_, err := r.ReadAt(p, 1500)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = r.ReadAt(p, 10)
	assert.NoError(t, err)
}

func TestErrorsAreNotCached(t *testing.T) {
	data := fixture.RandomBytes(11, 100_000)
	rec := newRecorder(data)
	boom := errors.New("storage says no")
	rec.fail.Store(&boom)
	r := NewReader(rec, int64(len(data)))
	p := make([]byte, 10)
	_, err := r.ReadAt(p, 5)
	assert.ErrorIs(t, err, boom)
	assert.Error(t, r.Prefetch(context.Background(), []Range{{50_000, 10}}))

	rec.fail.Store(nil)
	n, err := r.ReadAt(p, 5)
	require.NoError(t, err)
	assert.Equal(t, 10, n)
	assert.Equal(t, data[5:15], p)
}

type panicReaderAt struct{}

func (panicReaderAt) ReadAt([]byte, int64) (int, error) { panic("bug in the reader") }

func TestUnderlyingPanicIsAnError(t *testing.T) {
	r := NewReader(panicReaderAt{}, 1000)
	p := make([]byte, 10)
	_, err := r.ReadAt(p, 0)
	assert.ErrorContains(t, err, "panicked: bug in the reader")
	assert.ErrorContains(t, r.Prefetch(context.Background(), []Range{{500, 10}}), "panicked")
}

func TestPrefetchCoalescing(t *testing.T) {
	data := fixture.RandomBytes(12, 4<<20)
	rec := newRecorder(data)
	r := NewReader(rec, int64(len(data)), WithFirstRead(0), WithBlockSize(4096), WithCoalesceGap(64<<10))
	ranges := []Range{
		{200_000, 100},   // with the next: the gap is < 64 KiB
		{210_000, 100},   //
		{250_000, 5000},  //   and this one too
		{1_000_000, 100}, // far: its own request
		{3_000_000, 50},  // far: its own request
		{3_000_010, 10},  // inside the previous one
		{-10, 5},         // outside the file: ignored
		{5 << 20, 100},   // outside the file: ignored
		{100, 0},         // empty: ignored
	}
	require.NoError(t, r.Prefetch(context.Background(), ranges))
	reqs := rec.requests()
	// Each request is the wanted bytes, not whole blocks.
	assert.ElementsMatch(t, []Range{
		{200_000, 55_000},
		{1_000_000, 100},
		{3_000_000, 50},
	}, reqs)
	assert.Equal(t, int64(3), r.Stats().Requests)

	// Every prefetched range now reads without a request.
	for _, rg := range ranges[:6] {
		p := make([]byte, rg.Len)
		_, err := r.ReadAt(p, rg.Off)
		require.NoError(t, err)
		assert.Equal(t, data[rg.Off:rg.Off+rg.Len], p)
	}
	assert.Equal(t, int64(3), r.Stats().Requests)

	// Prefetching them again makes no request.
	require.NoError(t, r.Prefetch(context.Background(), ranges))
	assert.Equal(t, int64(3), r.Stats().Requests)
}

func TestPrefetchDoesNotRereadCachedGap(t *testing.T) {
	data := fixture.RandomBytes(13, 1<<20)
	rec := newRecorder(data)
	r := NewReader(rec, int64(len(data)), WithFirstRead(0), WithBlockSize(1024), WithCoalesceGap(16<<10))
	p := make([]byte, 10)
	_, err := r.ReadAt(p, 5*1024) // cache block 5
	require.NoError(t, err)
	// The ranges are close, but block 5 between them is cached: two requests.
	require.NoError(t, r.Prefetch(context.Background(), []Range{{2 * 1024, 10}, {8 * 1024, 10}}))
	assert.ElementsMatch(t, []Range{{5 * 1024, 1024}, {2 * 1024, 10}, {8 * 1024, 10}}, rec.requests())
	assert.Equal(t, 1, rec.maxPerByte())
}

func TestPrefetchIncludesFirstRead(t *testing.T) {
	data := fixture.RandomBytes(14, 4<<20)
	rec := newRecorder(data)
	r := NewReader(rec, int64(len(data)), WithFirstRead(100_000), WithBlockSize(4096), WithCoalesceGap(4096))
	require.NoError(t, r.Prefetch(context.Background(), []Range{{50_000, 10}, {2_000_000, 10}}))
	assert.ElementsMatch(t, []Range{{0, 102400}, {2_000_000, 10}}, rec.requests())
	p := make([]byte, 10)
	_, err := r.ReadAt(p, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(2), r.Stats().Requests)
}

func TestPrefetchSplitsHugeRequests(t *testing.T) {
	data := make([]byte, 40<<20)
	rec := &recorder{data: data} // no per-byte counts
	r := NewReader(rec, int64(len(data)), WithFirstRead(0), WithMaxCacheBytes(64<<20))
	require.NoError(t, r.Prefetch(context.Background(), []Range{{0, 40 << 20}}))
	reqs := rec.requests()
	assert.Len(t, reqs, 3)
	for _, q := range reqs {
		assert.LessOrEqual(t, q.Len, int64(maxPrefetchRequest))
	}
}

// TestPrefetchContextCanceled runs in a synctest bubble: Prefetch is
// cancelled once its requests wait.
func TestPrefetchContextCanceled(t *testing.T) { synctest.Test(t, testPrefetchContextCanceled) }

func testPrefetchContextCanceled(t *testing.T) {
	data := fixture.RandomBytes(15, 1<<20)
	rec := newRecorder(data)
	rec.gate = make(chan struct{})
	r := NewReader(rec, int64(len(data)), WithFirstRead(0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Prefetch(ctx, []Range{{0, 10}, {500_000, 10}}) }()
	synctest.Wait() // both requests wait on the gate
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("Prefetch did not return after cancel")
	}
	close(rec.gate)
	// The requests already issued complete and fill the cache.
	// (Read both ranges: each ReadAt waits only for the fetch it needs.)
	p := make([]byte, 10)
	_, err := r.ReadAt(p, 500_000)
	require.NoError(t, err)
	_, err = r.ReadAt(p, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(2), r.Stats().Requests)

	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	assert.ErrorIs(t, r.Prefetch(canceled, []Range{{900_000, 10}}), context.Canceled)
}

func TestMemoryBound(t *testing.T) {
	data := fixture.RandomBytes(16, 8<<20)
	r := NewReader(bytes.NewReader(data), int64(len(data)), WithMaxCacheBytes(1<<20))
	rng := rand.New(rand.NewPCG(1, 2))
	p := make([]byte, 200_000)
	for i := 0; i < 200; i++ {
		off := int64(rng.IntN(len(data) - len(p)))
		_, err := r.ReadAt(p, off)
		require.NoError(t, err)
		assert.Equal(t, data[off:off+int64(len(p))], p)
		require.LessOrEqual(t, r.CachedBytes(), int64(1<<20))
	}
	// A single read larger than the whole cache still works.
	big := make([]byte, 3<<20)
	_, err := r.ReadAt(big, 100)
	require.NoError(t, err)
	assert.Equal(t, data[100:100+len(big)], big)
	assert.LessOrEqual(t, r.CachedBytes(), int64(1<<20))
}

func TestLRUKeepsRecentlyUsed(t *testing.T) {
	data := fixture.RandomBytes(17, 1<<20)
	rec := newRecorder(data)
	r := NewReader(rec, int64(len(data)), WithFirstRead(0), WithBlockSize(1024), WithMaxCacheBytes(4*1024))
	p := make([]byte, 1)
	for _, b := range []int64{0, 1, 2, 3} {
		_, _ = r.ReadAt(p, b*1024)
	}
	_, _ = r.ReadAt(p, 0)    // touch block 0
	_, _ = r.ReadAt(p, 4096) // evicts block 1, the least recently used
	n := r.Stats().Requests
	_, _ = r.ReadAt(p, 0)
	assert.Equal(t, n, r.Stats().Requests, "block 0 stays cached")
	_, _ = r.ReadAt(p, 1024)
	assert.Equal(t, n+1, r.Stats().Requests, "block 1 was evicted")
}

func TestInitialData(t *testing.T) {
	data := fixture.RandomBytes(18, 300_000)
	rec := newRecorder(data)
	r := NewReader(rec, int64(len(data)), WithBlockSize(4096), WithInitialData(data[:10_000]))
	assert.Equal(t, Stats{Requests: 1, Bytes: 10_000}, r.Stats())
	p := make([]byte, 100)
	_, err := r.ReadAt(p, 8000) // handed in
	require.NoError(t, err)
	assert.Empty(t, rec.requests())
	_, err = r.ReadAt(p, 9950) // partly handed in: the rest to the block's end is fetched
	require.NoError(t, err)
	assert.Equal(t, data[9950:10050], p)
	assert.Equal(t, []Range{{10_000, 12288 - 10_000}}, rec.requests())

	// A whole small file handed in needs no request at all.
	small := fixture.RandomBytes(19, 5000)
	rec2 := newRecorder(small)
	r2 := NewReader(rec2, 5000, WithBlockSize(4096), WithInitialData(small))
	all, err := io.ReadAll(io.NewSectionReader(r2, 0, 5000))
	require.NoError(t, err)
	assert.Equal(t, small, all)
	assert.Empty(t, rec2.requests())
}

func TestCachedData(t *testing.T) {
	data := fixture.RandomBytes(20, 50_000)
	for _, tc := range []struct {
		name  string
		opt   Option
		stats Stats // before any read
	}{
		{"initial data was a request", WithInitialData(data[:10_000]), Stats{Requests: 1, Bytes: 10_000}},
		{"cached data was none", WithCachedData(data[:10_000]), Stats{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(data)
			r := NewReader(rec, int64(len(data)), WithBlockSize(4096), tc.opt)
			assert.Equal(t, tc.stats, r.Stats())
			p := make([]byte, 100)
			_, err := r.ReadAt(p, 500)
			require.NoError(t, err)
			assert.Equal(t, data[500:600], p)
			assert.Empty(t, rec.requests(), "served from the handed-in bytes, no first read")
			_, err = r.ReadAt(p, 20_000) // beyond them: one request, counted
			require.NoError(t, err)
			assert.Equal(t, data[20_000:20_100], p)
			assert.Len(t, rec.requests(), 1)
			assert.Equal(t, tc.stats.Requests+1, r.Stats().Requests)
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := NewConfig()
	assert.Equal(t, Config{BlockSize: 64 << 10, FirstRead: 1 << 20, MaxCacheBytes: 64 << 20, CoalesceGap: 64 << 10, Concurrency: 8}, c)
	c = NewConfig(WithBlockSize(-1), WithFirstRead(-5), WithMaxCacheBytes(0), WithConcurrency(0), WithCoalesceGap(-1))
	assert.Equal(t, Config{BlockSize: 64 << 10, FirstRead: 0, MaxCacheBytes: 64 << 20, CoalesceGap: 0, Concurrency: 8}, c)
}

func TestCountingReaderAt(t *testing.T) {
	c := NewCountingReaderAt(bytes.NewReader(make([]byte, 100)))
	p := make([]byte, 60)
	_, _ = c.ReadAt(p, 0)
	_, _ = c.ReadAt(p, 50)
	assert.Equal(t, Stats{Requests: 2, Bytes: 110}, c.Stats())
	c.Reset()
	assert.Equal(t, Stats{}, c.Stats())
}

// slowReaderAt sleeps per request, like a blob store does.
type slowReaderAt struct {
	r     io.ReaderAt
	delay time.Duration
}

func (s slowReaderAt) ReadAt(p []byte, off int64) (int, error) {
	time.Sleep(s.delay)
	return s.r.ReadAt(p, off)
}

// TestLatencyPrefetchVsSequential shows what Prefetch buys with 20 ms per
// request: 40 scattered chunk-index reads, sequential vs prefetched. It
// runs in a synctest bubble: the latency passes on the bubble's clock, so
// the times compared are exact sums of the modelled delays.
func TestLatencyPrefetchVsSequential(t *testing.T) {
	synctest.Test(t, testLatencyPrefetchVsSequential)
}

func testLatencyPrefetchVsSequential(t *testing.T) {
	data := fixture.RandomBytes(20, 64<<20)
	var ranges []Range
	for i := 0; i < 40; i++ {
		ranges = append(ranges, Range{int64(2<<20 + i*1_500_000), 2000})
	}
	seq := NewReader(slowReaderAt{bytes.NewReader(data), 20 * time.Millisecond}, int64(len(data)))
	start := time.Now()
	for _, rg := range ranges {
		p := make([]byte, rg.Len)
		_, err := seq.ReadAt(p, rg.Off)
		require.NoError(t, err)
	}
	seqTime := time.Since(start)

	pre := NewReader(slowReaderAt{bytes.NewReader(data), 20 * time.Millisecond}, int64(len(data)))
	start = time.Now()
	require.NoError(t, pre.Prefetch(context.Background(), ranges))
	for _, rg := range ranges {
		p := make([]byte, rg.Len)
		_, err := pre.ReadAt(p, rg.Off)
		require.NoError(t, err)
	}
	preTime := time.Since(start)
	t.Logf("40 scattered reads at 20 ms/request: sequential %d requests %v; prefetched %d requests %v",
		seq.Stats().Requests, seqTime.Round(time.Millisecond), pre.Stats().Requests, preTime.Round(time.Millisecond))
	assert.Less(t, preTime, seqTime)
}

func BenchmarkReadAtCached(b *testing.B) {
	data := fixture.RandomBytes(1, 1<<20)
	r := NewReader(bytes.NewReader(data), int64(len(data)))
	p := make([]byte, 4096)
	_, _ = r.ReadAt(p, 0)
	b.SetBytes(int64(len(p)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		_, _ = r.ReadAt(p, int64(i*4096)%(1<<20-4096))
	}
}

func BenchmarkReadAtRandomMiss(b *testing.B) {
	data := fixture.RandomBytes(2, 256<<20)
	r := NewReader(NewCountingReaderAt(bytes.NewReader(data)), int64(len(data)), WithMaxCacheBytes(8<<20))
	rng := rand.New(rand.NewPCG(1, 1))
	p := make([]byte, 8192)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		_, _ = r.ReadAt(p, int64(rng.IntN(len(data)-len(p))))
	}
	b.ReportMetric(float64(r.Stats().Requests)/float64(b.N), "requests/op")
}

func BenchmarkReadAtParallel(b *testing.B) {
	data := fixture.RandomBytes(3, 16<<20)
	r := NewReader(bytes.NewReader(data), int64(len(data)))
	b.SetBytes(4096)
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
		p := make([]byte, 4096)
		for pb.Next() {
			_, _ = r.ReadAt(p, int64(rng.IntN(len(data)-len(p))))
		}
	})
}

// BenchmarkPrefetchLatency: 200 scattered ranges at 1 ms per request, the
// shape of a chunk-index walk.
func BenchmarkPrefetchLatency(b *testing.B) {
	data := make([]byte, 64<<20)
	var ranges []Range
	for i := 0; i < 200; i++ {
		ranges = append(ranges, Range{int64(i) * 300_000, 1000})
	}
	var reqs int64
	for b.Loop() {
		r := NewReader(slowReaderAt{bytes.NewReader(data), time.Millisecond}, int64(len(data)), WithFirstRead(0))
		if err := r.Prefetch(context.Background(), ranges); err != nil {
			b.Fatal(err)
		}
		reqs += r.Stats().Requests
	}
	b.ReportMetric(float64(reqs)/float64(b.N), "requests/op")
}

func TestReadAcrossPrefetchedRange(t *testing.T) {
	data := fixture.RandomBytes(21, 1<<20)
	rec := newRecorder(data)
	r := NewReader(rec, int64(len(data)), WithFirstRead(0), WithBlockSize(4096))
	require.NoError(t, r.Prefetch(context.Background(), []Range{{10_000, 100}}))
	p := make([]byte, 300)
	_, err := r.ReadAt(p, 9_900) // both sides of the prefetched range are missing
	require.NoError(t, err)
	assert.Equal(t, data[9_900:10_200], p)
	// The sides are widened to the block boundaries, never over what was read.
	assert.ElementsMatch(t, []Range{{10_000, 100}, {8192, 10_000 - 8192}, {10_100, 12288 - 10_100}}, rec.requests())
	assert.Equal(t, 1, rec.maxPerByte())
}

func TestLimiterBoundsAcrossReaders(t *testing.T) {
	data := fixture.RandomBytes(22, 2<<20)
	rec := newRecorder(data)
	rec.delay = time.Millisecond
	lim := NewLimiter(3)
	assert.Equal(t, 3, lim.Cap())
	var wg sync.WaitGroup
	for k := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := NewReader(rec, int64(len(data)), WithFirstRead(0), WithConcurrency(8), WithCoalesceGap(0), WithLimiter(lim))
			var rs []Range
			for i := range 16 {
				rs = append(rs, Range{int64(k*400_000 + i*20_000), 100})
			}
			assert.NoError(t, r.Prefetch(context.Background(), rs))
		}()
	}
	wg.Wait()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Len(t, rec.reqs, 64)
	assert.LessOrEqual(t, rec.maxInFl, 3)
}

func TestLimiterAcquire(t *testing.T) {
	tests := []struct {
		name     string
		cap      int
		taken    int  // slots taken before the Acquire under test
		cancel   bool // the Acquire's context is already cancelled
		wantErr  error
		inFlight int // slots taken after it
	}{
		{name: "free slot", cap: 2, taken: 1, inFlight: 2},
		{name: "free slot, cancelled context still takes it", cap: 2, taken: 1, cancel: true, inFlight: 2},
		{name: "full, cancelled", cap: 2, taken: 2, cancel: true, wantErr: context.Canceled, inFlight: 2},
		{name: "bound of at least one", cap: 0, taken: 0, inFlight: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLimiter(tc.cap)
			for range tc.taken {
				require.NoError(t, l.Acquire(context.Background()))
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancel {
				cancel()
			}
			defer cancel()
			err := l.Acquire(ctx)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tc.inFlight, l.InFlight())
		})
	}
}

func TestLimiterAcquireWaitsForRelease(t *testing.T) {
	l := NewLimiter(1)
	require.NoError(t, l.Acquire(context.Background()))
	got := make(chan error)
	go func() { got <- l.Acquire(context.Background()) }()
	select {
	case err := <-got:
		t.Fatalf("Acquire returned %v while the only slot was taken", err)
	case <-time.After(20 * time.Millisecond):
	}
	l.Release()
	require.NoError(t, <-got)
	assert.Equal(t, 1, l.InFlight())
	l.Release()
	assert.Equal(t, 0, l.InFlight())
}
