package mem

import (
	"context"
	"sync"
	"time"

	"gocloud.dev/gcerrors"
	"gocloud.dev/pubsub"
	psdriver "gocloud.dev/pubsub/driver"
)

// maxIdleWait bounds how long a receive waits for a message before it
// returns none (gocloud.dev asks drivers to return within about a second).
const maxIdleWait = time.Second

// broker is one in-process queue: a gocloud.dev topic and subscription
// driver over a FIFO of messages ready for delivery. A receive that finds
// none waits until a message is sent, nacked or its ack deadline expires
// (no polling), and each operation costs the same whatever the number of
// messages queued or in flight.
type broker struct {
	deadline time.Duration

	mu       sync.Mutex
	ready    []*entry // in delivery order; ready[head:] waits
	head     int
	inflight []delivery       // in delivery order, so in expiry order
	unacked  map[int64]*entry // by ack ID: every message not acknowledged
	wake     chan struct{}    // closed (and replaced) when a message becomes ready
	nextID   int64
}

// entry is a message not acknowledged yet.
type entry struct {
	id       int64
	body     []byte
	metadata map[string]string
	// deliveries counts deliveries; an inflight record of an earlier one
	// is stale. expires is the current delivery's ack deadline; zero
	// while ready.
	deliveries int
	expires    time.Time
	waiting    bool // in ready
}

// delivery is one delivery of an entry, waiting for its ack.
type delivery struct {
	e *entry
	n int // e.deliveries at the time
}

func newBroker(deadline time.Duration) *broker {
	return &broker{deadline: deadline, unacked: map[int64]*entry{}, wake: make(chan struct{})}
}

// portable returns the broker's gocloud.dev topic and subscription.
func (b *broker) portable() (*pubsub.Topic, *pubsub.Subscription) {
	return pubsub.NewTopic(brokerTopic{b: b}, nil), pubsub.NewSubscription(brokerSub{b: b}, nil, nil)
}

// pushLocked queues e for delivery and wakes the waiting receivers.
func (b *broker) pushLocked(e *entry) {
	e.waiting, e.expires = true, time.Time{}
	b.ready = append(b.ready, e)
	close(b.wake)
	b.wake = make(chan struct{})
}

// expireLocked returns the messages whose ack deadline passed to the
// ready queue, and reports when the next one expires (zero: none in
// flight).
func (b *broker) expireLocked(now time.Time) time.Time {
	for len(b.inflight) > 0 {
		d := b.inflight[0]
		if d.e.deliveries != d.n || d.e.waiting || b.unacked[d.e.id] != d.e {
			b.inflight = b.inflight[1:] // acked, nacked or delivered again since
			continue
		}
		if now.Before(d.e.expires) {
			return d.e.expires
		}
		b.inflight = b.inflight[1:]
		b.pushLocked(d.e)
	}
	b.inflight = nil
	return time.Time{}
}

// takeLocked delivers up to max ready messages.
func (b *broker) takeLocked(now time.Time, max int) []*psdriver.Message {
	var out []*psdriver.Message
	for b.head < len(b.ready) && len(out) < max {
		e := b.ready[b.head]
		b.ready[b.head] = nil
		b.head++
		if !e.waiting || b.unacked[e.id] != e {
			continue // acked meanwhile
		}
		e.waiting = false
		e.deliveries++
		e.expires = now.Add(b.deadline)
		b.inflight = append(b.inflight, delivery{e, e.deliveries})
		out = append(out, &psdriver.Message{Body: e.body, Metadata: e.metadata, AckID: e.id, LoggableID: ""})
	}
	if b.head == len(b.ready) {
		b.ready, b.head = b.ready[:0], 0
	} else if b.head > 1024 && b.head > len(b.ready)/2 {
		b.ready, b.head = append([]*entry(nil), b.ready[b.head:]...), 0
	}
	return out
}

// brokerTopic implements psdriver.Topic.
type brokerTopic struct {
	driverBase
	b *broker
}

// SendBatch implements psdriver.Topic.
func (t brokerTopic) SendBatch(ctx context.Context, ms []*psdriver.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, m := range ms {
		if m.BeforeSend != nil {
			if err := m.BeforeSend(func(any) bool { return false }); err != nil {
				return err
			}
		}
	}
	b := t.b
	b.mu.Lock()
	for _, m := range ms {
		b.nextID++
		m.AckID = b.nextID
		e := &entry{id: b.nextID, body: m.Body, metadata: m.Metadata}
		b.unacked[e.id] = e
		b.pushLocked(e)
	}
	b.mu.Unlock()
	for _, m := range ms {
		if m.AfterSend != nil {
			if err := m.AfterSend(func(any) bool { return false }); err != nil {
				return err
			}
		}
	}
	return nil
}

// brokerSub implements psdriver.Subscription.
type brokerSub struct {
	driverBase
	b *broker
}

// ReceiveBatch implements psdriver.Subscription: it returns the ready
// messages, or waits for one (up to maxIdleWait).
func (s brokerSub) ReceiveBatch(ctx context.Context, max int) ([]*psdriver.Message, error) {
	b := s.b
	idle := time.NewTimer(maxIdleWait)
	defer idle.Stop()
	for {
		now := time.Now()
		b.mu.Lock()
		next := b.expireLocked(now)
		msgs := b.takeLocked(now, max)
		wake := b.wake
		b.mu.Unlock()
		if len(msgs) > 0 {
			return msgs, nil
		}
		var expiry <-chan time.Time
		if !next.IsZero() {
			t := time.NewTimer(next.Sub(now))
			defer t.Stop()
			expiry = t.C
		}
		select {
		case <-wake:
		case <-expiry:
		case <-idle.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// SendAcks implements psdriver.Subscription.
func (s brokerSub) SendAcks(ctx context.Context, ids []psdriver.AckID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range ids {
		delete(b.unacked, id.(int64)) // an acked message's records are skipped from now on
	}
	return nil
}

// CanNack implements psdriver.Subscription.
func (brokerSub) CanNack() bool { return true }

// SendNacks implements psdriver.Subscription: the messages are delivered
// again at once.
func (s brokerSub) SendNacks(ctx context.Context, ids []psdriver.AckID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range ids {
		if e := b.unacked[id.(int64)]; e != nil && !e.waiting {
			b.pushLocked(e)
		}
	}
	return nil
}

// driverBase holds the methods the broker's topic and subscription share:
// no retryable errors, no As conversions, no error codes, nothing to
// close.
type driverBase struct{}

// IsRetryable implements psdriver.Topic and psdriver.Subscription.
func (driverBase) IsRetryable(error) bool { return false }

// As implements psdriver.Topic and psdriver.Subscription.
func (driverBase) As(any) bool { return false }

// ErrorAs implements psdriver.Topic and psdriver.Subscription.
func (driverBase) ErrorAs(error, any) bool { return false }

// ErrorCode implements psdriver.Topic and psdriver.Subscription.
func (driverBase) ErrorCode(error) gcerrors.ErrorCode { return gcerrors.Unknown }

// Close implements psdriver.Topic and psdriver.Subscription.
func (driverBase) Close() error { return nil }
