package hdf5meta_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/rangeio"
)

// prefetchRecorder is a plain io.ReaderAt that can prefetch: it records
// the ranges asked for.
type prefetchRecorder struct {
	*bytes.Reader
	asked atomic.Int64
}

func (p *prefetchRecorder) Prefetch(_ context.Context, ranges []rangeio.Range) error {
	p.asked.Add(int64(len(ranges)))
	return nil
}

// TestOpenReadsAsGiven: Open adds no cache (every read of the file is a
// request to the reader, counted by Stats), and asks a reader that can
// prefetch for the ranges it will parse.
func TestOpenReadsAsGiven(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "hdf5", "nc4_basic.nc"))
	require.NoError(t, err)
	walk := func(f *hdf5meta.File) {
		require.NoError(t, f.Walk(func(string, hdf5meta.Object) error { return nil }))
	}

	cr := rangeio.NewCountingReaderAt(bytes.NewReader(data))
	f, err := hdf5meta.Open(cr, int64(len(data)))
	require.NoError(t, err)
	walk(f)
	assert.Equal(t, cr.Stats().Requests, f.Stats().Requests, "the reader's own counts")
	assert.Greater(t, f.Stats().Requests, int64(3), "no cache in front of the reader")

	plain, err := hdf5meta.Open(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	walk(plain)
	assert.Equal(t, f.Stats().Requests, plain.Stats().Requests, "a plain reader's requests are counted too")

	pr := &prefetchRecorder{Reader: bytes.NewReader(data)}
	g, err := hdf5meta.Open(pr, int64(len(data)))
	require.NoError(t, err)
	walk(g)
	assert.Positive(t, pr.asked.Load(), "ranges prefetched")
}
