package combine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/refread"
)

// fuzzLimits keep what one fuzz input may allocate small; the defaults
// are checked the same way, only higher.
var fuzzLimits = limits.Limits{CoordElements: 1 << 16, ChunksPerVariable: 1 << 16, ChunksPerFile: 1 << 16,
	CombinedRefs: 1 << 18, AttrBytes: 1 << 20, StringBytes: 1 << 16}

// fuzzSeedRefs translates real files into reference JSON: chunks inline
// (so that mutations reach the chunk bytes) and referenced by URL.
func fuzzSeedRefs(f *testing.F, files ...string) (seeds [][]byte, sources map[string][]byte) {
	sources = map[string][]byte{}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		url := "/" + filepath.Base(p)
		sources[url] = b
		for _, inline := range []int{1 << 20, -1} {
			res, err := kerchunk.Translate(context.Background(), bytes.NewReader(b), int64(len(b)), url, kerchunk.Options{InlineThreshold: inline})
			if err != nil {
				f.Fatal(err)
			}
			var buf bytes.Buffer
			if err := kerchunk.WriteJSON(&buf, res.Refs, nil); err != nil {
				f.Fatal(err)
			}
			seeds = append(seeds, buf.Bytes())
		}
	}
	return seeds, sources
}

// memFetcher serves byte ranges of the seed files, and nothing else: a
// fuzzed reference never reaches the file system.
func memFetcher(sources map[string][]byte) refread.Fetcher {
	return refread.FetcherFunc(func(_ context.Context, url string, off, n int64) ([]byte, error) {
		b, ok := sources[url]
		if !ok {
			return nil, fmt.Errorf("%w: no such source %q", refread.ErrBadRef, url)
		}
		if n < 0 {
			return b, nil
		}
		if off < 0 || off > int64(len(b)) || n > int64(len(b))-off {
			return nil, io.ErrUnexpectedEOF
		}
		return b[off : off+n], nil
	})
}

// FuzzCombineRefs: two untrusted reference sets (JSON) combined along
// time give a result or an error, never a panic, and nothing above the
// limits is allocated (the fuzzer's memory limit would catch it).
func FuzzCombineRefs(f *testing.F) {
	sample := filepath.Join("..", "testdata", "sample")
	series := filepath.Join("..", "testdata", "series", "per_file_units")
	seeds, sources := fuzzSeedRefs(f, filepath.Join(sample, "tas_2015.nc"), filepath.Join(sample, "tas_2016.nc"),
		filepath.Join(series, "a.nc"), filepath.Join(series, "b.nc"))
	for i := 0; i+3 < len(seeds); i += 4 {
		f.Add(seeds[i], seeds[i+2])   // inline
		f.Add(seeds[i+1], seeds[i+3]) // by URL
	}
	f.Add([]byte(`{"version":1,"refs":{".zgroup":"{\"zarr_format\":2}"},"gen":[{"key":"t/{{i}}","url":"/x","dimensions":{"i":1000000000000}}]}`), seeds[0])
	fetch := memFetcher(sources)
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if len(a) > 1<<20 || len(b) > 1<<20 {
			return
		}
		var srcs []Source
		for i, data := range [][]byte{a, b} {
			refs, err := kerchunk.ReadJSONLimits(bytes.NewReader(data), fuzzLimits)
			if err != nil {
				return
			}
			srcs = append(srcs, Refs(fmt.Sprintf("in%d.json", i), refs))
		}
		for _, in := range [][]Source{srcs[:1], srcs} {
			res, err := Combine(context.Background(), in, Options{ConcatDim: "time", Fetcher: fetch, Parallel: 2,
				Limits: fuzzLimits, Logger: quiet})
			if err != nil {
				continue
			}
			if err := kerchunk.WriteJSON(io.Discard, res.Refs, nil); err != nil {
				t.Fatal(err)
			}
		}
	})
}
