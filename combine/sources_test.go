package combine

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/refstore"
)

// TestURLSourceRead: a reference file and a source file both load, each
// through one open whose requests the Read callback sees (a small
// reference file: the open's first read alone), and they give the same
// references.
func TestURLSourceRead(t *testing.T) {
	ctx := context.Background()
	nc, err := filepath.Abs(filepath.Join("..", "testdata", "sample", "tas_2015.nc"))
	require.NoError(t, err)
	fromNC, err := (&URLSource{URL: nc}).Load(ctx)
	require.NoError(t, err)
	ref := filepath.Join(t.TempDir(), "tas_2015.json")
	_, err = (&refstore.Store{}).Save(ctx, ref, fromNC, refstore.JSON)
	require.NoError(t, err)

	for _, url := range []string{ref, nc} {
		var seen []int64
		src := &URLSource{URL: url, Read: func(obj *blobio.Object) { seen = append(seen, obj.Stats().Requests) }}
		refs, err := src.Load(ctx)
		require.NoError(t, err, url)
		assert.Equal(t, fromNC.Len(), refs.Len(), url)
		require.Len(t, seen, 1, "one open of %s", url)
		if url == ref {
			assert.EqualValues(t, 1, seen[0], "the reference file is read by its open's first read")
		}
	}
}

// TestURLSourceHeads: a reference file its writer kept in a HeadCache
// loads from there with no request; once taken, it is read again.
func TestURLSourceHeads(t *testing.T) {
	ctx := context.Background()
	nc, err := filepath.Abs(filepath.Join("..", "testdata", "sample", "tas_2015.nc"))
	require.NoError(t, err)
	want, err := (&URLSource{URL: nc}).Load(ctx)
	require.NoError(t, err)
	mem := &blobio.MemBuckets{}
	require.NoError(t, mem.Create("b").Close())
	o := &blobio.Opener{Mem: mem}
	heads := blobio.NewHeadCache(0, 0)
	_, err = (&refstore.Store{Opener: o, Heads: heads}).Save(ctx, "mem://b/tas_2015.json", want, refstore.JSON)
	require.NoError(t, err)

	for i, requests := range []int64{0, 1} { // from the head, then from storage
		var seen []int64
		src := &URLSource{URL: "mem://b/tas_2015.json", Opener: o, Heads: heads,
			Read: func(obj *blobio.Object) { seen = append(seen, obj.Stats().Requests) }}
		got, err := src.Load(ctx)
		require.NoError(t, err)
		assert.Equal(t, want.Len(), got.Len(), "load %d", i)
		assert.Equal(t, []int64{requests}, seen, "load %d", i)
	}
	assert.Equal(t, int64(1), heads.Stats().Hits)
}
