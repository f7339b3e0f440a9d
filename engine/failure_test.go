package engine_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/engine"
	"github.com/greensight/vzarr/queue"
)

// jobDoneCounter counts Observer.JobDone calls.
type jobDoneCounter struct{ n atomic.Int64 }

func (c *jobDoneCounter) opts(o engine.Options) engine.Options {
	o.Observer.JobDone = func(*catalog.Job) { c.n.Add(1) }
	return o
}

// failingNote is the status note of a job failing in the rig's list stage
// (its only task lost its worker on its last attempt).
func failingNote(r *leaseRig) string {
	return "failing: cleaning up after stage list: worker lost: task " + r.msg.TaskID
}

func TestJobFailsOnlyAfterItsHook(t *testing.T) {
	t.Run("the hook sees the job not yet FAILED; after it, the job is FAILED", func(t *testing.T) {
		var done jobDoneCounter
		r := newLeaseRig(t, done.opts(engine.Options{MaxAttempts: 1}))
		var calls atomic.Int64
		r.fx.onHook = func(job *catalog.Job, f *engine.Failure) {
			calls.Add(1)
			assert.Equal(t, catalog.StatusProcessing, job.Status, "the hook's job")
			assert.Equal(t, catalog.StatusProcessing, r.jobNow(t).Status, "the stored job while the hook runs")
			assert.Equal(t, engine.ErrTypeWorkerLost, f.ErrorType)
			st, err := r.e.Status(r.ctx, r.job.ID)
			if assert.NoError(t, err) {
				assert.Contains(t, st.Note, failingNote(r))
				assert.Nil(t, st.Failure, "not failed yet")
				assert.Equal(t, catalog.StatusFailed, st.Stages[0].Status, "the stage's gate is failed first")
			}
			assert.Zero(t, done.n.Load(), "JobDone comes after the hook")
		}
		r.crash(t)
		require.NoError(t, r.e.Handle(r.ctx, r.msg)) // takes over the last attempt: worker lost
		require.Equal(t, int64(1), calls.Load())
		j := r.jobNow(t)
		require.Equal(t, catalog.StatusFailed, j.Status)
		assert.Equal(t, "list", j.Stage)
		st, err := r.e.Status(r.ctx, j.ID)
		require.NoError(t, err)
		require.NotNil(t, st.Failure)
		assert.Equal(t, engine.ErrTypeWorkerLost, st.Failure.ErrorType)
		assert.Equal(t, r.msg.TaskID, st.Failure.TaskID)
		assert.Empty(t, st.Note)
		assert.Equal(t, int64(1), done.n.Load())
		// Redeliveries and sweeps change nothing.
		require.NoError(t, r.e.Handle(r.ctx, r.msg))
		require.NoError(t, r.e.Handle(r.ctx, queue.Message{JobID: r.job.ID}))
		r.clock.Add(testLease + time.Second)
		require.NoError(t, r.e.Sweep(r.ctx))
		assert.Equal(t, int64(1), calls.Load())
		assert.Equal(t, int64(1), done.n.Load())
	})

	t.Run("while a hook runs, status says failing and nothing else runs", func(t *testing.T) {
		var done jobDoneCounter
		fx := newFixture()
		fx.failAt = 3
		d := newDirectJob(t, fx, done.opts(engine.Options{Logger: quietLogger()}), "blocking-hook")
		ctx, store, e, j := d.ctx, d.store, d.e, d.job
		squares := d.squares(t)

		entered, release := make(chan struct{}), make(chan struct{})
		fx.onHook = func(*catalog.Job, *engine.Failure) {
			close(entered)
			<-release
		}
		hookErr := make(chan error, 1)
		go func() { hookErr <- e.Handle(ctx, squares[3]) }() // item 3 fails for good
		select {
		case <-entered:
		case err := <-hookErr:
			t.Fatalf("the hook did not run: %v", err)
		}

		st, err := e.Status(ctx, j.ID)
		require.NoError(t, err)
		assert.Equal(t, catalog.StatusProcessing, st.Job.Status)
		assert.Equal(t, "failing: cleaning up after stage square: item 3 is corrupt", st.Note)
		assertBriefStatus(t, store.Store, j.ID)
		assert.Nil(t, st.Failure)
		// Every other message of the job, at once: the tasks are
		// canceled, not run, the hook is held, the job stays PROCESSING.
		var wg sync.WaitGroup
		for i, m := range append(squares, queue.Message{JobID: j.ID}) {
			if i == 3 {
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); assert.NoError(t, e.Handle(ctx, m)) }()
		}
		wg.Wait()
		got, err := store.GetJob(ctx, j.ID)
		require.NoError(t, err)
		assert.Equal(t, catalog.StatusProcessing, got.Status, "FAILED only after the hook")
		fx.mu.Lock()
		for i, m := range squares {
			if i != 3 {
				assert.Zero(t, fx.runs[m.TaskID], "task %s of a failing job ran", m.TaskID)
			}
		}
		assert.Zero(t, fx.plans["sum"], "the next stage never opens")
		fx.mu.Unlock()
		tk, err := store.GetTask(ctx, squares[5].TaskID)
		require.NoError(t, err)
		assert.Equal(t, catalog.StatusFailed, tk.Status)
		assert.Contains(t, tk.Error, "canceled: the job failed (stage square: item 3 is corrupt)")

		close(release)
		require.NoError(t, <-hookErr)
		got, err = store.GetJob(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, catalog.StatusFailed, got.Status)
		assert.Equal(t, "stage square: item 3 is corrupt", got.Error)
		assert.Equal(t, int64(1), fx.failures.Load())
		assert.Equal(t, int64(1), done.n.Load())
		st, err = e.Status(ctx, j.ID)
		require.NoError(t, err)
		assert.Empty(t, st.Note)
		require.NotNil(t, st.Failure)
		assert.Equal(t, engine.TaskID(j.ID, "square", 3), st.Failure.TaskID)
		assert.Zero(t, st.Tasks[catalog.StatusPending]+st.Tasks[catalog.StatusProcessing], "no task left to run")
	})

	t.Run("the hook waits for the tasks still running", func(t *testing.T) {
		// Task 5 runs on a live worker when task 3 fails the job: it may
		// still write, so the cleanup waits until it ends.
		var done jobDoneCounter
		fx := newFixture()
		fx.failAt, fx.blockAt = 3, 5
		fx.block, fx.blocked = make(chan struct{}), make(chan struct{})
		d := newDirectJob(t, fx, done.opts(engine.Options{Logger: quietLogger()}), "running-task")
		ctx, store, e, j := d.ctx, d.store, d.e, d.job
		squares := d.squares(t)

		running := make(chan error, 1)
		go func() { running <- e.Handle(ctx, squares[5]) }()
		<-fx.blocked
		var re *engine.RetryError
		require.ErrorAs(t, e.Handle(ctx, squares[3]), &re, "the failing task's message comes back")
		assert.Positive(t, re.After)
		assert.Zero(t, fx.failures.Load(), "no cleanup while a task runs")
		st, err := e.Status(ctx, j.ID)
		require.NoError(t, err)
		assert.Equal(t, catalog.StatusProcessing, st.Job.Status)
		assert.Equal(t, "failing: cleaning up after stage square: item 3 is corrupt (once 1 running task(s) end)", st.Note)
		require.ErrorAs(t, e.Handle(ctx, queue.Message{JobID: j.ID}), &re, "a job message comes back too")
		require.NoError(t, e.Handle(ctx, squares[7]), "another task's message is acknowledged")
		tk, err := store.GetTask(ctx, squares[7].TaskID)
		require.NoError(t, err)
		assert.Contains(t, tk.Error, "canceled")
		assert.Zero(t, fx.failures.Load())

		close(fx.block) // task 5 ends: its worker runs the hook
		require.NoError(t, <-running)
		assert.Equal(t, int64(1), fx.failures.Load())
		got, err := store.GetJob(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, catalog.StatusFailed, got.Status)
		assert.Equal(t, "stage square: item 3 is corrupt", got.Error)
		assert.Equal(t, int64(1), done.n.Load())
		require.NoError(t, e.Handle(ctx, squares[3]))
		assert.Equal(t, int64(1), fx.failures.Load())
	})

	t.Run("the hook's worker dies mid-hook: the sweeper takes over and fails the job", func(t *testing.T) {
		var done jobDoneCounter
		r := newLeaseRig(t, done.opts(engine.Options{MaxAttempts: 1}))
		dying := &dieMidHook{countingStore: r.store}
		worker, err := engine.New(dying, r.pub, done.opts(engine.Options{Now: r.clock.Now, Logger: quietLogger(),
			LeaseTimeout: testLease, MaxAttempts: 1}), r.fx.def())
		require.NoError(t, err)
		var calls atomic.Int64
		r.fx.onHook = func(*catalog.Job, *engine.Failure) {
			if calls.Add(1) == 1 {
				dying.dead.Store(true) // killed while cleaning up
			}
		}
		r.crash(t)
		require.ErrorIs(t, worker.Handle(r.ctx, r.msg), errDied)
		require.Equal(t, int64(1), calls.Load())
		assert.Equal(t, catalog.StatusProcessing, r.jobNow(t).Status, "the hook did not complete")
		st, err := r.e.Status(r.ctx, r.job.ID)
		require.NoError(t, err)
		assert.Contains(t, st.Note, failingNote(r))

		// Within the hook's lease: held by its (dead) worker.
		require.NoError(t, r.e.Sweep(r.ctx))
		require.NoError(t, r.e.Handle(r.ctx, queue.Message{JobID: r.job.ID}))
		assert.Equal(t, int64(1), calls.Load())
		assert.Equal(t, catalog.StatusProcessing, r.jobNow(t).Status)

		// After it, the sweeper takes over: the hook runs again, then the
		// job is FAILED.
		r.clock.Add(testLease + time.Second)
		require.NoError(t, r.e.Sweep(r.ctx))
		assert.Equal(t, int64(2), calls.Load())
		j := r.jobNow(t)
		require.Equal(t, catalog.StatusFailed, j.Status)
		assert.Contains(t, j.Error, "worker lost")
		assert.Equal(t, int64(1), done.n.Load())
		assert.Equal(t, 1, r.log.count(slog.LevelWarn, "taking over the failure hook"), "one WARN for the take-over")

		r.clock.Add(testLease + time.Second)
		require.NoError(t, r.e.Sweep(r.ctx))
		require.NoError(t, r.e.Handle(r.ctx, r.msg))
		assert.Equal(t, int64(2), calls.Load())
		assert.Equal(t, int64(1), done.n.Load())
	})

	t.Run("a failing hook keeps the job PROCESSING until a retry succeeds", func(t *testing.T) {
		var done jobDoneCounter
		r := newLeaseRig(t, done.opts(engine.Options{MaxAttempts: 1}))
		r.fx.hookFail.Store(2)
		r.crash(t)
		assert.ErrorContains(t, r.e.Handle(r.ctx, r.msg), "storage unavailable")
		assert.Equal(t, catalog.StatusProcessing, r.jobNow(t).Status)
		st, err := r.e.Status(r.ctx, r.job.ID)
		require.NoError(t, err)
		assert.Contains(t, st.Note, failingNote(r))
		assert.Contains(t, st.Note, "the cleanup failed and will be retried: cleanup: storage unavailable")

		var re *engine.RetryError
		require.ErrorAs(t, r.e.Handle(r.ctx, queue.Message{JobID: r.job.ID}), &re, "not again before its backoff")
		assert.Positive(t, re.After)
		assert.Equal(t, int64(1), r.hookRuns(t), "the hook did not run again")
		r.clock.Add(time.Minute)
		assert.ErrorContains(t, r.e.Handle(r.ctx, r.msg), "storage unavailable", "the retry fails too")
		assert.Equal(t, catalog.StatusProcessing, r.jobNow(t).Status)
		assert.Zero(t, r.fx.failures.Load())
		assert.Zero(t, done.n.Load())

		r.clock.Add(time.Minute)
		require.NoError(t, r.e.Handle(r.ctx, queue.Message{JobID: r.job.ID}))
		assert.Equal(t, int64(1), r.fx.failures.Load())
		j := r.jobNow(t)
		require.Equal(t, catalog.StatusFailed, j.Status)
		assert.Equal(t, int64(1), done.n.Load())
		require.NoError(t, r.e.Handle(r.ctx, r.msg))
		assert.Equal(t, int64(1), r.fx.failures.Load())
	})

	t.Run("a stage that completes before its failure is recorded is not failed", func(t *testing.T) {
		// A deadline sweep read the stage open; before it records the
		// failure on the gate, the stage's last task completes and the
		// stage advances. The failure is discarded: the job goes on.
		r := newLeaseRig(t, engine.Options{StageDeadline: time.Hour})
		gateID := engine.GateID(r.job.ID, "list")
		racing := &beforeGateFails{countingStore: r.store, gateID: gateID, first: func() {
			assert.NoError(t, r.e.Handle(r.ctx, r.msg)) // the list task runs; "list" completes
		}}
		sweeper, err := engine.New(racing, r.pub, engine.Options{Now: r.clock.Now, Logger: quietLogger(),
			LeaseTimeout: testLease, StageDeadline: time.Hour}, r.fx.def())
		require.NoError(t, err)
		r.clock.Add(2 * time.Hour)
		require.NoError(t, sweeper.Sweep(r.ctx))
		require.True(t, racing.raced.Load(), "the sweep tried to fail the stage")
		gate, err := r.store.GetTask(r.ctx, gateID)
		require.NoError(t, err)
		assert.Equal(t, catalog.StatusCompleted, gate.Status)
		assert.Equal(t, catalog.StatusProcessing, r.jobNow(t).Status)
		assert.Zero(t, r.fx.failures.Load())
		_, err = r.store.GetTask(r.ctx, r.job.ID+"/!failure")
		assert.ErrorIs(t, err, catalog.ErrNotFound, "no failure recorded")
		assert.Len(t, r.pub.take(), 24, "the next stage opened")
	})
}

// beforeGateFails runs first before the first move of gate gateID to
// FAILED.
type beforeGateFails struct {
	*countingStore
	gateID string
	first  func()
	raced  atomic.Bool
}

func (b *beforeGateFails) TransitionTask(ctx context.Context, id string, tr catalog.Transition) (*catalog.Task, error) {
	if id == b.gateID && tr.To == catalog.StatusFailed && b.raced.CompareAndSwap(false, true) {
		b.first()
	}
	return b.countingStore.TransitionTask(ctx, id, tr)
}

// dieMidHook is a worker's view of the store that dies (fails every call)
// once dead is set.
type dieMidHook struct {
	*countingStore
	dead atomic.Bool
}

func (d *dieMidHook) GetJob(ctx context.Context, id string) (*catalog.Job, error) {
	if d.dead.Load() {
		return nil, errDied
	}
	return d.countingStore.GetJob(ctx, id)
}

func (d *dieMidHook) TransitionJob(ctx context.Context, id string, tr catalog.Transition) (*catalog.Job, error) {
	if d.dead.Load() {
		return nil, errDied
	}
	return d.countingStore.TransitionJob(ctx, id, tr)
}

func (d *dieMidHook) GetTask(ctx context.Context, id string) (*catalog.Task, error) {
	if d.dead.Load() {
		return nil, errDied
	}
	return d.countingStore.GetTask(ctx, id)
}

func (d *dieMidHook) TransitionTask(ctx context.Context, id string, tr catalog.Transition) (*catalog.Task, error) {
	if d.dead.Load() {
		return nil, errDied
	}
	return d.countingStore.TransitionTask(ctx, id, tr)
}
