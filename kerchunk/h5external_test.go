package kerchunk

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExternalStorage translates testdata/h5_external.h5 (gen_h5feat.py)
// and reads each variable back through its references, chunk after chunk
// in grid order, comparing with the values the generator wrote.
func TestExternalStorage(t *testing.T) {
	path, err := filepath.Abs("testdata/h5_external.h5")
	require.NoError(t, err)
	res, err := translateFile(path, Options{})
	require.NoError(t, err)
	require.Empty(t, res.Skipped)
	ext := filepath.Join(filepath.Dir(path), "ext")

	i32 := func(b []byte) []float64 {
		var out []float64
		for i := 0; i+4 <= len(b); i += 4 {
			out = append(out, float64(int32(binary.LittleEndian.Uint32(b[i:]))))
		}
		return out
	}
	i16 := func(b []byte) []float64 {
		var out []float64
		for i := 0; i+2 <= len(b); i += 2 {
			out = append(out, float64(int16(binary.LittleEndian.Uint16(b[i:]))))
		}
		return out
	}
	f32 := func(b []byte) []float64 {
		var out []float64
		for i := 0; i+4 <= len(b); i += 4 {
			out = append(out, float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))))
		}
		return out
	}
	f64 := func(b []byte) []float64 {
		var out []float64
		for i := 0; i+8 <= len(b); i += 8 {
			out = append(out, math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
		}
		return out
	}
	seq := func(from, n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = float64(from + i)
		}
		return out
	}
	lin := make([]float64, 20) // np.linspace(-1, 1, 20)
	for i := range lin {
		lin[i] = -1 + 2*float64(i)/19
	}
	tests := []struct {
		name   string
		decode func([]byte) []float64
		want   []float64
		chunks []uint64
		files  []string // the files referenced, in chunk order
	}{
		{"one_file", i32, seq(0, 24), []uint64{2, 4}, []string{"a.bin", "a.bin", "a.bin"}},
		{"two_files", f64, lin, []uint64{2, 5}, []string{"a.bin", "b.bin"}},
		{"uneven", i32, seq(100, 10), []uint64{1}, nil},
		{"adjacent", i16, []float64{1, -2, 3, -4, 5, -6}, []uint64{2, 3}, []string{"b.bin"}},
		{"in_subdir", f32, []float64{1.5, 2.5, -3.5}, []uint64{3}, []string{filepath.Join("sub", "c.bin")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := res.Variables[tt.name]
			require.NotNil(t, v)
			assert.Equal(t, tt.chunks, v.Chunks)
			var data []byte
			var files []string
			for _, k := range res.Refs.Keys() {
				if !strings.HasPrefix(k, tt.name+"/") || strings.Contains(k, "/.z") {
					continue
				}
				r, ok := res.Refs.Get(k)
				require.True(t, ok)
				require.False(t, r.IsInline(), "%s: external data is referenced, never copied", k)
				rel, err := filepath.Rel(ext, r.URL)
				require.NoError(t, err)
				files = append(files, rel)
				b, err := localFetch(context.Background(), r.URL, r.Offset, r.Length)
				require.NoError(t, err)
				data = append(data, b...)
			}
			assert.InDeltaSlice(t, tt.want, tt.decode(data), 1e-6)
			if tt.files != nil {
				assert.Equal(t, tt.files, files)
			}
		})
	}
	var za map[string]any
	r, _ := res.Refs.Get("in_subdir/.zattrs")
	require.NoError(t, json.Unmarshal(r.Data, &za))
	assert.Equal(t, "m", za["units"])
}

// TestExternalRefused: names that leave the HDF5 file's directory fail
// with ErrExternalPath, even with SkipUnsupported.
func TestExternalRefused(t *testing.T) {
	path, err := filepath.Abs("testdata/h5_external_refused.hdf5")
	require.NoError(t, err)
	for _, opts := range []Options{{}, {SkipUnsupported: true}} {
		_, err = translateFile(path, opts)
		require.ErrorIs(t, err, ErrExternalPath)
		assert.Contains(t, err.Error(), "escape_rel")
	}
}

func TestExternalURL(t *testing.T) {
	tests := []struct {
		src, name, want string // want "" : refused
	}{
		{"/data/x/f.h5", "raw.bin", "/data/x/raw.bin"},
		{"/data/x/f.h5", "sub/raw.bin", "/data/x/sub/raw.bin"},
		{"/data/x/f.h5", "./sub/../raw.bin", "/data/x/raw.bin"},
		{"/data/x/f.h5", "/data/x/sub/raw.bin", "/data/x/sub/raw.bin"},
		{"file:///data/x/f.h5", "/data/x/raw.bin", "file:///data/x/raw.bin"},
		{"abfs://c@acct.dfs.core.windows.net/x/f.h5", "raw.bin", "abfs://c@acct.dfs.core.windows.net/x/raw.bin"},
		{"abfs://c@acct.dfs.core.windows.net/x/f.h5", "/x/raw.bin", "abfs://c@acct.dfs.core.windows.net/x/raw.bin"},
		{"f.h5", "raw.bin", "raw.bin"},
		{"/data/x/f.h5", "../../etc/passwd", ""},
		{"/data/x/f.h5", "sub/../../y/raw.bin", ""},
		{"/data/x/f.h5", "/etc/passwd", ""},
		{"/data/x/f.h5", "/data/xy/raw.bin", ""},
		{"/data/x/f.h5", "/data/x/../y.bin", ""},
		{"/data/x/f.h5", "https://evil.example/raw.bin", ""},
		{"/data/x/f.h5", "..\\..\\etc\\passwd", ""},
		{"/data/x/f.h5", ".", ""},
		{"f.h5", "/etc/passwd", ""},
		{"file:///data/x/f.h5", "/etc/passwd", ""},
	}
	for _, tt := range tests {
		tr := &h5translator{url: tt.src}
		got, err := tr.externalURL(tt.name)
		if tt.want == "" {
			assert.ErrorIs(t, err, ErrExternalPath, "%s in %s gave %q", tt.name, tt.src, got)
			continue
		}
		require.NoError(t, err, "%s in %s", tt.name, tt.src)
		assert.Equal(t, tt.want, got, "%s in %s", tt.name, tt.src)
	}
}

func TestExternalChunkShape(t *testing.T) {
	seg := func(starts ...int64) []extSegment {
		var out []extSegment
		for _, s := range starts {
			out = append(out, extSegment{start: s})
		}
		return out
	}
	tests := []struct {
		name   string
		segs   []extSegment
		dims   []uint64
		es     int
		want   []uint64
		refuse bool
	}{
		{"one segment", seg(0), []uint64{6, 4}, 4, []uint64{6, 4}, false},
		{"row boundaries", seg(0, 32, 64), []uint64{6, 4}, 4, []uint64{2, 4}, false},
		{"uneven rows", seg(0, 16, 80), []uint64{6, 4}, 4, []uint64{1, 4}, false},
		{"inside a row", seg(0, 8), []uint64{3, 4}, 4, []uint64{1, 2}, false},
		{"3-d planes", seg(0, 2*3*4*8), []uint64{4, 3, 4}, 8, []uint64{2, 3, 4}, false},
		{"cuts an element", seg(0, 6), []uint64{3}, 4, nil, true},
		{"scalar", seg(0, 4), nil, 8, nil, true},
	}
	for _, tt := range tests {
		got, err := externalChunkShape(tt.segs, tt.dims, tt.es)
		if tt.refuse {
			assert.ErrorIs(t, err, ErrUnsupported, tt.name)
			continue
		}
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.want, got, tt.name)
	}
}
