package kerchunk

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/hdf5meta"
)

// TestComplexNumbers translates testdata/h5_complex.h5 (gen_types13.py):
// h5py's r/i compounds become Zarr complex dtypes with the members' byte
// order, their bytes referenced as stored; other two-float compounds stay
// structured.
func TestComplexNumbers(t *testing.T) {
	path, err := filepath.Abs("testdata/h5_complex.h5")
	require.NoError(t, err)
	res, err := translateFile(path, Options{InlineThreshold: -1}) // reference every stored chunk
	require.NoError(t, err)
	require.Empty(t, res.Skipped)

	tests := []struct {
		name   string
		dtype  any
		fill   any
		chunks []any // chunk keys present
	}{
		{"c8", "<c8", nil, []any{"0.0"}},
		{"c16", "<c16", nil, []any{"0.0"}},
		{"c8_be", ">c8", nil, []any{"0.0"}},
		{"c16_be_chunked", ">c16", nil, []any{"0.0", "0.1", "1.0", "1.1"}},
		// Never-written chunks are written out: no complex fill_value,
		// which zarr-python 3.0.6 cannot read.
		{"c8_fill", "<c8", nil, []any{"0.0", "0.1", "1.0", "1.1"}},
		{"c16_nan_fill", "<c16", nil, []any{"0"}},
		{"c16_scalar", "<c16", nil, []any{"0"}},
		{"not_complex", []any{[]any{"i", "<f4"}, []any{"r", "<f4"}}, nil, []any{"0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := res.Refs.Get(tt.name + "/.zarray")
			require.True(t, ok)
			var za map[string]any
			require.NoError(t, json.Unmarshal(r.Data, &za))
			assert.Equal(t, tt.dtype, za["dtype"])
			assert.Equal(t, tt.fill, za["fill_value"])
			for _, c := range tt.chunks {
				_, ok := res.Refs.Get(fmt.Sprintf("%s/%s", tt.name, c))
				assert.True(t, ok, "chunk %s", c)
			}
		})
	}

	// The contiguous, uncompressed variables: the referenced bytes are the
	// complex values the generator wrote (re = linspace(-2.5, 3.25, 24),
	// im = 0.5*k - 3), in the byte order of the dtype.
	for _, v := range []struct {
		name string
		half int
		bo   binary.ByteOrder
	}{{"c8", 4, binary.LittleEndian}, {"c16", 8, binary.LittleEndian}, {"c8_be", 4, binary.BigEndian}} {
		r, ok := res.Refs.Get(v.name + "/0.0")
		require.True(t, ok)
		require.False(t, r.IsInline(), "%s: referenced, not copied", v.name)
		b, err := localFetch(context.Background(), r.URL, r.Offset, r.Length)
		require.NoError(t, err)
		require.Len(t, b, 24*2*v.half)
		for k := 0; k < 24; k++ {
			re := -2.5 + 5.75*float64(k)/23
			im := 0.5*float64(k) - 3
			got := func(off int) float64 {
				if v.half == 4 {
					return float64(math.Float32frombits(v.bo.Uint32(b[off:])))
				}
				return math.Float64frombits(v.bo.Uint64(b[off:]))
			}
			assert.InDelta(t, re, got(2*k*v.half), 1e-6, "%s[%d].real", v.name, k)
			assert.InDelta(t, im, got((2*k+1)*v.half), 1e-6, "%s[%d].imag", v.name, k)
		}
	}
}

// TestComplexDtype: only a compound of exactly r then i, the same IEEE
// float of 4 or 8 bytes, without padding, is a complex number.
func TestComplexDtype(t *testing.T) {
	f32 := hdf5meta.NewIEEEFloat(4, false)
	f32be := hdf5meta.NewIEEEFloat(4, true)
	f64 := hdf5meta.NewIEEEFloat(8, false)
	f16 := hdf5meta.NewIEEEFloat(2, false)
	i32 := &hdf5meta.Datatype{Class: hdf5meta.ClassFixedPoint, Size: 4, Signed: true}
	comp := func(size int, ms ...hdf5meta.Member) *hdf5meta.Datatype {
		return &hdf5meta.Datatype{Class: hdf5meta.ClassCompound, Size: size, Members: ms}
	}
	tests := []struct {
		name string
		t    *hdf5meta.Datatype
		want string // "" : not complex
	}{
		{"c8", comp(8, hdf5meta.Member{Name: "r", Type: f32}, hdf5meta.Member{Name: "i", Offset: 4, Type: f32}), "<c8"},
		{"c16", comp(16, hdf5meta.Member{Name: "r", Type: f64}, hdf5meta.Member{Name: "i", Offset: 8, Type: f64}), "<c16"},
		{"big-endian", comp(8, hdf5meta.Member{Name: "r", Type: f32be}, hdf5meta.Member{Name: "i", Offset: 4, Type: f32be}), ">c8"},
		{"mixed order", comp(8, hdf5meta.Member{Name: "r", Type: f32}, hdf5meta.Member{Name: "i", Offset: 4, Type: f32be}), ""},
		{"mixed width", comp(12, hdf5meta.Member{Name: "r", Type: f32}, hdf5meta.Member{Name: "i", Offset: 4, Type: f64}), ""},
		{"i then r", comp(8, hdf5meta.Member{Name: "i", Type: f32}, hdf5meta.Member{Name: "r", Offset: 4, Type: f32}), ""},
		{"other names", comp(8, hdf5meta.Member{Name: "re", Type: f32}, hdf5meta.Member{Name: "im", Offset: 4, Type: f32}), ""},
		{"padding", comp(16, hdf5meta.Member{Name: "r", Type: f32}, hdf5meta.Member{Name: "i", Offset: 8, Type: f32}), ""},
		{"trailing padding", comp(12, hdf5meta.Member{Name: "r", Type: f32}, hdf5meta.Member{Name: "i", Offset: 4, Type: f32}), ""},
		{"half floats", comp(4, hdf5meta.Member{Name: "r", Type: f16}, hdf5meta.Member{Name: "i", Offset: 2, Type: f16}), ""},
		{"integers", comp(8, hdf5meta.Member{Name: "r", Type: i32}, hdf5meta.Member{Name: "i", Offset: 4, Type: i32}), ""},
		{"three members", comp(12, hdf5meta.Member{Name: "r", Type: f32}, hdf5meta.Member{Name: "i", Offset: 4, Type: f32}, hdf5meta.Member{Name: "x", Offset: 8, Type: f32}), ""},
		{"not a compound", f64, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := complexDtype(tt.t)
			assert.Equal(t, tt.want != "", ok)
			assert.Equal(t, tt.want, got)
			z, err := zarrType(tt.t)
			require.NoError(t, err)
			if tt.want != "" {
				assert.Equal(t, tt.want, z.dtype.Str)
				assert.Nil(t, z.repack, "the bytes are referenced unchanged")
			} else {
				assert.NotEqual(t, byte('c'), z.dtype.Kind)
			}
		})
	}
}
