package kerchunk

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/greensight/vzarr/internal/parquet"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/zarr"
)

// Parquet references, in the layout of fsspec's LazyReferenceMapper:
//
//	DIR/.zmetadata                {"metadata": {".zgroup": {...}, "v/.zarray": {...}, ...},
//	                               "record_size": N, "zarr_consolidated_format": 1}
//	DIR/<array path>/refs.<i>.parq
//
// fsspec serves the .zmetadata file itself as the key .zmetadata: it is
// the set's consolidated metadata (zarr 2 requires the format member).
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
	// The set's .zmetadata is its consolidated metadata (fsspec serves the
	// file itself as the key .zmetadata), so a .zmetadata key of s is not
	// one of its metadata keys.
	metaObj, err := s.appendMetadataObject(nil)
	if err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	nmeta := 0
	for i := range s.n {
		k := s.key(i)
		if !IsMetadataKey(k) {
			continue
		}
		nmeta++
		if strings.HasSuffix(k, "/.zarray") {
			name := strings.TrimSuffix(k, "/.zarray")
			g, err := zarrayGrid(string(s.ref(i).Data))
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
	var meta bytes.Buffer
	meta.WriteString(`{"metadata":`)
	meta.Write(metaObj)
	meta.WriteString(`,"record_size":`)
	meta.WriteString(strconv.Itoa(rs))
	meta.WriteString(`,"zarr_consolidated_format":1}`)
	// One record file per array and record number holding chunks.
	recRows := make([]Ref, rs)
	present := make([]bool, rs)
	curField, curRec, pending := int32(-1), uint64(0), false
	flush := func() error {
		if !pending {
			return nil
		}
		pending = false
		data, err := parquet.Encode(pqRows(recRows, present))
		if err != nil {
			return err
		}
		clear(recRows)
		clear(present)
		return put(list[curField].name+"/refs."+strconv.FormatUint(curRec, 10)+".parq", data)
	}
	err = each(func(fi int32, num uint64, ent int) error {
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
		if !isConsolidatedKey(kv.key) { // the set's .zmetadata is rebuilt below
			refs.add(kv.key, Inline(kv.val)) // copied into the arena
		}
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
			cols, n, err := parquet.Decode(b, rs)
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
				case cols["raw"].BytesAt(r) != nil:
					ref = Inline(cols["raw"].BytesAt(r))
				case cols["path"].BytesAt(r) != nil:
					ref.URL = string(cols["path"].BytesAt(r))
					off, size := cols["offset"].Int(r), cols["size"].Int(r)
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
	// fsspec serves the set's .zmetadata as a key: so does the set read.
	if err := refs.Consolidate(); err != nil {
		return nil, err
	}
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

// pqRows converts a record's references to refs file rows: path, offset
// and size for a byte range (offset and size 0 for a whole file), raw for
// inline data, nulls and zeros for a chunk without reference.
func pqRows(refs []Ref, present []bool) []parquet.Row {
	rows := make([]parquet.Row, len(refs))
	for i, ref := range refs {
		switch {
		case !present[i]:
		case ref.IsInline():
			rows[i].Raw = ref.Data
			if rows[i].Raw == nil {
				rows[i].Raw = []byte{}
			}
		default:
			rows[i].Path = []byte(ref.URL)
			if ref.Length >= 0 {
				rows[i].Offset, rows[i].Size = ref.Offset, ref.Length
			}
		}
	}
	return rows
}
