package engine

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRetryPolicySchedule(t *testing.T) {
	for _, tc := range []struct {
		name string
		rand func() float64
		want []time.Duration
	}{
		{"low jitter: half of each step", func() float64 { return 0 },
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second, 15 * time.Second}},
		{"mid jitter", func() float64 { return 0.5 },
			[]time.Duration{1500 * time.Millisecond, 3 * time.Second, 6 * time.Second, 12 * time.Second, 22500 * time.Millisecond, 22500 * time.Millisecond}},
		{"high jitter: up to each step, capped", func() float64 { return 1 },
			[]time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}},
		{"no rand", nil,
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second, 15 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := retryPolicy{Base: 2 * time.Second, Max: 30 * time.Second, Rand: tc.rand}
			var got []time.Duration
			for n := 1; n <= len(tc.want); n++ {
				got = append(got, p.delay(n))
			}
			assert.Equal(t, tc.want, got)
		})
	}
	// A very long outage does not overflow.
	p := retryPolicy{Base: 2 * time.Second, Max: 30 * time.Second, Rand: func() float64 { return 1 }}
	assert.Equal(t, 30*time.Second, p.delay(10000))
}

func TestOutageLogsStateChangesOnly(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o := &outage{what: "handling messages", log: slog.New(slog.NewTextHandler(&buf, nil)), now: func() time.Time { return clock }}
	ctx := context.Background()
	o.recovered(ctx) // nothing to recover from
	for i := 1; i <= 185; i++ {
		assert.Equal(t, i, o.failed(ctx, errors.New("connection refused")))
		clock = clock.Add(10 * time.Millisecond)
	}
	o.recovered(ctx)
	o.recovered(ctx)
	assert.Equal(t, 1, o.failed(ctx, errors.New("again")))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if assert.Len(t, lines, 3, buf.String()) {
		assert.Contains(t, lines[0], "level=ERROR")
		assert.Contains(t, lines[0], "connection refused")
		assert.Contains(t, lines[1], "level=INFO")
		assert.Contains(t, lines[1], "recovered")
		assert.Contains(t, lines[1], "failures=185")
		assert.Contains(t, lines[1], "outage=1.85s")
		assert.Contains(t, lines[2], "level=ERROR")
	}
}
