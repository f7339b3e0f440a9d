package hdf5meta

import (
	"encoding/binary"
	"math"
	"reflect"
	"strings"

	"github.com/greensight/vzarr/internal/elem"
	"github.com/greensight/vzarr/limits"
)

// Attribute is a decoded HDF5 attribute.
type Attribute struct {
	Name  string
	Type  *Datatype
	Space Dataspace
	// Raw is the attribute's data as stored (vlen elements hold global heap
	// references, not the data).
	Raw []byte
	// Value is the decoded value: a scalar Go value for scalar dataspaces
	// (int8..uint64, float32, float64, string, bool, []byte, map[string]any,
	// []any), a slice for simple dataspaces ([]float64, []int32, []string,
	// ...; flattened in C order), nil for null dataspaces.
	Value any
}

func (f *File) parseAttribute(m *message) (*Attribute, error) {
	d := f.newDecoder(m.data, m.off, "attribute message")
	version := d.u8()
	flags := d.u8()
	nameLen := int(d.u16())
	dtLen := int(d.u16())
	dsLen := int(d.u16())
	if version == 3 {
		d.u8() // name character set
	}
	if version < 1 || version > 3 {
		if d.err != nil {
			return nil, d.err
		}
		return nil, formatErr(m.off, "attribute message version %d", version)
	}
	pad := func(n int) int {
		if version == 1 {
			return (n + 7) &^ 7
		}
		return n
	}
	nameB := d.bytes(pad(nameLen))
	dtB := d.bytes(pad(dtLen))
	dsB := d.bytes(pad(dsLen))
	if d.err != nil {
		return nil, d.err
	}
	a := &Attribute{Name: strings.TrimRight(string(nameB[:min(nameLen, len(nameB))]), "\x00")}
	dtOff := m.off + int64(d.pos-len(dsB)-len(dtB))
	if flags&1 != 0 {
		t, err := f.sharedDatatype(dtB, dtOff)
		if err != nil {
			return nil, err
		}
		a.Type = t
	} else {
		t, err := f.parseDatatype(f.newDecoder(dtB, dtOff, "attribute datatype"), 0)
		if err != nil {
			return nil, err
		}
		a.Type = t
	}
	dsOff := dtOff + int64(len(dtB))
	var err error
	if flags&2 != 0 {
		rm, _, rerr := f.resolve(&message{typ: msgDataspace, flags: msgFlagShared, data: dsB, off: dsOff})
		if rerr != nil {
			return nil, rerr
		}
		a.Space, err = f.parseDataspace(f.newDecoder(rm.data, rm.off, "attribute dataspace"))
	} else {
		a.Space, err = f.parseDataspace(f.newDecoder(dsB, dsOff, "attribute dataspace"))
	}
	if err != nil {
		return nil, err
	}
	n := a.Space.NumElements()
	if a.Type.Size > 0 && n > uint64(d.remaining()/a.Type.Size) {
		return nil, truncatedErr(m.off, "attribute %q: %d elements of %d bytes in %d bytes", a.Name, n, a.Type.Size, d.remaining())
	}
	a.Raw = d.bytes(int(n) * a.Type.Size)
	if d.err != nil {
		return nil, d.err
	}
	if err := limits.CheckVar(limits.AttrBytes, "", "@"+a.Name, mulSat(n, uint64(a.Type.Size)), f.opts.limits.AttrBytes); err != nil {
		return nil, err
	}
	if a.Space.Kind != SpaceNull {
		if err := f.charge(mulSat(n, a.Type.nodes*valueCost), m.off, "attribute "+a.Name); err != nil {
			return nil, err
		}
		v, err := f.decodeValues(a.Type, a.Raw, int(n), a.Space.Kind == SpaceScalar)
		if err != nil {
			return nil, withPath(err, "@"+a.Name)
		}
		a.Value = v
	}
	return a, nil
}

// sharedDatatype decodes a datatype stored as a shared message reference.
func (f *File) sharedDatatype(b []byte, off int64) (*Datatype, error) {
	rm, committed, err := f.resolve(&message{typ: msgDatatype, flags: msgFlagShared, data: b, off: off})
	if err != nil {
		return nil, err
	}
	t, err := f.parseDatatype(f.newDecoder(rm.data, rm.off, "committed datatype"), 0)
	if err != nil {
		return nil, err
	}
	t.Committed = committed
	return t, nil
}

// decodeValues decodes n elements of type t from raw. A scalar returns the
// element itself; otherwise a typed slice where one exists, else []any.
func (f *File) decodeValues(t *Datatype, raw []byte, n int, scalar bool) (any, error) {
	if t.Size == 0 || len(raw) < n*t.Size {
		return nil, formatErr(-1, "value of %d bytes for %d elements of %d bytes", len(raw), n, t.Size)
	}
	if scalar {
		return f.decodeElement(t, raw[:t.Size], 0)
	}
	switch {
	case t.Class == ClassFloat && t.Size == 8:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(order(t).Uint64(raw[i*8:]))
		}
		return out, nil
	case t.Class == ClassFloat && t.Size == 4:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(order(t).Uint32(raw[i*4:]))
		}
		return out, nil
	case t.Class == ClassString || t.IsVarLenString():
		out := make([]string, n)
		for i := range out {
			v, err := f.decodeElement(t, raw[i*t.Size:(i+1)*t.Size], 0)
			if err != nil {
				return nil, err
			}
			out[i] = v.(string)
		}
		return out, nil
	}
	out := make([]any, n)
	for i := range out {
		v, err := f.decodeElement(t, raw[i*t.Size:(i+1)*t.Size], 0)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	// Integers come back as typed slices, which keep their width in JSON
	// encoders that care and are cheaper to use.
	if t.Class == ClassFixedPoint {
		return typedIntSlice(t, out), nil
	}
	return out, nil
}

func typedIntSlice(t *Datatype, vals []any) any {
	var proto any
	switch {
	case len(vals) > 0:
		proto = vals[0]
	case t.Size == 1 || t.Size == 2 || t.Size == 4 || t.Size == 8:
		// An empty dataspace: no element to take the Go type from, so
		// take it from the datatype as decodeElement does.
		proto = fixedValue(t, 0)
	}
	switch proto.(type) {
	case int8, int16, int32, int64, uint8, uint16, uint32, uint64:
	default:
		return vals
	}
	out := reflect.MakeSlice(reflect.SliceOf(reflect.TypeOf(proto)), len(vals), len(vals))
	for i, v := range vals {
		out.Index(i).Set(reflect.ValueOf(v))
	}
	return out.Interface()
}

func order(t *Datatype) binary.ByteOrder { return elem.Order(t.BigEndian) }

// fixedValue is the fixed-point element u of type t as the Go integer of
// its size and sign.
func fixedValue(t *Datatype, u uint64) any {
	if t.Signed {
		switch t.Size {
		case 1:
			return int8(u)
		case 2:
			return int16(u)
		case 4:
			return int32(u)
		}
		return int64(u)
	}
	switch t.Size {
	case 1:
		return uint8(u)
	case 2:
		return uint16(u)
	case 4:
		return uint32(u)
	}
	return u
}

// decodeElement decodes one element of type t.
func (f *File) decodeElement(t *Datatype, b []byte, depth int) (any, error) {
	if depth > maxTypeDepth {
		return nil, formatErr(-1, "value nested too deep")
	}
	if len(b) < t.Size {
		return nil, formatErr(-1, "element of %d bytes, want %d", len(b), t.Size)
	}
	bo := order(t)
	switch t.Class {
	case ClassFixedPoint:
		u, ok := elem.Uint(b, bo, t.Size)
		if !ok {
			return append([]byte(nil), b[:t.Size]...), nil
		}
		return fixedValue(t, u), nil
	case ClassFloat:
		if t.MantNorm == FloatNormImplied && !t.IsIEEEFloat() { // bfloat16 and other layouts
			if v, err := t.FloatAt(b); err == nil {
				return v, nil
			}
		}
		switch t.Size {
		case 4:
			return math.Float32frombits(bo.Uint32(b)), nil
		case 8:
			return math.Float64frombits(bo.Uint64(b)), nil
		case 2:
			return elem.Float16(bo.Uint16(b)), nil
		}
		return append([]byte(nil), b[:t.Size]...), nil
	case ClassString:
		return trimString(b[:t.Size], t.StringPad), nil
	case ClassVarLen:
		data, count, err := f.vlenData(b)
		if err != nil {
			return nil, err
		}
		if t.VarLenString {
			if err := limits.Check(limits.StringBytes, uint64(len(data)), f.opts.limits.StringBytes); err != nil {
				return nil, err
			}
		}
		// Many elements may name one large heap object (or, nested, each
		// other): charge every fetch, so they cannot multiply the file.
		cost := uint64(len(data)) + valueCost
		if !t.VarLenString {
			cost = satAdd(cost, mulSat(min(uint64(count), uint64(len(data))), t.Base.nodes*valueCost))
		}
		if err := f.charge(cost, -1, "vlen value"); err != nil {
			return nil, err
		}
		if t.VarLenString {
			if uint64(count) > uint64(len(data)) {
				count = uint32(len(data))
			}
			return trimString(data[:count], t.StringPad), nil
		}
		bs := t.Base.Size
		if bs == 0 || uint64(count)*uint64(bs) > uint64(len(data)) {
			return nil, formatErr(-1, "vlen sequence of %d elements in %d bytes", count, len(data))
		}
		out := make([]any, count)
		for i := range out {
			v, err := f.decodeElement(t.Base, data[i*bs:], depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case ClassEnum:
		v, err := f.decodeElement(t.Base, b, depth+1)
		if err != nil {
			return nil, err
		}
		if t.isBool() {
			return b[0] != 0, nil
		}
		return v, nil
	case ClassCompound:
		out := make(map[string]any, len(t.Members))
		for _, m := range t.Members {
			v, err := f.decodeElement(m.Type, b[m.Offset:m.Offset+m.Type.Size], depth+1)
			if err != nil {
				return nil, err
			}
			out[m.Name] = v
		}
		return out, nil
	case ClassArray:
		// Saturating: dimensions whose product overflows must fail the
		// check, not wrap to a negative length.
		nn := uint64(1)
		for _, d := range t.Dims {
			nn = mulSat(nn, uint64(d))
		}
		bs := t.Base.Size
		if bs == 0 || mulSat(nn, uint64(bs)) > uint64(len(b)) {
			return nil, formatErr(-1, "array of %d elements in %d bytes", nn, len(b))
		}
		n := int(nn)
		out := make([]any, n)
		for i := range out {
			v, err := f.decodeElement(t.Base, b[i*bs:(i+1)*bs], depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case ClassReference:
		if t.RefType == RefObject && t.Size >= f.offSize {
			d := f.newDecoder(b, -1, "object reference")
			return d.addr(), d.err
		}
		return append([]byte(nil), b[:t.Size]...), nil
	}
	return append([]byte(nil), b[:t.Size]...), nil
}

// vlenData follows a vlen element (count, global heap collection address,
// object index) to its data.
func (f *File) vlenData(b []byte) ([]byte, uint32, error) {
	d := f.newDecoder(b, -1, "vlen element")
	count := d.u32()
	addr := d.addr()
	idx := d.u32()
	if d.err != nil {
		return nil, 0, d.err
	}
	if count == 0 || addr == 0 || addr == undefAddr {
		return nil, 0, nil
	}
	data, err := f.globalHeapObject(addr, idx)
	return data, count, err
}

func trimString(b []byte, pad StringPad) string {
	switch pad {
	case PadNullTerm:
		for i, c := range b {
			if c == 0 {
				return string(b[:i])
			}
		}
		return string(b)
	case PadNull:
		return strings.TrimRight(string(b), "\x00")
	case PadSpace:
		return strings.TrimRight(string(b), " ")
	}
	return string(b)
}
