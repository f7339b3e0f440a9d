package kerchunk

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func loadFixtures(b *testing.B) map[string][]byte {
	out := map[string][]byte{}
	for _, pat := range []string{"../testdata/hdf5/*.h5", "../testdata/hdf5/*.nc", "../testdata/netcdf3/*.nc"} {
		m, _ := filepath.Glob(pat)
		for _, f := range m {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			out[filepath.Base(f)] = data
		}
	}
	if len(out) == 0 {
		b.Skip("no fixtures")
	}
	return out
}

// BenchmarkTranslateFixtures translates every fixture (in memory) per
// iteration and reports the mean time per file.
func BenchmarkTranslateFixtures(b *testing.B) {
	files := loadFixtures(b)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		for name, data := range files {
			res, err := Translate(context.Background(), bytes.NewReader(data), int64(len(data)), "/data/"+name, Options{SkipUnsupported: true})
			if err != nil {
				b.Fatalf("%s: %v", name, err)
			}
			if err := WriteJSON(io.Discard, res.Refs, nil); err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(n), "ms/file")
}

// BenchmarkBigToJSON translates a fixture of 100,000 chunks and writes its
// JSON references.
func BenchmarkBigToJSON(b *testing.B) {
	f, err := os.Open("../testdata/hdf5/h5_big_btree_v1.h5.gz")
	if err != nil {
		b.Skip("no big fixture")
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var chunks int
	for i := 0; i < b.N; i++ {
		res, err := Translate(context.Background(), bytes.NewReader(data), int64(len(data)), "/data/h5_big_btree_v1.h5", Options{})
		if err != nil {
			b.Fatal(err)
		}
		chunks = res.Refs.Len()
		if err := WriteJSON(io.Discard, res.Refs, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(chunks), "refs")
}

// BenchmarkReadJSON reads the references of a 100,000-chunk file.
func BenchmarkReadJSON(b *testing.B) {
	f, err := os.Open("../testdata/hdf5/h5_big_btree_v1.h5.gz")
	if err != nil {
		b.Skip("no big fixture")
	}
	defer f.Close()
	zr, _ := gzip.NewReader(f)
	data, _ := io.ReadAll(zr)
	res, err := Translate(context.Background(), bytes.NewReader(data), int64(len(data)), "/data/h5_big_btree_v1.h5", Options{})
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	WriteJSON(&buf, res.Refs, nil)
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ReadJSON(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}

// manyChunksFile returns a netCDF-4 file of millions of one-byte chunks
// (testdata/gen_many_chunks.py): $VZARR_BENCH_MANY_CHUNKS when set (e.g. a
// 5,000,000-chunk file written by scripts/bench-refmem), else a
// 1,000,000-chunk file written into a temporary directory with
// /usr/bin/python3 (skipped without netCDF4).
func manyChunksFile(b *testing.B) string {
	if p := os.Getenv("VZARR_BENCH_MANY_CHUNKS"); p != "" {
		return p
	}
	p := filepath.Join(b.TempDir(), "many.nc")
	out, err := exec.Command("/usr/bin/python3", "../testdata/gen_many_chunks.py", p, "1000000").CombinedOutput()
	if err != nil {
		b.Skipf("cannot write the many-chunk file (python3 with netCDF4 needed): %v: %s", err, out)
	}
	return p
}

// heapPeak samples the heap in use until stop is called and returns the
// highest value seen.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > peak.Load() {
			peak.Store(ms.HeapInuse)
		}
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		sample()
		return peak.Load()
	}
}

// BenchmarkManyChunks translates a file of millions of one-byte chunks
// (issue 11, reproduction 4) and writes its references as JSON and as
// Parquet, reporting the peak heap in use per chunk (heap-B/chunk, sampled
// every 20 ms) and the references' size. RSS of the whole command is
// measured by scripts/bench-refmem.
//
// Measured (5,000,000 chunks of testdata/gen_many_chunks.py, 2 cores, the
// 232 MB file held in memory, i.e. 46 B/chunk of the figure): JSON 156
// heap-B/chunk, 2.4 s; Parquet 183 heap-B/chunk, 3.0 s. `vzarr ref` on the
// same file (scripts/bench-refmem): 456 MiB RSS, 96 B/chunk (JSON); 573
// MiB, 120 B/chunk (Parquet); before the streaming Refs 2,041 MiB (428
// B/chunk) and 2,601 MiB (546 B/chunk). See README "Measured".
func BenchmarkManyChunks(b *testing.B) {
	path := manyChunksFile(b)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, format := range []string{"json", "parquet"} {
		b.Run(format, func(b *testing.B) {
			var peak uint64
			var chunks int
			var size int64
			for i := 0; i < b.N; i++ {
				runtime.GC()
				stop := heapPeak()
				res, err := Translate(context.Background(), bytes.NewReader(data), int64(len(data)), path, Options{})
				if err != nil {
					b.Fatal(err)
				}
				chunks = res.Refs.Len()
				cw := &countWriter{}
				if format == "json" {
					err = WriteJSON(cw, res.Refs, nil)
				} else {
					err = WriteParquetSet(res.Refs, func(name string, d []byte) error { cw.n += int64(len(d)); return nil }, nil)
				}
				if err != nil {
					b.Fatal(err)
				}
				runtime.KeepAlive(res)
				peak = max(peak, stop())
				size = cw.n
			}
			b.ReportMetric(float64(chunks), "refs")
			b.ReportMetric(float64(peak)/float64(chunks), "heap-B/chunk")
			b.ReportMetric(float64(size)/1e6, "MB-out")
		})
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
