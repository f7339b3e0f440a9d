package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/engine"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/queue"
)

// fakeClock runs ahead of the real clock by what the test adds (the
// catalog stamps records with the real one).
type fakeClock struct{ ahead atomic.Int64 }

func (c *fakeClock) Now() time.Time           { return time.Now().Add(time.Duration(c.ahead.Load())) }
func (c *fakeClock) Add(d time.Duration)      { c.ahead.Add(int64(d)) }
func (c *fakeClock) opts() (o engine.Options) { o.Now = c.Now; return o }

// recorder is a slog handler that keeps the records, for counting.
type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// count counts the records at level whose message contains msg.
func (r *recorder) count(level slog.Level, msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.recs {
		if rec.Level == level && strings.Contains(rec.Message, msg) {
			n++
		}
	}
	return n
}

// attr returns the first value of key among the records whose message
// contains msg.
func (r *recorder) attr(msg, key string) (slog.Value, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.recs {
		if !strings.Contains(rec.Message, msg) {
			continue
		}
		var v slog.Value
		found := false
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				v, found = a.Value, true
				return false
			}
			return true
		})
		if found {
			return v, true
		}
	}
	return slog.Value{}, false
}

const testLease = 10 * time.Minute

// leaseRig is one job driven by hand over a direct publisher, with a
// fake clock: the "list" stage's single task is claimed by workers that
// die.
type leaseRig struct {
	ctx   context.Context
	fx    *fixture
	store *countingStore
	pub   *direct
	clock *fakeClock
	log   *recorder
	e     *engine.Engine
	job   *catalog.Job
	msg   queue.Message // the list task's message
}

func newLeaseRig(t *testing.T, opts engine.Options) *leaseRig {
	t.Helper()
	mem := catalog.NewMemory()
	r := &leaseRig{ctx: context.Background(), fx: newFixture(), store: newCounting(mem), pub: &direct{},
		clock: &fakeClock{}, log: &recorder{}}
	mem.SetClock(r.clock.Now)
	opts.Now = r.clock.Now
	opts.Logger = slog.New(r.log)
	opts.LeaseTimeout = testLease
	r.e = r.engine(t, opts)
	var err error
	r.job, err = r.store.CreateJob(r.ctx, catalog.NewJob{ID: "lease-" + testenv.RandomSuffix(), Type: "squares"})
	require.NoError(t, err)
	require.NoError(t, r.e.Handle(r.ctx, queue.Message{JobID: r.job.ID}))
	msgs := r.pub.take()
	require.Len(t, msgs, 1)
	r.msg = msgs[0]
	return r
}

// engine returns another worker over the rig's store and publisher.
func (r *leaseRig) engine(t *testing.T, opts engine.Options) *engine.Engine {
	t.Helper()
	e, err := engine.New(r.store, r.pub, opts, r.fx.def())
	require.NoError(t, err)
	return e
}

// crash claims the task as a worker would, and loses the worker: the
// clock moves past the lease.
func (r *leaseRig) crash(t *testing.T) {
	t.Helper()
	tk, err := r.store.GetTask(r.ctx, r.msg.TaskID)
	require.NoError(t, err)
	_, err = r.store.TransitionTask(r.ctx, tk.ID, catalog.Transition{To: catalog.StatusProcessing, IfRevision: tk.Revision})
	require.NoError(t, err)
	r.clock.Add(testLease + time.Second)
}

func (r *leaseRig) task(t *testing.T) *catalog.Task {
	t.Helper()
	tk, err := r.store.GetTask(r.ctx, r.msg.TaskID)
	require.NoError(t, err)
	return tk
}

func (r *leaseRig) jobNow(t *testing.T) *catalog.Job {
	t.Helper()
	j, err := r.store.GetJob(r.ctx, r.job.ID)
	require.NoError(t, err)
	return j
}

// assertWorkerLost checks a job failed once with worker_lost after n lost
// leases.
func (r *leaseRig) assertWorkerLost(t *testing.T, n int) {
	t.Helper()
	j := r.jobNow(t)
	require.Equal(t, catalog.StatusFailed, j.Status)
	st, err := r.e.Status(r.ctx, j.ID)
	require.NoError(t, err)
	require.NotNil(t, st.Failure)
	assert.Equal(t, engine.ErrTypeWorkerLost, st.Failure.ErrorType)
	assert.Equal(t, r.msg.TaskID, st.Failure.TaskID)
	assert.Contains(t, st.Failure.Error, r.msg.TaskID)
	assert.Contains(t, st.Failure.Error, `{"n": 0}`, "the message names the task's params (its file)")
	assert.Contains(t, st.Failure.Error, "3 of 3 attempts lost their lease")
	tk := r.task(t)
	assert.Equal(t, catalog.StatusFailed, tk.Status)
	assert.Equal(t, n, tk.Attempts)
	assert.Equal(t, int64(1), r.fx.failures.Load(), "OnFailure ran once")
	r.fx.mu.Lock()
	assert.Equal(t, engine.ErrTypeWorkerLost, r.fx.failure.ErrorType)
	r.fx.mu.Unlock()
	assert.Equal(t, n, r.log.count(slog.LevelWarn, "lease expired; took over"), "one WARN per take-over")
}

func TestLeasesLostFailTheJob(t *testing.T) {
	t.Run("message redeliveries", func(t *testing.T) {
		r := newLeaseRig(t, engine.Options{})
		r.crash(t)
		for range 2 {
			// Redelivered after the lease: taken over and claimed again
			// by a worker that dies too.
			r.store.simulateTakeOver(t, r, r.task(t))
			r.clock.Add(testLease + time.Second)
		}
		// Four redeliveries and two sweepers race for the last take-over.
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i < 4 {
					assert.NoError(t, r.e.Handle(r.ctx, r.msg))
				} else {
					assert.NoError(t, r.e.Sweep(r.ctx))
				}
			}()
		}
		wg.Wait()
		r.assertWorkerLost(t, 3)
		v, ok := r.log.attr("lease expired; took over", "delayed")
		require.True(t, ok)
		assert.GreaterOrEqual(t, v.Duration(), testLease)
		// Later deliveries change nothing.
		require.NoError(t, r.e.Handle(r.ctx, r.msg))
		require.NoError(t, r.e.Handle(r.ctx, queue.Message{JobID: r.job.ID}))
		assert.Equal(t, int64(1), r.fx.failures.Load())
	})
	t.Run("sweeper only: the messages were lost", func(t *testing.T) {
		r := newLeaseRig(t, engine.Options{})
		for attempt := 1; attempt <= 3; attempt++ {
			r.crash(t)
			require.NoError(t, r.e.Sweep(r.ctx))
			if attempt < 3 {
				msgs := r.pub.take()
				assert.Equal(t, []queue.Message{r.msg}, msgs, "the sweeper publishes the task again")
				tk := r.task(t)
				assert.Equal(t, catalog.StatusFailed, tk.Status)
				assert.Contains(t, tk.Error, "lease expired")
				assert.Equal(t, catalog.StatusProcessing, r.jobNow(t).Status)
			}
		}
		assert.Empty(t, r.pub.take(), "an exhausted task is not published again")
		r.assertWorkerLost(t, 3)
	})
	t.Run("stuck state of the bug: retry-marked FAILED with 3 attempts", func(t *testing.T) {
		// What the old take-over left: FAILED "retrying: lease expired"
		// with attempts=3 and the job PROCESSING for ever.
		r := newLeaseRig(t, engine.Options{})
		for range 3 {
			r.crash(t)
			tk := r.task(t)
			_, err := r.store.TransitionTask(r.ctx, tk.ID, catalog.Transition{To: catalog.StatusFailed, IfRevision: tk.Revision,
				Error: "retrying: lease expired: no result after 10m1s"})
			require.NoError(t, err)
		}
		require.NoError(t, r.e.Handle(r.ctx, r.msg))
		j := r.jobNow(t)
		require.Equal(t, catalog.StatusFailed, j.Status)
		assert.Contains(t, j.Error, "lease expired")
		assert.Equal(t, int64(1), r.fx.failures.Load())
	})
	t.Run("a lost lease then success", func(t *testing.T) {
		r := newLeaseRig(t, engine.Options{})
		r.crash(t)
		require.NoError(t, r.e.Handle(r.ctx, r.msg)) // taken over and run
		tk := r.task(t)
		assert.Equal(t, catalog.StatusCompleted, tk.Status)
		assert.Equal(t, 2, tk.Attempts)
		assert.Equal(t, catalog.StatusProcessing, r.jobNow(t).Status)
		assert.Len(t, r.pub.take(), 24, "the next stage opened")
	})
}

// simulateTakeOver delivers the message of a task whose lease expired and
// lets the delivering worker die right after it claimed the task again.
func (c *countingStore) simulateTakeOver(t *testing.T, r *leaseRig, tk *catalog.Task) {
	t.Helper()
	dying := &claimThenDie{countingStore: c, id: tk.ID}
	e, err := engine.New(dying, r.pub, engine.Options{Now: r.clock.Now, Logger: slog.New(r.log), LeaseTimeout: testLease}, r.fx.def())
	require.NoError(t, err)
	err = e.Handle(r.ctx, r.msg)
	require.ErrorIs(t, err, errDied)
}

var errDied = errors.New("worker died")

// claimThenDie is a worker's view of the store that dies (fails every
// call) once it has claimed task id.
type claimThenDie struct {
	*countingStore
	id   string
	dead atomic.Bool
}

func (c *claimThenDie) TransitionTask(ctx context.Context, id string, tr catalog.Transition) (*catalog.Task, error) {
	if c.dead.Load() {
		return nil, errDied
	}
	t, err := c.countingStore.TransitionTask(ctx, id, tr)
	if err == nil && id == c.id && tr.To == catalog.StatusProcessing {
		c.dead.Store(true)
		// The run's result will never be committed; the crash is
		// completed by the test moving the clock.
	}
	return t, err
}

func (c *claimThenDie) GetJob(ctx context.Context, id string) (*catalog.Job, error) {
	if c.dead.Load() {
		return nil, errDied
	}
	return c.countingStore.GetJob(ctx, id)
}

func TestSweepPendingJobs(t *testing.T) {
	ctx := context.Background()
	store := catalog.NewMemory()
	pub := &direct{}
	clock := &fakeClock{}
	store.SetClock(clock.Now)
	var engines []*engine.Engine
	for range 3 {
		e, err := engine.New(store, pub, engine.Options{Now: clock.Now, Logger: quietLogger(), PendingAfter: time.Minute}, newFixture().def())
		require.NoError(t, err)
		engines = append(engines, e)
	}
	// A submit committed its job, then its publish failed.
	j, err := store.CreateJob(ctx, catalog.NewJob{ID: "never-published", Type: "squares"})
	require.NoError(t, err)
	other, err := store.CreateJob(ctx, catalog.NewJob{ID: "other-type", Type: "not-mine"})
	require.NoError(t, err)

	require.NoError(t, engines[0].Sweep(ctx))
	assert.Empty(t, pub.take(), "a fresh PENDING job is left alone")

	clock.Add(time.Minute + time.Second)
	var wg sync.WaitGroup
	for _, e := range engines {
		wg.Add(1)
		go func() { defer wg.Done(); assert.NoError(t, e.Sweep(ctx)) }()
	}
	wg.Wait()
	assert.Equal(t, []queue.Message{{JobID: j.ID}}, pub.take(), "three sweepers enqueue it once")
	require.NoError(t, engines[1].Sweep(ctx))
	assert.Empty(t, pub.take(), "touched: not again before PendingAfter")

	clock.Add(time.Minute + time.Second)
	require.NoError(t, engines[2].Sweep(ctx))
	assert.Equal(t, []queue.Message{{JobID: j.ID}}, pub.take(), "still lost: enqueued again")
	o, err := store.GetJob(ctx, other.ID)
	require.NoError(t, err)
	assert.Equal(t, other.Revision, o.Revision, "another engine's job is not touched")

	// The message starts the job.
	require.NoError(t, engines[0].Handle(ctx, queue.Message{JobID: j.ID}))
	got, err := store.GetJob(ctx, j.ID)
	require.NoError(t, err)
	assert.Equal(t, catalog.StatusProcessing, got.Status)
}

func TestSweepStageDeadline(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline time.Duration
		advance  time.Duration
		fail     bool
	}{
		{"past the default deadline", 0, engine.DefaultStageDeadline + time.Minute, true},
		{"past a short deadline", time.Hour, time.Hour + time.Minute, true},
		{"before the deadline", time.Hour, 50 * time.Minute, false},
		{"no deadline", -1, 100 * time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newLeaseRig(t, engine.Options{StageDeadline: tc.deadline})
			// The list task runs for ever (its worker is alive: it keeps
			// being redelivered before its lease ends, as if hung).
			tk := r.task(t)
			_, err := r.store.TransitionTask(r.ctx, tk.ID, catalog.Transition{To: catalog.StatusProcessing, IfRevision: tk.Revision})
			require.NoError(t, err)
			r.clock.Add(tc.advance)
			e2 := r.engine(t, engine.Options{Now: r.clock.Now, Logger: quietLogger(), StageDeadline: tc.deadline, LeaseTimeout: 1000 * time.Hour})
			sweepers := []*engine.Engine{e2, r.engine(t, engine.Options{Now: r.clock.Now, Logger: quietLogger(), StageDeadline: tc.deadline, LeaseTimeout: 1000 * time.Hour})}
			var wg sync.WaitGroup
			for _, e := range sweepers {
				wg.Add(1)
				go func() { defer wg.Done(); assert.NoError(t, e.Sweep(r.ctx)) }()
			}
			wg.Wait()
			j := r.jobNow(t)
			if !tc.fail {
				assert.Equal(t, catalog.StatusProcessing, j.Status)
				assert.Zero(t, r.fx.failures.Load())
				return
			}
			require.Equal(t, catalog.StatusFailed, j.Status)
			st, err := r.e.Status(r.ctx, j.ID)
			require.NoError(t, err)
			require.NotNil(t, st.Failure)
			assert.Equal(t, engine.ErrTypeTimeout, st.Failure.ErrorType)
			assert.Equal(t, "list", st.Failure.Stage)
			assert.Contains(t, j.Error, "deadline")
			assert.Equal(t, catalog.StatusFailed, st.Stages[0].Status)
			assert.Equal(t, int64(1), r.fx.failures.Load(), "OnFailure ran once")
		})
	}
}

func TestFailureHookRunsOnce(t *testing.T) {
	t.Run("racing deliveries", func(t *testing.T) {
		ctx := context.Background()
		fx := newFixture()
		fx.failAt = 3
		fx.hookSlow = 20 * time.Millisecond
		store := catalog.NewMemory()
		pub := &direct{}
		e, err := engine.New(store, pub, engine.Options{Logger: quietLogger()}, fx.def())
		require.NoError(t, err)
		j, err := store.CreateJob(ctx, catalog.NewJob{ID: "hook-once", Type: "squares"})
		require.NoError(t, err)
		pending := []queue.Message{{JobID: j.ID}}
		for len(pending) > 0 {
			var wg sync.WaitGroup
			for _, m := range pending {
				for range 3 { // each message three times at once
					wg.Add(1)
					go func() { defer wg.Done(); _ = e.Handle(ctx, m) }()
				}
			}
			wg.Wait()
			pending = pub.take()
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() { defer wg.Done(); assert.NoError(t, e.Handle(ctx, queue.Message{JobID: j.ID})) }()
		}
		wg.Wait()
		got, err := store.GetJob(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, catalog.StatusFailed, got.Status)
		assert.Equal(t, int64(1), fx.failures.Load())
	})
	t.Run("a failing hook is retried by the next message", func(t *testing.T) {
		r := newLeaseRig(t, engine.Options{MaxAttempts: 1})
		r.fx.hookFail.Store(2)
		r.crash(t)
		assert.ErrorContains(t, r.e.Handle(r.ctx, r.msg), "storage unavailable")
		r.clock.Add(time.Minute) // past the hook's backoff
		assert.ErrorContains(t, r.e.Handle(r.ctx, queue.Message{JobID: r.job.ID}), "storage unavailable")
		assert.Zero(t, r.fx.failures.Load())
		r.clock.Add(time.Minute)
		require.NoError(t, r.e.Handle(r.ctx, queue.Message{JobID: r.job.ID}))
		require.NoError(t, r.e.Handle(r.ctx, queue.Message{JobID: r.job.ID}))
		assert.Equal(t, int64(1), r.fx.failures.Load())
	})
	t.Run("an older engine's state: a hook whose worker died is taken over by the sweeper", func(t *testing.T) {
		r := newLeaseRig(t, engine.Options{MaxAttempts: 1})
		// An older engine moved the job to FAILED before its hook; a
		// worker claimed the hook (a marker without params), then died.
		_, err := r.store.TransitionJob(r.ctx, r.job.ID, catalog.Transition{To: catalog.StatusFailed, Error: "stage list: x"})
		require.NoError(t, err)
		marker, err := r.store.CreateTask(r.ctx, catalog.NewTask{ID: r.job.ID + "/!failure", JobID: r.job.ID, Type: "engine.failure"})
		require.NoError(t, err)
		_, err = r.store.TransitionTask(r.ctx, marker.ID, catalog.Transition{To: catalog.StatusProcessing, IfRevision: marker.Revision})
		require.NoError(t, err)
		require.NoError(t, r.e.Handle(r.ctx, queue.Message{JobID: r.job.ID}))
		assert.Zero(t, r.fx.failures.Load(), "held by a live worker")
		require.NoError(t, r.e.Sweep(r.ctx))
		assert.Zero(t, r.fx.failures.Load(), "its lease has not expired")
		r.clock.Add(testLease + time.Second)
		require.NoError(t, r.e.Sweep(r.ctx))
		assert.Equal(t, int64(1), r.fx.failures.Load())
		require.NoError(t, r.e.Sweep(r.ctx))
		require.NoError(t, r.e.Handle(r.ctx, queue.Message{JobID: r.job.ID}))
		assert.Equal(t, int64(1), r.fx.failures.Load())
	})
}

func TestStatusSaysWhichLeaseItWaitsFor(t *testing.T) {
	r := newLeaseRig(t, engine.Options{})
	st, err := r.e.Status(r.ctx, r.job.ID)
	require.NoError(t, err)
	assert.Empty(t, st.Note, "a task not started yet holds no lease")
	assert.Empty(t, st.Stages[0].Waiting)

	tk := r.task(t)
	claimed, err := r.store.TransitionTask(r.ctx, tk.ID, catalog.Transition{To: catalog.StatusProcessing, IfRevision: tk.Revision})
	require.NoError(t, err)
	until := claimed.StartedAt.Add(testLease)
	st, err = r.e.Status(r.ctx, r.job.ID)
	require.NoError(t, err)
	require.Len(t, st.Stages[0].Waiting, 1)
	w := st.Stages[0].Waiting[0]
	assert.Equal(t, engine.LeaseWait{TaskID: tk.ID, Attempt: 1, StartedAt: *claimed.StartedAt, Until: until}, w)
	assert.Equal(t, "waiting for lease of task "+tk.ID+" until "+until.Format(time.RFC3339), st.Note)
	b, err := json.Marshal(st)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"note":"waiting for lease of task`)

	r.clock.Add(testLease + time.Second)
	st, err = r.e.Status(r.ctx, r.job.ID)
	require.NoError(t, err)
	require.Len(t, st.Stages[0].Waiting, 1)
	assert.True(t, st.Stages[0].Waiting[0].Expired)
	assert.Contains(t, st.Note, "expired")

	// The package-level Status judges by the default lease.
	st, err = engine.Status(r.ctx, r.store, r.job.ID)
	require.NoError(t, err)
	assert.Contains(t, st.Note, "until "+claimed.StartedAt.Add(engine.DefaultLeaseTimeout).Format(time.RFC3339))
}

// failingStore fails every GetJob while down.
type failingStore struct {
	catalog.Store
	down  atomic.Int64 // calls left to fail
	calls atomic.Int64
}

func (f *failingStore) GetJob(ctx context.Context, id string) (*catalog.Job, error) {
	if f.down.Add(-1) >= 0 {
		f.calls.Add(1)
		return nil, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return f.Store.GetJob(ctx, id)
}

// failingReceiver fails its first receives.
type failingReceiver struct {
	engine.Receiver
	down atomic.Int64
}

func (f *failingReceiver) Receive(ctx context.Context) (*queue.Delivery, error) {
	if f.down.Add(-1) >= 0 {
		return nil, queue.ErrUnavailable
	}
	return f.Receiver.Receive(ctx)
}

// TestOutageLoggedOncePerStateChange runs in a synctest bubble: the
// backoff and the queue's redeliveries pass on the bubble's clock.
func TestOutageLoggedOncePerStateChange(t *testing.T) {
	synctest.Test(t, testOutageLoggedOncePerStateChange)
}

func testOutageLoggedOncePerStateChange(t *testing.T) {
	q, err := queue.Open(context.Background(), "mem://engine-outage-"+testenv.RandomSuffix()+"?ackdeadline=1m", queue.Options{})
	require.NoError(t, err)
	defer func() {
		_ = q.Close(context.Background())
		time.Sleep(time.Second) // bubble time: gocloud's receive loop ends its poll
	}()
	store := &failingStore{Store: catalog.NewMemory()}
	store.down.Store(40)
	recv := &failingReceiver{Receiver: q}
	recv.down.Store(15)
	rec := &recorder{}
	e, err := engine.New(store, q, engine.Options{Logger: slog.New(rec), RetryBackoff: time.Millisecond, MaxRetryDelay: 8 * time.Millisecond,
		Concurrency: 4, SweepInterval: -1}, newFixture().def())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Work(ctx, recv) }()
	j, err := store.Store.CreateJob(context.Background(), catalog.NewJob{ID: "outage", Type: "squares"})
	require.NoError(t, err)
	require.NoError(t, e.Enqueue(context.Background(), j.ID))
	got := waitJob(t, store.Store, j.ID, 30*time.Second)
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, catalog.StatusCompleted, got.Status, got.Error)
	assert.Equal(t, int64(40), store.calls.Load(), "the store failed 40 times")

	assert.Equal(t, 1, rec.count(slog.LevelError, "receiving messages failed"))
	assert.Equal(t, 1, rec.count(slog.LevelInfo, "receiving messages recovered"))
	assert.Equal(t, 1, rec.count(slog.LevelError, "handling messages failed"), "one ERROR for 40 failures")
	assert.Equal(t, 1, rec.count(slog.LevelInfo, "handling messages recovered"))
	v, ok := rec.attr("handling messages recovered", "failures")
	require.True(t, ok)
	assert.Equal(t, int64(40), v.Int64())
	assert.Equal(t, 2, rec.count(slog.LevelError, ""), "no other ERROR line")
}

// downPublisher fails every publish while down.
type downPublisher struct {
	engine.Publisher
	down atomic.Bool
}

func (d *downPublisher) Publish(ctx context.Context, m queue.Message) error {
	if d.down.Load() {
		return queue.ErrUnavailable
	}
	return d.Publisher.Publish(ctx, m)
}

func TestSweepExpiredTasks(t *testing.T) {
	t.Run("a failed publish leaves the task for the next sweep", func(t *testing.T) {
		r := newLeaseRig(t, engine.Options{})
		pub := &downPublisher{Publisher: r.pub}
		pub.down.Store(true)
		e, err := engine.New(r.store, pub, engine.Options{Now: r.clock.Now, Logger: quietLogger(), LeaseTimeout: testLease}, r.fx.def())
		require.NoError(t, err)
		r.crash(t)
		assert.ErrorIs(t, e.Sweep(r.ctx), queue.ErrUnavailable)
		assert.Equal(t, catalog.StatusProcessing, r.task(t).Status, "not taken over without a message")
		pub.down.Store(false)
		require.NoError(t, e.Sweep(r.ctx))
		assert.Equal(t, []queue.Message{r.msg}, r.pub.take())
		require.NoError(t, r.e.Handle(r.ctx, r.msg))
		tk := r.task(t)
		assert.Equal(t, catalog.StatusCompleted, tk.Status)
		assert.Equal(t, 2, tk.Attempts)
	})
	t.Run("a task of a failed job is canceled", func(t *testing.T) {
		r := newLeaseRig(t, engine.Options{})
		r.crash(t)
		_, err := r.store.TransitionJob(r.ctx, r.job.ID, catalog.Transition{To: catalog.StatusFailed, Error: "stage list: other"})
		require.NoError(t, err)
		require.NoError(t, r.e.Sweep(r.ctx))
		tk := r.task(t)
		assert.Equal(t, catalog.StatusFailed, tk.Status)
		assert.Contains(t, tk.Error, "canceled")
		assert.Empty(t, r.pub.take())
	})
	t.Run("racing sweepers take over once", func(t *testing.T) {
		r := newLeaseRig(t, engine.Options{})
		r.crash(t)
		var wg sync.WaitGroup
		for range 4 {
			e := r.engine(t, engine.Options{Now: r.clock.Now, Logger: slog.New(r.log), LeaseTimeout: testLease})
			wg.Add(1)
			go func() { defer wg.Done(); assert.NoError(t, e.Sweep(r.ctx)) }()
		}
		wg.Wait()
		assert.Equal(t, 1, r.log.count(slog.LevelWarn, "lease expired; took over"))
		tk := r.task(t)
		assert.Equal(t, catalog.StatusFailed, tk.Status)
		assert.Equal(t, 1, tk.Attempts)
		assert.NotEmpty(t, r.pub.take())
	})
}
