package queue_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/queue"
	_ "github.com/greensight/vzarr/queue/azuresb"
	_ "github.com/greensight/vzarr/queue/mem"
	_ "github.com/greensight/vzarr/queue/rabbit"
)

func TestMessageCodec(t *testing.T) {
	m := queue.Message{JobID: "vz-1", TaskID: "vz-1/ref/00007"}
	assert.JSONEq(t, `{"job_id":"vz-1","task_id":"vz-1/ref/00007"}`, string(queue.Encode(m)))
	got, err := queue.Decode(queue.Encode(m))
	require.NoError(t, err)
	assert.Equal(t, m, got)
	assert.Equal(t, "task vz-1/ref/00007", m.String())
	assert.Equal(t, "job vz-1", queue.Message{JobID: "vz-1"}.String())
	for _, body := range []string{`{}`, `{"task_id":"x"}`, `nope`, ``} {
		_, err := queue.Decode([]byte(body))
		assert.ErrorIs(t, err, queue.ErrBadMessage, body)
	}
	// A 10,000-file job still sends messages of a few dozen bytes.
	assert.Less(t, len(queue.Encode(queue.Message{JobID: "vz-0123456789abcdef01234567", TaskID: "vz-0123456789abcdef01234567/validate/09999"})), 128)
}

func TestOpenErrors(t *testing.T) {
	t.Setenv("RABBIT_SERVER_URL", "")
	t.Setenv("SERVICEBUS_CONNECTION_STRING", "")
	t.Setenv("AZURE_SERVICEBUS_HOSTNAME", "")
	for _, tc := range []struct {
		url  string
		want error
		msg  string
	}{
		{"kafka://topic", queue.ErrInvalidURL, "unknown scheme"},
		{"mem://", queue.ErrInvalidURL, "names no queue"},
		{"mem://q?ackdeadline=soon", queue.ErrInvalidURL, "ackdeadline"},
		{"mem://q?prefetch_count=1", queue.ErrInvalidURL, "unknown parameter"},
		{"rabbit://q", queue.ErrConfig, "RABBIT_SERVER_URL"},
		{"rabbit://q?prefetch_count=x", queue.ErrInvalidURL, "prefetch_count"},
		{"azuresb://topic", queue.ErrConfig, "SERVICEBUS_CONNECTION_STRING or AZURE_SERVICEBUS_HOSTNAME"},
		{"azuresb://topic?sub=x", queue.ErrInvalidURL, "unknown parameter"},
		{"azuresb://topic/sub", queue.ErrInvalidURL, "azuresb://TOPIC?subscription=NAME"},
		{"%zz://x", queue.ErrInvalidURL, "invalid URL"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, err := queue.Open(context.Background(), tc.url, queue.Options{})
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

// exercise publishes n messages and receives them with several consumers,
// nacking each message once: every message is delivered at least once
// more, none is lost.
func exercise(t *testing.T, open func() *queue.Queue, consumers int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub := open()
	defer pub.Close(context.Background())
	qs := make([]*queue.Queue, consumers)
	for i := range qs {
		qs[i] = open()
		defer qs[i].Close(context.Background())
	}
	const n = 200
	want := map[string]bool{}
	for i := range n {
		m := queue.Message{JobID: "job", TaskID: "job/s/" + strings.Repeat("0", 5-len(itoa(i))) + itoa(i)}
		want[m.TaskID] = true
		require.NoError(t, pub.Publish(ctx, m))
	}
	var mu sync.Mutex
	acked := map[string]int{}
	nacked := map[string]bool{}
	var wg sync.WaitGroup
	rctx, rcancel := context.WithCancel(ctx)
	for _, q := range qs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				d, err := q.Receive(rctx)
				if err != nil {
					return
				}
				require.NoError(t, d.Err())
				mu.Lock()
				first := !nacked[d.TaskID]
				nacked[d.TaskID] = true
				mu.Unlock()
				if first {
					d.Nack()
					continue
				}
				d.Ack()
				mu.Lock()
				acked[d.TaskID]++
				done := len(acked) == n
				mu.Unlock()
				if done {
					rcancel()
				}
			}
		}()
	}
	wg.Wait()
	rcancel()
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, acked, n, "every message delivered")
	for id := range want {
		assert.GreaterOrEqual(t, acked[id], 1, id)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestMem(t *testing.T) {
	name := "mem://queue-test-" + testenv.RandomSuffix()
	exercise(t, func() *queue.Queue {
		q, err := queue.Open(context.Background(), name, queue.Options{})
		require.NoError(t, err)
		assert.Equal(t, "mem", q.Scheme())
		return q
	}, 3)
}

func TestMemAckDeadlineRedelivers(t *testing.T) {
	ctx := context.Background()
	q, err := queue.Open(ctx, "mem://queue-deadline-"+testenv.RandomSuffix()+"?ackdeadline=100ms", queue.Options{})
	require.NoError(t, err)
	defer q.Close(ctx)
	require.NoError(t, q.Publish(ctx, queue.Message{JobID: "j"}))
	d, err := q.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, "j", d.JobID)
	// Not acknowledged (a worker that died): delivered again.
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d2, err := q.Receive(rctx)
	require.NoError(t, err)
	assert.Equal(t, "j", d2.JobID)
	d2.Ack()
}

func TestMemPublishOnly(t *testing.T) {
	ctx := context.Background()
	q, err := queue.Open(ctx, "mem://queue-po-"+testenv.RandomSuffix(), queue.Options{NoSubscription: true})
	require.NoError(t, err)
	defer q.Close(ctx)
	_, err = q.Receive(ctx)
	assert.ErrorIs(t, err, queue.ErrConfig)
}

func TestRabbit(t *testing.T) {
	server := testenv.RabbitURL(t)
	name := "rabbit://vzarr-queue-test-" + testenv.RandomSuffix() + "?prefetch_count=10"
	exercise(t, func() *queue.Queue {
		q, err := queue.Open(context.Background(), name, queue.Options{RabbitURL: server})
		require.NoError(t, err)
		assert.Equal(t, "rabbit", q.Scheme())
		assert.NotContains(t, q.URL(), "guest:guest")
		return q
	}, 3)
}

func TestRabbitUnreachable(t *testing.T) {
	addr := testenv.ClosedAddr(t) // nothing listens there
	start := time.Now()
	_, err := queue.Open(context.Background(), "rabbit://q", queue.Options{RabbitURL: "amqp://guest:guest@" + addr + "/"})
	require.ErrorIs(t, err, queue.ErrUnavailable)
	assert.Contains(t, err.Error(), addr)
	assert.NotContains(t, err.Error(), "guest:guest", "no credentials in errors")
	assert.Less(t, time.Since(start), 15*time.Second)
}

// TestServiceBusWiring goes as far as the Service Bus driver can without a
// namespace: the URL, the two ways to authenticate, the topic and
// subscription names, and a publish that reaches the network and fails
// cleanly (no Service Bus emulator runs on these machines).
func TestServiceBusWiring(t *testing.T) {
	t.Setenv("SERVICEBUS_CONNECTION_STRING", "")
	t.Setenv("AZURE_SERVICEBUS_HOSTNAME", "")
	ctx := context.Background()

	t.Run("connection string", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		accepted := make(chan struct{}, 16)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted <- struct{}{}
				_ = c.Close() // not an AMQP server
			}
		}()
		defer ln.Close()
		host := ln.Addr().String()
		conn := "Endpoint=sb://" + host + "/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=c2VjcmV0"
		q, err := queue.Open(ctx, "azuresb://vzarr-tasks?subscription=workers&listener_timeout=1s",
			queue.Options{ServiceBusConnectionString: conn})
		require.NoError(t, err, "the driver opens lazily")
		defer func() {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_ = q.Close(cctx)
		}()
		assert.Equal(t, "azuresb", q.Scheme())
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err = q.Publish(pctx, queue.Message{JobID: "j"})
		require.Error(t, err)
		assert.True(t, errors.Is(err, queue.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded), "%v", err)
		assert.NotContains(t, err.Error(), "c2VjcmV0", "no key in errors")
	})
	t.Run("connection string from the environment", func(t *testing.T) {
		t.Setenv("SERVICEBUS_CONNECTION_STRING", "Endpoint=sb://127.0.0.1:1/;SharedAccessKeyName=k;SharedAccessKey=c2VjcmV0")
		q, err := queue.Open(ctx, "azuresb://vzarr-tasks", queue.Options{NoSubscription: true})
		require.NoError(t, err)
		_ = q.Close(context.Background())
	})
	t.Run("managed identity by hostname", func(t *testing.T) {
		t.Setenv("AZURE_SERVICEBUS_HOSTNAME", "vzarr-test.servicebus.windows.net")
		q, err := queue.Open(ctx, "azuresb://vzarr-tasks?subscription=workers", queue.Options{})
		if err != nil {
			// DefaultAzureCredential could not be built here: the error
			// says so and names the configuration.
			assert.ErrorIs(t, err, queue.ErrConfig)
			return
		}
		_ = q.Close(context.Background())
	})
	t.Run("malformed connection string", func(t *testing.T) {
		_, err := queue.Open(ctx, "azuresb://vzarr-tasks", queue.Options{ServiceBusConnectionString: "not a connection string"})
		require.ErrorIs(t, err, queue.ErrConfig)
	})
}

// TestRabbitReconnects cuts the connections to the broker (through a
// proxy, so that the shared broker keeps running): Ready reports the
// outage, publishes fail fast with ErrUnavailable, a receiver waits; once
// the broker is reachable again the queue reconnects by itself, a message
// published before the cut is still delivered (durable queue, persistent
// message) and new ones flow, without reopening the queue.
func TestRabbitReconnects(t *testing.T) {
	px, via := testenv.RabbitProxy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var logs testenv.SyncBuffer
	opts := queue.Options{RabbitURL: via, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Reconnect: queue.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond}, SendTimeout: 5 * time.Second}
	name := "rabbit://vzarr-reconnect-test-" + testenv.RandomSuffix()
	q, err := queue.Open(ctx, name, opts)
	require.NoError(t, err)
	defer q.Close(context.Background())
	require.NoError(t, q.Ready(ctx))

	require.NoError(t, q.Publish(ctx, queue.Message{JobID: "before"}))
	px.Cut()
	require.Eventually(t, func() bool { return q.Ready(ctx) != nil }, 10*time.Second, 5*time.Millisecond)
	err = q.Ready(ctx)
	require.ErrorIs(t, err, queue.ErrUnavailable)
	assert.NotContains(t, err.Error(), "guest:guest")
	err = q.Publish(ctx, queue.Message{JobID: "during"})
	require.ErrorIs(t, err, queue.ErrUnavailable)

	got := make(chan string, 4)
	go func() {
		for {
			d, err := q.Receive(ctx)
			if err != nil {
				return
			}
			got <- d.JobID
			d.Ack()
		}
	}()
	refused := px.Refused()
	require.Eventually(t, func() bool { return px.Refused() >= refused+3 }, 10*time.Second, 5*time.Millisecond, "several reconnect attempts fail")
	require.ErrorIs(t, q.Ready(ctx), queue.ErrUnavailable)
	px.Heal()
	require.Eventually(t, func() bool { return q.Ready(ctx) == nil }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, q.Publish(ctx, queue.Message{JobID: "after"}))
	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case id := <-got:
			seen[id] = true
		case <-ctx.Done():
			t.Fatalf("received only %v", seen)
		}
	}
	assert.Equal(t, map[string]bool{"before": true, "after": true}, seen)
	out := logs.String()
	assert.Equal(t, 1, strings.Count(out, "broker unavailable"), out)
	assert.Equal(t, 1, strings.Count(out, "broker reachable again"), out)
	assert.NotContains(t, out, "guest:guest")
}

// openUnreachableServiceBus opens the queue vzarr-tasks (subscription
// workers) with opts on a Service Bus namespace that does not answer (a
// closed local port), its key "c2VjcmV0", logging nothing; the queue is
// closed at the end of the test.
func openUnreachableServiceBus(t *testing.T, opts queue.Options) *queue.Queue {
	t.Helper()
	t.Setenv("SERVICEBUS_CONNECTION_STRING", "")
	opts.ServiceBusConnectionString = "Endpoint=sb://" + testenv.ClosedAddr(t) + "/;SharedAccessKeyName=k;SharedAccessKey=c2VjcmV0"
	opts.Logger = slog.New(slog.DiscardHandler)
	q, err := queue.Open(context.Background(), "azuresb://vzarr-tasks?subscription=workers", opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = q.Close(ctx)
	})
	return q
}

// TestServiceBusReady: a Service Bus queue's readiness follows its last
// operation. Opened (lazily) it is ready; a publish to a namespace that
// does not answer (a closed local port) makes it unavailable, with the
// reason and without the key.
func TestServiceBusReady(t *testing.T) {
	ctx := context.Background()
	q := openUnreachableServiceBus(t, queue.Options{NoSubscription: true, SendTimeout: 3 * time.Second})
	require.NoError(t, q.Ready(ctx), "nothing tried yet")
	err := q.Publish(ctx, queue.Message{JobID: "j"})
	require.ErrorIs(t, err, queue.ErrUnavailable)
	err = q.Ready(ctx)
	require.ErrorIs(t, err, queue.ErrUnavailable)
	assert.NotContains(t, err.Error(), "c2VjcmV0")
	_, err = q.Receive(ctx)
	assert.ErrorIs(t, err, queue.ErrConfig, "opened for publishing only")
}

// TestServiceBusReceiverReady: a Service Bus queue that receives asks its
// subscription when Ready is called (its clients retry out of sight, so
// a receive never fails): a namespace that does not answer (a closed
// local port) is reported within the caller's deadline, without the key.
func TestServiceBusReceiverReady(t *testing.T) {
	ctx := context.Background()
	q := openUnreachableServiceBus(t, queue.Options{})
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err := q.Ready(rctx)
	require.ErrorIs(t, err, queue.ErrUnavailable)
	assert.NotContains(t, err.Error(), "c2VjcmV0")
	// Without a deadline of its own the probe is still bounded.
	assert.ErrorIs(t, q.Ready(context.Background()), queue.ErrUnavailable)
}

func TestCounts(t *testing.T) {
	// Counts report what was sent and received, redeliveries included.
	ctx := context.Background()
	q, err := queue.Open(ctx, "mem://queue-counts-"+testenv.RandomSuffix(), queue.Options{})
	require.NoError(t, err)
	defer q.Close(ctx)
	assert.Equal(t, queue.Counts{}, q.Counts())
	for i := range 3 {
		require.NoError(t, q.Publish(ctx, queue.Message{JobID: "j", TaskID: "j/s/" + itoa(i)}))
	}
	// An invalid message is refused, not counted.
	require.Error(t, q.Publish(ctx, queue.Message{}))
	d, err := q.Receive(ctx)
	require.NoError(t, err)
	d.Nack()
	for range 3 {
		d, err := q.Receive(ctx)
		require.NoError(t, err)
		d.Ack()
	}
	assert.Equal(t, queue.Counts{Published: 3, Received: 4}, q.Counts())
}
