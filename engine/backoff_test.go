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
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/catalog"
)

type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, Message) error { return nil }

// The engine's retries use internal/backoff (its schedule is tested there)
// with its options and half of each delay as jitter.
func TestRetryPolicy(t *testing.T) {
	e, err := New(catalog.NewMemory(), nopPublisher{}, Options{RetryBackoff: 2 * time.Second, MaxRetryDelay: 30 * time.Second})
	require.NoError(t, err)
	assert.Equal(t, 2*time.Second, e.retry.Initial)
	assert.Equal(t, 30*time.Second, e.retry.Max)
	assert.Equal(t, 0.5, e.retry.Jitter)
	for n, want := range map[int]time.Duration{1: 2 * time.Second, 2: 4 * time.Second, 5: 30 * time.Second, 10000: 30 * time.Second} {
		assert.Equal(t, want, e.backoff(n), "attempt %d", n)
	}
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
