package kerchunk

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"
)

// FuzzTranslate: corrupt input yields an error or references, never a
// panic, and references that Verify can read.
func FuzzTranslate(f *testing.F) {
	for _, p := range []string{"../testdata/hdf5/nc4_basic.nc", "../testdata/netcdf3/classic.nc", "testdata/filters.h5", "testdata/nc4_edge.nc"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, uint32(0), byte(0))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, pos uint32, flip byte) {
		if len(data) == 0 || len(data) > 1<<20 {
			return
		}
		data = append([]byte(nil), data...)
		data[int(pos)%len(data)] ^= flip
		res, err := Translate(context.Background(), bytes.NewReader(data), int64(len(data)), "/f.nc", Options{SkipUnsupported: true})
		if err != nil {
			return
		}
		if err := WriteJSON(io.Discard, res.Refs, nil); err != nil {
			t.Fatal(err)
		}
		// The source side of refread.Verify reads the same hostile file.
		src, err := OpenSource(context.Background(), bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, path := range res.VarOrder {
			if src.Check(path) == nil {
				_, _, _ = src.Chunk(path, make([]uint64, len(res.Variables[path].Shape)))
			}
		}
	})
}
