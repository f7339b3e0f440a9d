// Package backoff is the exponential retry schedule with jitter shared by
// the queue's reconnects and the engine's retries.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Defaults of Backoff.
const (
	DefaultBackoffInitial = 250 * time.Millisecond
	DefaultBackoffMax     = 5 * time.Second
	DefaultBackoffJitter  = 0.5
)

// Backoff is an exponential retry schedule with jitter and a cap: attempt
// n (from 1) waits Initial×2^(n-1), capped at Max, then reduced by a random
// fraction of at most Jitter ("equal jitter" for 0.5), so that many
// clients that lost the same broker do not come back in step. Zero fields
// take the defaults. It is a value; share it freely.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	// Jitter in [0, 1]: the largest fraction of a delay taken off at
	// random. Negative means none.
	Jitter float64
	// Rand returns a number in [0, 1) (math/rand/v2's Float64 when nil);
	// tests fix it to get a deterministic schedule.
	Rand func() float64
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoffInitial
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoffMax
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	switch {
	case b.Jitter == 0:
		b.Jitter = DefaultBackoffJitter
	case b.Jitter < 0:
		b.Jitter = 0
	case b.Jitter > 1:
		b.Jitter = 1
	}
	if b.Rand == nil {
		b.Rand = rand.Float64
	}
	return b
}

// Delay returns the wait before attempt n (n < 1 counts as 1).
func (b Backoff) Delay(n int) time.Duration {
	b = b.withDefaults()
	d := b.Initial
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	r := min(max(b.Rand(), 0), 1)
	return d - time.Duration(float64(d)*b.Jitter*r)
}
