package blobio

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestObjectsConditions: create-if-absent, compare-and-swap, versions,
// Stat and List on a mem:// prefix, and the refusal of conditional writes
// to local files.
func TestObjectsConditions(t *testing.T) {
	ctx := context.Background()
	o := &Opener{Mem: &MemBuckets{}}
	o.Mem.Create("b")
	s, err := o.OpenObjects(ctx, "mem://b/db")
	require.NoError(t, err)
	defer s.Close()

	_, _, err = s.Get(ctx, "x")
	require.ErrorIs(t, err, ErrNotFound)
	v1, err := s.Put(ctx, "x", []byte("one"), Condition{IfNoneMatch: true})
	require.NoError(t, err)
	_, err = s.Put(ctx, "x", []byte("two"), Condition{IfNoneMatch: true})
	require.ErrorIs(t, err, ErrPrecondition)
	v2, err := s.Put(ctx, "x", []byte("two"), Condition{IfMatch: v1})
	require.NoError(t, err)
	_, err = s.Put(ctx, "x", []byte("three"), Condition{IfMatch: v1})
	require.ErrorIs(t, err, ErrPrecondition, "a stale version")
	_, err = s.Put(ctx, "y", []byte("y"), Condition{IfMatch: v2})
	require.ErrorIs(t, err, ErrPrecondition, "no object to replace")
	data, v, err := s.Get(ctx, "x")
	require.NoError(t, err)
	assert.Equal(t, "two", string(data))
	assert.Equal(t, v2, v)
	size, mod, _, err := s.Stat(ctx, "x")
	require.NoError(t, err)
	assert.Equal(t, int64(3), size)
	assert.False(t, mod.IsZero())
	_, err = s.Put(ctx, "sub/z", []byte("z"), Condition{})
	require.NoError(t, err)
	keys, err := s.List(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, []string{"sub/z", "x"}, keys)

	local, err := o.OpenObjects(ctx, filepath.Join(t.TempDir(), "db")+"/")
	require.NoError(t, err)
	defer local.Close()
	_, err = local.Put(ctx, "x", []byte("one"), Condition{IfNoneMatch: true})
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = local.Put(ctx, "x", []byte("one"), Condition{})
	require.NoError(t, err, "unconditional writes to local files work")
	data, _, err = local.Get(ctx, "x")
	require.NoError(t, err)
	assert.Equal(t, "one", string(data))
}
