package engine

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/queue"
)

// Work receives messages from r and handles them, Options.Concurrency at a
// time, until ctx ends or r is closed. A handled message is acknowledged;
// one to be retried is returned to the queue (Nack) after its delay. When
// ctx ends, Work stops receiving, lets running handlers finish for up to
// Options.ShutdownGrace (then cancels them), returns the messages waiting
// for a retry to the queue, and returns nil.
func (e *Engine) Work(ctx context.Context, r Receiver) error {
	// Handlers outlive ctx by the grace period.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.NewTimer(e.opts.ShutdownGrace)
		defer t.Stop()
		select {
		case <-t.C:
			hcancel()
		case <-hctx.Done():
		}
	})
	defer stopGrace()

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		pending = map[*queue.Delivery]*time.Timer{}
	)
	nackLater := func(d *queue.Delivery, after time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		pending[d] = time.AfterFunc(after, func() {
			mu.Lock()
			_, ok := pending[d]
			delete(pending, d)
			mu.Unlock()
			if ok {
				d.Nack()
			}
		})
	}
	sem := make(chan struct{}, e.opts.Concurrency)
	streak := &outage{log: e.log, step: e.backoff}
	failures := 0
	var werr error
loop:
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		d, err := r.Receive(ctx)
		if err != nil {
			<-sem
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, queue.ErrClosed) {
				werr = err
				break
			}
			failures++
			wait := e.backoff(failures)
			e.log.ErrorContext(ctx, "engine: receive failed", "error", err, "retry_in", wait)
			select {
			case <-time.After(wait):
				continue
			case <-ctx.Done():
				break loop
			}
		}
		failures = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := d.Err(); err != nil {
				e.log.WarnContext(hctx, "engine: dropping malformed message", "error", err)
				d.Ack()
				return
			}
			err := e.Handle(hctx, d.Message)
			var re *RetryError
			switch {
			case err == nil:
				streak.ok(hctx)
				d.Ack()
			case errors.As(err, &re):
				e.log.DebugContext(hctx, "engine: message deferred", "message", d.Message.String(), "reason", re.Reason, "after", re.After)
				nackLater(d, re.After)
			case hctx.Err() != nil:
				d.Nack()
			default:
				n := streak.fail(hctx, d.Message, err)
				nackLater(d, e.retryDelay(n))
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	for d, t := range pending {
		if t.Stop() {
			d.Nack()
		}
		delete(pending, d)
	}
	mu.Unlock()
	if errors.Is(werr, queue.ErrClosed) {
		return nil
	}
	return werr
}

// retryDelay is the wait before a message whose handling failed is
// delivered again, at level n of a run of failures (see outage):
// exponential from RetryBackoff, capped at MaxRetryDelay, with jitter so
// that the messages of an outage do not come back in step.
func (e *Engine) retryDelay(n int) time.Duration {
	return queue.Backoff{Initial: e.opts.RetryBackoff, Max: e.opts.MaxRetryDelay}.Delay(n)
}

// outage follows runs of handling failures in a row (the catalog or the
// broker away: every message fails the same way). The first failure of a
// run is logged as an error, the others at debug level, and the end of the
// run once, with its length: an outage costs two lines, not one per
// message per retry. The run's level, the exponent of the retry delay,
// rises with time, not with the count of failures (an outage fails every
// message at once): by one each time a whole delay of the current level
// has passed, so that the retries of a short outage stay close together.
type outage struct {
	log      *slog.Logger
	step     func(level int) time.Duration // the delay of a level, without jitter
	mu       sync.Mutex
	failures int
	level    int
	since    time.Time
	levelAt  time.Time
}

// fail records a failure; it returns the run's level (from 1).
func (o *outage) fail(ctx context.Context, m queue.Message, err error) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	o.failures++
	if o.failures == 1 {
		o.since, o.levelAt, o.level = now, now, 1
		o.log.ErrorContext(ctx, "engine: handling failed; the message will be delivered again (further failures in a row are logged at debug level)",
			"message", m.String(), "error", err)
		return o.level
	}
	if now.Sub(o.levelAt) >= o.step(o.level) {
		o.level++
		o.levelAt = now
	}
	o.log.DebugContext(ctx, "engine: handling failed; the message will be delivered again",
		"message", m.String(), "error", err, "failures_in_a_row", o.failures, "level", o.level)
	return o.level
}

// ok records a success: a run of failures ends.
func (o *outage) ok(ctx context.Context) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failures > 0 {
		o.log.InfoContext(ctx, "engine: handling succeeds again", "failures_in_a_row", o.failures,
			"duration", time.Since(o.since).Round(time.Millisecond))
		o.failures, o.level = 0, 0
	}
}

// persist runs write, the catalog write that records the outcome of a
// task this worker ran, again while it fails for another reason than a
// race (the catalog away), backing off, until it succeeds, ctx ends or the
// task's lease would be over (another worker may then take the task
// over). A result already computed is then not lost to a short database
// outage, and the task does not wait for its lease to run again.
func (e *Engine) persist(ctx context.Context, task *catalog.Task, write func() error) error {
	deadline := time.Now().Add(e.opts.LeaseTimeout)
	if task.StartedAt != nil {
		deadline = task.StartedAt.Add(e.opts.LeaseTimeout)
	}
	b := queue.Backoff{Initial: e.opts.RetryBackoff / 4, Max: e.opts.MaxRetryDelay}
	for n := 1; ; n++ {
		err := write()
		if err == nil || isRace(err) || ctx.Err() != nil {
			return err
		}
		wait := b.Delay(n)
		if time.Now().Add(wait).After(deadline) {
			return err
		}
		e.log.DebugContext(ctx, "engine: recording a task's outcome failed; retrying", "task_id", task.ID,
			"attempt", n, "retry_in", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}
