package refread

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DType is a Zarr v2 (NumPy) scalar dtype such as "<f8", ">i2", "|u1",
// "|b1", "|S12", "<U3", "|O", "<M8[s]".
type DType struct {
	// Str is the dtype as written in .zarray.
	Str string
	// Kind is NumPy's kind character: 'b' (bool), 'i', 'u', 'f', 'S'
	// (bytes), 'U' (UCS-4 text), 'O' (object: variable-length strings
	// through the vlen-utf8 codec), 'M' (datetime64), 'm' (timedelta64).
	Kind byte
	// Size is the size of one element in bytes (0 for 'O').
	Size int
	// BigEndian is set for '>' dtypes of more than one byte.
	BigEndian bool
}

// ParseDType parses a Zarr v2 dtype string. Structured dtypes (JSON
// lists) are not supported.
func ParseDType(s string) (DType, error) {
	d := DType{Str: s}
	if len(s) < 2 {
		return d, fmt.Errorf("%w: dtype %q", ErrUnsupported, s)
	}
	rest := s
	switch rest[0] {
	case '<', '>', '|', '=':
		d.BigEndian = rest[0] == '>'
		rest = rest[1:]
	}
	d.Kind = rest[0]
	num := rest[1:]
	if i := strings.IndexByte(num, '['); i >= 0 { // datetime64 units
		if d.Kind != 'M' && d.Kind != 'm' {
			return d, fmt.Errorf("%w: dtype %q", ErrUnsupported, s)
		}
		num = num[:i]
	}
	switch d.Kind {
	case 'O':
		if num != "" && num != "8" {
			return d, fmt.Errorf("%w: dtype %q", ErrUnsupported, s)
		}
		d.Size = 0
		return d, nil
	case 'b', 'i', 'u', 'f', 'S', 'U', 'M', 'm':
	default:
		return d, fmt.Errorf("%w: dtype %q", ErrUnsupported, s)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return d, fmt.Errorf("%w: dtype %q", ErrUnsupported, s)
	}
	d.Size = n
	switch d.Kind {
	case 'b':
		if n != 1 {
			return d, fmt.Errorf("%w: dtype %q", ErrUnsupported, s)
		}
	case 'i', 'u':
		if n != 1 && n != 2 && n != 4 && n != 8 {
			return d, fmt.Errorf("%w: dtype %q", ErrUnsupported, s)
		}
	case 'f':
		if n != 2 && n != 4 && n != 8 {
			return d, fmt.Errorf("%w: dtype %q", ErrUnsupported, s)
		}
	case 'M', 'm':
		if n != 8 {
			return d, fmt.Errorf("%w: dtype %q", ErrUnsupported, s)
		}
	case 'U':
		d.Size = 4 * n
	}
	if d.Size <= 1 {
		d.BigEndian = false
	}
	return d, nil
}

// IsFloat reports a floating-point dtype.
func (d DType) IsFloat() bool { return d.Kind == 'f' }

// IsInteger reports an integer-valued dtype (bool, signed, unsigned,
// datetime64, timedelta64).
func (d DType) IsInteger() bool {
	switch d.Kind {
	case 'b', 'i', 'u', 'M', 'm':
		return true
	}
	return false
}

// IsString reports a string dtype ('S', 'U' or vlen-utf8 'O').
func (d DType) IsString() bool { return d.Kind == 'S' || d.Kind == 'U' || d.Kind == 'O' }

func (d DType) order() binary.ByteOrder {
	if d.BigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// float64At decodes one float element (Kind 'f').
func (d DType) float64At(b []byte) float64 {
	o := d.order()
	switch d.Size {
	case 2:
		return float16(o.Uint16(b))
	case 4:
		return float64(math.Float32frombits(o.Uint32(b)))
	}
	return math.Float64frombits(o.Uint64(b))
}

// int64At decodes one integer element; unsigned 64-bit values above
// MaxInt64 keep their bits (see Data.Unsigned).
func (d DType) int64At(b []byte) int64 {
	o := d.order()
	if d.Kind == 'b' {
		if b[0] != 0 {
			return 1
		}
		return 0
	}
	signed := d.Kind != 'u'
	switch d.Size {
	case 1:
		if signed {
			return int64(int8(b[0]))
		}
		return int64(b[0])
	case 2:
		if signed {
			return int64(int16(o.Uint16(b)))
		}
		return int64(o.Uint16(b))
	case 4:
		if signed {
			return int64(int32(o.Uint32(b)))
		}
		return int64(o.Uint32(b))
	}
	return int64(o.Uint64(b))
}

// stringAt decodes one fixed-size string element: 'S' bytes up to the
// first NUL (as NumPy strips trailing NULs), 'U' UCS-4 code points.
func (d DType) stringAt(b []byte) string {
	if d.Kind == 'S' {
		n := len(b)
		for n > 0 && b[n-1] == 0 {
			n--
		}
		return string(b[:n])
	}
	o := d.order()
	var sb strings.Builder
	for i := 0; i+4 <= len(b); i += 4 {
		r := rune(o.Uint32(b[i:]))
		if r == 0 {
			// NumPy strips trailing NULs only, but embedded NULs in
			// 'U' data are vanishingly rare; stop at the first.
			break
		}
		if !utf8.ValidRune(r) {
			r = utf8.RuneError
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// PutFloat64 encodes v as one element of a numeric dtype into b (Size
// bytes). Integer dtypes require an integral v in range.
func (d DType) PutFloat64(b []byte, v float64) error {
	o := d.order()
	switch d.Kind {
	case 'f':
		switch d.Size {
		case 4:
			o.PutUint32(b, math.Float32bits(float32(v)))
			if float64(float32(v)) != v && !math.IsNaN(v) {
				return fmt.Errorf("%v does not fit %s exactly", v, d.Str)
			}
		case 8:
			o.PutUint64(b, math.Float64bits(v))
		default:
			return fmt.Errorf("%w: writing %s", ErrUnsupported, d.Str)
		}
		return nil
	case 'i', 'u', 'M', 'm':
		if v != math.Trunc(v) || math.IsNaN(v) {
			return fmt.Errorf("%v is not an integer, as %s needs", v, d.Str)
		}
		lo, end := d.intRange()
		if v < lo || v >= end {
			return fmt.Errorf("%v is out of the range of %s", v, d.Str)
		}
		var u uint64
		if d.Kind == 'u' {
			u = uint64(v)
		} else {
			u = uint64(int64(v))
		}
		switch d.Size {
		case 1:
			b[0] = byte(u)
		case 2:
			o.PutUint16(b, uint16(u))
		case 4:
			o.PutUint32(b, uint32(u))
		case 8:
			o.PutUint64(b, u)
		}
		return nil
	}
	return fmt.Errorf("%w: writing numbers as %s", ErrUnsupported, d.Str)
}

// intRange returns the range [lo, end) of an integer dtype, as float64.
func (d DType) intRange() (lo, end float64) {
	bits := d.Size * 8
	if d.Kind == 'u' {
		return 0, math.Ldexp(1, bits)
	}
	return -math.Ldexp(1, bits-1), math.Ldexp(1, bits-1)
}

// float16 converts IEEE half-precision bits.
func float16(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}
