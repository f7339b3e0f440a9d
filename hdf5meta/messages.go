package hdf5meta

import "math"

// SpaceKind is the kind of a dataspace.
type SpaceKind int

// The dataspace kinds.
const (
	SpaceScalar SpaceKind = 0 // one element, no dimensions
	SpaceSimple SpaceKind = 1 // an array of Dims
	SpaceNull   SpaceKind = 2 // no elements (an empty attribute)
)

// String returns "scalar", "simple" or "null".
func (k SpaceKind) String() string {
	if s, ok := enumName(k, spaceKindNames[:]); ok {
		return s
	}
	return "unknown"
}

var spaceKindNames = [...]string{"scalar", "simple", "null"}

// Unlimited is the MaxDims value of an unlimited dimension.
const Unlimited = math.MaxUint64

// Dataspace is the shape of a dataset or attribute.
type Dataspace struct {
	Kind    SpaceKind
	Dims    []uint64
	MaxDims []uint64 // same length as Dims; Unlimited for unlimited dims
}

// NumElements returns the number of elements (1 for scalar, 0 for null),
// saturating at math.MaxUint64 on overflow.
func (s Dataspace) NumElements() uint64 {
	switch s.Kind {
	case SpaceNull:
		return 0
	case SpaceScalar:
		return 1
	}
	n := uint64(1)
	for _, v := range s.Dims {
		if v != 0 && n > math.MaxUint64/v {
			return math.MaxUint64
		}
		n *= v
	}
	return n
}

const maxRank = 32

func (f *File) parseDataspace(d *decoder) (Dataspace, error) {
	start := d.offset()
	var s Dataspace
	version := d.u8()
	rank := int(d.u8())
	flags := d.u8()
	switch version {
	case 1:
		d.skip(5)
		s.Kind = SpaceSimple
		if rank == 0 {
			s.Kind = SpaceScalar
		}
	case 2:
		s.Kind = SpaceKind(d.u8())
		if s.Kind > SpaceNull {
			return s, formatErr(start, "dataspace type %d", s.Kind)
		}
	default:
		if d.err != nil {
			return s, d.err
		}
		return s, formatErr(start, "dataspace version %d", version)
	}
	if rank > maxRank {
		return s, formatErr(start, "dataspace rank %d", rank)
	}
	for i := 0; i < rank; i++ {
		s.Dims = append(s.Dims, d.length())
	}
	if flags&1 != 0 {
		for i := 0; i < rank; i++ {
			// Like libhdf5, only the 8-byte all-ones value is unlimited: with
			// 4-byte lengths it decodes as 2^32-1, a finite maximum.
			s.MaxDims = append(s.MaxDims, d.length())
		}
	} else {
		s.MaxDims = append([]uint64(nil), s.Dims...)
	}
	if version == 1 && flags&2 != 0 {
		d.skip(8 * rank) // permutation indices, never implemented by libhdf5
	}
	return s, d.err
}

// FillValue is a dataset's fill value property.
type FillValue struct {
	// Defined reports whether a fill value was set by the writer; when
	// false, readers use zero bytes (libhdf5's default fill).
	Defined bool
	// Value is the raw fill value in the dataset's datatype, or nil.
	Value []byte
	// AllocTime is when storage is allocated: 1 early, 2 late, 3 incremental.
	AllocTime int
	// WriteTime is when the fill value is written: 0 on allocation, 1 never,
	// 2 if set by the user.
	WriteTime int
}

func (f *File) parseFillValue(m *message) (FillValue, error) {
	d := f.newDecoder(m.data, m.off, "fill value message")
	var fv FillValue
	switch m.typ {
	case msgFillValueOld:
		n := int(d.u32())
		fv.Value = d.bytes(n)
		fv.Defined = n > 0
		fv.AllocTime, fv.WriteTime = 2, 2
		return fv, d.err
	}
	version := d.u8()
	switch version {
	case 1, 2:
		fv.AllocTime = int(d.u8())
		fv.WriteTime = int(d.u8())
		defined := d.u8() != 0
		if version == 1 || defined {
			n := int(d.u32())
			if defined && n > 0 {
				fv.Value = d.bytes(n)
				fv.Defined = true
			} else if defined {
				fv.Defined = true
			}
		}
	case 3:
		flags := d.u8()
		fv.AllocTime = int(flags & 3)
		fv.WriteTime = int(flags>>2) & 3
		if flags&0x20 != 0 {
			n := int(d.u32())
			fv.Value = d.bytes(n)
			fv.Defined = true
		}
	default:
		if d.err != nil {
			return fv, d.err
		}
		return fv, formatErr(m.off, "fill value message version %d", version)
	}
	if d.err != nil {
		return fv, d.err
	}
	return fv, nil
}

// Filter is one stage of a dataset's filter pipeline.
type Filter struct {
	ID       uint16
	Name     string
	Flags    uint16
	Params   []uint32 // client data values
	Optional bool     // a failure to apply it left the chunk unfiltered
}

// Well-known filter identifiers.
const (
	FilterDeflate     = 1
	FilterShuffle     = 2
	FilterFletcher32  = 3
	FilterSzip        = 4
	FilterNbit        = 5
	FilterScaleOffset = 6
	FilterLZF         = 32000
	FilterBlosc       = 32001
	FilterLZ4         = 32004
	FilterBitshuffle  = 32008
	FilterZstd        = 32015
	FilterBlosc2      = 32026
)

var filterNames = map[uint16]string{
	FilterDeflate: "deflate", FilterShuffle: "shuffle", FilterFletcher32: "fletcher32",
	FilterSzip: "szip", FilterNbit: "nbit", FilterScaleOffset: "scaleoffset",
	FilterLZF: "lzf", FilterBlosc: "blosc", FilterLZ4: "lz4", FilterBitshuffle: "bitshuffle",
	FilterZstd: "zstd", FilterBlosc2: "blosc2",
}

const maxFilters = 32

func (f *File) parseFilterPipeline(m *message) ([]Filter, error) {
	d := f.newDecoder(m.data, m.off, "filter pipeline message")
	version := d.u8()
	n := int(d.u8())
	if version == 1 {
		d.skip(6)
	} else if version != 2 {
		if d.err != nil {
			return nil, d.err
		}
		return nil, formatErr(m.off, "filter pipeline version %d", version)
	}
	if n > maxFilters {
		return nil, formatErr(m.off, "filter pipeline with %d filters", n)
	}
	var out []Filter
	for i := 0; i < n && d.err == nil; i++ {
		var flt Filter
		flt.ID = d.u16()
		nameLen := 0
		if version == 1 || flt.ID >= 256 {
			nameLen = int(d.u16())
		}
		flt.Flags = d.u16()
		flt.Optional = flt.Flags&1 != 0
		nvals := int(d.u16())
		if nameLen > 0 {
			name := d.bytes(nameLen)
			for j, c := range name {
				if c == 0 {
					name = name[:j]
					break
				}
			}
			flt.Name = string(name)
			if version == 1 && nameLen%8 != 0 {
				d.skip(8 - nameLen%8)
			}
		}
		if nvals*4 > d.remaining() {
			return nil, formatErr(m.off, "filter %d with %d client values in %d bytes", flt.ID, nvals, d.remaining())
		}
		for j := 0; j < nvals; j++ {
			flt.Params = append(flt.Params, d.u32())
		}
		if version == 1 && nvals%2 == 1 {
			d.skip(4)
		}
		if flt.Name == "" {
			flt.Name = filterNames[flt.ID]
		}
		out = append(out, flt)
	}
	return out, d.err
}
