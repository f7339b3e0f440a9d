package refread

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/greensight/vzarr/kerchunk"
)

// VerifyOptions configures Verify.
type VerifyOptions struct {
	// Sample is the number of chunks checked per array: the first, the
	// last and evenly spaced ones between (0 or less: every chunk,
	// never-written ones included).
	Sample int
	// Fetcher reads the byte ranges references name (nil: a BlobFetcher
	// configured from the environment).
	Fetcher Fetcher
}

// Mismatch is one chunk whose data through the references differs from
// the source.
type Mismatch struct {
	Array  string `json:"array"`
	Chunk  string `json:"chunk"`
	Reason string `json:"reason"`
}

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	Arrays     int        `json:"arrays_checked"`
	Chunks     int        `json:"chunks_checked"`
	Elements   int64      `json:"elements_compared"`
	Mismatches []Mismatch `json:"mismatches"`
}

// OK reports whether every checked chunk matched.
func (r *VerifyReport) OK() bool { return len(r.Mismatches) == 0 }

// Verify reads chunks through the references as a Zarr v2 reader does
// (Array.ChunkBytes: the codec chain, fill_value for absent keys) and
// compares their in-bounds elements with the source file (size bytes in
// src) read directly (kerchunk.Source). It checks Invariant 2 without
// Python: offsets, lengths, codecs, dtypes, shapes, chunk keys and fill
// values. Arrays that do not exist in the source, and .zarray documents
// that do not parse, are reported as mismatches; an error means the
// source cannot be read at all.
func Verify(ctx context.Context, refs *kerchunk.Refs, src io.ReaderAt, size int64, opts VerifyOptions) (*VerifyReport, error) {
	source, err := kerchunk.OpenSource(ctx, src, size)
	if err != nil {
		return nil, err
	}
	store := NewStore(refs, opts.Fetcher)
	defer store.Close()
	rep := &VerifyReport{Mismatches: []Mismatch{}}
	var arrays []string
	for _, k := range refs.Keys() {
		if name, ok := strings.CutSuffix(k, "/.zarray"); ok {
			arrays = append(arrays, name)
		}
	}
	sort.Strings(arrays)
	for _, name := range arrays {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.Arrays++
		bad := func(chunk, format string, args ...any) {
			rep.Mismatches = append(rep.Mismatches, Mismatch{Array: name, Chunk: chunk, Reason: fmt.Sprintf(format, args...)})
		}
		a, err := store.Open(name)
		if err != nil {
			bad("", ".zarray: %v", err)
			continue
		}
		if a.Order != 'C' {
			bad("", ".zarray: order %c is not compared", a.Order)
			continue
		}
		if err := source.Check(name); err != nil {
			bad("", "%v", err)
			continue
		}
		for _, idx := range samplePositions(a.grid(), opts.Sample) {
			key := strings.TrimPrefix(a.ChunkKey(idx), name+"/")
			rep.Chunks++
			got, gotItems, err := a.ChunkBytes(ctx, idx)
			if err != nil {
				bad(key, "reading through the references: %v", err)
				continue
			}
			uidx := make([]uint64, len(idx))
			for i, x := range idx {
				uidx[i] = uint64(x)
			}
			want, wantItems, err := source.Chunk(name, uidx)
			if err != nil {
				bad(key, "reading the source: %v", err)
				continue
			}
			n, why := a.compare(idx, got, want, gotItems, wantItems)
			rep.Elements += n
			if why != "" {
				bad(key, "%s", why)
			}
		}
	}
	return rep, nil
}

// grid returns the number of chunks along each dimension.
func (a *Array) grid() []int {
	g := make([]int, len(a.Shape))
	for i := range g {
		g[i] = (a.Shape[i] + a.Chunks[i] - 1) / a.Chunks[i]
	}
	return g
}

// maxSampled bounds the chunks "every chunk" checks per array.
const maxSampled = 1 << 22

// samplePositions picks chunk grid positions: all (up to maxSampled), or
// n spread over the grid including the first and the last.
func samplePositions(grid []int, n int) [][]int {
	total := 1
	for _, g := range grid {
		if g == 0 {
			return nil
		}
		total = min(total*g, maxSampled*2) // saturate: only compared below
	}
	var lins []int
	switch {
	case n <= 0 || n >= total:
		for i := range min(total, maxSampled) {
			lins = append(lins, i)
		}
	case n == 1:
		lins = []int{0}
	default:
		seen := map[int]bool{}
		for i := range n {
			l := int(float64(total-1) * float64(i) / float64(n-1))
			if !seen[l] {
				seen[l] = true
				lins = append(lins, l)
			}
		}
	}
	out := make([][]int, len(lins))
	for i, l := range lins {
		idx := make([]int, len(grid))
		for d := len(grid) - 1; d >= 0; d-- {
			idx[d] = l % grid[d]
			l /= grid[d]
		}
		out[i] = idx
	}
	return out
}

// compare compares the in-bounds elements of a chunk; it returns the
// number of elements compared and a description of the first difference.
func (a *Array) compare(idx []int, got, want []byte, gotItems, wantItems [][]byte) (int64, string) {
	rank := len(a.Shape)
	n := 1
	for _, c := range a.Chunks {
		n *= c
	}
	vlen := gotItems != nil
	es := a.DType.Size
	if !vlen && wantItems != nil && a.DType.Kind == 'S' && len(got) == n*es {
		// Strings of the source written as fixed-width bytes (kerchunk
		// writes a scalar vlen string as |S<n>): compare as strings.
		gotItems = make([][]byte, n)
		for e := range gotItems {
			gotItems[e] = bytes.TrimRight(got[e*es:(e+1)*es], "\x00")
		}
		vlen = true
	}
	if !vlen && len(want) != n*es {
		return 0, fmt.Sprintf("the source chunk has %d bytes, the Zarr chunk %d", len(want), n*es)
	}
	if vlen && len(wantItems) != n {
		return 0, fmt.Sprintf("the source chunk has %d items, the Zarr chunk %d", len(wantItems), n)
	}
	coord := make([]int, rank)
	var compared int64
	diffs := 0
	first := ""
	for e := 0; e < n; e++ {
		in := true
		for i := 0; i < rank; i++ {
			if idx[i]*a.Chunks[i]+coord[i] >= a.Shape[i] {
				in = false
				break
			}
		}
		if in {
			compared++
			var same bool
			if vlen {
				same = bytes.Equal(gotItems[e], wantItems[e])
			} else {
				x, y := got[e*es:(e+1)*es], want[e*es:(e+1)*es]
				same = bytes.Equal(x, y) || a.bothNaN(x, y)
			}
			if !same {
				diffs++
				if first == "" {
					at := make([]int, rank)
					for i := range at {
						at[i] = idx[i]*a.Chunks[i] + coord[i]
					}
					if vlen {
						first = fmt.Sprintf("at %v: references %q, source %q", at, gotItems[e], wantItems[e])
					} else {
						first = fmt.Sprintf("at %v: references %x, source %x", at, got[e*es:(e+1)*es], want[e*es:(e+1)*es])
					}
				}
			}
		}
		for i := rank - 1; i >= 0; i-- {
			coord[i]++
			if coord[i] < a.Chunks[i] {
				break
			}
			coord[i] = 0
		}
	}
	if diffs > 0 {
		return compared, fmt.Sprintf("%d of %d elements differ, first %s", diffs, compared, first)
	}
	return compared, ""
}

// bothNaN reports two float elements that are both NaN.
func (a *Array) bothNaN(x, y []byte) bool {
	return a.DType.Kind == 'f' && math.IsNaN(a.DType.Float64At(x)) && math.IsNaN(a.DType.Float64At(y))
}
