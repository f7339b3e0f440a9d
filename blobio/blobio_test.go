package blobio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	"gocloud.dev/blob/driver"

	"github.com/greensight/vzarr/internal/fixture"
	"github.com/greensight/vzarr/rangeio"
)

// memOpener returns an Opener with a mem bucket "arch" holding files.
func memOpener(t *testing.T, files map[string][]byte) *Opener {
	t.Helper()
	o := &Opener{Mem: &MemBuckets{}}
	b := o.Mem.Create("arch")
	defer b.Close()
	for k, v := range files {
		require.NoError(t, b.WriteAll(context.Background(), k, v, nil))
	}
	return o
}

func TestScanMem(t *testing.T) {
	ctx := context.Background()
	o := memOpener(t, fixture.ScanTree())

	res, err := o.Scan(ctx, "mem://arch/era5", ScanOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"mem://arch/era5/a.nc", "mem://arch/era5/b.nc"}, res.NCFiles)
	assert.Equal(t, 2, res.FileCount)
	assert.Equal(t, int64(30), res.TotalSizeBytes)
	require.Len(t, res.Files, 2)
	assert.Equal(t, FileInfo{URL: "mem://arch/era5/a.nc", SizeBytes: 10, LastModified: res.Files[0].LastModified}, res.Files[0])

	// A trailing slash means the same.
	res2, err := o.Scan(ctx, "mem://arch/era5/", ScanOptions{})
	require.NoError(t, err)
	assert.Equal(t, res.NCFiles, res2.NCFiles)

	res, err = o.Scan(ctx, "mem://arch/era5", ScanOptions{Recursive: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"mem://arch/era5/2020/c.nc", "mem://arch/era5/2020/deep/d.nc", "mem://arch/era5/a.nc", "mem://arch/era5/b.nc"}, res.NCFiles)
	assert.Equal(t, int64(4330), res.TotalSizeBytes)

	res, err = o.Scan(ctx, "mem://arch/era5", ScanOptions{Pattern: "*.txt", Recursive: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"mem://arch/era5/notes.txt", "mem://arch/era5/sub.nc/inside.txt"}, res.NCFiles)

	res, err = o.Scan(ctx, "mem://arch/era5", ScanOptions{Pattern: "[ab].nc"})
	require.NoError(t, err)
	assert.Equal(t, 2, res.FileCount)

	// The whole bucket.
	res, err = o.Scan(ctx, "mem://arch", ScanOptions{Recursive: true})
	require.NoError(t, err)
	assert.Equal(t, 6, res.FileCount)

	// No match: empty lists, not null.
	res, err = o.Scan(ctx, "mem://arch/nothing-here", ScanOptions{})
	require.NoError(t, err)
	assert.Equal(t, 0, res.FileCount)
	js, err := json.Marshal(res)
	require.NoError(t, err)
	assert.JSONEq(t, `{"nc_files": [], "files": [], "file_count": 0, "total_size_bytes": 0}`, string(js))

	// Missing bucket: a typed error.
	_, err = o.Scan(ctx, "mem://nope/era5", ScanOptions{})
	assert.ErrorIs(t, err, ErrNotFound)
	assert.ErrorIs(t, err, ErrNotFound)

	// Bad patterns.
	for _, p := range []string{"[", "a/*.nc"} {
		_, err = o.Scan(ctx, "mem://arch/era5", ScanOptions{Pattern: p})
		assert.ErrorIs(t, err, ErrInvalidArgument, p)
	}

	// mem:// without MemBuckets.
	_, err = (&Opener{}).Scan(ctx, "mem://arch/era5", ScanOptions{})
	assert.ErrorIs(t, err, ErrConfig)
}

func TestScanLocal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for k, v := range fixture.ScanTree() {
		p := filepath.Join(dir, filepath.FromSlash(k))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, v, 0o644))
	}
	o := &Opener{}
	res, err := o.Scan(ctx, filepath.Join(dir, "era5"), ScanOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{dir + "/era5/a.nc", dir + "/era5/b.nc"}, res.NCFiles)
	assert.Equal(t, int64(30), res.TotalSizeBytes)

	res, err = o.Scan(ctx, "file://"+dir+"/era5", ScanOptions{Recursive: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"file://" + dir + "/era5/2020/c.nc", "file://" + dir + "/era5/2020/deep/d.nc",
		"file://" + dir + "/era5/a.nc", "file://" + dir + "/era5/b.nc"}, res.NCFiles)

	// A relative path gives absolute URLs.
	t.Chdir(dir)
	res, err = o.Scan(ctx, "era5", ScanOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{dir + "/era5/a.nc", dir + "/era5/b.nc"}, res.NCFiles)

	_, err = o.Scan(ctx, filepath.Join(dir, "missing"), ScanOptions{})
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = o.Scan(ctx, filepath.Join(dir, "era5/a.nc"), ScanOptions{})
	assert.ErrorIs(t, err, ErrInvalidArgument)

	res, err = o.Scan(ctx, filepath.Join(dir, "era5/2021"), ScanOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{}, res.NCFiles)
}

// latencyBucket is a driver that delays each request to another bucket and
// counts them, to model Azure's 20-50 ms per request.
type latencyBucket struct {
	sharedBucket
	delay    time.Duration
	requests atomic.Int64
}

func (l *latencyBucket) wait() { l.requests.Add(1); time.Sleep(l.delay) }

func (l *latencyBucket) NewRangeReader(ctx context.Context, key string, off, n int64, opts *driver.ReaderOptions) (driver.Reader, error) {
	l.wait()
	return l.sharedBucket.NewRangeReader(ctx, key, off, n, opts)
}

func (l *latencyBucket) Attributes(ctx context.Context, key string) (*driver.Attributes, error) {
	l.wait()
	return l.sharedBucket.Attributes(ctx, key)
}

func (l *latencyBucket) ListPaged(ctx context.Context, opts *driver.ListOptions) (*driver.ListPage, error) {
	l.wait()
	return l.sharedBucket.ListPaged(ctx, opts)
}

func TestNewReaderAtMem(t *testing.T) {
	ctx := context.Background()
	data := fixture.RandomBytes(1, 3<<20+123)
	o := memOpener(t, map[string][]byte{"f.nc": data, "empty.nc": {}, "small.nc": []byte("hello")})

	obj, err := o.OpenObject(ctx, "mem://arch/f.nc")
	require.NoError(t, err)
	defer obj.Close()
	assert.Equal(t, int64(len(data)), obj.Size())
	assert.Equal(t, "mem://arch/f.nc", obj.URL)
	assert.Equal(t, "mem://arch/f.nc", obj.RefURL)
	assert.Equal(t, rangeio.Stats{Requests: 1, Bytes: 1 << 20}, obj.Stats(), "opening reads the first MiB and learns the size")

	p := make([]byte, 1000)
	_, err = obj.ReadAt(p, 5000)
	require.NoError(t, err)
	assert.Equal(t, data[5000:6000], p)
	assert.Equal(t, int64(1), obj.Stats().Requests, "the start is cached")

	n, err := obj.ReadAt(p, int64(len(data))-100)
	assert.Equal(t, 100, n)
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, data[len(data)-100:], p[:100])
	assert.Equal(t, int64(2), obj.Stats().Requests)

	all, err := io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
	require.NoError(t, err)
	assert.Equal(t, data, all)

	small, err := o.OpenObject(ctx, "mem://arch/small.nc")
	require.NoError(t, err)
	defer small.Close()
	got, err := io.ReadAll(io.NewSectionReader(small, 0, small.Size()))
	require.NoError(t, err)
	assert.Equal(t, "hello", string(got))
	assert.Equal(t, int64(1), small.Stats().Requests)

	empty, err := o.OpenObject(ctx, "mem://arch/empty.nc")
	require.NoError(t, err)
	defer empty.Close()
	assert.Equal(t, int64(0), empty.Size())

	// Without the first read, the size comes from the attributes.
	noFirst, err := o.OpenObject(ctx, "mem://arch/f.nc", rangeio.WithFirstRead(0))
	require.NoError(t, err)
	defer noFirst.Close()
	assert.Equal(t, int64(len(data)), noFirst.Size())
	assert.Equal(t, int64(0), noFirst.Stats().Requests)

	_, err = o.OpenObject(ctx, "mem://arch/missing.nc")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "mem://arch/missing.nc")
	_, err = o.OpenObject(ctx, "mem://arch/dir/")
	assert.ErrorIs(t, err, ErrInvalidArgument)

	// NewReaderAt over a bucket directly.
	b, key, err := o.Open(ctx, "mem://arch/f.nc")
	require.NoError(t, err)
	defer b.Close()
	r, err := NewReaderAt(ctx, b, key)
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), r.Size())
}

func TestNewReaderAtLocal(t *testing.T) {
	ctx := context.Background()
	data := fixture.RandomBytes(2, 100_000)
	p := filepath.Join(t.TempDir(), "x.nc")
	require.NoError(t, os.WriteFile(p, data, 0o644))
	o := &Opener{}
	obj, err := o.OpenObject(ctx, p)
	require.NoError(t, err)
	defer obj.Close()
	assert.Equal(t, p, obj.RefURL)
	got, err := io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
	require.NoError(t, err)
	assert.Equal(t, data, got)
	assert.Equal(t, int64(1), obj.Stats().Requests)

	_, err = o.OpenObject(ctx, filepath.Join(t.TempDir(), "missing.nc"))
	assert.ErrorIs(t, err, ErrNotFound)
}

// TestLatency models 20 ms per request and reports the round trips and
// time of typical access patterns. It runs in a synctest bubble: the
// latency passes on the bubble's clock (the times reported are exact sums
// of the modelled delays) and costs no real time.
func TestLatency(t *testing.T) { synctest.Test(t, testLatency) }

func testLatency(t *testing.T) {
	ctx := context.Background()
	const delay = 20 * time.Millisecond
	data := fixture.RandomBytes(3, 32<<20)
	mem := &MemBuckets{}
	func() {
		b := mem.Create("arch")
		defer b.Close()
		require.NoError(t, b.WriteAll(ctx, "big.nc", data, nil))
	}()
	open := func(opts ...rangeio.Option) (*rangeio.Reader, *latencyBucket) {
		shared, _ := mem.open("arch")
		lb := &latencyBucket{sharedBucket: sharedBucket{shared}, delay: delay}
		b := blob.NewBucket(lb)
		t.Cleanup(func() { _ = b.Close() })
		r, err := NewReaderAt(ctx, b, "big.nc", opts...)
		require.NoError(t, err)
		return r, lb
	}
	report := func(name string, start time.Time, lb *latencyBucket, wantRequests int64) {
		el := time.Since(start)
		t.Logf("%-58s %3d requests %6.0f ms", name, lb.requests.Load(), float64(el.Microseconds())/1000)
		assert.Equal(t, wantRequests, lb.requests.Load(), name)
	}

	// Open + read the whole first MiB in small pieces (a metadata walk).
	start := time.Now()
	r, lb := open()
	for off := int64(0); off < 1<<20; off += 512 {
		p := make([]byte, 512)
		_, err := r.ReadAt(p, off)
		require.NoError(t, err)
	}
	report("open + first MiB in 2048 reads of 512 B", start, lb, 1)

	// The same without the first read and cache granularity 64 KiB.
	start = time.Now()
	r, lb = open(rangeio.WithFirstRead(0))
	for off := int64(0); off < 1<<20; off += 512 {
		p := make([]byte, 512)
		_, err := r.ReadAt(p, off)
		require.NoError(t, err)
	}
	report("same, no first read (attributes + 16 blocks)", start, lb, 17)

	// 64 scattered 4 KiB reads (chunk index nodes), sequential vs prefetched.
	var ranges []rangeio.Range
	for i := 0; i < 64; i++ {
		ranges = append(ranges, rangeio.Range{Off: int64(2<<20 + i*450_000), Len: 4096})
	}
	readRanges := func(r *rangeio.Reader) {
		for _, rg := range ranges {
			p := make([]byte, rg.Len)
			_, err := r.ReadAt(p, rg.Off)
			require.NoError(t, err)
		}
	}
	start = time.Now()
	r, lb = open()
	readRanges(r)
	report("open + 64 scattered 4 KiB reads, one by one", start, lb, 65)

	start = time.Now()
	r, lb = open()
	require.NoError(t, r.Prefetch(ctx, ranges))
	readRanges(r)
	report("open + the same 64 reads after one Prefetch (8 at a time)", start, lb, 65)

	// A whole 32 MiB file read in one ReadAt: one request for the rest.
	start = time.Now()
	r, lb = open(rangeio.WithMaxCacheBytes(64 << 20))
	all := make([]byte, len(data))
	_, err := r.ReadAt(all, 0)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, all))
	report("open + whole 32 MiB file in one ReadAt", start, lb, 2)
}

func TestWriteAtomicMem(t *testing.T) {
	ctx := context.Background()
	o := memOpener(t, nil)
	url := "mem://arch/refs/out.json"
	read := func() (string, bool) {
		b, key, err := o.Open(ctx, url)
		require.NoError(t, err)
		defer b.Close()
		got, err := b.ReadAll(ctx, key)
		if errors.Is(err, ErrNotFound) || (err != nil && strings.Contains(err.Error(), "not found")) {
			return "", false
		}
		require.NoError(t, err)
		return string(got), true
	}

	boom := errors.New("encoder failed")
	err := o.WriteAtomic(ctx, url, func(w io.Writer) error {
		_, _ = w.Write(bytes.Repeat([]byte("x"), 100_000))
		return boom
	})
	assert.ErrorIs(t, err, boom)
	_, ok := read()
	assert.False(t, ok, "a failed write leaves no object")

	require.NoError(t, o.WriteAtomic(ctx, url, func(w io.Writer) error {
		_, err := io.WriteString(w, `{"v": 1}`)
		return err
	}))
	got, ok := read()
	assert.True(t, ok)
	assert.Equal(t, `{"v": 1}`, got)

	// A failed overwrite keeps the old object; a good one replaces it.
	err = o.WriteAtomic(ctx, url, func(w io.Writer) error {
		_, _ = io.WriteString(w, `{"v": 2, "trunc`)
		return boom
	})
	assert.ErrorIs(t, err, boom)
	got, _ = read()
	assert.Equal(t, `{"v": 1}`, got)
	for i := 0; i < 2; i++ {
		require.NoError(t, o.WriteAtomic(ctx, url, func(w io.Writer) error {
			_, err := io.WriteString(w, `{"v": 2}`)
			return err
		}))
	}
	got, _ = read()
	assert.Equal(t, `{"v": 2}`, got)

	b, key, err := o.Open(ctx, url)
	require.NoError(t, err)
	attrs, err := b.Attributes(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, "application/json", attrs.ContentType)
	b.Close()

	// A panicking writer commits nothing either.
	func() {
		defer func() { assert.NotNil(t, recover()) }()
		_ = o.WriteAtomic(ctx, "mem://arch/panic.json", func(w io.Writer) error {
			_, _ = w.Write([]byte("partial"))
			panic("bug")
		})
	}()
	res, err := o.Scan(ctx, "mem://arch", ScanOptions{Pattern: "panic.json"})
	require.NoError(t, err)
	assert.Equal(t, 0, res.FileCount)

	// A canceled context commits nothing.
	cctx, cancel := context.WithCancel(ctx)
	err = o.WriteAtomic(cctx, "mem://arch/canceled.json", func(w io.Writer) error {
		cancel()
		_, err := w.Write([]byte("data"))
		return err
	})
	assert.ErrorIs(t, err, context.Canceled)
	res, err = o.Scan(ctx, "mem://arch", ScanOptions{Pattern: "canceled.json"})
	require.NoError(t, err)
	assert.Equal(t, 0, res.FileCount)

	assert.ErrorIs(t, o.WriteAtomic(ctx, "mem://arch/dir/", func(io.Writer) error { return nil }), ErrInvalidArgument)
	assert.ErrorIs(t, o.WriteAtomic(ctx, "mem://nobucket/x.json", func(io.Writer) error { return nil }), ErrNotFound)
}

func TestWriteAtomicLocal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	target := filepath.Join(dir, "sub", "refs.json")
	o := &Opener{}
	boom := errors.New("encoder failed")

	err := o.WriteAtomic(ctx, target, func(w io.Writer) error {
		_, _ = w.Write(bytes.Repeat([]byte("x"), 3<<20))
		return boom
	})
	assert.ErrorIs(t, err, boom)
	_, err = os.Stat(target)
	assert.ErrorIs(t, err, os.ErrNotExist)

	require.NoError(t, o.WriteAtomic(ctx, target, func(w io.Writer) error {
		_, err := io.WriteString(w, "one")
		return err
	}))
	err = o.WriteAtomic(ctx, "file://"+target, func(w io.Writer) error {
		_, _ = io.WriteString(w, "tw")
		return boom
	})
	assert.ErrorIs(t, err, boom)
	got, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "one", string(got))

	require.NoError(t, o.WriteAtomic(ctx, "file://"+target, func(w io.Writer) error {
		_, err := io.WriteString(w, "two")
		return err
	}))
	got, err = os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "two", string(got))
	fi, err := os.Stat(target)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm())

	// No temporary files are left behind.
	entries, err := os.ReadDir(filepath.Dir(target))
	require.NoError(t, err)
	assert.Len(t, entries, 1)
}

// Concurrent local writes (committed in groups) each land whole, the
// failing ones leave nothing, and no temporary file stays.
func TestWriteAtomicLocalConcurrent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := &Opener{}
	boom := errors.New("encoder failed")
	const n = 64
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = o.WriteAtomic(ctx, filepath.Join(dir, fmt.Sprintf("f%02d.json", i)), func(w io.Writer) error {
				_, _ = fmt.Fprintf(w, "file %d", i)
				if i%8 == 7 {
					return boom
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i := range n {
		got, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("f%02d.json", i)))
		if i%8 == 7 {
			assert.ErrorIs(t, errs[i], boom)
			assert.ErrorIs(t, err, os.ErrNotExist)
			continue
		}
		require.NoError(t, errs[i])
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("file %d", i), string(got))
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, n-n/8)
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	o := &Opener{}
	_, _, err := o.Open(ctx, "s3://bucket/x.nc")
	assert.ErrorIs(t, err, ErrInvalidURL)
	assert.ErrorIs(t, err, ErrInvalidURL)
	var be *Error
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "open", be.Op)
	assert.Equal(t, "blobio: open s3://bucket/x.nc: invalid URL: \"s3://bucket/x.nc\": unknown scheme \"s3\" (want abfs, abfss, az, azblob, file, mem or a local path)", err.Error())

	// abfs://CONTAINER/PATH needs an account.
	_, _, err = o.Open(ctx, "abfs://cnt/x.nc")
	assert.ErrorIs(t, err, ErrConfig)
	assert.Contains(t, err.Error(), "AZURE_STORAGE_ACCOUNT_NAME")

	// A malformed connection string is reported without its key.
	bad := &Opener{ConnectionString: "AccountName=a;AccountKey=c2VjcmV0;Nonsense"}
	_, _, err = bad.Open(ctx, "abfs://cnt/x.nc")
	if err != nil {
		assert.NotContains(t, err.Error(), "c2VjcmV0")
	}
}

func TestNewOpenerFromEnv(t *testing.T) {
	t.Setenv("AZURE_STORAGE_ACCOUNT_NAME", "acct1")
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "")
	o := NewOpenerFromEnv()
	assert.Equal(t, "acct1", o.AccountName)
	assert.Equal(t, "", o.ConnectionString)
	t.Setenv("AZURE_STORAGE_ACCOUNT_NAME", "")
	t.Setenv("AZURE_STORAGE_ACCOUNT", "acct2")
	assert.Equal(t, "acct2", NewOpenerFromEnv().AccountName)
}

// TestErrorKinds: an *Error is its kind and its cause for errors.Is.
func TestErrorKinds(t *testing.T) {
	err := &Error{Op: "scan", Kind: ErrUnavailable, Err: context.Canceled}
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, ErrNotFound)
	assert.ErrorIs(t, fmt.Errorf("w: %w", &Error{Op: "open", Kind: ErrPermission}), ErrPermission)
}

func TestRetryPolicyDefaults(t *testing.T) {
	o := &Opener{}
	assert.Equal(t, RetryOptions{MaxRetries: 3, TryTimeout: 60 * time.Second, RetryDelay: 500 * time.Millisecond, MaxRetryDelay: 8 * time.Second}, o.RetryPolicy())
	o.Retry = RetryOptions{MaxRetries: -1, TryTimeout: time.Second}
	assert.Equal(t, RetryOptions{MaxRetries: -1, TryTimeout: time.Second, RetryDelay: 500 * time.Millisecond, MaxRetryDelay: 8 * time.Second}, o.RetryPolicy())
}

// TestAzureWithoutDriver: blobio's core links no Azure SDK; without the
// driver (blobio/azure) Azure URLs are still checked, and opening an
// allowed one is a configuration error.
func TestAzureWithoutDriver(t *testing.T) {
	o := &Opener{AccountName: "acct"}
	_, _, err := o.Open(context.Background(), "abfs://cnt@other.dfs.core.windows.net/x.nc")
	assert.ErrorIs(t, err, ErrSourceNotAllowed)
	_, _, err = o.Open(context.Background(), "abfs://cnt/x.nc")
	assert.ErrorIs(t, err, ErrConfig)
	assert.Contains(t, err.Error(), "blobio/azure")
}

// TestBlobFetcherRanges: ranges from untrusted references are checked
// against the object before a buffer is allocated for them.
func TestBlobFetcherRanges(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data.bin")
	require.NoError(t, os.WriteFile(path, make([]byte, 64), 0o644))
	f := NewBlobFetcher(&Opener{}, 0)
	defer f.Close()
	for _, r := range []struct{ off, n int64 }{
		{1, math.MaxInt64}, {math.MaxInt64, 1}, {65, 0}, {-1, 4}, {60, 8},
	} {
		_, err := f.Fetch(ctx, path, r.off, r.n)
		assert.ErrorIs(t, err, ErrInvalidArgument, "%+v", r)
		var re *RangeError
		require.ErrorAs(t, err, &re)
		assert.False(t, re.TooLong(), "outside the object")
		assert.Equal(t, int64(64), re.Size)
	}
	b, err := f.Fetch(ctx, path, 60, 4)
	require.NoError(t, err)
	assert.Len(t, b, 4)
	assert.True(t, (&RangeError{Length: DefaultMaxFetch + 1, Size: 2 << 30}).TooLong())
}

// TestMetadataReaderOptionsFirstRead: the first request of the metadata
// reader reads a file of known size up to MetadataWholeFileMax whole (then
// reading any of it costs no other request), the first MetadataHeadRead
// bytes of a bigger one, the first MetadataFirstRead bytes when the size
// is unknown; a wrong size costs requests, not correctness.
func TestMetadataReaderOptionsFirstRead(t *testing.T) {
	ctx := context.Background()
	files := map[string][]byte{
		"tiny.nc":  fixture.RandomBytes(2, 5000),
		"mid.nc":   fixture.RandomBytes(3, 300<<10+7),
		"whole.nc": fixture.RandomBytes(4, MetadataWholeFileMax),
		"big.nc":   fixture.RandomBytes(5, 3<<20),
	}
	o := memOpener(t, files)
	for _, tc := range []struct {
		name      string
		size      int64 // told to MetadataReaderOptions
		wantFirst int64
	}{
		{"tiny.nc", 5000, 5000},
		{"tiny.nc", 0, 5000}, // unknown: 256 KiB asked, the file is smaller
		{"mid.nc", 300<<10 + 7, 300<<10 + 7},
		{"mid.nc", 0, MetadataFirstRead},
		{"whole.nc", MetadataWholeFileMax, MetadataWholeFileMax},
		{"big.nc", 3 << 20, MetadataHeadRead},
		{"big.nc", 0, MetadataFirstRead},
		{"mid.nc", 3 << 20, MetadataHeadRead}, // a stale size
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.name, tc.size), func(t *testing.T) {
			obj, err := o.OpenObject(ctx, "mem://arch/"+tc.name, MetadataReaderOptions(tc.size)...)
			require.NoError(t, err)
			defer obj.Close()
			assert.Equal(t, rangeio.Stats{Requests: 1, Bytes: tc.wantFirst}, obj.Stats())
			all, err := io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
			require.NoError(t, err)
			assert.Equal(t, files[tc.name], all)
			if tc.wantFirst == obj.Size() {
				assert.Equal(t, int64(1), obj.Stats().Requests, "read whole by the first request")
			}
		})
	}
}
