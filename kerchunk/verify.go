package kerchunk

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/internal/elem"
	"github.com/greensight/vzarr/kerchunk/codecs"
	"github.com/greensight/vzarr/netcdf3"
	"github.com/greensight/vzarr/netcdf4"
)

// VerifyOptions configures Verify.
type VerifyOptions struct {
	// Sample is the number of chunks checked per array: the first, the
	// last and evenly spaced ones between (0 or less: every chunk,
	// never-written ones included).
	Sample int
	// Fetch reads n bytes at off of the object a reference names (n < 0:
	// the whole object). Required for references that are not inline.
	Fetch func(ctx context.Context, url string, off, n int64) ([]byte, error)
}

// Mismatch is one chunk whose data through the references differs from
// the source.
type Mismatch struct {
	Array  string `json:"array"`
	Chunk  string `json:"chunk"`
	Reason string `json:"reason"`
}

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	Arrays     int        `json:"arrays_checked"`
	Chunks     int        `json:"chunks_checked"`
	Elements   int64      `json:"elements_compared"`
	Mismatches []Mismatch `json:"mismatches"`
}

// OK reports whether every checked chunk matched.
func (r *VerifyReport) OK() bool { return len(r.Mismatches) == 0 }

// Verify reads chunks through the references, decodes them as a Zarr v2
// reader does (numcodecs semantics: vlen-utf8, vlen-array, zlib, gzip,
// shuffle, fletcher32, imagecodecs_lzf, zstd, lz4; fill_value for absent
// keys) and compares their in-bounds elements with the source file (size
// bytes in src) read directly: HDF5 chunks located through the chunk index
// and decoded with the HDF5 filter pipeline (filter masks, n-bit,
// scale-offset included), never-written storage read as libhdf5 reads it,
// netCDF-3 variables from their byte ranges. It checks Invariant 2 without
// Python: offsets, lengths, codecs, dtypes, shapes, chunk keys and fill
// values. Arrays that do not exist in the source are reported.
func Verify(ctx context.Context, refs *Refs, src io.ReaderAt, size int64, opts VerifyOptions) (*VerifyReport, error) {
	var head [4]byte
	n, _ := src.ReadAt(head[:], 0)
	var srcOf func(key string) (expecter, error)
	if n == 4 && netcdf3.IsNetCDF3(head[:]) {
		f, err := netcdf3.Open(src, size)
		if err != nil {
			return nil, err
		}
		srcOf = func(key string) (expecter, error) {
			v := f.Var(key)
			if v == nil {
				return nil, fmt.Errorf("no variable %q in the source", key)
			}
			return &nc3Expect{r: src, v: v}, nil
		}
	} else {
		t, err := newH5Translator(ctx, src, size, "", Options{})
		if err != nil {
			return nil, err
		}
		vars := map[string]*netcdf4.Var{}
		for _, v := range t.m.Vars {
			vars[v.Key()] = v
		}
		srcOf = func(key string) (expecter, error) {
			v := vars[key]
			if v == nil {
				return nil, fmt.Errorf("no variable %q in the source", key)
			}
			p, err := t.plan(key, v)
			if err != nil {
				return nil, err
			}
			stored, err := t.storedChunks(p)
			if err != nil {
				return nil, err
			}
			e := &h5Expect{t: t, p: p, stored: map[uint64]srcChunk{}}
			for i := range stored.n() {
				c := stored.get(i)
				e.stored[c.lin] = c
			}
			return e, nil
		}
	}
	rep := &VerifyReport{Mismatches: []Mismatch{}}
	var arrays []string
	for _, k := range refs.Keys() {
		if strings.HasSuffix(k, "/.zarray") {
			arrays = append(arrays, strings.TrimSuffix(k, "/.zarray"))
		}
	}
	sort.Strings(arrays)
	for _, a := range arrays {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.Arrays++
		bad := func(chunk, format string, args ...any) {
			rep.Mismatches = append(rep.Mismatches, Mismatch{Array: a, Chunk: chunk, Reason: fmt.Sprintf(format, args...)})
		}
		text, _ := refs.Text(a + "/.zarray")
		meta, err := parseZarray(text)
		if err != nil {
			bad("", ".zarray: %v", err)
			continue
		}
		exp, err := srcOf(a)
		if err != nil {
			bad("", "%v", err)
			continue
		}
		for _, idx := range samplePositions(meta.grid(), opts.Sample) {
			key := string(chunkKey(nil, a+"/", idx))
			name := strings.TrimPrefix(key, a+"/")
			rep.Chunks++
			got, gotItems, err := meta.readChunk(ctx, refs, key, opts.Fetch)
			if err != nil {
				bad(name, "reading through the references: %v", err)
				continue
			}
			want, wantItems, err := exp.chunk(idx)
			if err != nil {
				bad(name, "reading the source: %v", err)
				continue
			}
			n, why := meta.compare(idx, got, want, gotItems, wantItems)
			rep.Elements += n
			if why != "" {
				bad(name, "%s", why)
			}
		}
	}
	return rep, nil
}

// newH5Translator opens an HDF5 file and builds its netCDF-4 view.
func newH5Translator(ctx context.Context, r io.ReaderAt, size int64, url string, opts Options) (*h5translator, error) {
	o := opts.norm()
	f, err := hdf5meta.Open(r, size)
	if err != nil {
		return nil, err
	}
	m, err := netcdf4.New(ctx, f)
	if err != nil {
		return nil, err
	}
	return &h5translator{ctx: ctx, opts: o, name: url, url: url, f: f, h: newH5Reader(r, size, f), m: m,
		refs: NewRefs(0), res: &Result{Dimensions: map[string]uint64{}, Variables: map[string]*VarInfo{}}}, nil
}

// samplePositions picks chunk grid positions: all, or n spread over the
// grid including the first and the last.
func samplePositions(grid []uint64, n int) [][]uint64 {
	total := uint64(1)
	for _, g := range grid {
		total *= g
	}
	if total == 0 {
		return nil
	}
	var lins []uint64
	if n <= 0 || uint64(n) >= total {
		if total > 1<<22 {
			total = 1 << 22 // an upper bound on "all"
		}
		for i := uint64(0); i < total; i++ {
			lins = append(lins, i)
		}
	} else if n == 1 {
		lins = []uint64{0}
	} else {
		seen := map[uint64]bool{}
		for i := 0; i < n; i++ {
			l := uint64(float64(total-1) * float64(i) / float64(n-1))
			if !seen[l] {
				seen[l] = true
				lins = append(lins, l)
			}
		}
	}
	out := make([][]uint64, len(lins))
	for i, l := range lins {
		out[i] = unravel(l, grid)
	}
	return out
}

// expecter gives a chunk's expected content from the source: raw Zarr
// elements, or items for variable-length arrays.
type expecter interface {
	chunk(idx []uint64) ([]byte, [][]byte, error)
}

type h5Expect struct {
	t      *h5translator
	p      *varPlan
	stored map[uint64]srcChunk
}

func (e *h5Expect) chunk(idx []uint64) ([]byte, [][]byte, error) {
	p := e.p
	if p.tooBig {
		return nil, nil, p.errTooBig()
	}
	var lin uint64
	for i, x := range idx {
		lin = lin*p.grid[i] + x
	}
	gap := newFillChunks(p, nil)
	cls := gap.class(idx)
	var raw []byte
	if c, ok := e.stored[lin]; ok {
		stored := c.data
		if stored == nil {
			if c.url != e.t.url && c.url != "" {
				return nil, nil, fmt.Errorf("%w: data in the external file %s", ErrUnsupported, c.url)
			}
			b, err := e.t.h.readAbs(c.off, c.size, "chunk")
			if err != nil {
				return nil, nil, err
			}
			stored = b
		}
		if !c.whole {
			var err error
			if stored, err = decodePipeline(p.srcFilters, c.mask, stored, p.rawChunk, p.ds.Type, p.nelem); err != nil {
				return nil, nil, err
			}
		}
		raw = append([]byte(nil), stored...)
	} else {
		switch cls {
		case chunkBeyond:
			raw = bytes.Repeat(p.beyond, p.nelem)
		default:
			raw = bytes.Repeat(p.missing, p.nelem)
		}
	}
	if cls == chunkStraddles {
		patchBeyond(p, idx, raw)
	}
	if p.zt.kind != kindFixed {
		if _, ok := e.stored[lin]; !ok {
			return nil, make([][]byte, p.nelem), nil
		}
		items, err := e.t.vlenItems(p, raw)
		return nil, items, err
	}
	return p.convert(raw), nil, nil
}

type nc3Expect struct {
	r io.ReaderAt
	v *netcdf3.Var
}

func (e *nc3Expect) chunk(idx []uint64) ([]byte, [][]byte, error) {
	i := int64(0)
	if e.v.IsRecord {
		i = int64(idx[0])
	}
	if i >= e.v.NumSlabs() {
		return nil, nil, fmt.Errorf("record %d of %d", i, e.v.NumSlabs())
	}
	s := e.v.Slab(i)
	b := make([]byte, s.Length)
	if _, err := e.r.ReadAt(b, s.Offset); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	return b, nil, nil
}

// zmeta is a parsed .zarray.
type zmeta struct {
	Shape      []uint64        `json:"shape"`
	Chunks     []uint64        `json:"chunks"`
	Dtype      json.RawMessage `json:"dtype"`
	Fill       json.RawMessage `json:"fill_value"`
	Filters    []codecs.Config `json:"filters"`
	Compressor codecs.Config   `json:"compressor"`
	Order      string          `json:"order"`
	Format     int             `json:"zarr_format"`
	chain      *codecs.Chain   // byte codecs
	vlen       string          // "vlen-utf8", "vlen-array" or ""
	simple     string          // the dtype string, "" for structured
	elemSize   int             // bytes per element (fixed-size dtypes)
}

func parseZarray(text string) (*zmeta, error) {
	var m zmeta
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m.Format != 2 {
		return nil, fmt.Errorf("zarr_format %d", m.Format)
	}
	if len(m.Shape) != len(m.Chunks) {
		return nil, fmt.Errorf("shape %v and chunks %v differ in rank", m.Shape, m.Chunks)
	}
	for _, c := range m.Chunks {
		if c == 0 {
			return nil, fmt.Errorf("chunk dimension 0")
		}
	}
	if m.Order != "" && m.Order != "C" {
		return nil, fmt.Errorf("%w: order %q", ErrUnsupported, m.Order)
	}
	filters := m.Filters
	if len(filters) > 0 {
		if id, _ := filters[0]["id"].(string); id == "vlen-utf8" || id == "vlen-array" || id == "vlen-bytes" {
			m.vlen = id
			filters = filters[1:]
		}
	}
	chain, err := codecs.NewChain(filters, m.Compressor)
	if err != nil {
		return nil, err
	}
	m.chain = chain
	var s string
	if json.Unmarshal(m.Dtype, &s) == nil {
		m.simple = s
		if len(s) >= 3 && s[1] != 'O' {
			n, err := strconv.Atoi(s[2:])
			if err != nil {
				return nil, fmt.Errorf("dtype %q", s)
			}
			if s[1] == 'U' {
				n *= 4
			}
			m.elemSize = n
		}
	} else {
		n, err := structSize(m.Dtype)
		if err != nil {
			return nil, err
		}
		m.elemSize = n
	}
	if m.vlen == "" && m.elemSize == 0 {
		return nil, fmt.Errorf("%w: dtype %s without an object codec", ErrUnsupported, string(m.Dtype))
	}
	return &m, nil
}

// structSize returns the size of a structured dtype in list form.
func structSize(raw json.RawMessage) (int, error) {
	var fields [][]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return 0, fmt.Errorf("dtype %s: %v", string(raw), err)
	}
	total := 0
	for _, f := range fields {
		if len(f) < 2 {
			return 0, fmt.Errorf("dtype field %v", f)
		}
		var s string
		var n int
		if json.Unmarshal(f[1], &s) == nil {
			v, err := strconv.Atoi(s[2:])
			if err != nil {
				return 0, fmt.Errorf("dtype %q", s)
			}
			n = v
		} else {
			v, err := structSize(f[1])
			if err != nil {
				return 0, err
			}
			n = v
		}
		if len(f) > 2 {
			var dims []int
			if err := json.Unmarshal(f[2], &dims); err != nil {
				return 0, err
			}
			for _, d := range dims {
				n *= d
			}
		}
		total += n
	}
	return total, nil
}

func (m *zmeta) grid() []uint64 {
	g := make([]uint64, len(m.Shape))
	for i := range g {
		g[i] = (m.Shape[i] + m.Chunks[i] - 1) / m.Chunks[i]
	}
	return g
}

func (m *zmeta) nelem() int {
	n := 1
	for _, c := range m.Chunks {
		n *= int(c)
	}
	return n
}

// readChunk reads and decodes a chunk through the references; an absent
// key reads as fill_value.
func (m *zmeta) readChunk(ctx context.Context, refs *Refs, key string, fetch func(context.Context, string, int64, int64) ([]byte, error)) ([]byte, [][]byte, error) {
	ref, ok := refs.Get(key)
	if !ok {
		if m.vlen != "" {
			return nil, nil, fmt.Errorf("no reference, and arrays of variable-length items have no fill_value to read instead")
		}
		fill, err := m.fillBytes()
		if err != nil {
			return nil, nil, err
		}
		if fill == nil {
			return nil, nil, fmt.Errorf("no reference and fill_value null: a reader returns uninitialised memory")
		}
		return bytes.Repeat(fill, m.nelem()), nil, nil
	}
	data := ref.Data
	if !ref.IsInline() {
		if fetch == nil {
			return nil, nil, fmt.Errorf("reference to %s and no way to read it", ref.URL)
		}
		var err error
		if data, err = fetch(ctx, ref.URL, ref.Offset, ref.Length); err != nil {
			return nil, nil, err
		}
		if ref.Length >= 0 && int64(len(data)) != ref.Length {
			return nil, nil, fmt.Errorf("read %d bytes of a %d-byte range", len(data), ref.Length)
		}
	}
	dec, err := m.chain.Decode(data)
	if err != nil {
		return nil, nil, err
	}
	switch m.vlen {
	case "":
		if want := m.nelem() * m.elemSize; len(dec) != want {
			return nil, nil, fmt.Errorf("chunk decodes to %d bytes, want %d", len(dec), want)
		}
		return dec, nil, nil
	default:
		items, err := decodeItems(dec)
		if err != nil {
			return nil, nil, err
		}
		if len(items) != m.nelem() {
			return nil, nil, fmt.Errorf("chunk holds %d items, want %d", len(items), m.nelem())
		}
		return nil, items, nil
	}
}

func decodeItems(b []byte) ([][]byte, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: vlen chunk of %d bytes", codecs.ErrCorrupt, len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n)*4 > uint64(len(b)-4) {
		return nil, fmt.Errorf("%w: %d items in %d bytes", codecs.ErrCorrupt, n, len(b))
	}
	out := make([][]byte, n)
	p := 4
	for i := range out {
		if p+4 > len(b) {
			return nil, fmt.Errorf("%w: vlen chunk ends early", codecs.ErrCorrupt)
		}
		l := int(binary.LittleEndian.Uint32(b[p:]))
		p += 4
		if l < 0 || l > len(b)-p {
			return nil, fmt.Errorf("%w: vlen item past the end", codecs.ErrCorrupt)
		}
		out[i] = b[p : p+l]
		p += l
	}
	return out, nil
}

// fillBytes returns one element of fill_value as zarr materialises it, or
// nil for null.
func (m *zmeta) fillBytes() ([]byte, error) {
	raw := bytes.TrimSpace(m.Fill)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	s := m.simple
	if s == "" || len(s) < 3 {
		var b64 string
		if err := json.Unmarshal(raw, &b64); err != nil {
			return nil, fmt.Errorf("fill_value %s for a structured dtype", string(raw))
		}
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(b) != m.elemSize {
			return nil, fmt.Errorf("fill_value %s", string(raw))
		}
		return b, nil
	}
	bo := elem.Order(s[0] == '>')
	out := make([]byte, m.elemSize)
	switch s[1] {
	case 'f':
		var f float64
		var str string
		if json.Unmarshal(raw, &str) == nil {
			switch str {
			case "NaN":
				f = math.NaN()
			case "Infinity":
				f = math.Inf(1)
			case "-Infinity":
				f = math.Inf(-1)
			default:
				return nil, fmt.Errorf("fill_value %q", str)
			}
		} else if err := json.Unmarshal(raw, &f); err != nil {
			return nil, fmt.Errorf("fill_value %s", string(raw))
		}
		if !elem.PutFloat(out, bo, m.elemSize, f) {
			return nil, fmt.Errorf("%w: fill_value for %s", ErrUnsupported, s)
		}
	case 'i', 'u':
		var u uint64
		var i int64
		if json.Unmarshal(raw, &i) == nil {
			u = uint64(i)
		} else if err := json.Unmarshal(raw, &u); err != nil {
			var f float64
			if json.Unmarshal(raw, &f) != nil {
				return nil, fmt.Errorf("fill_value %s", string(raw))
			}
			u = uint64(int64(f))
		}
		elem.PutUint(out, bo, m.elemSize, u)
	case 'b':
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Errorf("fill_value %s", string(raw))
		}
		if b {
			out[0] = 1
		}
	case 'S', 'V':
		var b64 string
		if err := json.Unmarshal(raw, &b64); err != nil {
			return nil, fmt.Errorf("fill_value %s", string(raw))
		}
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("fill_value %s: %v", string(raw), err)
		}
		copy(out, b)
	default:
		return nil, fmt.Errorf("%w: fill_value for %s", ErrUnsupported, s)
	}
	return out, nil
}

// compare compares the in-bounds elements of a chunk; it returns the
// number of elements compared and a description of the first difference.
func (m *zmeta) compare(idx []uint64, got, want []byte, gotItems, wantItems [][]byte) (int64, string) {
	rank := len(m.Shape)
	n := m.nelem()
	if m.vlen == "" && len(want) != n*m.elemSize {
		return 0, fmt.Sprintf("the source chunk has %d bytes, the Zarr chunk %d", len(want), n*m.elemSize)
	}
	if m.vlen != "" && len(wantItems) != n {
		return 0, fmt.Sprintf("the source chunk has %d items, the Zarr chunk %d", len(wantItems), n)
	}
	coord := make([]uint64, rank)
	var compared int64
	diffs := 0
	first := ""
	es := m.elemSize
	for e := 0; e < n; e++ {
		in := true
		for i := 0; i < rank; i++ {
			if idx[i]*m.Chunks[i]+coord[i] >= m.Shape[i] {
				in = false
				break
			}
		}
		if in {
			compared++
			same := true
			if m.vlen != "" {
				same = bytes.Equal(gotItems[e], wantItems[e])
			} else {
				a, b := got[e*es:(e+1)*es], want[e*es:(e+1)*es]
				same = bytes.Equal(a, b) || m.bothNaN(a, b)
			}
			if !same {
				diffs++
				if first == "" {
					at := make([]uint64, rank)
					for i := range at {
						at[i] = idx[i]*m.Chunks[i] + coord[i]
					}
					if m.vlen != "" {
						first = fmt.Sprintf("at %v: references %q, source %q", at, gotItems[e], wantItems[e])
					} else {
						first = fmt.Sprintf("at %v: references %x, source %x", at, got[e*es:(e+1)*es], want[e*es:(e+1)*es])
					}
				}
			}
		}
		for i := rank - 1; i >= 0; i-- {
			coord[i]++
			if coord[i] < m.Chunks[i] {
				break
			}
			coord[i] = 0
		}
	}
	if diffs > 0 {
		return compared, fmt.Sprintf("%d of %d elements differ, first %s", diffs, compared, first)
	}
	return compared, ""
}

func (m *zmeta) bothNaN(a, b []byte) bool {
	s := m.simple
	if len(s) < 3 || s[1] != 'f' {
		return false
	}
	bo := elem.Order(s[0] == '>')
	fa, oka := elem.Float(a, bo, len(a))
	fb, okb := elem.Float(b, bo, len(b))
	return oka && okb && math.IsNaN(fa) && math.IsNaN(fb)
}
