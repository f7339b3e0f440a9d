package kerchunk

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/internal/elem"
	"github.com/greensight/vzarr/zarr"
)

// elemKind classifies how a dataset's elements reach Zarr.
type elemKind int

const (
	kindFixed  elemKind = iota // fixed-size bytes, referenced as stored
	kindVStr                   // variable-length strings: decoded, vlen-utf8
	kindVArray                 // variable-length sequences of a fixed type: vlen-array
	kindObjRef                 // object references: decoded to target paths, vlen-utf8
)

// zType is the Zarr view of an HDF5 datatype.
type zType struct {
	kind  elemKind
	dtype zarr.DType // the Zarr dtype
	// extra holds the dimensions of an HDF5 array type, appended to the
	// dataset's shape.
	extra []uint64
	// elem is the HDF5 element (the array type's base when extra is set).
	elem *hdf5meta.Datatype
	size int // bytes per Zarr element (the base size for array types)
	// float, when the element is an IEEE float of size 2, 4 or 8.
	float bool
	// complex, when the element is h5py's r/i compound (a numpy complex).
	complex   bool
	bigEndian bool
	// vlenBase is the numpy dtype of a vlen sequence's elements.
	vlenBase string
	// repack, when set, copies an HDF5 element (a compound with padding)
	// into the packed Zarr element of size bytes.
	repack []copySeg
	// floatConv, when set, is the size of the little-endian IEEE float
	// that elements of a float type of another layout (bfloat16, ...)
	// are decoded to (hdf5meta.Datatype.FloatTarget).
	floatConv int
}

// toZarr converts raw HDF5 elements to Zarr elements (packing compounds).
func (z *zType) toZarr(raw []byte, hdf5Size int) []byte {
	if z.floatConv != 0 {
		out := make([]byte, len(raw)/z.elem.Size*z.floatConv)
		// Cannot fail: FloatTarget checked the layout, out has room.
		_ = z.elem.PutFloatAs(out, raw, z.floatConv)
		return out
	}
	if z.repack == nil {
		return raw
	}
	n := len(raw) / hdf5Size
	perElem := z.size
	if len(z.extra) > 0 {
		perElem = hdf5Size / z.elem.Size * z.size
	}
	out := make([]byte, n*perElem)
	sub := hdf5Size / z.elem.Size // Zarr elements per HDF5 element (array types)
	for i := 0; i < n*sub; i++ {
		src := raw[i*z.elem.Size:]
		dst := out[i*z.size:]
		for _, s := range z.repack {
			copy(dst[s.dst:s.dst+s.n], src[s.src:s.src+s.n])
		}
	}
	return out
}

// unsupportedType reports a datatype that has no Zarr v2 representation.
type unsupportedType struct{ what string }

func (e unsupportedType) Error() string { return e.what }

func byteOrder(big bool, size int) string {
	if size == 1 {
		return "|"
	}
	if big {
		return ">"
	}
	return "<"
}

// simpleDtype returns the numpy dtype string of a non-compound,
// non-array, fixed-size type.
func simpleDtype(t *hdf5meta.Datatype) (string, error) {
	switch t.Class {
	case hdf5meta.ClassFixedPoint, hdf5meta.ClassBitfield:
		switch t.Size {
		case 1, 2, 4, 8:
		default:
			return "", unsupportedType{fmt.Sprintf("%d-byte integers", t.Size)}
		}
		k := "u"
		if t.Signed && t.Class == hdf5meta.ClassFixedPoint {
			k = "i"
		}
		return byteOrder(t.BigEndian, t.Size) + k + strconv.Itoa(t.Size), nil
	case hdf5meta.ClassFloat:
		if !t.IsIEEEFloat() {
			return "", unsupportedType{fmt.Sprintf("%d-byte float with %d exponent and %d mantissa bits", t.Size, t.ExpSize, t.MantSize)}
		}
		return byteOrder(t.BigEndian, t.Size) + "f" + strconv.Itoa(t.Size), nil
	case hdf5meta.ClassString:
		return "|S" + strconv.Itoa(t.Size), nil
	case hdf5meta.ClassOpaque:
		if d, ok := numpyTimeTag(t); ok {
			return d.Str, nil
		}
		return "|V" + strconv.Itoa(t.Size), nil
	case hdf5meta.ClassEnum:
		if isBoolEnum(t) {
			return "|b1", nil
		}
		return simpleDtype(t.Base)
	}
	return "", unsupportedType{fmt.Sprintf("%s datatype", t.Class)}
}

// numpyTimeTag returns the datetime64 or timedelta64 dtype of an opaque
// type h5py wrote for one (h5py.opaque_dtype: the tag "NUMPY:" followed by
// NumPy's dtype.str, "NUMPY:<M8[ns]"), whose bytes are NumPy's.
func numpyTimeTag(t *hdf5meta.Datatype) (zarr.DType, bool) {
	s, ok := strings.CutPrefix(t.Tag, "NUMPY:")
	if !ok {
		return zarr.DType{}, false
	}
	d, err := zarr.ParseDTypeString(s)
	if err != nil || (d.Kind != 'M' && d.Kind != 'm') || d.Size != t.Size {
		return zarr.DType{}, false
	}
	return d, true
}

// isBoolEnum reports h5py's boolean: an enum FALSE=0, TRUE=1 of one byte.
func isBoolEnum(t *hdf5meta.Datatype) bool {
	return t.Class == hdf5meta.ClassEnum && t.Size == 1 && len(t.EnumNames) == 2 &&
		t.EnumNames[0] == "FALSE" && t.EnumNames[1] == "TRUE"
}

// copySeg copies n bytes of an HDF5 element at src to dst in the packed
// Zarr element.
type copySeg struct{ src, dst, n int }

// zarrDType returns the Zarr dtype of a fixed-size type (structured for
// compounds, with array members as subarray shapes) and the segments that
// copy an HDF5 element into its Zarr element. A compound keeps its HDF5
// layout (member offsets, padding: zarr.NewStructuredLayout) when Zarr can
// write it, and the segments are then the identity; else (a compound
// member with array dimensions inside a padded compound) it is packed.
func zarrDType(t *hdf5meta.Datatype) (zarr.DType, []copySeg, error) {
	switch t.Class {
	case hdf5meta.ClassCompound:
		if s, ok := complexDtype(t); ok {
			d, err := zarr.ParseDTypeString(s)
			if err != nil {
				return zarr.DType{}, nil, unsupportedType{err.Error()}
			}
			return d, []copySeg{{0, 0, t.Size}}, nil
		}
		var segs []copySeg
		fields := make([]zarr.Field, 0, len(t.Members))
		exact := make([]zarr.Field, 0, len(t.Members))
		identity := true
		packed := 0
		for _, m := range t.Members {
			mt := m.Type
			var dims []int
			count := 1
			for mt.Class == hdf5meta.ClassArray {
				dims = append(dims, mt.Dims...)
				for _, d := range mt.Dims {
					count *= d
				}
				mt = mt.Base
			}
			inner, isegs, err := zarrDType(mt)
			if err != nil {
				return zarr.DType{}, nil, err
			}
			identity = identity && isIdentity(isegs, mt.Size)
			fields = append(fields, zarr.Field{Name: m.Name, DType: inner, Shape: dims})
			exact = append(exact, zarr.Field{Name: m.Name, DType: inner, Shape: dims, Offset: m.Offset})
			for k := 0; k < count; k++ {
				for _, sg := range isegs {
					segs = append(segs, copySeg{m.Offset + k*mt.Size + sg.src, packed + k*inner.Size + sg.dst, sg.n})
				}
			}
			packed += count * inner.Size
		}
		if identity {
			d, err := zarr.NewStructuredLayout(exact, t.Size)
			if err == nil {
				return d, []copySeg{{0, 0, t.Size}}, nil
			}
			if !errors.Is(err, zarr.ErrUnsupported) {
				return zarr.DType{}, nil, unsupportedType{err.Error()}
			}
		}
		d, err := zarr.NewStructured(fields)
		if err != nil {
			return zarr.DType{}, nil, unsupportedType{err.Error()}
		}
		return d, mergeSegs(segs), nil
	case hdf5meta.ClassArray:
		return zarr.DType{}, nil, unsupportedType{"nested array type"}
	case hdf5meta.ClassVarLen, hdf5meta.ClassReference:
		return zarr.DType{}, nil, unsupportedType{fmt.Sprintf("%s member", t.Class)}
	}
	s, err := simpleDtype(t)
	if err != nil {
		return zarr.DType{}, nil, err
	}
	d, err := zarr.ParseDTypeString(s)
	if err != nil {
		return zarr.DType{}, nil, unsupportedType{err.Error()}
	}
	return d, []copySeg{{0, 0, t.Size}}, nil
}

// isIdentity reports segments that copy an element of size bytes as it is.
func isIdentity(segs []copySeg, size int) bool {
	return len(segs) == 1 && segs[0] == copySeg{0, 0, size}
}

// complexDtype returns the numpy complex dtype ("<c8", ">c16") of h5py's
// complex numbers: a compound of exactly two members named r and i, both
// the same IEEE float of 4 or 8 bytes, r at offset 0 and i right after it,
// no padding. Such an element's bytes are a numpy complex's bytes.
func complexDtype(t *hdf5meta.Datatype) (string, bool) {
	if t.Class != hdf5meta.ClassCompound || len(t.Members) != 2 {
		return "", false
	}
	r, i := t.Members[0], t.Members[1]
	if r.Name != "r" || i.Name != "i" || r.Type.Class != hdf5meta.ClassFloat || i.Type.Class != hdf5meta.ClassFloat {
		return "", false
	}
	fs, err := simpleDtype(r.Type)
	if err != nil || r.Type.Size == 2 {
		return "", false
	}
	is, err := simpleDtype(i.Type)
	if err != nil || is != fs || r.Offset != 0 || i.Offset != r.Type.Size || t.Size != 2*r.Type.Size {
		return "", false
	}
	return fs[:1] + "c" + strconv.Itoa(t.Size), true
}

func mergeSegs(segs []copySeg) []copySeg {
	var out []copySeg
	for _, s := range segs {
		if n := len(out); n > 0 && out[n-1].src+out[n-1].n == s.src && out[n-1].dst+out[n-1].n == s.dst {
			out[n-1].n += s.n
			continue
		}
		out = append(out, s)
	}
	return out
}

// zarrType maps an HDF5 datatype to its Zarr representation.
func zarrType(t *hdf5meta.Datatype) (*zType, error) {
	z := &zType{elem: t, size: t.Size}
	if t.IsVarLenString() {
		z.kind = kindVStr
		z.dtype = zarr.DType{Str: "|O", Kind: 'O', Object: zarr.VLenUTF8}
		return z, nil
	}
	if t.Class == hdf5meta.ClassVarLen {
		base, err := simpleDtype(t.Base)
		if err != nil || t.Base.Class == hdf5meta.ClassString || t.Base.Class == hdf5meta.ClassOpaque {
			return nil, unsupportedType{fmt.Sprintf("variable-length sequence of %s", t.Base)}
		}
		z.kind = kindVArray
		z.vlenBase = base
		z.dtype = zarr.DType{Str: "|O", Kind: 'O', Object: zarr.VLenArray}
		return z, nil
	}
	if t.Class == hdf5meta.ClassReference {
		if t.RefType != hdf5meta.RefObject {
			return nil, unsupportedType{"region references"}
		}
		z.kind = kindObjRef
		z.dtype = zarr.DType{Str: "|O", Kind: 'O', Object: zarr.VLenUTF8}
		return z, nil
	}
	if t.Class == hdf5meta.ClassArray {
		base := t
		for base.Class == hdf5meta.ClassArray {
			for _, d := range base.Dims {
				z.extra = append(z.extra, uint64(d))
			}
			base = base.Base
		}
		if base.HasVarLen() || base.Class == hdf5meta.ClassReference {
			return nil, unsupportedType{"array of variable-length or reference elements"}
		}
		z.elem = base
		z.size = base.Size
	}
	if z.elem.HasVarLen() {
		return nil, unsupportedType{"compound with variable-length members"}
	}
	if z.elem.Class == hdf5meta.ClassFloat && !z.elem.IsIEEEFloat() {
		size, err := z.elem.FloatTarget()
		if err != nil {
			return nil, unsupportedType{fmt.Sprintf("%d-byte float with %d exponent and %d mantissa bits (bias %d)", z.elem.Size, z.elem.ExpSize, z.elem.MantSize, z.elem.ExpBias)}
		}
		z.dtype, _ = zarr.ParseDTypeString("<f" + strconv.Itoa(size))
		z.floatConv, z.size = size, size
		return z, nil
	}
	dt, segs, err := zarrDType(z.elem)
	if err != nil {
		return nil, err
	}
	z.dtype = dt
	size := dt.Size
	if !isIdentity(segs, z.elem.Size) {
		z.repack = segs
		z.size = size
	}
	z.float = z.elem.Class == hdf5meta.ClassFloat
	if _, ok := complexDtype(z.elem); ok { // fill comparisons per float half
		z.complex = true
		z.bigEndian = z.elem.Members[0].Type.BigEndian
		return z, nil
	}
	z.bigEndian = z.elem.BigEndian
	return z, nil
}

// fillJSON returns the .zarray fill_value for raw element bytes (one Zarr
// element) of the type.
func (z *zType) fillJSON(raw []byte) []byte {
	b, err := z.dtype.EncodeFill(raw)
	if err != nil { // a short element: not a fill value
		return []byte("null")
	}
	return b
}

// isNaNBytes reports whether raw is a NaN of the float type (for a
// complex type, whether either half is a NaN, as numpy's isnan).
func (z *zType) isNaNBytes(raw []byte) bool {
	if (!z.float && !z.complex) || len(raw) < z.size {
		return false
	}
	if z.complex {
		h := z.size / 2
		re, ok1 := elem.Float(raw[:h], elem.Order(z.bigEndian), h)
		im, ok2 := elem.Float(raw[h:z.size], elem.Order(z.bigEndian), h)
		return ok1 && ok2 && (math.IsNaN(re) || math.IsNaN(im))
	}
	f, ok := elem.Float(raw, elem.Order(z.bigEndian), z.size)
	return ok && math.IsNaN(f)
}

// sameFill reports whether element bytes a and b read as the same value
// (bitwise, or both NaN).
func (z *zType) sameFill(a, b []byte) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if string(a) == string(b) {
		return true
	}
	if z.complex && len(a) >= z.size && len(b) >= z.size { // per half
		h := z.size / 2
		half := &zType{float: true, size: h, bigEndian: z.bigEndian}
		return half.sameFill(a[:h], b[:h]) && half.sameFill(a[h:z.size], b[h:z.size])
	}
	return z.isNaNBytes(a) && z.isNaNBytes(b)
}
