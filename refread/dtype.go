package refread

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/greensight/vzarr/internal/elem"
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

// TimeUnit returns the unit of a datetime64 or timedelta64 dtype as NumPy
// writes it ("ns", "s", "D", ...), or "" for other dtypes.
func (d DType) TimeUnit() string {
	if d.Kind != 'M' && d.Kind != 'm' {
		return ""
	}
	_, unit, ok := strings.Cut(d.Str, "[")
	if !ok {
		return ""
	}
	return strings.TrimSuffix(unit, "]")
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

func (d DType) order() binary.ByteOrder { return elem.Order(d.BigEndian) }

// float64At decodes one float element (Kind 'f').
func (d DType) float64At(b []byte) float64 {
	f, _ := elem.Float(b, d.order(), d.Size)
	return f
}

// int64At decodes one integer element; unsigned 64-bit values above
// MaxInt64 keep their bits (see Data.Unsigned).
func (d DType) int64At(b []byte) int64 {
	if d.Kind == 'b' {
		if b[0] != 0 {
			return 1
		}
		return 0
	}
	if d.Kind != 'u' {
		i, _ := elem.Int(b, d.order(), d.Size)
		return i
	}
	u, _ := elem.Uint(b, d.order(), d.Size)
	return int64(u)
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
		if !elem.PutFloat(b, o, d.Size, v) {
			return fmt.Errorf("%w: writing %s", ErrUnsupported, d.Str)
		}
		if d.Size == 4 && float64(float32(v)) != v && !math.IsNaN(v) {
			return fmt.Errorf("%v does not fit %s exactly", v, d.Str)
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
		elem.PutUint(b, o, d.Size, u)
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
func float16(h uint16) float64 { return float64(elem.Float16(h)) }
