package latency_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/latency"
)

// origin serves a 64 KiB body with range support; the first together
// requests are answered only once all of them have arrived.
func origin(t *testing.T, together int) (*url.URL, []byte) {
	t.Helper()
	body := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	var (
		mu      sync.Mutex
		arrived int
		all     = make(chan struct{})
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived++
		if arrived == together {
			close(all)
		}
		wait := arrived <= together
		mu.Unlock()
		if wait {
			<-all
		}
		http.ServeContent(w, r, "blob", time.Time{}, bytes.NewReader(body))
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	return u, body
}

func newProxy(t *testing.T, target *url.URL, cfg latency.Config) *latency.Proxy {
	t.Helper()
	p, err := latency.NewProxy(target, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func get(t *testing.T, u, rng string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestProxyForwardsAndCounts(t *testing.T) {
	target, body := origin(t, 0)
	p := newProxy(t, target, latency.Config{Delay: 5 * time.Millisecond})

	resp, got, err := get(t, p.URL()+"/container/blob?comp=x", "bytes=100-199")
	require.NoError(t, err)
	assert.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, body[100:200], got)
	_, got, err = get(t, p.URL()+"/container/blob", "")
	require.NoError(t, err)
	assert.Equal(t, body, got)

	st := p.Stats()
	assert.EqualValues(t, 2, st.Requests)
	assert.EqualValues(t, 100+len(body), st.Bytes)
	assert.Zero(t, st.Faults)
	require.Len(t, st.Timeline, 2)
	first := st.Timeline[0]
	assert.Equal(t, "/container/blob", first.Path)
	assert.Equal(t, "bytes=100-199", first.Range)
	assert.Equal(t, http.StatusPartialContent, first.Status)
	assert.EqualValues(t, 100, first.Bytes)
	// A timer never fires early: the delay is a lower bound of the time.
	assert.GreaterOrEqual(t, first.End.Sub(first.Start), 5*time.Millisecond)
	// One request after the other: two rounds.
	assert.Equal(t, 2, st.Rounds())

	p.Reset()
	st = p.Stats()
	assert.Zero(t, st.Requests)
	assert.Zero(t, st.Bytes)
	assert.Empty(t, st.Timeline)
}

func TestProxyConcurrentRequestsAreOneRound(t *testing.T) {
	// The origin answers only once all n requests are in flight, so they
	// overlap whatever the machine's load.
	const n = 6
	target, _ := origin(t, n)
	p := newProxy(t, target, latency.Config{})

	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, p.URL()+"/b", nil)
			req.Header.Set("x-ms-range", fmt.Sprintf("bytes=%d-%d", i*10, i*10+9))
			resp, err := http.DefaultClient.Do(req)
			if assert.NoError(t, err) {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	st := p.Stats()
	assert.EqualValues(t, n, st.Requests)
	assert.Equal(t, 1, st.Rounds())

	// Then one more request, after all of them: a second round.
	_, _, err := get(t, p.URL()+"/b", "bytes=0-0")
	require.NoError(t, err)
	assert.Equal(t, 2, p.Stats().Rounds())
}

func TestProxyInjects503(t *testing.T) {
	target, _ := origin(t, 0)
	p := newProxy(t, target, latency.Config{ErrorRate: 1, Seed: 1})
	resp, _, err := get(t, p.URL()+"/b", "")
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "ServerBusy", resp.Header.Get("x-ms-error-code"))
	st := p.Stats()
	assert.EqualValues(t, 1, st.Faults)
	assert.Equal(t, latency.Fault503, st.Timeline[0].Fault)
}

func TestProxyInjectsTimeouts(t *testing.T) {
	target, _ := origin(t, 0)
	p := newProxy(t, target, latency.Config{TimeoutRate: 1, TimeoutHold: 10 * time.Millisecond})
	_, _, err := get(t, p.URL()+"/b", "")
	require.Error(t, err, "the connection is dropped without an answer")
	require.Eventually(t, func() bool { return p.Stats().Requests == 1 }, 5*time.Second, time.Millisecond)
	st := p.Stats()
	assert.EqualValues(t, 1, st.Faults)
	assert.Equal(t, latency.FaultTimeout, st.Timeline[0].Fault)
	assert.Zero(t, st.Timeline[0].Status)
}

func TestProxyFaultRateIsAFraction(t *testing.T) {
	target, _ := origin(t, 0)
	p := newProxy(t, target, latency.Config{ErrorRate: 0.5, Seed: 7})
	const n = 200
	for range n {
		_, _, err := get(t, p.URL()+"/b", "bytes=0-0")
		require.NoError(t, err)
	}
	st := p.Stats()
	// With a fixed seed the count is reproducible; it must be neither all
	// nor none (a binomial(200, 0.5) outside [50, 150] has odds < 1e-12).
	assert.Greater(t, st.Faults, int64(50))
	assert.Less(t, st.Faults, int64(150))
}

func TestProxyBandwidthCap(t *testing.T) {
	target, body := origin(t, 0)
	// 64 KiB at 640 KiB/s take at least 0.1 s.
	p := newProxy(t, target, latency.Config{BytesPerSecond: 640 << 10})
	_, got, err := get(t, p.URL()+"/b", "")
	require.NoError(t, err)
	assert.Equal(t, body, got)
	r := p.Stats().Timeline[0]
	assert.GreaterOrEqual(t, r.End.Sub(r.Start), 90*time.Millisecond)
}

func TestProxySetConfig(t *testing.T) {
	target, _ := origin(t, 0)
	p := newProxy(t, target, latency.Config{})
	require.NoError(t, p.SetConfig(latency.Config{ErrorRate: 1}))
	resp, _, err := get(t, p.URL()+"/b", "")
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.ErrorIs(t, p.SetConfig(latency.Config{Delay: -1}), latency.ErrConfig)
}

func TestNewProxyRejectsBadConfig(t *testing.T) {
	good := &url.URL{Scheme: "http", Host: "127.0.0.1:1"}
	for _, tc := range []struct {
		name   string
		target *url.URL
		cfg    latency.Config
	}{
		{"nil target", nil, latency.Config{}},
		{"no host", &url.URL{Scheme: "http"}, latency.Config{}},
		{"ftp", &url.URL{Scheme: "ftp", Host: "h"}, latency.Config{}},
		{"negative delay", good, latency.Config{Delay: -time.Second}},
		{"negative bandwidth", good, latency.Config{BytesPerSecond: -1}},
		{"rate above one", good, latency.Config{ErrorRate: 1.5}},
		{"rates sum above one", good, latency.Config{ErrorRate: 0.6, TimeoutRate: 0.6}},
		{"negative rate", good, latency.Config{TimeoutRate: -0.1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := latency.NewProxy(tc.target, tc.cfg)
			assert.ErrorIs(t, err, latency.ErrConfig)
		})
	}
}

func TestRounds(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(start, end int) latency.Request {
		return latency.Request{Start: t0.Add(time.Duration(start) * time.Millisecond), End: t0.Add(time.Duration(end) * time.Millisecond)}
	}
	for _, tc := range []struct {
		name string
		rs   []latency.Request
		want int
	}{
		{"none", nil, 0},
		{"one", []latency.Request{at(0, 10)}, 1},
		{"sequential", []latency.Request{at(0, 10), at(10, 20), at(21, 30)}, 3},
		{"all overlapping", []latency.Request{at(0, 10), at(1, 11), at(2, 12)}, 1},
		{"two levels of fan-out", []latency.Request{at(0, 10), at(11, 20), at(11, 25), at(12, 22), at(26, 30)}, 3},
		// A long request in parallel with a chain of short ones: the chain wins.
		{"chain beside a long one", []latency.Request{at(0, 100), at(0, 10), at(10, 20), at(20, 30), at(30, 40)}, 4},
		{"unsorted input", []latency.Request{at(20, 30), at(0, 10), at(10, 20)}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, latency.Rounds(tc.rs))
		})
	}
}

func TestProxyConnectionString(t *testing.T) {
	target, _ := origin(t, 0)
	p := newProxy(t, target, latency.Config{})
	cs, err := p.ConnectionString("DefaultEndpointsProtocol=http;AccountName=a;AccountKey=k==;BlobEndpoint=http://127.0.0.1:10000/a;")
	require.NoError(t, err)
	assert.Equal(t, "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=k==;BlobEndpoint=http://"+p.Addr()+"/a;", cs)
	_, err = p.ConnectionString("AccountName=a;AccountKey=k")
	assert.ErrorIs(t, err, latency.ErrConfig)
}
