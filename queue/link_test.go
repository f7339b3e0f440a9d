package queue

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/pubsub/mempubsub"

	"github.com/greensight/vzarr/internal/testenv"
)

// fakeBroker opens in-memory sessions, failing while it is down.
type fakeBroker struct {
	mu       sync.Mutex
	down     bool
	connects int
	failures int
}

func (f *fakeBroker) connect(context.Context) (*Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connects++
	if f.down {
		f.failures++
		return nil, errors.New("connection refused")
	}
	topic := mempubsub.NewTopic()
	return &Session{Topic: topic, Subscription: mempubsub.NewSubscription(topic, time.Minute)}, nil
}

func (f *fakeBroker) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

// logLines counts the lines of a JSON log buffer at level that contain msg.
func logLines(buf *testenv.SyncBuffer, level, msg string) int {
	n := 0
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.Contains(l, `"level":"`+level+`"`) && strings.Contains(l, msg) {
			n++
		}
	}
	return n
}

// TestLinkOutage drives a link through an outage with a fake broker and a
// recorded (instant) sleep: the reconnect schedule is the backoff's, the
// queue fails publishes fast and reports the outage while it lasts, a
// waiting receiver gets the first message of the new session, and the
// outage is logged twice (down, back) whatever the number of attempts.
func TestLinkOutage(t *testing.T) {
	ctx := context.Background()
	f := &fakeBroker{}
	var logs testenv.SyncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := &Options{Logger: log, Reconnect: Backoff{Initial: 10 * time.Millisecond, Max: 80 * time.Millisecond, Jitter: 0.5,
		Rand: func() float64 { return 0.5 }}}
	first, err := f.connect(ctx)
	require.NoError(t, err)
	l := newLink("fake://q", first, f.connect, opts)
	l.verified = true
	var mu sync.Mutex
	var slept []time.Duration
	resume := make(chan struct{})
	l.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		slept = append(slept, d)
		n := len(slept)
		mu.Unlock()
		if n == 6 { // the broker is back after the sixth wait
			<-resume
		}
		return ctx.Err()
	}
	q := &Queue{url: "fake://q", scheme: "fake", link: l, log: log, sendTimeout: time.Second}
	defer q.Close(ctx)

	require.NoError(t, q.Ready(ctx))
	require.NoError(t, q.Publish(ctx, Message{JobID: "before"}))
	d, err := q.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "before", d.JobID)
	d.Ack()

	// The broker goes away; the session is found broken.
	f.setDown(true)
	l.failed(first, errors.New("connection reset by peer"), true)
	err = q.Ready(ctx)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Contains(t, err.Error(), "connection reset by peer")
	err = q.Publish(ctx, Message{JobID: "during"})
	require.ErrorIs(t, err, ErrUnavailable, "a publish during the outage fails at once")

	got := make(chan *Delivery, 1)
	go func() {
		d, err := q.Receive(ctx) // waits for the new session
		if err == nil {
			got <- d
		}
	}()
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(slept) == 6 }, 5*time.Second, time.Millisecond)
	require.ErrorIs(t, q.Ready(ctx), ErrUnavailable, "still down after five failed attempts")
	f.setDown(false)
	close(resume)
	require.Eventually(t, func() bool { return q.Ready(ctx) == nil }, 5*time.Second, time.Millisecond)
	require.NoError(t, q.Publish(ctx, Message{JobID: "after"}))
	select {
	case d := <-got:
		assert.Equal(t, "after", d.JobID)
		d.Ack()
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting receiver got nothing from the new session")
	}

	mu.Lock()
	want := []time.Duration{7500 * time.Microsecond, 15 * time.Millisecond, 30 * time.Millisecond, 60 * time.Millisecond,
		60 * time.Millisecond, 60 * time.Millisecond}
	assert.Equal(t, want, slept, "exponential, jittered, capped")
	mu.Unlock()
	assert.Equal(t, 7, f.connects, "the first connect and six reconnects")
	assert.Equal(t, 5, f.failures)
	assert.Equal(t, 1, logLines(&logs, "WARN", "broker unavailable"), logs.String())
	assert.Equal(t, 1, logLines(&logs, "INFO", "broker reachable again"), logs.String())
	assert.Contains(t, logs.String(), `"attempts":6`)
	assert.Equal(t, 0, logLines(&logs, "ERROR", ""), "no error line per attempt")

	// A late failure report about the dropped session changes nothing.
	l.failed(first, errors.New("late"), true)
	require.NoError(t, q.Ready(ctx))

	require.NoError(t, q.Close(ctx))
	assert.ErrorIs(t, q.Ready(ctx), ErrClosed)
	_, err = q.Receive(ctx)
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, q.Publish(ctx, Message{JobID: "closed"}), ErrClosed)
}

// TestLinkCloseStopsReconnecting: Close during an outage ends the
// reconnect loop and wakes a waiting receiver with ErrClosed. It runs in
// a synctest bubble: the backoff's timers run on the bubble's clock.
func TestLinkCloseStopsReconnecting(t *testing.T) { synctest.Test(t, testLinkCloseStopsReconnecting) }

func testLinkCloseStopsReconnecting(t *testing.T) {
	ctx := context.Background()
	f := &fakeBroker{}
	first, err := f.connect(ctx)
	require.NoError(t, err)
	opts := &Options{Logger: slog.New(slog.DiscardHandler), Reconnect: Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}}
	l := newLink("fake://q", first, f.connect, opts)
	q := &Queue{url: "fake://q", link: l, log: opts.Logger, sendTimeout: time.Second}
	f.setDown(true)
	l.failed(first, errors.New("gone"), true)
	errc := make(chan error, 1)
	go func() {
		_, err := q.Receive(ctx)
		errc <- err
	}()
	require.Eventually(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.failures >= 3 }, 5*time.Second, time.Millisecond)
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, q.Close(cctx))
	require.NoError(t, cctx.Err(), "Close returned before its deadline: the reconnect loop stopped")
	select {
	case err := <-errc:
		assert.ErrorIs(t, err, ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting receiver was not woken by Close")
	}
	f.mu.Lock()
	n := f.connects
	f.mu.Unlock()
	time.Sleep(time.Minute) // bubble time: far past any backoff
	f.mu.Lock()
	assert.Equal(t, n, f.connects, "no connect after Close")
	f.mu.Unlock()
}

func TestMemAlwaysReady(t *testing.T) {
	ctx := context.Background()
	q, err := Open(ctx, "mem://ready-test", Options{})
	require.NoError(t, err)
	defer q.Close(ctx)
	assert.NoError(t, q.Ready(ctx))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, q.Ready(cctx), context.Canceled)
}

// TestLinkUnverifiedBacksOff: a link whose sessions open at once but fail
// at their first operation (Service Bus connects lazily) keeps backing
// off across sessions, and stays down until an operation succeeds.
func TestLinkUnverifiedBacksOff(t *testing.T) {
	ctx := context.Background()
	f := &fakeBroker{}
	first, err := f.connect(ctx)
	require.NoError(t, err)
	opts := &Options{Logger: slog.New(slog.DiscardHandler), Reconnect: Backoff{Initial: time.Millisecond, Max: 8 * time.Millisecond, Jitter: -1}}
	l := newLink("fake://q", first, f.connect, opts)
	var mu sync.Mutex
	var slept []time.Duration
	l.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		slept = append(slept, d)
		mu.Unlock()
		return ctx.Err()
	}
	q := &Queue{url: "fake://q", link: l, log: opts.Logger, sendTimeout: time.Second}
	defer q.Close(ctx)
	s := first
	for i := range 5 {
		l.failed(s, errors.New("amqp: connection refused"), true)
		require.ErrorIs(t, q.Ready(ctx), ErrUnavailable, "round %d", i)
		s, err = l.wait(ctx)
		require.NoError(t, err)
		require.ErrorIs(t, q.Ready(ctx), ErrUnavailable, "a new lazy session proves nothing")
	}
	mu.Lock()
	assert.Equal(t, []time.Duration{1 * time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 8 * time.Millisecond, 8 * time.Millisecond}, slept)
	mu.Unlock()
	require.NoError(t, q.Publish(ctx, Message{JobID: "j"}))
	require.NoError(t, q.Ready(ctx), "an operation succeeded")
}

// TestDriverMissing: a scheme whose driver the program did not import is
// a configuration error naming the package to import; an unknown scheme
// is an invalid URL.
func TestDriverMissing(t *testing.T) {
	drivers.Lock()
	d, had := drivers.m[SchemeRabbit]
	delete(drivers.m, SchemeRabbit)
	drivers.Unlock()
	t.Cleanup(func() {
		if had {
			drivers.Lock()
			drivers.m[SchemeRabbit] = d
			drivers.Unlock()
		}
	})
	_, err := Open(context.Background(), "rabbit://q", Options{})
	require.ErrorIs(t, err, ErrConfig)
	assert.Contains(t, err.Error(), "github.com/greensight/vzarr/queue/rabbit")
	_, err = Open(context.Background(), "kafka://q", Options{})
	require.ErrorIs(t, err, ErrInvalidURL)
}
