package kerchunk

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
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
			res, err := Translate(bytes.NewReader(data), int64(len(data)), "/data/"+name, Options{SkipUnsupported: true})
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
		res, err := Translate(bytes.NewReader(data), int64(len(data)), "/data/h5_big_btree_v1.h5", Options{})
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
	res, err := Translate(bytes.NewReader(data), int64(len(data)), "/data/h5_big_btree_v1.h5", Options{})
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
