package main

import (
	"container/list"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of the submit rate limit.
const (
	// DefaultSubmitRate is the submits per second a caller may sustain.
	DefaultSubmitRate = 1.0
	// DefaultSubmitBurst is the submits a caller may make at once.
	DefaultSubmitBurst = 20
	// maxRateKeys bounds the callers whose buckets are kept; the least
	// recently seen is forgotten first (it then starts again with a full
	// bucket).
	maxRateKeys = 10000
)

// rateLimiter is a token bucket per caller, for at most maxKeys callers
// (least recently used evicted). It is safe for concurrent use.
type rateLimiter struct {
	limit   rate.Limit
	burst   int
	maxKeys int
	now     func() time.Time

	mu    sync.Mutex
	order *list.List // of *rateEntry, most recent first
	byKey map[string]*list.Element
}

type rateEntry struct {
	key string
	lim *rate.Limiter
}

// newRateLimiter returns a limiter of perSecond submits per second with
// bursts of burst, or nil (no limit) when perSecond is 0.
func newRateLimiter(perSecond float64, burst int) *rateLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &rateLimiter{limit: rate.Limit(perSecond), burst: max(burst, 1), maxKeys: maxRateKeys, now: time.Now,
		order: list.New(), byKey: map[string]*list.Element{}}
}

// allow takes a token from key's bucket. When the bucket is empty it
// returns false and how long until a token is there.
func (l *rateLimiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lim *rate.Limiter
	if el, ok := l.byKey[key]; ok {
		l.order.MoveToFront(el)
		lim = el.Value.(*rateEntry).lim
	} else {
		lim = rate.NewLimiter(l.limit, l.burst)
		l.byKey[key] = l.order.PushFront(&rateEntry{key: key, lim: lim})
		for l.order.Len() > l.maxKeys {
			old := l.order.Back()
			l.order.Remove(old)
			delete(l.byKey, old.Value.(*rateEntry).key)
		}
	}
	now := l.now()
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// tracked returns the number of callers whose buckets are kept.
func (l *rateLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
}

// limited refuses requests over the caller's rate with 429, a Retry-After
// header (whole seconds, at least 1) and error_type "rate_limited". The
// caller is keyed by key(r): the authenticated identity, or the client's
// address when there is none.
func (l *rateLimiter) limited(key func(*http.Request) string, next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, wait := l.allow(key(r))
		if !ok {
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
			writeError(w, http.StatusTooManyRequests, "rate_limited",
				errRateLimited{retry: max(secs, 1)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

type errRateLimited struct{ retry int }

func (e errRateLimited) Error() string {
	return "too many submits: try again in " + strconv.Itoa(e.retry) + " s"
}

// clientAddr is the host of a request's remote address.
func clientAddr(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}
