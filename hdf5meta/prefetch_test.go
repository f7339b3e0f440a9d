package hdf5meta_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/rangeio"
)

// slowReaderAt answers every read after a fixed delay, like blob storage.
type slowReaderAt struct {
	r     *bytes.Reader
	delay time.Duration
}

func (s slowReaderAt) ReadAt(p []byte, off int64) (int, error) {
	time.Sleep(s.delay)
	return s.r.ReadAt(p, off)
}

// chunkLists lists the chunks of every chunked dataset of f.
func chunkLists(t *testing.T, f *hdf5meta.File) (map[string][]hdf5meta.Chunk, []*hdf5meta.Dataset) {
	t.Helper()
	lists := map[string][]hdf5meta.Chunk{}
	var ds []*hdf5meta.Dataset
	require.NoError(t, f.Walk(func(p string, o hdf5meta.Object) error {
		if d, ok := o.(*hdf5meta.Dataset); ok && d.Layout.Class == hdf5meta.LayoutChunked {
			ds = append(ds, d)
		}
		return nil
	}))
	for _, d := range ds {
		var cs []hdf5meta.Chunk
		require.NoError(t, d.ForEachChunk(func(c hdf5meta.Chunk) error { cs = append(cs, c); return nil }))
		lists[d.Path] = cs
	}
	return lists, ds
}

// TestPrefetchChunkIndexesLevelByLevel: over storage with a fixed delay
// per request (virtual time), PrefetchChunkIndexes fetches every chunk
// index in as many rounds as the indexes are deep, whatever their number
// of nodes; listing the chunks afterwards makes no request, and lists what
// a plain reader lists.
func TestPrefetchChunkIndexesLevelByLevel(t *testing.T) {
	const delay = 10 * time.Millisecond
	for _, tc := range []struct {
		file      string
		maxRounds int // the index depth (and the superblock's read)
	}{
		{"h5_big_btree_v1.h5.gz", 4},         // root, internal nodes, leaves
		{"h5_big_fixed_array.h5.gz", 3},      // header, data block with its pages
		{"h5_big_extensible_array.h5.gz", 5}, // header, index block, super blocks, data blocks
		{"h5_latest_layouts.h5", 5},          // every index type, v2 B-trees included
		{"h5_earliest_layouts.h5", 4},        //
		{"h5_sb1_istore_k.h5", 4},            // a chunk B-tree K other than 32
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("..", "testdata", "hdf5", tc.file)
			if _, err := os.Stat(path); err != nil {
				t.Skipf("fixture %s missing", tc.file)
			}
			data, err := os.ReadFile(testenv.FixtureFile(t, path))
			require.NoError(t, err)
			plain, err := hdf5meta.Open(bytes.NewReader(data), int64(len(data)))
			require.NoError(t, err)
			want, _ := chunkLists(t, plain)

			synctest.Test(t, func(t *testing.T) {
				src := rangeio.NewCountingReaderAt(slowReaderAt{bytes.NewReader(data), delay})
				r := rangeio.NewReader(src, int64(len(data)), rangeio.WithFirstRead(0), rangeio.WithBlockSize(16<<10),
					rangeio.WithCoalesceGap(4<<10), rangeio.WithConcurrency(1<<16))
				f, err := hdf5meta.Open(r, int64(len(data)))
				require.NoError(t, err)
				var ds []*hdf5meta.Dataset
				require.NoError(t, f.Walk(func(p string, o hdf5meta.Object) error {
					if d, ok := o.(*hdf5meta.Dataset); ok {
						ds = append(ds, d)
					}
					return nil
				}))
				t0 := time.Now()
				f.PrefetchChunkIndexes(ds)
				rounds := int(time.Since(t0) / delay)
				assert.LessOrEqual(t, rounds, tc.maxRounds, "dependent rounds")

				before := src.Stats().Requests
				got, _ := chunkLists(t, f)
				assert.Equal(t, before, src.Stats().Requests, "requests while listing")
				assert.Equal(t, want, got)
			})
		})
	}
}
