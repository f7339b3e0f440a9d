package backoff

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBackoffSchedule(t *testing.T) {
	half := func() float64 { return 0.5 }
	zero := func() float64 { return 0 }
	one := func() float64 { return 0.9999999 }
	for _, tc := range []struct {
		name string
		b    Backoff
		want []time.Duration // attempts 1, 2, ...
	}{
		{"no jitter doubles to the cap", Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Jitter: -1},
			[]time.Duration{100, 200, 400, 800, 1000, 1000}},
		{"jitter at 0 keeps the full delay", Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Jitter: 0.5, Rand: zero},
			[]time.Duration{100, 200, 400, 800, 1000}},
		{"half jitter at the midpoint takes a quarter off", Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Jitter: 0.5, Rand: half},
			[]time.Duration{75, 150, 300, 600, 750}},
		{"full jitter near 1 leaves almost nothing", Backoff{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond, Jitter: 1, Rand: one},
			[]time.Duration{0, 0, 0, 0}},
		{"defaults", Backoff{Rand: zero},
			[]time.Duration{250, 500, 1000, 2000, 4000, 5000, 5000}},
		{"max below initial is raised", Backoff{Initial: time.Second, Max: time.Millisecond, Jitter: -1},
			[]time.Duration{1000, 1000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, w := range tc.want {
				got := tc.b.Delay(i + 1)
				assert.InDelta(t, float64(w*time.Millisecond), float64(got), float64(time.Millisecond), "attempt %d", i+1)
			}
		})
	}
	// Attempt numbers below 1 and huge ones stay in range.
	b := Backoff{Initial: time.Second, Max: 10 * time.Second, Jitter: -1}
	assert.Equal(t, time.Second, b.Delay(0))
	assert.Equal(t, 10*time.Second, b.Delay(1<<30))
	// Jitter stays within [d×(1-Jitter), d].
	for range 1000 {
		d := Backoff{Initial: time.Second, Max: time.Second, Jitter: 0.3}.Delay(1)
		require.GreaterOrEqual(t, d, 700*time.Millisecond)
		require.LessOrEqual(t, d, time.Second)
	}
}
