// Package queue carries the pipeline's work messages over gocloud.dev/pubsub,
// so that the broker is chosen by a URL:
//
//   - mem://NAME: an in-process queue (the embedded default). Every Open of
//     the same NAME in one process shares one topic and one subscription,
//     so an API and its workers in one binary talk to each other.
//     ?ackdeadline=DURATION sets how long a received message may stay
//     unacknowledged before it is delivered again (default 15m).
//   - rabbit://NAME: RabbitMQ. The broker is RABBIT_SERVER_URL (or
//     Options.RabbitURL), an amqp:// URL. Open declares a durable fanout
//     exchange NAME and a durable queue NAME bound to it, and publishes
//     persistent messages. ?prefetch_count=N bounds the messages a consumer
//     holds unacknowledged.
//   - azuresb://TOPIC?subscription=SUB: Azure Service Bus, a topic and one of
//     its subscriptions (both must exist; the subscription defaults to
//     "workers"). The namespace is reached with SERVICEBUS_CONNECTION_STRING
//     (a shared access key) when it is set, else with azidentity's
//     DefaultAzureCredential (Managed Identity in Azure) against
//     AZURE_SERVICEBUS_HOSTNAME (NAMESPACE.servicebus.windows.net); both can
//     be given in Options instead. listener_timeout and max_recv_batch_size
//     pass through to gocloud.dev's driver.
//
// Messages carry ids only (a job id and, for a task, its task id): the
// records they name live in the catalog, so a message stays a few dozen
// bytes whatever the size of the job (Service Bus limits messages to
// 256 KB).
//
// A broker's connection (rabbit://) or subscription (azuresb://) that
// breaks is reopened in the background with exponential backoff and
// jitter (Options.Reconnect): RabbitMQ's connections are watched
// (NotifyClose) and the exchange and queue declared again; Service Bus
// clients reconnect on their own, and a subscription whose receive failed
// is replaced. Meanwhile Publish fails at once with ErrUnavailable (and a
// publish under way when the connection breaks fails within
// Options.SendTimeout), Receive waits for the new connection, and Ready
// reports the outage. An outage is logged twice: when the broker goes away
// (with the error) and when it is back (with how long it was away).
//
// Delivery is at least once on every driver: a consumer acknowledges a
// message after it has handled it; a message that is not acknowledged (a
// worker that died, a Nack, an expired ack deadline or lock) is delivered
// again, possibly to another worker and out of order. Consumers must be
// idempotent; the engine package is.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"gocloud.dev/gcerrors"
	"gocloud.dev/pubsub"

	"github.com/greensight/vzarr/engine"
)

// Errors of the package; test them with errors.Is.
var (
	// ErrInvalidURL: a queue URL that cannot be opened as written.
	ErrInvalidURL = errors.New("queue: invalid URL")
	// ErrConfig: the broker's configuration (connection string, server
	// URL) is missing or wrong.
	ErrConfig = errors.New("queue: configuration error")
	// ErrUnavailable: the broker could not be reached.
	ErrUnavailable = errors.New("queue: broker unavailable")
	// ErrClosed: the queue was closed (engine.ErrClosed, so that
	// engine.Work stops on it).
	ErrClosed = engine.ErrClosed
	// ErrBadMessage: a received message is not a work message
	// (engine.ErrBadMessage).
	ErrBadMessage = engine.ErrBadMessage
)

// Schemes of queue URLs.
const (
	SchemeMem     = "mem"
	SchemeRabbit  = "rabbit"
	SchemeAzureSB = "azuresb"
)

// DefaultURL is the queue of embedded runs.
const DefaultURL = "mem://vzarr-tasks"

// Message is one unit of work: a job to start or advance, or a task of a
// job to run (the engine's message). Only ids travel; everything else is
// in the catalog.
type Message = engine.Message

// Encode returns the body of m.
func Encode(m Message) []byte {
	b, _ := json.Marshal(m)
	return b
}

// Decode parses a message body.
func Decode(body []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	return m, m.Validate()
}

// Options configures Open. The zero value reads the brokers' settings
// from the environment.
type Options struct {
	// RabbitURL is the AMQP server of rabbit:// queues; default
	// RABBIT_SERVER_URL.
	RabbitURL string
	// ServiceBusConnectionString for azuresb:// queues; default
	// SERVICEBUS_CONNECTION_STRING. When empty, ServiceBusHostname and
	// DefaultAzureCredential are used.
	ServiceBusConnectionString string
	// ServiceBusHostname is NAMESPACE.servicebus.windows.net; default
	// AZURE_SERVICEBUS_HOSTNAME.
	ServiceBusHostname string
	// NoSubscription opens the queue for publishing only (an API that runs
	// no workers). Receive then fails.
	NoSubscription bool
	// Logger receives the queue's logs; nil means slog.Default().
	Logger *slog.Logger
	// Reconnect is the schedule of reconnect attempts after a broker
	// fault (rabbit://, azuresb://); zero fields take Backoff's defaults.
	Reconnect Backoff
	// SendTimeout bounds one Publish on a broker; default
	// DefaultSendTimeout.
	SendTimeout time.Duration
}

func (o *Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// Queue publishes and receives work messages. It is safe for concurrent
// use.
type Queue struct {
	url    string // redacted form, for logs
	scheme string
	topic  *pubsub.Topic
	sub    *pubsub.Subscription
	closer func(context.Context) error
	// shared: topic and sub belong to several Queues (mem://); closer
	// shuts them down with the last one.
	shared bool
	log    *slog.Logger
	// link, for brokers (rabbit://, azuresb://), holds the current topic
	// and subscription across reconnects; topic, sub and closer are then
	// unused.
	link           *link
	noSubscription bool
	sendTimeout    time.Duration
}

// Open opens the queue rawURL names (see the package documentation).
func Open(ctx context.Context, rawURL string, opts Options) (*Queue, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalidURL, rawURL, err)
	}
	name := strings.Trim(u.Host+u.Path, "/")
	if name == "" {
		return nil, fmt.Errorf("%w: %q names no queue (want SCHEME://NAME)", ErrInvalidURL, rawURL)
	}
	var q *Queue
	switch u.Scheme {
	case SchemeMem:
		q, err = openMem(name, u.Query(), &opts)
	case SchemeRabbit:
		q, err = openRabbit(ctx, name, u.Query(), &opts)
	case SchemeAzureSB:
		q, err = openAzureSB(ctx, name, u.Query(), &opts)
	default:
		return nil, fmt.Errorf("%w: %q: unknown scheme %q (want mem://, rabbit:// or azuresb://)", ErrInvalidURL, rawURL, u.Scheme)
	}
	if err != nil {
		return nil, err
	}
	q.url = redact(u)
	q.scheme = u.Scheme
	q.log = opts.logger()
	q.noSubscription = opts.NoSubscription
	q.sendTimeout = opts.SendTimeout
	if q.sendTimeout <= 0 {
		q.sendTimeout = DefaultSendTimeout
	}
	if q.link != nil {
		q.link.url = q.url
		q.link.start()
	}
	q.log.Debug("queue: opened", "url", q.url, "subscription", !opts.NoSubscription)
	return q, nil
}

// redact drops credentials from a URL for logs.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// URL returns the queue's URL (without credentials).
func (q *Queue) URL() string { return q.url }

// Scheme returns the driver's scheme ("mem", "rabbit" or "azuresb").
func (q *Queue) Scheme() string { return q.scheme }

// Publish sends m.
func (q *Queue) Publish(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	pm := &pubsub.Message{Body: Encode(m), BeforeSend: q.beforeSend}
	if q.link == nil {
		if err := q.topic.Send(ctx, pm); err != nil {
			return q.classify("publish "+m.String(), err)
		}
		return nil
	}
	s, err := q.link.get()
	if err != nil {
		return fmt.Errorf("queue: publish %s: %w", m.String(), err)
	}
	sctx, cancel := sessionCtx(ctx, s, q.sendTimeout)
	defer cancel()
	err = s.topic.Send(sctx, pm)
	switch {
	case err == nil:
		q.link.succeeded()
		return nil
	case ctx.Err() != nil:
		return q.classify("publish "+m.String(), err)
	case s.isLost():
		return fmt.Errorf("%w: publish %s on %s: connection lost", ErrUnavailable, m.String(), q.url)
	}
	if sctx.Err() != nil {
		err = fmt.Errorf("no answer within %s", q.sendTimeout)
	}
	q.link.failed(s, err, s.isBroken())
	err = q.classify("publish "+m.String(), err)
	if !errors.Is(err, ErrClosed) && !errors.Is(err, ErrConfig) && !errors.Is(err, ErrUnavailable) {
		err = fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return err
}

// Ready reports whether the queue can reach its broker: nil when it is
// connected (always, for mem://), an error wrapping ErrUnavailable with
// the reason while it is not (ErrClosed after Close). For rabbit:// it is
// the state of the connection; for azuresb://, whose clients connect
// lazily and retry out of sight, a queue that receives peeks at its
// subscription (bounded by ctx), one that only publishes reports the
// outcome of its last publish.
func (q *Queue) Ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if q.link == nil {
		return nil
	}
	return q.link.ready(ctx)
}

// beforeSend makes RabbitMQ messages persistent; other drivers ignore it.
func (q *Queue) beforeSend(as func(any) bool) error {
	if q.scheme == SchemeRabbit {
		rabbitPersistent(as)
	}
	return nil
}

// Delivery is a received message (the engine's). Exactly one of Ack and
// Nack must be called once the message is handled.
type Delivery = engine.Delivery

// Receive waits for the next message, and while the broker is away, for
// the connection to be reopened. It returns ErrClosed after Close, ctx's
// error when ctx ends.
func (q *Queue) Receive(ctx context.Context) (*Delivery, error) {
	if q.noSub() {
		return nil, fmt.Errorf("%w: %s was opened for publishing only", ErrConfig, q.url)
	}
	if q.link == nil {
		m, err := q.sub.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, q.classify("receive", err)
		}
		return newDelivery(m), nil
	}
	for {
		s, err := q.link.wait(ctx)
		if err != nil {
			return nil, err
		}
		rctx, cancel := sessionCtx(ctx, s, 0)
		m, err := s.sub.Receive(rctx)
		cancel()
		switch {
		case err == nil:
			q.link.succeeded()
			return newDelivery(m), nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case s.isLost():
			continue // wait for the next session
		}
		// A gocloud.dev subscription whose receive failed stays failed:
		// open a new one. Configuration errors go to the caller too.
		q.link.failed(s, err, true)
		if cerr := q.classify("receive", err); errors.Is(cerr, ErrConfig) || errors.Is(cerr, ErrClosed) {
			return nil, cerr
		}
	}
}

func newDelivery(m *pubsub.Message) *Delivery {
	msg, err := Decode(m.Body)
	nack := func() {
		// A driver that cannot nack leaves the message unacknowledged:
		// it comes back when its ack deadline (lock) expires.
		if m.Nackable() {
			m.Nack()
		}
	}
	return engine.NewDelivery(msg, err, m.Ack, nack)
}

// noSub reports a queue opened for publishing only.
func (q *Queue) noSub() bool {
	if q.link != nil {
		return q.noSubscription
	}
	return q.sub == nil
}

// DefaultCloseTimeout bounds Close when its context has no deadline.
const DefaultCloseTimeout = 10 * time.Second

// Close shuts the topic and subscription down (waiting for pending sends
// and acks, until ctx ends or DefaultCloseTimeout when ctx has no
// deadline) and releases the connection.
func (q *Queue) Close(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCloseTimeout)
		defer cancel()
	}
	if q.link != nil {
		return q.link.close(ctx)
	}
	var errs []error
	if q.sub != nil && !q.shared {
		errs = append(errs, q.sub.Shutdown(ctx))
	}
	if q.topic != nil && !q.shared {
		errs = append(errs, q.topic.Shutdown(ctx))
	}
	if q.closer != nil {
		errs = append(errs, q.closer(ctx))
	}
	return errors.Join(errs...)
}

// classify wraps a driver error with the package's kinds.
func (q *Queue) classify(op string, err error) error {
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("queue: %s on %s: %w", op, q.url, err)
	case gcerrors.Code(err) == gcerrors.FailedPrecondition && strings.Contains(err.Error(), "Shutdown"):
		return fmt.Errorf("%w: %s on %s: %v", ErrClosed, op, q.url, err)
	case gcerrors.Code(err) == gcerrors.PermissionDenied:
		return fmt.Errorf("%w: %s on %s: %v", ErrConfig, op, q.url, err)
	}
	return fmt.Errorf("%w: %s on %s: %v", ErrUnavailable, op, q.url, err)
}
