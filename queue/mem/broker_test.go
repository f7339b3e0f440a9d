package mem

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/pubsub"
)

func send(t *testing.T, topic *pubsub.Topic, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		require.NoError(t, topic.Send(context.Background(), &pubsub.Message{Body: []byte(b)}))
	}
}

func receive(t *testing.T, sub *pubsub.Subscription) *pubsub.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := sub.Receive(ctx)
	require.NoError(t, err)
	return m
}

func TestBrokerDelivery(t *testing.T) {
	tests := []struct {
		name     string
		deadline time.Duration
		// handle acts on the first delivery of "a"; again says whether
		// "a" is delivered a second time.
		handle func(m *pubsub.Message)
		again  bool
	}{
		{"acked: delivered once", time.Hour, func(m *pubsub.Message) { m.Ack() }, false},
		{"nacked: delivered again", time.Hour, func(m *pubsub.Message) { m.Nack() }, true},
		{"neither, deadline passed: delivered again", 50 * time.Millisecond, func(*pubsub.Message) {}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic, sub := newBroker(tt.deadline).portable()
			defer func() { _ = sub.Shutdown(context.Background()); _ = topic.Shutdown(context.Background()) }()
			send(t, topic, "a")
			first := receive(t, sub)
			require.Equal(t, "a", string(first.Body))
			tt.handle(first)
			send(t, topic, "b")
			var got []string
			for range 2 {
				m := receive(t, sub)
				got = append(got, string(m.Body))
				m.Ack()
				if !tt.again {
					break
				}
			}
			if tt.again {
				assert.ElementsMatch(t, []string{"a", "b"}, got)
			} else {
				assert.Equal(t, []string{"b"}, got)
			}
		})
	}
}

// A receiver waiting on an empty queue gets a message sent later, in
// order, without polling.
func TestBrokerReceiveWaits(t *testing.T) {
	topic, sub := newBroker(time.Hour).portable()
	defer func() { _ = sub.Shutdown(context.Background()); _ = topic.Shutdown(context.Background()) }()
	got := make(chan string, 3)
	go func() {
		for range 3 {
			m := receive(t, sub)
			m.Ack()
			got <- string(m.Body)
		}
	}()
	time.Sleep(20 * time.Millisecond) // the receiver is waiting
	send(t, topic, "1", "2", "3")
	var all []string
	for range 3 {
		all = append(all, <-got)
	}
	assert.ElementsMatch(t, []string{"1", "2", "3"}, all)
}

// A receive ends with its context.
func TestBrokerReceiveCanceled(t *testing.T) {
	topic, sub := newBroker(time.Hour).portable()
	defer func() { _ = sub.Shutdown(context.Background()); _ = topic.Shutdown(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := sub.Receive(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}
