package combine

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/greensight/vzarr/kerchunk"
)

// synthFile builds the references of one file of a synthetic daily
// series: nvars float32 variables (time, lat, lon) in 2 zlib chunks of 5
// days each referencing a source file, an inline int32 time coordinate
// (same units everywhere), inline lat/lon.
func synthFile(i, nvars int) *kerchunk.Refs { return synthFileUnits(i, nvars, false) }

// synthFileUnits is synthFile, with time in "days since <file start>"
// when perFile is set.
func synthFileUnits(i, nvars int, perFile bool) *kerchunk.Refs {
	const nt, ny, nx = 10, 90, 180
	refs := kerchunk.NewRefs(8 + 3*nvars)
	refs.SetText(".zgroup", `{"zarr_format":2}`)
	refs.SetText(".zattrs", fmt.Sprintf(`{"title":"synthetic","source":"file_%05d.nc"}`, i))
	refs.SetText("time/.zarray", `{"chunks":[10],"compressor":null,"dtype":"<i4","fill_value":null,"filters":null,"order":"C","shape":[10],"zarr_format":2}`)
	units, first := "days since 2000-01-01", i*nt
	if perFile {
		units, first = fmt.Sprintf("days since %s", time.Date(2000, 1, 1+i*nt, 0, 0, 0, 0, time.UTC).Format("2006-01-02")), 0
	}
	refs.SetText("time/.zattrs", fmt.Sprintf(`{"_ARRAY_DIMENSIONS":["time"],"units":%q,"calendar":"standard","standard_name":"time","axis":"T"}`, units))
	tb := make([]byte, 0, 4*nt)
	for d := 0; d < nt; d++ {
		tb = binary.LittleEndian.AppendUint32(tb, uint32(first+d))
	}
	refs.Set("time/0", kerchunk.Inline(tb))
	for _, c := range []struct {
		name  string
		n     int
		lo, d float64
		units string
	}{{"lat", ny, -89, 2, "degrees_north"}, {"lon", nx, 1, 2, "degrees_east"}} {
		refs.SetText(c.name+"/.zarray", fmt.Sprintf(`{"chunks":[%d],"compressor":null,"dtype":"<f8","fill_value":null,"filters":null,"order":"C","shape":[%d],"zarr_format":2}`, c.n, c.n))
		refs.SetText(c.name+"/.zattrs", fmt.Sprintf(`{"_ARRAY_DIMENSIONS":["%s"],"units":"%s"}`, c.name, c.units))
		b := make([]byte, 0, 8*c.n)
		for k := 0; k < c.n; k++ {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(c.lo+c.d*float64(k)))
		}
		refs.Set(c.name+"/0", kerchunk.Inline(b))
	}
	url := fmt.Sprintf("/data/series/file_%05d.nc", i)
	for v := 0; v < nvars; v++ {
		name := fmt.Sprintf("var%02d", v)
		refs.SetText(name+"/.zarray", fmt.Sprintf(`{"chunks":[5,%d,%d],"compressor":null,"dtype":"<f4","fill_value":-9999.0,"filters":[{"elementsize":4,"id":"shuffle"},{"id":"zlib","level":4}],"order":"C","shape":[%d,%d,%d],"zarr_format":2}`, ny, nx, nt, ny, nx))
		refs.SetText(name+"/.zattrs", `{"_ARRAY_DIMENSIONS":["time","lat","lon"],"units":"K","long_name":"a variable","scale_factor":1.0}`)
		for c := 0; c < 2; c++ {
			refs.Set(fmt.Sprintf("%s/%d.0.0", name, c), kerchunk.Range(url, int64(4096+(v*2+c)*30000), 29000+int64(c)))
		}
	}
	return refs
}

func synthSources(n, nvars int, perFile bool) []Source {
	src := make([]Source, n)
	for i := range src {
		src[i] = Refs(fmt.Sprintf("file_%05d.json", i), synthFileUnits(i, nvars, perFile))
	}
	return src
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func benchCombine(b *testing.B, n int, perFile bool) {
	ctx := context.Background()
	src := synthSources(n, 10, perFile)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := Combine(ctx, src, Options{ConcatDim: "time", Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		if got := res.Dimensions["time"]; got != uint64(10*n) {
			b.Fatalf("time %d", got)
		}
	}
}

// BenchmarkCombine100 combines 100 files of 10 variables held in memory.
func BenchmarkCombine100(b *testing.B) { benchCombine(b, 100, false) }

// BenchmarkCombine10000 combines 10,000 files of 10 variables.
func BenchmarkCombine10000(b *testing.B) { benchCombine(b, 10000, false) }

// BenchmarkCombine10000PerFileUnits: every file has its own time units,
// so the 100,000 times are decoded and re-encoded.
func BenchmarkCombine10000PerFileUnits(b *testing.B) { benchCombine(b, 10000, true) }

// BenchmarkCombine100JSON includes reading the 100 reference files (JSON
// in memory) and writing the combined JSON.
func BenchmarkCombine100JSON(b *testing.B) {
	ctx := context.Background()
	var files [][]byte
	for i := 0; i < 100; i++ {
		var buf bytes.Buffer
		if err := kerchunk.WriteJSON(&buf, synthFile(i, 10), nil); err != nil {
			b.Fatal(err)
		}
		files = append(files, buf.Bytes())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		src := make([]Source, len(files))
		for i, data := range files {
			src[i] = jsonSource{fmt.Sprint(i), data}
		}
		res, err := Combine(ctx, src, Options{ConcatDim: "time", Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		if err := kerchunk.WriteJSON(io.Discard, res.Refs, nil); err != nil {
			b.Fatal(err)
		}
	}
}

type jsonSource struct {
	name string
	data []byte
}

func (s jsonSource) Name() string { return s.name }
func (s jsonSource) Load(context.Context) (*kerchunk.Refs, error) {
	return kerchunk.ReadJSON(bytes.NewReader(s.data))
}

// TestMemoryLinear checks that memory grows linearly with the number of
// inputs: the heap after combining 4000 files is about twice that after
// 2000 (inputs are generated on demand, so only combine's own state and
// the output count).
func TestMemoryLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	heap := func(n int) uint64 {
		src := make([]Source, n)
		for i := range src {
			src[i] = genSource{i}
		}
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		res, err := Combine(context.Background(), src, Options{ConcatDim: "time", Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(res)
		return after.HeapAlloc - before.HeapAlloc
	}
	h1, h2 := heap(2000), heap(4000)
	ratio := float64(h2) / float64(h1)
	t.Logf("heap after combining: 2000 files %.1f MiB, 4000 files %.1f MiB (ratio %.2f)", float64(h1)/(1<<20), float64(h2)/(1<<20), ratio)
	if ratio < 1.6 || ratio > 2.4 {
		t.Errorf("memory does not grow linearly: ratio %.2f", ratio)
	}
}

// genSource makes a synthetic file's references when loaded.
type genSource struct{ i int }

func (s genSource) Name() string { return fmt.Sprintf("file_%05d.json", s.i) }
func (s genSource) Load(context.Context) (*kerchunk.Refs, error) {
	return synthFile(s.i, 10), nil
}

// manyChunkFile builds the references of one file of n one-byte inline
// chunks of "x" along time, and its time coordinate in one chunk, as
// `vzarr ref` makes of testdata/gen_many_chunks.py's files (issue 11).
func manyChunkFile(i, n int) *kerchunk.Refs {
	refs := kerchunk.NewRefs(n + 8)
	refs.Append(".zgroup", kerchunk.Inline([]byte(`{"zarr_format":2}`)))
	refs.Append("time/.zarray", kerchunk.Inline(fmt.Appendf(nil, `{"chunks":[%d],"compressor":null,"dtype":"<f8","fill_value":null,"filters":null,"order":"C","shape":[%d],"zarr_format":2}`, n, n)))
	refs.Append("time/.zattrs", kerchunk.Inline([]byte(`{"_ARRAY_DIMENSIONS":["time"],"units":"minutes since 2000-01-01","calendar":"standard"}`)))
	refs.Append("time/0", kerchunk.Range(fmt.Sprintf("/data/many_%d.nc", i), 805, 8*int64(n)))
	refs.Append("x/.zarray", kerchunk.Inline(fmt.Appendf(nil, `{"chunks":[1],"compressor":null,"dtype":"|i1","fill_value":null,"filters":null,"order":"C","shape":[%d],"zarr_format":2}`, n)))
	refs.Append("x/.zattrs", kerchunk.Inline([]byte(`{"_ARRAY_DIMENSIONS":["time"],"long_name":"value"}`)))
	for k := range n {
		refs.AppendKey(func(b []byte) []byte { return strconv.AppendInt(append(b, "x/"...), int64(k), 10) }, kerchunk.Inline([]byte{byte(k % 127)}))
	}
	return refs
}

// manyChunkFetcher serves the time coordinates of manyChunkFile: the
// values i*n+k.
type manyChunkFetcher struct{ n int }

func (f manyChunkFetcher) Fetch(_ context.Context, url string, _, _ int64) ([]byte, error) {
	var i int
	if _, err := fmt.Sscanf(url, "/data/many_%d.nc", &i); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 8*f.n)
	for k := range f.n {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(float64(i*f.n+k)))
	}
	return b, nil
}

// combineManyChunks combines files of n one-byte chunks each, made before
// measuring, and returns, per output chunk, the heap the result holds
// after a GC (the inputs dropped) and the bytes allocated while combining.
func combineManyChunks(tb testing.TB, files, n int) (heldPerChunk, allocPerChunk float64) {
	var empty, before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&empty)
	src := make([]Source, files)
	for i := range src {
		src[i] = Refs(fmt.Sprintf("many_%d.json", i), manyChunkFile(i, n))
	}
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := Combine(context.Background(), src, Options{ConcatDim: "time", Logger: quiet, Fetcher: manyChunkFetcher{n}})
	if err != nil {
		tb.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	src = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := res.Refs.Len(); got != files*n+8 { // 7 metadata keys and .zmetadata
		tb.Fatalf("%d keys, want %d", got, files*n+8)
	}
	runtime.KeepAlive(res)
	chunks := float64(files * n)
	return (float64(after.HeapAlloc) - float64(empty.HeapAlloc)) / chunks, float64(alloc) / chunks
}

// TestCombineManyChunksMemory bounds what combining millions of chunks
// costs (issue 11): combine keeps 4 bytes a chunk of its own (positions
// into the inputs) and builds the output by appending, so what it
// allocates is about the output itself (a 32-byte entry, the key and the
// inline byte, and the 16-byte key index), not per-chunk records, maps or
// key slices. The inputs are made before measuring.
func TestCombineManyChunksMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	held, alloc := combineManyChunks(t, 2, 200_000)
	t.Logf("per output chunk: %.1f B held by the result, %.1f B allocated while combining", held, alloc)
	assert.Less(t, held, 72.0, "bytes per chunk held by the combined references")
	assert.Less(t, alloc, 100.0, "bytes per chunk allocated while combining")
}

// BenchmarkCombineManyChunks combines two files of 1,000,000 one-byte
// chunks and reports the bytes per output chunk the result holds and
// combining allocated.
func BenchmarkCombineManyChunks(b *testing.B) {
	var held, alloc float64
	for b.Loop() {
		held, alloc = combineManyChunks(b, 2, 1_000_000)
	}
	b.ReportMetric(held, "held-B/chunk")
	b.ReportMetric(alloc, "alloc-B/chunk")
}
