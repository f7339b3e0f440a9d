package kerchunk

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"

	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/zarr"
)

// Parquet references, in the layout of fsspec's LazyReferenceMapper:
//
//	DIR/.zmetadata                {"metadata": {".zgroup": {...}, "v/.zarray": {...}, ...},
//	                               "record_size": N}
//	DIR/<array path>/refs.<i>.parq
//
// Each refs.<i>.parq holds record_size rows, row r describing chunk number
// i*record_size + r of the array (chunk numbers in C order over the chunk
// grid): columns path (string, null for inline or absent chunks), offset
// and size (int64), raw (bytes, for inline chunks). A row with neither
// path nor raw is a chunk without reference. Files are written with one
// row group, PLAIN encoding and zstd-compressed pages, as fsspec writes
// them; the reader also accepts dictionary encoding, data page v2 and
// snappy/gzip/uncompressed pages.

// DefaultRecordSize caps the rows per Parquet file.
const DefaultRecordSize = 10000

// ParquetOptions configures WriteParquet.
type ParquetOptions struct {
	// RecordSize is the number of chunk rows per file; 0 means the largest
	// number of chunks of any array, capped at DefaultRecordSize.
	RecordSize int
}

// zarrayGrid returns the chunk grid of a .zarray text ([1] for a scalar).
func zarrayGrid(text string) ([]uint64, error) {
	a, err := zarr.ParseArrayV2([]byte(text))
	if err != nil {
		return nil, err
	}
	if g := a.Grid(); len(g) > 0 {
		return g, nil
	}
	return []uint64{1}, nil
}

// parseChunkKey returns the C-order chunk number of a chunk key "i.j.k".
func parseChunkKey(s string, grid []uint64) (uint64, bool) {
	if len(grid) == 0 {
		return 0, false
	}
	var n uint64
	for i := range grid {
		p := s
		j := strings.IndexByte(s, '.')
		if i < len(grid)-1 {
			if j < 0 {
				return 0, false
			}
			p, s = s[:j], s[j+1:]
		} else if j >= 0 {
			return 0, false
		}
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil || v >= grid[i] {
			return 0, false
		}
		n = n*grid[i] + v
	}
	return n, true
}

// ErrParquetIsDirectory is returned by WriteParquet: a Parquet reference
// set is a directory of files, written with WriteParquetSet.
var ErrParquetIsDirectory = errors.New("kerchunk: a Parquet reference set is a directory, not one stream: use WriteParquetSet")

// WriteParquet exists for callers that write one stream: Parquet
// references are a directory, so it always returns ErrParquetIsDirectory.
func WriteParquet(w io.Writer, s *Refs, opts *WriteOptions) error { return ErrParquetIsDirectory }

// WriteParquetSet writes s as a Parquet reference set, calling put for each
// file with its path relative to the set's directory (".zmetadata" last).
// Every key must be Zarr metadata or a chunk of an array described by a
// .zarray in s.
func WriteParquetSet(s *Refs, put func(name string, data []byte) error, opts *ParquetOptions) error {
	if opts == nil {
		opts = &ParquetOptions{}
	}
	type field struct {
		name  string
		grid  []uint64
		total uint64
	}
	fields := map[string]int32{} // array path -> index in list
	var list []*field
	var meta bytes.Buffer
	meta.WriteString(`{"metadata":{`)
	nmeta := 0
	for i := range s.n {
		k := s.key(i)
		if !IsMetadataKey(k) {
			continue
		}
		r := s.ref(i)
		if !r.IsInline() || !json.Valid(zarr.QuoteNonFinite(r.Data)) {
			return fmt.Errorf("parquet: metadata key %q does not hold JSON", k)
		}
		if nmeta > 0 {
			meta.WriteByte(',')
		}
		meta.Write(appendJSONString(nil, k))
		meta.WriteByte(':')
		meta.Write(r.Data)
		nmeta++
		if strings.HasSuffix(k, "/.zarray") {
			name := strings.TrimSuffix(k, "/.zarray")
			g, err := zarrayGrid(string(r.Data))
			if err != nil {
				return fmt.Errorf("parquet: %s: %w", k, err)
			}
			f := &field{name: name, grid: g, total: 1}
			for _, x := range g {
				f.total *= x
			}
			if j, ok := fields[name]; ok {
				list[j] = f
			} else {
				fields[name] = int32(len(list))
				list = append(list, f)
			}
		}
	}
	if s.n > math.MaxInt32 {
		return fmt.Errorf("parquet: %d references, more than %d", s.n, math.MaxInt32)
	}
	// chunkOf resolves chunk key i: its array and chunk number (ok false
	// for metadata).
	var lastField int32 = -1
	lastPrefix := ""
	chunkOf := func(i int) (fi int32, num uint64, ok bool, err error) {
		k := s.key(i)
		if IsMetadataKey(k) {
			return 0, 0, false, nil
		}
		j := strings.LastIndexByte(k, '/')
		if j < 0 {
			return 0, 0, false, fmt.Errorf("parquet: key %q is not a chunk of an array", k)
		}
		fi = lastField
		if lastField < 0 || k[:j] != lastPrefix {
			var found bool
			if fi, found = fields[k[:j]]; !found {
				return 0, 0, false, fmt.Errorf("parquet: key %q is not a chunk of an array", k)
			}
			lastField, lastPrefix = fi, k[:j]
		}
		num, found := parseChunkKey(k[j+1:], list[fi].grid)
		if !found {
			return 0, 0, false, fmt.Errorf("parquet: key %q is not on the chunk grid %v", k, list[fi].grid)
		}
		return fi, num, true, nil
	}
	// Usually (always for translations) each array's chunks are one run of
	// keys in increasing chunk order: then the arrays' runs are written in
	// name order straight from s. Else the chunks are listed, 16 bytes
	// each, and sorted.
	type run struct {
		first, last int
		lastNum     uint64
		seen        bool
	}
	runs := make([]run, len(list))
	var each func(fn func(fi int32, num uint64, ent int) error) error
	inOrder := true
	prev := int32(-1)
	for i := range s.n {
		fi, num, ok, err := chunkOf(i)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		r := &runs[fi]
		switch {
		case !r.seen:
			r.first, r.seen = i, true
		case fi != prev || num <= r.lastNum:
			inOrder = false
		}
		r.last, r.lastNum, prev = i, num, fi
	}
	type chunkRow struct {
		num   uint64
		field int32
		ent   int32
	}
	var rows []chunkRow
	if inOrder {
		byName := make([]int32, 0, len(list))
		for fi := range list {
			if runs[fi].seen {
				byName = append(byName, int32(fi))
			}
		}
		slices.SortStableFunc(byName, func(a, b int32) int { return strings.Compare(list[a].name, list[b].name) })
		each = func(fn func(fi int32, num uint64, ent int) error) error {
			for _, fi := range byName {
				for i := runs[fi].first; i <= runs[fi].last; i++ {
					f, num, ok, err := chunkOf(i)
					if err != nil {
						return err
					}
					if ok {
						if err := fn(f, num, i); err != nil {
							return err
						}
					}
				}
			}
			return nil
		}
	} else {
		// The chunks sorted by array name and number (a later key for the
		// same chunk wins, as in a map).
		rows = make([]chunkRow, 0, s.n-nmeta)
		for i := range s.n {
			fi, num, ok, _ := chunkOf(i) // checked above
			if ok {
				rows = append(rows, chunkRow{num: num, field: fi, ent: int32(i)})
			}
		}
		slices.SortStableFunc(rows, func(a, b chunkRow) int {
			if a.field != b.field {
				return strings.Compare(list[a.field].name, list[b.field].name)
			}
			return cmp.Compare(a.num, b.num)
		})
		each = func(fn func(fi int32, num uint64, ent int) error) error {
			for _, r := range rows {
				if err := fn(r.field, r.num, int(r.ent)); err != nil {
					return err
				}
			}
			return nil
		}
	}
	maxChunks := uint64(1)
	for _, f := range list {
		maxChunks = max(maxChunks, f.total)
	}
	rs := opts.RecordSize
	if rs <= 0 {
		rs = int(min(maxChunks, DefaultRecordSize))
	}
	meta.WriteString(`},"record_size":`)
	meta.WriteString(strconv.Itoa(rs))
	meta.WriteString("}")
	// One record file per array and record number holding chunks.
	recRows := make([]Ref, rs)
	present := make([]bool, rs)
	curField, curRec, pending := int32(-1), uint64(0), false
	flush := func() error {
		if !pending {
			return nil
		}
		pending = false
		data, err := encodeRefsParquet(recRows, present)
		if err != nil {
			return err
		}
		clear(recRows)
		clear(present)
		return put(list[curField].name+"/refs."+strconv.FormatUint(curRec, 10)+".parq", data)
	}
	err := each(func(fi int32, num uint64, ent int) error {
		rec := num / uint64(rs)
		if pending && (fi != curField || rec != curRec) {
			if err := flush(); err != nil {
				return err
			}
		}
		curField, curRec, pending = fi, rec, true
		r := num % uint64(rs)
		recRows[r], present[r] = s.ref(ent), true // a later duplicate wins
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	return put(".zmetadata", meta.Bytes())
}

// ReadParquetSet reads a Parquet reference set through get, which returns
// the file at a path relative to the set's directory (an error for an
// absent refs file means that its chunks have no reference). The default
// limits apply (see ReadParquetSetLimits).
func ReadParquetSet(get func(name string) ([]byte, error)) (*Refs, error) {
	return ReadParquetSetLimits(get, limits.Limits{})
}

// ReadParquetSetLimits is ReadParquetSet with limits: a variable's chunk
// grid above lim.ChunksPerVariable, a record_size above
// lim.ChunksPerFile, or a page of more rows than its file's record_size
// fails before it is listed or allocated. Zero fields take the defaults.
func ReadParquetSetLimits(get func(name string) ([]byte, error), lim limits.Limits) (*Refs, error) {
	lim = lim.WithDefaults()
	data, err := get(".zmetadata")
	if err != nil {
		return nil, err
	}
	top, err := lenientObject(data)
	if err != nil {
		return nil, badRefs(".zmetadata: %v", err)
	}
	var metaRaw []byte
	rs := 0
	for _, kv := range top {
		switch kv.key {
		case "metadata":
			metaRaw = kv.val
		case "record_size":
			rs, err = strconv.Atoi(strings.TrimSpace(string(kv.val)))
			if err != nil || rs <= 0 {
				return nil, badRefs(".zmetadata: record_size %s", string(kv.val))
			}
		}
	}
	if metaRaw == nil || rs == 0 {
		return nil, badRefs(".zmetadata without metadata or record_size")
	}
	if err := limits.Check(limits.ChunksPerFile, uint64(rs), lim.ChunksPerFile); err != nil {
		return nil, err
	}
	metas, err := lenientObject(metaRaw)
	if err != nil {
		return nil, badRefs(".zmetadata: %v", err)
	}
	refs := NewRefs(len(metas))
	for _, kv := range metas {
		refs.add(kv.key, Inline(kv.val)) // copied into the arena
	}
	for _, kv := range metas {
		if !strings.HasSuffix(kv.key, "/.zarray") {
			continue
		}
		name := strings.TrimSuffix(kv.key, "/.zarray")
		grid, err := zarrayGrid(string(kv.val))
		if err != nil {
			return nil, badRefs("%s: %v", kv.key, err)
		}
		total := limits.Product(grid)
		if err := limits.CheckVar(limits.ChunksPerVariable, "", name, total, lim.ChunksPerVariable); err != nil {
			return nil, err
		}
		nrec := (total + uint64(rs) - 1) / uint64(rs)
		for rec := uint64(0); rec < nrec; rec++ {
			b, err := get(name + "/refs." + strconv.FormatUint(rec, 10) + ".parq")
			if err != nil {
				continue // no file: no chunks in this record
			}
			cols, n, err := decodeParquet(b, rs)
			if err != nil {
				return nil, badRefs("%s/refs.%d.parq: %v", name, rec, err)
			}
			for r := 0; r < n; r++ {
				num := rec*uint64(rs) + uint64(r)
				if num >= total {
					break
				}
				var ref Ref
				switch {
				case cols["raw"].bytesAt(r) != nil:
					ref = Inline(cols["raw"].bytesAt(r))
				case cols["path"].bytesAt(r) != nil:
					ref.URL = string(cols["path"].bytesAt(r))
					off, size := cols["offset"].int(r), cols["size"].int(r)
					if off == 0 && size == 0 {
						ref.Length = -1
					} else {
						ref.Offset, ref.Length = off, size
					}
				default:
					continue
				}
				idx := unravel(num, grid)
				refs.addKey(func(b []byte) []byte { return chunkKey(b, name+"/", idx) }, ref)
			}
		}
	}
	refs.dedupeKeys()
	return refs, nil
}

// lenientObject splits a JSON object into raw members (eachMember), with
// the NaN, Infinity and -Infinity literals Python's json module writes
// kept as they are.
func lenientObject(data []byte) ([]keyValue, error) {
	var out []keyValue
	err := eachMember(data, func(k, v []byte) error {
		key, err := jsonString(k)
		if err != nil {
			return fmt.Errorf("object key: %v", err)
		}
		out = append(out, keyValue{key, v})
		return nil
	})
	return out, err
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

// encodeRefsParquet writes one refs file.
func encodeRefsParquet(rows []Ref, present []bool) ([]byte, error) {
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
			ref := rows[r]
			switch col.name {
			case "path":
				ok := present[r] && !ref.IsInline()
				defs = append(defs, ok)
				if ok {
					values = binary.LittleEndian.AppendUint32(values, uint32(len(ref.URL)))
					values = append(values, ref.URL...)
				}
			case "offset", "size":
				var v int64
				if present[r] && !ref.IsInline() && ref.Length >= 0 {
					v = ref.Offset
					if col.name == "size" {
						v = ref.Length
					}
				}
				values = binary.LittleEndian.AppendUint64(values, uint64(v))
			case "raw":
				ok := present[r] && ref.IsInline()
				defs = append(defs, ok)
				if ok {
					values = binary.LittleEndian.AppendUint32(values, uint32(len(ref.Data)))
					values = append(values, ref.Data...)
				}
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

// pqValues is one decoded column: byte arrays (nil for null) or ints.
type pqValues struct {
	bytes [][]byte
	ints  []int64
}

func (c *pqValues) bytesAt(r int) []byte {
	if c == nil || r >= len(c.bytes) {
		return nil
	}
	return c.bytes[r]
}

func (c *pqValues) int(r int) int64 {
	if c == nil || r >= len(c.ints) {
		return 0
	}
	return c.ints[r]
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
		return zstdDecoderFor().DecodeAll(data, make([]byte, 0, size))
	}
	return nil, fmt.Errorf("%w: parquet compression codec %d", ErrUnsupported, codec)
}

var zstdDec *zstd.Decoder

func zstdDecoderFor() *zstd.Decoder {
	if zstdDec == nil {
		zstdDec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	}
	return zstdDec
}

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

// decodeParquet reads the flat columns of a Parquet file of references.
// decodeParquet decodes a refs file of at most maxRows rows (its set's
// record_size): counts above it fail before anything is allocated.
func decodeParquet(b []byte, maxRows int) (map[string]*pqValues, int, error) {
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
	out := map[string]*pqValues{}
	for _, c := range cols {
		out[c.name] = &pqValues{}
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
							dst.bytes = append(dst.bytes, nil)
						} else {
							dst.bytes = append(dst.bytes, bs[k])
							k++
						}
					} else {
						if null || k >= len(is) {
							dst.ints = append(dst.ints, 0)
						} else {
							dst.ints = append(dst.ints, is[k])
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
