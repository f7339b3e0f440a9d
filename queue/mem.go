package queue

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/mempubsub"
)

// DefaultMemAckDeadline is how long an in-process message may stay
// unacknowledged before it is delivered again.
const DefaultMemAckDeadline = 15 * time.Minute

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

func openMem(name string, query url.Values, opts *Options) (*Queue, error) {
	deadline := DefaultMemAckDeadline
	for k, v := range query {
		switch k {
		case "ackdeadline":
			d, err := time.ParseDuration(v[0])
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("%w: mem://%s: ackdeadline %q is not a positive duration", ErrInvalidURL, name, v[0])
			}
			deadline = d
		default:
			return nil, fmt.Errorf("%w: mem://%s: unknown parameter %q (mem:// takes ackdeadline)", ErrInvalidURL, name, k)
		}
	}
	memQueues.Lock()
	defer memQueues.Unlock()
	mq := memQueues.m[name]
	if mq == nil {
		t := mempubsub.NewTopic()
		mq = &memQueue{topic: t, sub: mempubsub.NewSubscription(t, deadline)}
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
	q := &Queue{topic: mq.topic, sub: mq.sub, closer: closer, shared: true}
	if opts.NoSubscription {
		q.sub = nil // the shared subscription still keeps the messages for the others
	}
	return q, nil
}
