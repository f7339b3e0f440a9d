package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/greensight/vzarr/catalog"
)

// sweepBatch bounds the records one Sweep acts on per kind.
const sweepBatch = 200

// held is how long a task's current attempt has run (by the engine's
// clock).
func (e *Engine) held(t *catalog.Task) time.Duration {
	if t.StartedAt == nil {
		return 0
	}
	return e.now().Sub(*t.StartedAt)
}

// describeTask names a task for messages: its id and its params (which
// name its file), shortened.
func describeTask(t *catalog.Task) string {
	const max = 240
	p := string(t.Params)
	if len(p) > max {
		p = p[:max] + "…"
	}
	if p == "" || p == "{}" || p == "null" {
		return "task " + t.ID
	}
	return "task " + t.ID + " " + p
}

// takeOver ends the attempt of a PROCESSING task whose lease expired (its
// worker died or hung), with a move checked against the revision read: of
// racing workers (messages, sweepers) one succeeds, the others get a race
// error. A task with attempts left becomes retry-marked FAILED (the next
// delivery claims it again); one that used its attempts becomes FAILED for
// good with error type ErrTypeWorkerLost, which fails its job.
func (e *Engine) takeOver(ctx context.Context, task *catalog.Task) (*catalog.Task, error) {
	held := e.held(task)
	lost := leasesLost(task) + 1
	final := task.Attempts >= e.opts.MaxAttempts
	var msg, stored string
	if final {
		msg = fmt.Sprintf("worker lost: %s: %d of %d attempts lost their lease (no result within %s)",
			describeTask(task), lost, task.Attempts, e.opts.LeaseTimeout)
		stored = msg
	} else {
		msg = fmt.Sprintf("lease expired: no result after %s (attempt %d of %d)", held.Round(time.Millisecond),
			task.Attempts, e.opts.MaxAttempts)
		stored = retryMarker + msg
	}
	t, err := e.store.TransitionTask(ctx, task.ID, catalog.Transition{To: catalog.StatusFailed, IfRevision: task.Revision,
		Error: stored, Result: failureEnvelope(msg, ErrTypeWorkerLost, lost)})
	if err != nil {
		return nil, err
	}
	e.log.WarnContext(ctx, "engine: lease expired; took over a task whose worker was lost", "job_id", task.JobID,
		"task_id", task.ID, "attempt", task.Attempts, "max_attempts", e.opts.MaxAttempts, "attempt_started", task.StartedAt,
		"delayed", held.Round(time.Millisecond), "leases_lost", lost, "final", final)
	return t, nil
}

// taskTypes lists the task types of the engine's definitions and the
// failure markers (the records that hold leases).
func (e *Engine) taskTypes() []string {
	types := []string{failureType}
	for _, d := range e.defs {
		for i := range d.Stages {
			types = append(types, d.Stages[i].taskType())
		}
	}
	return types
}

// Sweep finds work whose message was lost and jobs stuck, and acts on
// each once (every action is a revision-checked catalog change, so
// sweepers in many workers never act twice):
//
//   - a task PROCESSING past its lease: taken over and its message
//     published again; with no attempts left its job fails with error
//     type "worker_lost"; a task of a failing job is canceled;
//   - a failure hook PROCESSING past its lease: taken over and run, then
//     its job moved to FAILED;
//   - a job still PENDING PendingAfter after its last change (its message
//     was lost, or never published: the submit path's outbox): touched and
//     enqueued again;
//   - a job whose current stage has been open longer than StageDeadline:
//     failed with error type "timeout".
//
// Work runs it every SweepInterval; it returns the errors met.
func (e *Engine) Sweep(ctx context.Context) error {
	var errs []error
	now := e.now()
	tasks, err := e.store.FindTasks(ctx, catalog.TaskFilter{Status: catalog.StatusProcessing, Types: e.taskTypes(),
		StartedBefore: now.Add(-e.opts.LeaseTimeout), Limit: sweepBatch})
	if err != nil {
		return fmt.Errorf("engine: sweep: expired leases: %w", err)
	}
	for _, t := range tasks {
		if err := e.sweepTask(ctx, t); err != nil && !isRetry(err) {
			errs = append(errs, fmt.Errorf("task %s: %w", t.ID, err))
		}
	}
	jobs, err := e.store.ListJobs(ctx, catalog.JobFilter{Status: catalog.StatusPending,
		UpdatedBefore: now.Add(-e.opts.PendingAfter), Limit: sweepBatch})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("engine: sweep: pending jobs: %w", err))...)
	}
	for _, j := range jobs {
		if err := e.sweepPending(ctx, j); err != nil {
			errs = append(errs, fmt.Errorf("job %s: %w", j.ID, err))
		}
	}
	if e.opts.StageDeadline > 0 {
		jobs, err := e.store.ListJobs(ctx, catalog.JobFilter{Status: catalog.StatusProcessing,
			UpdatedBefore: now.Add(-e.opts.StageDeadline), Limit: sweepBatch})
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("engine: sweep: deadlines: %w", err))...)
		}
		for _, j := range jobs {
			if err := e.sweepDeadline(ctx, j); err != nil && !isRetry(err) {
				errs = append(errs, fmt.Errorf("job %s: %w", j.ID, err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("engine: sweep: %w", errors.Join(errs...))
	}
	return nil
}

// isRetry reports a *RetryError: not now (a sweep tries again next time).
func isRetry(err error) bool {
	var re *RetryError
	return errors.As(err, &re)
}

// sweepTask takes over a task whose lease expired.
func (e *Engine) sweepTask(ctx context.Context, t *catalog.Task) error {
	job, def, err := e.loadJob(ctx, t.JobID)
	if job == nil || err != nil {
		return err
	}
	if t.Type == failureType {
		// A failure hook whose worker was lost: take it over, run the
		// hook, move the job to FAILED.
		if job.Status == catalog.StatusCompleted {
			return nil
		}
		return e.ensureFailed(ctx, def, job, nil)
	}
	// A task of a failed or failing job (its stage's gate FAILED) is
	// canceled, not run again.
	failing, reason := job.Status == catalog.StatusFailed, job.Error
	if job.Status == catalog.StatusProcessing {
		gate, err := e.store.GetTask(ctx, GateID(job.ID, t.Stage))
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return err
		}
		if err == nil && gate.Status == catalog.StatusFailed {
			failing, reason = true, gateFailure(gate).Message()
		}
	}
	if job.Status == catalog.StatusProcessing && !failing && t.Attempts < e.opts.MaxAttempts {
		// The task will run again, and its message may be gone with its
		// worker: send one first, so that a failed publish leaves the
		// task expired for the next sweep rather than waiting for a
		// message that never comes. A duplicate is harmless.
		if err := e.pub.Publish(ctx, Message{JobID: t.JobID, TaskID: t.ID}); err != nil {
			return err
		}
	}
	claimed, err := e.takeOver(ctx, t)
	if isRace(err) {
		return nil // another worker acted first
	}
	if err != nil {
		return err
	}
	switch {
	case failing:
		e.cancelTask(ctx, claimed, reason)
	case e.failedForGood(claimed) && job.Status == catalog.StatusProcessing:
		return e.failJob(ctx, def, job, failureOf(claimed.Stage, claimed), nil)
	}
	return nil
}

// sweepPending enqueues again a job that never started.
func (e *Engine) sweepPending(ctx context.Context, j *catalog.Job) error {
	if e.defs[j.Type] == nil {
		return nil // another engine's job
	}
	if _, err := e.store.TouchJob(ctx, j.ID, j.Revision); err != nil {
		if isRace(err) {
			return nil
		}
		return err
	}
	e.log.WarnContext(ctx, "engine: job never started; enqueuing it again", "job_id", j.ID,
		"pending_for", e.now().Sub(j.CreatedAt).Round(time.Millisecond))
	return e.Enqueue(ctx, j.ID)
}

// sweepDeadline fails a job whose current stage is past StageDeadline.
func (e *Engine) sweepDeadline(ctx context.Context, j *catalog.Job) error {
	def := e.defs[j.Type]
	if def == nil {
		return nil
	}
	k, gate, err := e.currentStage(ctx, def, j)
	if err != nil {
		return err
	}
	since, stage := j.UpdatedAt, def.Stages[0].Name
	if j.StartedAt != nil {
		since = *j.StartedAt
	}
	if k >= 0 {
		if gate.Status == catalog.StatusFailed {
			// Failing: finish it (the worker that failed the gate may
			// have died before it created the failure marker, and a
			// sweeper's failure has no message to finish it).
			return e.failJob(ctx, def, j, gateFailure(gate), gate)
		}
		if gate.Status.Terminal() {
			return nil // advancing: the messages finish it
		}
		since, stage = gate.CreatedAt, gate.Stage
	}
	open := e.now().Sub(since)
	if open < e.opts.StageDeadline {
		return nil
	}
	return e.failJob(ctx, def, j, &Failure{Stage: stage, ErrorType: ErrTypeTimeout,
		Error: fmt.Sprintf("timeout: the stage has been open for %s, longer than its %s deadline", open.Round(time.Second), e.opts.StageDeadline)}, gate)
}

// sweepLoop runs Sweep every SweepInterval until ctx ends.
func (e *Engine) sweepLoop(ctx context.Context) {
	for {
		wait := e.opts.SweepInterval + time.Duration(rand.Float64()*float64(e.opts.SweepInterval/10))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := e.Sweep(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			e.sweepOutage.failed(ctx, err)
			continue
		}
		e.sweepOutage.recovered(ctx)
	}
}

// outage tracks consecutive failures of one activity and logs its state
// changes only: the first failure (ERROR, with the error) and the
// recovery (INFO, with the outage's duration), not every attempt.
//
// failed returns the outage's level, the exponent of the retry delay. By
// default it is the count of failures (an activity that retries one at a
// time). With step set, it rises with time instead: by one each time a
// whole delay of the current level (step(level)) has passed — for
// activities such as message handling where an outage fails many
// attempts at once, so that the retries of a short outage stay close
// together rather than climbing to the cap in a burst.
type outage struct {
	what string
	log  *slog.Logger
	now  func() time.Time
	step func(level int) time.Duration

	mu       sync.Mutex
	failures int
	level    int
	since    time.Time
	levelAt  time.Time
}

// failed records a failure and returns the outage's level (from 1).
func (o *outage) failed(ctx context.Context, err error) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	o.failures++
	if o.failures == 1 {
		o.since, o.levelAt, o.level = now, now, 1
		o.log.ErrorContext(ctx, "engine: "+o.what+" failed; retrying with backoff until it recovers", "error", err)
		return 1
	}
	switch {
	case o.step == nil:
		o.level = o.failures
	case now.Sub(o.levelAt) >= o.step(o.level):
		o.level++
		o.levelAt = now
	}
	o.log.DebugContext(ctx, "engine: "+o.what+" still failing", "failures", o.failures, "level", o.level, "error", err)
	return o.level
}

// recovered records a success, logging the end of an outage.
func (o *outage) recovered(ctx context.Context) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failures == 0 {
		return
	}
	o.log.InfoContext(ctx, "engine: "+o.what+" recovered", "failures", o.failures,
		"outage", o.now().Sub(o.since).Round(time.Millisecond))
	o.failures, o.level = 0, 0
}
