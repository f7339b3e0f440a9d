package blobio

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/fixture"
	"github.com/greensight/vzarr/rangeio"
)

// memObjects makes a mem:// bucket "h" holding the given objects.
func memObjects(t *testing.T, objs map[string][]byte) *Opener {
	t.Helper()
	o := &Opener{Mem: &MemBuckets{}}
	b := o.Mem.Create("h")
	defer b.Close()
	for k, v := range objs {
		require.NoError(t, b.WriteAll(context.Background(), k, v, nil))
	}
	return o
}

// firstRead is the options of the tests' opens: a 1 KiB first read.
func firstRead() []rangeio.Option {
	return []rangeio.Option{rangeio.WithFirstRead(1024), rangeio.WithBlockSize(1024)}
}

// TestHeadCacheOpen: an open from a kept head makes no request for it,
// reads past it as ranged reads, and takes it (the next open reads again).
func TestHeadCacheOpen(t *testing.T) {
	ctx := context.Background()
	big := fixture.RandomBytes(31, 5000)
	o := memObjects(t, map[string][]byte{"big": big})
	c := NewHeadCache(1<<20, time.Hour)

	obj, err := o.OpenObject(ctx, "mem://h/big", firstRead()...)
	require.NoError(t, err)
	assert.Equal(t, int64(1), obj.Stats().Requests, "the first read")
	require.True(t, c.Keep(obj))
	require.NoError(t, obj.Close())
	assert.Equal(t, HeadCacheStats{Kept: 1, Entries: 1, Bytes: 1024}, c.Stats())

	obj, err = c.Open(ctx, o, "mem://h/big", firstRead()...)
	require.NoError(t, err)
	assert.Equal(t, int64(len(big)), obj.Size())
	assert.Equal(t, rangeio.Stats{}, obj.Stats(), "no request for the head")
	p := make([]byte, 100)
	_, err = obj.ReadAt(p, 900)
	require.NoError(t, err)
	assert.Equal(t, big[900:1000], p)
	assert.Zero(t, obj.Stats().Requests)
	_, err = obj.ReadAt(p, 4000) // past the head: one ranged read
	require.NoError(t, err)
	assert.Equal(t, big[4000:4100], p)
	assert.Equal(t, int64(1), obj.Stats().Requests)
	assert.False(t, c.Keep(obj), "a head already used is not kept again")
	require.NoError(t, obj.Close())
	assert.Equal(t, HeadCacheStats{Hits: 1, Kept: 1}, c.Stats(), "taken: the cache is empty")

	obj, err = c.Open(ctx, o, "mem://h/big", firstRead()...)
	require.NoError(t, err)
	assert.Equal(t, int64(1), obj.Stats().Requests, "a miss reads again")
	require.NoError(t, obj.Close())
	assert.Equal(t, int64(1), c.Stats().Misses)

	// Errors of the URL are the same as without a cache, and a head does
	// not get around them.
	_, err = c.Open(ctx, o, "mem://h/", firstRead()...)
	assert.ErrorIs(t, err, ErrInvalidArgument)
	_, err = c.Open(ctx, o, "mem://h/missing", firstRead()...)
	assert.ErrorIs(t, err, ErrNotFound)
}

// TestHeadCacheWritten: a whole object kept by its writer is read back
// with no request at all.
func TestHeadCacheWritten(t *testing.T) {
	ctx := context.Background()
	o := memObjects(t, nil)
	c := NewHeadCache(1<<20, time.Hour)
	data := []byte(`{"version": 1, "refs": {}}`)
	require.NoError(t, o.WriteAtomic(ctx, "mem://h/r.json", func(w io.Writer) error { _, err := w.Write(data); return err }))
	require.True(t, c.KeepWritten(o, "mem://h/r.json", data))

	obj, err := c.Open(ctx, o, "mem://h/r.json", firstRead()...)
	require.NoError(t, err)
	got, err := io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
	require.NoError(t, err)
	assert.Equal(t, data, got)
	assert.Equal(t, rangeio.Stats{}, obj.Stats())
	require.NoError(t, obj.Close())

	// Refused: a URL the Opener does not parse, and local files.
	assert.False(t, c.KeepWritten(o, "mem://h/../x", data))
	local := filepath.Join(t.TempDir(), "r.json")
	require.NoError(t, os.WriteFile(local, data, 0o644))
	assert.False(t, c.KeepWritten(o, local, data))
	obj, err = o.OpenObject(ctx, local, firstRead()...)
	require.NoError(t, err)
	assert.False(t, c.Keep(obj), "local files are not kept")
	require.NoError(t, obj.Close())
	assert.Equal(t, HeadCacheStats{Hits: 1, Kept: 1}, c.Stats())
}

// TestHeadCacheBounds: the cache keeps the first heads that fit and
// refuses the rest (no eviction), makes room as heads are taken, replaces
// a head of the same URL, and drops or ignores expired heads.
func TestHeadCacheBounds(t *testing.T) {
	o := memObjects(t, nil)
	now := time.Unix(1_000_000, 0)
	c := NewHeadCache(3000, time.Minute)
	c.now = func() time.Time { return now }
	kb := make([]byte, 1000)
	url := func(i int) string { return fmt.Sprintf("mem://h/f%d", i) }

	for i := range 5 { // a pass over more objects than fit
		c.KeepWritten(o, url(i), kb)
	}
	st := c.Stats()
	assert.Equal(t, HeadCacheStats{Kept: 3, Refused: 2, Entries: 3, Bytes: 3000}, st, "the first three stay")
	assert.Equal(t, int64(0), c.Room())
	for i, want := range []bool{true, true, true, false, false} {
		assert.Equal(t, want, c.take(url(i)) != nil, url(i))
	}
	assert.Equal(t, int64(3000), c.Room(), "taken heads leave")

	// Replacing a head does not count its bytes twice.
	assert.True(t, c.KeepWritten(o, url(0), kb))
	assert.True(t, c.KeepWritten(o, url(0), make([]byte, 500)))
	assert.Equal(t, int64(500), c.Stats().Bytes)
	assert.Len(t, c.take(url(0)).data, 500)

	// Expired heads: not used, and dropped to make room.
	assert.True(t, c.KeepWritten(o, url(1), kb))
	assert.True(t, c.KeepWritten(o, url(2), kb))
	now = now.Add(2 * time.Minute)
	assert.Nil(t, c.take(url(1)), "expired")
	assert.True(t, c.KeepWritten(o, url(3), make([]byte, 3000)), "the expired head makes room")
	st = c.Stats()
	assert.Equal(t, 1, st.Entries)
	assert.Equal(t, int64(2), st.Expired)
	assert.Equal(t, int64(3000), st.Bytes)

	// Drop forgets a head without counting a miss.
	before := c.Stats()
	c.Drop(url(3))
	c.Drop(url(4)) // none
	assert.Equal(t, HeadCacheStats{Kept: before.Kept, Refused: before.Refused, Expired: before.Expired, Hits: before.Hits, Misses: before.Misses},
		c.Stats(), "empty, counts unchanged")

	// A head larger than the whole cache is refused.
	assert.False(t, NewHeadCache(10, 0).KeepWritten(o, url(9), kb))
}

// TestHeadCacheNil: a nil cache keeps nothing and opens as the Opener.
func TestHeadCacheNil(t *testing.T) {
	ctx := context.Background()
	o := memObjects(t, map[string][]byte{"x": []byte("hello")})
	var c *HeadCache
	obj, err := c.Open(ctx, o, "mem://h/x", firstRead()...)
	require.NoError(t, err)
	assert.Equal(t, int64(1), obj.Stats().Requests)
	assert.False(t, c.Keep(obj))
	assert.False(t, c.KeepWritten(o, "mem://h/x", []byte("hello")))
	assert.Zero(t, c.Room())
	assert.Equal(t, HeadCacheStats{}, c.Stats())
	require.NoError(t, obj.Close())
}

// TestHeadCacheConcurrent: concurrent keeps and opens of the same and of
// different objects (run with -race) stay within the bound, every open
// reads the object's bytes, and each open is a hit or a miss.
func TestHeadCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	objs := map[string][]byte{}
	for i := range 16 {
		objs[fmt.Sprint("o", i)] = fixture.RandomBytes(uint64(i), 1500+100*i)
	}
	o := memObjects(t, objs)
	c := NewHeadCache(8*1024, time.Hour)
	var wg sync.WaitGroup
	const opens = 200
	for g := range opens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprint("o", g%16)
			url := "mem://h/" + key
			obj, err := c.Open(ctx, o, url, firstRead()...)
			if !assert.NoError(t, err) {
				return
			}
			defer obj.Close()
			got, err := io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
			assert.NoError(t, err)
			assert.Equal(t, objs[key], got)
			if g%3 == 0 {
				fresh, err := o.OpenObject(ctx, url, firstRead()...)
				if assert.NoError(t, err) {
					c.Keep(fresh)
					_ = fresh.Close()
				}
			}
			assert.LessOrEqual(t, c.Stats().Bytes, int64(8*1024))
		}()
	}
	wg.Wait()
	st := c.Stats()
	assert.Equal(t, int64(opens), st.Hits+st.Misses)
	assert.GreaterOrEqual(t, st.Kept, st.Hits+int64(st.Entries), "a head is taken once at most")
	assert.LessOrEqual(t, st.Bytes, int64(8*1024))
}
