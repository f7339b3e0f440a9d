// Package queue carries the pipeline's work messages over gocloud.dev/pubsub,
// so that the broker is chosen by a URL. Each broker is a driver in a
// subpackage that registers its scheme when it is imported, so that a
// program links only the brokers it names:
//
//	import (
//		_ "github.com/greensight/vzarr/queue/azuresb" // azuresb://
//		_ "github.com/greensight/vzarr/queue/mem"     // mem://
//		_ "github.com/greensight/vzarr/queue/rabbit"  // rabbit://
//	)
//
// The drivers:
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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	log    *slog.Logger
	// static is the session of a queue that is never reconnected (mem://);
	// link, for brokers (rabbit://, azuresb://), holds the current session
	// across reconnects. Exactly one is set.
	static         *Session
	link           *link
	beforeSend     func(as func(any) bool) error
	noSubscription bool
	sendTimeout    time.Duration
	// published and received count the messages sent and received
	// (Counts).
	published, received atomic.Int64
}

// Counts are the messages a Queue has sent and received since it was
// opened: what a benchmark reports as queue messages per file.
type Counts struct {
	Published int64 `json:"published"`
	Received  int64 `json:"received"`
}

// Counts returns the messages sent and received so far.
func (q *Queue) Counts() Counts {
	return Counts{Published: q.published.Load(), Received: q.received.Load()}
}

// Conn is what a Driver's Open returns: the queue's first session and how
// to open the next ones.
type Conn struct {
	// Session is the first session.
	Session *Session
	// Reconnect, when set, opens a new session after a fault: the queue
	// then reconnects in the background with Options.Reconnect. Nil: the
	// queue is never reconnected (an in-process queue).
	Reconnect func(ctx context.Context) (*Session, error)
	// Verified: a successful Reconnect proves that the broker answers
	// (RabbitMQ dials). Otherwise (Service Bus clients connect lazily) the
	// broker counts as back only once an operation succeeds.
	Verified bool
	// BeforeSend, when set, is called for every outgoing message (as
	// gocloud.dev's pubsub.Message.BeforeSend; RabbitMQ marks messages
	// persistent with it).
	BeforeSend func(as func(any) bool) error
}

// Driver opens the queues of one URL scheme. Drivers register with
// Register when their package is imported.
type Driver interface {
	// Open opens queue name (SCHEME://NAME) with the URL's query
	// parameters; unknown parameters are ErrInvalidURL, a missing
	// configuration ErrConfig, a broker that cannot be reached
	// ErrUnavailable.
	Open(ctx context.Context, name string, query url.Values, opts *Options) (*Conn, error)
}

var drivers = struct {
	sync.RWMutex
	m map[string]Driver
}{m: map[string]Driver{}}

// Register makes a driver available for the queue URLs of scheme. It
// panics when scheme already has one (two drivers imported for one
// scheme).
func Register(scheme string, d Driver) {
	drivers.Lock()
	defer drivers.Unlock()
	if _, dup := drivers.m[scheme]; dup {
		panic("queue: Register called twice for scheme " + scheme)
	}
	drivers.m[scheme] = d
}

// driverPackages are the packages of vzarr's drivers, for the error of a
// scheme whose driver was not imported.
var driverPackages = map[string]string{
	SchemeMem:     "github.com/greensight/vzarr/queue/mem",
	SchemeRabbit:  "github.com/greensight/vzarr/queue/rabbit",
	SchemeAzureSB: "github.com/greensight/vzarr/queue/azuresb",
}

func driverFor(scheme string) (Driver, error) {
	drivers.RLock()
	defer drivers.RUnlock()
	if d, ok := drivers.m[scheme]; ok {
		return d, nil
	}
	if pkg, ok := driverPackages[scheme]; ok {
		return nil, fmt.Errorf("%w: no driver for %s:// in this program: import _ %q", ErrConfig, scheme, pkg)
	}
	var known []string
	for k := range drivers.m {
		known = append(known, k+"://")
	}
	slices.Sort(known)
	return nil, fmt.Errorf("%w: unknown scheme %q (want %s)", ErrInvalidURL, scheme, strings.Join(known, ", "))
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
	d, err := driverFor(u.Scheme)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", rawURL, err)
	}
	c, err := d.Open(ctx, name, u.Query(), &opts)
	if err != nil {
		return nil, err
	}
	q := &Queue{url: redact(u), scheme: u.Scheme, log: opts.logger(), beforeSend: c.BeforeSend,
		noSubscription: opts.NoSubscription, sendTimeout: opts.SendTimeout}
	if q.sendTimeout <= 0 {
		q.sendTimeout = DefaultSendTimeout
	}
	if c.Reconnect == nil {
		q.static = c.Session
	} else {
		q.link = newLink(q.url, c.Session, c.Reconnect, &opts)
		q.link.verified = c.Verified
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
		if err := q.static.Topic.Send(ctx, pm); err != nil {
			return q.classify("publish "+m.String(), err)
		}
		q.published.Add(1)
		return nil
	}
	s, err := q.link.get()
	if err != nil {
		return fmt.Errorf("queue: publish %s: %w", m.String(), err)
	}
	sctx, cancel := sessionCtx(ctx, s, q.sendTimeout)
	defer cancel()
	err = s.Topic.Send(sctx, pm)
	switch {
	case err == nil:
		q.link.succeeded()
		q.published.Add(1)
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
		m, err := q.static.Subscription.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, q.classify("receive", err)
		}
		q.received.Add(1)
		return newDelivery(m), nil
	}
	for {
		s, err := q.link.wait(ctx)
		if err != nil {
			return nil, err
		}
		rctx, cancel := sessionCtx(ctx, s, 0)
		m, err := s.Subscription.Receive(rctx)
		cancel()
		switch {
		case err == nil:
			q.link.succeeded()
			q.received.Add(1)
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
	return q.static.Subscription == nil
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
	return q.static.shutdown(ctx)
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
