package engine_test

import (
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/engine"
	"github.com/greensight/vzarr/queue"
)

// hookRuns is how often the job's failure hook was claimed (its marker's
// attempts).
func (r *leaseRig) hookRuns(t *testing.T) int64 {
	t.Helper()
	m, err := r.store.GetTask(r.ctx, r.job.ID+"/!failure")
	require.NoError(t, err)
	return int64(m.Attempts)
}

// TestFailureHookGivenUp: a failure hook that always fails runs
// FailureHookAttempts times, spaced by a growing backoff whatever message
// comes, and then the job is FAILED anyway with the hook's error in its
// Failure (one ERROR logged); later messages and sweeps run it no more. A
// hook whose worker keeps being lost is given up the same way by the
// sweeper, without running it past the limit.
func TestFailureHookGivenUp(t *testing.T) {
	t.Run("a hook that always fails", func(t *testing.T) {
		var done jobDoneCounter
		r := newLeaseRig(t, done.opts(engine.Options{MaxAttempts: 1, FailureHookAttempts: 3, RetryBackoff: time.Second}))
		var calls atomic.Int64
		r.fx.onHook = func(*catalog.Job, *engine.Failure) { calls.Add(1) }
		r.fx.hookFail.Store(1 << 30)
		r.crash(t)
		var waits []time.Duration
		for attempt := 1; attempt <= 3; attempt++ {
			err := r.e.Handle(r.ctx, r.msg)
			require.Equal(t, int64(attempt), calls.Load())
			if attempt == 3 {
				require.NoError(t, err, "given up: the message is done")
				break
			}
			var re *engine.RetryError
			require.ErrorAs(t, err, &re)
			assert.Contains(t, re.Reason, "storage unavailable")
			waits = append(waits, re.After)
			assert.Equal(t, catalog.StatusProcessing, r.jobNow(t).Status)
			// Every message of the job before the backoff is deferred.
			require.ErrorAs(t, r.e.Handle(r.ctx, queue.Message{JobID: r.job.ID}), &re)
			require.NoError(t, r.e.Sweep(r.ctx))
			assert.Equal(t, int64(attempt), calls.Load(), "not run again before its backoff")
			r.clock.Add(re.After)
		}
		assert.Equal(t, []time.Duration{time.Second, 2 * time.Second}, waits, "the backoff doubles")

		j := r.jobNow(t)
		require.Equal(t, catalog.StatusFailed, j.Status)
		assert.Contains(t, j.Error, "worker lost")
		st, err := r.e.Status(r.ctx, j.ID)
		require.NoError(t, err)
		require.NotNil(t, st.Failure)
		assert.Equal(t, engine.ErrTypeWorkerLost, st.Failure.ErrorType)
		assert.Equal(t, "cleanup: storage unavailable", st.Failure.HookError)
		assert.Empty(t, st.Note)
		assert.Equal(t, 1, r.log.count(slog.LevelError, "failure hook given up"))
		assert.Equal(t, 2, r.log.count(slog.LevelError, "failure hook failed; it will be retried"))
		assert.Equal(t, int64(1), done.n.Load())

		r.clock.Add(time.Hour)
		require.NoError(t, r.e.Handle(r.ctx, r.msg))
		require.NoError(t, r.e.Handle(r.ctx, queue.Message{JobID: r.job.ID}))
		require.NoError(t, r.e.Sweep(r.ctx))
		assert.Equal(t, int64(3), calls.Load(), "never run again")
		assert.Equal(t, int64(1), done.n.Load())
	})

	t.Run("a hook whose worker keeps being lost", func(t *testing.T) {
		r := newLeaseRig(t, engine.Options{MaxAttempts: 1, FailureHookAttempts: 3})
		var calls atomic.Int64
		r.fx.onHook = func(*catalog.Job, *engine.Failure) { calls.Add(1) }
		r.fx.hookFail.Store(1 << 30)
		r.crash(t)
		require.Error(t, r.e.Handle(r.ctx, r.msg)) // run 1 fails
		// Runs 2 and 3: a worker claims the hook and dies (its lease
		// ends; the next claim releases it first, as a take-over does).
		for range 2 {
			r.clock.Add(time.Hour)
			m, err := r.store.GetTask(r.ctx, r.job.ID+"/!failure")
			require.NoError(t, err)
			if m.Status == catalog.StatusProcessing {
				m, err = r.store.TransitionTask(r.ctx, m.ID, catalog.Transition{To: catalog.StatusFailed, IfRevision: m.Revision, Error: "retrying: lease expired"})
				require.NoError(t, err)
			}
			_, err = r.store.TransitionTask(r.ctx, m.ID, catalog.Transition{To: catalog.StatusProcessing, IfRevision: m.Revision})
			require.NoError(t, err)
		}
		r.clock.Add(testLease + time.Second)
		require.NoError(t, r.e.Sweep(r.ctx))
		j := r.jobNow(t)
		require.Equal(t, catalog.StatusFailed, j.Status, "the sweeper gave the hook up")
		assert.Equal(t, int64(1), calls.Load(), "not run past its runs")
		assert.Equal(t, int64(4), r.hookRuns(t))
		st, err := r.e.Status(r.ctx, j.ID)
		require.NoError(t, err)
		require.NotNil(t, st.Failure)
		assert.Equal(t, "the failure hook used its 3 runs, the last one lost its worker", st.Failure.HookError)
		assert.Equal(t, 1, r.log.count(slog.LevelError, "failure hook given up"))
		require.NoError(t, r.e.Sweep(r.ctx))
		assert.Equal(t, int64(1), calls.Load())
	})
}
