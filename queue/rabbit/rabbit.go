// Package rabbit is the queue driver of rabbit://NAME URLs: RabbitMQ,
// through gocloud.dev's rabbitpubsub. The broker is RABBIT_SERVER_URL (or
// queue.Options.RabbitURL), an amqp:// URL. Open declares a durable fanout
// exchange NAME and a durable queue NAME bound to it, and publishes
// persistent messages; ?prefetch_count=N bounds the messages a consumer
// holds unacknowledged. Connections are watched and reopened after a
// fault (see package queue). Import it for its side effect:
//
//	import _ "github.com/greensight/vzarr/queue/rabbit"
package rabbit

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

	"github.com/greensight/vzarr/queue"
)

func init() { queue.Register(queue.SchemeRabbit, driver{}) }

// driver implements queue.Driver.
type driver struct{}

// rabbitDialTimeout bounds connecting to the AMQP server.
const rabbitDialTimeout = 10 * time.Second

// Open implements queue.Driver: it connects to the AMQP server, declares
// the exchange and the queue (both durable, both named name) and opens
// them. Publishing and consuming use separate connections, as the amqp091
// documentation recommends.
func (driver) Open(ctx context.Context, name string, query url.Values, opts *queue.Options) (*queue.Conn, error) {
	var subOpts rabbitpubsub.SubscriptionOptions
	for k, v := range query {
		switch k {
		case "prefetch_count":
			n, err := strconv.Atoi(v[0])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%w: rabbit://%s: prefetch_count %q is not a count", queue.ErrInvalidURL, name, v[0])
			}
			subOpts.PrefetchCount = &n
		default:
			return nil, fmt.Errorf("%w: rabbit://%s: unknown parameter %q (rabbit:// takes prefetch_count)", queue.ErrInvalidURL, name, k)
		}
	}
	server := opts.RabbitURL
	if server == "" {
		server = os.Getenv("RABBIT_SERVER_URL")
	}
	if server == "" {
		return nil, fmt.Errorf("%w: rabbit://%s needs the AMQP server: set RABBIT_SERVER_URL (amqp://USER:PASSWORD@HOST:PORT/VHOST)", queue.ErrConfig, name)
	}
	su, err := amqp.ParseURI(server)
	if err != nil {
		return nil, fmt.Errorf("%w: RABBIT_SERVER_URL: %v", queue.ErrConfig, err)
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
			return nil, fmt.Errorf("%w: rabbit://%s: connecting to %s: %v", queue.ErrUnavailable, name, where, err)
		}
		return c, nil
	}
	connect := func(ctx context.Context) (*queue.Session, error) {
		return connectRabbit(ctx, dial, name, &subOpts, opts.NoSubscription)
	}
	first, err := connect(ctx)
	if err != nil {
		return nil, err
	}
	return &queue.Conn{Session: first, Reconnect: connect, Verified: true, BeforeSend: persistent}, nil
}

// connectRabbit dials, declares the exchange and the queue, and opens a
// session: the topic on one connection, the subscription on another.
func connectRabbit(ctx context.Context, dial func(context.Context) (*amqp.Connection, error), name string, subOpts *rabbitpubsub.SubscriptionOptions, noSub bool) (*queue.Session, error) {
	pubConn, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	if err := declareRabbit(pubConn, name); err != nil {
		_ = pubConn.Close()
		return nil, err
	}
	conns := []*amqp.Connection{pubConn}
	s := &queue.Session{Topic: rabbitpubsub.OpenTopic(pubConn, name, nil)}
	if !noSub {
		subConn, err := dial(ctx)
		if err != nil {
			_ = s.Topic.Shutdown(context.Background())
			_ = pubConn.Close()
			return nil, err
		}
		conns = append(conns, subConn)
		// The driver's options are copied: each session gets its own.
		so := *subOpts
		s.Subscription = rabbitpubsub.OpenSubscription(subConn, name, &so)
	}
	s.Broken = func() bool {
		for _, c := range conns {
			if c.IsClosed() {
				return true
			}
		}
		return false
	}
	s.Release = func() error {
		var first error
		for _, c := range conns {
			if err := c.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) && first == nil {
				first = err
			}
		}
		return first
	}
	s.Watch = func(fail func(error), lost <-chan struct{}) { watch(conns, fail, lost) }
	return s, nil
}

// watch reports the session of conns failed when one of them closes (the
// broker stopped, the network failed, a connection-level error).
func watch(conns []*amqp.Connection, fail func(error), lost <-chan struct{}) {
	for _, c := range conns {
		closed := c.NotifyClose(make(chan *amqp.Error, 1))
		go func() {
			select {
			case e, ok := <-closed:
				var err error = amqp.ErrClosed
				if ok && e != nil {
					err = e
				}
				fail(fmt.Errorf("connection closed: %w", err))
			case <-lost:
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
		return fmt.Errorf("%w: rabbit://%s: opening a channel: %v", queue.ErrUnavailable, name, err)
	}
	defer ch.Close()
	if err := ch.ExchangeDeclare(name, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return fmt.Errorf("%w: rabbit://%s: declaring the exchange: %v", queue.ErrConfig, name, err)
	}
	if _, err := ch.QueueDeclare(name, true, false, false, false, nil); err != nil {
		return fmt.Errorf("%w: rabbit://%s: declaring the queue: %v", queue.ErrConfig, name, err)
	}
	if err := ch.QueueBind(name, "", name, false, nil); err != nil {
		return fmt.Errorf("%w: rabbit://%s: binding the queue: %v", queue.ErrConfig, name, err)
	}
	return nil
}

// persistent marks an outgoing AMQP message persistent, so that it
// survives a broker restart in the durable queue.
func persistent(as func(any) bool) error {
	var p *amqp.Publishing
	if as(&p) && p != nil {
		p.DeliveryMode = amqp.Persistent
	}
	return nil
}
