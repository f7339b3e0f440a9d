package catalog_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/catalog"
)

func TestMemoryStore(t *testing.T) {
	runSuite(t, func(t *testing.T) catalog.Store { return catalog.NewMemory() })
}

func TestMemoryClock(t *testing.T) {
	at := time.Date(2030, 5, 6, 7, 8, 9, 123456789, time.FixedZone("x", 3600))
	m := catalog.NewMemory()
	m.SetClock(func() time.Time { return at })
	ctx := context.Background()
	j, err := m.CreateJob(ctx, catalog.NewJob{Type: "t"})
	require.NoError(t, err)
	want := at.UTC().Truncate(time.Microsecond)
	assert.Equal(t, want, j.CreatedAt)
	at = at.Add(time.Hour)
	j, err = m.TransitionJob(ctx, j.ID, catalog.Transition{To: catalog.StatusProcessing})
	require.NoError(t, err)
	assert.Equal(t, want.Add(time.Hour), *j.StartedAt)
	assert.Equal(t, want.Add(time.Hour), j.UpdatedAt)
}

func TestMemoryMoveTask(t *testing.T) {
	ctx := context.Background()
	m := catalog.NewMemory()
	job, err := m.CreateJob(ctx, catalog.NewJob{Type: "x"})
	require.NoError(t, err)
	task, err := m.CreateTask(ctx, catalog.NewTask{JobID: job.ID, Type: "ref", Stage: "ref"})
	require.NoError(t, err)
	claimed, err := m.MoveTask(ctx, task, catalog.Transition{To: catalog.StatusProcessing})
	require.NoError(t, err)
	assert.Equal(t, catalog.StatusPending, task.Status, "the caller's copy is not changed")
	assert.Equal(t, catalog.StatusProcessing, claimed.Status)
	assert.EqualValues(t, task.Revision+1, claimed.Revision)
	for _, tc := range []struct {
		name string
		from *catalog.Task
		tr   catalog.Transition
	}{
		{"a stale copy", task, catalog.Transition{To: catalog.StatusProcessing}},
		{"an IfRevision that is not the copy's", claimed, catalog.Transition{To: catalog.StatusCompleted, IfRevision: task.Revision}},
		{"a task that does not exist", &catalog.Task{ID: "nope", JobID: job.ID}, catalog.Transition{To: catalog.StatusProcessing}},
	} {
		_, err := m.MoveTask(ctx, tc.from, tc.tr)
		assert.ErrorIs(t, err, catalog.ErrConflict, tc.name)
	}
	done, err := m.MoveTask(ctx, claimed, catalog.Transition{To: catalog.StatusCompleted, Result: []byte(`{"n":1}`)})
	require.NoError(t, err)
	got, err := m.GetTask(ctx, task.ID)
	require.NoError(t, err)
	assert.Equal(t, done.Revision, got.Revision)
	assert.Equal(t, catalog.StatusCompleted, got.Status)
}
