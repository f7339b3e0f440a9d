package blobio_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
)

// TestCachedClient: a key's client is made once; a failed create is not
// cached; beyond MaxCachedClients keys, clients are made but not kept.
func TestCachedClient(t *testing.T) {
	o := &blobio.Opener{}
	made := 0
	create := func() (any, error) {
		made++
		return &made, nil // any pointer: the test compares identities
	}
	boom := errors.New("boom")
	_, err := o.CachedClient("k", func() (any, error) { return nil, boom })
	require.ErrorIs(t, err, boom)
	a, err := o.CachedClient("k", create)
	require.NoError(t, err)
	b, err := o.CachedClient("k", create)
	require.NoError(t, err)
	assert.Same(t, a, b)
	assert.Equal(t, 1, made, "the failed create was not cached, the good one was")

	for i := range blobio.MaxCachedClients - 1 {
		_, err := o.CachedClient(fmt.Sprint("fill", i), create)
		require.NoError(t, err)
	}
	made = 0
	for range 2 {
		_, err := o.CachedClient("over", create)
		require.NoError(t, err)
	}
	assert.Equal(t, 2, made, "a key past the bound is made on every call")
	_, err = o.CachedClient("k", create)
	require.NoError(t, err)
	assert.Equal(t, 2, made, "keys within the bound stay cached")
}
