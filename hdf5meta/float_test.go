package hdf5meta_test

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/hdf5meta"
)

// floatLayout returns an IEEE-like float datatype of the given layout
// (sign bit on top, exponent below it, mantissa at bit 0).
func floatLayout(size, e, m int, bias uint32, big bool) *hdf5meta.Datatype {
	return &hdf5meta.Datatype{Class: hdf5meta.ClassFloat, Size: size, BigEndian: big, Precision: 8 * size,
		ExpLocation: m, ExpSize: e, MantSize: m, ExpBias: bias, SignLocation: e + m, MantNorm: hdf5meta.FloatNormImplied}
}

// FloatAt decodes IEEE layouts as the machine does, special values
// included: the general decoder agrees with math.Float32frombits and
// math.Float64frombits.
func TestFloatAtIEEE(t *testing.T) {
	vals := []float64{0, math.Copysign(0, -1), 1, -2.5, 1.0 / 3, 1e30, -1e-30, 1e-40, 3.4e38, 5e-324, 1.7976931348623157e308,
		math.Inf(1), math.Inf(-1)}
	for _, big := range []bool{false, true} {
		bo := binary.ByteOrder(binary.LittleEndian)
		if big {
			bo = binary.BigEndian
		}
		f32, f64 := hdf5meta.NewIEEEFloat(4, big), hdf5meta.NewIEEEFloat(8, big)
		require.True(t, f32.IsIEEEFloat())
		require.True(t, f64.IsIEEEFloat())
		for _, v := range vals {
			b := make([]byte, 8)
			bo.PutUint32(b, math.Float32bits(float32(v)))
			got, err := f32.FloatAt(b)
			require.NoError(t, err)
			assert.Equal(t, math.Float64bits(float64(float32(v))), math.Float64bits(got), "f32 %v big=%v", v, big)
			bo.PutUint64(b, math.Float64bits(v))
			got, err = f64.FloatAt(b)
			require.NoError(t, err)
			assert.Equal(t, math.Float64bits(v), math.Float64bits(got), "f64 %v big=%v", v, big)
		}
		b := make([]byte, 4)
		bo.PutUint32(b, 0x7fc00001)
		nan, err := f32.FloatAt(b)
		require.NoError(t, err)
		assert.True(t, math.IsNaN(nan))
	}
}

// bfloat16 is the top half of a float32, a 24-bit float (8-bit exponent)
// the top three bytes: decoding them agrees with the float32 they are cut
// from.
func TestFloatAtTruncatedLayouts(t *testing.T) {
	bf16 := floatLayout(2, 8, 7, 127, false)
	f24 := floatLayout(3, 8, 15, 127, true)
	assert.False(t, bf16.IsIEEEFloat())
	for _, v := range []float32{1, -2.5, 3.140625, 1e30, -1e-30, 65536, 1e-39, float32(math.Inf(-1))} {
		bits := math.Float32bits(v)
		b := []byte{byte(bits >> 16), byte(bits >> 24)}
		got, err := bf16.FloatAt(b)
		require.NoError(t, err)
		assert.Equal(t, float64(math.Float32frombits(bits&0xffff0000)), got, "bf16 %v", v)
		b = []byte{byte(bits >> 24), byte(bits >> 16), byte(bits >> 8)}
		got, err = f24.FloatAt(b)
		require.NoError(t, err)
		assert.Equal(t, float64(math.Float32frombits(bits&0xffffff00)), got, "f24 %v", v)
	}
	// 6-bit exponent (bias 31), 9-bit mantissa: 1.5 = 2^0 * 1.1b; the
	// smallest subnormal is 2^(1-31-9).
	e6 := floatLayout(2, 6, 9, 31, false)
	v, err := e6.FloatAt([]byte{0x00, 0x3f}) // sign 0, exponent 31, mantissa 0b100000000
	require.NoError(t, err)
	assert.Equal(t, 1.5, v)
	v, err = e6.FloatAt([]byte{0x01, 0x80}) // sign 1, exponent 0, mantissa 1
	require.NoError(t, err)
	assert.Equal(t, -math.Ldexp(1, -39), v)
	v, err = e6.FloatAt([]byte{0x01, 0x7e}) // exponent all ones, mantissa 1
	require.NoError(t, err)
	assert.True(t, math.IsNaN(v))
}

// FloatTarget picks the smallest IEEE float whose precision and exponent
// range hold the layout's (as h5py chooses: checked against h5py 3.7 and
// 3.13 for these layouts).
func TestFloatTarget(t *testing.T) {
	for _, c := range []struct {
		name string
		t    *hdf5meta.Datatype
		want int
	}{
		{"bfloat16", floatLayout(2, 8, 7, 127, false), 4},
		{"24-bit", floatLayout(3, 8, 15, 127, false), 4},
		{"e6m9", floatLayout(2, 6, 9, 31, false), 4},
		{"half layout, bias 20", floatLayout(2, 5, 10, 20, false), 4},
		{"half layout, bias 15, other order of fields", &hdf5meta.Datatype{Class: hdf5meta.ClassFloat, Size: 2, Precision: 16,
			ExpLocation: 0, ExpSize: 5, MantLocation: 5, MantSize: 10, ExpBias: 15, SignLocation: 15, MantNorm: hdf5meta.FloatNormImplied}, 2},
		{"float32 layout, bias 100", floatLayout(4, 8, 23, 100, false), 8},
		{"e9m22", floatLayout(4, 9, 22, 255, false), 8},
	} {
		got, err := c.t.FloatTarget()
		require.NoError(t, err, c.name)
		assert.Equal(t, c.want, got, c.name)
	}
	_, err := floatLayout(10, 15, 64, 16383, false).FloatTarget()
	assert.ErrorIs(t, err, hdf5meta.ErrUnsupported, "no IEEE type holds a 64-bit mantissa")
	_, err = floatLayout(16, 15, 63, 16383, false).FloatTarget()
	assert.ErrorIs(t, err, hdf5meta.ErrUnsupported, "quad precision is wider than binary64")
	n := floatLayout(2, 8, 7, 127, false)
	n.MantNorm = hdf5meta.FloatNormNone
	_, err = n.FloatTarget()
	assert.ErrorIs(t, err, hdf5meta.ErrUnsupported)
	bad := floatLayout(2, 8, 7, 127, false)
	bad.ExpLocation = 12 // past the 16 bits
	_, err = bad.FloatAt([]byte{0, 0})
	assert.ErrorIs(t, err, hdf5meta.ErrFormat)
	_, err = floatLayout(2, 8, 7, 127, false).FloatAt([]byte{0})
	assert.ErrorIs(t, err, hdf5meta.ErrFormat, "short element")
}
