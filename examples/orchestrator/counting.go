package main

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/greensight/vzarr/catalog"
)

// countingStore is a catalog.Store that counts the calls the engine makes
// per task (its engine.Store methods), so that the orchestrator can log the
// catalog calls behind its tasks when it stops (scripts/bench-archive
// reports them per file).
type countingStore struct {
	catalog.Store
	gets, lists, transitions, moves, creates, other atomic.Int64
}

// catalogCalls are the calls a countingStore counted.
type catalogCalls struct {
	Gets        int64 `json:"gets"`
	Lists       int64 `json:"lists"`
	Transitions int64 `json:"transitions"`
	// Moves are one-statement transitions (catalog.TaskMover).
	Moves   int64 `json:"moves"`
	Creates int64 `json:"creates"`
	Other   int64 `json:"other"`
}

func (s *countingStore) calls() catalogCalls {
	return catalogCalls{Gets: s.gets.Load(), Lists: s.lists.Load(), Transitions: s.transitions.Load(),
		Moves: s.moves.Load(), Creates: s.creates.Load(), Other: s.other.Load()}
}

func (s *countingStore) GetJob(ctx context.Context, id string) (*catalog.Job, error) {
	s.gets.Add(1)
	return s.Store.GetJob(ctx, id)
}

func (s *countingStore) TransitionJob(ctx context.Context, id string, t catalog.Transition) (*catalog.Job, error) {
	s.transitions.Add(1)
	return s.Store.TransitionJob(ctx, id, t)
}

func (s *countingStore) ListJobs(ctx context.Context, f catalog.JobFilter) ([]*catalog.Job, error) {
	s.other.Add(1)
	return s.Store.ListJobs(ctx, f)
}

func (s *countingStore) TouchJob(ctx context.Context, id string, ifRevision int64) (*catalog.Job, error) {
	s.other.Add(1)
	return s.Store.TouchJob(ctx, id, ifRevision)
}

func (s *countingStore) CreateTask(ctx context.Context, t catalog.NewTask) (*catalog.Task, error) {
	s.creates.Add(1)
	return s.Store.CreateTask(ctx, t)
}

// CreateTasks keeps the wrapped store's batching (catalog.TaskBatcher);
// without it the tasks are created one by one, as the engine would.
func (s *countingStore) CreateTasks(ctx context.Context, ts []catalog.NewTask) (int, error) {
	if b, ok := s.Store.(catalog.TaskBatcher); ok {
		s.creates.Add(1)
		return b.CreateTasks(ctx, ts)
	}
	n := 0
	for _, t := range ts {
		s.creates.Add(1)
		_, err := s.Store.CreateTask(ctx, t)
		switch {
		case err == nil:
			n++
		case !errors.Is(err, catalog.ErrConflict):
			return n, err
		}
	}
	return n, nil
}

func (s *countingStore) GetTask(ctx context.Context, id string) (*catalog.Task, error) {
	s.gets.Add(1)
	return s.Store.GetTask(ctx, id)
}

func (s *countingStore) ListTasks(ctx context.Context, jobID string) ([]*catalog.Task, error) {
	s.lists.Add(1)
	return s.Store.ListTasks(ctx, jobID)
}

func (s *countingStore) FindTasks(ctx context.Context, f catalog.TaskFilter) ([]*catalog.Task, error) {
	s.other.Add(1)
	return s.Store.FindTasks(ctx, f)
}

func (s *countingStore) TransitionTask(ctx context.Context, id string, t catalog.Transition) (*catalog.Task, error) {
	s.transitions.Add(1)
	return s.Store.TransitionTask(ctx, id, t)
}

// MoveTask keeps the wrapped store's one-statement moves
// (catalog.TaskMover); without it, it is TransitionTask with IfRevision,
// as the engine would do.
func (s *countingStore) MoveTask(ctx context.Context, t *catalog.Task, tr catalog.Transition) (*catalog.Task, error) {
	if m, ok := s.Store.(catalog.TaskMover); ok {
		s.moves.Add(1)
		return m.MoveTask(ctx, t, tr)
	}
	s.transitions.Add(1)
	tr.IfRevision = t.Revision
	return s.Store.TransitionTask(ctx, t.ID, tr)
}

// catalogPool is the use of a PostgreSQL catalog's connection pool: how
// often and how long the engine's calls waited for a connection.
type catalogPool struct {
	MaxConns      int32   `json:"max_conns"`
	Acquires      int64   `json:"acquires"`
	EmptyAcquires int64   `json:"empty_acquires"`
	WaitMS        float64 `json:"wait_ms"`
}

// poolStats reads the pool of a PostgreSQL catalog (through a
// countingStore); nil for another store.
func poolStats(s catalog.Store) *catalogPool {
	if c, ok := s.(*countingStore); ok {
		s = c.Store
	}
	pg, ok := s.(*catalog.Postgres)
	if !ok {
		return nil
	}
	st := pg.Pool().Stat()
	return &catalogPool{MaxConns: st.MaxConns(), Acquires: st.AcquireCount(), EmptyAcquires: st.EmptyAcquireCount(),
		WaitMS: float64(st.EmptyAcquireWaitTime().Microseconds()) / 1000}
}

// ListTasksBrief keeps the wrapped store's brief listings
// (catalog.BriefTaskLister, what a status reads); without them it is
// ListTasks.
func (s *countingStore) ListTasksBrief(ctx context.Context, jobID string, fullTypes []string) ([]*catalog.Task, error) {
	s.lists.Add(1)
	if l, ok := s.Store.(catalog.BriefTaskLister); ok {
		return l.ListTasksBrief(ctx, jobID, fullTypes)
	}
	return s.Store.ListTasks(ctx, jobID)
}
