package hdf5meta

import (
	"fmt"
	"strings"

	"github.com/greensight/vzarr/zarr"
)

// Class is an HDF5 datatype class.
type Class int

// Datatype classes (HDF5 File Format Specification, IV.A.2.d).
const (
	ClassFixedPoint Class = 0
	ClassFloat      Class = 1
	ClassTime       Class = 2
	ClassString     Class = 3
	ClassBitfield   Class = 4
	ClassOpaque     Class = 5
	ClassCompound   Class = 6
	ClassReference  Class = 7
	ClassEnum       Class = 8
	ClassVarLen     Class = 9
	ClassArray      Class = 10
)

// enumName returns names[v], the name of an enumeration value of the
// package numbered from 0, or false when v has none.
func enumName[T ~int](v T, names []string) (string, bool) {
	if v >= 0 && int(v) < len(names) {
		return names[v], true
	}
	return "", false
}

var classNames = [...]string{"fixed-point", "float", "time", "string", "bitfield", "opaque",
	"compound", "reference", "enum", "vlen", "array"}

// String returns the class's name as the HDF5 specification spells it in
// lower case ("fixed-point", "float", ..., "array"), or "class(N)".
func (c Class) String() string {
	if s, ok := enumName(c, classNames[:]); ok {
		return s
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// StringPad says how a fixed-length string is terminated.
type StringPad int

const (
	PadNullTerm  StringPad = 0 // NUL-terminated
	PadNull      StringPad = 1 // padded with NULs
	PadSpace     StringPad = 2 // padded with spaces
	CharsetASCII           = 0 // a string's character set: US-ASCII
	CharsetUTF8            = 1 // a string's character set: UTF-8
)

// Reference types.
const (
	RefObject = 0
	RefRegion = 1
)

// Datatype describes the type of a dataset's or attribute's elements.
type Datatype struct {
	Class     Class
	Version   int
	Size      int  // bytes per element
	BigEndian bool // fixed-point, float, bitfield, enum base
	Signed    bool // fixed-point
	BitOffset int  // fixed-point, float, bitfield
	Precision int  // bits, fixed-point, float, bitfield

	// Float layout: bit positions (from the least significant bit of the
	// element, in its byte order) and sizes of the fields, the exponent
	// bias, and the mantissa normalization (FloatNormImplied for IEEE 754
	// and most other layouts).
	ExpLocation, ExpSize, MantLocation, MantSize int
	ExpBias                                      uint32
	SignLocation                                 int
	MantNorm                                     int

	StringPad StringPad // string, and vlen string
	Charset   int       // string, and vlen string (CharsetASCII or CharsetUTF8)

	Tag string // opaque

	Members []Member // compound

	EnumNames  []string // enum
	EnumValues [][]byte // enum, raw values in the base type
	Base       *Datatype

	VarLenString bool // vlen: a string rather than a sequence of Base

	RefType int // reference: RefObject or RefRegion

	Dims []int // array

	// Committed is the address of the named datatype object this type was
	// read from, or 0 when it was stored in the message itself.
	Committed uint64

	// nodes is the number of values decoding one element makes (vlen
	// contents aside), which attribute decoding charges to the file's budget.
	nodes uint64
}

// setNodes computes t.nodes from its members and base, already set.
func (t *Datatype) setNodes() {
	t.nodes = 1
	for _, m := range t.Members {
		t.nodes = satAdd(t.nodes, m.Type.nodes)
	}
	switch t.Class {
	case ClassEnum:
		t.nodes = satAdd(t.nodes, t.Base.nodes)
	case ClassArray:
		n := t.Base.nodes
		for _, d := range t.Dims {
			n = mulSat(n, uint64(d))
		}
		t.nodes = satAdd(t.nodes, n)
	}
}

// Member is one field of a compound datatype.
type Member struct {
	Name   string
	Offset int
	Type   *Datatype
}

// IsVarLenString reports whether elements are variable-length strings.
func (t *Datatype) IsVarLenString() bool { return t.Class == ClassVarLen && t.VarLenString }

// HasVarLen reports whether the type contains variable-length data anywhere
// (such data lives in the global heap, not in the chunks).
func (t *Datatype) HasVarLen() bool {
	switch t.Class {
	case ClassVarLen:
		return true
	case ClassCompound:
		for _, m := range t.Members {
			if m.Type.HasVarLen() {
				return true
			}
		}
	case ClassArray, ClassEnum:
		return t.Base != nil && t.Base.HasVarLen()
	}
	return false
}

// NumpyDtype returns the numpy dtype string for simple types ("<f4", ">i8",
// "|S10", "|u1", "|b1", "|V8") and a descriptive string otherwise.
func (t *Datatype) NumpyDtype() string {
	order := "<"
	if t.BigEndian {
		order = ">"
	}
	if t.Size == 1 {
		order = "|"
	}
	switch t.Class {
	case ClassFixedPoint:
		if t.Signed {
			return fmt.Sprintf("%si%d", order, t.Size)
		}
		return fmt.Sprintf("%su%d", order, t.Size)
	case ClassFloat:
		return fmt.Sprintf("%sf%d", order, t.Size)
	case ClassString:
		return fmt.Sprintf("|S%d", t.Size)
	case ClassEnum:
		if t.isBool() {
			return "|b1"
		}
		return t.Base.NumpyDtype()
	case ClassVarLen:
		if t.VarLenString {
			return "|O"
		}
		return "|O"
	case ClassBitfield, ClassOpaque, ClassReference:
		return fmt.Sprintf("|V%d", t.Size)
	case ClassCompound:
		var parts []string
		for _, m := range t.Members {
			parts = append(parts, fmt.Sprintf("%s:%s@%d", m.Name, m.Type.NumpyDtype(), m.Offset))
		}
		return "{" + strings.Join(parts, ",") + "}"
	case ClassArray:
		return fmt.Sprintf("%s%v", t.Base.NumpyDtype(), t.Dims)
	}
	return fmt.Sprintf("|V%d", t.Size)
}

// Name returns the type's name by the rule of zarr.DType.NumpyName where
// NumPy has one ("float32", "int16", "uint8", "bool", "S10" for
// fixed-length strings, "str" for variable-length strings) and the class
// name otherwise.
func (t *Datatype) Name() string {
	switch t.Class {
	case ClassFixedPoint, ClassFloat, ClassString:
		if d, err := zarr.ParseDTypeString(t.NumpyDtype()); err == nil {
			return d.NumpyName()
		}
		return t.Class.String()
	case ClassEnum:
		if t.isBool() {
			return "bool"
		}
		return t.Base.Name()
	case ClassVarLen:
		if t.VarLenString {
			return "str"
		}
		return "vlen"
	}
	return t.Class.String()
}

// isBool reports whether an enum is h5py's boolean (FALSE=0, TRUE=1, 1 byte).
func (t *Datatype) isBool() bool {
	return t.Class == ClassEnum && t.Size == 1 && len(t.EnumNames) == 2 &&
		t.EnumNames[0] == "FALSE" && t.EnumNames[1] == "TRUE"
}

// String describes the type, e.g. "float32 (little-endian)".
func (t *Datatype) String() string {
	return t.Class.String() + " " + t.NumpyDtype()
}

const maxTypeDepth = 32

// parseDatatype decodes a datatype message.
func (f *File) parseDatatype(d *decoder, depth int) (*Datatype, error) {
	if depth > maxTypeDepth {
		return nil, formatErr(d.offset(), "datatype nested more than %d deep", maxTypeDepth)
	}
	start := d.offset()
	cv := d.u8()
	b0, b1, b2 := d.u8(), d.u8(), d.u8()
	bits := uint32(b0) | uint32(b1)<<8 | uint32(b2)<<16
	t := &Datatype{Class: Class(cv & 0x0f), Version: int(cv >> 4), Size: int(d.u32())}
	if d.err != nil {
		return nil, d.err
	}
	if t.Version < 1 || t.Version > 4 {
		return nil, formatErr(start, "datatype version %d", t.Version)
	}
	if t.Size < 0 || t.Size > 1<<28 {
		return nil, formatErr(start, "datatype size %d", t.Size)
	}
	switch t.Class {
	case ClassFixedPoint, ClassBitfield:
		t.BigEndian = bits&1 != 0
		t.Signed = bits&8 != 0
		t.BitOffset = int(d.u16())
		t.Precision = int(d.u16())
	case ClassFloat:
		t.BigEndian = bits&1 != 0
		if bits&0x40 != 0 {
			return nil, unsupportedErr(start, "VAX float byte order")
		}
		t.Signed = true
		t.BitOffset = int(d.u16())
		t.Precision = int(d.u16())
		t.ExpLocation = int(d.u8())
		t.ExpSize = int(d.u8())
		t.MantLocation = int(d.u8())
		t.MantSize = int(d.u8())
		t.ExpBias = d.u32()
		t.SignLocation = int(bits>>8) & 0xff
		t.MantNorm = int(bits>>4) & 3
	case ClassTime:
		t.BigEndian = bits&1 != 0
		t.Precision = int(d.u16())
	case ClassString:
		t.StringPad = StringPad(bits & 0x0f)
		t.Charset = int(bits>>4) & 0x0f
	case ClassOpaque:
		n := int(bits & 0xff)
		tag := d.bytes(n)
		t.Tag = strings.TrimRight(string(tag), "\x00")
	case ClassCompound:
		n := int(bits & 0xffff)
		if n > d.remaining() {
			return nil, formatErr(start, "compound with %d members in %d bytes", n, d.remaining())
		}
		for i := 0; i < n && d.err == nil; i++ {
			var m Member
			nameStart := d.pos
			m.Name = d.cstring()
			if t.Version < 3 {
				d.align(nameStart, 8)
			}
			switch {
			case t.Version >= 3:
				m.Offset = int(d.uvar(sizeBytes(uint64(t.Size))))
			default:
				m.Offset = int(d.u32())
			}
			if t.Version == 1 {
				ndims := int(d.u8())
				d.skip(3 + 4 + 4) // reserved, permutation, reserved
				var dims []int
				for j := 0; j < 4; j++ {
					v := int(d.u32())
					if j < ndims {
						dims = append(dims, v)
					}
				}
				mt, err := f.parseDatatype(d, depth+1)
				if err != nil {
					return nil, err
				}
				if ndims > 0 {
					// Saturating: an overflowed size could pass the bounds
					// check below as a negative number.
					sz := uint64(mt.Size)
					for _, v := range dims {
						sz = mulSat(sz, uint64(v))
					}
					if sz > uint64(t.Size) {
						return nil, formatErr(start, "compound member %q: array of %v elements of %d bytes in a %d-byte type", m.Name, dims, mt.Size, t.Size)
					}
					mt = &Datatype{Class: ClassArray, Version: 1, Size: int(sz), Base: mt, Dims: dims}
					mt.setNodes()
				}
				m.Type = mt
			} else {
				mt, err := f.parseDatatype(d, depth+1)
				if err != nil {
					return nil, err
				}
				m.Type = mt
			}
			if d.err == nil && (m.Offset < 0 || m.Offset+m.Type.Size > t.Size) {
				return nil, formatErr(start, "compound member %q at %d+%d outside %d-byte type", m.Name, m.Offset, m.Type.Size, t.Size)
			}
			t.Members = append(t.Members, m)
		}
	case ClassReference:
		t.RefType = int(bits & 0x0f)
	case ClassEnum:
		n := int(bits & 0xffff)
		base, err := f.parseDatatype(d, depth+1)
		if err != nil {
			return nil, err
		}
		t.Base = base
		t.BigEndian = base.BigEndian
		if n > d.remaining() {
			return nil, formatErr(start, "enum with %d members in %d bytes", n, d.remaining())
		}
		for i := 0; i < n && d.err == nil; i++ {
			nameStart := d.pos
			t.EnumNames = append(t.EnumNames, d.cstring())
			if t.Version < 3 {
				d.align(nameStart, 8)
			}
		}
		for i := 0; i < n && d.err == nil; i++ {
			t.EnumValues = append(t.EnumValues, d.bytes(base.Size))
		}
	case ClassVarLen:
		t.VarLenString = bits&0x0f == 1
		t.StringPad = StringPad(bits>>4) & 0x0f
		t.Charset = int(bits>>8) & 0x0f
		base, err := f.parseDatatype(d, depth+1)
		if err != nil {
			return nil, err
		}
		t.Base = base
	case ClassArray:
		ndims := int(d.u8())
		if ndims > maxRank {
			return nil, formatErr(start, "array datatype of rank %d", ndims)
		}
		if t.Version < 3 {
			d.skip(3)
		}
		for i := 0; i < ndims && d.err == nil; i++ {
			t.Dims = append(t.Dims, int(d.u32()))
		}
		if t.Version < 3 {
			d.skip(4 * ndims) // permutation indices
		}
		base, err := f.parseDatatype(d, depth+1)
		if err != nil {
			return nil, err
		}
		t.Base = base
		// Elements that cannot fit the type: decoding would index past
		// them, and their count would multiply the cost of every value.
		n := uint64(base.Size)
		for _, v := range t.Dims {
			n = mulSat(n, uint64(v))
		}
		if n > uint64(t.Size) {
			return nil, formatErr(start, "array datatype of %v elements of %d bytes in %d bytes", t.Dims, base.Size, t.Size)
		}
	default:
		return nil, unsupportedErr(start, "datatype class %d", int(t.Class))
	}
	if d.err != nil {
		return nil, d.err
	}
	t.setNodes()
	return t, nil
}
