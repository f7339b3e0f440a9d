package hdf5meta

import (
	"fmt"
	"math"

	"github.com/greensight/vzarr/internal/elem"
)

// Mantissa normalizations of a float datatype (Datatype.MantNorm).
const (
	FloatNormNone    = 0 // no normalization
	FloatNormMSBSet  = 1 // the mantissa's most significant bit is stored, always set
	FloatNormImplied = 2 // the most significant bit is implied, not stored (IEEE 754)
)

// IsIEEEFloat reports a float datatype laid out as IEEE 754 binary16,
// binary32 or binary64 (either byte order): what NumPy's "f2", "f4" and
// "f8" hold.
func (t *Datatype) IsIEEEFloat() bool {
	if t.Class != ClassFloat || t.MantNorm != FloatNormImplied || t.BitOffset != 0 || t.Precision != 8*t.Size {
		return false
	}
	e, m, ok := ieeeFields(t.Size)
	return ok && t.ExpSize == e && t.MantSize == m && t.MantLocation == 0 && t.ExpLocation == m &&
		t.SignLocation == e+m && t.ExpBias == 1<<(e-1)-1
}

// ieeeFields returns the exponent and mantissa bits of the IEEE 754
// float of size bytes (binary16, 32, 64).
func ieeeFields(size int) (e, m int, ok bool) {
	switch size {
	case 2:
		return 5, 10, true
	case 4:
		return 8, 23, true
	case 8:
		return 11, 52, true
	}
	return 0, 0, false
}

// FloatTarget returns the size (2, 4 or 8) of the smallest IEEE 754 float
// that holds every value of a float datatype of another layout (bfloat16,
// 24-bit floats, other exponent biases): no more mantissa bits, and an
// exponent range of normal numbers inside the target's, as h5py chooses
// the NumPy type it reads such data as. Errors wrap ErrUnsupported: no
// IEEE type holds it, or a layout FloatAt cannot decode.
func (t *Datatype) FloatTarget() (int, error) {
	if err := t.checkFloatLayout(); err != nil {
		return 0, err
	}
	emax := int64(1)<<t.ExpSize - 2 - int64(t.ExpBias) // largest exponent of a finite number
	emin := 1 - int64(t.ExpBias)                       // smallest of a normal number
	for _, size := range []int{2, 4, 8} {
		e, m, _ := ieeeFields(size)
		bias := int64(1)<<(e-1) - 1
		if t.MantSize <= m && emax <= bias && emin >= 1-bias {
			return size, nil
		}
	}
	return 0, &FormatError{Offset: -1, Err: ErrUnsupported,
		What: fmt.Sprintf("%d-byte float with %d exponent and %d mantissa bits (bias %d): wider than IEEE binary64", t.Size, t.ExpSize, t.MantSize, t.ExpBias)}
}

// checkFloatLayout refuses float layouts FloatAt cannot decode.
func (t *Datatype) checkFloatLayout() error {
	bits := 8 * t.Size
	switch {
	case t.Class != ClassFloat:
		return &FormatError{Offset: -1, Err: ErrUnsupported, What: fmt.Sprintf("%s datatype is not a float", t.Class)}
	case t.MantNorm != FloatNormImplied:
		return &FormatError{Offset: -1, Err: ErrUnsupported, What: fmt.Sprintf("float mantissa normalization %d (only an implied leading bit, as IEEE 754, is decoded)", t.MantNorm)}
	case t.ExpSize < 1 || t.MantSize < 0 || t.SignLocation < 0 || t.ExpLocation < 0 || t.MantLocation < 0,
		t.ExpLocation+t.ExpSize > bits, t.MantLocation+t.MantSize > bits, t.SignLocation >= bits:
		return &FormatError{Offset: -1, Err: ErrFormat, What: fmt.Sprintf("%d-byte float with sign bit %d, exponent bits %d+%d, mantissa bits %d+%d",
			t.Size, t.SignLocation, t.ExpLocation, t.ExpSize, t.MantLocation, t.MantSize)}
	case t.ExpSize < 2 || t.ExpSize > 32 || t.MantSize > 63 || t.Size > 16:
		return &FormatError{Offset: -1, Err: ErrUnsupported, What: fmt.Sprintf("%d-byte float with %d exponent and %d mantissa bits", t.Size, t.ExpSize, t.MantSize)}
	}
	return nil
}

// FloatAt decodes one element (Size bytes of b) of a float datatype of any
// layout with an implied leading mantissa bit, as libhdf5 converts it: an
// all-ones exponent is an infinity (zero mantissa) or a NaN, a zero
// exponent a zero or a subnormal number. Errors wrap ErrUnsupported or
// ErrFormat (checkFloatLayout).
func (t *Datatype) FloatAt(b []byte) (float64, error) {
	if err := t.checkFloatLayout(); err != nil {
		return 0, err
	}
	if len(b) < t.Size {
		return 0, formatErr(-1, "float element of %d bytes, want %d", len(b), t.Size)
	}
	var buf [16]byte
	copy(buf[:], b[:t.Size])
	if t.BigEndian {
		for i, j := 0, t.Size-1; i < j; i, j = i+1, j-1 {
			buf[i], buf[j] = buf[j], buf[i]
		}
	}
	field := func(pos, n int) uint64 {
		var v uint64
		for i := n - 1; i >= 0; i-- {
			p := pos + i
			v = v<<1 | uint64(buf[p/8]>>(p%8)&1)
		}
		return v
	}
	neg := field(t.SignLocation, 1) == 1
	e := field(t.ExpLocation, t.ExpSize)
	m := field(t.MantLocation, t.MantSize)
	var v float64
	switch {
	case e == 1<<t.ExpSize-1 && m == 0:
		v = math.Inf(1)
	case e == 1<<t.ExpSize-1:
		return math.NaN(), nil
	case e == 0:
		v = math.Ldexp(float64(m), 1-int(t.ExpBias)-t.MantSize)
	default:
		v = math.Ldexp(float64(m|1<<t.MantSize), int(e)-int(t.ExpBias)-t.MantSize)
	}
	if neg {
		v = -v
	}
	return v, nil
}

// PutFloatAs decodes n elements of a float datatype of another layout from
// src (n*Size bytes) into dst as little-endian IEEE floats of size bytes
// (FloatTarget), rounding to nearest.
func (t *Datatype) PutFloatAs(dst, src []byte, size int) error {
	n := len(src) / max(t.Size, 1)
	if len(dst) < n*size {
		return formatErr(-1, "%d-byte buffer for %d floats of %d bytes", len(dst), n, size)
	}
	for i := range n {
		v, err := t.FloatAt(src[i*t.Size:])
		if err != nil {
			return err
		}
		if !elem.PutFloat(dst[i*size:], elem.Order(false), size, v) {
			return formatErr(-1, "no %d-byte float", size)
		}
	}
	return nil
}

// NewIEEEFloat returns the datatype of IEEE 754 floats of size bytes (2,
// 4 or 8) in either byte order, laid out as libhdf5's H5T_IEEE_F*; nil for
// another size.
func NewIEEEFloat(size int, bigEndian bool) *Datatype {
	e, m, ok := ieeeFields(size)
	if !ok {
		return nil
	}
	t := &Datatype{Class: ClassFloat, Version: 1, Size: size, BigEndian: bigEndian, Signed: true, Precision: 8 * size,
		ExpLocation: m, ExpSize: e, MantLocation: 0, MantSize: m, ExpBias: uint32(1)<<(e-1) - 1,
		SignLocation: e + m, MantNorm: FloatNormImplied}
	t.setNodes()
	return t
}
