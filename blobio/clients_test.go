package blobio_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/rangeio"
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

// TestLocalObjectsShareBucket: local objects share the Opener's bucket,
// so closing one leaves the others readable, and later opens work.
func TestLocalObjectsShareBucket(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := []byte("0123456789abcdef")
	for _, name := range []string{"a", "b"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	o := &blobio.Opener{}
	open := func(name string) *blobio.Object {
		t.Helper()
		obj, err := o.OpenObject(ctx, filepath.Join(dir, name), rangeio.WithFirstRead(0), rangeio.WithBlockSize(4))
		require.NoError(t, err)
		return obj
	}
	a, b := open("a"), open("b")
	require.NoError(t, a.Close())
	for i, obj := range []*blobio.Object{b, open("a")} {
		buf := make([]byte, 4)
		_, err := obj.ReadAt(buf, 8)
		require.NoError(t, err, i)
		assert.Equal(t, data[8:12], buf, i)
		assert.Positive(t, obj.Stats().Requests, "read from the file, not a cache")
		require.NoError(t, obj.Close())
	}
}
