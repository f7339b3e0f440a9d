// Package parquet is the small Parquet codec of kerchunk's reference
// sets (fsspec's LazyReferenceMapper layout): it writes and reads the
// flat refs.<i>.parq files of four columns (path, offset, size, raw).
// It holds the Thrift compact protocol, the page encodings and the
// compression codecs; kerchunk.WriteParquetSet and ReadParquetSet hold
// the set's layout (.zmetadata, record numbering, chunk keys).
//
// It is not a general Parquet library: the writer writes only that
// schema, the reader reads flat (non-nested) INT32, INT64 and BYTE_ARRAY
// columns. Hostile input gives an error, never a panic.
package parquet

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

// ErrUnsupported is wrapped by the errors for a valid Parquet feature the
// reader does not implement (an encoding, compression codec or physical
// type).
var ErrUnsupported = errors.New("parquet: unsupported")

// Row is one row of a refs file: Path and Raw are null when nil; Offset
// and Size are 0 in a row without a byte range.
type Row struct {
	Path   []byte
	Offset int64
	Size   int64
	Raw    []byte
}

// ---------------------------------------------------------------- writing

type thrift struct {
	b    []byte
	last []int16 // last field id per struct level
}

func (t *thrift) uvarint(v uint64) { t.b = binary.AppendUvarint(t.b, v) }
func (t *thrift) zigzag(v int64)   { t.uvarint(uint64(v<<1) ^ uint64(v>>63)) }

func (t *thrift) field(id int16, typ byte) {
	d := id - t.last[len(t.last)-1]
	if d > 0 && d <= 15 {
		t.b = append(t.b, byte(d)<<4|typ)
	} else {
		t.b = append(t.b, typ)
		t.zigzag(int64(id))
	}
	t.last[len(t.last)-1] = id
}

const (
	tBool  = 1 // true; false is 2
	tI32   = 5
	tI64   = 6
	tBin   = 8
	tList  = 9
	tStrct = 12
)

func (t *thrift) i32(id int16, v int32) { t.field(id, tI32); t.zigzag(int64(v)) }
func (t *thrift) i64(id int16, v int64) { t.field(id, tI64); t.zigzag(v) }
func (t *thrift) str(id int16, s string) {
	t.field(id, tBin)
	t.uvarint(uint64(len(s)))
	t.b = append(t.b, s...)
}
func (t *thrift) begin(id int16) { t.field(id, tStrct); t.last = append(t.last, 0) }
func (t *thrift) end()           { t.b = append(t.b, 0); t.last = t.last[:len(t.last)-1] }
func (t *thrift) list(id int16, elem byte, n int) {
	t.field(id, tList)
	if n < 15 {
		t.b = append(t.b, byte(n)<<4|elem)
	} else {
		t.b = append(t.b, 0xf0|elem)
		t.uvarint(uint64(n))
	}
}
func (t *thrift) elemBegin() { t.last = append(t.last, 0) }

// Parquet enums.
const (
	pqInt32, pqInt64, pqByteArray  = 1, 2, 6
	pqRequired, pqOptional         = 0, 1
	encPlain, encPlainDict         = 0, 2
	encRLE, encRLEDict             = 3, 8
	codecNone, codecSnappy         = 0, 1
	codecGzip, codecZstd           = 2, 6
	pageData, pageDict, pageDataV2 = 0, 2, 3
)

type pqColumn struct {
	name     string
	typ      int32
	optional bool
	utf8     bool
}

var refsSchema = []pqColumn{
	{name: "path", typ: pqByteArray, optional: true, utf8: true},
	{name: "offset", typ: pqInt64},
	{name: "size", typ: pqInt64},
	{name: "raw", typ: pqByteArray, optional: true},
}

var zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))

// rleBits1 encodes a definition level stream of 0/1 values as RLE runs.
func rleBits1(levels []bool) []byte {
	var out []byte
	for i := 0; i < len(levels); {
		j := i
		for j < len(levels) && levels[j] == levels[i] {
			j++
		}
		out = binary.AppendUvarint(out, uint64(j-i)<<1)
		if levels[i] {
			out = append(out, 1)
		} else {
			out = append(out, 0)
		}
		i = j
	}
	return out
}

// Encode writes one refs file of len(rows) rows: one row group, one
// PLAIN-encoded, zstd-compressed data page per column, as fsspec writes
// them.
func Encode(rows []Row) ([]byte, error) {
	n := len(rows)
	out := []byte("PAR1")
	type chunkMeta struct {
		offset, uncompressed, compressed int64
	}
	metas := make([]chunkMeta, len(refsSchema))
	for ci, col := range refsSchema {
		var values []byte
		var defs []bool
		for r := 0; r < n; r++ {
			row := &rows[r]
			switch col.name {
			case "path", "raw":
				v := row.Path
				if col.name == "raw" {
					v = row.Raw
				}
				defs = append(defs, v != nil)
				if v != nil {
					values = binary.LittleEndian.AppendUint32(values, uint32(len(v)))
					values = append(values, v...)
				}
			case "offset":
				values = binary.LittleEndian.AppendUint64(values, uint64(row.Offset))
			case "size":
				values = binary.LittleEndian.AppendUint64(values, uint64(row.Size))
			}
		}
		var page []byte
		if col.optional {
			lv := rleBits1(defs)
			page = binary.LittleEndian.AppendUint32(page, uint32(len(lv)))
			page = append(page, lv...)
		}
		page = append(page, values...)
		comp := zstdEncoder.EncodeAll(page, nil)
		h := &thrift{last: []int16{0}}
		h.i32(1, pageData)
		h.i32(2, int32(len(page)))
		h.i32(3, int32(len(comp)))
		h.begin(5)
		h.i32(1, int32(n))
		h.i32(2, encPlain)
		h.i32(3, encRLE)
		h.i32(4, encRLE)
		h.end()
		h.b = append(h.b, 0)
		metas[ci] = chunkMeta{offset: int64(len(out)), uncompressed: int64(len(h.b) + len(page)), compressed: int64(len(h.b) + len(comp))}
		out = append(out, h.b...)
		out = append(out, comp...)
		if len(out) > math.MaxInt32 {
			return nil, errors.New("parquet: refs file over 2 GiB")
		}
	}
	// File metadata.
	t := &thrift{last: []int16{0}}
	t.i32(1, 1)
	t.list(2, tStrct, len(refsSchema)+1)
	t.elemBegin()
	t.str(4, "schema")
	t.i32(5, int32(len(refsSchema)))
	t.end()
	for _, col := range refsSchema {
		t.elemBegin()
		t.i32(1, col.typ)
		rep := int32(pqRequired)
		if col.optional {
			rep = pqOptional
		}
		t.i32(3, rep)
		t.str(4, col.name)
		if col.utf8 {
			t.i32(6, 0) // converted type UTF8
			t.begin(10) // logical type: STRING
			t.begin(1)
			t.end()
			t.end()
		}
		t.end()
	}
	t.i64(3, int64(n))
	t.list(4, tStrct, 1)
	t.elemBegin()
	t.list(1, tStrct, len(refsSchema))
	var total int64
	for ci, col := range refsSchema {
		m := metas[ci]
		total += m.uncompressed
		t.elemBegin()
		t.i64(2, m.offset)
		t.begin(3)
		t.i32(1, col.typ)
		t.list(2, tI32, 2)
		t.zigzag(encPlain)
		t.zigzag(encRLE)
		t.list(3, tBin, 1)
		t.uvarint(uint64(len(col.name)))
		t.b = append(t.b, col.name...)
		t.i32(4, codecZstd)
		t.i64(5, int64(n))
		t.i64(6, m.uncompressed)
		t.i64(7, m.compressed)
		t.i64(9, m.offset)
		t.end()
		t.end()
	}
	t.i64(2, total)
	t.i64(3, int64(n))
	t.end()
	t.str(6, "vzarr")
	t.b = append(t.b, 0)
	out = append(out, t.b...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(t.b)))
	return append(out, "PAR1"...), nil
}

// ---------------------------------------------------------------- reading

// tvalue is a decoded thrift compact value.
type tvalue struct {
	i      int64
	b      []byte
	fields map[int16]*tvalue
	list   []*tvalue
}

type treader struct {
	b   []byte
	pos int
	err error
}

func (r *treader) byte1() byte {
	if r.pos >= len(r.b) {
		r.err = errors.New("thrift: truncated")
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *treader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b[min(r.pos, len(r.b)):])
	if n <= 0 {
		r.err = errors.New("thrift: bad varint")
		return 0
	}
	r.pos += n
	return v
}

func (r *treader) zigzag() int64 { u := r.uvarint(); return int64(u>>1) ^ -int64(u&1) }

func (r *treader) value(typ byte, depth int) *tvalue {
	if depth > 64 {
		r.err = errors.New("thrift: nested too deep")
		return nil
	}
	v := &tvalue{}
	switch typ {
	case 1:
		v.i = 1
	case 2:
		v.i = 0
	case 3:
		v.i = int64(int8(r.byte1()))
	case 4, 5, 6:
		v.i = r.zigzag()
	case 7:
		if r.pos+8 > len(r.b) {
			r.err = errors.New("thrift: truncated")
			return v
		}
		r.pos += 8
	case 8:
		n := r.uvarint()
		if n > uint64(len(r.b)-r.pos) {
			r.err = errors.New("thrift: string past the end")
			return v
		}
		v.b = r.b[r.pos : r.pos+int(n)]
		r.pos += int(n)
	case 9, 10:
		h := r.byte1()
		n := uint64(h >> 4)
		if n == 15 {
			n = r.uvarint()
		}
		if n > uint64(len(r.b)) {
			r.err = errors.New("thrift: list too long")
			return v
		}
		et := h & 0x0f
		for i := uint64(0); i < n && r.err == nil; i++ {
			var e *tvalue
			if et == 1 || et == 2 { // booleans in lists are a byte each
				e = &tvalue{i: int64(r.byte1())}
			} else {
				e = r.value(et, depth+1)
			}
			v.list = append(v.list, e)
		}
	case 11:
		n := r.uvarint()
		if n > 0 {
			kv := r.byte1()
			for i := uint64(0); i < n && r.err == nil; i++ {
				r.value(kv>>4, depth+1)
				r.value(kv&0x0f, depth+1)
			}
		}
	case 12:
		v.fields = map[int16]*tvalue{}
		var last int16
		for r.err == nil {
			h := r.byte1()
			if h == 0 {
				break
			}
			d, ft := int16(h>>4), h&0x0f
			id := last + d
			if d == 0 {
				id = int16(r.zigzag())
			}
			last = id
			v.fields[id] = r.value(ft, depth+1)
		}
	default:
		r.err = fmt.Errorf("thrift: type %d", typ)
	}
	return v
}

func (v *tvalue) get(id int16) *tvalue {
	if v == nil || v.fields == nil || v.fields[id] == nil {
		return &tvalue{}
	}
	return v.fields[id]
}

// Column is one decoded column: byte arrays (nil for null) or integers
// (0 for null).
type Column struct {
	Bytes [][]byte
	Ints  []int64
}

// BytesAt returns row r of a byte array column: nil for a null, a row
// past the end or a nil column.
func (c *Column) BytesAt(r int) []byte {
	if c == nil || r >= len(c.Bytes) {
		return nil
	}
	return c.Bytes[r]
}

// Int returns row r of an integer column: 0 for a null, a row past the
// end or a nil column.
func (c *Column) Int(r int) int64 {
	if c == nil || r >= len(c.Ints) {
		return 0
	}
	return c.Ints[r]
}

func decompressPage(codec int64, data []byte, size int) ([]byte, error) {
	switch codec {
	case codecNone:
		return data, nil
	case codecSnappy:
		return snappy.Decode(nil, data)
	case codecGzip:
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(io.LimitReader(zr, int64(size)+1))
	case codecZstd:
		return zstdDecoder().DecodeAll(data, make([]byte, 0, size))
	}
	return nil, fmt.Errorf("%w: parquet compression codec %d", ErrUnsupported, codec)
}

// zstdDecoder is made once, on first use (DecodeAll is safe for
// concurrent use).
var zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
	d, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	return d
})

// hybrid decodes n values of the RLE/bit-packed hybrid encoding.
func hybrid(b []byte, bw int, n int) ([]uint32, error) {
	out := make([]uint32, 0, n)
	p := 0
	for len(out) < n {
		h, k := binary.Uvarint(b[p:])
		if k <= 0 {
			return nil, errors.New("parquet: bad RLE header")
		}
		p += k
		if h&1 == 0 {
			cnt := int(h >> 1)
			w := (bw + 7) / 8
			if p+w > len(b) {
				return nil, errors.New("parquet: RLE run past the end")
			}
			var v uint32
			for i := 0; i < w; i++ {
				v |= uint32(b[p+i]) << (8 * i)
			}
			p += w
			for i := 0; i < cnt && len(out) < n; i++ {
				out = append(out, v)
			}
		} else {
			groups := int(h >> 1)
			nb := groups * bw
			if p+nb > len(b) {
				return nil, errors.New("parquet: bit-packed run past the end")
			}
			bits := b[p : p+nb]
			p += nb
			for i := 0; i < groups*8 && len(out) < n; i++ {
				var v uint32
				for k := 0; k < bw; k++ {
					bit := i*bw + k
					v |= uint32(bits[bit/8]>>(bit%8)&1) << k
				}
				out = append(out, v)
			}
		}
	}
	return out, nil
}

// Decode reads the flat columns of a refs file of at most maxRows rows
// (its set's record_size), by column name, and its row count: counts
// above maxRows fail before anything is allocated. It reads PLAIN and
// dictionary encodings, data pages v1 and v2, and uncompressed, snappy,
// gzip and zstd pages of INT32, INT64 and BYTE_ARRAY columns.
func Decode(b []byte, maxRows int) (map[string]*Column, int, error) {
	if len(b) < 12 || string(b[:4]) != "PAR1" || string(b[len(b)-4:]) != "PAR1" {
		return nil, 0, errors.New("not a Parquet file")
	}
	mlen := int(binary.LittleEndian.Uint32(b[len(b)-8:]))
	if mlen <= 0 || mlen > len(b)-12 {
		return nil, 0, errors.New("bad footer length")
	}
	tr := &treader{b: b[len(b)-8-mlen : len(b)-8]}
	fmeta := tr.value(tStrct, 0)
	if tr.err != nil {
		return nil, 0, tr.err
	}
	nrows := int(fmeta.get(3).i)
	if nrows < 0 || nrows > 1<<26 {
		return nil, 0, fmt.Errorf("%d rows", nrows)
	}
	// Schema: a flat list of leaf columns under the root.
	type colInfo struct {
		name     string
		typ      int64
		optional bool
	}
	var cols []colInfo
	for i, s := range fmeta.get(2).list {
		if i == 0 {
			continue
		}
		cols = append(cols, colInfo{name: string(s.get(4).b), typ: s.get(1).i, optional: s.get(3).i == pqOptional})
	}
	out := map[string]*Column{}
	for _, c := range cols {
		out[c.name] = &Column{}
	}
	for _, rg := range fmeta.get(4).list {
		for ci, cc := range rg.get(1).list {
			if ci >= len(cols) {
				break
			}
			col := cols[ci]
			md := cc.get(3)
			codec := md.get(4).i
			numValues := int(md.get(5).i)
			if numValues < 0 || numValues > maxRows {
				return nil, 0, fmt.Errorf("column chunk of %d values in a file of at most %d rows", numValues, maxRows)
			}
			start := md.get(9).i
			if d := md.get(11); d.fields != nil || d.i > 0 {
				if d.i > 0 && d.i < start {
					start = d.i
				}
			}
			pos := int(start)
			var dict [][]byte
			var dictInts []int64
			got := 0
			for got < numValues {
				if pos < 0 || pos >= len(b) {
					return nil, 0, errors.New("page offset out of the file")
				}
				ptr := &treader{b: b, pos: pos}
				ph := ptr.value(tStrct, 0)
				if ptr.err != nil {
					return nil, 0, ptr.err
				}
				csize, usize := int(ph.get(3).i), int(ph.get(2).i)
				if csize < 0 || ptr.pos+csize > len(b) || usize < 0 || usize > 1<<30 {
					return nil, 0, errors.New("page past the end")
				}
				body := b[ptr.pos : ptr.pos+csize]
				pos = ptr.pos + csize
				ptype := ph.get(1).i
				var defs []uint32
				var vals []byte
				var enc int64
				var n int
				switch ptype {
				case pageDict:
					raw, err := decompressPage(codec, body, usize)
					if err != nil {
						return nil, 0, err
					}
					cnt := int(ph.get(7).get(1).i)
					if cnt < 0 || cnt > maxRows {
						return nil, 0, fmt.Errorf("dictionary of %d values in a file of at most %d rows", cnt, maxRows)
					}
					bs, is, err := plainValues(raw, col.typ, cnt)
					if err != nil {
						return nil, 0, err
					}
					dict, dictInts = bs, is
					continue
				case pageData:
					raw, err := decompressPage(codec, body, usize)
					if err != nil {
						return nil, 0, err
					}
					dh := ph.get(5)
					n = int(dh.get(1).i)
					if n < 0 || n > maxRows-got {
						return nil, 0, fmt.Errorf("page of %d values past the %d rows of the file", n, maxRows)
					}
					enc = dh.get(2).i
					if col.optional {
						if len(raw) < 4 {
							return nil, 0, errors.New("page without definition levels")
						}
						l := int(binary.LittleEndian.Uint32(raw))
						if 4+l > len(raw) {
							return nil, 0, errors.New("definition levels past the end")
						}
						if defs, err = hybrid(raw[4:4+l], 1, n); err != nil {
							return nil, 0, err
						}
						raw = raw[4+l:]
					}
					vals = raw
				case pageDataV2:
					dh := ph.get(8)
					n = int(dh.get(1).i)
					if n < 0 || n > maxRows-got {
						return nil, 0, fmt.Errorf("page of %d values past the %d rows of the file", n, maxRows)
					}
					enc = dh.get(4).i
					dl, rl := int(dh.get(5).i), int(dh.get(6).i)
					if dl+rl > len(body) || dl < 0 || rl < 0 {
						return nil, 0, errors.New("levels past the end")
					}
					if col.optional && dl > 0 {
						var err error
						if defs, err = hybrid(body[rl:rl+dl], 1, n); err != nil {
							return nil, 0, err
						}
					}
					raw := body[rl+dl:]
					compressed := dh.get(7)
					if compressed.fields == nil && (dh.fields[7] == nil || compressed.i != 0) {
						var err error
						if raw, err = decompressPage(codec, raw, usize-dl-rl); err != nil {
							return nil, 0, err
						}
					}
					vals = raw
				default:
					continue
				}
				nonNull := n
				if defs != nil {
					nonNull = 0
					for _, d := range defs {
						nonNull += int(d)
					}
				}
				var bs [][]byte
				var is []int64
				switch enc {
				case encPlain:
					var err error
					if bs, is, err = plainValues(vals, col.typ, nonNull); err != nil {
						return nil, 0, err
					}
				case encPlainDict, encRLEDict:
					if len(vals) < 1 {
						return nil, 0, errors.New("dictionary indices without bit width")
					}
					idx, err := hybrid(vals[1:], int(vals[0]), nonNull)
					if err != nil {
						return nil, 0, err
					}
					for _, x := range idx {
						if dict != nil && int(x) < len(dict) {
							bs = append(bs, dict[x])
						} else if dictInts != nil && int(x) < len(dictInts) {
							is = append(is, dictInts[x])
						} else {
							return nil, 0, errors.New("dictionary index out of range")
						}
					}
				default:
					return nil, 0, fmt.Errorf("%w: parquet encoding %d", ErrUnsupported, enc)
				}
				dst := out[col.name]
				k := 0
				for i := 0; i < n; i++ {
					null := defs != nil && defs[i] == 0
					if col.typ == pqByteArray {
						if null || k >= len(bs) {
							dst.Bytes = append(dst.Bytes, nil)
						} else {
							dst.Bytes = append(dst.Bytes, bs[k])
							k++
						}
					} else {
						if null || k >= len(is) {
							dst.Ints = append(dst.Ints, 0)
						} else {
							dst.Ints = append(dst.Ints, is[k])
							k++
						}
					}
				}
				got += n
			}
		}
	}
	return out, nrows, nil
}

// plainValues decodes n PLAIN values of a physical type.
func plainValues(b []byte, typ int64, n int) ([][]byte, []int64, error) {
	switch typ {
	case pqByteArray:
		out := make([][]byte, 0, n)
		p := 0
		for i := 0; i < n; i++ {
			if p+4 > len(b) {
				return nil, nil, errors.New("byte array past the end")
			}
			l := int(binary.LittleEndian.Uint32(b[p:]))
			p += 4
			if l < 0 || p+l > len(b) {
				return nil, nil, errors.New("byte array past the end")
			}
			out = append(out, append([]byte{}, b[p:p+l]...))
			p += l
		}
		return out, nil, nil
	case pqInt64:
		if len(b) < 8*n {
			return nil, nil, errors.New("int64 values past the end")
		}
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		}
		return nil, out, nil
	case pqInt32:
		if len(b) < 4*n {
			return nil, nil, errors.New("int32 values past the end")
		}
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
		return nil, out, nil
	}
	return nil, nil, fmt.Errorf("%w: parquet type %d", ErrUnsupported, typ)
}
