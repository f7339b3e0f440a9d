package zarr

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/greensight/vzarr/internal/elem"
)

// DType is a Zarr v2 (NumPy) data type: a scalar such as "<f8", ">i2",
// "|u1", "|b1", "<c16", "|S12", "<U3", "|O", "<M8[s]", "|V8", or a
// structured type (Fields set).
type DType struct {
	// Str is the dtype as .zarray writes it: "<f4"; for a structured
	// dtype, its JSON list in compact form.
	Str string
	// Kind is NumPy's kind character: 'b' (bool), 'i', 'u', 'f', 'c'
	// (complex), 'S' (bytes), 'U' (UCS-4 text), 'V' (raw bytes, and
	// structured dtypes), 'O' (object: variable-length data), 'M'
	// (datetime64), 'm' (timedelta64).
	Kind byte
	// Size is the size of one element in bytes (0 for 'O').
	Size int
	// BigEndian is set for '>' dtypes of more than one byte.
	BigEndian bool
	// Unit is the unit of a datetime64 or timedelta64 dtype, as NumPy
	// writes it between brackets ("ns", "s", "D", "10s"); "" otherwise.
	Unit string
	// Object names the codec that stores the items of an 'O' dtype:
	// "vlen-utf8" (strings), "vlen-bytes", "vlen-array"; "" when unknown.
	// ArrayV2 sets it from the array's first filter.
	Object string
	// Fields are the members of a structured dtype, in order; see
	// NewStructured (packed) and NewStructuredLayout (offsets, padding).
	Fields []Field
}

// Field is one member of a structured dtype.
type Field struct {
	Name  string
	DType DType
	// Shape is the member's subarray shape (nil for a scalar member).
	Shape []int
	// Offset is the member's byte offset in the element (set by
	// NewStructured; given to NewStructuredLayout).
	Offset int
}

// Object codecs of 'O' dtypes.
const (
	VLenUTF8  = "vlen-utf8"
	VLenBytes = "vlen-bytes"
	VLenArray = "vlen-array"
)

// Bounds of what ParseDType accepts.
const (
	maxDTypeDepth = 32
	maxItemSize   = 1 << 30
)

// ParseDType parses a .zarray dtype: a JSON string ("<f4") or a structured
// dtype's JSON list. Errors wrap ErrInvalid (malformed) or ErrUnsupported
// (a dtype this package does not model).
func ParseDType(raw json.RawMessage) (DType, error) {
	return parseDType(bytes.TrimSpace(raw), 0)
}

func parseDType(raw []byte, depth int) (DType, error) {
	if depth > maxDTypeDepth {
		return DType{}, invalid("dtype nested more than %d deep", maxDTypeDepth)
	}
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return DType{}, invalid("dtype %.40s: %v", raw, err)
		}
		return ParseDTypeString(s)
	}
	if len(raw) > 0 && raw[0] == '{' {
		return parseDTypeDict(raw, depth)
	}
	var fields []json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return DType{}, invalid("dtype %.40s is neither a string, a list of fields nor a dict of fields", raw)
	}
	list := make([]Field, 0, len(fields))
	for _, f := range fields {
		var parts []json.RawMessage
		if err := json.Unmarshal(f, &parts); err != nil || len(parts) < 2 || len(parts) > 3 {
			return DType{}, invalid("dtype field %.40s is not [name, dtype] or [name, dtype, shape]", f)
		}
		var fd Field
		if err := json.Unmarshal(parts[0], &fd.Name); err != nil {
			return DType{}, invalid("dtype field name %.40s: %v", parts[0], err)
		}
		sub, err := parseDType(bytes.TrimSpace(parts[1]), depth+1)
		if err != nil {
			return DType{}, err
		}
		fd.DType = sub
		if len(parts) == 3 {
			if err := json.Unmarshal(parts[2], &fd.Shape); err != nil {
				return DType{}, invalid("dtype field %q shape %.40s: %v", fd.Name, parts[2], err)
			}
			if fd.Shape == nil {
				fd.Shape = []int{}
			}
		}
		list = append(list, fd)
	}
	return NewStructured(list)
}

// parseDTypeDict parses NumPy's dict form of a structured dtype:
// {"names": [...], "formats": [...], "offsets": [...], "itemsize": n}.
// Without offsets the members are packed in order; without itemsize the
// element ends after its last member. A format is a dtype string, with a
// subarray shape in front ("(2,3)<f4"), or a structured dtype in either
// form.
func parseDTypeDict(raw []byte, depth int) (DType, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return DType{}, invalid("dtype %.40s: %v", raw, err)
	}
	for k := range m {
		switch k {
		case "names", "formats", "offsets", "itemsize":
		default:
			return DType{}, unsupported("dtype dict key %q", k)
		}
	}
	var names []string
	var formats []json.RawMessage
	if err := json.Unmarshal(m["names"], &names); err != nil || names == nil {
		return DType{}, invalid("dtype dict %.40s: names is not a list of strings", raw)
	}
	if err := json.Unmarshal(m["formats"], &formats); err != nil || len(formats) != len(names) {
		return DType{}, invalid("dtype dict %.40s: formats is not a list of %d dtypes", raw, len(names))
	}
	fields := make([]Field, len(names))
	for i, f := range formats {
		fields[i].Name = names[i]
		f = bytes.TrimSpace(f)
		var s string
		if json.Unmarshal(f, &s) == nil && strings.HasPrefix(s, "(") {
			shape, rest, err := parseSubarray(s)
			if err != nil {
				return DType{}, err
			}
			fields[i].Shape = shape
			f, _ = json.Marshal(rest)
		}
		sub, err := parseDType(f, depth+1)
		if err != nil {
			return DType{}, err
		}
		fields[i].DType = sub
	}
	packed, err := NewStructured(fields)
	if err != nil {
		return DType{}, err
	}
	if m["offsets"] == nil && m["itemsize"] == nil {
		return packed, nil
	}
	itemSize := packed.Size
	if m["itemsize"] != nil {
		if err := json.Unmarshal(m["itemsize"], &itemSize); err != nil {
			return DType{}, invalid("dtype dict itemsize %.40s: %v", m["itemsize"], err)
		}
	}
	if m["offsets"] != nil {
		var offsets []int
		if err := json.Unmarshal(m["offsets"], &offsets); err != nil || len(offsets) != len(fields) {
			return DType{}, invalid("dtype dict offsets %.40s is not a list of %d integers", m["offsets"], len(fields))
		}
		for i := range fields {
			fields[i].Offset = offsets[i]
		}
	} else {
		for i := range fields {
			fields[i].Offset = packed.Fields[i].Offset
		}
	}
	return NewStructuredLayout(fields, itemSize)
}

// parseSubarray splits a NumPy format string with a subarray shape,
// "(2,3)<f4" or "(4,)|u1", into the shape and the dtype string.
func parseSubarray(s string) ([]int, string, error) {
	end := strings.IndexByte(s, ')')
	if end < 0 {
		return nil, "", invalid("dtype format %q", s)
	}
	shape := []int{}
	for _, p := range strings.Split(s[1:end], ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > maxItemSize {
			return nil, "", invalid("dtype format %q", s)
		}
		shape = append(shape, n)
	}
	return shape, s[end+1:], nil
}

// memberSize returns the bytes of one member: its dtype's size times its
// subarray's element count, or false past maxItemSize.
func (f Field) memberSize() (int, bool) {
	n := uint64(f.DType.Size)
	for _, x := range f.Shape {
		if x < 0 || x > maxItemSize {
			return 0, false
		}
		if n *= uint64(x); n > maxItemSize {
			return 0, false
		}
	}
	return int(n), true
}

// NewStructured returns the structured dtype of fields, packed in order
// (their Offset fields are set; Shape nil for scalar members). Names must
// be distinct and members fixed-size. Errors wrap ErrInvalid or
// ErrUnsupported.
func NewStructured(fields []Field) (DType, error) {
	list := make([]Field, len(fields))
	size := 0
	for i, fd := range fields {
		n, ok := fd.memberSize()
		if !ok {
			if slices.ContainsFunc(fd.Shape, func(x int) bool { return x < 0 || x > maxItemSize }) {
				return DType{}, invalid("dtype field %q shape %v", fd.Name, fd.Shape)
			}
			return DType{}, unsupported("structured dtype of more than %d bytes", maxItemSize)
		}
		if size+n > maxItemSize {
			return DType{}, unsupported("structured dtype of more than %d bytes", maxItemSize)
		}
		fd.Offset = size
		size += n
		list[i] = fd
	}
	return NewStructuredLayout(list, size)
}

// NewStructuredLayout returns the structured dtype of fields at their
// Offset in an element of itemSize bytes: the layout of a C struct or an
// HDF5 compound, with padding between members or after the last. Members
// may be in any order of offsets but must not overlap; names must be
// distinct and members fixed-size. A member that is itself structured
// with a subarray shape has no JSON form except in a packed dtype (NumPy's
// dict form of a member has no shape): NewStructuredLayout refuses it
// anywhere else. Errors wrap ErrInvalid or ErrUnsupported.
func NewStructuredLayout(fields []Field, itemSize int) (DType, error) {
	if itemSize < 0 || itemSize > maxItemSize {
		return DType{}, unsupported("structured dtype of %d bytes", itemSize)
	}
	d := DType{Kind: 'V', Size: itemSize, Fields: make([]Field, 0, len(fields))}
	seen := map[string]bool{}
	type span struct{ lo, hi int }
	spans := make([]span, 0, len(fields))
	for _, fd := range fields {
		if seen[fd.Name] {
			return DType{}, invalid("dtype field %q appears twice", fd.Name)
		}
		seen[fd.Name] = true
		if fd.DType.Kind == 'O' {
			return DType{}, unsupported("object field %q in a structured dtype", fd.Name)
		}
		n, ok := fd.memberSize()
		if !ok {
			return DType{}, invalid("dtype field %q shape %v", fd.Name, fd.Shape)
		}
		if fd.Offset < 0 || fd.Offset > itemSize-n {
			return DType{}, invalid("dtype field %q of %d bytes at offset %d outside the %d-byte element", fd.Name, n, fd.Offset, itemSize)
		}
		if n > 0 {
			spans = append(spans, span{fd.Offset, fd.Offset + n})
		}
		d.Fields = append(d.Fields, fd)
	}
	slices.SortFunc(spans, func(a, b span) int { return a.lo - b.lo })
	for i := 1; i < len(spans); i++ {
		if spans[i].lo < spans[i-1].hi {
			return DType{}, unsupported("structured dtype with overlapping fields")
		}
	}
	if err := d.checkExpressible(!d.Packed()); err != nil {
		return DType{}, err
	}
	d.Str = string(d.JSON())
	return d, nil
}

// checkExpressible refuses a structured member with a subarray shape in a
// dtype written in dict form (asDict: every structured member, and a
// padded top level).
func (d DType) checkExpressible(asDict bool) error {
	for _, f := range d.Fields {
		if f.DType.Fields == nil {
			continue
		}
		if asDict && f.Shape != nil {
			return unsupported("structured field %q with a subarray shape inside a padded or nested structured dtype", f.Name)
		}
		if err := f.DType.checkExpressible(true); err != nil {
			return err
		}
	}
	return nil
}

// Packed reports a structured dtype whose members follow each other in
// order from offset 0, with no padding between them or after the last;
// false for other dtypes.
func (d DType) Packed() bool {
	if d.Fields == nil {
		return false
	}
	off := 0
	for _, f := range d.Fields {
		n, _ := f.memberSize()
		if f.Offset != off {
			return false
		}
		off += n
	}
	return off == d.Size
}

// ParseDTypeString parses a scalar Zarr v2 dtype string such as "<f4".
func ParseDTypeString(s string) (DType, error) {
	d := DType{Str: s}
	bad := func() (DType, error) { return DType{}, unsupported("dtype %q", s) }
	if len(s) < 2 {
		return bad()
	}
	rest := s
	switch rest[0] {
	case '<', '>', '|', '=':
		d.BigEndian = rest[0] == '>'
		rest = rest[1:]
	}
	if rest == "" {
		return bad()
	}
	d.Kind = rest[0]
	num := rest[1:]
	if i := strings.IndexByte(num, '['); i >= 0 {
		if (d.Kind != 'M' && d.Kind != 'm') || !strings.HasSuffix(num, "]") {
			return bad()
		}
		d.Unit = num[i+1 : len(num)-1]
		if !validUnit(d.Unit) {
			return bad()
		}
		num = num[:i]
	}
	switch d.Kind {
	case 'O':
		if num != "" && num != "8" {
			return bad()
		}
		d.BigEndian = false
		return d, nil
	case 'b', 'i', 'u', 'f', 'c', 'S', 'U', 'V', 'M', 'm':
	default:
		return bad()
	}
	if num == "" && (d.Kind == 'M' || d.Kind == 'm') {
		num = "8"
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || n > maxItemSize/4 {
		return bad()
	}
	d.Size = n
	ok := true
	switch d.Kind {
	case 'b':
		ok = n == 1
	case 'i', 'u':
		ok = n == 1 || n == 2 || n == 4 || n == 8
	case 'f':
		ok = n == 2 || n == 4 || n == 8
	case 'c':
		ok = n == 8 || n == 16
	case 'M', 'm':
		ok = n == 8
	case 'U':
		d.Size = 4 * n
	}
	if !ok {
		return bad()
	}
	if d.Size <= 1 || d.Kind == 'S' || d.Kind == 'V' {
		d.BigEndian = false
	}
	return d, nil
}

// validUnit reports a NumPy time unit with an optional count ("10s").
func validUnit(u string) bool {
	i := 0
	for i < len(u) && u[i] >= '0' && u[i] <= '9' {
		i++
	}
	if i > 9 {
		return false
	}
	switch u[i:] {
	case "Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as", "generic":
		return true
	}
	return false
}

// JSON returns the dtype as .zarray writes it: a JSON string; for a
// packed structured dtype, the compact list of [name, dtype] or [name,
// dtype, shape] fields; for a padded one (offsets, itemsize), NumPy's dict
// form {"names", "formats", "offsets", "itemsize"}. A structured member is
// always written in dict form: zarr-python 3 turns only the top level of
// the list form into the tuples NumPy needs, and both zarr-python 2 and 3
// hand a dict to NumPy as it is.
func (d DType) JSON() json.RawMessage {
	switch {
	case d.Fields == nil:
		return appendString(nil, d.Str)
	case !d.Packed():
		return d.appendDict(nil)
	}
	b := []byte{'['}
	for i, f := range d.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendString(b, f.Name)
		b = append(b, ',')
		b = f.DType.appendMember(b)
		if f.Shape != nil {
			b = append(b, ',')
			sh, _ := json.Marshal(f.Shape)
			b = append(b, sh...)
		}
		b = append(b, ']')
	}
	return append(b, ']')
}

// appendMember appends the dtype of a structured dtype's member: a string,
// or a structured dtype in dict form.
func (d DType) appendMember(b []byte) []byte {
	if d.Fields == nil {
		return appendString(b, d.Str)
	}
	return d.appendDict(b)
}

// appendDict appends a structured dtype in NumPy's dict form. Subarray
// members of a scalar dtype are written as NumPy's "(2,3)<f4".
func (d DType) appendDict(b []byte) []byte {
	b = append(b, `{"names":[`...)
	for i, f := range d.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.Name)
	}
	b = append(b, `],"formats":[`...)
	for i, f := range d.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		if f.Shape == nil || f.DType.Fields != nil { // (structured with a shape: refused by NewStructuredLayout)
			b = f.DType.appendMember(b)
			continue
		}
		dims := make([]string, len(f.Shape))
		for k, x := range f.Shape {
			dims[k] = strconv.Itoa(x)
		}
		sub := "(" + strings.Join(dims, ",")
		if len(dims) == 1 {
			sub += "," // NumPy's one-tuple
		}
		b = appendString(b, sub+")"+f.DType.Str)
	}
	b = append(b, `],"offsets":[`...)
	for i, f := range d.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(f.Offset), 10)
	}
	b = append(b, `],"itemsize":`...)
	b = strconv.AppendInt(b, int64(d.Size), 10)
	return append(b, '}')
}

// MarshalJSON writes d as JSON.JSON.
func (d DType) MarshalJSON() ([]byte, error) { return d.JSON(), nil }

// UnmarshalJSON parses a dtype as ParseDType does.
func (d *DType) UnmarshalJSON(b []byte) error {
	v, err := ParseDType(b)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// String returns Str.
func (d DType) String() string { return d.Str }

// IsStructured reports a structured dtype.
func (d DType) IsStructured() bool { return d.Fields != nil }

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

// IsString reports a string dtype ('S', 'U' or 'O').
func (d DType) IsString() bool { return d.Kind == 'S' || d.Kind == 'U' || d.Kind == 'O' }

// TimeUnit returns the unit of a datetime64 or timedelta64 dtype ("ns",
// "s", "D", ...), or "" for other dtypes.
func (d DType) TimeUnit() string { return d.Unit }

// NumpyName returns the dtype's name by vzarr's one rule (see the package
// comment): "float32", "int16", "bool", "complex64", "datetime64[ns]",
// "S10", "U5", "V8", "str" (vlen-utf8 strings), "object", "compound".
func (d DType) NumpyName() string {
	n := strconv.Itoa(8 * d.Size)
	switch {
	case d.Fields != nil:
		return "compound"
	case d.Kind == 'b':
		return "bool"
	case d.Kind == 'i':
		return "int" + n
	case d.Kind == 'u':
		return "uint" + n
	case d.Kind == 'f':
		return "float" + n
	case d.Kind == 'c':
		return "complex" + n
	case d.Kind == 'M' || d.Kind == 'm':
		name := "datetime64"
		if d.Kind == 'm' {
			name = "timedelta64"
		}
		if d.Unit != "" {
			name += "[" + d.Unit + "]"
		}
		return name
	case d.Kind == 'O':
		if d.Object == VLenUTF8 {
			return "str"
		}
		return "object"
	case d.Kind == 'U':
		return "U" + strconv.Itoa(d.Size/4)
	}
	return string(d.Kind) + strconv.Itoa(d.Size)
}

// Order returns the byte order of the dtype's elements.
func (d DType) Order() binary.ByteOrder { return elem.Order(d.BigEndian) }

// Float64At decodes one element of a float dtype from b (Size bytes).
func (d DType) Float64At(b []byte) float64 {
	f, _ := elem.Float(b, d.Order(), d.Size)
	return f
}

// Int64At decodes one element of an integer-valued dtype from b (Size
// bytes); unsigned 64-bit values above MaxInt64 keep their bits.
func (d DType) Int64At(b []byte) int64 {
	switch d.Kind {
	case 'b':
		if b[0] != 0 {
			return 1
		}
		return 0
	case 'u':
		u, _ := elem.Uint(b, d.Order(), d.Size)
		return int64(u)
	}
	i, _ := elem.Int(b, d.Order(), d.Size)
	return i
}

// StringAt decodes one element of a fixed-size string dtype from b (Size
// bytes): 'S' bytes up to the trailing NULs (NumPy strips them), 'U' UCS-4
// code points up to the first NUL; other kinds give "".
func (d DType) StringAt(b []byte) string {
	switch d.Kind {
	case 'S':
		return string(bytes.TrimRight(b, "\x00"))
	case 'U':
		o := d.Order()
		var sb strings.Builder
		for i := 0; i+4 <= len(b); i += 4 {
			r := rune(o.Uint32(b[i:]))
			if r == 0 {
				break
			}
			if !utf8.ValidRune(r) {
				r = utf8.RuneError
			}
			sb.WriteRune(r)
		}
		return sb.String()
	}
	return ""
}

// PutFloat64 encodes v as one element of a numeric dtype into b (Size
// bytes). Integer dtypes require an integral v in range; float32 one that
// float32 holds exactly.
func (d DType) PutFloat64(b []byte, v float64) error {
	o := d.Order()
	switch d.Kind {
	case 'f':
		if !elem.PutFloat(b, o, d.Size, v) {
			return unsupported("writing %s", d.Str)
		}
		if d.Size == 4 && float64(float32(v)) != v && !math.IsNaN(v) {
			return invalid("%v does not fit %s exactly", v, d.Str)
		}
		return nil
	case 'i', 'u', 'M', 'm':
		if v != math.Trunc(v) || math.IsNaN(v) {
			return invalid("%v is not an integer, as %s needs", v, d.Str)
		}
		lo, end := d.intRange()
		if v < lo || v >= end {
			return invalid("%v is out of the range of %s", v, d.Str)
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
	return unsupported("writing numbers as %s", d.Str)
}

// intRange returns the range [lo, end) of an integer dtype, as float64.
func (d DType) intRange() (lo, end float64) {
	bits := d.Size * 8
	if d.Kind == 'u' {
		return 0, math.Ldexp(1, bits)
	}
	return -math.Ldexp(1, bits-1), math.Ldexp(1, bits-1)
}

// appendString appends s as a JSON string, escaping only what JSON
// requires (quotes, backslashes, control characters; invalid UTF-8 becomes
// U+FFFD), unlike encoding/json, which also escapes <, > and &.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}
