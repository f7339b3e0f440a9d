package netcdf3

import (
	"fmt"
	"reflect"
	"strings"
)

// Format is the variant of the classic format, named by the last byte of the
// magic number.
type Format byte

const (
	Classic  Format = 1 // CDF-1, 32-bit offsets
	Offset64 Format = 2 // CDF-2, 64-bit offsets
	Data64   Format = 5 // CDF-5, 64-bit offsets, counts and sizes
)

// String returns the format's name in netCDF's data model, such as
// "NETCDF3_CLASSIC".
func (f Format) String() string {
	switch f {
	case Classic:
		return "NETCDF3_CLASSIC"
	case Offset64:
		return "NETCDF3_64BIT_OFFSET"
	case Data64:
		return "NETCDF3_64BIT_DATA"
	}
	return fmt.Sprintf("Format(%d)", byte(f))
}

// IsNetCDF3 reports whether magic, the first bytes of a file, starts with the
// magic number of a CDF-1, CDF-2 or CDF-5 file. It needs at least 4 bytes.
func IsNetCDF3(magic []byte) bool {
	return len(magic) >= 4 && magic[0] == 'C' && magic[1] == 'D' && magic[2] == 'F' &&
		(magic[3] == byte(Classic) || magic[3] == byte(Offset64) || magic[3] == byte(Data64))
}

// Type is an external data type (nc_type). CDF-5 adds the types from UByte
// on; netCDF-C accepts them in CDF-1 and CDF-2 headers too, and so does Open.
type Type uint32

const (
	Byte   Type = 1  // NC_BYTE, signed 8-bit integer
	Char   Type = 2  // NC_CHAR, 8-bit character
	Short  Type = 3  // NC_SHORT, signed 16-bit integer
	Int    Type = 4  // NC_INT, signed 32-bit integer
	Float  Type = 5  // NC_FLOAT, 32-bit IEEE float
	Double Type = 6  // NC_DOUBLE, 64-bit IEEE float
	UByte  Type = 7  // NC_UBYTE, unsigned 8-bit integer
	UShort Type = 8  // NC_USHORT, unsigned 16-bit integer
	UInt   Type = 9  // NC_UINT, unsigned 32-bit integer
	Int64  Type = 10 // NC_INT64, signed 64-bit integer
	UInt64 Type = 11 // NC_UINT64, unsigned 64-bit integer

	typeString Type = 12 // NC_STRING: netCDF-4 only
)

var typeInfo = [...]struct {
	name  string
	size  int
	dtype string
}{
	Byte:   {"byte", 1, "|i1"},
	Char:   {"char", 1, "|S1"},
	Short:  {"short", 2, ">i2"},
	Int:    {"int", 4, ">i4"},
	Float:  {"float", 4, ">f4"},
	Double: {"double", 8, ">f8"},
	UByte:  {"ubyte", 1, "|u1"},
	UShort: {"ushort", 2, ">u2"},
	UInt:   {"uint", 4, ">u4"},
	Int64:  {"int64", 8, ">i8"},
	UInt64: {"uint64", 8, ">u8"},
}

func (t Type) valid() bool { return t >= Byte && t <= UInt64 }

// Size returns the size in bytes of one value of type t, or 0 for an invalid
// type.
func (t Type) Size() int {
	if !t.valid() {
		return 0
	}
	return typeInfo[t].size
}

// String returns the CDL name of the type: "byte", "char", "short", "int",
// "float", "double", "ubyte", "ushort", "uint", "int64" or "uint64".
func (t Type) String() string {
	if !t.valid() {
		return fmt.Sprintf("Type(%d)", uint32(t))
	}
	return typeInfo[t].name
}

// Dtype returns the NumPy/Zarr v2 data type string of t, always big-endian as
// the data lie in the file: "|i1", "|S1", ">i2", ">i4", ">f4", ">f8", "|u1",
// ">u2", ">u4", ">i8" or ">u8". One-byte types have no byte order ("|"). It
// returns "" for an invalid type.
func (t Type) Dtype() string {
	if !t.valid() {
		return ""
	}
	return typeInfo[t].dtype
}

// DefaultFill returns netCDF's default fill value for type t (NC_FILL_BYTE
// and the like), which fills unwritten data when a variable has no _FillValue
// attribute. Its Go type is the element type of an attribute of type t: int8,
// string (one NUL byte for Char), int16, int32, float32, float64, uint8,
// uint16, uint32, int64 or uint64. It returns nil for an invalid type.
func (t Type) DefaultFill() any {
	switch t {
	case Byte:
		return int8(-127)
	case Char:
		return "\x00"
	case Short:
		return int16(-32767)
	case Int:
		return int32(-2147483647)
	case Float:
		return float32(9.9692099683868690e+36)
	case Double:
		return float64(9.9692099683868690e+36)
	case UByte:
		return uint8(255)
	case UShort:
		return uint16(65535)
	case UInt:
		return uint32(4294967295)
	case Int64:
		return int64(-9223372036854775806)
	case UInt64:
		return uint64(18446744073709551614)
	}
	return nil
}

// A File is the parsed header of a netCDF classic file.
type File struct {
	Format Format
	// NumRecs is the number of records: the current length of the unlimited
	// dimension. When the header says STREAMING (all ones), it is computed
	// from the file size and Streaming is set.
	NumRecs   int64
	Streaming bool
	Dims      []Dim
	Attrs     []Attr // global attributes
	Vars      []Var
	// RecordSize is the distance in bytes between two consecutive records:
	// the sum of the record variables' per-record sizes, each padded to 4
	// bytes, or, when there is exactly one record variable, its unpadded
	// per-record size. It is 0 when there is no record variable.
	RecordSize int64
	// HeaderSize is the length in bytes of the encoded header.
	HeaderSize int64
}

// A Dim is a dimension.
type Dim struct {
	Name string
	// Len is the dimension's length; for the unlimited dimension, which the
	// header records as 0, it is File.NumRecs.
	Len       int64
	Unlimited bool
}

// An Attr is an attribute. Value holds all its values, typed by Type:
//
//	Char   string (the raw bytes, NULs included; see Text)
//	Byte   []int8      UByte  []uint8
//	Short  []int16     UShort []uint16
//	Int    []int32     UInt   []uint32
//	Int64  []int64     UInt64 []uint64
//	Float  []float32   Double []float64
//
// An attribute with no values has an empty string or an empty, non-nil slice.
type Attr struct {
	Name  string
	Type  Type
	Value any
}

// Len returns the number of values of the attribute (for Char, the number of
// bytes).
func (a Attr) Len() int {
	switch v := reflect.ValueOf(a.Value); v.Kind() {
	case reflect.String, reflect.Slice:
		return v.Len()
	}
	return 0
}

// Text returns the value of a Char attribute with trailing NUL bytes removed,
// as scipy, kerchunk and xarray's scipy backend show it (netCDF4-python
// removes every NUL). The second result is false for other types.
func (a Attr) Text() (string, bool) {
	s, ok := a.Value.(string)
	if !ok {
		return "", false
	}
	return strings.TrimRight(s, "\x00"), true
}

// first returns the first value of the attribute as a scalar of its element
// type (a one-byte string for Char), or nil when it has no value.
func (a Attr) first() any {
	if a.Len() == 0 {
		return nil
	}
	switch v := reflect.ValueOf(a.Value); v.Kind() {
	case reflect.String:
		return v.String()[:1]
	case reflect.Slice:
		return v.Index(0).Interface()
	}
	return nil
}

func findAttr(attrs []Attr, name string) (Attr, bool) {
	for _, a := range attrs {
		if a.Name == name {
			return a, true
		}
	}
	return Attr{}, false
}

// Attr returns the global attribute with the given name.
func (f *File) Attr(name string) (Attr, bool) { return findAttr(f.Attrs, name) }

// Var returns the variable with the given name, or nil.
func (f *File) Var(name string) *Var {
	for i := range f.Vars {
		if f.Vars[i].Name == name {
			return &f.Vars[i]
		}
	}
	return nil
}

// Dim returns the dimension with the given name, or nil.
func (f *File) Dim(name string) *Dim {
	for i := range f.Dims {
		if f.Dims[i].Name == name {
			return &f.Dims[i]
		}
	}
	return nil
}

// A Var is a variable. Its data lie in one or more slabs: a fixed-size
// variable has one contiguous slab, a record variable has one slab per
// record, RecordSize bytes apart.
type Var struct {
	Name   string
	DimIDs []int    // indexes into File.Dims
	Dims   []string // names of the dimensions
	// Shape is the length of each dimension; for a record variable Shape[0]
	// is File.NumRecs. A scalar variable has an empty Shape.
	Shape []int64
	Attrs []Attr
	Type  Type
	// VSize is the vsize field as stored in the header: the variable's size
	// (per record for a record variable) padded to 4 bytes, or 2^32-1 in
	// CDF-1/CDF-2 for variables too large for 32 bits. The layout does not
	// use it; see SlabSize.
	VSize int64
	// Begin is the file offset of the variable's data (of its first record,
	// for a record variable).
	Begin    int64
	IsRecord bool

	slabSize int64 // data bytes in one slab, from Shape and Type
	stride   int64 // File.RecordSize for record variables
	numSlabs int64
}

// A Range is a contiguous byte range [Offset, Offset+Length) of the file.
type Range struct {
	Offset int64
	Length int64
}

// End returns Offset+Length.
func (r Range) End() int64 { return r.Offset + r.Length }

// Attr returns the variable's attribute with the given name.
func (v *Var) Attr(name string) (Attr, bool) { return findAttr(v.Attrs, name) }

// SlabSize returns the number of data bytes in one slab: the whole variable
// for a fixed-size variable, one record for a record variable. It is the
// product of the (non-record) dimension lengths and the type's size, without
// padding.
func (v *Var) SlabSize() int64 { return v.slabSize }

// NumSlabs returns the number of slabs: 1 for a fixed-size variable, NumRecs
// for a record variable.
func (v *Var) NumSlabs() int64 { return v.numSlabs }

// Stride returns the distance between the starts of two consecutive slabs of
// a record variable (File.RecordSize), or 0 for a fixed-size variable.
func (v *Var) Stride() int64 { return v.stride }

// Slab returns the byte range of slab i: Begin+i*Stride, SlabSize bytes long.
// For a fixed-size variable the only slab is 0. Slab panics if i is not in
// [0, NumSlabs()). Open has checked that every slab lies inside the file.
func (v *Var) Slab(i int64) Range {
	if i < 0 || i >= v.numSlabs {
		panic(fmt.Sprintf("netcdf3: slab %d of variable %q out of range [0, %d)", i, v.Name, v.numSlabs))
	}
	return Range{Offset: v.Begin + i*v.stride, Length: v.slabSize}
}

// Slabs returns the byte ranges of all slabs, in record order.
func (v *Var) Slabs() []Range {
	rs := make([]Range, v.numSlabs)
	for i := range rs {
		rs[i] = v.Slab(int64(i))
	}
	return rs
}

// FillValue returns the value that fills the variable's unwritten data: the
// first value of its _FillValue attribute when that has the variable's type
// and at least one value, else Type.DefaultFill(). Its Go type is the one
// DefaultFill documents.
func (v *Var) FillValue() any {
	if a, ok := v.Attr("_FillValue"); ok && a.Type == v.Type {
		if x := a.first(); x != nil {
			return x
		}
	}
	return v.Type.DefaultFill()
}
