package engine_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/engine"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/queue"
)

// outageStore is a catalog whose reads and writes fail while it is down
// (a database restart).
type outageStore struct {
	catalog.Store
	down  atomic.Bool
	calls atomic.Int64 // calls that failed
}

var errDBDown = fmt.Errorf("%w: dial tcp 127.0.0.1:5432: connect: connection refused", catalog.ErrUnavailable)

func (s *outageStore) check() error {
	if s.down.Load() {
		s.calls.Add(1)
		return errDBDown
	}
	return nil
}

func (s *outageStore) GetJob(ctx context.Context, id string) (*catalog.Job, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.Store.GetJob(ctx, id)
}

func (s *outageStore) GetTask(ctx context.Context, id string) (*catalog.Task, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.Store.GetTask(ctx, id)
}

// TestCatalogOutageLogsOnce: while the catalog is down every message
// fails; the worker retries them with a growing delay and logs one error
// for the whole outage (and one line when it ends), not one per message
// per retry; the jobs then complete exactly once.
func TestCatalogOutageLogsOnce(t *testing.T) {
	store := &outageStore{Store: catalog.NewMemory()}
	fx := newFixture()
	var logs testenv.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	q, err := queue.Open(context.Background(), "mem://engine-outage-"+testenv.RandomSuffix()+"?ackdeadline=1m", queue.Options{})
	require.NoError(t, err)
	defer q.Close(context.Background())
	e, err := engine.New(store, q, engine.Options{Logger: log, RetryBackoff: 5 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond,
		Concurrency: 4}, fx.def())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Work(ctx, q) }()
	defer func() { cancel(); <-done }()

	store.down.Store(true)
	var ids []string
	for range 10 {
		j, err := store.Store.CreateJob(context.Background(), catalog.NewJob{ID: "job-" + testenv.RandomSuffix(), Type: "squares"})
		require.NoError(t, err)
		require.NoError(t, e.Enqueue(context.Background(), j.ID))
		ids = append(ids, j.ID)
	}
	// Every message fails several times.
	require.Eventually(t, func() bool { return store.calls.Load() >= 60 }, 20*time.Second, time.Millisecond)
	store.down.Store(false)
	for _, id := range ids {
		j := waitJob(t, store, id, 30*time.Second)
		require.Equal(t, catalog.StatusCompleted, j.Status, id)
		checkSum(t, j)
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "level=ERROR"), "one error for the outage, not %d", store.calls.Load())
	assert.Equal(t, 1, strings.Count(logs.String(), "handling messages recovered"), "the end of the outage is logged once")
}

// blipStore fails the first writes that complete a task (the database
// restarting just as tasks finish).
type blipStore struct {
	catalog.Store
	fail atomic.Int64 // completions left to fail
}

func (s *blipStore) TransitionTask(ctx context.Context, id string, tr catalog.Transition) (*catalog.Task, error) {
	if tr.To == catalog.StatusCompleted && !strings.HasSuffix(id, "/list") && !strings.HasSuffix(id, "/square") &&
		!strings.HasSuffix(id, "/sum") && s.fail.Add(-1) >= 0 {
		return nil, errDBDown
	}
	return s.Store.TransitionTask(ctx, id, tr)
}

// TestCompletionSurvivesCatalogBlip: a task whose result cannot be
// recorded at once (the catalog away for a moment) keeps its result and
// records it when the catalog is back: it runs once, and does not wait
// for its lease (10 minutes here) to run again.
func TestCompletionSurvivesCatalogBlip(t *testing.T) {
	store := &blipStore{Store: catalog.NewMemory()}
	store.fail.Store(8)
	fx := newFixture()
	q, err := queue.Open(context.Background(), "mem://engine-blip-"+testenv.RandomSuffix()+"?ackdeadline=1m", queue.Options{})
	require.NoError(t, err)
	defer q.Close(context.Background())
	e, err := engine.New(store, q, engine.Options{Logger: quietLogger(), RetryBackoff: 20 * time.Millisecond,
		MaxRetryDelay: 100 * time.Millisecond, LeaseTimeout: 10 * time.Minute, Concurrency: 4}, fx.def())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Work(ctx, q) }()
	defer func() { cancel(); <-done }()

	j, err := store.CreateJob(context.Background(), catalog.NewJob{ID: "job-" + testenv.RandomSuffix(), Type: "squares"})
	require.NoError(t, err)
	require.NoError(t, e.Enqueue(context.Background(), j.ID))
	j = waitJob(t, store, j.ID, 30*time.Second)
	require.Equal(t, catalog.StatusCompleted, j.Status)
	checkSum(t, j)
	assert.Less(t, store.fail.Load(), int64(0), "the completions did fail")
	fx.mu.Lock()
	defer fx.mu.Unlock()
	for id, n := range fx.runs {
		assert.Equal(t, 1, n, "task %s ran once", id)
	}
}
