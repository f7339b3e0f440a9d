package kerchunk

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/internal/elem"
	"github.com/greensight/vzarr/kerchunk/codecs"
	"github.com/greensight/vzarr/zarr"
)

func parseConfig(s string) (codecs.Config, error) {
	var cfg codecs.Config
	if err := json.Unmarshal([]byte(s), &cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// firstValue returns the first element of a decoded attribute value.
func firstValue(v any) (any, bool) {
	switch x := v.(type) {
	case []any:
		if len(x) > 0 {
			return x[0], true
		}
	case []string:
		if len(x) > 0 {
			return x[0], true
		}
	case []float32:
		if len(x) > 0 {
			return x[0], true
		}
	case []float64:
		if len(x) > 0 {
			return x[0], true
		}
	case []int8:
		if len(x) > 0 {
			return x[0], true
		}
	case []int16:
		if len(x) > 0 {
			return x[0], true
		}
	case []int32:
		if len(x) > 0 {
			return x[0], true
		}
	case []int64:
		if len(x) > 0 {
			return x[0], true
		}
	case []uint8:
		if len(x) > 0 {
			return x[0], true
		}
	case []uint16:
		if len(x) > 0 {
			return x[0], true
		}
	case []uint32:
		if len(x) > 0 {
			return x[0], true
		}
	case []uint64:
		if len(x) > 0 {
			return x[0], true
		}
	case nil:
	default:
		return v, true
	}
	return nil, false
}

// asNumber returns a scalar as float64, int64 or uint64.
func asNumber(v any) (f float64, i int64, u uint64, kind byte) {
	switch x := v.(type) {
	case float32:
		return float64(x), 0, 0, 'f'
	case float64:
		return x, 0, 0, 'f'
	case int8:
		return 0, int64(x), 0, 'i'
	case int16:
		return 0, int64(x), 0, 'i'
	case int32:
		return 0, int64(x), 0, 'i'
	case int64:
		return 0, x, 0, 'i'
	case int:
		return 0, int64(x), 0, 'i'
	case uint8:
		return 0, 0, uint64(x), 'u'
	case uint16:
		return 0, 0, uint64(x), 'u'
	case uint32:
		return 0, 0, uint64(x), 'u'
	case uint64:
		return 0, 0, x, 'u'
	case bool:
		if x {
			return 0, 1, 0, 'i'
		}
		return 0, 0, 0, 'i'
	}
	return 0, 0, 0, 0
}

// encodeScalar encodes a decoded attribute value as one element of type t
// (numeric conversion as numpy's astype does), or nil.
func encodeScalar(t *hdf5meta.Datatype, v any) []byte {
	v, ok := firstValue(v)
	if !ok {
		return nil
	}
	bo := elem.Order(t.BigEndian)
	out := make([]byte, t.Size)
	if t.Class == hdf5meta.ClassString {
		s, ok := v.(string)
		if !ok {
			return nil
		}
		copy(out, s)
		if t.StringPad == hdf5meta.PadSpace {
			for i := len(s); i < len(out); i++ {
				out[i] = ' '
			}
		}
		return out
	}
	f, i, u, kind := asNumber(v)
	if kind == 0 {
		return nil
	}
	if kind == 'i' {
		f, u = float64(i), uint64(i)
	} else if kind == 'u' {
		f, i = float64(u), int64(u)
	} else {
		i, u = int64(f), uint64(int64(f))
		if f >= 0 {
			u = uint64(f)
		}
	}
	et := t
	if t.Class == hdf5meta.ClassEnum {
		et = t.Base
	}
	switch et.Class {
	case hdf5meta.ClassFloat:
		if !elem.PutFloat(out, bo, et.Size, f) {
			return nil
		}
	case hdf5meta.ClassFixedPoint, hdf5meta.ClassBitfield:
		x := u
		if et.Signed {
			x = uint64(i)
		}
		if !elem.PutUint(out, bo, et.Size, x) {
			return nil
		}
	default:
		return nil
	}
	return out
}

// itemChunks writes a variable of variable-length strings, sequences or
// object references: every chunk is decoded into its items and inlined
// with the vlen-utf8 or vlen-array codec.
func (t *h5translator) itemChunks(p *varPlan, em *chunkEmitter) error {
	zt := p.zt
	switch zt.kind {
	case kindVArray:
		p.za.Filters = []codecs.Config{{"dtype": zt.vlenBase, "id": zarr.VLenArray}}
	default:
		p.za.Filters = []codecs.Config{{"id": zarr.VLenUTF8}}
	}
	p.za.FillValue = nil
	if p.tooBig {
		return p.errTooBig()
	}
	stored, err := t.storedChunks(p)
	if err != nil {
		return err
	}
	if size := p.total * uint64(p.nelem); size > 1<<26 || (p.nelem > 0 && size/uint64(p.nelem) != p.total) {
		return fmt.Errorf("%w: %d variable-length elements to embed", ErrUnsupported, size)
	}
	scalar := p.scalarString()
	if scalar {
		p.za.Filters = nil
	}
	encode := func(raw []byte) ([]byte, error) {
		items, err := t.vlenItems(p, raw)
		if err != nil {
			return nil, err
		}
		if scalar {
			return scalarStringChunk(p, items[0])
		}
		return encodeItems(p, items), nil
	}
	esize := p.ds.Type.Size
	next := uint64(0)
	var empty []byte
	emitEmpty := func(lin uint64) error {
		if empty == nil {
			var err error
			if empty, err = encode(make([]byte, p.nelem*esize)); err != nil {
				return err
			}
		}
		em.emit(lin, Inline(empty))
		return nil
	}
	for i := range stored.n() {
		c := stored.get(i)
		for ; next < c.lin; next++ {
			if err := emitEmpty(next); err != nil {
				return err
			}
		}
		next = c.lin + 1
		raw := c.data
		if raw == nil {
			if c.url != t.url {
				return fmt.Errorf("%w: variable-length data in an external file", ErrUnsupported)
			}
			b, err := t.h.readAbs(c.off, c.size, "chunk")
			if err != nil {
				return err
			}
			raw = b
			if !c.whole {
				if raw, err = decodePipeline(p.srcFilters, c.mask, b, p.rawChunk, p.ds.Type, p.nelem); err != nil {
					return fmt.Errorf("chunk %v: %w", c.idx, err)
				}
			}
		}
		enc, err := encode(raw)
		if err != nil {
			return fmt.Errorf("chunk %v: %w", c.idx, err)
		}
		em.emit(c.lin, Inline(enc))
	}
	for ; next < p.total; next++ {
		if err := emitEmpty(next); err != nil {
			return err
		}
	}
	return nil
}

// scalarString reports a scalar variable-length string. zarr-python 3.0.6
// reads a 0-d vlen-utf8 array as an object array holding a 0-d array
// (it does so with the arrays it writes itself), so a scalar string is
// written as a fixed-width UTF-8 byte string ("|S<n>") with the
// attribute _Encoding "utf-8": xarray decodes it to a str scalar of
// dtype object, as netCDF4-python reads the original, with zarr 2 and 3.
func (p *varPlan) scalarString() bool {
	return p.zt.kind == kindVStr && len(p.za.Shape) == 0
}

// scalarStringChunk sets the dtype of a scalar string (p.scalarString) to
// its UTF-8 length ("|S1" for the empty string) and returns its chunk.
func scalarStringChunk(p *varPlan, s []byte) ([]byte, error) {
	n := max(len(s), 1)
	d, err := zarr.ParseDTypeString("|S" + strconv.Itoa(n))
	if err != nil {
		return nil, err
	}
	p.za.DType = d
	out := make([]byte, n)
	copy(out, s)
	return out, nil
}

func trimPad(s string, pad hdf5meta.StringPad) string {
	switch pad {
	case hdf5meta.PadNullTerm:
		if i := strings.IndexByte(s, 0); i >= 0 {
			return s[:i]
		}
	case hdf5meta.PadNull:
		return strings.TrimRight(s, "\x00")
	case hdf5meta.PadSpace:
		return strings.TrimRight(s, " ")
	}
	return s
}

// vlenItems returns the items of a decoded chunk of variable-length
// elements: string bytes (strings, object reference paths) or the raw
// bytes of each sequence.
func (t *h5translator) vlenItems(p *varPlan, raw []byte) ([][]byte, error) {
	esize := p.ds.Type.Size
	n := p.nelem
	if len(raw) < n*esize {
		return nil, fmt.Errorf("%w: chunk of %d bytes for %d elements", hdf5meta.ErrFormat, len(raw), n)
	}
	items := make([][]byte, n)
	switch p.zt.kind {
	case kindVStr:
		for i := range items {
			b, err := t.h.vlenElement(raw[i*esize:(i+1)*esize], 1)
			if err != nil {
				return nil, err
			}
			items[i] = []byte(toValidUTF8(trimPad(string(b), p.ds.Type.StringPad)))
		}
	case kindObjRef:
		off := t.f.Superblock.SizeOfOffsets
		for i := range items {
			var a uint64
			e := raw[i*esize:]
			for j := off - 1; j >= 0; j-- {
				a = a<<8 | uint64(e[j])
			}
			if a != 0 && a != undefAddr>>(64-8*uint(off)) {
				items[i] = []byte(t.refPath(a))
			}
		}
	default:
		for i := range items {
			b, err := t.h.vlenElement(raw[i*esize:(i+1)*esize], p.ds.Type.Base.Size)
			if err != nil {
				return nil, err
			}
			items[i] = b
		}
	}
	return items, nil
}

// encodeItems encodes a chunk's items with vlen-utf8 or vlen-array (both
// a little-endian uint32 count, then each item as a uint32 byte length and
// its bytes).
func encodeItems(p *varPlan, items [][]byte) []byte {
	n := 4
	for _, it := range items {
		n += 4 + len(it)
	}
	out := binary.LittleEndian.AppendUint32(make([]byte, 0, n), uint32(len(items)))
	for _, it := range items {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(it)))
		out = append(out, it...)
	}
	return out
}
