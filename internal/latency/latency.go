// Package latency is a test harness for remote storage: an HTTP reverse
// proxy, put in front of a storage emulator (Azurite), that makes it behave
// like storage far away. Every request waits a configurable delay (plus
// optional jitter) before it is forwarded, response bodies can be capped to
// a bandwidth, and a fraction of the requests can be answered with a 503 or
// left hanging (a timeout). The proxy records every request it served, with
// its start and end times, so that a benchmark can count the requests, the
// bytes and the dependent rounds a reader needed (Stats.Rounds).
//
// It is used by tests (NewProxy, then point the client at Proxy.URL) and by
// the benchmark command internal/latency/cmd/vzarr-remotebench.
package latency

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultTimeoutHold is how long a request chosen for an injected timeout is
// held before its connection is dropped, when Config.TimeoutHold is zero.
const DefaultTimeoutHold = 30 * time.Second

// Config is the behaviour of a Proxy. The zero Config forwards every
// request at once and only records it.
type Config struct {
	// Delay is added to every request before it is forwarded (a round
	// trip to storage far away).
	Delay time.Duration
	// Jitter adds a random extra delay in [0, Jitter) to every request.
	Jitter time.Duration
	// BytesPerSecond caps the speed at which each response body is sent
	// (0: no cap).
	BytesPerSecond int64
	// ErrorRate is the fraction of requests (in [0, 1]) answered with
	// 503 Server Busy instead of being forwarded.
	ErrorRate float64
	// TimeoutRate is the fraction of requests (in [0, 1]) that get no
	// answer: the proxy holds them for TimeoutHold (or until the client
	// gives up), then drops the connection.
	TimeoutRate float64
	// TimeoutHold is how long an injected timeout holds its request
	// (default DefaultTimeoutHold).
	TimeoutHold time.Duration
	// Seed makes the jitter and the injected faults reproducible; 0 takes
	// a random seed.
	Seed uint64
}

// Fault says what the proxy did to a request instead of forwarding it.
type Fault string

// The faults a Proxy injects.
const (
	FaultNone    Fault = ""
	Fault503     Fault = "503"
	FaultTimeout Fault = "timeout"
)

// Request is one request the proxy served.
type Request struct {
	Method string
	Path   string // the URL path, without the query
	Range  string // the Range (or x-ms-range) header, if any
	Status int    // the status sent (0 for a dropped connection)
	Bytes  int64  // response body bytes sent to the client
	Fault  Fault
	// Start is when the request reached the proxy, End when its response
	// was fully sent (or the connection dropped).
	Start, End time.Time
}

// Stats is what a Proxy served since it started or was last Reset.
type Stats struct {
	Requests int64 // requests served, faults included
	Bytes    int64 // response body bytes sent
	Faults   int64 // requests answered with an injected fault
	// Timeline holds every request, in the order they ended.
	Timeline []Request
}

// Rounds is the number of dependent rounds in the timeline: the longest
// chain of requests each of which started after the previous one ended.
// Requests in flight together count as one round; a reader that waits for
// each answer before asking the next question makes as many rounds as
// requests. With a delay much larger than the time a request takes to
// serve, it is the length of the reader's longest chain of dependent
// requests.
func (s Stats) Rounds() int { return Rounds(s.Timeline) }

// Rounds is the longest chain of requests in rs each of which started
// after the previous one ended (see Stats.Rounds).
func Rounds(rs []Request) int {
	n := len(rs)
	byStart, byEnd := make([]int, n), make([]int, n)
	for i := range rs {
		byStart[i], byEnd[i] = i, i
	}
	sort.SliceStable(byStart, func(a, b int) bool { return rs[byStart[a]].Start.Before(rs[byStart[b]].Start) })
	sort.SliceStable(byEnd, func(a, b int) bool { return rs[byEnd[a]].End.Before(rs[byEnd[b]].End) })
	// chain[i]: the longest chain ending with request i. Walking requests
	// by start, every request that ended by the time this one started is
	// folded into best, the longest chain among them (a request ends
	// after it starts, so its chain is already known).
	chain := make([]int, n)
	best, e, longest := 0, 0, 0
	for _, i := range byStart {
		for e < n && !rs[byEnd[e]].End.After(rs[i].Start) {
			best = max(best, chain[byEnd[e]])
			e++
		}
		chain[i] = best + 1
		longest = max(longest, chain[i])
	}
	return longest
}

// Proxy is a reverse proxy on a loopback port in front of a target server.
// It is safe for concurrent use.
type Proxy struct {
	cfg    Config
	target *url.URL
	ln     net.Listener
	srv    *http.Server
	rp     *httputil.ReverseProxy

	mu       sync.Mutex
	inflight int // requests being served
	rng      *rand.Rand
	timeline []Request
	bytes    int64
	faults   int64
}

// ErrConfig is wrapped by the errors of NewProxy for a Config it cannot
// follow.
var ErrConfig = errors.New("latency: invalid config")

// NewProxy starts a proxy to target (scheme and host; a path is ignored)
// on 127.0.0.1 at a free port. Close it when done.
func NewProxy(target *url.URL, cfg Config) (*Proxy, error) {
	if target == nil || target.Host == "" || (target.Scheme != "http" && target.Scheme != "https") {
		return nil, fmt.Errorf("%w: target %v is not an http(s) URL with a host", ErrConfig, target)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("latency: listen: %w", err)
	}
	t := &url.URL{Scheme: target.Scheme, Host: target.Host}
	p := &Proxy{cfg: cfg, target: t, ln: ln, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(t)
			pr.Out.Host = pr.In.Host // signatures may cover the Host the client used
		},
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: time.Minute}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// URL returns the proxy's base URL (http://127.0.0.1:PORT).
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Addr returns the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Config returns the proxy's configuration.
func (p *Proxy) Config() Config { return p.cfg }

// SetConfig changes the behaviour for the requests that arrive from now on
// (a benchmark sweeps the delay on one proxy). The Seed is not used again.
func (p *Proxy) SetConfig(cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.cfg = cfg
	p.mu.Unlock()
	return nil
}

// withDefaults checks c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	switch {
	case c.Delay < 0 || c.Jitter < 0 || c.BytesPerSecond < 0 || c.TimeoutHold < 0:
		return c, fmt.Errorf("%w: negative delay, jitter, bandwidth or timeout hold", ErrConfig)
	case !(c.ErrorRate >= 0 && c.TimeoutRate >= 0 && c.ErrorRate+c.TimeoutRate <= 1):
		return c, fmt.Errorf("%w: fault rates %g (503) and %g (timeout) must be in [0, 1] and sum to at most 1", ErrConfig, c.ErrorRate, c.TimeoutRate)
	}
	if c.TimeoutHold == 0 {
		c.TimeoutHold = DefaultTimeoutHold
	}
	return c, nil
}

// StatsWait bounds how long Stats waits for the requests in flight.
const StatsWait = 2 * time.Second

// Stats returns what the proxy served since it started or was last Reset.
// A client may have read a whole response a moment before the proxy's
// handler returns, so Stats first waits for the requests in flight to end
// (at most StatsWait); requests still in flight then are not in it.
func (p *Proxy) Stats() Stats {
	deadline := time.Now().Add(StatsWait)
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.inflight > 0 && time.Now().Before(deadline) {
		p.mu.Unlock()
		time.Sleep(time.Millisecond)
		p.mu.Lock()
	}
	return Stats{
		Requests: int64(len(p.timeline)),
		Bytes:    p.bytes,
		Faults:   p.faults,
		Timeline: slices.Clone(p.timeline),
	}
}

// Reset forgets the requests served so far.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timeline = nil
	p.bytes = 0
	p.faults = 0
}

// Close stops the proxy: it stops listening and drops the connections.
func (p *Proxy) Close() error {
	err := p.srv.Close()
	if t, ok := p.rp.Transport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
	return err
}

// draw decides the fate of a request: its delay and its fault.
func (p *Proxy) draw() (Config, time.Duration, Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cfg := p.cfg
	d := cfg.Delay
	if cfg.Jitter > 0 {
		d += time.Duration(p.rng.Int64N(int64(cfg.Jitter)))
	}
	fault := FaultNone
	if cfg.ErrorRate > 0 || cfg.TimeoutRate > 0 {
		switch x := p.rng.Float64(); {
		case x < cfg.ErrorRate:
			fault = Fault503
		case x < cfg.ErrorRate+cfg.TimeoutRate:
			fault = FaultTimeout
		}
	}
	return cfg, d, fault
}

// ServeHTTP implements http.Handler: delay, maybe a fault, else forward.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Request{Method: r.Method, Path: r.URL.Path, Start: time.Now()}
	if rec.Range = r.Header.Get("x-ms-range"); rec.Range == "" {
		rec.Range = r.Header.Get("Range")
	}
	cfg, delay, fault := p.draw()
	p.mu.Lock()
	p.inflight++
	p.mu.Unlock()
	rec.Fault = fault
	cw := &countingWriter{w: w, bps: cfg.BytesPerSecond}
	defer func() {
		rec.End = time.Now()
		rec.Status = cw.status
		rec.Bytes = cw.n
		p.mu.Lock()
		p.inflight--
		p.timeline = append(p.timeline, rec)
		p.bytes += cw.n
		if fault != FaultNone {
			p.faults++
		}
		p.mu.Unlock()
	}()
	if !sleep(r, delay) {
		return // the client gave up during the delay
	}
	switch fault {
	case Fault503:
		cw.Header().Set("x-ms-error-code", "ServerBusy")
		cw.Header().Set("Content-Type", "application/xml")
		cw.WriteHeader(http.StatusServiceUnavailable)
		_, _ = cw.Write([]byte(`<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>latency: injected 503</Message></Error>`))
		return
	case FaultTimeout:
		sleep(r, cfg.TimeoutHold)
		panic(http.ErrAbortHandler) // drop the connection without an answer
	}
	cw.start = time.Now()
	p.rp.ServeHTTP(cw, r)
}

// sleep waits d, or less if the client goes away; it reports whether the
// client is still there.
func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// countingWriter counts the body bytes written and paces them to bps.
type countingWriter struct {
	w      http.ResponseWriter
	bps    int64
	start  time.Time
	n      int64
	status int
}

func (c *countingWriter) Header() http.Header { return c.w.Header() }

func (c *countingWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.w.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.bps <= 0 {
		n, err := c.w.Write(b)
		c.n += int64(n)
		return n, err
	}
	// Send in slices of at most 1/20 s of bandwidth, each when the cap
	// allows it.
	chunk := max(c.bps/20, 512)
	written := 0
	for len(b) > 0 {
		k := min(int64(len(b)), chunk)
		due := c.start.Add(time.Duration(float64(c.n+k) / float64(c.bps) * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		n, err := c.w.Write(b[:k])
		c.n += int64(n)
		written += n
		if err != nil {
			return written, err
		}
		if f, ok := c.w.(http.Flusher); ok {
			f.Flush()
		}
		b = b[k:]
	}
	return written, nil
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.w }

// Flush implements http.Flusher.
func (c *countingWriter) Flush() {
	if f, ok := c.w.(http.Flusher); ok {
		f.Flush()
	}
}

// ConnectionString returns the Azure connection string cs with its
// BlobEndpoint moved to the proxy (same account path), so that a client
// configured with it reaches the target through the proxy. cs must have a
// BlobEndpoint (an emulator's connection string does).
func (p *Proxy) ConnectionString(cs string) (string, error) {
	parts := strings.Split(cs, ";")
	found := false
	for i, part := range parts {
		k, v, ok := strings.Cut(part, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "BlobEndpoint") {
			continue
		}
		u, err := url.Parse(strings.TrimSpace(v))
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("%w: BlobEndpoint %q is not a URL", ErrConfig, v)
		}
		u.Scheme, u.Host = "http", p.Addr()
		parts[i] = k + "=" + u.String()
		found = true
	}
	if !found {
		return "", fmt.Errorf("%w: the connection string has no BlobEndpoint", ErrConfig)
	}
	return strings.Join(parts, ";"), nil
}
