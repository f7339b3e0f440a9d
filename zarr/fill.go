package zarr

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/greensight/vzarr/internal/elem"
)

// DecodeFill reads a fill_value (Zarr v2 or v3 encoding) into the bytes
// of one element of d, in d's byte order; nil for null. Accepted: numbers;
// for floats also "NaN", "Infinity", "-Infinity" (quoted or bare, as
// Python writes them) and the hex string of the IEEE 754 bits
// ("0x7fc00000"); for complex dtypes a [real, imag] pair of those; true or
// false (or 0/1) for bool; integers (or integral floats) in range for
// integer and time dtypes ("NaT" for time dtypes); base64 text or a list
// of byte values for 'S', 'V' and structured dtypes (shorter than the
// element: NUL-padded); a string for 'U'. For 'O' dtypes the result is the
// UTF-8 text of a string fill value, and nil for any other (zarr 2 writes
// 0 for object arrays). Errors wrap ErrInvalid.
func (d DType) DecodeFill(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	bad := func(why string) ([]byte, error) {
		return nil, invalid("fill_value %.60s for dtype %s: %s", raw, d.Str, why)
	}
	if f, ok := nonFinite(string(raw)); ok { // a bare token
		raw, _ = json.Marshal(fillString(f))
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return bad(err.Error())
	}
	out := make([]byte, d.Size)
	o := d.Order()
	switch {
	case d.Fields != nil || d.Kind == 'S' || d.Kind == 'V':
		b, err := fillBytes(v)
		if err != nil {
			return bad(err.Error())
		}
		if len(b) > d.Size {
			return bad("longer than an element")
		}
		copy(out, b)
	case d.Kind == 'f':
		f, err := fillFloat(v, d.Size)
		if err != nil {
			return bad(err.Error())
		}
		if err := putFloatBits(out, o, d.Size, f); err != nil {
			return bad(err.Error())
		}
	case d.Kind == 'c':
		pair, ok := v.([]any)
		if !ok || len(pair) != 2 {
			return bad("not a [real, imag] pair")
		}
		h := d.Size / 2
		for i, x := range pair {
			f, err := fillFloat(x, h)
			if err != nil {
				return bad(err.Error())
			}
			if err := putFloatBits(out[i*h:(i+1)*h], o, h, f); err != nil {
				return bad(err.Error())
			}
		}
	case d.Kind == 'b':
		switch x := v.(type) {
		case bool:
			if x {
				out[0] = 1
			}
		case json.Number:
			n, err := strconv.ParseFloat(string(x), 64)
			if err != nil || (n != 0 && n != 1) {
				return bad("not a boolean")
			}
			out[0] = byte(n)
		default:
			return bad("not a boolean")
		}
	case d.Kind == 'i' || d.Kind == 'u' || d.Kind == 'M' || d.Kind == 'm':
		if s, ok := v.(string); ok && s == "NaT" && (d.Kind == 'M' || d.Kind == 'm') {
			elem.PutUint(out, o, d.Size, uint64(1)<<63)
			break
		}
		x, ok := v.(json.Number)
		if !ok {
			return bad("not an integer")
		}
		u, err := d.intBits(string(x))
		if err != nil {
			return bad(err.Error())
		}
		elem.PutUint(out, o, d.Size, u)
	case d.Kind == 'U':
		s, ok := v.(string)
		if !ok {
			return bad("not a string")
		}
		i := 0
		for _, r := range s {
			if i+4 > len(out) {
				return bad("longer than an element")
			}
			o.PutUint32(out[i:], uint32(r))
			i += 4
		}
	case d.Kind == 'O':
		if s, ok := v.(string); ok {
			return []byte(s), nil
		}
		return nil, nil
	default:
		return bad("no fill value encoding")
	}
	return out, nil
}

// fillString is Zarr's string for a non-finite float.
func fillString(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	}
	return "-Infinity"
}

// fillFloat reads one float fill: a number, a non-finite string or hex
// bits. Hex bits are returned as a NaN-boxed marker through putFloatBits:
// the result keeps them exact (a signalling NaN stays one).
func fillFloat(v any, size int) (floatFill, error) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !isRangeErr(err) {
			return floatFill{}, err
		}
		return floatFill{f: f}, nil
	case string:
		if f, ok := nonFinite(x); ok {
			return floatFill{f: f}, nil
		}
		if h, ok := strings.CutPrefix(x, "0x"); ok && len(h) == 2*size {
			b, err := hex.DecodeString(h)
			if err == nil {
				return floatFill{bits: b}, nil
			}
		}
		return floatFill{}, invalid("%q is not a float", x)
	}
	return floatFill{}, invalid("not a number")
}

// floatFill is a float fill value: f, or the exact big-endian bits.
type floatFill struct {
	f    float64
	bits []byte
}

func putFloatBits(out []byte, o binary.ByteOrder, size int, f floatFill) error {
	if f.bits != nil {
		copy(out, f.bits)
		if o == binary.LittleEndian {
			for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
				out[i], out[j] = out[j], out[i]
			}
		}
		return nil
	}
	if !elem.PutFloat(out, o, size, f.f) {
		return unsupported("float of %d bytes", size)
	}
	return nil
}

// fillBytes reads base64 text or a list of byte values.
func fillBytes(v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		b, err := base64.StdEncoding.DecodeString(x)
		if err != nil {
			return nil, invalid("base64: %v", err)
		}
		return b, nil
	case []any:
		out := make([]byte, len(x))
		for i, e := range x {
			n, ok := e.(json.Number)
			if !ok {
				return nil, invalid("not a list of bytes")
			}
			u, err := strconv.ParseUint(string(n), 10, 8)
			if err != nil {
				return nil, invalid("not a list of bytes")
			}
			out[i] = byte(u)
		}
		return out, nil
	case json.Number:
		if string(x) == "0" { // zarr 2's default fill_value
			return nil, nil
		}
	}
	return nil, invalid("not base64 text")
}

// intBits parses an integer fill value of an integer or time dtype into
// its two's complement bits, checking its range.
func (d DType) intBits(s string) (uint64, error) {
	bits := uint(8 * d.Size)
	if d.Kind == 'u' {
		u, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(s, 64)
			if ferr != nil || f != math.Trunc(f) || f < 0 || f >= math.Ldexp(1, int(bits)) {
				return 0, invalid("%s is not a %d-bit unsigned integer", s, bits)
			}
			u = uint64(f)
		}
		if bits < 64 && u>>bits != 0 {
			return 0, invalid("%s is out of range", s)
		}
		return u, nil
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || f < -math.Ldexp(1, int(bits)-1) || f >= math.Ldexp(1, int(bits)-1) {
			return 0, invalid("%s is not a %d-bit integer", s, bits)
		}
		i = int64(f)
	}
	if bits < 64 && (i < -(1<<(bits-1)) || i >= 1<<(bits-1)) {
		return 0, invalid("%s is out of range", s)
	}
	return uint64(i), nil
}

// EncodeFill writes the bytes of one element of d (in d's byte order) as
// a Zarr v2 fill_value: a number; "NaN", "Infinity" or "-Infinity" for
// non-finite floats; a [real, imag] pair for complex; true or false for
// bool; a string for 'U' and 'O' (for 'O', b is the UTF-8 text); base64
// text for 'S', 'V' and structured dtypes. nil b is null.
func (d DType) EncodeFill(b []byte) (json.RawMessage, error) {
	return d.encodeFill(b, false)
}

// FillValueAttr returns the _FillValue attribute with which xarray masks a
// Zarr v3 array of d (xarray masks v3 data with this attribute, not with
// the array's fill_value, while it masks v2 data with fill_value), for the
// Zarr v2 fill_value fill: the integer or boolean as it is, a float as the
// base64 text of its little-endian float64 bytes. Nil for no fill value
// and for other data types (left unmasked).
func (d DType) FillValueAttr(fill json.RawMessage) (json.RawMessage, error) {
	b, err := d.DecodeFill(fill)
	if err != nil || b == nil {
		return nil, err
	}
	switch d.Kind {
	case 'b':
		return strconv.AppendBool(nil, b[0] != 0), nil
	case 'i':
		return strconv.AppendInt(nil, d.Int64At(b), 10), nil
	case 'u':
		return strconv.AppendUint(nil, uint64(d.Int64At(b)), 10), nil
	case 'f':
		if d.Fields != nil {
			return nil, nil
		}
		var f [8]byte
		binary.LittleEndian.PutUint64(f[:], math.Float64bits(d.Float64At(b)))
		return strconv.AppendQuote(nil, base64.StdEncoding.EncodeToString(f[:])), nil
	}
	return nil, nil
}

// ComplexFillAttr returns the _FillValue attribute with which xarray masks
// a Zarr v2 array of complex dtype d whose fill_value stays null
// (zarr-python 3.0.6 cannot read a complex fill_value), for the fill
// element b: its real part as a JSON number (NaN, Infinity as Python
// writes them) when the imaginary part is zero, or both parts are NaN.
// xarray compares every element of the attribute with the data, so no
// JSON value masks a complex number with a non-zero imaginary part (a
// [re, im] pair masks its parts as two real numbers): nil then, and for
// other dtypes.
func (d DType) ComplexFillAttr(b []byte) (json.RawMessage, error) {
	if d.Kind != 'c' || d.Fields != nil {
		return nil, nil
	}
	if len(b) < d.Size {
		return nil, invalid("fill of %d bytes for dtype %s of %d", len(b), d.Str, d.Size)
	}
	h := d.Size / 2
	re, _ := elem.Float(b[:h], d.Order(), h)
	im, _ := elem.Float(b[h:d.Size], d.Order(), h)
	switch {
	case im == 0, math.IsNaN(re) && math.IsNaN(im):
		return AppendFloat(nil, re), nil
	}
	return nil, nil
}

// EncodeFillV3 writes b as a Zarr v3 fill_value: as EncodeFill, except
// that a NaN other than the canonical quiet NaN keeps its bits as a hex
// string.
func (d DType) EncodeFillV3(b []byte) (json.RawMessage, error) {
	return d.encodeFill(b, true)
}

func (d DType) encodeFill(b []byte, v3 bool) (json.RawMessage, error) {
	if b == nil {
		return json.RawMessage("null"), nil
	}
	if d.Kind == 'O' {
		s, _ := json.Marshal(string(b))
		return s, nil
	}
	if len(b) < d.Size {
		return nil, invalid("fill of %d bytes for dtype %s of %d", len(b), d.Str, d.Size)
	}
	b = b[:d.Size]
	o := d.Order()
	switch {
	case d.Fields != nil || d.Kind == 'S' || d.Kind == 'V':
		return appendBase64(nil, b), nil
	case d.Kind == 'f':
		return appendFillFloat(nil, b, o, v3), nil
	case d.Kind == 'c':
		h := d.Size / 2
		out := append([]byte{'['}, appendFillFloat(nil, b[:h], o, v3)...)
		out = append(out, ',')
		out = append(out, appendFillFloat(nil, b[h:], o, v3)...)
		return append(out, ']'), nil
	case d.Kind == 'b':
		return strconv.AppendBool(nil, b[0] != 0), nil
	case d.Kind == 'u':
		u, _ := elem.Uint(b, o, d.Size)
		return strconv.AppendUint(nil, u, 10), nil
	case d.Kind == 'i' || d.Kind == 'M' || d.Kind == 'm':
		i, _ := elem.Int(b, o, d.Size)
		return strconv.AppendInt(nil, i, 10), nil
	case d.Kind == 'U':
		s, _ := json.Marshal(d.StringAt(b))
		return s, nil
	}
	return nil, unsupported("fill value of dtype %s", d.Str)
}

// appendFillFloat appends one float fill value.
func appendFillFloat(out, b []byte, o binary.ByteOrder, v3 bool) []byte {
	f, _ := elem.Float(b, o, len(b))
	if math.IsNaN(f) {
		if v3 && !canonicalNaN(b, o) {
			be := make([]byte, len(b))
			copy(be, b)
			if o == binary.LittleEndian {
				for i, j := 0, len(be)-1; i < j; i, j = i+1, j-1 {
					be[i], be[j] = be[j], be[i]
				}
			}
			return append(append(append(out, `"0x`...), hex.EncodeToString(be)...), '"')
		}
		return append(out, `"NaN"`...)
	}
	return AppendFillFloat(out, f)
}

// AppendFillFloat appends a float fill value in Zarr's v2 (and, for the
// canonical NaN, v3) encoding: "NaN", "Infinity", "-Infinity" as JSON
// strings, else the number as AppendFloat writes it.
func AppendFillFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(append(append(b, '"'), fillString(f)...), '"')
	}
	return AppendFloat(b, f)
}

// canonicalNaN reports the quiet NaN Zarr v3 means by "NaN": sign 0, the
// top mantissa bit set, the other mantissa bits 0.
func canonicalNaN(b []byte, o binary.ByteOrder) bool {
	switch len(b) {
	case 2:
		return o.Uint16(b) == 0x7e00
	case 4:
		return o.Uint32(b) == 0x7fc00000
	case 8:
		return o.Uint64(b) == 0x7ff8000000000000
	}
	return false
}

func appendBase64(b, data []byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, data)
	return append(b, '"')
}

// FillFloat returns the fill_value of a numeric dtype as a float64 (ok
// false for null, non-numeric dtypes and invalid values).
func (d DType) FillFloat(raw json.RawMessage) (float64, bool) {
	if !d.IsFloat() && !d.IsInteger() {
		return 0, false
	}
	b, err := d.DecodeFill(raw)
	if err != nil || b == nil {
		return 0, false
	}
	if d.IsFloat() {
		return d.Float64At(b), true
	}
	if d.Kind == 'u' {
		return float64(uint64(d.Int64At(b))), true
	}
	return float64(d.Int64At(b)), true
}
