package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/internal/testenv"
)

// plainStore hides the optional interfaces of the store it wraps.
type plainStore struct{ catalog.Store }

func TestCountingStore(t *testing.T) {
	for _, tc := range []struct {
		name        string
		inner       func() catalog.Store
		want        catalogCalls
		briefParams bool // a brief listing keeps the params
	}{
		// Batches and one-statement moves are kept.
		{"memory", func() catalog.Store { return catalog.NewMemory() },
			catalogCalls{Gets: 2, Lists: 2, Moves: 2, Creates: 1, Transitions: 1}, false},
		// Without them: a create per task, transitions instead of moves.
		{"a wrapped store", func() catalog.Store { return plainStore{catalog.NewMemory()} },
			catalogCalls{Gets: 2, Lists: 2, Transitions: 3, Creates: 2}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := &countingStore{Store: tc.inner()}
			job, err := s.Store.CreateJob(ctx, catalog.NewJob{Type: "x"})
			require.NoError(t, err)
			n, err := s.CreateTasks(ctx, []catalog.NewTask{{ID: "a", JobID: job.ID, Type: "t"}, {ID: "b", JobID: job.ID, Type: "t"}})
			require.NoError(t, err)
			assert.Equal(t, 2, n)
			task, err := s.GetTask(ctx, "a")
			require.NoError(t, err)
			claimed, err := s.MoveTask(ctx, task, catalog.Transition{To: catalog.StatusProcessing})
			require.NoError(t, err)
			_, err = s.MoveTask(ctx, claimed, catalog.Transition{To: catalog.StatusCompleted})
			require.NoError(t, err)
			_, err = s.GetJob(ctx, job.ID)
			require.NoError(t, err)
			_, err = s.TransitionJob(ctx, job.ID, catalog.Transition{To: catalog.StatusProcessing})
			require.NoError(t, err)
			ts, err := s.ListTasks(ctx, job.ID)
			require.NoError(t, err)
			assert.Len(t, ts, 2)
			assert.Equal(t, catalog.StatusCompleted, ts[0].Status)
			brief, err := s.ListTasksBrief(ctx, job.ID, nil)
			require.NoError(t, err)
			require.Len(t, brief, 2)
			assert.Equal(t, tc.briefParams, brief[0].Params != nil)
			assert.Equal(t, tc.want, s.calls())
		})
	}
}

func TestPoolStats(t *testing.T) {
	assert.Nil(t, poolStats(&countingStore{Store: catalog.NewMemory()}), "an in-memory catalog has no pool")
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	pg, err := catalog.OpenPostgres(ctx, dsn, catalog.PostgresOptions{})
	require.NoError(t, err)
	defer pg.Close()
	require.NoError(t, pg.Pool().Ping(ctx))
	st := poolStats(&countingStore{Store: pg})
	require.NotNil(t, st)
	assert.Positive(t, st.MaxConns)
	assert.Positive(t, st.Acquires)
}
