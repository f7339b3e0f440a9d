package hdf5meta_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/rangeio"
)

// BenchmarkListChunks lists every chunk of the largest dataset of each big
// fixture (10^5 chunks, one per chunk index type), from memory, opening the
// file afresh each time so that every index node is parsed every time.
func BenchmarkListChunks(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "hdf5", "h5_big_*.h5.gz"))
	if len(files) == 0 {
		b.Skip("no big fixtures")
	}
	for _, gz := range files {
		p := testenv.FixtureFile(b, gz)
		data, err := os.ReadFile(p)
		require.NoError(b, err)
		name := strings.TrimSuffix(filepath.Base(p), ".h5")
		b.Run(name, func(b *testing.B) {
			var n int
			for i := 0; i < b.N; i++ {
				cr := rangeio.NewCountingReaderAt(bytes.NewReader(data))
				f, err := hdf5meta.Open(cr, int64(len(data)))
				require.NoError(b, err)
				n = 0
				err = f.Walk(func(_ string, o hdf5meta.Object) error {
					if d, ok := o.(*hdf5meta.Dataset); ok && d.Layout.Class == hdf5meta.LayoutChunked {
						return d.ForEachChunk(func(hdf5meta.Chunk) error { n++; return nil })
					}
					return nil
				})
				require.NoError(b, err)
				b.ReportMetric(float64(cr.Stats().Requests), "requests")
			}
			b.ReportMetric(float64(n), "chunks")
		})
	}
}
