package kerchunk

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/zarr"
)

// zarrayOf returns the parsed .zarray of a variable.
func zarrayOf(t *testing.T, res *Result, name string) *zarr.ArrayV2 {
	t.Helper()
	r, ok := res.Refs.Get(name + "/.zarray")
	require.True(t, ok, name)
	a, err := zarr.ParseArrayV2(r.Data)
	require.NoError(t, err, name)
	return a
}

// chunkBytes returns the bytes of a chunk key, inline or referenced.
func chunkBytes(t *testing.T, res *Result, key string) (b []byte, inline bool) {
	t.Helper()
	r, ok := res.Refs.Get(key)
	require.True(t, ok, key)
	if r.IsInline() {
		return r.Data, true
	}
	b, err := localFetch(context.Background(), r.URL, r.Offset, r.Length)
	require.NoError(t, err)
	return b, false
}

// TestPaddedCompounds translates testdata/h5_compound_padded.h5
// (gen_types13.py): compounds keep their HDF5 layout (member offsets,
// padding) in the Zarr dtype and their chunks are referenced as stored;
// the one layout Zarr cannot write (a compound member with array
// dimensions inside a padded compound) is packed and inlined, and refused
// with a typed error naming it when larger than InlineVarMax.
func TestPaddedCompounds(t *testing.T) {
	path, err := filepath.Abs("testdata/h5_compound_padded.h5")
	require.NoError(t, err)
	res, err := translateFile(path, Options{InlineThreshold: -1})
	require.NoError(t, err)
	require.Empty(t, res.Skipped)

	for _, c := range []struct {
		name    string
		size    int
		offsets []int
		chunks  []string
	}{
		{"table", 24, []int{0, 8, 16, 20}, []string{"0"}},
		{"table_chunked", 24, []int{0, 8, 16, 20}, []string{"0", "1", "2", "3"}},
		{"nested", 24, []int{0, 4, 16}, []string{"0"}},
		{"swapped", 12, []int{4, 0}, []string{"0"}},
	} {
		a := zarrayOf(t, res, c.name)
		require.True(t, a.DType.IsStructured(), c.name)
		assert.False(t, a.DType.Packed(), c.name)
		assert.Equal(t, c.size, a.DType.Size, c.name)
		var offs []int
		for _, f := range a.DType.Fields {
			offs = append(offs, f.Offset)
		}
		assert.Equal(t, c.offsets, offs, c.name)
		for _, k := range c.chunks {
			r, ok := res.Refs.Get(c.name + "/" + k)
			require.True(t, ok, "%s/%s", c.name, k)
			assert.False(t, r.IsInline(), "%s/%s: referenced as stored", c.name, k)
		}
	}
	// The referenced bytes of table hold the generator's rows at the
	// dtype's offsets.
	a := zarrayOf(t, res, "table")
	b, _ := chunkBytes(t, res, "table/0")
	require.Len(t, b, 10*24)
	for i := 0; i < 10; i++ {
		row := b[i*24:]
		f := a.DType.Fields
		assert.Equal(t, int64(i%3-1), f[0].DType.Int64At(row[f[0].Offset:]), "flag[%d]", i)
		assert.InDelta(t, 250.5+49.75*float64(i)/9, f[1].DType.Float64At(row[f[1].Offset:]), 1e-9, "temp[%d]", i)
		assert.Equal(t, []string{"ab", "cde", "f", "", "xyz"}[i%5], f[2].DType.StringAt(row[f[2].Offset:f[2].Offset+3]), "name[%d]", i)
		assert.Equal(t, int64(i*100-300), f[3].DType.Int64At(row[f[3].Offset:]), "count[%d]", i)
	}

	// Packed: k at 0, then pts (2 padded compounds of 8 bytes).
	a = zarrayOf(t, res, "array_in_padding")
	assert.True(t, a.DType.Packed())
	assert.Equal(t, 17, a.DType.Size)
	b, inline := chunkBytes(t, res, "array_in_padding/0")
	require.True(t, inline, "repacked, so inlined")
	require.Len(t, b, 3*17)
	for i := 0; i < 3; i++ {
		row := b[i*17:]
		assert.Equal(t, byte(3+i), row[0])
		for j := 0; j < 2; j++ {
			pt := row[1+8*j:]
			assert.Equal(t, float32(2*i+j+1), math.Float32frombits(binary.LittleEndian.Uint32(pt)), "pts[%d][%d].x", i, j)
			assert.Equal(t, byte(7+2*i+j), pt[4], "pts[%d][%d].q", i, j)
		}
	}

	_, err = translateFile(path, Options{InlineVarMax: 16})
	require.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), "array_in_padding")
}

// TestNbitFloats translates testdata/h5_nbit_float.h5: non-IEEE float
// layouts become the IEEE float h5py reads them as (float32 for all of
// these), decoded and inlined; the values are the stored bits widened
// (bfloat16 and the 24-bit float are the top bytes of a float32).
func TestNbitFloats(t *testing.T) {
	path, err := filepath.Abs("testdata/h5_nbit_float.h5")
	require.NoError(t, err)
	res, err := translateFile(path, Options{})
	require.NoError(t, err)
	require.Empty(t, res.Skipped)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	f, err := hdf5meta.Open(bytes.NewReader(raw), int64(len(raw)))
	require.NoError(t, err)

	for _, c := range []struct {
		name  string
		shift int // the float32 bits the stored element is the top of
		big   bool
	}{{"bf16", 16, false}, {"bf16_be", 16, true}, {"f24", 8, false}} {
		a := zarrayOf(t, res, c.name)
		assert.Equal(t, "<f4", a.DType.Str, c.name)
		assert.Equal(t, "float32", res.Variables[c.name].Dtype, c.name)
		got, inline := chunkBytes(t, res, c.name+"/0")
		require.True(t, inline, c.name)
		o, err := f.Object(c.name)
		require.NoError(t, err)
		ds := o.(*hdf5meta.Dataset)
		require.False(t, ds.Type.IsIEEEFloat(), c.name)
		es := ds.Type.Size
		stored := raw[f.AbsOffset(ds.Layout.Address):][:15*es]
		require.Len(t, got, 15*4, c.name)
		for i := 0; i < 15; i++ {
			var u uint32
			for k := 0; k < es; k++ {
				bt := stored[i*es+k]
				if c.big {
					u |= uint32(bt) << (8 * (es - 1 - k))
				} else {
					u |= uint32(bt) << (8 * k)
				}
			}
			want := math.Float32frombits(u << c.shift)
			gotf := math.Float32frombits(binary.LittleEndian.Uint32(got[4*i:]))
			if math.IsNaN(float64(want)) {
				assert.True(t, math.IsNaN(float64(gotf)), "%s[%d]", c.name, i)
				continue
			}
			assert.Equal(t, math.Float32bits(want), math.Float32bits(gotf), "%s[%d]: %v", c.name, i, want)
		}
	}
	a := zarrayOf(t, res, "bf16_chunked")
	assert.Equal(t, []uint64{3, 4}, a.Chunks)
	_, inline := chunkBytes(t, res, "bf16_chunked/1.1")
	assert.True(t, inline)

	_, err = translateFile(path, Options{InlineVarMax: 8})
	require.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), "bf16")
	assert.Contains(t, err.Error(), "not IEEE 754")
	// No longer a type no reader can use: not skipped by validate either.
	o, err := f.Object("bf16")
	require.NoError(t, err)
	assert.Empty(t, UnusableType(o.(*hdf5meta.Dataset).Type))
}

// TestDatetimeOpaque translates testdata/h5_datetime64.h5: h5py's
// datetime64/timedelta64 (opaque types tagged "NUMPY:<M8[ns]") are Zarr
// datetime64/timedelta64 dtypes whose bytes are referenced as stored;
// another opaque type stays raw bytes.
func TestDatetimeOpaque(t *testing.T) {
	path, err := filepath.Abs("testdata/h5_datetime64.h5")
	require.NoError(t, err)
	res, err := translateFile(path, Options{InlineThreshold: -1})
	require.NoError(t, err)
	for name, want := range map[string]string{"time_ns": "<M8[ns]", "days": "<M8[D]", "time_s": "<M8[s]", "elapsed": "<m8[ms]", "raw": "|V4"} {
		a := zarrayOf(t, res, name)
		assert.Equal(t, want, a.DType.Str, name)
	}
	assert.Equal(t, "datetime64[ns]", res.Variables["time_ns"].Dtype)
	b, inline := chunkBytes(t, res, "time_s/0")
	require.False(t, inline, "referenced as stored")
	require.Len(t, b, 24)
	assert.Equal(t, []int64{0, 86400, -1}, []int64{int64(binary.LittleEndian.Uint64(b)), int64(binary.LittleEndian.Uint64(b[8:])), int64(binary.LittleEndian.Uint64(b[16:]))})
	b, _ = chunkBytes(t, res, "time_ns/0")
	assert.Equal(t, int64(math.MinInt64), int64(binary.LittleEndian.Uint64(b[8:])), "NaT")
}

// TestComplexFillAttr: a complex variable's _FillValue attribute becomes
// the real number xarray masks with when its imaginary part is zero; one
// that no JSON value masks is left out, with a warning.
func TestComplexFillAttr(t *testing.T) {
	path, err := filepath.Abs("testdata/h5_complex_fill.h5")
	require.NoError(t, err)
	res, err := translateFile(path, Options{})
	require.NoError(t, err)
	for name, want := range map[string]float64{"c8": -999, "c16": 1e20, "c16_be": -1.5} {
		r, ok := res.Refs.Get(name + "/.zattrs")
		require.True(t, ok)
		var attrs map[string]any
		require.NoError(t, json.Unmarshal(r.Data, &attrs))
		assert.Equal(t, want, attrs["_FillValue"], name)
		assert.Equal(t, "null", string(zarrayOf(t, res, name).FillValue), "%s: no complex fill_value (zarr-python 3.0.6)", name)
	}
	assert.Empty(t, res.Warnings)

	path, err = filepath.Abs("testdata/h5_complex_fill_imag.hdf5")
	require.NoError(t, err)
	res, err = translateFile(path, Options{})
	require.NoError(t, err)
	r, ok := res.Refs.Get("c16_imag/.zattrs")
	require.True(t, ok)
	var attrs map[string]any
	require.NoError(t, json.Unmarshal(r.Data, &attrs))
	assert.NotContains(t, attrs, "_FillValue")
	assert.Equal(t, "c16_imag", attrs["long_name"])
	require.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0], "c16_imag: _FillValue left out")
}
