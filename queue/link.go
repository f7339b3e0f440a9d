package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gocloud.dev/pubsub"
)

// A broker's connection is lost sooner or later (a restart, a network
// fault). gocloud.dev's subscriptions and RabbitMQ's connections do not
// recover from that on their own: a subscription whose receive failed
// returns the same error forever. A link therefore holds the current
// session (a topic and a subscription over one set of connections), drops
// it when it breaks and opens a new one in the background, with
// exponential backoff and jitter, until it succeeds or the queue is
// closed. Publish fails fast with ErrUnavailable while no session is
// open; Receive waits for the next one. A link logs once when the broker
// is lost (with the error) and once when it is back (with how long it was
// away), never once per attempt.

// DefaultSendTimeout bounds one Publish on a broker (the context's
// deadline applies when it is shorter).
const DefaultSendTimeout = 10 * time.Second

// probeTimeout bounds a readiness probe (the caller's deadline applies
// when it is shorter).
const probeTimeout = 5 * time.Second

// reconnectShutdownTimeout bounds releasing a broken session.
const reconnectShutdownTimeout = 5 * time.Second

// Session is what a Driver opens: a topic and, unless the queue only
// publishes, a subscription over one set of connections.
type Session struct {
	Topic        *pubsub.Topic
	Subscription *pubsub.Subscription
	// Broken reports a connection known to be dead (nil: never known).
	Broken func() bool
	// Release closes the session's connections, after its topic and
	// subscription are shut down (nil: nothing to close).
	Release func() error
	// Close, when set, shuts the session down instead (its topic and
	// subscription included): an in-process queue shared by several
	// Queues closes them with the last one.
	Close func(ctx context.Context) error
	// Probe, when set, asks the broker whether it answers (Ready on a
	// driver whose clients retry on their own, out of sight).
	Probe func(ctx context.Context) error
	// Watch, when set, is started once the session is in use: it calls
	// fail when a connection of the session closes, and stops watching
	// when lost is closed (the queue dropped the session).
	Watch func(fail func(error), lost <-chan struct{})

	// lost is closed when the link drops the session.
	lost chan struct{}
}

func (s *Session) isBroken() bool { return s.Broken != nil && s.Broken() }

// shutdown shuts the session's topic and subscription down and releases
// its connections.
func (s *Session) shutdown(ctx context.Context) error {
	if s.Close != nil {
		return s.Close(ctx)
	}
	var errs []error
	if s.Subscription != nil {
		errs = append(errs, s.Subscription.Shutdown(ctx))
	}
	if s.Topic != nil {
		errs = append(errs, s.Topic.Shutdown(ctx))
	}
	if s.Release != nil {
		errs = append(errs, s.Release())
	}
	return errors.Join(errs...)
}

// link keeps a queue's session open across broker faults.
type link struct {
	url string // redacted, for logs and errors
	// connect opens a new session (dialing, declaring what the broker
	// needs). A session's Watch is started for it once it is in use.
	connect func(ctx context.Context) (*Session, error)
	// verified: a successful connect proves the broker answers (RabbitMQ
	// dials). Otherwise (Service Bus clients connect lazily) the broker
	// counts as back only once an operation succeeds.
	verified bool
	backoff  Backoff
	log      *slog.Logger
	// sleep waits d or until ctx ends (tests replace it).
	sleep func(ctx context.Context, d time.Duration) error

	ctx    context.Context // ends at close: stops reconnecting
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu           sync.Mutex
	cur          *Session
	changed      chan struct{} // closed (and replaced) when cur changes or the link closes
	down         bool
	downErr      error
	downSince    time.Time
	attempts     int // connects tried in this outage
	reconnecting bool
	closed       bool
}

func newLink(url string, s *Session, connect func(context.Context) (*Session, error), opts *Options) *link {
	ctx, cancel := context.WithCancel(context.Background())
	if s != nil && s.lost == nil {
		s.lost = make(chan struct{})
	}
	return &link{url: url, connect: connect, backoff: opts.Reconnect, log: opts.logger(), sleep: sleepCtx,
		ctx: ctx, cancel: cancel, cur: s, changed: make(chan struct{})}
}

// start watches the first session; call it once the link is configured.
func (l *link) start() {
	if l.cur != nil {
		l.watchSession(l.cur)
	}
}

// watchSession starts the Watch of s: a connection that closes drops s.
func (l *link) watchSession(s *Session) {
	if s.Watch != nil {
		s.Watch(func(err error) { l.failed(s, err, true) }, s.lost)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// signal wakes the waiters of a session change; l.mu is held.
func (l *link) signal() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// get returns the open session, or ErrUnavailable at once while there is
// none.
func (l *link) get() (*Session, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return nil, fmt.Errorf("%w: %s", ErrClosed, l.url)
	case l.cur == nil:
		return nil, l.unavailable()
	}
	return l.cur, nil
}

// wait returns the open session, waiting for one while the broker is
// away, until ctx ends or the link is closed.
func (l *link) wait(ctx context.Context) (*Session, error) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, fmt.Errorf("%w: %s", ErrClosed, l.url)
		}
		if s := l.cur; s != nil {
			l.mu.Unlock()
			return s, nil
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// unavailable is the error of an outage; l.mu is held.
func (l *link) unavailable() error {
	if l.downErr == nil {
		return fmt.Errorf("%w: %s: not connected", ErrUnavailable, l.url)
	}
	return fmt.Errorf("%w: %s: %v (since %s)", ErrUnavailable, l.url, l.downErr, l.downSince.UTC().Format(time.RFC3339))
}

// ready is Queue.Ready for a linked queue. A session with a probe is
// asked (bounded by ctx), and the outcome counts as an operation's.
func (l *link) ready(ctx context.Context) error {
	l.mu.Lock()
	s := l.cur
	l.mu.Unlock()
	if s != nil && s.Probe != nil {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		err := s.Probe(pctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil || errors.Is(err, context.DeadlineExceeded) {
				l.failed(s, err, false)
			}
		} else {
			l.succeeded()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return fmt.Errorf("%w: %s", ErrClosed, l.url)
	case l.down || l.cur == nil:
		return l.unavailable()
	case l.cur.isBroken():
		return fmt.Errorf("%w: %s: connection closed", ErrUnavailable, l.url)
	}
	return nil
}

// failed records an operation of s that failed with err. The first
// failure of an outage is logged. drop ends the session: it is shut down
// in the background and a new one is opened.
func (l *link) failed(s *Session, err error, drop bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || s != l.cur {
		return // an old session's late news
	}
	if !l.down {
		l.down, l.downErr, l.downSince, l.attempts = true, err, time.Now(), 0
		l.log.Warn("queue: broker unavailable; reconnecting", "queue", l.url, "error", err)
	}
	if !drop {
		return
	}
	l.cur = nil
	close(s.lost)
	l.signal()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), reconnectShutdownTimeout)
		defer cancel()
		_ = s.shutdown(ctx) // it is broken: its errors say nothing new
	}()
	if !l.reconnecting {
		l.reconnecting = true
		l.wg.Add(1)
		go l.reconnect()
	}
}

// succeeded records an operation that succeeded: an outage ends.
func (l *link) succeeded() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down && l.cur != nil && !l.closed {
		l.recovered()
	}
}

// recovered ends an outage; l.mu is held.
func (l *link) recovered() {
	l.log.Info("queue: broker reachable again", "queue", l.url, "down_for", time.Since(l.downSince).Round(time.Millisecond),
		"attempts", l.attempts)
	l.down, l.downErr, l.attempts = false, nil, 0
}

// reconnect opens sessions, backing off between attempts, until one
// opens or the link is closed.
//
// The attempts count on across sessions that fail again before the outage
// ends (a Service Bus subscription, opened lazily, whose first receive
// fails): the delays keep growing.
func (l *link) reconnect() {
	defer l.wg.Done()
	l.mu.Lock()
	first := l.attempts + 1
	l.mu.Unlock()
	for n := first; ; n++ {
		if l.sleep(l.ctx, l.backoff.Delay(n)) != nil {
			l.mu.Lock()
			l.reconnecting = false
			l.mu.Unlock()
			return
		}
		s, err := l.connect(l.ctx)
		l.mu.Lock()
		l.attempts = n
		if err != nil {
			if l.ctx.Err() == nil {
				l.downErr = err
			}
			l.mu.Unlock()
			l.log.Debug("queue: reconnect failed", "queue", l.url, "attempt", n, "error", err)
			continue
		}
		if l.closed {
			l.reconnecting = false
			l.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), reconnectShutdownTimeout)
			_ = s.shutdown(ctx)
			cancel()
			return
		}
		s.lost = make(chan struct{})
		l.cur = s
		l.reconnecting = false
		if l.verified {
			l.recovered()
		}
		l.signal()
		l.mu.Unlock()
		l.watchSession(s)
		return
	}
}

// close stops reconnecting and shuts the open session down.
func (l *link) close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	s := l.cur
	l.cur = nil
	if s != nil {
		close(s.lost)
	}
	l.signal()
	l.mu.Unlock()
	l.cancel()
	var err error
	if s != nil {
		err = s.shutdown(ctx)
	}
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return err
}

// sessionCtx ends when ctx ends, s is dropped or timeout (when positive)
// has passed.
func sessionCtx(ctx context.Context, s *Session, timeout time.Duration) (context.Context, context.CancelFunc) {
	var cancel context.CancelFunc
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	go func() {
		select {
		case <-s.lost:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// isLost reports whether s was dropped.
func (s *Session) isLost() bool {
	select {
	case <-s.lost:
		return true
	default:
		return false
	}
}
