package azure

// Integration tests against Azurite, the Azure Storage emulator. They run
// when VZARR_AZURITE=1 or AZURE_STORAGE_CONNECTION_STRING is set (for a
// loopback endpoint) and Azurite answers; otherwise they skip, or fail when
// VZARR_REQUIRE_TOOLS=1. Start Azurite with scripts/azurite start, then
// eval "$(scripts/azurite env)".

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/internal/fixture"
	"github.com/greensight/vzarr/rangeio"
)

func skipOrFail(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("VZARR_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s (VZARR_REQUIRE_TOOLS=1: Azurite is required)", msg)
	}
	t.Skip(msg)
}

// azurite returns an blobio.Opener for Azurite, or skips.
func azurite(t testing.TB) *blobio.Opener {
	t.Helper()
	cs := os.Getenv("AZURE_STORAGE_CONNECTION_STRING")
	if os.Getenv("VZARR_AZURITE") != "1" && cs == "" {
		skipOrFail(t, "Azurite is not configured: run scripts/azurite start; eval \"$(scripts/azurite env)\"")
	}
	if cs == "" {
		cs = devstoreConn("http://127.0.0.1:10000")
	}
	client, err := container.NewClientFromConnectionString(cs, "probe", nil)
	var u *url.URL
	if err == nil {
		u, err = url.Parse(client.URL())
	}
	if err != nil || u.Host == "" {
		skipOrFail(t, "AZURE_STORAGE_CONNECTION_STRING has no BlobEndpoint; the integration tests run only against Azurite")
	}
	switch u.Hostname() {
	case "127.0.0.1", "localhost", "::1":
	default:
		skipOrFail(t, "AZURE_STORAGE_CONNECTION_STRING is not for a loopback emulator; the integration tests run only against Azurite")
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		skipOrFail(t, fmt.Sprintf("Azurite does not answer at %s: %v", u.Host, err))
	}
	_ = c.Close()
	return &blobio.Opener{ConnectionString: cs, Retry: blobio.RetryOptions{MaxRetries: 2, RetryDelay: 100 * time.Millisecond, TryTimeout: 30 * time.Second}}
}

// newContainer creates a container with a unique name, deleted at the end.
func newContainer(t testing.TB, o *blobio.Opener) string {
	t.Helper()
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	name := b.String()
	if len(name) > 40 {
		name = name[:40]
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name += "-" + hex.EncodeToString(rnd[:])
	client := containerClientFor(t, o, name)
	_, err := client.Create(context.Background(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = client.Delete(context.Background(), nil) })
	return name
}

func containerClientFor(t testing.TB, o *blobio.Opener, name string) *container.Client {
	client, err := (&driver{}).containerClient(o, "", name, func(string) string { return "" })
	require.NoError(t, err)
	return client
}

// put uploads objects to a container.
func put(t testing.TB, o *blobio.Opener, containerName string, files map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	b, _, err := o.Open(ctx, "abfs://"+containerName+"/")
	require.NoError(t, err)
	defer b.Close()
	for k, v := range files {
		require.NoError(t, b.WriteAll(ctx, k, v, nil))
	}
}

func exists(t testing.TB, o *blobio.Opener, rawURL string) bool {
	t.Helper()
	b, key, err := o.Open(context.Background(), rawURL)
	require.NoError(t, err)
	defer b.Close()
	ok, err := b.Exists(context.Background(), key)
	require.NoError(t, err)
	return ok
}

func TestAzuriteScan(t *testing.T) {
	o := azurite(t)
	ctx := context.Background()
	c := newContainer(t, o)
	put(t, o, c, fixture.ScanTree())

	res, err := o.Scan(ctx, "abfs://"+c+"/era5", blobio.ScanOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"abfs://" + c + "/era5/a.nc", "abfs://" + c + "/era5/b.nc"}, res.NCFiles)
	assert.Equal(t, int64(30), res.TotalSizeBytes)
	assert.Equal(t, 2, res.FileCount)
	assert.False(t, res.Files[0].LastModified.IsZero())

	res, err = o.Scan(ctx, "az://"+c+"/era5/", blobio.ScanOptions{Recursive: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"az://" + c + "/era5/2020/c.nc", "az://" + c + "/era5/2020/deep/d.nc", "az://" + c + "/era5/a.nc", "az://" + c + "/era5/b.nc"}, res.NCFiles)
	assert.Equal(t, int64(4330), res.TotalSizeBytes)

	res, err = o.Scan(ctx, "abfs://"+c+"@devstoreaccount1.dfs.core.windows.net/era5", blobio.ScanOptions{Pattern: "*.txt", Recursive: true})
	require.NoError(t, err)
	assert.Equal(t, []string{
		"abfs://" + c + "@devstoreaccount1.dfs.core.windows.net/era5/notes.txt",
		"abfs://" + c + "@devstoreaccount1.dfs.core.windows.net/era5/sub.nc/inside.txt",
	}, res.NCFiles)

	res, err = o.Scan(ctx, "azblob://"+c+"/", blobio.ScanOptions{Recursive: true})
	require.NoError(t, err)
	assert.Equal(t, 6, res.FileCount)
	assert.Equal(t, "azblob://"+c+"/era5/2020/c.nc", res.NCFiles[0])

	// Empty prefix: an empty list, no error.
	res, err = o.Scan(ctx, "abfs://"+c+"/no/such/prefix", blobio.ScanOptions{Recursive: true})
	require.NoError(t, err)
	assert.Equal(t, []string{}, res.NCFiles)
	assert.Equal(t, []blobio.FileInfo{}, res.Files)

	// A missing container: blobio.ErrNotFound.
	_, err = o.Scan(ctx, "abfs://no-such-container-"+c[len(c)-8:]+"/x", blobio.ScanOptions{})
	require.Error(t, err)
	assert.ErrorIs(t, err, blobio.ErrNotFound)
	t.Logf("missing container: %v", err)
}

func TestAzuriteReaderAt(t *testing.T) {
	o := azurite(t)
	ctx := context.Background()
	c := newContainer(t, o)
	data := fixture.RandomBytes(1, 3<<20+5)
	put(t, o, c, map[string][]byte{"dir/f.nc": data, "dir/empty.nc": {}, "dir/small.nc": data[:1000]})

	obj, err := o.OpenObject(ctx, "abfs://"+c+"/dir/f.nc")
	require.NoError(t, err)
	defer obj.Close()
	assert.Equal(t, int64(len(data)), obj.Size())
	assert.Equal(t, "abfs://"+c+"/dir/f.nc", obj.RefURL)
	assert.Equal(t, rangeio.Stats{Requests: 1, Bytes: 1 << 20}, obj.Stats(), "open = one request for the first MiB and the size")

	p := make([]byte, 4096)
	for _, off := range []int64{0, 8, 100_000, 1<<20 - 4096} {
		_, err := obj.ReadAt(p, off)
		require.NoError(t, err)
		assert.Equal(t, data[off:off+4096], p)
	}
	assert.Equal(t, int64(1), obj.Stats().Requests, "reads in the first MiB make no request")

	_, err = obj.ReadAt(p, 2<<20+10)
	require.NoError(t, err)
	assert.Equal(t, data[2<<20+10:2<<20+10+4096], p)
	assert.Equal(t, rangeio.Stats{Requests: 2, Bytes: 1<<20 + 64<<10}, obj.Stats())

	// Prefetch of three scattered ranges: three concurrent requests.
	require.NoError(t, obj.Prefetch(ctx, []rangeio.Range{{Off: 1_500_000, Len: 10}, {Off: 2_500_000, Len: 10}, {Off: 3_100_000, Len: 10}}))
	assert.Equal(t, int64(5), obj.Stats().Requests)

	n, err := obj.ReadAt(p, int64(len(data))-10)
	assert.Equal(t, 10, n)
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, data[len(data)-10:], p[:10])

	all, err := io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, all))

	// Small and empty blobs (Azure answers 416 to a range read of an empty blob).
	small, err := o.OpenObject(ctx, "az://"+c+"/dir/small.nc")
	require.NoError(t, err)
	defer small.Close()
	assert.Equal(t, int64(1000), small.Size())
	empty, err := o.OpenObject(ctx, "abfs://"+c+"/dir/empty.nc")
	require.NoError(t, err)
	defer empty.Close()
	assert.Equal(t, int64(0), empty.Size())
	n, err = empty.ReadAt(p, 0)
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, io.EOF)

	// Size from the attributes when the first read is off.
	attrsOnly, err := o.OpenObject(ctx, "abfs://"+c+"/dir/f.nc", rangeio.WithFirstRead(0))
	require.NoError(t, err)
	defer attrsOnly.Close()
	assert.Equal(t, int64(len(data)), attrsOnly.Size())

	_, err = o.OpenObject(ctx, "abfs://"+c+"/dir/missing.nc")
	assert.ErrorIs(t, err, blobio.ErrNotFound)
	_, err = o.OpenObject(ctx, "abfs://no-such-container-"+c[len(c)-8:]+"/x.nc")
	assert.ErrorIs(t, err, blobio.ErrNotFound)

	// A blob replaced while it is open: reads of uncached bytes fail with
	// blobio.ErrChanged rather than mixing versions; cached bytes still read.
	for _, opts := range [][]rangeio.Option{nil, {rangeio.WithFirstRead(0)}} {
		put(t, o, c, map[string][]byte{"dir/g.nc": data})
		g, err := o.OpenObject(ctx, "abfs://"+c+"/dir/g.nc", opts...)
		require.NoError(t, err)
		_, err = g.ReadAt(p, 0)
		require.NoError(t, err)
		put(t, o, c, map[string][]byte{"dir/g.nc": fixture.RandomBytes(2, len(data))})
		_, err = g.ReadAt(p, 2<<20)
		assert.ErrorIs(t, err, blobio.ErrChanged)

		_, err = g.ReadAt(p, 0)
		assert.NoError(t, err)
		g.Close()
	}
}

func TestAzuriteURLForms(t *testing.T) {
	o := azurite(t)
	ctx := context.Background()
	c := newContainer(t, o)
	data := fixture.RandomBytes(3, 5000)
	put(t, o, c, map[string][]byte{"a b/x.nc": data})
	for _, u := range []string{
		"abfs://" + c + "/a b/x.nc",
		"abfss://" + c + "/a b/x.nc",
		"az://" + c + "/a b/x.nc",
		"abfs://" + c + "@devstoreaccount1.dfs.core.windows.net/a b/x.nc",
		"azblob://" + c + "/a%20b/x.nc",
	} {
		obj, err := o.OpenObject(ctx, u)
		require.NoError(t, err, u)
		got, err := io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
		require.NoError(t, err)
		assert.Equal(t, data, got, u)
		assert.True(t, strings.HasPrefix(obj.RefURL, "abfs://"+c), obj.RefURL)
		obj.Close()
	}
}

func TestAzuriteWriteAtomic(t *testing.T) {
	o := azurite(t)
	ctx := context.Background()
	c := newContainer(t, o)
	u := "abfs://" + c + "/refs/combined.json"
	boom := errors.New("encoder failed")

	// Fails after more than one upload block (8 MiB) was staged: no object.
	err := o.WriteAtomic(ctx, u, func(w io.Writer) error {
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		for i := 0; i < 9; i++ {
			if _, err := w.Write(chunk); err != nil {
				return err
			}
		}
		return boom
	})
	assert.ErrorIs(t, err, boom)
	assert.False(t, exists(t, o, u), "a failed large write leaves no object")

	// Fails after a few bytes: no object.
	err = o.WriteAtomic(ctx, u, func(w io.Writer) error {
		_, _ = io.WriteString(w, `{"refs": {`)
		return boom
	})
	assert.ErrorIs(t, err, boom)
	assert.False(t, exists(t, o, u), "a failed small write leaves no object")

	write := func(s string) error {
		return o.WriteAtomic(ctx, u, func(w io.Writer) error { _, err := io.WriteString(w, s); return err })
	}
	read := func() string {
		b, key, err := o.Open(ctx, u)
		require.NoError(t, err)
		defer b.Close()
		got, err := b.ReadAll(ctx, key)
		require.NoError(t, err)
		return string(got)
	}
	require.NoError(t, write(`{"v": 1}`))
	assert.Equal(t, `{"v": 1}`, read())

	// A failed overwrite keeps the old version (large and small failures).
	err = o.WriteAtomic(ctx, u, func(w io.Writer) error {
		_, _ = w.Write(bytes.Repeat([]byte("y"), 9<<20))
		return boom
	})
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, `{"v": 1}`, read())

	// Overwrites replace, and repeating one is harmless.
	require.NoError(t, write(`{"v": 2}`))
	require.NoError(t, write(`{"v": 2}`))
	assert.Equal(t, `{"v": 2}`, read())

	// A large successful write arrives whole.
	big := fixture.RandomBytes(4, 10<<20)
	require.NoError(t, o.WriteAtomic(ctx, u, func(w io.Writer) error { _, err := w.Write(big); return err }))
	assert.Equal(t, string(big), read())

	b, key, err := o.Open(ctx, u)
	require.NoError(t, err)
	attrs, err := b.Attributes(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, "application/json", attrs.ContentType)
	b.Close()

	assert.ErrorIs(t, o.WriteAtomic(ctx, "abfs://no-such-container-"+c[len(c)-8:]+"/x.json",
		func(w io.Writer) error { _, err := io.WriteString(w, "{}"); return err }), blobio.ErrNotFound)
}

// TestAzuriteLatency reads from Azurite through a 20 ms delay before every
// request and reports the round trips and wall time.
func TestAzuriteLatency(t *testing.T) {
	o := azurite(t)
	ctx := context.Background()
	c := newContainer(t, o)
	data := fixture.RandomBytes(5, 16<<20)
	put(t, o, c, map[string][]byte{"f.nc": data})
	var ranges []rangeio.Range
	for i := 0; i < 32; i++ {
		ranges = append(ranges, rangeio.Range{Off: int64(2<<20 + i*400_000), Len: 4096})
	}
	for _, tc := range []struct {
		name     string
		opts     []rangeio.Option
		prefetch bool
		want     int64
	}{
		{"open + first MiB in 4 KiB reads", nil, false, 1},
		{"open + first MiB in 4 KiB reads, no first read", []rangeio.Option{rangeio.WithFirstRead(0)}, false, 17},
		{"open + first MiB + 32 scattered 4 KiB reads", nil, false, 33},
		{"open + first MiB + the 32 reads after one Prefetch", nil, true, 33},
	} {
		lt := &latencyTransport{delay: 20 * time.Millisecond}
		b, err := (&driver{transport: lt}).OpenContainer(ctx, o, "", c, func(string) string { return "" })
		require.NoError(t, err)
		start := time.Now()
		r, err := blobio.NewReaderAt(ctx, b, "f.nc", tc.opts...)
		require.NoError(t, err)
		for off := int64(0); off < 1<<20; off += 4096 {
			p := make([]byte, 4096)
			_, err := r.ReadAt(p, off)
			require.NoError(t, err)
		}
		if tc.want > 17 {
			if tc.prefetch {
				require.NoError(t, r.Prefetch(ctx, ranges))
			}
			for _, rg := range ranges {
				p := make([]byte, rg.Len)
				_, err := r.ReadAt(p, rg.Off)
				require.NoError(t, err)
				assert.Equal(t, data[rg.Off:rg.Off+rg.Len], p)
			}
		}
		t.Logf("azurite + 20 ms/request: %-52s %3d requests %6.0f ms", tc.name, lt.requests.Load(), float64(time.Since(start).Microseconds())/1000)
		assert.Equal(t, tc.want, lt.requests.Load())
		require.NoError(t, b.Close())
	}
}

// latencyTransport delays every request and counts them, to model
// Azure's 20-50 ms per request.
type latencyTransport struct {
	delay    time.Duration
	requests atomic.Int64
}

func (l *latencyTransport) Do(req *http.Request) (*http.Response, error) {
	l.requests.Add(1)
	time.Sleep(l.delay)
	return http.DefaultClient.Do(req)
}

// BenchmarkAzuriteScan10k lists 10,000 blobs (target: well under 3 s per
// scan). Setup uploads them once per Azurite instance.
func BenchmarkAzuriteScan10k(b *testing.B) {
	o := azurite(b)
	ctx := context.Background()
	const n = 10_000
	const name = "bench-scan-10k"
	client := containerClientFor(b, o, name)
	if _, err := client.Create(ctx, nil); err == nil || !strings.Contains(err.Error(), "ContainerAlreadyExists") {
		if err != nil {
			b.Fatal(err)
		}
	}
	res, err := o.Scan(ctx, "abfs://"+name+"/data", blobio.ScanOptions{})
	require.NoError(b, err)
	if res.FileCount != n {
		start := time.Now()
		bucket, _, err := o.Open(ctx, "abfs://"+name+"/")
		require.NoError(b, err)
		keys := make(chan string)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		for w := 0; w < 32; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range keys {
					if err := bucket.WriteAll(ctx, k, []byte("CDF\x01"), nil); err != nil {
						mu.Lock()
						firstErr = errors.Join(firstErr, err)
						mu.Unlock()
					}
				}
			}()
		}
		for i := 0; i < n; i++ {
			keys <- fmt.Sprintf("data/era5_%05d.nc", i)
		}
		close(keys)
		wg.Wait()
		bucket.Close()
		require.NoError(b, firstErr)
		b.Logf("uploaded %d blobs in %v", n, time.Since(start).Round(time.Millisecond))
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := o.Scan(ctx, "abfs://"+name+"/data", blobio.ScanOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if res.FileCount != n {
			b.Fatalf("got %d files", res.FileCount)
		}
	}
	b.ReportMetric(float64(n), "blobs/op")
}

// TestAzuriteObjectsConditions: Put Blob with If-None-Match: * and
// If-Match: ETAG; the ETags Put and Get return are the service's.
func TestAzuriteObjectsConditions(t *testing.T) {
	o := azurite(t)
	ctx := context.Background()
	c := newContainer(t, o)
	s, err := o.OpenObjects(ctx, "abfs://"+c+"/db/")
	require.NoError(t, err)
	defer s.Close()
	v1, err := s.Put(ctx, "x", []byte("one"), blobio.Condition{IfNoneMatch: true})
	require.NoError(t, err)
	_, err = s.Put(ctx, "x", []byte("two"), blobio.Condition{IfNoneMatch: true})
	require.ErrorIs(t, err, blobio.ErrPrecondition, "the blob exists")
	_, _, etag, err := s.Stat(ctx, "x")
	require.NoError(t, err)
	assert.Equal(t, v1, etag, "Put returns the blob's ETag")
	v2, err := s.Put(ctx, "x", []byte("two"), blobio.Condition{IfMatch: v1})
	require.NoError(t, err)
	_, err = s.Put(ctx, "x", []byte("three"), blobio.Condition{IfMatch: v1})
	require.ErrorIs(t, err, blobio.ErrPrecondition, "a stale ETag")
	data, v, err := s.Get(ctx, "x")
	require.NoError(t, err)
	assert.Equal(t, "two", string(data))
	assert.Equal(t, v2, v, "Get returns the ETag of the bytes it read")
}

// TestAzuriteHeadCache: an open from a kept head makes no request for it
// and reads past it conditionally on the head's ETag: a blob replaced
// since the head was read gives blobio.ErrChanged, never a mix of two
// versions; an unchanged blob reads through.
func TestAzuriteHeadCache(t *testing.T) {
	o := azurite(t)
	ctx := context.Background()
	c := newContainer(t, o)
	data := fixture.RandomBytes(4, 3<<20)
	url := "abfs://" + c + "/dir/h.nc"
	opts := []rangeio.Option{rangeio.WithFirstRead(64 << 10), rangeio.WithBlockSize(16 << 10)}
	p := make([]byte, 100)
	for _, replaced := range []bool{false, true} {
		put(t, o, c, map[string][]byte{"dir/h.nc": data})
		heads := blobio.NewHeadCache(0, 0)
		first, err := o.OpenObject(ctx, url, opts...)
		require.NoError(t, err)
		require.True(t, heads.Keep(first))
		require.NoError(t, first.Close())
		if replaced {
			put(t, o, c, map[string][]byte{"dir/h.nc": fixture.RandomBytes(5, len(data))})
		}
		obj, err := heads.Open(ctx, o, url, opts...)
		require.NoError(t, err)
		assert.Equal(t, rangeio.Stats{}, obj.Stats(), "no request for the head")
		_, err = obj.ReadAt(p, 1000)
		require.NoError(t, err)
		assert.Equal(t, data[1000:1100], p, "the head's bytes")
		_, err = obj.ReadAt(p, 2<<20)
		if replaced {
			assert.ErrorIs(t, err, blobio.ErrChanged)
		} else {
			require.NoError(t, err)
			assert.Equal(t, data[2<<20:2<<20+100], p)
			assert.Equal(t, int64(1), obj.Stats().Requests)
		}
		require.NoError(t, obj.Close())
	}
}
