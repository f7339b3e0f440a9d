package blobio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	"gocloud.dev/blob/driver"

	"github.com/greensight/vzarr/rangeio"
)

func randomBytes(seed uint64, n int) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	p := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(p)
	return p
}

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

var scanFiles = map[string][]byte{
	"era5/b.nc":              make([]byte, 20),
	"era5/a.nc":              make([]byte, 10),
	"era5/notes.txt":         make([]byte, 5),
	"era5/A.NC":              make([]byte, 1),
	"era5/2020/c.nc":         make([]byte, 300),
	"era5/2020/deep/d.nc":    make([]byte, 4000),
	"era5x/e.nc":             make([]byte, 7), // same prefix string, other "directory"
	"other/f.nc":             make([]byte, 1),
	"era5/2021/readme.md":    make([]byte, 1),
	"era5/sub.nc/inside.txt": make([]byte, 1),
}

func TestScanMem(t *testing.T) {
	ctx := context.Background()
	o := memOpener(t, scanFiles)

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
	assert.Equal(t, "not_found", ErrorType(err))

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
	for k, v := range scanFiles {
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
	data := randomBytes(1, 3<<20+123)
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
	data := randomBytes(2, 100_000)
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
	data := randomBytes(3, 32<<20)
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
	start = time.Now()
	r, lb = open()
	for _, rg := range ranges {
		p := make([]byte, rg.Len)
		_, err := r.ReadAt(p, rg.Off)
		require.NoError(t, err)
	}
	report("open + 64 scattered 4 KiB reads, one by one", start, lb, 65)

	start = time.Now()
	r, lb = open()
	require.NoError(t, r.Prefetch(ctx, ranges))
	for _, rg := range ranges {
		p := make([]byte, rg.Len)
		_, err := r.ReadAt(p, rg.Off)
		require.NoError(t, err)
	}
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

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	o := &Opener{}
	_, _, err := o.Open(ctx, "s3://bucket/x.nc")
	assert.ErrorIs(t, err, ErrInvalidURL)
	assert.Equal(t, "invalid_url", ErrorType(err))
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

// fakeCredential stands in for DefaultAzureCredential; these tests make no
// request with it.
type fakeCredential struct{}

func (fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("fake credential")
}

// TestAccountSelection: which endpoint and authentication each URL gets
// (clients are built without any request).
func TestAccountSelection(t *testing.T) {
	conn := devstoreConn("http://127.0.0.1:10000")
	for _, tc := range []struct {
		name string
		o    *Opener
		url  string
		want string // container client URL, or an error kind
	}{
		{"conn string, no account in URL", &Opener{ConnectionString: conn}, "abfs://cnt/x.nc", "http://127.0.0.1:10000/devstoreaccount1/cnt"},
		{"conn string, its account in URL", &Opener{ConnectionString: conn}, "az://cnt@devstoreaccount1.dfs.core.windows.net/x.nc", "http://127.0.0.1:10000/devstoreaccount1/cnt"},
		{"conn string, another account in URL", &Opener{ConnectionString: conn, Credential: fakeCredential{}}, "abfs://cnt@other.dfs.core.windows.net/x.nc", "source_not_allowed"},
		{"another account in URL, configured", &Opener{ConnectionString: conn, Accounts: []string{"other"}, Credential: fakeCredential{}}, "abfs://cnt@other.dfs.core.windows.net/x.nc", "https://other.blob.core.windows.net/cnt"},
		{"another account in URL, allowed host", &Opener{ConnectionString: conn, AllowedHosts: []string{"other.blob.core.windows.net"}, Credential: fakeCredential{}}, "abfs://cnt@OTHER.dfs.core.windows.net/x.nc", "https://other.blob.core.windows.net/cnt"},
		{"conn string, configured account differs", &Opener{ConnectionString: conn, AccountName: "mine", Credential: fakeCredential{}}, "abfs://cnt/x.nc", "https://mine.blob.core.windows.net/cnt"},
		{"conn string, configured account same", &Opener{ConnectionString: conn, AccountName: "devstoreaccount1"}, "abfs://cnt/x.nc", "http://127.0.0.1:10000/devstoreaccount1/cnt"},
		{"account from config", &Opener{AccountName: "acct", Credential: fakeCredential{}}, "abfs://cnt/x.nc", "https://acct.blob.core.windows.net/cnt"},
		{"account in URL wins", &Opener{AccountName: "acct", Accounts: []string{"urlacct"}, Credential: fakeCredential{}}, "abfss://cnt@urlacct.dfs.core.usgovcloudapi.net/x.nc", "https://urlacct.blob.core.usgovcloudapi.net/cnt"},
		{"account in URL, not configured", &Opener{AccountName: "acct", Credential: fakeCredential{}}, "abfss://cnt@urlacct.dfs.core.usgovcloudapi.net/x.nc", "source_not_allowed"},
		{"account path form", &Opener{AccountName: "acct", Accounts: []string{"bronze"}, Credential: fakeCredential{}}, "abfs://bronze/cnt/x.nc", "https://bronze.blob.core.windows.net/cnt"},
		{"account path form, conn strings", &Opener{ConnectionString: conn, Accounts: []string{"bronze"}, ConnectionStrings: []string{devstoreConnFor("silver", "http://127.0.0.1:10000"), devstoreConnFor("bronze", "http://127.0.0.1:10000")}}, "abfs://bronze/cnt/x.nc", "http://127.0.0.1:10000/bronze/cnt"},
		{"azblob with storage_account", &Opener{Accounts: []string{"qacct"}, Credential: fakeCredential{}}, "azblob://cnt/x.nc?storage_account=qacct", "https://qacct.blob.core.windows.net/cnt"},
		{"azblob, unconfigured storage_account", &Opener{Credential: fakeCredential{}}, "azblob://cnt/x.nc?storage_account=qacct", "source_not_allowed"},
		{"azblob, Azurite by query", &Opener{AllowedHosts: []string{"127.0.0.1:10000"}, Credential: fakeCredential{}}, "azblob://cnt/x.nc?storage_account=devstoreaccount1&domain=127.0.0.1:10000&protocol=https", "https://127.0.0.1:10000/devstoreaccount1/cnt"},
		{"azblob, other host by query", &Opener{AccountName: "devstoreaccount1", Credential: fakeCredential{}}, "azblob://cnt/x.nc?storage_account=devstoreaccount1&domain=evil.example&protocol=https", "source_not_allowed"},
		{"azblob via conn string", &Opener{ConnectionString: conn}, "azblob://cnt/x.nc", "http://127.0.0.1:10000/devstoreaccount1/cnt"},
		{"no account", &Opener{Credential: fakeCredential{}}, "abfs://cnt/x.nc", "config_error"},
		{"azblob, no account", &Opener{Credential: fakeCredential{}}, "azblob://cnt/x.nc", "config_error"},
		{"azblob, bad query", &Opener{Credential: fakeCredential{}}, "azblob://cnt/x.nc?storage_account=a&nonsense=1", "invalid_url"},
		{"azblob, bad protocol", &Opener{Credential: fakeCredential{}}, "azblob://cnt/x.nc?storage_account=a&protocol=ftp", "invalid_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _, err := tc.o.Open(context.Background(), tc.url)
			if !strings.Contains(tc.want, "://") {
				require.Error(t, err)
				assert.Equal(t, tc.want, ErrorType(err))
				return
			}
			require.NoError(t, err)
			defer b.Close()
			var client *container.Client
			require.True(t, b.As(&client))
			assert.Equal(t, tc.want, client.URL())
		})
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

func TestClientOptionsDefaults(t *testing.T) {
	o := &Opener{}
	r := o.clientOptions().Retry
	assert.Equal(t, policy.RetryOptions{MaxRetries: 3, TryTimeout: 60 * time.Second, RetryDelay: 500 * time.Millisecond, MaxRetryDelay: 8 * time.Second}, r)
	o.Retry = policy.RetryOptions{MaxRetries: -1, TryTimeout: time.Second}
	r = o.clientOptions().Retry
	assert.Equal(t, int32(-1), r.MaxRetries)
	assert.Equal(t, time.Second, r.TryTimeout)
}

func TestErrorType(t *testing.T) {
	assert.Equal(t, "", ErrorType(nil))
	assert.Equal(t, "error", ErrorType(errors.New("x")))
	assert.Equal(t, "unavailable", ErrorType(&Error{Op: "scan", Kind: ErrUnavailable, Err: errors.New("x")}))
	assert.Equal(t, "permission_denied", ErrorType(fmt.Errorf("w: %w", ErrPermission)))
	assert.Equal(t, "canceled", ErrorType(context.Canceled))
	assert.Equal(t, "timeout", ErrorType(context.DeadlineExceeded))
}

// devstoreConn is Azurite's well-known development connection string (a
// public key that works only against the emulator) for an endpoint.
func devstoreConn(endpoint string) string {
	return "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=" + endpoint + "/devstoreaccount1;"
}

// devstoreConnFor is a connection string of another emulator account (the
// devstoreaccount1 key, which no request uses here).
func devstoreConnFor(account, endpoint string) string {
	return "DefaultEndpointsProtocol=http;AccountName=" + account + ";AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=" + endpoint + "/" + account + ";"
}

// TestStorageDownClosedPort: with nothing listening, the error comes after
// the bounded retries, quickly, and says what happened.
func TestStorageDownClosedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	o := &Opener{
		ConnectionString: devstoreConn("http://" + addr),
		Retry:            policy.RetryOptions{MaxRetries: 2, RetryDelay: 50 * time.Millisecond, TryTimeout: time.Second},
	}
	// The bounded retries end the call, not the test's own deadline.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = o.Scan(ctx, "abfs://cnt/dir", ScanOptions{})
	require.Error(t, err)
	t.Logf("closed port: %v", err)
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.NoError(t, ctx.Err(), "the retries ended before the test's deadline")
	assert.Equal(t, "unavailable", ErrorType(err))
	assert.Contains(t, err.Error(), "connection refused")
	assert.Contains(t, err.Error(), "abfs://cnt/dir")
	assert.Contains(t, err.Error(), "gave up after 3 tries, each with a 1s timeout")

	_, err = o.OpenObject(ctx, "abfs://cnt/x.nc")
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.NoError(t, ctx.Err(), "the retries ended before the test's deadline")
}

// TestStorageDownHang: a server that accepts connections and never answers;
// the per-try timeout and bounded retries end the wait.
func TestStorageDownHang(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	var conns []net.Conn
	var accepted atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conns = append(conns, c) // hold it open, say nothing
		}
	}()
	defer func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	}()

	o := &Opener{
		ConnectionString: devstoreConn("http://" + l.Addr().String()),
		Retry:            policy.RetryOptions{MaxRetries: 1, RetryDelay: 50 * time.Millisecond, TryTimeout: 300 * time.Millisecond},
	}
	// The per-try timeout and the bounded retries end the call, not the
	// test's own deadline: two tries, two connections left unanswered.
	tctx, tcancel := context.WithTimeout(context.Background(), time.Minute)
	defer tcancel()
	_, err = o.Scan(tctx, "abfs://cnt/dir", ScanOptions{})
	require.Error(t, err)
	t.Logf("hanging server: %v", err)
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.NoError(t, tctx.Err(), "the retries ended before the test's deadline")
	assert.Contains(t, err.Error(), "gave up after 2 tries, each with a 300ms timeout")
	assert.Equal(t, int32(2), accepted.Load(), "two tries")

	// The caller's own deadline is reported as such.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = o.Scan(ctx, "abfs://cnt/dir", ScanOptions{})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, "timeout", ErrorType(err))
}
