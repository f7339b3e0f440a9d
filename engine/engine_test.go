package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sort"
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
	_ "github.com/greensight/vzarr/queue/mem"
	_ "github.com/greensight/vzarr/queue/rabbit"
)

// countingStore counts the catalog changes that must happen once.
type countingStore struct {
	catalog.Store
	mu        sync.Mutex
	created   map[string]int // successful CreateTask by id
	completed map[string]int // successful moves to COMPLETED by task id
}

func newCounting(s catalog.Store) *countingStore {
	return &countingStore{Store: s, created: map[string]int{}, completed: map[string]int{}}
}

func (c *countingStore) CreateTask(ctx context.Context, nt catalog.NewTask) (*catalog.Task, error) {
	t, err := c.Store.CreateTask(ctx, nt)
	if err == nil {
		c.mu.Lock()
		c.created[nt.ID]++
		c.mu.Unlock()
	}
	return t, err
}

func (c *countingStore) TransitionTask(ctx context.Context, id string, tr catalog.Transition) (*catalog.Task, error) {
	t, err := c.Store.TransitionTask(ctx, id, tr)
	if err == nil && tr.To == catalog.StatusCompleted {
		c.mu.Lock()
		c.completed[id]++
		c.mu.Unlock()
	}
	return t, err
}

// chaos is a Publisher that delivers every message several times, in a
// shuffled order, a little later.
type chaos struct {
	pub   engine.Publisher
	dup   int
	mu    sync.Mutex
	buf   []queue.Message
	sent  atomic.Int64
	stop  chan struct{}
	done  chan struct{}
	delay time.Duration
}

func newChaos(pub engine.Publisher, dup int) *chaos {
	c := &chaos{pub: pub, dup: dup, stop: make(chan struct{}), done: make(chan struct{}), delay: 3 * time.Millisecond}
	go c.loop()
	return c
}

func (c *chaos) Publish(_ context.Context, m queue.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for range c.dup {
		c.buf = append(c.buf, m)
	}
	return nil
}

func (c *chaos) loop() {
	defer close(c.done)
	t := time.NewTicker(c.delay)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		c.mu.Lock()
		batch := c.buf
		c.buf = nil
		c.mu.Unlock()
		rand.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		for _, m := range batch {
			if err := c.pub.Publish(context.Background(), m); err == nil {
				c.sent.Add(1)
			}
		}
	}
}

func (c *chaos) Close() { close(c.stop); <-c.done }

// fixture is a three-stage job type: "list" makes N items, "square" runs
// one task per item, "sum" adds the squares.
type fixture struct {
	mu        sync.Mutex
	runs      map[string]int
	plans     map[string]int
	starts    atomic.Int64
	failures  atomic.Int64
	failure   *engine.Failure
	failAt    int // square task that fails for good (-1: none)
	retryable map[int]int
	panicAt   int
	planErr   error
	// hookFail fails that many OnFailure calls first.
	hookFail atomic.Int64
	// hookSlow delays OnFailure.
	hookSlow time.Duration
	// blockAt is a square task whose run waits for block to close after
	// closing blocked (-1: none).
	blockAt        int
	block, blocked chan struct{}
	// onHook, when set, is called first by OnFailure.
	onHook func(job *catalog.Job, f *engine.Failure)
}

var errFlaky = errors.New("flaky storage")

func newFixture() *fixture {
	return &fixture{runs: map[string]int{}, plans: map[string]int{}, failAt: -1, panicAt: -1, blockAt: -1, retryable: map[int]int{}}
}

func (f *fixture) def() *engine.Definition {
	plan := func(name string, p func(done map[string][]*catalog.Task) ([]json.RawMessage, error)) func(context.Context, *catalog.Job, map[string][]*catalog.Task) ([]json.RawMessage, error) {
		return func(_ context.Context, _ *catalog.Job, done map[string][]*catalog.Task) ([]json.RawMessage, error) {
			f.mu.Lock()
			f.plans[name]++
			f.mu.Unlock()
			return p(done)
		}
	}
	run := func(r func(task *catalog.Task) (any, error)) func(context.Context, *catalog.Job, *catalog.Task) (json.RawMessage, error) {
		return func(_ context.Context, _ *catalog.Job, task *catalog.Task) (json.RawMessage, error) {
			f.mu.Lock()
			f.runs[task.ID]++
			f.mu.Unlock()
			v, err := r(task)
			if err != nil {
				return nil, err
			}
			return json.Marshal(v)
		}
	}
	return &engine.Definition{
		Type: "squares",
		Stages: []engine.Stage{
			{Name: "list",
				Plan: plan("list", func(map[string][]*catalog.Task) ([]json.RawMessage, error) {
					if f.planErr != nil {
						return nil, f.planErr
					}
					return []json.RawMessage{json.RawMessage(`{"n": 0}`)}, nil
				}),
				Run: run(func(task *catalog.Task) (any, error) {
					var p struct {
						N int `json:"n"`
					}
					_ = json.Unmarshal(task.Params, &p)
					return map[string]int{"n": 24}, nil
				})},
			{Name: "square",
				Plan: plan("square", func(done map[string][]*catalog.Task) ([]json.RawMessage, error) {
					var r struct {
						N int `json:"n"`
					}
					if err := engine.Decode(done["list"][0], &r); err != nil {
						return nil, err
					}
					out := make([]json.RawMessage, r.N)
					for i := range out {
						out[i] = json.RawMessage(fmt.Sprintf(`{"i": %d}`, i))
					}
					return out, nil
				}),
				Run: run(func(task *catalog.Task) (any, error) {
					var p struct {
						I int `json:"i"`
					}
					_ = json.Unmarshal(task.Params, &p)
					if p.I == f.failAt {
						return nil, fmt.Errorf("item %d is corrupt", p.I)
					}
					if p.I == f.panicAt {
						panic("boom")
					}
					if p.I == f.blockAt {
						close(f.blocked)
						<-f.block
					}
					f.mu.Lock()
					flaky := task.Attempts <= f.retryable[p.I]
					f.mu.Unlock()
					if flaky {
						return nil, fmt.Errorf("item %d: %w", p.I, errFlaky)
					}
					return map[string]int{"sq": p.I * p.I}, nil
				})},
			{Name: "sum",
				Plan: plan("sum", func(done map[string][]*catalog.Task) ([]json.RawMessage, error) {
					var vals []int
					for _, t := range done["square"] {
						var r struct {
							Sq int `json:"sq"`
						}
						if err := engine.Decode(t, &r); err != nil {
							return nil, err
						}
						vals = append(vals, r.Sq)
					}
					b, _ := json.Marshal(map[string]any{"values": vals})
					return []json.RawMessage{b}, nil
				}),
				Run: run(func(task *catalog.Task) (any, error) {
					var p struct {
						Values []int `json:"values"`
					}
					_ = json.Unmarshal(task.Params, &p)
					sum := 0
					for _, v := range p.Values {
						sum += v
					}
					return map[string]any{"sum": sum, "values": p.Values}, nil
				})},
		},
		OnStart: func(context.Context, *catalog.Job) error { f.starts.Add(1); return nil },
		OnFailure: func(_ context.Context, job *catalog.Job, fl *engine.Failure) error {
			if f.onHook != nil {
				f.onHook(job, fl)
			}
			if f.hookFail.Add(-1) >= 0 {
				return errors.New("cleanup: storage unavailable")
			}
			time.Sleep(f.hookSlow)
			f.failures.Add(1)
			f.mu.Lock()
			f.failure = fl
			f.mu.Unlock()
			return nil
		},
	}
}

func quietLogger() *slog.Logger {
	if testing.Verbose() && os.Getenv("VZARR_TEST_LOGS") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(discard{}, nil))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// cluster runs several engines (workers) over one store and one queue.
type cluster struct {
	store   *countingStore
	fx      *fixture
	chaos   *chaos
	engines []*engine.Engine
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type clusterOpts struct {
	workers int
	dup     int
	opts    engine.Options
	// receivers opens one receiver per worker (default: one shared mem
	// queue).
	receiver func(t *testing.T, i int) (engine.Publisher, engine.Receiver)
}

func startCluster(t *testing.T, store catalog.Store, fx *fixture, co clusterOpts) *cluster {
	t.Helper()
	if co.workers == 0 {
		co.workers = 4
	}
	if co.dup == 0 {
		co.dup = 2
	}
	if co.receiver == nil {
		name := "mem://engine-test-" + testenv.RandomSuffix() + "?ackdeadline=1m"
		co.receiver = func(t *testing.T, _ int) (engine.Publisher, engine.Receiver) {
			q, err := queue.Open(context.Background(), name, queue.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { _ = q.Close(context.Background()) })
			return q, q
		}
	}
	c := &cluster{store: newCounting(store), fx: fx}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	def := fx.def()
	opts := co.opts
	opts.Logger = quietLogger()
	if opts.RetryBackoff == 0 {
		opts.RetryBackoff = 20 * time.Millisecond
	}
	if opts.MaxRetryDelay == 0 {
		opts.MaxRetryDelay = 200 * time.Millisecond
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 4
	}
	if opts.IsRetryable == nil {
		opts.IsRetryable = func(err error) bool { return errors.Is(err, errFlaky) }
	}
	for i := range co.workers {
		pub, recv := co.receiver(t, i)
		if c.chaos == nil {
			c.chaos = newChaos(pub, co.dup)
		}
		e, err := engine.New(c.store, c.chaos, opts, def)
		require.NoError(t, err)
		c.engines = append(c.engines, e)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			assert.NoError(t, e.Work(ctx, recv))
		}()
	}
	t.Cleanup(c.stop)
	return c
}

func (c *cluster) stop() {
	c.cancel()
	c.wg.Wait()
	if c.chaos != nil {
		c.chaos.Close()
	}
}

func (c *cluster) submit(t *testing.T) string {
	t.Helper()
	j, err := c.store.CreateJob(context.Background(), catalog.NewJob{ID: "job-" + testenv.RandomSuffix(), Type: "squares"})
	require.NoError(t, err)
	require.NoError(t, c.engines[0].Enqueue(context.Background(), j.ID))
	require.NoError(t, c.engines[0].Enqueue(context.Background(), j.ID)) // a duplicate submit message
	return j.ID
}

// completes submits a job, waits up to timeout for it to end and checks
// that it completed with the right sum; it returns the job's ID.
func (c *cluster) completes(t *testing.T, timeout time.Duration) string {
	t.Helper()
	id := c.submit(t)
	j := waitJob(t, c.store, id, timeout)
	require.Equal(t, catalog.StatusCompleted, j.Status, j.Error)
	checkSum(t, j)
	return id
}

func waitJob(t *testing.T, s catalog.Store, id string, timeout time.Duration) *catalog.Job {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		j, err := s.GetJob(context.Background(), id)
		require.NoError(t, err)
		if j.Status.Terminal() {
			return j
		}
		if time.Now().After(deadline) {
			st, _ := engine.Status(context.Background(), s, id)
			b, _ := json.MarshalIndent(st, "", " ")
			t.Fatalf("job %s still %s after %s:\n%s", id, j.Status, timeout, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// assertOnce checks the exactly-once properties of a completed run.
func assertOnce(t *testing.T, c *cluster, jobID string) {
	t.Helper()
	ctx := context.Background()
	tasks, err := c.store.ListTasks(ctx, jobID)
	require.NoError(t, err)
	c.store.mu.Lock()
	defer c.store.mu.Unlock()
	c.fx.mu.Lock()
	defer c.fx.mu.Unlock()
	for _, stage := range []string{"list", "square", "sum"} {
		assert.Equal(t, 1, c.fx.plans[stage], "stage %s planned once", stage)
		gate := engine.GateID(jobID, stage)
		assert.Equal(t, 1, c.store.created[gate], "gate %s created once", gate)
		assert.Equal(t, 1, c.store.completed[gate], "stage %s advanced once", stage)
	}
	n := 0
	for _, tk := range tasks {
		if engine.IsInternal(tk) {
			continue
		}
		n++
		assert.Equal(t, 1, c.fx.runs[tk.ID], "task %s ran once", tk.ID)
		assert.Equal(t, 1, c.store.created[tk.ID], "task %s created once", tk.ID)
		assert.Equal(t, 1, c.store.completed[tk.ID], "task %s completed once", tk.ID)
		assert.Equal(t, catalog.StatusCompleted, tk.Status)
	}
	assert.Equal(t, 26, n)
}

func checkSum(t *testing.T, j *catalog.Job) {
	t.Helper()
	var sum engine.JobSummary
	require.NoError(t, json.Unmarshal(j.Result, &sum))
	var r struct {
		Sum    int   `json:"sum"`
		Values []int `json:"values"`
	}
	require.NoError(t, json.Unmarshal(sum.Result, &r))
	want := 0
	for i := range 24 {
		want += i * i
		assert.Equal(t, i*i, r.Values[i], "results in plan order")
	}
	assert.Equal(t, want, r.Sum)
	require.Len(t, sum.Stages, 3)
	assert.Equal(t, 24, sum.Stages[1].Tasks)
}

func TestDuplicatedReorderedMessagesAdvanceOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		workers int
		dup     int
	}{
		{"1 worker, every message twice", 1, 2},
		{"4 workers, every message twice", 4, 2},
		{"8 workers, every message three times", 8, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture()
			c := startCluster(t, catalog.NewMemory(), fx, clusterOpts{workers: tc.workers, dup: tc.dup})
			id := c.completes(t, 30*time.Second)
			assertOnce(t, c, id)
			assert.GreaterOrEqual(t, fx.starts.Load(), int64(1))
			assert.Zero(t, fx.failures.Load())
		})
	}
}

func TestPostgresManyWorkers(t *testing.T) {
	store := testenv.Postgres(t)
	fx := newFixture()
	c := startCluster(t, store, fx, clusterOpts{workers: 6, dup: 2})
	id := c.completes(t, 60*time.Second)
	assertOnce(t, c, id)
}

func TestRabbitManyWorkers(t *testing.T) {
	rabbit := testenv.RabbitURL(t)
	store := testenv.Postgres(t)
	name := "rabbit://vzarr-engine-test-" + testenv.RandomSuffix() + "?prefetch_count=8"
	fx := newFixture()
	c := startCluster(t, store, fx, clusterOpts{workers: 4, dup: 2,
		receiver: func(t *testing.T, _ int) (engine.Publisher, engine.Receiver) {
			// Each worker has its own connections, as separate processes
			// would.
			q, err := queue.Open(context.Background(), name, queue.Options{RabbitURL: rabbit})
			require.NoError(t, err)
			t.Cleanup(func() { _ = q.Close(context.Background()) })
			return q, q
		}})
	id := c.completes(t, 60*time.Second)
	assertOnce(t, c, id)
}

func TestTaskFailureFailsJob(t *testing.T) {
	fx := newFixture()
	fx.failAt = 7
	c := startCluster(t, catalog.NewMemory(), fx, clusterOpts{workers: 3})
	id := c.submit(t)
	j := waitJob(t, c.store, id, 30*time.Second)
	require.Equal(t, catalog.StatusFailed, j.Status)
	assert.Equal(t, "square", j.Stage)
	assert.Contains(t, j.Error, "stage square: item 7 is corrupt")

	// The failure hook ran, with the task named; the last stage never
	// opened.
	require.Eventually(t, func() bool { return fx.failures.Load() >= 1 }, 5*time.Second, 10*time.Millisecond)
	fx.mu.Lock()
	assert.Equal(t, engine.TaskID(id, "square", 7), fx.failure.TaskID)
	assert.Zero(t, fx.plans["sum"])
	fx.mu.Unlock()
	_, err := c.store.GetTask(context.Background(), engine.GateID(id, "sum"))
	assert.ErrorIs(t, err, catalog.ErrNotFound)

	st, err := engine.Status(context.Background(), c.store, id)
	require.NoError(t, err)
	require.NotNil(t, st.Failure)
	assert.Equal(t, "square", st.Failure.Stage)
	assert.Equal(t, catalog.StatusFailed, st.Stages[1].Status)
	assertBriefStatus(t, c.store.Store, id)

	// Tasks that had not run when the job failed end as canceled, not
	// PENDING forever.
	require.Eventually(t, func() bool {
		st, err := engine.Status(context.Background(), c.store, id)
		return err == nil && st.Tasks[catalog.StatusPending] == 0 && st.Tasks[catalog.StatusProcessing] == 0
	}, 10*time.Second, 20*time.Millisecond)
}

func TestRetryableErrors(t *testing.T) {
	t.Run("recovers", func(t *testing.T) {
		fx := newFixture()
		fx.retryable[3] = 2 // fails on attempts 1 and 2, succeeds on 3
		c := startCluster(t, catalog.NewMemory(), fx, clusterOpts{workers: 2})
		id := c.completes(t, 30*time.Second)
		tk, err := c.store.GetTask(context.Background(), engine.TaskID(id, "square", 3))
		require.NoError(t, err)
		assert.Equal(t, 3, tk.Attempts)
	})
	t.Run("gives up after MaxAttempts", func(t *testing.T) {
		fx := newFixture()
		fx.retryable[5] = 100
		c := startCluster(t, catalog.NewMemory(), fx, clusterOpts{workers: 2, opts: engine.Options{MaxAttempts: 2}})
		id := c.submit(t)
		j := waitJob(t, c.store, id, 30*time.Second)
		require.Equal(t, catalog.StatusFailed, j.Status)
		assert.Contains(t, j.Error, "flaky storage")
		fx.mu.Lock()
		assert.Equal(t, 2, fx.runs[engine.TaskID(id, "square", 5)])
		fx.mu.Unlock()
	})
}

func TestPanicAndPlanErrors(t *testing.T) {
	t.Run("panic", func(t *testing.T) {
		fx := newFixture()
		fx.panicAt = 2
		c := startCluster(t, catalog.NewMemory(), fx, clusterOpts{workers: 2})
		j := waitJob(t, c.store, c.submit(t), 30*time.Second)
		require.Equal(t, catalog.StatusFailed, j.Status)
		assert.Contains(t, j.Error, "internal error: boom")
	})
	t.Run("plan error", func(t *testing.T) {
		fx := newFixture()
		fx.planErr = errors.New("no files match *.nc")
		c := startCluster(t, catalog.NewMemory(), fx, clusterOpts{workers: 2})
		j := waitJob(t, c.store, c.submit(t), 30*time.Second)
		require.Equal(t, catalog.StatusFailed, j.Status)
		assert.Equal(t, "stage list: no files match *.nc", j.Error)
		assert.Equal(t, int64(0), int64(len(fx.runs)))
	})
}

// direct drives Handle by hand, without a queue: messages are captured and
// delivered in the order the test chooses.
type direct struct {
	mu   sync.Mutex
	msgs []queue.Message
}

func (d *direct) Publish(_ context.Context, m queue.Message) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.msgs = append(d.msgs, m)
	return nil
}

func (d *direct) take() []queue.Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.msgs
	d.msgs = nil
	return m
}

// directJob is one "squares" job driven by hand: an engine over a
// counting in-memory catalog that publishes to a direct publisher.
type directJob struct {
	ctx   context.Context
	store *countingStore
	pub   *direct
	e     *engine.Engine
	job   *catalog.Job
}

// newDirectJob creates the engine (with fx's definition and opts) and the
// job id.
func newDirectJob(t *testing.T, fx *fixture, opts engine.Options, id string) *directJob {
	t.Helper()
	d := &directJob{ctx: context.Background(), store: newCounting(catalog.NewMemory()), pub: &direct{}}
	var err error
	d.e, err = engine.New(d.store, d.pub, opts, fx.def())
	require.NoError(t, err)
	d.job, err = d.store.CreateJob(d.ctx, catalog.NewJob{ID: id, Type: "squares"})
	require.NoError(t, err)
	return d
}

// list handles the job's first message and returns the one message of the
// "list" stage it publishes.
func (d *directJob) list(t *testing.T) queue.Message {
	t.Helper()
	require.NoError(t, d.e.Handle(d.ctx, queue.Message{JobID: d.job.ID}))
	msgs := d.pub.take()
	require.Len(t, msgs, 1)
	return msgs[0]
}

// squares runs the "list" stage and returns the 24 messages of the
// "square" stage, sorted by task ID (they are published concurrently).
func (d *directJob) squares(t *testing.T) []queue.Message {
	t.Helper()
	require.NoError(t, d.e.Handle(d.ctx, d.list(t)))
	squares := d.pub.take()
	require.Len(t, squares, 24)
	sort.Slice(squares, func(a, b int) bool { return squares[a].TaskID < squares[b].TaskID })
	return squares
}

// TestLostWorkerLeaseTakeover runs in a synctest bubble: the lease expires on the bubble's clock, with no real wait.
func TestLostWorkerLeaseTakeover(t *testing.T) { synctest.Test(t, testLostWorkerLeaseTakeover) }

func testLostWorkerLeaseTakeover(t *testing.T) {
	d := newDirectJob(t, newFixture(), engine.Options{Logger: quietLogger(), LeaseTimeout: 50 * time.Millisecond}, "lease")
	ctx, store, pub, e := d.ctx, d.store, d.pub, d.e
	msg := d.list(t)

	// A worker claims the task, then dies without a result.
	_, err := store.TransitionTask(ctx, msg.TaskID, catalog.Transition{To: catalog.StatusProcessing})
	require.NoError(t, err)
	// The message comes again at once: the task is held, come back later.
	err = e.Handle(ctx, msg)
	var re *engine.RetryError
	require.ErrorAs(t, err, &re)
	assert.Positive(t, re.After)
	// After the lease, the next delivery takes it over and runs it.
	time.Sleep(60 * time.Millisecond) // bubble time
	require.NoError(t, e.Handle(ctx, msg))
	tk, err := store.GetTask(ctx, msg.TaskID)
	require.NoError(t, err)
	assert.Equal(t, catalog.StatusCompleted, tk.Status)
	assert.Equal(t, 2, tk.Attempts)
	assert.Len(t, pub.take(), 24, "the square stage was published")
}

// TestAbandonedFanOut runs in a synctest bubble: FanoutTimeout passes on the bubble's clock.
func TestAbandonedFanOut(t *testing.T) { synctest.Test(t, testAbandonedFanOut) }

func testAbandonedFanOut(t *testing.T) {
	d := newDirectJob(t, newFixture(), engine.Options{Logger: quietLogger(), FanoutTimeout: 50 * time.Millisecond}, "fanout")
	ctx, store, pub, e, j := d.ctx, d.store, d.pub, d.e, d.job
	_, err := store.TransitionJob(ctx, j.ID, catalog.Transition{To: catalog.StatusProcessing})
	require.NoError(t, err)
	// A worker created the first gate, then died before publishing.
	_, err = store.CreateTask(ctx, catalog.NewTask{ID: engine.GateID(j.ID, "list"), JobID: j.ID, Type: engine.GateType, Stage: "list"})
	require.NoError(t, err)

	// The creator's message comes back while the gate is fresh: it is
	// kept (deliver again later), not acknowledged, so that the stage is
	// recovered if its creator died.
	err = e.Handle(ctx, queue.Message{JobID: j.ID})
	var re *engine.RetryError
	require.ErrorAs(t, err, &re)
	assert.LessOrEqual(t, re.After, 200*time.Millisecond)
	assert.Empty(t, pub.take(), "a fresh PENDING gate belongs to its creator")
	time.Sleep(60 * time.Millisecond) // bubble time: past FanoutTimeout
	require.NoError(t, e.Handle(ctx, queue.Message{JobID: j.ID}))
	msgs := pub.take()
	require.Len(t, msgs, 1)
	assert.Equal(t, engine.TaskID(j.ID, "list", 0), msgs[0].TaskID)
}

func TestOutOfOrderDirect(t *testing.T) {
	// Every message is handled twice, the copies in reverse order, with
	// the second copies running concurrently with each other.
	fx := newFixture()
	d := newDirectJob(t, fx, engine.Options{Logger: quietLogger()}, "ooo")
	ctx, store, pub, e, j := d.ctx, d.store, d.pub, d.e, d.job
	pending := []queue.Message{{JobID: j.ID}, {JobID: j.ID}}
	for round := 0; len(pending) > 0 && round < 20; round++ {
		for i := len(pending) - 1; i >= 0; i-- {
			require.NoError(t, e.Handle(ctx, pending[i]))
		}
		var wg sync.WaitGroup
		for _, m := range pending {
			wg.Add(1)
			go func() { defer wg.Done(); assert.NoError(t, e.Handle(ctx, m)) }()
		}
		wg.Wait()
		pending = pub.take()
	}
	j, err := store.GetJob(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, catalog.StatusCompleted, j.Status)
	checkSum(t, j)
	assertOnce(t, &cluster{store: store, fx: fx}, j.ID)
}

// TestWorkStopsOnCancel runs in a synctest bubble: Work is cancelled
// once it waits for messages.
func TestWorkStopsOnCancel(t *testing.T) { synctest.Test(t, testWorkStopsOnCancel) }

func testWorkStopsOnCancel(t *testing.T) {
	q, err := queue.Open(context.Background(), "mem://engine-stop-"+testenv.RandomSuffix(), queue.Options{})
	require.NoError(t, err)
	defer func() {
		_ = q.Close(context.Background())
		time.Sleep(time.Second) // bubble time: gocloud's receive loop ends its poll
	}()
	e, err := engine.New(catalog.NewMemory(), q, engine.Options{Logger: quietLogger()}, newFixture().def())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Work(ctx, q) }()
	synctest.Wait() // Work waits for a message
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Work did not return after cancel")
	}
}

func TestDefinitionChecks(t *testing.T) {
	noop := engine.Stage{Name: "a", Plan: func(context.Context, *catalog.Job, map[string][]*catalog.Task) ([]json.RawMessage, error) {
		return nil, nil
	}, Run: func(context.Context, *catalog.Job, *catalog.Task) (json.RawMessage, error) { return nil, nil }}
	for name, def := range map[string]*engine.Definition{
		"no type":     {Stages: []engine.Stage{noop}},
		"no stages":   {Type: "x"},
		"duplicate":   {Type: "x", Stages: []engine.Stage{noop, noop}},
		"slash":       {Type: "x", Stages: []engine.Stage{{Name: "a/b", Plan: noop.Plan, Run: noop.Run}}},
		"no run":      {Type: "x", Stages: []engine.Stage{{Name: "a", Plan: noop.Plan}}},
		"reserved ty": {Type: "x", Stages: []engine.Stage{{Name: "a", TaskType: engine.GateType, Plan: noop.Plan, Run: noop.Run}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := engine.New(catalog.NewMemory(), &direct{}, engine.Options{}, def)
			assert.ErrorIs(t, err, engine.ErrInvalidDefinition)
		})
	}
}

func TestEmptyStageCompletesAtOnce(t *testing.T) {
	ctx := context.Background()
	runs := 0
	def := &engine.Definition{Type: "empty", Stages: []engine.Stage{
		{Name: "nothing", Plan: func(context.Context, *catalog.Job, map[string][]*catalog.Task) ([]json.RawMessage, error) {
			return nil, nil
		},
			Run: func(context.Context, *catalog.Job, *catalog.Task) (json.RawMessage, error) { runs++; return nil, nil }},
		{Name: "one", Plan: func(context.Context, *catalog.Job, map[string][]*catalog.Task) ([]json.RawMessage, error) {
			return []json.RawMessage{nil}, nil
		}, Run: func(context.Context, *catalog.Job, *catalog.Task) (json.RawMessage, error) {
			runs++
			return json.RawMessage(`{"ok":true}`), nil
		}},
	}}
	store := catalog.NewMemory()
	pub := &direct{}
	e, err := engine.New(store, pub, engine.Options{Logger: quietLogger()}, def)
	require.NoError(t, err)
	j, err := store.CreateJob(ctx, catalog.NewJob{Type: "empty"})
	require.NoError(t, err)
	require.NoError(t, e.Handle(ctx, queue.Message{JobID: j.ID}))
	msgs := pub.take()
	require.Len(t, msgs, 1)
	require.NoError(t, e.Handle(ctx, msgs[0]))
	j, err = store.GetJob(ctx, j.ID)
	require.NoError(t, err)
	assert.Equal(t, catalog.StatusCompleted, j.Status)
	assert.Equal(t, 1, runs)
	var sum engine.JobSummary
	require.NoError(t, json.Unmarshal(j.Result, &sum))
	assert.JSONEq(t, `{"ok":true}`, string(sum.Result))
}

// flakyStore fails one CreateTask of a given id, as a worker that dies in
// the middle of opening a stage.
type flakyStore struct {
	*countingStore
	failID string
	failed atomic.Bool
}

func (f *flakyStore) CreateTask(ctx context.Context, nt catalog.NewTask) (*catalog.Task, error) {
	if nt.ID == f.failID && f.failed.CompareAndSwap(false, true) {
		return nil, errors.New("connection lost")
	}
	return f.countingStore.CreateTask(ctx, nt)
}

// TestCrashWhileOpeningAStage runs in a synctest bubble: FanoutTimeout passes on the bubble's clock.
func TestCrashWhileOpeningAStage(t *testing.T) { synctest.Test(t, testCrashWhileOpeningAStage) }

func testCrashWhileOpeningAStage(t *testing.T) {
	ctx := context.Background()
	fx := newFixture()
	counting := newCounting(catalog.NewMemory())
	j, err := counting.CreateJob(ctx, catalog.NewJob{ID: "crash", Type: "squares"})
	require.NoError(t, err)
	store := &flakyStore{countingStore: counting, failID: engine.TaskID(j.ID, "sum", 0)}
	pub := &direct{}
	e, err := engine.New(store, pub, engine.Options{Logger: quietLogger(), FanoutTimeout: 100 * time.Millisecond}, fx.def())
	require.NoError(t, err)

	pending := []queue.Message{{JobID: j.ID}}
	var lastErr error
	var failedMsg queue.Message
	for len(pending) > 0 {
		var next []queue.Message
		for _, m := range pending {
			if err := e.Handle(ctx, m); err != nil {
				lastErr, failedMsg = err, m
				continue
			}
		}
		next = append(next, pub.take()...)
		pending = next
	}
	// The worker that completed the last square opened "sum" and died
	// before creating its task: its message was not acknowledged.
	require.ErrorContains(t, lastErr, "connection lost")
	gate, err := store.GetTask(ctx, engine.GateID(j.ID, "sum"))
	require.NoError(t, err)
	assert.Equal(t, catalog.StatusPending, gate.Status)

	// Delivered again at once: the gate is fresh, come back later.
	var re *engine.RetryError
	require.ErrorAs(t, e.Handle(ctx, failedMsg), &re)
	// After FanoutTimeout the stage is planned and published again.
	time.Sleep(120 * time.Millisecond) // bubble time
	require.NoError(t, e.Handle(ctx, failedMsg))
	msgs := pub.take()
	require.Len(t, msgs, 1)
	require.NoError(t, e.Handle(ctx, msgs[0]))
	j, err = store.GetJob(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, catalog.StatusCompleted, j.Status, j.Error)
	checkSum(t, j)
	counting.mu.Lock()
	defer counting.mu.Unlock()
	assert.Equal(t, 1, counting.created[engine.GateID(j.ID, "sum")])
	assert.Equal(t, 1, counting.created[engine.TaskID(j.ID, "sum", 0)])
	assert.Equal(t, 1, counting.completed[engine.GateID(j.ID, "square")])
}

// callCounter counts every catalog call of the engine (its Store).
type callCounter struct {
	catalog.Store
	gets, jobGets, lists, transitions atomic.Int64
}

func (c *callCounter) GetTask(ctx context.Context, id string) (*catalog.Task, error) {
	c.gets.Add(1)
	return c.Store.GetTask(ctx, id)
}

func (c *callCounter) GetJob(ctx context.Context, id string) (*catalog.Job, error) {
	c.jobGets.Add(1)
	return c.Store.GetJob(ctx, id)
}

func (c *callCounter) ListTasks(ctx context.Context, jobID string) ([]*catalog.Task, error) {
	c.lists.Add(1)
	return c.Store.ListTasks(ctx, jobID)
}

func (c *callCounter) TransitionTask(ctx context.Context, id string, tr catalog.Transition) (*catalog.Task, error) {
	c.transitions.Add(1)
	return c.Store.TransitionTask(ctx, id, tr)
}

// moveCounter is a callCounter whose store moves tasks it is given
// (catalog.TaskMover): one round trip instead of a read and an update.
type moveCounter struct {
	*callCounter
	moves atomic.Int64
}

func (c *moveCounter) MoveTask(ctx context.Context, t *catalog.Task, tr catalog.Transition) (*catalog.Task, error) {
	c.moves.Add(1)
	return c.Store.(catalog.TaskMover).MoveTask(ctx, t, tr)
}

// TestCatalogCallsPerTask bounds the catalog calls behind one task of a
// stage that is not its last (the per-file fixed cost of a 10,000-file
// job): read the task, the job and the stage's gate, claim, complete, read
// the gate and the stage's hint task. No listing of the job's tasks.
func TestCatalogCallsPerTask(t *testing.T) {
	t.Run("a store without MoveTask", func(t *testing.T) {
		calls := &callCounter{Store: catalog.NewMemory()}
		testCatalogCallsPerTask(t, calls, calls, func() int64 { return 0 }, 2)
	})
	t.Run("a TaskMover", func(t *testing.T) {
		calls := &moveCounter{callCounter: &callCounter{Store: catalog.NewMemory()}}
		testCatalogCallsPerTask(t, calls, calls.callCounter, calls.moves.Load, 0)
	})
}

// testCatalogCallsPerTask runs a job on store (which counts its calls in
// calls and moves) and checks the calls of a task in the middle of its
// stage: the claim and the completion are moves when the store can
// (then no transition), else transitions.
func testCatalogCallsPerTask(t *testing.T, store engine.Store, calls *callCounter, moves func() int64, transitions int64) {
	ctx := context.Background()
	mem := calls.Store
	pub := &direct{}
	e, err := engine.New(store, pub, engine.Options{Logger: quietLogger()}, newFixture().def())
	require.NoError(t, err)
	j, err := mem.CreateJob(ctx, catalog.NewJob{ID: "calls", Type: "squares"})
	require.NoError(t, err)
	require.NoError(t, e.Handle(ctx, queue.Message{JobID: j.ID}))
	list := pub.take()
	require.Len(t, list, 1)
	require.NoError(t, e.Handle(ctx, list[0]))
	squares := pub.take()
	require.Len(t, squares, 24)
	sort.Slice(squares, func(a, b int) bool { return squares[a].TaskID < squares[b].TaskID })
	// The first task sets the stage's hint (one listing); the next ones
	// are what every file costs.
	require.NoError(t, e.Handle(ctx, squares[0]))
	tests := []struct {
		name                                   string
		gets, jobGets, lists, transitns, moves int64
	}{
		{"a task in the middle of its stage", 4, 1, 0, transitions, 2 - transitions},
		{"another", 4, 1, 0, transitions, 2 - transitions},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, jg, l, tr, mv := calls.gets.Load(), calls.jobGets.Load(), calls.lists.Load(), calls.transitions.Load(), moves()
			require.NoError(t, e.Handle(ctx, squares[1+i]))
			assert.Equal(t, tc.gets, calls.gets.Load()-g, "task reads")
			assert.Equal(t, tc.jobGets, calls.jobGets.Load()-jg, "job reads")
			assert.Equal(t, tc.lists, calls.lists.Load()-l, "listings")
			assert.Equal(t, tc.transitns, calls.transitions.Load()-tr, "transitions")
			assert.Equal(t, tc.moves, moves()-mv, "moves")
			tk, err := mem.GetTask(ctx, squares[1+i].TaskID)
			require.NoError(t, err)
			assert.Equal(t, catalog.StatusCompleted, tk.Status)
			assert.Equal(t, 1, tk.Attempts)
		})
	}
}

// fullLister hides a store's brief listing (catalog.BriefTaskLister).
type fullLister struct{ catalog.Store }

// assertBriefStatus checks that a job's status read with the store's brief
// listing is the one read from the full listing.
func assertBriefStatus(t *testing.T, store catalog.Store, jobID string) {
	t.Helper()
	_, ok := store.(catalog.BriefTaskLister)
	require.True(t, ok)
	now := time.Now()
	brief, err := engine.Status(context.Background(), store, jobID)
	require.NoError(t, err)
	full, err := engine.Status(context.Background(), fullLister{store}, jobID)
	require.NoError(t, err)
	if time.Since(now) < time.Second { // Waiting's Expired depends on the clock
		assert.Equal(t, full, brief)
	}
}

// briefCounter is a callCounter whose store lists tasks briefly.
type briefCounter struct {
	*callCounter
	briefs atomic.Int64
}

func (c *briefCounter) ListTasksBrief(ctx context.Context, jobID string, fullTypes []string) ([]*catalog.Task, error) {
	c.briefs.Add(1)
	return c.Store.(catalog.BriefTaskLister).ListTasksBrief(ctx, jobID, fullTypes)
}

// TestStatusListsBriefly: a job's status and the engine's stage checks
// read the tasks without their params and results (but the gates' and
// the failure marker's, and FAILED tasks' results) when the store can.
func TestStatusListsBriefly(t *testing.T) {
	ctx := context.Background()
	calls := &briefCounter{callCounter: &callCounter{Store: catalog.NewMemory()}}
	d := &direct{}
	e, err := engine.New(calls, d, engine.Options{Logger: quietLogger()}, newFixture().def())
	require.NoError(t, err)
	j, err := calls.Store.CreateJob(ctx, catalog.NewJob{ID: "brief", Type: "squares"})
	require.NoError(t, err)
	require.NoError(t, e.Handle(ctx, queue.Message{JobID: j.ID}))
	list := d.take()
	require.Len(t, list, 1)
	// The list stage's one task: its stage check is brief; planning the
	// next stage reads the results (a full listing).
	briefs, lists := calls.briefs.Load(), calls.lists.Load()
	require.NoError(t, e.Handle(ctx, list[0]))
	assert.Positive(t, calls.briefs.Load()-briefs, "the stage checks")
	assert.EqualValues(t, 1, calls.lists.Load()-lists, "the plan")
	briefs, lists = calls.briefs.Load(), calls.lists.Load()
	st, err := e.Status(ctx, j.ID)
	require.NoError(t, err)
	assert.Equal(t, "square", st.Stage)
	assert.EqualValues(t, 1, calls.briefs.Load()-briefs)
	assert.Equal(t, lists, calls.lists.Load(), "no full listing")
}
