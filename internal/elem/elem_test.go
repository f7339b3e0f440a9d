package elem

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIntegers(t *testing.T) {
	be, le := Order(true), Order(false)
	assert.Equal(t, binary.ByteOrder(binary.BigEndian), be)
	b := make([]byte, 8)
	for _, size := range []int{1, 2, 4, 8} {
		for _, bo := range []binary.ByteOrder{be, le} {
			assert.True(t, PutUint(b, bo, size, math.MaxUint64)) // -1 in size bytes
			u, ok := Uint(b, bo, size)
			assert.True(t, ok)
			assert.Equal(t, uint64(math.MaxUint64)>>(64-8*size), u)
			i, ok := Int(b, bo, size)
			assert.True(t, ok)
			assert.Equal(t, int64(-1), i, "size %d", size)
		}
	}
	assert.True(t, PutUint(b, be, 2, 0x0102))
	assert.Equal(t, []byte{1, 2}, b[:2])
	v, _ := Int(b, le, 2)
	assert.Equal(t, int64(0x0201), v)
	assert.False(t, PutUint(b, le, 3, 1))
	_, ok := Uint(b, le, 3)
	assert.False(t, ok)
	_, ok = Int(b, le, 16)
	assert.False(t, ok)
}

func TestFloats(t *testing.T) {
	b := make([]byte, 8)
	for _, size := range []int{4, 8} {
		assert.True(t, PutFloat(b, Order(true), size, -2.5))
		f, ok := Float(b, Order(true), size)
		assert.True(t, ok)
		assert.Equal(t, -2.5, f)
	}
	assert.True(t, PutFloat(b, Order(false), 2, 1))
	assert.Equal(t, uint16(0x3c00), binary.LittleEndian.Uint16(b))
	assert.False(t, PutFloat(b, Order(false), 3, 1))
	binary.LittleEndian.PutUint16(b, 0x3c00)
	f, ok := Float(b, Order(false), 2)
	assert.True(t, ok)
	assert.Equal(t, 1.0, f)
	_, ok = Float(b, Order(false), 3)
	assert.False(t, ok)

	for h, want := range map[uint16]float32{0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0001: 5.9604645e-08, 0x0400: 6.1035156e-05, 0x3555: 0.33325195} {
		assert.Equal(t, want, Float16(h), "%#04x", h)
	}
	assert.True(t, math.IsInf(float64(Float16(0x7c00)), 1))
	assert.True(t, math.IsInf(float64(Float16(0xfc00)), -1))
	assert.True(t, math.IsNaN(float64(Float16(0x7e00))))
	assert.True(t, math.Signbit(float64(Float16(0x8000))))
}

// Every finite half value converts back to its own bits; values between
// two halves round to the nearer (ties to even); beyond 65504 infinity.
func TestToFloat16(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := float64(Float16(uint16(h)))
		if math.IsNaN(f) {
			assert.True(t, math.IsNaN(float64(Float16(ToFloat16(f)))), "%#04x", h)
			continue
		}
		if got := ToFloat16(f); got != uint16(h) {
			t.Fatalf("%#04x: %v converts back to %#04x", h, f, got)
		}
	}
	for _, c := range []struct {
		f    float64
		want uint16
	}{
		{1 + 1.0/2048, 0x3c00}, // tie: to even
		{1 + 3.0/2048, 0x3c02}, // tie: to even (up)
		{65519, 0x7bff},
		{65520, 0x7c00},
		{-1e9, 0xfc00},
		{math.Ldexp(1, -25), 0},
		{math.Ldexp(1.5, -25), 1},
	} {
		assert.Equal(t, c.want, ToFloat16(c.f), "%v", c.f)
	}
}
