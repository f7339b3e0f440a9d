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
