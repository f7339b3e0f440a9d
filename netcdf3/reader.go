package netcdf3

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strings"

	"github.com/greensight/vzarr/limits"
)

// initialRead is how many bytes Open reads first; most headers fit.
const initialRead = 64 << 10

// List tags.
const (
	tagAbsent    = 0
	tagDimension = 0x0A
	tagVariable  = 0x0B
	tagAttribute = 0x0C
)

// Open reads the header of the netCDF classic file of the given size that r
// reads. It reads the first 64 KiB (or the whole file, if smaller) in one
// ReadAt call, and more only for a header that is longer. Open does not keep
// r.
//
// Besides parsing, Open checks what netCDF-C checks when it opens a file (dim
// ids, the unlimited dimension first, variables' offsets in order and after
// the header, the CDF-1/CDF-2 size limits) and also that every variable's
// data lies inside the file, so that Var.Slab never points past its end.
//
// The header's own numbers are checked against the file size before
// anything is allocated; attribute values and names are also checked
// against the limits set with WithLimits (by default those of
// limits.Default()), failing with a *limits.Error.
func Open(r io.ReaderAt, size int64, opts ...Option) (*File, error) {
	return open(r, size, initialRead, opts...)
}

// Option configures Open.
type Option func(*decoder)

// WithLimits sets the limits Open checks: Limits.AttrBytes bounds one
// attribute's values, Limits.StringBytes one name. Zero fields take the
// defaults.
func WithLimits(l limits.Limits) Option {
	return func(d *decoder) { d.lim = l.WithDefaults() }
}

func open(r io.ReaderAt, size int64, initial int64, opts ...Option) (*File, error) {
	if size < 0 {
		return nil, &FormatError{0, fmt.Sprintf("negative file size %d", size), ErrFormat}
	}
	d := &decoder{r: r, size: size, lim: limits.Default()}
	for _, o := range opts {
		o(d)
	}
	if err := d.fill(min(initial, size)); err != nil {
		return nil, err
	}
	f, err := d.header()
	if err != nil {
		return nil, err
	}
	return f, nil
}

// decoder reads the header sequentially from a buffer that holds the file's
// first len(buf) bytes and grows on demand.
type decoder struct {
	r      io.ReaderAt
	size   int64
	buf    []byte
	off    int64
	format Format
	loc    location // what is being read, for error messages
	lim    limits.Limits
}

// location names the header element being read. It is kept as parts and
// formatted only for an error, so that parsing allocates no strings for it.
type location struct {
	kind      string // "dimension", "global attribute", "variable" or ""
	index     int
	name      string
	named     bool
	attr      int // attribute of a variable, when inAttr
	attrName  string
	attrNamed bool
	inAttr    bool
}

func (l *location) String() string {
	if l.kind == "" {
		return ""
	}
	s := fmt.Sprintf("%s %d", l.kind, l.index)
	if l.named {
		s += fmt.Sprintf(" %q", l.name)
	}
	if l.inAttr {
		s += fmt.Sprintf(": attribute %d", l.attr)
		if l.attrNamed {
			s += fmt.Sprintf(" %q", l.attrName)
		}
	}
	return s + ": "
}

// path names the element being read for a limit error: "@title" for a
// global attribute, "tas@units" for a variable's, "tas" for a variable,
// else the location as String gives it.
func (l *location) path() string {
	switch {
	case l.kind == "global attribute" && l.named:
		return "@" + l.name
	case l.kind == "variable" && l.named && l.inAttr && l.attrNamed:
		return l.name + "@" + l.attrName
	case l.kind == "variable" && l.named && !l.inAttr:
		return l.name
	}
	return strings.TrimSuffix(l.String(), ": ")
}

func (d *decoder) fail(sentinel error, off int64, format string, args ...any) error {
	return &FormatError{Offset: off, What: d.loc.String() + fmt.Sprintf(format, args...), Err: sentinel}
}

// remaining returns the number of file bytes after the read position.
func (d *decoder) remaining() int64 { return d.size - d.off }

// fill makes buf hold the first n bytes of the file (n <= size).
func (d *decoder) fill(n int64) error {
	have := int64(len(d.buf))
	if n <= have {
		return nil
	}
	if n > math.MaxInt {
		return d.fail(ErrUnsupported, have, "header longer than this platform can hold")
	}
	nb := make([]byte, n)
	copy(nb, d.buf)
	got, err := d.r.ReadAt(nb[have:], have)
	if int64(got) < n-have {
		if err == nil || errors.Is(err, io.EOF) {
			return d.fail(ErrTruncated, have+int64(got), "file ends before its stated size %d", d.size)
		}
		return fmt.Errorf("netcdf3: reading bytes %d-%d: %w", have, n, err)
	}
	d.buf = nb
	return nil
}

// next returns the next n bytes of the header and advances past them.
func (d *decoder) next(n int64, what string) ([]byte, error) {
	if n < 0 || n > d.remaining() {
		return nil, d.fail(ErrTruncated, d.off, "%s: %d bytes needed, %d left", what, n, max(d.remaining(), 0))
	}
	end := d.off + n
	if end > int64(len(d.buf)) {
		// Grow geometrically so that a long header takes few reads.
		if err := d.fill(min(max(end, 2*int64(len(d.buf))), d.size)); err != nil {
			return nil, err
		}
	}
	b := d.buf[d.off:end]
	d.off = end
	return b, nil
}

func (d *decoder) uint32(what string) (uint32, error) {
	b, err := d.next(4, what)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

func (d *decoder) uint64(what string) (uint64, error) {
	b, err := d.next(8, what)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(b), nil
}

// sizeLen is the size of the NON_NEG fields: counts, lengths, vsize.
func (d *decoder) sizeLen() int64 {
	if d.format == Data64 {
		return 8
	}
	return 4
}

// offsetLen is the size of the begin field.
func (d *decoder) offsetLen() int64 {
	if d.format == Classic {
		return 4
	}
	return 8
}

// nonNeg reads a count, length or vsize: 32-bit unsigned in CDF-1/CDF-2 (as
// netCDF-C reads them), 64-bit in CDF-5 where values past 2^63-1 are errors.
func (d *decoder) nonNeg(what string) (int64, error) {
	at := d.off
	if d.format != Data64 {
		v, err := d.uint32(what)
		return int64(v), err
	}
	v, err := d.uint64(what)
	if err != nil {
		return 0, err
	}
	if v > math.MaxInt64 {
		return 0, d.fail(ErrFormat, at, "%s: value %d out of range", what, v)
	}
	return int64(v), nil
}

// signed reads a dim id or an offset: a signed 32-bit integer, or a signed
// 64-bit one when wide, and rejects negative values.
func (d *decoder) signed(wide bool, what string) (int64, error) {
	at := d.off
	var v int64
	if wide {
		u, err := d.uint64(what)
		if err != nil {
			return 0, err
		}
		v = int64(u)
	} else {
		u, err := d.uint32(what)
		if err != nil {
			return 0, err
		}
		v = int64(int32(u))
	}
	if v < 0 {
		return 0, d.fail(ErrFormat, at, "%s: negative value %d", what, v)
	}
	return v, nil
}

// count reads the element count of a list whose elements take at least
// minBytes each, and checks that the file has room for them before the caller
// allocates anything.
func (d *decoder) count(minBytes int64, what string) (int, error) {
	at := d.off
	n, err := d.nonNeg(what)
	if err != nil {
		return 0, err
	}
	if n > d.remaining()/minBytes {
		return 0, d.fail(ErrTruncated, at, "%s: %d elements do not fit in the %d bytes left", what, n, d.remaining())
	}
	if n > math.MaxInt {
		return 0, d.fail(ErrUnsupported, at, "%s: %d elements are more than this platform can hold", what, n)
	}
	return int(n), nil
}

// pad4 rounds n up to a multiple of 4; n must be at most MaxInt64-3.
func pad4(n int64) int64 { return (n + 3) &^ 3 }

// name reads a name: its length, then its bytes padded to 4. NULs that
// end the name within its length are padding, which netCDF-C strips (its
// names are C strings): "yy\x00" is "yy".
func (d *decoder) name(what string) (string, error) {
	at := d.off
	n, err := d.nonNeg(what)
	if err != nil {
		return "", err
	}
	if n > d.remaining() {
		return "", d.fail(ErrTruncated, at, "%s: length %d exceeds the %d bytes left", what, n, d.remaining())
	}
	if err := limits.CheckVar(limits.StringBytes, "", d.loc.path(), uint64(n), d.lim.StringBytes); err != nil {
		return "", err
	}
	b, err := d.next(pad4(n), what)
	if err != nil {
		return "", err
	}
	return string(bytes.TrimRight(b[:n], "\x00")), nil
}

// listHeader reads a list's tag and element count; an empty list may be
// tagged ABSENT (zero) or with its own tag.
func (d *decoder) listHeader(tag uint32, minBytes int64, what string) (int, error) {
	at := d.off
	t, err := d.uint32(what)
	if err != nil {
		return 0, err
	}
	n, err := d.count(minBytes, what)
	if err != nil {
		return 0, err
	}
	if t != tag && (t != tagAbsent || n != 0) {
		return 0, d.fail(ErrFormat, at, "%s: tag 0x%x, want 0x%x", what, t, tag)
	}
	return n, nil
}

func (d *decoder) ncType(what string) (Type, error) {
	at := d.off
	v, err := d.uint32(what)
	if err != nil {
		return 0, err
	}
	t := Type(v)
	switch {
	case t.valid():
		return t, nil
	case t == typeString:
		return 0, d.fail(ErrUnsupported, at, "%s: NC_STRING is a netCDF-4 type", what)
	}
	return 0, d.fail(ErrFormat, at, "%s: unknown type %d", what, v)
}

func (d *decoder) header() (*File, error) {
	magic, err := d.next(min(4, d.size), "magic number")
	if err != nil {
		return nil, err
	}
	if string(magic[:min(3, len(magic))]) != "CDF"[:min(3, len(magic))] {
		return nil, d.fail(ErrFormat, 0, "not a netCDF classic file (magic %q)", magic)
	}
	if len(magic) < 4 {
		return nil, d.fail(ErrTruncated, 0, "magic number: %d bytes needed, %d left", 4, len(magic))
	}
	switch Format(magic[3]) {
	case Classic, Offset64, Data64:
		d.format = Format(magic[3])
	default:
		return nil, d.fail(ErrUnsupported, 3, "unknown format version %d", magic[3])
	}
	f := &File{Format: d.format}

	// numrecs: STREAMING is all ones.
	at := d.off
	var numrecs uint64
	if d.format == Data64 {
		numrecs, err = d.uint64("numrecs")
		if err == nil && numrecs == math.MaxUint64 {
			f.Streaming = true
		}
	} else {
		var n32 uint32
		n32, err = d.uint32("numrecs")
		numrecs = uint64(n32)
		f.Streaming = n32 == math.MaxUint32
	}
	if err != nil {
		return nil, err
	}
	if !f.Streaming {
		if numrecs > math.MaxInt64 {
			return nil, d.fail(ErrFormat, at, "numrecs %d out of range", numrecs)
		}
		f.NumRecs = int64(numrecs)
	}

	if f.Dims, err = d.dims(); err != nil {
		return nil, err
	}
	if f.Attrs, err = d.attrs(true); err != nil {
		return nil, err
	}
	if f.Vars, err = d.vars(f.Dims); err != nil {
		return nil, err
	}
	f.HeaderSize = d.off
	d.loc = location{}
	if err := d.layout(f); err != nil {
		return nil, err
	}
	return f, nil
}

func (d *decoder) dims() ([]Dim, error) {
	n, err := d.listHeader(tagDimension, 2*d.sizeLen(), "dimension list")
	if err != nil {
		return nil, err
	}
	dims := make([]Dim, n)
	unlimited := -1
	for i := range dims {
		at := d.off
		d.loc = location{kind: "dimension", index: i}
		if dims[i].Name, err = d.name("name"); err != nil {
			return nil, err
		}
		d.loc.name, d.loc.named = dims[i].Name, true
		if dims[i].Len, err = d.nonNeg("length"); err != nil {
			return nil, err
		}
		if dims[i].Len == 0 {
			if unlimited >= 0 {
				return nil, d.fail(ErrFormat, at, "a second unlimited dimension (the first is %q)", dims[unlimited].Name)
			}
			unlimited = i
			dims[i].Unlimited = true
		}
	}
	d.loc = location{}
	return dims, nil
}

// attrs reads an attribute list: the global one when global, else that of
// the variable d.loc names.
func (d *decoder) attrs(global bool) ([]Attr, error) {
	// name length + type + nelems
	n, err := d.listHeader(tagAttribute, 2*d.sizeLen()+4, "attribute list")
	if err != nil {
		return nil, err
	}
	attrs := make([]Attr, n)
	for i := range attrs {
		if global {
			d.loc = location{kind: "global attribute", index: i}
		} else {
			d.loc.inAttr, d.loc.attr, d.loc.attrNamed = true, i, false
		}
		if attrs[i], err = d.attr(global); err != nil {
			return nil, err
		}
	}
	if global {
		d.loc = location{}
	} else {
		d.loc.inAttr = false
	}
	return attrs, nil
}

func (d *decoder) attr(global bool) (Attr, error) {
	var a Attr
	var err error
	if a.Name, err = d.name("name"); err != nil {
		return a, err
	}
	if global {
		d.loc.name, d.loc.named = a.Name, true
	} else {
		d.loc.attrName, d.loc.attrNamed = a.Name, true
	}
	if a.Type, err = d.ncType("type"); err != nil {
		return a, err
	}
	at := d.off
	n, err := d.nonNeg("count")
	if err != nil {
		return a, err
	}
	size := int64(a.Type.Size())
	if n > d.remaining()/size {
		return a, d.fail(ErrTruncated, at, "%d values of %d bytes exceed the %d bytes left", n, size, d.remaining())
	}
	if err := limits.CheckVar(limits.AttrBytes, "", d.loc.path(), uint64(n*size), d.lim.AttrBytes); err != nil {
		return a, err
	}
	b, err := d.next(pad4(n*size), "values")
	if err != nil {
		return a, err
	}
	a.Value = decodeValues(a.Type, b[:n*size], int(n))
	return a, nil
}

// decodeValues decodes n big-endian values of type t from b.
func decodeValues(t Type, b []byte, n int) any {
	be := binary.BigEndian
	switch t {
	case Char:
		return string(b)
	case Byte:
		return decodeEach(b, n, 1, func(b []byte) int8 { return int8(b[0]) })
	case UByte:
		return append([]uint8{}, b...)
	case Short:
		return decodeEach(b, n, 2, func(b []byte) int16 { return int16(be.Uint16(b)) })
	case UShort:
		return decodeEach(b, n, 2, be.Uint16)
	case Int:
		return decodeEach(b, n, 4, func(b []byte) int32 { return int32(be.Uint32(b)) })
	case UInt:
		return decodeEach(b, n, 4, be.Uint32)
	case Float:
		return decodeEach(b, n, 4, func(b []byte) float32 { return math.Float32frombits(be.Uint32(b)) })
	case Int64:
		return decodeEach(b, n, 8, func(b []byte) int64 { return int64(be.Uint64(b)) })
	case UInt64:
		return decodeEach(b, n, 8, be.Uint64)
	case Double:
		return decodeEach(b, n, 8, func(b []byte) float64 { return math.Float64frombits(be.Uint64(b)) })
	}
	return nil
}

// decodeEach decodes n values of size bytes each from b with one.
func decodeEach[T any](b []byte, n, size int, one func([]byte) T) []T {
	v := make([]T, n)
	for i := range v {
		v[i] = one(b[size*i:])
	}
	return v
}

func (d *decoder) vars(dims []Dim) ([]Var, error) {
	// name length, rank, attribute list tag and count, type, vsize, begin
	minVar := 3*d.sizeLen() + 4 + 4 + d.sizeLen() + d.offsetLen()
	n, err := d.listHeader(tagVariable, minVar, "variable list")
	if err != nil {
		return nil, err
	}
	vars := make([]Var, n)
	for i := range vars {
		if err := d.variable(&vars[i], i, dims); err != nil {
			return nil, err
		}
	}
	d.loc = location{}
	return vars, nil
}

func (d *decoder) variable(v *Var, i int, dims []Dim) error {
	d.loc = location{kind: "variable", index: i}
	var err error
	if v.Name, err = d.name("name"); err != nil {
		return err
	}
	d.loc.name, d.loc.named = v.Name, true
	wide := d.format == Data64
	idLen := int64(4)
	if wide {
		idLen = 8
	}
	rank, err := d.count(idLen, "rank")
	if err != nil {
		return err
	}
	v.DimIDs = make([]int, rank)
	v.Dims = make([]string, rank)
	v.Shape = make([]int64, rank)
	for j := range v.DimIDs {
		at := d.off
		id, err := d.signed(wide, "dimension id")
		if err != nil {
			return err
		}
		if id >= int64(len(dims)) {
			return d.fail(ErrFormat, at, "dimension id %d out of range [0, %d)", id, len(dims))
		}
		dim := dims[id]
		if dim.Unlimited {
			if j != 0 {
				return d.fail(ErrFormat, at, "unlimited dimension %q not first", dim.Name)
			}
			v.IsRecord = true
		}
		v.DimIDs[j] = int(id)
		v.Dims[j] = dim.Name
		v.Shape[j] = dim.Len
	}
	if v.Attrs, err = d.attrs(false); err != nil {
		return err
	}
	if v.Type, err = d.ncType("type"); err != nil {
		return err
	}
	if v.VSize, err = d.nonNeg("vsize"); err != nil {
		return err
	}
	if v.Begin, err = d.signed(d.format != Classic, "begin"); err != nil {
		return err
	}
	return nil
}

// mul returns a*b for non-negative a and b, and false on overflow.
func mul(a, b int64) (int64, bool) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	return int64(lo), true
}

// add returns a+b for non-negative a and b, and false on overflow.
func add(a, b int64) (int64, bool) {
	s := a + b
	return s, s >= a
}

// layout computes each variable's sizes and the record size as netCDF-C does
// (NC_computeshapes), runs netCDF-C's checks (NC_check_vlens,
// NC_check_voffs), resolves a STREAMING record count, and checks that all
// data lie inside the file.
func (d *decoder) layout(f *File) error {
	fail := func(sentinel error, v *Var, format string, args ...any) error {
		return d.fail(sentinel, f.HeaderSize, "variable %q: %s", v.Name, fmt.Sprintf(format, args...))
	}
	// Sizes from shapes. lens[i] is the padded size (netCDF-C's len).
	lens := make([]int64, len(f.Vars))
	var recVars []int
	for i := range f.Vars {
		v := &f.Vars[i]
		size := int64(v.Type.Size())
		start := 0
		if v.IsRecord {
			start = 1
			recVars = append(recVars, i)
		}
		for _, n := range v.Shape[start:] {
			var ok bool
			if size, ok = mul(size, n); !ok {
				return fail(ErrFormat, v, "size overflows 64 bits")
			}
		}
		if size > math.MaxInt64-3 {
			return fail(ErrFormat, v, "size overflows 64 bits")
		}
		v.slabSize = size
		lens[i] = pad4(size)
	}
	if err := d.checkVlens(f, lens); err != nil {
		return err
	}

	// Record size: the sum of the padded per-record sizes, or the unpadded
	// size of the only record variable.
	for _, i := range recVars {
		var ok bool
		if f.RecordSize, ok = add(f.RecordSize, lens[i]); !ok {
			return fail(ErrFormat, &f.Vars[i], "record size overflows 64 bits")
		}
	}
	if len(recVars) == 1 {
		f.RecordSize = f.Vars[recVars[0]].slabSize
	}

	// Offsets: after the header, and in definition order within the fixed
	// and the record sections, which do not overlap (NC_check_voffs).
	prevEnd := f.HeaderSize
	var prev *Var
	for pass := 0; pass < 2; pass++ {
		for i := range f.Vars {
			v := &f.Vars[i]
			if v.IsRecord != (pass == 1) {
				continue
			}
			if v.Begin < prevEnd {
				section := "the header"
				if prev != nil {
					section = fmt.Sprintf("variable %q", prev.Name)
				}
				return fail(ErrFormat, v, "begin %d overlaps %s, which ends at %d", v.Begin, section, prevEnd)
			}
			var ok bool
			if prevEnd, ok = add(v.Begin, lens[i]); !ok {
				return fail(ErrFormat, v, "end offset overflows 64 bits")
			}
			prev = v
		}
	}

	if f.Streaming {
		// The number of records whose data (not counting the padding
		// after the last record variable) lie inside the file.
		f.NumRecs = 0
		if len(recVars) > 0 {
			first := f.Vars[recVars[0]].Begin
			last := &f.Vars[recVars[len(recVars)-1]]
			tail := last.Begin - first + last.slabSize // data bytes of one record
			if d.size-first >= tail {
				f.NumRecs = (d.size-first-tail)/f.RecordSize + 1
			}
		}
	}
	for i := range f.Dims {
		if f.Dims[i].Unlimited {
			f.Dims[i].Len = f.NumRecs
		}
	}

	for i := range f.Vars {
		v := &f.Vars[i]
		v.numSlabs = 1
		if v.IsRecord {
			v.Shape[0] = f.NumRecs
			v.numSlabs = f.NumRecs
			v.stride = f.RecordSize
		}
		if v.numSlabs == 0 {
			continue
		}
		// End of the last slab's data: Begin + (numSlabs-1)*stride + slabSize.
		end, ok := mul(v.numSlabs-1, v.stride)
		if ok {
			end, ok = add(end, v.Begin)
		}
		if ok {
			end, ok = add(end, v.slabSize)
		}
		if !ok || end > d.size {
			if !ok {
				end = math.MaxInt64
			}
			return fail(ErrTruncated, v, "data end past the end of the file (%d > %d)", end, d.size)
		}
	}
	return nil
}

// checkVlens applies netCDF-C's NC_check_vlens: in CDF-1 and CDF-2 a
// variable (or one record of it) may exceed the 32-bit size limit only if it
// is the last fixed-size variable and there are no record variables, or the
// last record variable.
func (d *decoder) checkVlens(f *File, lens []int64) error {
	if len(f.Vars) == 0 {
		return nil
	}
	var vlenMax int64
	switch d.format {
	case Data64:
		vlenMax = math.MaxInt64 - 3
	case Offset64:
		vlenMax = math.MaxUint32 - 3
	default:
		vlenMax = math.MaxInt32 - 3
	}
	bad := func(v *Var, why string) error {
		return d.fail(ErrFormat, f.HeaderSize, "variable %q: size %d exceeds the %s limit: %s", v.Name, v.slabSize, d.format, why)
	}
	for pass := 0; pass < 2; pass++ {
		large, last, recs := 0, false, 0
		var largeVar *Var
		for i := range f.Vars {
			v := &f.Vars[i]
			if v.IsRecord {
				recs++
			}
			if v.IsRecord != (pass == 1) {
				continue
			}
			last = false
			if v.slabSize > vlenMax {
				if d.format == Data64 {
					return bad(v, "too large")
				}
				large++
				last = true
				largeVar = v
			}
		}
		if large > 1 {
			return bad(largeVar, "only one variable may be that large")
		}
		if large == 1 && !last {
			return bad(largeVar, "only the last variable may be that large")
		}
		if pass == 0 && large == 1 && recs > 0 {
			return bad(largeVar, "not with record variables")
		}
	}
	return nil
}
