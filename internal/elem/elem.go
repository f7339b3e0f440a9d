// Package elem reads and writes the fixed-size numeric elements that HDF5,
// netCDF-3 and Zarr (NumPy) data share: integers of 1, 2, 4 or 8 bytes and
// IEEE 754 floats of 2 (half precision), 4 or 8 bytes, in either byte
// order. hdf5meta, kerchunk and refread decode values with it.
package elem

import (
	"encoding/binary"
	"math"
)

// Order returns the byte order: big-endian when big is set.
func Order(big bool) binary.ByteOrder {
	if big {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// Uint reads an unsigned integer of size bytes (1, 2, 4 or 8) from b; ok
// is false for other sizes.
func Uint(b []byte, bo binary.ByteOrder, size int) (v uint64, ok bool) {
	switch size {
	case 1:
		return uint64(b[0]), true
	case 2:
		return uint64(bo.Uint16(b)), true
	case 4:
		return uint64(bo.Uint32(b)), true
	case 8:
		return bo.Uint64(b), true
	}
	return 0, false
}

// Int reads a two's complement signed integer of size bytes (1, 2, 4 or
// 8) from b; ok is false for other sizes.
func Int(b []byte, bo binary.ByteOrder, size int) (v int64, ok bool) {
	u, ok := Uint(b, bo, size)
	if !ok {
		return 0, false
	}
	shift := 64 - 8*uint(size)
	return int64(u<<shift) >> shift, true
}

// PutUint writes the low size bytes (1, 2, 4 or 8) of x to b; it reports
// false, writing nothing, for other sizes.
func PutUint(b []byte, bo binary.ByteOrder, size int, x uint64) bool {
	switch size {
	case 1:
		b[0] = byte(x)
	case 2:
		bo.PutUint16(b, uint16(x))
	case 4:
		bo.PutUint32(b, uint32(x))
	case 8:
		bo.PutUint64(b, x)
	default:
		return false
	}
	return true
}

// Float reads an IEEE 754 float of size bytes (2, 4 or 8) from b as a
// float64 (exactly); ok is false for other sizes.
func Float(b []byte, bo binary.ByteOrder, size int) (v float64, ok bool) {
	switch size {
	case 2:
		return float64(Float16(bo.Uint16(b))), true
	case 4:
		return float64(math.Float32frombits(bo.Uint32(b))), true
	case 8:
		return math.Float64frombits(bo.Uint64(b)), true
	}
	return 0, false
}

// PutFloat writes f as an IEEE 754 float of size bytes (2 or 4, rounded
// to nearest even, or 8) to b; it reports false, writing nothing, for
// other sizes.
func PutFloat(b []byte, bo binary.ByteOrder, size int, f float64) bool {
	switch size {
	case 2:
		bo.PutUint16(b, ToFloat16(f))
	case 4:
		bo.PutUint32(b, math.Float32bits(float32(f)))
	case 8:
		bo.PutUint64(b, math.Float64bits(f))
	default:
		return false
	}
	return true
}

// Float16 converts IEEE 754 half-precision bits to the float32 of the same
// value (subnormals, infinities and NaN payloads included).
func Float16(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0:
		// Subnormal: normalise.
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// ToFloat16 returns the IEEE 754 half-precision bits nearest f (ties to
// even; overflow to infinity; NaN stays a quiet NaN with its sign).
func ToFloat16(f float64) uint16 {
	bits := math.Float64bits(f)
	sign := uint16(bits>>48) & 0x8000
	a := math.Abs(f)
	switch {
	case math.IsNaN(f):
		return sign | 0x7e00
	case a >= 65520: // rounds past the largest half, 65504
		return sign | 0x7c00
	case a <= math.Ldexp(1, -25): // at most half the smallest subnormal
		return sign
	}
	exp := math.Ilogb(a)
	if exp < -14 { // subnormal: units of 2^-24
		return sign | uint16(math.RoundToEven(math.Ldexp(a, 24)))
	}
	m := math.RoundToEven(math.Ldexp(a, 10-exp)) // 1024..2048
	if m == 2048 {
		m, exp = 1024, exp+1
	}
	if exp > 15 {
		return sign | 0x7c00
	}
	return sign | uint16(exp+15)<<10 | (uint16(m) - 1024)
}
