package queue

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/pubsub/rabbitpubsub"
)

// rabbitDialTimeout bounds connecting to the AMQP server.
const rabbitDialTimeout = 10 * time.Second

// openRabbit connects to the AMQP server, declares the exchange and the
// queue (both durable, both named name) and opens them. Publishing and
// consuming use separate connections, as the amqp091 documentation
// recommends.
func openRabbit(ctx context.Context, name string, query url.Values, opts *Options) (*Queue, error) {
	var subOpts rabbitpubsub.SubscriptionOptions
	for k, v := range query {
		switch k {
		case "prefetch_count":
			n, err := strconv.Atoi(v[0])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%w: rabbit://%s: prefetch_count %q is not a count", ErrInvalidURL, name, v[0])
			}
			subOpts.PrefetchCount = &n
		default:
			return nil, fmt.Errorf("%w: rabbit://%s: unknown parameter %q (rabbit:// takes prefetch_count)", ErrInvalidURL, name, k)
		}
	}
	server := opts.RabbitURL
	if server == "" {
		server = os.Getenv("RABBIT_SERVER_URL")
	}
	if server == "" {
		return nil, fmt.Errorf("%w: rabbit://%s needs the AMQP server: set RABBIT_SERVER_URL (amqp://USER:PASSWORD@HOST:PORT/VHOST)", ErrConfig, name)
	}
	su, err := amqp.ParseURI(server)
	if err != nil {
		return nil, fmt.Errorf("%w: RABBIT_SERVER_URL: %v", ErrConfig, err)
	}
	where := fmt.Sprintf("amqp://%s:%d%s", su.Host, su.Port, su.Vhost)
	dial := func(ctx context.Context) (*amqp.Connection, error) {
		cfg := amqp.Config{Properties: amqp.NewConnectionProperties()}
		cfg.Properties.SetClientConnectionName("vzarr-" + name)
		timeout := rabbitDialTimeout
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
			timeout = max(time.Until(dl), time.Millisecond)
		}
		cfg.Dial = amqp.DefaultDial(timeout)
		c, err := amqp.DialConfig(server, cfg)
		if err != nil {
			return nil, fmt.Errorf("%w: rabbit://%s: connecting to %s: %v", ErrUnavailable, name, where, err)
		}
		return c, nil
	}
	connect := func(ctx context.Context) (*session, error) {
		return connectRabbit(ctx, dial, name, &subOpts, opts.NoSubscription)
	}
	first, err := connect(ctx)
	if err != nil {
		return nil, err
	}
	l := newLink("", first, connect, opts)
	l.verified = true
	l.watch = watchRabbit
	return &Queue{link: l}, nil
}

// connectRabbit dials, declares the exchange and the queue, and opens a
// session: the topic on one connection, the subscription on another.
func connectRabbit(ctx context.Context, dial func(context.Context) (*amqp.Connection, error), name string, subOpts *rabbitpubsub.SubscriptionOptions, noSub bool) (*session, error) {
	pubConn, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	if err := declareRabbit(pubConn, name); err != nil {
		_ = pubConn.Close()
		return nil, err
	}
	conns := []*amqp.Connection{pubConn}
	s := &session{topic: rabbitpubsub.OpenTopic(pubConn, name, nil)}
	if !noSub {
		subConn, err := dial(ctx)
		if err != nil {
			_ = s.topic.Shutdown(context.Background())
			_ = pubConn.Close()
			return nil, err
		}
		conns = append(conns, subConn)
		// The driver's options are copied: each session gets its own.
		so := *subOpts
		s.sub = rabbitpubsub.OpenSubscription(subConn, name, &so)
	}
	s.broken = func() bool {
		for _, c := range conns {
			if c.IsClosed() {
				return true
			}
		}
		return false
	}
	s.release = func() error {
		var first error
		for _, c := range conns {
			if err := c.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) && first == nil {
				first = err
			}
		}
		return first
	}
	s.conns = conns
	return s, nil
}

// watchRabbit drops s when one of its connections closes (the broker
// stopped, the network failed, a connection-level error).
func watchRabbit(l *link, s *session) {
	for _, c := range s.conns {
		closed := c.NotifyClose(make(chan *amqp.Error, 1))
		go func() {
			select {
			case e, ok := <-closed:
				var err error = amqp.ErrClosed
				if ok && e != nil {
					err = e
				}
				l.failed(s, fmt.Errorf("connection closed: %w", err), true)
			case <-s.lost:
			}
		}()
	}
}

// declareRabbit declares the durable fanout exchange and the durable queue
// name, and binds them. Declaring what exists with the same settings is a
// no-op, so every process may do it.
func declareRabbit(conn *amqp.Connection, name string) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("%w: rabbit://%s: opening a channel: %v", ErrUnavailable, name, err)
	}
	defer ch.Close()
	if err := ch.ExchangeDeclare(name, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return fmt.Errorf("%w: rabbit://%s: declaring the exchange: %v", ErrConfig, name, err)
	}
	if _, err := ch.QueueDeclare(name, true, false, false, false, nil); err != nil {
		return fmt.Errorf("%w: rabbit://%s: declaring the queue: %v", ErrConfig, name, err)
	}
	if err := ch.QueueBind(name, "", name, false, nil); err != nil {
		return fmt.Errorf("%w: rabbit://%s: binding the queue: %v", ErrConfig, name, err)
	}
	return nil
}

// rabbitPersistent marks an outgoing AMQP message persistent, so that it
// survives a broker restart in the durable queue.
func rabbitPersistent(as func(any) bool) {
	var p *amqp.Publishing
	if as(&p) && p != nil {
		p.DeliveryMode = amqp.Persistent
	}
}
