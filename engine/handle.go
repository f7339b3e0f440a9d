package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/greensight/vzarr/catalog"
)

// maxRaces bounds how often one message re-reads a record that another
// worker changed first.
const maxRaces = 8

// failureType is the task type of the failure marker: the record of a
// failing job's Failure (its params) and the lease of its OnFailure hook
// (COMPLETED once the hook has run).
const failureType = "engine.failure"

func failureMarkerID(jobID string) string { return jobID + "/!failure" }

// leaseExpired is the Error (after retryMarker) of a failure marker
// released because its worker was lost: its hook is taken over at once.
const leaseExpired = "lease expired"

// Handle processes one message: it starts or advances the job, or runs the
// task and advances the job. It returns nil when the message may be
// acknowledged, a *RetryError when it should be delivered again after a
// delay, and another error when the catalog or the queue failed (deliver
// again after a backoff). Handle is safe to call concurrently, any number
// of times, in any order, for the same message.
func (e *Engine) Handle(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		e.log.WarnContext(ctx, "engine: dropping message", "error", err)
		return nil
	}
	if m.TaskID == "" {
		return e.reconcile(ctx, m.JobID)
	}
	return e.handleTask(ctx, m)
}

// loadJob reads a job and its definition; nil job means "drop the message".
func (e *Engine) loadJob(ctx context.Context, jobID string) (*catalog.Job, *Definition, error) {
	job, err := e.store.GetJob(ctx, jobID)
	if errors.Is(err, catalog.ErrNotFound) {
		e.log.WarnContext(ctx, "engine: message for an unknown job", "job_id", jobID)
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	def := e.defs[job.Type]
	if def == nil {
		e.log.ErrorContext(ctx, "engine: job of an unknown type", "job_id", jobID, "type", job.Type)
		return nil, nil, nil
	}
	return job, def, nil
}

// reconcile brings a job up to date: starts it, advances it, or finishes
// its failure.
func (e *Engine) reconcile(ctx context.Context, jobID string) error {
	job, def, err := e.loadJob(ctx, jobID)
	if job == nil || err != nil {
		return err
	}
	for range maxRaces {
		switch job.Status {
		case catalog.StatusCompleted:
			return nil
		case catalog.StatusFailed:
			return e.ensureFailed(ctx, def, job, nil)
		case catalog.StatusPending:
			j, err := e.store.TransitionJob(ctx, job.ID, catalog.Transition{To: catalog.StatusProcessing,
				Stage: def.Stages[0].Name, IfRevision: job.Revision})
			if isRace(err) {
				if job, err = e.store.GetJob(ctx, jobID); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			e.log.InfoContext(ctx, "engine: job started", "job_id", job.ID, "type", job.Type)
			job = j
		}
		return e.advance(ctx, def, job, -1)
	}
	return retryLater(e.backoff(1), "job %s keeps changing", jobID)
}

// currentStage returns the index and gate of the job's latest opened
// stage, or -1 when none is open. It reads the gates in order and stops at
// the first one missing or not COMPLETED: stage k+1 is opened only once
// gate k is COMPLETED (a failure marks the gate of its own, opened stage,
// or of stage 0 when OnStart failed), so no later gate can exist, and a
// task's message costs one gate read, not two.
func (e *Engine) currentStage(ctx context.Context, def *Definition, job *catalog.Job) (int, *catalog.Task, error) {
	k, gate := -1, (*catalog.Task)(nil)
	for i, st := range def.Stages {
		id := GateID(job.ID, st.Name)
		g := e.doneGate(id)
		if g == nil {
			var err error
			g, err = e.store.GetTask(ctx, id)
			if errors.Is(err, catalog.ErrNotFound) {
				break
			}
			if err != nil {
				return 0, nil, err
			}
			if g.Status == catalog.StatusCompleted {
				e.setDoneGate(g)
			}
		}
		k, gate = i, g
		if g.Status != catalog.StatusCompleted {
			break
		}
	}
	return k, gate, nil
}

// doneGate returns the gate of that ID if this worker saw it COMPLETED
// (callers must not change it), else nil.
func (e *Engine) doneGate(id string) *catalog.Task {
	e.hintMu.Lock()
	defer e.hintMu.Unlock()
	return e.done[id]
}

// setDoneGate remembers a COMPLETED gate.
func (e *Engine) setDoneGate(g *catalog.Task) {
	e.hintMu.Lock()
	defer e.hintMu.Unlock()
	if len(e.done) > 10000 {
		clear(e.done)
	}
	e.done[g.ID] = g
}

// advance moves a PROCESSING job as far as it can go now. from is the
// index of the stage whose task's message called it (-1 for a job
// message).
func (e *Engine) advance(ctx context.Context, def *Definition, job *catalog.Job, from int) error {
	for range 2*len(def.Stages) + maxRaces {
		k, gate, err := e.currentStage(ctx, def, job)
		if err != nil {
			return err
		}
		if k < 0 {
			created, err := e.openStage(ctx, def, job, 0)
			if err != nil || !created {
				return err
			}
			continue
		}
		st := &def.Stages[k]
		switch gate.Status {
		case catalog.StatusPending:
			// Its creator is planning and publishing the stage, and
			// checks the stage once it has. A gate left PENDING for long
			// lost its creator: do it again. The creator's own message
			// (a job message or a task of an earlier stage) must come
			// back until then, so that the stage is recovered if the
			// creator died; a message of the stage's own tasks may go.
			if age := e.now().Sub(gate.CreatedAt); age < e.opts.FanoutTimeout {
				if from >= k {
					return nil
				}
				wait := min(e.opts.FanoutTimeout-age, e.opts.MaxRetryDelay) + time.Duration(rand.Int64N(int64(100*time.Millisecond)))
				return retryLater(wait, "stage %s of job %s is being opened", st.Name, job.ID)
			}
			e.log.WarnContext(ctx, "engine: publishing an abandoned stage again", "job_id", job.ID, "stage", st.Name)
			if _, err := e.fanOut(ctx, def, job, k, gate); err != nil {
				return err
			}
		case catalog.StatusProcessing:
			done, err := e.stageDone(ctx, def, job, k, gate)
			if err != nil || !done {
				return err
			}
			// The one move that advances the stage: of all workers that
			// saw it done, exactly one succeeds.
			_, err = e.store.TransitionTask(ctx, gate.ID, catalog.Transition{To: catalog.StatusCompleted,
				IfRevision: gate.Revision})
			if err != nil && !isRace(err) {
				return err
			}
			if err == nil {
				e.log.InfoContext(ctx, "engine: stage completed", "job_id", job.ID, "stage", st.Name,
					"duration", time.Since(gate.CreatedAt).Round(time.Millisecond))
			}
		case catalog.StatusCompleted:
			if k == len(def.Stages)-1 {
				return e.completeJob(ctx, def, job)
			}
			created, err := e.openStage(ctx, def, job, k+1)
			if err != nil || !created {
				return err
			}
		case catalog.StatusFailed:
			// The job is failing (or failed): finish that.
			return e.failJob(ctx, def, job, gateFailure(gate), gate)
		}
		// Something moved: read the job again.
		if job, err = e.store.GetJob(ctx, job.ID); err != nil {
			return err
		}
		if job.Status != catalog.StatusProcessing {
			return e.reconcileLoaded(ctx, def, job)
		}
	}
	return retryLater(e.backoff(1), "job %s keeps changing", job.ID)
}

// reconcileLoaded finishes a job that left PROCESSING under us.
func (e *Engine) reconcileLoaded(ctx context.Context, def *Definition, job *catalog.Job) error {
	if job.Status == catalog.StatusFailed {
		return e.ensureFailed(ctx, def, job, nil)
	}
	return nil
}

// openStage creates stage k's gate; the creator plans and publishes the
// stage. It reports whether this call created it.
func (e *Engine) openStage(ctx context.Context, def *Definition, job *catalog.Job, k int) (bool, error) {
	st := &def.Stages[k]
	if k == 0 && def.OnStart != nil {
		if err := def.OnStart(ctx, job); err != nil {
			if e.opts.IsRetryable(err) {
				return false, err
			}
			return false, e.failJob(ctx, def, job, &Failure{Stage: st.Name, Error: "start: " + err.Error(),
				ErrorType: e.opts.ErrorType(err)}, nil)
		}
	}
	params, _ := json.Marshal(map[string]any{"index": k})
	gate, err := e.store.CreateTask(ctx, catalog.NewTask{ID: GateID(job.ID, st.Name), JobID: job.ID,
		Type: GateType, Stage: st.Name, Params: params})
	if errors.Is(err, catalog.ErrConflict) {
		return false, nil // another worker opened it
	}
	if err != nil {
		return false, err
	}
	_, err = e.fanOut(ctx, def, job, k, gate)
	return true, err
}

// fanOut plans stage k, creates its tasks (those missing), publishes the
// pending ones and moves the gate to PROCESSING. It reports whether this
// call moved the gate.
func (e *Engine) fanOut(ctx context.Context, def *Definition, job *catalog.Job, k int, gate *catalog.Task) (bool, error) {
	st := &def.Stages[k]
	start := time.Now()
	all, err := e.store.ListTasks(ctx, job.ID)
	if err != nil {
		return false, err
	}
	done := map[string][]*catalog.Task{}
	existing := map[string]*catalog.Task{}
	for _, t := range all {
		if t.Type == GateType || t.Type == failureType {
			continue
		}
		if t.Stage == st.Name {
			existing[t.ID] = t
		} else if t.Status == catalog.StatusCompleted {
			done[t.Stage] = append(done[t.Stage], t)
		}
	}
	for _, ts := range done {
		sortByIndex(ts)
	}
	plan, err := e.safePlan(ctx, st, job, done)
	if err != nil {
		if e.opts.IsRetryable(err) {
			return false, err
		}
		return false, e.failJob(ctx, def, job, &Failure{Stage: st.Name, Error: err.Error(), ErrorType: e.opts.ErrorType(err)}, gate)
	}
	var publish []string
	var missing []catalog.NewTask
	for i, p := range plan {
		id := TaskID(job.ID, st.Name, i)
		if t, ok := existing[id]; ok {
			if t.Status == catalog.StatusPending {
				publish = append(publish, id)
			}
			continue
		}
		missing = append(missing, catalog.NewTask{ID: id, JobID: job.ID, Type: st.taskType(), Stage: st.Name, Params: p})
		publish = append(publish, id)
	}
	if err := e.createTasks(ctx, missing); err != nil {
		return false, err
	}
	if err := e.publishAll(ctx, job.ID, publish); err != nil {
		return false, err
	}
	result, _ := json.Marshal(map[string]int{"tasks": len(plan)})
	_, err = e.store.TransitionTask(ctx, gate.ID, catalog.Transition{To: catalog.StatusProcessing,
		Result: result, IfRevision: gate.Revision})
	if isRace(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	e.log.InfoContext(ctx, "engine: stage started", "job_id", job.ID, "stage", st.Name, "tasks", len(plan),
		"fanout_duration", time.Since(start).Round(time.Millisecond))
	if f := e.opts.Observer.StageStarted; f != nil {
		f(StageEvent{Job: job, Stage: st.Name, Index: k, Tasks: len(plan), Params: plan})
	}
	return true, nil
}

// createTasks creates a stage's tasks, skipping those that exist: in
// batches when the store can (catalog.TaskBatcher), else one by one.
func (e *Engine) createTasks(ctx context.Context, ts []catalog.NewTask) error {
	if b, ok := e.store.(catalog.TaskBatcher); ok {
		_, err := b.CreateTasks(ctx, ts)
		return err
	}
	for _, nt := range ts {
		if _, err := e.store.CreateTask(ctx, nt); err != nil && !errors.Is(err, catalog.ErrConflict) {
			return err
		}
	}
	return nil
}

// publishAll publishes the task messages, a few at a time.
func (e *Engine) publishAll(ctx context.Context, jobID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	sem := make(chan struct{}, e.opts.PublishConcurrency)
	errc := make(chan error, len(ids))
	for _, id := range ids {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			errc <- e.pub.Publish(ctx, Message{JobID: jobID, TaskID: id})
		}()
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	close(errc)
	var errs []error
	for err := range errc {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("engine: publishing %d of %d task messages of job %s: %w", len(errs), len(ids), jobID, errs[0])
	}
	return nil
}

// gateTasks is the task count a PROCESSING gate recorded.
func gateTasks(gate *catalog.Task) int {
	var r struct {
		Tasks int `json:"tasks"`
	}
	_ = json.Unmarshal(gate.Result, &r)
	return r.Tasks
}

// stageDone reports whether every task of stage k has completed. A task
// that failed for good fails the job.
func (e *Engine) stageDone(ctx context.Context, def *Definition, job *catalog.Job, k int, gate *catalog.Task) (bool, error) {
	st := &def.Stages[k]
	key := job.ID + "/" + st.Name
	// Cheap test first: a task this worker last saw unfinished.
	if hint := e.hint(key); hint != "" {
		t, err := e.store.GetTask(ctx, hint)
		if err == nil && t.Status != catalog.StatusCompleted && !e.failedForGood(t) {
			return false, nil
		}
	}
	all, err := listBrief(ctx, e.store, job.ID)
	if err != nil {
		return false, err
	}
	completed := 0
	var open, failed *catalog.Task
	for _, t := range all {
		if t.Stage != st.Name || t.Type == GateType || t.Type == failureType {
			continue
		}
		switch {
		case t.Status == catalog.StatusCompleted:
			completed++
		case e.failedForGood(t):
			if failed == nil {
				failed = t
			}
		default:
			open = t // the last one in creation order: likely the last to finish
		}
	}
	if failed != nil {
		return false, e.failJob(ctx, def, job, failureOf(st.Name, failed), gate)
	}
	if open != nil {
		e.setHint(key, open.ID)
		return false, nil
	}
	if n := gateTasks(gate); completed < n {
		e.log.ErrorContext(ctx, "engine: stage has fewer tasks than planned", "job_id", job.ID, "stage", st.Name,
			"tasks", completed, "planned", n)
		return false, nil
	}
	e.setHint(key, "")
	return true, nil
}

// failedForGood reports a task that failed and will not run again: its
// error is not marked for a retry, or it has used its attempts. The
// second case is a state, not a status move: a retry-marked task with
// MaxAttempts attempts is failed for good as it stands (FAILED → FAILED
// is not a transition), so every worker that reads it fails its job.
func (e *Engine) failedForGood(t *catalog.Task) bool {
	return t.Status == catalog.StatusFailed && (!strings.HasPrefix(t.Error, retryMarker) || t.Attempts >= e.opts.MaxAttempts)
}

// failureOf reads the Failure of a failed task: its last error and that
// error's type (ErrTypeWorkerLost when the last attempt lost its lease).
func failureOf(stage string, t *catalog.Task) *Failure {
	f := &Failure{Stage: stage, TaskID: t.ID, Error: strings.TrimPrefix(t.Error, retryMarker), ErrorType: "error"}
	var env envelope
	if json.Unmarshal(t.Result, &env) == nil && env.ErrorType != "" {
		f.ErrorType = env.ErrorType
	}
	return f
}

func (e *Engine) hint(key string) string {
	e.hintMu.Lock()
	defer e.hintMu.Unlock()
	return e.hints[key]
}

func (e *Engine) setHint(key, id string) {
	e.hintMu.Lock()
	defer e.hintMu.Unlock()
	if id == "" {
		delete(e.hints, key)
		return
	}
	if len(e.hints) > 10000 {
		clear(e.hints)
	}
	e.hints[key] = id
}

// handleTask runs a task message.
func (e *Engine) handleTask(ctx context.Context, m Message) error {
	task, err := e.store.GetTask(ctx, m.TaskID)
	if errors.Is(err, catalog.ErrNotFound) {
		e.log.WarnContext(ctx, "engine: message for an unknown task", "task_id", m.TaskID)
		return nil
	}
	if err != nil {
		return err
	}
	if task.Type == GateType || task.Type == failureType {
		return e.reconcile(ctx, task.JobID)
	}
	job, def, err := e.loadJob(ctx, task.JobID)
	if job == nil || err != nil {
		return err
	}
	var st *Stage
	for i := range def.Stages {
		if def.Stages[i].Name == task.Stage {
			st = &def.Stages[i]
		}
	}
	if st == nil {
		e.log.ErrorContext(ctx, "engine: task of an unknown stage", "task_id", task.ID, "stage", task.Stage)
		return nil
	}
	switch job.Status {
	case catalog.StatusFailed:
		e.cancelTask(ctx, task, job.Error)
		return e.ensureFailed(ctx, def, job, nil)
	case catalog.StatusCompleted:
		return nil
	case catalog.StatusPending:
		return e.reconcile(ctx, job.ID)
	}
	// A failing job (its failure recorded on the stage's gate, its hook
	// pending or running) runs nothing more: the task is canceled and the
	// failure finished.
	gate, err := e.store.GetTask(ctx, GateID(job.ID, st.Name))
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	if err == nil && gate.Status == catalog.StatusFailed {
		f := gateFailure(gate)
		if !e.failedForGood(task) {
			// A task canceled (or a redelivery): once the failure marker
			// exists, the failure is driven by the messages of the tasks
			// that failed for good or still run, the job's messages and
			// the sweeper, not by each of the stage's messages.
			e.cancelTask(ctx, task, f.Message())
			_, err := e.store.GetTask(ctx, failureMarkerID(job.ID))
			if err == nil || !errors.Is(err, catalog.ErrNotFound) {
				return err
			}
		}
		return e.failJob(ctx, def, job, f, gate)
	}
	for range maxRaces {
		var claimed *catalog.Task
		switch task.Status {
		case catalog.StatusCompleted:
			// A delivery after the run: make sure the advance it
			// triggered happened.
			return e.advance(ctx, def, job, stageIndex(def, st))
		case catalog.StatusFailed:
			if e.failedForGood(task) {
				return e.failJob(ctx, def, job, failureOf(st.Name, task), nil)
			}
			claimed, err = e.moveTask(ctx, task, catalog.Transition{To: catalog.StatusProcessing})
		case catalog.StatusPending:
			claimed, err = e.moveTask(ctx, task, catalog.Transition{To: catalog.StatusProcessing})
		case catalog.StatusProcessing:
			if held := e.held(task); held < e.opts.LeaseTimeout {
				wait := min(e.opts.LeaseTimeout-held, e.opts.MaxRetryDelay) + time.Duration(rand.Int64N(int64(time.Second)))
				return retryLater(wait, "task %s is being run by another worker", task.ID)
			}
			claimed, err = e.takeOver(ctx, task)
			if err == nil {
				task = claimed
				continue
			}
		}
		if isRace(err) {
			if task, err = e.store.GetTask(ctx, task.ID); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		return e.runTask(ctx, def, st, job, claimed)
	}
	return retryLater(e.backoff(1), "task %s keeps changing", m.TaskID)
}

// moveTask moves task, as this worker read it, to tr.To if the record is
// still at task.Revision (else a race): in one round trip when the store
// is a catalog.TaskMover, else with TransitionTask and IfRevision.
func (e *Engine) moveTask(ctx context.Context, task *catalog.Task, tr catalog.Transition) (*catalog.Task, error) {
	if m, ok := e.store.(catalog.TaskMover); ok {
		return m.MoveTask(ctx, task, tr)
	}
	tr.IfRevision = task.Revision
	return e.store.TransitionTask(ctx, task.ID, tr)
}

// cancelTask marks a task of a failed (or failing) job that never ran;
// reason is the job's failure.
func (e *Engine) cancelTask(ctx context.Context, task *catalog.Task, reason string) {
	if task.Status != catalog.StatusPending && !(task.Status == catalog.StatusFailed && !e.failedForGood(task)) {
		return
	}
	msg := "canceled: the job failed (" + reason + ")"
	rev := task.Revision
	if task.Status == catalog.StatusFailed {
		// A task waiting for its retry: FAILED → FAILED is no move, so
		// it goes back to PENDING first (both moves revision checked).
		t, err := e.store.TransitionTask(ctx, task.ID, catalog.Transition{To: catalog.StatusPending, IfRevision: rev})
		if err != nil {
			if !isRace(err) {
				e.log.WarnContext(ctx, "engine: could not cancel task", "task_id", task.ID, "error", err)
			}
			return
		}
		rev = t.Revision
	}
	_, err := e.store.TransitionTask(ctx, task.ID, catalog.Transition{To: catalog.StatusFailed, IfRevision: rev,
		Error: msg, Result: failureEnvelope(msg, "canceled", leasesLost(task))})
	if err != nil && !isRace(err) {
		e.log.WarnContext(ctx, "engine: could not cancel task", "task_id", task.ID, "error", err)
	}
}

// safeRun runs a task, turning a panic into an error.
func (e *Engine) safeRun(ctx context.Context, st *Stage, job *catalog.Job, task *catalog.Task) (res json.RawMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			e.log.ErrorContext(ctx, "engine: task panicked", "task_id", task.ID, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error: %v", p)
		}
	}()
	return st.Run(ctx, job, task)
}

func (e *Engine) safePlan(ctx context.Context, st *Stage, job *catalog.Job, done map[string][]*catalog.Task) (p []json.RawMessage, err error) {
	defer func() {
		if r := recover(); r != nil {
			e.log.ErrorContext(ctx, "engine: plan panicked", "job_id", job.ID, "stage", st.Name, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	return st.Plan(ctx, job, done)
}

// runTask runs a claimed task and commits its outcome.
func (e *Engine) runTask(ctx context.Context, def *Definition, st *Stage, job *catalog.Job, task *catalog.Task) error {
	e.log.DebugContext(ctx, "engine: task started", "task_id", task.ID, "attempt", task.Attempts)
	start := e.now()
	result, runErr := e.safeRun(ctx, st, job, task)
	dur := e.now().Sub(start)
	if runErr == nil && result != nil && !json.Valid(result) {
		runErr = fmt.Errorf("internal error: stage %s returned invalid JSON", st.Name)
	}
	if runErr == nil {
		err := e.persist(ctx, task, func() error {
			_, err := e.moveTask(ctx, task, catalog.Transition{To: catalog.StatusCompleted, Result: successEnvelope(result)})
			return err
		})
		if isRace(err) {
			e.log.WarnContext(ctx, "engine: result discarded: the task was taken over", "task_id", task.ID)
			return nil
		}
		if err != nil {
			return err
		}
		if f := e.opts.Observer.TaskDone; f != nil {
			f(TaskEvent{Job: job, Task: task, Stage: st.Name, Duration: dur})
		}
		return e.advance(ctx, def, job, stageIndex(def, st))
	}
	if ctx.Err() != nil {
		// Shut down mid-task: leave it to the next delivery.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = e.store.TransitionTask(cctx, task.ID, catalog.Transition{To: catalog.StatusFailed, IfRevision: task.Revision,
			Error: retryMarker + "interrupted: " + runErr.Error()})
		return runErr
	}
	if e.opts.IsRetryable(runErr) && task.Attempts < e.opts.MaxAttempts {
		typ := e.opts.ErrorType(runErr)
		_, err := e.store.TransitionTask(ctx, task.ID, catalog.Transition{To: catalog.StatusFailed, IfRevision: task.Revision,
			Error: retryMarker + runErr.Error(), Result: failureEnvelope(runErr.Error(), typ, leasesLost(task))})
		if err != nil && !isRace(err) {
			return err
		}
		after := e.backoff(task.Attempts)
		e.log.WarnContext(ctx, "engine: task failed, will retry", "task_id", task.ID, "attempt", task.Attempts,
			"max_attempts", e.opts.MaxAttempts, "retry_in", after, "error", runErr)
		return retryLater(after, "retrying task %s", task.ID)
	}
	if f := e.opts.Observer.TaskDone; f != nil {
		f(TaskEvent{Job: job, Task: task, Stage: st.Name, Err: runErr, Duration: dur})
	}
	return e.failTask(ctx, def, st, job, task, runErr, e.opts.ErrorType(runErr))
}

// failTask marks a task FAILED for good and fails its job.
func (e *Engine) failTask(ctx context.Context, def *Definition, st *Stage, job *catalog.Job, task *catalog.Task, runErr error, typ string) error {
	if typ == "" {
		typ = e.opts.ErrorType(runErr)
		if env := failureOf(st.Name, task); env.ErrorType != "error" {
			typ = env.ErrorType
		}
	}
	msg := runErr.Error()
	_, err := e.store.TransitionTask(ctx, task.ID, catalog.Transition{To: catalog.StatusFailed, IfRevision: task.Revision,
		Error: msg, Result: failureEnvelope(msg, typ, leasesLost(task))})
	if isRace(err) {
		// Another worker changed the task first (it took over our
		// lease). When the task now stands failed for good, its job
		// fails here too: never leave that to chance.
		cur, gerr := e.store.GetTask(ctx, task.ID)
		if gerr != nil {
			return gerr
		}
		if e.failedForGood(cur) {
			return e.failJob(ctx, def, job, failureOf(st.Name, cur), nil)
		}
		e.log.WarnContext(ctx, "engine: failure discarded: the task was taken over", "task_id", task.ID, "error", msg)
		return nil
	}
	if err != nil {
		return err
	}
	e.log.ErrorContext(ctx, "engine: task failed", "job_id", job.ID, "task_id", task.ID, "stage", st.Name,
		"attempts", task.Attempts, "error", msg, "error_type", typ)
	return e.failJob(ctx, def, job, &Failure{Stage: st.Name, TaskID: task.ID, Error: msg, ErrorType: typ}, nil)
}

// failJob fails a job in stage f.Stage. It records the failure first on
// the stage's gate (failGate), which stops the stage for good and so
// excludes the job's completion, then on the failure marker, and finishes
// the failure (ensureFailed): OnFailure runs, then the job moves to
// FAILED. The first failure recorded wins; a stage that completed first is
// not failed, and neither is a completed job.
func (e *Engine) failJob(ctx context.Context, def *Definition, job *catalog.Job, f *Failure, gate *catalog.Task) error {
	switch job.Status {
	case catalog.StatusCompleted:
		return nil
	case catalog.StatusFailed:
		return e.ensureFailed(ctx, def, job, nil)
	}
	f, err := e.failGate(ctx, def, job, f, gate)
	if err != nil || f == nil {
		return err
	}
	return e.ensureFailed(ctx, def, job, f)
}

// failGate moves the gate of stage f.Stage to FAILED with the failure (in
// its Result, next to the task count), creating the gate when the stage
// never opened (OnStart failed). It returns the failure the gate records:
// f, or an earlier one; nil when the stage completed first.
func (e *Engine) failGate(ctx context.Context, def *Definition, job *catalog.Job, f *Failure, gate *catalog.Task) (*Failure, error) {
	for range maxRaces {
		if gate == nil {
			g, err := e.store.GetTask(ctx, GateID(job.ID, f.Stage))
			if errors.Is(err, catalog.ErrNotFound) {
				params, _ := json.Marshal(map[string]any{"index": stageIndexOf(def, f.Stage)})
				g, err = e.store.CreateTask(ctx, catalog.NewTask{ID: GateID(job.ID, f.Stage), JobID: job.ID,
					Type: GateType, Stage: f.Stage, Params: params})
				if errors.Is(err, catalog.ErrConflict) {
					continue
				}
			}
			if err != nil {
				return nil, err
			}
			gate = g
		}
		switch gate.Status {
		case catalog.StatusCompleted:
			e.log.WarnContext(ctx, "engine: failure discarded: the stage completed first", "job_id", job.ID,
				"stage", f.Stage, "error", f.Error)
			return nil, nil
		case catalog.StatusFailed:
			return gateFailure(gate), nil
		}
		result, _ := json.Marshal(map[string]any{"tasks": gateTasks(gate), "failure": f})
		_, err := e.store.TransitionTask(ctx, gate.ID, catalog.Transition{To: catalog.StatusFailed, IfRevision: gate.Revision,
			Error: f.Message(), Result: result})
		if isRace(err) {
			gate = nil
			continue
		}
		if err != nil {
			return nil, err
		}
		e.log.ErrorContext(ctx, "engine: job failing; running its failure hook", "job_id", job.ID, "stage", f.Stage,
			"task_id", f.TaskID, "error", f.Error, "error_type", f.ErrorType)
		return f, nil
	}
	return nil, retryLater(e.backoff(1), "the gate of stage %s of job %s keeps changing", f.Stage, job.ID)
}

// jobFailure reads the Failure a FAILED job recorded.
func jobFailure(job *catalog.Job) *Failure {
	var r struct {
		Failure *Failure `json:"failure"`
	}
	if json.Unmarshal(job.Result, &r) == nil && r.Failure != nil {
		return r.Failure
	}
	return &Failure{Stage: job.Stage, Error: job.Error, ErrorType: "error"}
}

// gateFailure reads the Failure a FAILED gate recorded.
func gateFailure(gate *catalog.Task) *Failure {
	var r struct {
		Failure *Failure `json:"failure"`
	}
	if json.Unmarshal(gate.Result, &r) == nil && r.Failure != nil {
		return r.Failure
	}
	return &Failure{Stage: gate.Stage, Error: strings.TrimPrefix(gate.Error, "stage "+gate.Stage+": "), ErrorType: "error"}
}

// markerFailure reads the Failure a failure marker records (its params);
// a marker without one (written by an older engine, for a job already
// FAILED) has the job's.
func markerFailure(m *catalog.Task, job *catalog.Job) *Failure {
	var f Failure
	if json.Unmarshal(m.Params, &f) == nil && f.Stage != "" {
		return &f
	}
	return jobFailure(job)
}

// markerDone reports a failure marker whose hook has run: COMPLETED, or
// FAILED without a retry mark (older engines).
func markerDone(m *catalog.Task) bool {
	return m.Status == catalog.StatusCompleted || m.Status == catalog.StatusFailed && !strings.HasPrefix(m.Error, retryMarker)
}

// recordedFailure reads the failure of a job whose marker is missing: a
// FAILED job's own, or the one its FAILED gate records (the worker that
// failed the gate died before creating the marker). nil: the job is not
// failing.
func (e *Engine) recordedFailure(ctx context.Context, def *Definition, job *catalog.Job) (*Failure, error) {
	if job.Status == catalog.StatusFailed {
		return jobFailure(job), nil
	}
	for _, st := range def.Stages {
		g, err := e.store.GetTask(ctx, GateID(job.ID, st.Name))
		if errors.Is(err, catalog.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		if g.Status == catalog.StatusFailed {
			return gateFailure(g), nil
		}
	}
	return nil, nil
}

// ensureFailed finishes the failure of a failing job: OnFailure runs
// once, and only then does the job move to FAILED. The failure marker
// "J/!failure" records the failure (its params; created from f, or from
// the failure the job's records hold when f is nil) and is the hook's
// lease: once no task of the job runs on a live worker (until then a
// *RetryError), the worker that moves it to PROCESSING (revision checked)
// runs the hook, moves the job to FAILED and marks the marker COMPLETED
// (done). A hook that fails leaves the marker retry-marked, for the next
// message of the job; a marker held longer than LeaseTimeout (its worker
// died) is taken over, by a message or by the sweeper.
func (e *Engine) ensureFailed(ctx context.Context, def *Definition, job *catalog.Job, f *Failure) error {
	id := failureMarkerID(job.ID)
	for range maxRaces {
		m, err := e.store.GetTask(ctx, id)
		if errors.Is(err, catalog.ErrNotFound) {
			if f == nil {
				if f, err = e.recordedFailure(ctx, def, job); err != nil || f == nil {
					return err
				}
			}
			params, _ := json.Marshal(f)
			_, err = e.store.CreateTask(ctx, catalog.NewTask{ID: id, JobID: job.ID, Type: failureType, Stage: f.Stage, Params: params})
			if err != nil && !errors.Is(err, catalog.ErrConflict) {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if markerDone(m) {
			// The hook has run; the job is FAILED (the hook's worker
			// moved it before marking the marker done).
			return e.markFailed(ctx, job, markerFailure(m, job))
		}
		held := e.held(m)
		if m.Status == catalog.StatusProcessing && held < e.opts.LeaseTimeout {
			return nil // another worker runs the hook
		}
		if f := markerFailure(m, job); f.ErrorType != ErrTypeTimeout {
			// The hook cleans up what the job wrote: it waits for the
			// job's tasks still running on live workers, which may still
			// write. Each comes back here when it ends (a lost one when
			// its lease ends). A job past its stage deadline does not
			// wait for its hung tasks.
			n, wait, err := e.runningTasks(ctx, job.ID)
			if err != nil {
				return err
			}
			if n > 0 {
				return retryLater(wait, "job %s is failing: its failure hook waits for %d running task(s)", job.ID, n)
			}
		}
		if m.Status == catalog.StatusFailed && m.Error != retryMarker+leaseExpired {
			// Its hook failed: the next run waits for the backoff of
			// the runs so far, whichever message of the job comes.
			if wait := e.backoff(m.Attempts) - e.now().Sub(m.UpdatedAt); wait > 0 {
				return retryLater(wait, "the failure hook of job %s failed (attempt %d of %d); it runs again later: %s",
					job.ID, m.Attempts, e.opts.FailureHookAttempts, strings.TrimPrefix(m.Error, retryMarker))
			}
		}
		var claimed *catalog.Task
		switch m.Status {
		case catalog.StatusFailed, catalog.StatusPending:
			claimed, err = e.store.TransitionTask(ctx, id, catalog.Transition{To: catalog.StatusProcessing, IfRevision: m.Revision})
		case catalog.StatusProcessing:
			e.log.WarnContext(ctx, "engine: lease expired; taking over the failure hook", "job_id", job.ID,
				"attempt", m.Attempts, "attempt_started", m.StartedAt, "delayed", held.Round(time.Millisecond))
			_, err = e.store.TransitionTask(ctx, id, catalog.Transition{To: catalog.StatusFailed, IfRevision: m.Revision,
				Error: retryMarker + leaseExpired})
			if err == nil {
				continue
			}
		}
		if isRace(err) {
			continue
		}
		if err != nil {
			return err
		}
		return e.runFailureHook(ctx, def, job.ID, claimed)
	}
	return retryLater(e.backoff(1), "the failure marker of job %s keeps changing", job.ID)
}

// runningTasks counts a job's tasks running on live workers (PROCESSING
// within their lease) and returns when to look again: when the first of
// their leases ends, at most MaxRetryDelay (plus up to 1 s of jitter).
func (e *Engine) runningTasks(ctx context.Context, jobID string) (int, time.Duration, error) {
	tasks, err := e.store.ListTasks(ctx, jobID)
	if err != nil {
		return 0, 0, err
	}
	n, wait := 0, e.opts.MaxRetryDelay
	for _, t := range tasks {
		if IsInternal(t) || t.Status != catalog.StatusProcessing {
			continue
		}
		if held := e.held(t); held < e.opts.LeaseTimeout {
			n++
			wait = min(wait, e.opts.LeaseTimeout-held)
		}
	}
	return n, wait + time.Duration(rand.Int64N(int64(time.Second))), nil
}

// runFailureHook runs OnFailure under the marker m this worker claimed,
// then moves the job to FAILED and marks m done. A hook that fails
// releases the marker (retry-marked) and asks for the message again after
// a delay that doubles per run (a *RetryError); once it has run
// FailureHookAttempts times (failed, or its worker lost), it is given up:
// the job becomes FAILED with the hook's error in Failure.HookError. Other
// errors release the marker for the next message.
func (e *Engine) runFailureHook(ctx context.Context, def *Definition, jobID string, m *catalog.Task) error {
	release := func(cause error) error {
		_, err := e.store.TransitionTask(ctx, m.ID, catalog.Transition{To: catalog.StatusFailed, IfRevision: m.Revision,
			Error: retryMarker + cause.Error()})
		if err != nil && !isRace(err) {
			e.log.WarnContext(ctx, "engine: could not release the failure hook", "job_id", jobID, "error", err)
		}
		return cause
	}
	// With the lease held, the job read now is current.
	job, err := e.store.GetJob(ctx, jobID)
	if err != nil {
		return release(err)
	}
	f := markerFailure(m, job)
	if job.Status == catalog.StatusCompleted {
		// Cannot happen (a failed gate stops its stage), and must not:
		// a completed job is never failed.
		e.log.ErrorContext(ctx, "engine: failure marker of a completed job; not failing it", "job_id", jobID, "error", f.Message())
	} else {
		var hookErr error
		limit := e.opts.FailureHookAttempts
		if def.OnFailure != nil {
			if m.Attempts > limit {
				// The last run lost its worker (a hook that hangs or
				// crashes it) and used up the runs: it is not run again.
				hookErr = fmt.Errorf("the failure hook used its %d runs, the last one lost its worker", m.Attempts-1)
			} else if herr := def.OnFailure(ctx, job, f); herr != nil {
				if m.Attempts < limit {
					wait := e.backoff(m.Attempts)
					e.log.ErrorContext(ctx, "engine: failure hook failed; it will be retried", "job_id", job.ID,
						"attempt", m.Attempts, "max_attempts", limit, "retry_in", wait, "error", herr)
					release(herr)
					return retryLater(wait, "the failure hook of job %s failed (attempt %d of %d): %v", job.ID, m.Attempts, limit, herr)
				}
				hookErr = herr
			}
		}
		if hookErr != nil {
			e.log.ErrorContext(ctx, "engine: failure hook given up; the job fails without it", "job_id", job.ID,
				"attempts", m.Attempts, "max_attempts", limit, "error", hookErr)
			given := *f
			given.HookError = hookErr.Error()
			f = &given
		}
		if err := e.markFailed(ctx, job, f); err != nil {
			return release(err)
		}
	}
	_, err = e.store.TransitionTask(ctx, m.ID, catalog.Transition{To: catalog.StatusCompleted, IfRevision: m.Revision})
	if err != nil && !isRace(err) {
		return err
	}
	return nil
}

// markFailed moves a failing job whose hook has run to FAILED with its
// failure, once (a job already FAILED, or COMPLETED, is left as it is),
// and reports it to Observer.JobDone.
func (e *Engine) markFailed(ctx context.Context, job *catalog.Job, f *Failure) error {
	if job.Status.Terminal() {
		return nil
	}
	result, _ := json.Marshal(map[string]any{"failure": f})
	j, err := e.store.TransitionJob(ctx, job.ID, catalog.Transition{To: catalog.StatusFailed, Stage: f.Stage,
		Error: f.Message(), Result: result})
	if isRace(err) {
		return nil // FAILED already (FAILED → FAILED is no move), or completed
	}
	if err != nil {
		return err
	}
	var total time.Duration
	if j.StartedAt != nil && j.FinishedAt != nil {
		total = j.FinishedAt.Sub(*j.StartedAt)
	}
	e.log.ErrorContext(ctx, "engine: job failed", "job_id", j.ID, "stage", f.Stage, "task_id", f.TaskID,
		"error", f.Error, "error_type", f.ErrorType, "duration", total.Round(time.Millisecond))
	if fn := e.opts.Observer.JobDone; fn != nil {
		fn(j)
	}
	return nil
}

// completeJob completes a job whose last stage is done (once) and runs
// its OnComplete hook.
func (e *Engine) completeJob(ctx context.Context, def *Definition, job *catalog.Job) error {
	summary, err := e.summary(ctx, def, job)
	if err != nil {
		return err
	}
	result, _ := json.Marshal(summary)
	j, err := e.store.TransitionJob(ctx, job.ID, catalog.Transition{To: catalog.StatusCompleted,
		Stage: def.Stages[len(def.Stages)-1].Name, Result: result})
	if isRace(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var total time.Duration
	if j.StartedAt != nil && j.FinishedAt != nil {
		total = j.FinishedAt.Sub(*j.StartedAt)
	}
	e.log.InfoContext(ctx, "engine: job completed", "job_id", j.ID, "type", j.Type, "duration", total.Round(time.Millisecond))
	if def.OnComplete != nil {
		if err := def.OnComplete(ctx, j); err != nil {
			e.log.ErrorContext(ctx, "engine: completion hook failed", "job_id", j.ID, "error", err)
		}
	}
	if f := e.opts.Observer.JobDone; f != nil {
		f(j)
	}
	return nil
}

// taskIndex is the plan index at the end of a task id ("J/S/00042").
func taskIndex(id string) int {
	n, err := strconv.Atoi(id[strings.LastIndexByte(id, '/')+1:])
	if err != nil {
		return -1
	}
	return n
}

// sortByIndex orders a stage's tasks as its plan did.
func sortByIndex(ts []*catalog.Task) {
	sort.SliceStable(ts, func(i, j int) bool { return taskIndex(ts[i].ID) < taskIndex(ts[j].ID) })
}

// stageIndexOf is the index of the stage named name (-1: none).
func stageIndexOf(def *Definition, name string) int {
	for i := range def.Stages {
		if def.Stages[i].Name == name {
			return i
		}
	}
	return -1
}

func stageIndex(def *Definition, st *Stage) int {
	for i := range def.Stages {
		if &def.Stages[i] == st {
			return i
		}
	}
	return -1
}
