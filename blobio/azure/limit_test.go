package azure

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/rangeio"
)

// fakeBlobServer answers ranged GETs of a blob of size bytes, PUTs and
// listings as Azure does, after a delay, and counts the requests in its
// handler at once.
type fakeBlobServer struct {
	delay    time.Duration
	size     int
	inFlight atomic.Int64
	maxSeen  atomic.Int64
	requests atomic.Int64
}

func (f *fakeBlobServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The count ends when the handler returns, before the response (a
	// small one, buffered) is sent.
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for m := f.maxSeen.Load(); n > m && !f.maxSeen.CompareAndSwap(m, n); m = f.maxSeen.Load() {
	}
	f.requests.Add(1)
	time.Sleep(f.delay)
	h := w.Header()
	h.Set("Last-Modified", "Wed, 02 Dec 2026 12:00:00 GMT")
	h.Set("ETag", `"0x8DD000000000001"`)
	h.Set("x-ms-version", "2025-01-05")
	switch {
	case r.Method == http.MethodPut:
		w.WriteHeader(http.StatusCreated)
	case r.URL.Query().Get("comp") == "list":
		h.Set("Content-Type", "application/xml")
		fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://%s/devstoreaccount1" ContainerName="cnt"><Prefix>dir/</Prefix><Blobs><Blob><Name>dir/a.nc</Name><Properties><Last-Modified>Wed, 02 Dec 2026 12:00:00 GMT</Last-Modified><Etag>0x8DD000000000001</Etag><Content-Length>%d</Content-Length><BlobType>BlockBlob</BlobType></Properties></Blob></Blobs><NextMarker /></EnumerationResults>`, r.Host, f.size)
	case r.Method == http.MethodGet:
		rng := r.Header.Get("x-ms-range")
		if rng == "" {
			rng = r.Header.Get("Range")
		}
		from, to := 0, f.size-1
		if a, b, ok := strings.Cut(strings.TrimPrefix(rng, "bytes="), "-"); ok {
			from, _ = strconv.Atoi(a)
			if b != "" {
				to, _ = strconv.Atoi(b)
			}
		}
		to = min(to, f.size-1)
		h.Set("x-ms-blob-type", "BlockBlob")
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to, f.size))
		h.Set("Content-Length", strconv.Itoa(to-from+1))
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(make([]byte, to-from+1))
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// TestEndpointLimit: many concurrent opens, reads, writes and scans
// through one Opener never have more requests in the server's handler at
// once than the Opener's bound (MaxRequestsPerEndpoint), and all of them
// complete; without a bound they do overlap beyond it (so the count can
// fail).
func TestEndpointLimit(t *testing.T) {
	const calls = 24
	ops := map[string]func(ctx context.Context, o *blobio.Opener, i int) error{
		// One ranged GET (the first read, which gives the size).
		"open": func(ctx context.Context, o *blobio.Opener, i int) error {
			obj, err := o.OpenObject(ctx, "abfs://cnt/dir/a.nc", rangeio.WithFirstRead(4<<10), rangeio.WithBlockSize(4<<10))
			if err == nil {
				err = obj.Close()
			}
			return err
		},
		// The first read, then two more ranged GETs at once.
		"read": func(ctx context.Context, o *blobio.Opener, i int) error {
			obj, err := o.OpenObject(ctx, "abfs://cnt/dir/a.nc", rangeio.WithFirstRead(4<<10), rangeio.WithBlockSize(4<<10),
				rangeio.WithCoalesceGap(0))
			if err != nil {
				return err
			}
			defer obj.Close()
			if err := obj.Prefetch(ctx, []rangeio.Range{{Off: 8 << 10, Len: 100}, {Off: 20 << 10, Len: 100}}); err != nil {
				return err
			}
			_, err = obj.ReadAt(make([]byte, 100), 20<<10)
			return err
		},
		"write": func(ctx context.Context, o *blobio.Opener, i int) error {
			return o.WriteAtomic(ctx, fmt.Sprintf("abfs://cnt/out/%d.json", i), func(w io.Writer) error {
				_, err := io.WriteString(w, `{"ok":true}`)
				return err
			})
		},
		"scan": func(ctx context.Context, o *blobio.Opener, i int) error {
			res, err := o.Scan(ctx, "abfs://cnt/dir/", blobio.ScanOptions{})
			if err == nil && res.FileCount != 1 {
				err = fmt.Errorf("scan found %d files, want 1", res.FileCount)
			}
			return err
		},
	}
	tests := []struct {
		op       string
		bound    int // MaxRequestsPerEndpoint
		requests int // the server's count, all calls
	}{
		{"open", 1, calls},
		{"open", 4, calls},
		{"read", 3, 3 * calls},
		{"read", 8, 3 * calls},
		{"write", 2, calls},
		{"write", 5, calls},
		{"scan", 4, calls},
		{"open", -1, calls}, // no bound
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/bound=%d", tc.op, tc.bound), func(t *testing.T) {
			f := &fakeBlobServer{delay: 20 * time.Millisecond, size: 32 << 10}
			srv := httptest.NewServer(f)
			defer srv.Close()
			o := &blobio.Opener{ConnectionString: devstoreConn(srv.URL), MaxRequestsPerEndpoint: tc.bound}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var wg sync.WaitGroup
			errs := make([]error, calls)
			start := make(chan struct{})
			for i := range calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					errs[i] = ops[tc.op](ctx, o, i)
				}()
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				require.NoError(t, err, "call %d", i)
			}
			assert.Equal(t, int64(tc.requests), f.requests.Load(), "requests the server saw")
			if tc.bound > 0 {
				assert.LessOrEqual(t, f.maxSeen.Load(), int64(tc.bound), "requests in the server's handler at once")
				assert.Equal(t, 0, o.EndpointLimiter(strings.TrimPrefix(srv.URL, "http://")).InFlight(), "every slot given back")
			} else {
				assert.Nil(t, o.EndpointLimiter(strings.TrimPrefix(srv.URL, "http://")))
				assert.Greater(t, f.maxSeen.Load(), int64(4), "without a bound, the calls overlap")
			}
		})
	}
}

// TestEndpointLimitWaitIsNotATry: a request that waits for a slot longer
// than the per-try timeout is not timed out by it (the wait is outside the
// try), and a caller whose context ends while it waits gets its error.
func TestEndpointLimitWaitIsNotATry(t *testing.T) {
	f := &fakeBlobServer{delay: 150 * time.Millisecond, size: 1 << 10}
	srv := httptest.NewServer(f)
	defer srv.Close()
	o := &blobio.Opener{ConnectionString: devstoreConn(srv.URL), MaxRequestsPerEndpoint: 1,
		Retry: blobio.RetryOptions{MaxRetries: -1, TryTimeout: 200 * time.Millisecond}}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			obj, err := o.OpenObject(ctx, "abfs://cnt/dir/a.nc", rangeio.WithFirstRead(1<<10))
			if err == nil {
				err = obj.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	// Four requests of 150 ms one at a time: the last waited ~450 ms,
	// beyond the 200 ms try timeout, and still succeeded with no retry.
	for i, err := range errs {
		assert.NoError(t, err, "call %d", i)
	}
	assert.Equal(t, int64(4), f.requests.Load())
	assert.Equal(t, int64(1), f.maxSeen.Load())

	// A caller whose context ends while it waits for the slot.
	lim := o.EndpointLimiter(strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, lim.Acquire(ctx))
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := o.OpenObject(short, "abfs://cnt/dir/a.nc")
	lim.Release()
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, int64(4), f.requests.Load(), "the waiting request was never sent")
}
