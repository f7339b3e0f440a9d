// Package mem is the queue driver of mem://NAME URLs: in-process queues
// (a gocloud.dev pubsub driver of its own: a receive waits for the next
// message instead of polling, as gocloud.dev's mempubsub does every
// 250 ms, and costs the same however many messages are queued). Every Open of the same NAME in one process
// shares one topic and one subscription, so an API and its workers in one
// binary talk to each other. ?ackdeadline=DURATION sets how long a received
// message may stay unacknowledged before it is delivered again. Import it
// for its side effect:
//
//	import _ "github.com/greensight/vzarr/queue/mem"
package mem

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"gocloud.dev/pubsub"

	"github.com/greensight/vzarr/queue"
)

// DefaultAckDeadline is how long an in-process message may stay
// unacknowledged before it is delivered again.
const DefaultAckDeadline = 15 * time.Minute

func init() { queue.Register(queue.SchemeMem, driver{}) }

// driver implements queue.Driver.
type driver struct{}

// memQueues holds the in-process queues by name: every Open of mem://NAME
// in a process shares one topic and one subscription (competing
// consumers), as workers share a broker's queue.
var memQueues = struct {
	sync.Mutex
	m map[string]*memQueue
}{m: map[string]*memQueue{}}

type memQueue struct {
	topic *pubsub.Topic
	sub   *pubsub.Subscription
	refs  int
}

// Open implements queue.Driver.
func (driver) Open(_ context.Context, name string, query url.Values, opts *queue.Options) (*queue.Conn, error) {
	deadline := DefaultAckDeadline
	for k, v := range query {
		switch k {
		case "ackdeadline":
			d, err := time.ParseDuration(v[0])
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("%w: mem://%s: ackdeadline %q is not a positive duration", queue.ErrInvalidURL, name, v[0])
			}
			deadline = d
		default:
			return nil, fmt.Errorf("%w: mem://%s: unknown parameter %q (mem:// takes ackdeadline)", queue.ErrInvalidURL, name, k)
		}
	}
	memQueues.Lock()
	defer memQueues.Unlock()
	mq := memQueues.m[name]
	if mq == nil {
		t, sub := newBroker(deadline).portable()
		mq = &memQueue{topic: t, sub: sub}
		memQueues.m[name] = mq
	}
	mq.refs++
	var once sync.Once
	closer := func(ctx context.Context) error {
		once.Do(func() {
			memQueues.Lock()
			defer memQueues.Unlock()
			mq.refs--
			if mq.refs == 0 {
				delete(memQueues.m, name)
				_ = mq.sub.Shutdown(ctx)
				_ = mq.topic.Shutdown(ctx)
			}
		})
		return nil
	}
	// The shared topic and subscription are shut down by the last Close.
	s := &queue.Session{Topic: mq.topic, Subscription: mq.sub, Close: closer}
	if opts.NoSubscription {
		s.Subscription = nil // the shared subscription still keeps the messages for the others
	}
	return &queue.Conn{Session: s}, nil
}
