package blobio

import (
	"strings"
	"sync"

	"github.com/greensight/vzarr/rangeio"
)

// DefaultMaxRequestsPerEndpoint is the default of
// Opener.MaxRequestsPerEndpoint: as many requests as the process's
// metadata reads may have in flight (MaxMetadataRequests), so that it does
// not slow a big file's prefetch, while a server that serves a request in
// 5-30 ms of CPU (Azurite) holds at most a few seconds of queue, far
// below the per-try timeout (DefaultTryTimeout). Measured: the 10,000-file
// archive in a shared Azurite saw 83 GETs wait past 60 s in its queue.
const DefaultMaxRequestsPerEndpoint = MaxMetadataRequests

// endpointLimiters holds an Opener's limiter per storage endpoint.
type endpointLimiters struct {
	mu sync.Mutex
	m  map[string]*rangeio.Limiter
}

// EndpointLimiter returns the limiter of the requests to a storage
// endpoint (host, or host:port; case does not matter), shared by every
// request of the Opener to it: MaxRequestsPerEndpoint slots
// (DefaultMaxRequestsPerEndpoint when 0), or nil for no bound (< 0).
//
// Drivers take a slot (rangeio.Limiter.Acquire, with the caller's
// context) before a request is sent and outside its retries, so that a
// request beyond the bound waits in the process, where no per-try timeout
// runs, instead of in the server's queue, where it does; they give it
// back when the response's headers have arrived or the request failed,
// and hold it through the retry delays. A download's body streams after
// that. The Azure driver limits every request: ranged reads, writes,
// listings and deletes. Local files and mem:// buckets are not limited.
func (o *Opener) EndpointLimiter(host string) *rangeio.Limiter {
	n := o.MaxRequestsPerEndpoint
	if n < 0 {
		return nil
	}
	if n == 0 {
		n = DefaultMaxRequestsPerEndpoint
	}
	host = strings.ToLower(host)
	l := &o.endpoints
	l.mu.Lock()
	defer l.mu.Unlock()
	if lim, ok := l.m[host]; ok {
		return lim
	}
	if l.m == nil {
		l.m = map[string]*rangeio.Limiter{}
	}
	lim := rangeio.NewLimiter(n)
	l.m[host] = lim
	return lim
}
