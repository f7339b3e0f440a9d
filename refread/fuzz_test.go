package refread

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
)

// FuzzReadArray: an untrusted reference set (JSON) read array by array
// gives values or an error, never a panic, and nothing above the limits
// is allocated. Chunks behind URLs are served from the seed file's bytes
// only.
func FuzzReadArray(f *testing.F) {
	src := filepath.Join("..", "testdata", "sample", "tas_2015.nc")
	b, err := os.ReadFile(src)
	if err != nil {
		f.Fatal(err)
	}
	for _, inline := range []int{1 << 20, -1} {
		res, err := kerchunk.Translate(context.Background(), bytes.NewReader(b), int64(len(b)), "/tas.nc", kerchunk.Options{InlineThreshold: inline})
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		if err := kerchunk.WriteJSON(&buf, res.Refs, nil); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte(`{"t/.zarray":"{\"chunks\":[1],\"compressor\":null,\"dtype\":\"<f8\",\"fill_value\":null,\"filters\":null,\"order\":\"C\",\"shape\":[1099511627776],\"zarr_format\":2}"}`))
	f.Add([]byte(`{"s/.zarray":"{\"chunks\":[2],\"compressor\":null,\"dtype\":\"|O\",\"fill_value\":null,\"filters\":[{\"id\":\"vlen-utf8\"}],\"order\":\"F\",\"shape\":[3],\"zarr_format\":2}","s/0":"base64:AgAAAAEAAABhAQAAAGI="}`))
	lim := limits.Limits{CoordElements: 1 << 16, ChunksPerVariable: 1 << 12, StringBytes: 1 << 12}
	fetch := FetcherFunc(func(_ context.Context, url string, off, n int64) ([]byte, error) {
		if url != "/tas.nc" {
			return nil, fmt.Errorf("%w: no source %q", ErrBadRef, url)
		}
		if n < 0 {
			return b, nil
		}
		if off < 0 || off > int64(len(b)) || n > int64(len(b))-off {
			return nil, io.ErrUnexpectedEOF
		}
		return b[off : off+n], nil
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		refs, err := kerchunk.ReadJSONLimits(bytes.NewReader(data), lim)
		if err != nil {
			return
		}
		s := NewStore(refs, fetch)
		s.Limits = lim
		s.Parallel = 2
		for _, k := range refs.Keys() {
			if len(k) < 7 || k[len(k)-7:] != ".zarray" {
				continue
			}
			path := k[:max(len(k)-8, 0)]
			a, err := s.Open(path)
			if err != nil {
				continue
			}
			d, err := a.Read(context.Background())
			if err != nil {
				continue
			}
			if d.Len() != int(limits.Product(a.Shape)) {
				t.Fatalf("%s: %d values for shape %v", path, d.Len(), a.Shape)
			}
			_, _ = d.Float64s()
			_ = d.Strings()
		}
	})
}
