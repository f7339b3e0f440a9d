package queue

import "github.com/greensight/vzarr/internal/backoff"

// Defaults of Backoff.
const (
	DefaultBackoffInitial = backoff.DefaultBackoffInitial
	DefaultBackoffMax     = backoff.DefaultBackoffMax
	DefaultBackoffJitter  = backoff.DefaultBackoffJitter
)

// Backoff is an exponential retry schedule with jitter and a cap (see
// internal/backoff): attempt n (from 1) waits Initial×2^(n-1), capped at
// Max, then reduced by a random fraction of at most Jitter. Zero fields
// take the defaults.
type Backoff = backoff.Backoff
