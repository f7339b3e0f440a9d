package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/internal/backoff"
)

// Work receives messages from r and handles them, Options.Concurrency at a
// time, until ctx ends or r is closed. A handled message is acknowledged;
// one to be retried is returned to the queue (Nack) after its delay. When
// ctx ends, Work stops receiving, lets running handlers finish for up to
// Options.ShutdownGrace (then cancels them), returns the messages waiting
// for a retry to the queue, and returns nil. Work also runs Sweep every
// Options.SweepInterval.
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
		pending = map[*Delivery]*time.Timer{}
	)
	nackLater := func(d *Delivery, after time.Duration) {
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
	if e.opts.SweepInterval > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); e.sweepLoop(ctx) }()
	}
	sem := make(chan struct{}, e.opts.Concurrency)
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
			if errors.Is(err, ErrClosed) {
				werr = err
				break
			}
			wait := e.retry.Delay(e.recvOutage.failed(ctx, err))
			select {
			case <-time.After(wait):
				continue
			case <-ctx.Done():
				break loop
			}
		}
		e.recvOutage.recovered(ctx)
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
				e.handleOutage.recovered(hctx)
				d.Ack()
			case errors.As(err, &re):
				e.handleOutage.recovered(hctx)
				e.log.DebugContext(hctx, "engine: message deferred", "message", d.Message.String(), "reason", re.Reason, "after", re.After)
				nackLater(d, re.After)
			case hctx.Err() != nil:
				d.Nack()
			default:
				// The catalog or the broker is failing: one line per
				// outage (handleOutage), a growing delay per message.
				wait := e.retry.Delay(e.handleOutage.failed(hctx, err))
				e.log.DebugContext(hctx, "engine: handling failed; the message will be delivered again",
					"message", d.Message.String(), "error", err, "retry_in", wait)
				nackLater(d, wait)
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
	if errors.Is(werr, ErrClosed) {
		return nil
	}
	return werr
}

// persist runs write, the catalog write that records the outcome of a
// task this worker ran, again while it fails with catalog.ErrUnavailable
// (the catalog away), backing off, until it succeeds, ctx ends or the
// task's lease would be over (another worker may then take the task
// over). A result already computed is then not lost to a short database
// outage, and the task does not wait for its lease to run again.
func (e *Engine) persist(ctx context.Context, task *catalog.Task, write func() error) error {
	deadline := e.now().Add(e.opts.LeaseTimeout)
	if task.StartedAt != nil {
		deadline = task.StartedAt.Add(e.opts.LeaseTimeout)
	}
	b := backoff.Backoff{Initial: e.opts.RetryBackoff / 4, Max: e.opts.MaxRetryDelay}
	for n := 1; ; n++ {
		err := write()
		if err == nil || !errors.Is(err, catalog.ErrUnavailable) || ctx.Err() != nil {
			return err
		}
		wait := b.Delay(n)
		if e.now().Add(wait).After(deadline) {
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
