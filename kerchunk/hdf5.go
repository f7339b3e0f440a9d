package kerchunk

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/kerchunk/codecs"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/netcdf4"
	"github.com/greensight/vzarr/rangeio"
	"github.com/greensight/vzarr/zarr"
)

// TranslateHDF5 writes the references of an HDF5 or netCDF-4 file,
// naming variables and dimensions as the netCDF-4 view (package netcdf4)
// does. It stops with ctx's error when ctx is done.
func TranslateHDF5(ctx context.Context, r io.ReaderAt, size int64, url string, opts Options) (*Result, error) {
	o := opts.norm()
	name := o.Name
	if name == "" {
		name = url
	}
	f, err := hdf5meta.Open(r, size, hdf5meta.WithLimits(o.Limits))
	if err != nil {
		return nil, fileErr(name, "", err)
	}
	m, err := netcdf4.New(ctx, f)
	if err != nil {
		return nil, fileErr(name, "", err)
	}
	t := &h5translator{ctx: ctx, opts: o, name: name, url: url, f: f, h: newH5Reader(r, size, f), m: m,
		refs: NewRefs(64), res: &Result{Format: "hdf5", Dimensions: map[string]uint64{}, Variables: map[string]*VarInfo{}}}
	if m.IsNetCDF4 {
		t.res.Format = "netcdf4"
	}
	t.res.Refs = t.refs
	// Every chunk index, level by level with all requests in flight.
	dsets := make([]*hdf5meta.Dataset, len(m.Vars))
	for i, v := range m.Vars {
		dsets[i] = v.Dataset
	}
	f.PrefetchChunkIndexes(dsets)
	h := HeaderInfo{Name: name, Size: size}
	for _, v := range m.Vars {
		h.Variables++
		if ds := v.Dataset; ds.Layout.Class == hdf5meta.LayoutChunked {
			h.Chunks = addSat(h.Chunks, gridChunks(ds.Space.Dims, ds.Layout.ChunkDims))
		} else {
			h.Chunks = addSat(h.Chunks, 1)
		}
	}
	if err := o.onHeader(h); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer t.closeSources()
	if err := t.run(); err != nil {
		return nil, err
	}
	if err := t.refs.Consolidate(); err != nil {
		return nil, fileErr(name, "", err)
	}
	return t.res, nil
}

type h5translator struct {
	// ctx is the context of the one Translate or Verify call the
	// translator serves; loops over variables and chunks check it.
	ctx      context.Context
	opts     Options
	name     string
	url      string
	f        *hdf5meta.File
	h        *h5reader
	m        *netcdf4.File
	refs     *Refs
	res      *Result
	paths    map[uint64]string // object header address -> path, for object references
	fillUsed int64
	nchunks  uint64 // chunks listed so far, for Limits.ChunksPerFile
	// sources are the other files virtual datasets read, by URL.
	sources map[string]*sourceFile
}

func (t *h5translator) run() error {
	for _, g := range t.m.Groups {
		prefix := ""
		if g.Path != "" {
			prefix = g.Path + "/"
		}
		t.refs.add(prefix+zarr.GroupKeyV2, Ref{Data: []byte(zarr.GroupV2JSON)})
		var za attrsJSON
		for _, a := range g.Attrs {
			za.add(a.Name, t.attrValue(a))
		}
		if za.n > 0 {
			t.refs.add(prefix+".zattrs", Ref{Data: []byte(zarr.EscapeNonASCII(za.text()))})
		}
		for _, d := range g.Dims {
			t.res.Dimensions[d.Key()] = d.Size
		}
		for _, v := range g.Vars {
			if err := t.ctx.Err(); err != nil {
				return err
			}
			key := v.Key()
			err := t.variable(key, v)
			if err == nil {
				t.res.VarOrder = append(t.res.VarOrder, key)
				continue
			}
			var skip skipError
			if errors.As(err, &skip) {
				t.res.Skipped = append(t.res.Skipped, Skipped{Variable: key, Reason: skip.reason})
				continue
			}
			// variable adds its keys only once it has succeeded: nothing to undo.
			if reason, ok := t.opts.skipReason(err); ok {
				t.res.skip(key, reason)
				continue
			}
			if errors.As(err, new(unsupportedType)) {
				err = fmt.Errorf("%w: %w", ErrUnsupported, err)
			}
			return fileErr(t.name, key, err)
		}
		for _, v := range g.Shadowed {
			t.res.Skipped = append(t.res.Skipped, Skipped{Variable: v.Key(), Reason: "another variable of the group has the same netCDF name (" + v.HDF5Path + ")"})
		}
	}
	return nil
}

// skipError marks a variable that has nothing to translate (null
// dataspace); it is listed in Result.Skipped whatever the options.
type skipError struct{ reason string }

func (e skipError) Error() string { return e.reason }

// attrValue converts an attribute to JSON as xarray shows it: null
// dataspaces as "" (strings) or [], scalars as scalars, arrays flattened.
func (t *h5translator) attrValue(a *hdf5meta.Attribute) []byte {
	if a.Space.Kind == hdf5meta.SpaceNull {
		if a.Type.Class == hdf5meta.ClassString || a.Type.IsVarLenString() {
			return []byte(`""`)
		}
		return []byte(`[]`)
	}
	v := t.normValue(a.Type, a.Value)
	if a.Space.Kind == hdf5meta.SpaceSimple {
		if l, ok := v.([]any); ok {
			v = flatten(l)
		}
		// One value reads as a scalar, as netCDF4-python returns it.
		if a.Space.NumElements() == 1 && a.Type.Class != hdf5meta.ClassArray {
			if x, ok := firstValue(v); ok {
				v = x
			}
		}
	} else if l, ok := v.([]any); ok && a.Type.Class == hdf5meta.ClassArray {
		v = flatten(l)
	}
	return appendValue(nil, v)
}

// normValue orders compound members and turns references into paths.
func (t *h5translator) normValue(tp *hdf5meta.Datatype, v any) any {
	switch tp.Class {
	case hdf5meta.ClassCompound:
		switch x := v.(type) {
		case map[string]any:
			om := orderedMap{}
			for _, m := range tp.Members {
				om.keys = append(om.keys, m.Name)
				om.vals = append(om.vals, t.normValue(m.Type, x[m.Name]))
			}
			return om
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = t.normValue(tp, e)
			}
			return out
		}
	case hdf5meta.ClassReference:
		switch x := v.(type) {
		case uint64:
			return t.refPath(x)
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = t.normValue(tp, e)
			}
			return out
		}
	case hdf5meta.ClassArray, hdf5meta.ClassVarLen:
		if x, ok := v.([]any); ok && tp.Base != nil && !tp.IsVarLenString() {
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = t.normValue(tp.Base, e)
			}
			return out
		}
	}
	return v
}

func flatten(l []any) []any {
	nested := false
	for _, e := range l {
		if _, ok := e.([]any); ok {
			nested = true
			break
		}
	}
	if !nested {
		return l
	}
	var out []any
	for _, e := range l {
		if s, ok := e.([]any); ok {
			out = append(out, flatten(s)...)
		} else {
			out = append(out, e)
		}
	}
	return out
}

func (t *h5translator) refPath(addr uint64) string {
	if t.paths == nil {
		t.paths = map[uint64]string{}
		_ = t.f.Walk(func(p string, o hdf5meta.Object) error {
			if _, ok := t.paths[o.ObjectAddr()]; !ok {
				t.paths[o.ObjectAddr()] = p
			}
			return nil
		})
	}
	return t.paths[addr]
}

// ------------------------------------------------------------ variables

// varPlan is everything needed to write one variable's chunks.
type varPlan struct {
	key    string
	v      *netcdf4.Var
	ds     *hdf5meta.Dataset
	zt     *zType
	za     zarr.ArrayV2
	grid   []uint64 // chunks along each Zarr dimension
	total  uint64   // chunks in the grid
	h5rank int      // dataset rank (Zarr rank minus array-type dims)
	// rawChunk is the unfiltered size of one HDF5 chunk in bytes.
	rawChunk int
	nelem    int // HDF5 elements per chunk
	// srcFilters are the HDF5 filters stored chunks went through.
	srcFilters []hdf5meta.Filter
	// out encodes chunks the translator writes itself (nil: chunks are
	// referenced as stored and re-encoding is impossible).
	out *codecs.Chain
	// transform: every chunk is decoded and re-encoded with out.
	transform bool
	missing   []byte // HDF5 element bytes a never-written chunk reads as
	beyond    []byte // HDF5 element bytes past the dataset's extent read as
	dimNames  []string
	fillAttr  *hdf5meta.Attribute // the _FillValue carried by fill_value, or nil
	fill      []byte              // the Zarr fill_value element, or nil
	exactWhy  string              // why stored chunks cannot be referenced, or ""
	tooBig    bool                // a chunk is too large to decode in memory
	// ext is the external storage of contiguous data (H5Pset_external),
	// resolved and merged; nil when the data is in the file.
	ext []extSegment
	// vds is the sources of a virtual dataset, or nil.
	vds *vdsPlan
}

// maxChunkBytes bounds the decoded size of a chunk the translator
// materialises (1 GiB).
const maxChunkBytes = 1 << 30

func (p *varPlan) errTooBig() error {
	return fmt.Errorf("%w: chunks of %v elements are too large to decode in memory", ErrUnsupported, p.za.Chunks)
}

func (t *h5translator) variable(key string, v *netcdf4.Var) error {
	p, err := t.plan(key, v)
	if err != nil {
		return err
	}
	var za attrsJSON
	za.add("_ARRAY_DIMENSIONS", dimNamesJSON(p.dimNames))
	for _, a := range v.Attrs {
		if a == p.fillAttr {
			continue // carried by fill_value
		}
		if a.Name == "_FillValue" && p.zt.complex {
			if b := complexFillAttr(a); b != nil {
				za.add(a.Name, b)
			} else {
				t.res.Warnings = append(t.res.Warnings, fmt.Sprintf("%s: _FillValue left out: xarray masks a complex variable only with a real _FillValue (imaginary part zero), and zarr-python 3.0.6 cannot read a complex fill_value; the fill values read unmasked", key))
			}
			continue
		}
		za.add(a.Name, t.attrValue(a))
	}
	if p.scalarString() && !slices.ContainsFunc(v.Attrs, func(a *hdf5meta.Attribute) bool { return a.Name == "_Encoding" }) {
		za.add("_Encoding", []byte(`"utf-8"`)) // how xarray reads a UTF-8 |S scalar as str
	}
	// .zarray and .zattrs come first; the chunks may still change .zarray
	// (codecs, fill_value), so it is written once they are done.
	m := t.refs.mark()
	zarrayAt := t.refs.Len()
	t.refs.add(key+"/.zarray", Ref{})
	t.refs.add(key+"/.zattrs", Ref{Data: []byte(zarr.EscapeNonASCII(za.text()))})
	em := newChunkEmitter(t.refs, key, p.grid)
	if p.zt.kind == kindFixed {
		err = t.fixedChunks(p, em)
	} else {
		err = t.itemChunks(p, em)
	}
	if err != nil {
		t.refs.truncate(m) // variable adds its keys only once it has succeeded
		return err
	}
	text, err := zarrayText(&p.za)
	if err != nil {
		t.refs.truncate(m)
		return err
	}
	t.refs.setAt(zarrayAt, Ref{Data: text})
	t.res.Variables[key] = &VarInfo{Shape: nonNil(p.za.Shape), Dims: p.dimNames, Chunks: nonNil(p.za.Chunks),
		Dtype: p.zt.dtype.NumpyName()}
	t.res.InlineBytes += em.inlineBytes
	return nil
}

// chunkEmitter adds the chunk references of one array to a Refs, in grid
// order, formatting each key straight into the Refs' key arena: a chunk
// costs its entry and key text, nothing else.
type chunkEmitter struct {
	refs        *Refs
	prefix      string
	grid        []uint64
	idx         []uint64 // scratch
	start       refsMark // where the array's chunks start
	inlineBytes int64
}

func newChunkEmitter(refs *Refs, key string, grid []uint64) *chunkEmitter {
	return &chunkEmitter{refs: refs, prefix: key + "/", grid: grid, idx: make([]uint64, len(grid)), start: refs.mark()}
}

// emit adds the reference of the chunk with linear grid index lin.
func (e *chunkEmitter) emit(lin uint64, r Ref) {
	unravelInto(e.idx, lin, e.grid)
	e.refs.addKey(func(b []byte) []byte { return chunkKey(b, e.prefix, e.idx) }, r)
	if r.IsInline() {
		e.inlineBytes += int64(len(r.Data))
	}
}

// reset removes the chunks emitted so far (to start the array over).
func (e *chunkEmitter) reset() {
	e.refs.truncate(e.start)
	e.inlineBytes = 0
}

// plan works out a variable's Zarr array: shape, chunks, dtype, the fill
// semantics and whether chunks can be referenced as stored.
func (t *h5translator) plan(key string, v *netcdf4.Var) (*varPlan, error) {
	ds := v.Dataset
	if ds.Space.Kind == hdf5meta.SpaceNull {
		return nil, skipError{"null dataspace: the dataset has no elements"}
	}
	zt, err := zarrType(ds.Type)
	if err != nil {
		return nil, err
	}
	p := &varPlan{key: key, v: v, ds: ds, zt: zt, h5rank: len(ds.Space.Dims)}
	// Shape and dimensions: the view's (unlimited dimensions as long as
	// their longest variable, then array-type dimensions).
	p.dimNames = v.DimNames()
	p.za.Shape = v.Shape()
	if len(p.za.Shape) != len(ds.Space.Dims)+len(zt.extra) {
		return nil, fmt.Errorf("%w: shape %v does not match the dataset's rank %d and array type", hdf5meta.ErrFormat, p.za.Shape, len(ds.Space.Dims))
	}
	switch ds.Layout.Class {
	case hdf5meta.LayoutChunked:
		p.za.Chunks = append(slices.Clone(ds.Layout.ChunkDims), zt.extra...)
	case hdf5meta.LayoutVirtual:
		if zt.kind != kindFixed {
			return nil, fmt.Errorf("%w: virtual dataset (VDS) of variable-length or reference data", ErrUnsupported)
		}
		chunks, err := t.planVirtual(p)
		if err != nil {
			return nil, err
		}
		p.za.Chunks = append(chunks, zt.extra...)
	default:
		chunks := p.za.Shape
		if len(ds.External) > 0 && ds.Layout.Class == hdf5meta.LayoutContiguous {
			need := int64(ds.Space.NumElements()) * int64(ds.Type.Size)
			if p.ext, err = t.externalSegments(ds, need); err != nil {
				return nil, err
			}
			h5chunks, err := externalChunkShape(p.ext, ds.Space.Dims, ds.Type.Size)
			if err != nil {
				return nil, err
			}
			chunks = append(h5chunks, zt.extra...)
		}
		for _, n := range chunks {
			p.za.Chunks = append(p.za.Chunks, max(n, 1))
		}
	}
	p.za.DType = zt.dtype
	p.grid = make([]uint64, len(p.za.Shape))
	p.total = 1
	for i, n := range p.za.Shape {
		p.grid[i] = (n + p.za.Chunks[i] - 1) / p.za.Chunks[i]
		p.total *= p.grid[i]
	}
	// Chunk size in elements and bytes, saturating: chunks this translator
	// may have to materialise (decode, fill) must fit in memory.
	nelem := uint64(1)
	for i := 0; i < p.h5rank; i++ {
		c := p.za.Chunks[i]
		if c != 0 && nelem > maxChunkBytes/c {
			nelem = maxChunkBytes + 1
			break
		}
		nelem *= c
	}
	if nelem*uint64(max(ds.Type.Size, 1)) > maxChunkBytes {
		p.tooBig = true
		nelem = 1 // never materialised: decodeStored and fill chunks refuse
	}
	p.nelem = int(nelem)
	p.rawChunk = p.nelem * ds.Type.Size
	if ds.Layout.Class == hdf5meta.LayoutChunked {
		p.srcFilters = ds.Filters
	}
	if p.vds != nil {
		p.srcFilters = p.vds.filters
	}
	p.missing = missingBytes(ds)
	p.fillAttr = hdf5meta.Attr(ds, "_FillValue")
	if p.fillAttr != nil && (zt.kind != kindFixed || zt.floatConv != 0 || !sameKind(p.fillAttr.Type, zt.elem) || p.fillAttr.Space.Kind == hdf5meta.SpaceNull) {
		p.fillAttr = nil // stays an ordinary attribute
	}
	p.beyond = t.beyondBytes(p, p.fillAttr)
	if zt.kind != kindFixed {
		return p, nil
	}
	// Can chunks be referenced as stored?
	if len(p.srcFilters) > 0 {
		cfgs, why := zarrFilters(p.srcFilters, ds.Type, p.rawChunk)
		p.exactWhy = why
		if why == "" {
			p.za.Filters = cfgs
			p.out, _ = chainOf(cfgs)
		}
	}
	if p.exactWhy == "" && zt.repack != nil {
		p.exactWhy = "the compound type has a compound member with array dimensions inside padding, which Zarr's structured dtypes cannot describe, so its elements are packed"
	}
	if p.exactWhy == "" && zt.floatConv != 0 {
		p.exactWhy = fmt.Sprintf("the %d-byte floats are not IEEE 754 (%d exponent and %d mantissa bits, bias %d), which no Zarr reader decodes, so they are decoded to float%d",
			zt.elem.Size, zt.elem.ExpSize, zt.elem.MantSize, zt.elem.ExpBias, 8*zt.floatConv)
	}
	if p.exactWhy == "" && zt.elem.Class == hdf5meta.ClassString && zt.elem.StringPad == hdf5meta.PadSpace {
		p.exactWhy = "the fixed-length strings are space-padded, which readers turn into NUL padding"
	}
	if p.exactWhy == "" && reducedPrecision(zt.elem) {
		p.exactWhy = fmt.Sprintf("the %d-byte integers have %d bits of precision at bit offset %d, which readers must sign-extend", zt.elem.Size, zt.elem.Precision, zt.elem.BitOffset)
	}
	p.transform = p.exactWhy != ""
	if p.transform && len(p.ext) > 0 {
		return nil, fmt.Errorf("%w: %s, and the data is in external files, which the translator does not copy", ErrUnsupported, p.exactWhy)
	}
	if p.transform || len(p.srcFilters) == 0 {
		p.out = &codecs.Chain{}
	}
	// fill_value: the netCDF _FillValue, else NaN when that is what
	// never-written data reads as, else none (xarray masks fill_value).
	if p.fillAttr != nil {
		if p.fill = attrFill(p.fillAttr, zt); p.fill == nil {
			p.fillAttr = nil // not convertible: stays an attribute
		}
	}
	// Not for complex numbers: zarr-python 3.0.6 cannot read an array
	// whose Zarr v2 fill_value is a complex [re, im] pair (it broadcasts
	// the pair into every chunk it reads), so never-written chunks are
	// written out instead (fillChunks, with no fill_value).
	if missing := p.convert(p.missing); p.fill == nil && !zt.complex && zt.isNaNBytes(missing) {
		p.fill = missing[:zt.size]
	}
	p.za.FillValue = zt.fillJSON(p.fill)
	return p, nil
}

// extended reports a variable whose Zarr shape reaches past the dataset's
// extent (shorter than its unlimited dimension).
func (p *varPlan) extended() bool {
	for i := 0; i < p.h5rank; i++ {
		if p.za.Shape[i] > p.ds.Space.Dims[i] {
			return true
		}
	}
	return false
}

// convert turns decoded HDF5 elements into Zarr elements: reduced-precision
// integers widened, space padding turned into NULs, compounds packed.
func (p *varPlan) convert(raw []byte) []byte {
	if reducedPrecision(p.zt.elem) {
		raw = widenPrecision(raw, p.zt.elem)
	}
	if p.zt.elem.Class == hdf5meta.ClassString && p.zt.elem.StringPad == hdf5meta.PadSpace {
		raw = spaceToNull(raw, p.zt.elem.Size)
	}
	return p.zt.toZarr(raw, p.ds.Type.Size)
}

// decodeStored returns a stored chunk's elements as Zarr reads them
// (decoded, past-the-extent part patched, converted).
func (p *varPlan) decodeStored(c srcChunk, stored []byte) ([]byte, error) {
	if p.tooBig {
		return nil, p.errTooBig()
	}
	raw := stored
	if !c.whole {
		var err error
		if raw, err = decodePipeline(p.srcFilters, c.mask, stored, p.rawChunk, p.ds.Type, p.nelem); err != nil {
			return nil, err
		}
	}
	if c.straddles {
		raw = append([]byte(nil), raw...)
		patchBeyond(p, c.idx, raw)
	}
	return p.convert(raw), nil
}

// sameKind reports whether two datatypes hold the same values (byte order
// aside), so that an attribute of one can be a fill value of the other.
func sameKind(a, b *hdf5meta.Datatype) bool {
	if a.Class == hdf5meta.ClassEnum {
		a = a.Base
	}
	if b.Class == hdf5meta.ClassEnum {
		b = b.Base
	}
	if a.Class != b.Class || a.Size != b.Size {
		return false
	}
	switch a.Class {
	case hdf5meta.ClassFixedPoint:
		return a.Signed == b.Signed
	case hdf5meta.ClassFloat, hdf5meta.ClassString:
		return true
	}
	return false
}

// missingBytes returns the bytes of one element as libhdf5 returns it for
// storage never written: zeros when the fill time is "never" or no fill
// value is set, else the fill value.
func missingBytes(ds *hdf5meta.Dataset) []byte {
	out := make([]byte, ds.Type.Size)
	fv := ds.Fill
	if fv.WriteTime == 1 || !fv.Defined || len(fv.Value) != ds.Type.Size || ds.Type.HasVarLen() {
		return out
	}
	copy(out, fv.Value)
	return out
}

// srcChunk is one stored chunk (or the contiguous/compact data).
type srcChunk struct {
	lin   uint64
	idx   []uint64
	url   string
	off   int64 // absolute offset in url
	size  int64
	mask  uint32
	data  []byte // compact data
	whole bool   // contiguous or compact: a single chunk, no filters
	// straddles: the chunk reaches past the dataset's extent into the
	// Zarr shape, where the fill value must be patched in.
	straddles bool
}

// byLin orders stored entries by their linear grid index.
func byLin(a, b storedEntry) int { return cmp.Compare(a.lin, b.lin) }

// storedEntry is one stored chunk of a chunked dataset, compactly: its
// linear grid index, absolute offset in the source, size and filter mask.
type storedEntry struct {
	lin  uint64
	off  int64
	size int64
	mask uint32
}

// chunkList is the stored chunks of a variable in grid order: either a
// chunked dataset's table or the one chunk of contiguous or compact data.
type chunkList struct {
	ents []storedEntry
	one  *srcChunk
	url  string
	urls []string // per entry, when they differ (external storage)
	grid []uint64
	idx  []uint64 // getShared's
}

// n returns the number of stored chunks.
func (l *chunkList) n() int {
	if l.one != nil {
		return 1
	}
	return len(l.ents)
}

// lin returns the linear grid index of chunk i.
func (l *chunkList) lin(i int) uint64 {
	if l.one != nil {
		return l.one.lin
	}
	return l.ents[i].lin
}

// get returns chunk i.
func (l *chunkList) get(i int) srcChunk {
	if l.one != nil {
		return *l.one
	}
	e := l.ents[i]
	return srcChunk{lin: e.lin, idx: unravel(e.lin, l.grid), url: l.urlOf(i), off: e.off, size: e.size, mask: e.mask}
}

// getShared returns chunk i with an idx that the next call overwrites.
func (l *chunkList) getShared(i int) srcChunk {
	if l.one != nil {
		return *l.one
	}
	e := l.ents[i]
	if len(l.idx) != len(l.grid) {
		l.idx = make([]uint64, len(l.grid))
	}
	unravelInto(l.idx, e.lin, l.grid)
	return srcChunk{lin: e.lin, idx: l.idx, url: l.urlOf(i), off: e.off, size: e.size, mask: e.mask}
}

// urlOf returns the URL of entry i.
func (l *chunkList) urlOf(i int) string {
	if l.urls != nil {
		return l.urls[i]
	}
	return l.url
}

// storedChunks lists the stored chunks of a variable in grid order.
func (t *h5translator) storedChunks(p *varPlan) (*chunkList, error) {
	ds := p.ds
	list := &chunkList{url: t.url, grid: p.grid}
	one := func(c srcChunk) (*chunkList, error) {
		list.one = &c
		return list, nil
	}
	switch ds.Layout.Class {
	case hdf5meta.LayoutCompact:
		if p.total == 0 {
			return list, nil
		}
		need := int(ds.Space.NumElements()) * ds.Type.Size
		if len(ds.Layout.CompactData) < need {
			return list, nil // never written
		}
		return one(srcChunk{idx: make([]uint64, len(p.grid)), data: ds.Layout.CompactData[:need], whole: true, size: int64(need)})
	case hdf5meta.LayoutVirtual:
		return t.virtualChunks(p, list)
	case hdf5meta.LayoutContiguous:
		if p.total == 0 {
			return list, nil
		}
		need := int64(ds.Space.NumElements()) * int64(ds.Type.Size)
		switch {
		case len(p.ext) == 1:
			return one(srcChunk{idx: make([]uint64, len(p.grid)), url: p.ext[0].url, off: p.ext[0].off, size: need, whole: true})
		case len(p.ext) > 1:
			return t.externalChunks(p, list)
		}
		if ds.Layout.Address == undefAddr {
			return list, nil
		}
		off := t.f.AbsOffset(ds.Layout.Address)
		if off < 0 || need > t.h.size-off {
			return nil, fmt.Errorf("%w: contiguous data of %d bytes at offset %d past the end of the %d-byte file", hdf5meta.ErrTruncated, need, off, t.h.size)
		}
		return one(srcChunk{idx: make([]uint64, len(p.grid)), url: t.url, off: off, size: need, whole: true})
	}
	var out []storedEntry
	sorted := true
	err := ds.ForEachChunk(func(c hdf5meta.Chunk) error {
		if err := t.countChunk(p, uint64(len(out))+1); err != nil {
			return err
		}
		e, ok, err := t.storedEntry(p, c)
		if !ok || err != nil {
			return err
		}
		if n := len(out); n > 0 && out[n-1].lin >= e.lin {
			sorted = false
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !sorted {
		slices.SortStableFunc(out, byLin)
		// A chunk listed twice (corrupt index): keep the first.
		out = slices.CompactFunc(out, func(a, b storedEntry) bool { return a.lin == b.lin })
	}
	t.nchunks += uint64(len(out))
	list.ents = slices.Clip(out)
	return list, nil
}

// storedEntry checks a chunk the index lists and returns its entry; ok is
// false for a chunk beyond the dataset's current extent (never read).
func (t *h5translator) storedEntry(p *varPlan, c hdf5meta.Chunk) (e storedEntry, ok bool, err error) {
	ds := p.ds
	if len(c.Offset) != p.h5rank {
		return e, false, fmt.Errorf("%w: chunk offset of rank %d", hdf5meta.ErrFormat, len(c.Offset))
	}
	var lin uint64
	for i, o := range c.Offset {
		if o >= ds.Space.Dims[i] {
			return e, false, nil // beyond the current extent: never read
		}
		if o%ds.Layout.ChunkDims[i] != 0 {
			return e, false, fmt.Errorf("%w: chunk offset %v not on the chunk grid", hdf5meta.ErrFormat, c.Offset)
		}
		lin = lin*p.grid[i] + o/ds.Layout.ChunkDims[i]
	}
	off := t.f.AbsOffset(c.Addr)
	if off < 0 || int64(c.Size) > t.h.size-off {
		return e, false, fmt.Errorf("%w: chunk %v of %d bytes at offset %d past the end of the %d-byte file", hdf5meta.ErrTruncated, c.Offset, c.Size, off, t.h.size)
	}
	return storedEntry{lin: lin, off: off, size: int64(c.Size), mask: c.FilterMask}, true, nil
}

// errNotStreamable stops streamChunks: the index does not list the chunks
// in grid order, or never-written chunks must be written out.
var errNotStreamable = errors.New("chunks not streamable")

// streamChunks writes the stored chunks of a chunked variable as the chunk
// index lists them, a window of streamWindow chunks at a time (prefetched
// together), without listing them all first: the memory of a variable is
// then its references alone. That holds when the index lists chunks in
// grid order (v1 B-trees and fixed arrays do) and never-written chunks are
// left out (fill_value reads as they do) or there are none; otherwise it
// writes nothing and returns false, and the caller lists the chunks.
func (t *h5translator) streamChunks(p *varPlan, em *chunkEmitter, insideOK bool) (n int, ok bool, err error) {
	window := make([]storedEntry, 0, min(uint64(streamWindow), p.total))
	list := &chunkList{url: t.url, grid: p.grid}
	pf := t.prefetcher(p, list)
	next := uint64(0) // the lin that follows the last chunk
	flush := func() error {
		list.ents = window
		pf.next = 0
		for i := range window {
			pf.at(i)
			c := list.getShared(i)
			ref, err := t.chunkRef(p, c)
			if err != nil {
				return fmt.Errorf("chunk %v: %w", c.idx, err)
			}
			em.emit(c.lin, ref)
		}
		n += len(window)
		window = window[:0]
		return nil
	}
	err = p.ds.ForEachChunk(func(c hdf5meta.Chunk) error {
		if err := t.countChunk(p, uint64(n+len(window))+1); err != nil {
			return err
		}
		e, ok, err := t.storedEntry(p, c)
		if !ok || err != nil {
			return err
		}
		if e.lin < next || (e.lin > next && !insideOK) {
			return errNotStreamable // out of order, listed twice, or a gap to fill
		}
		next = e.lin + 1
		window = append(window, e)
		if len(window) == cap(window) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil && !insideOK && next < p.total {
		err = errNotStreamable // never-written chunks at the end
	}
	if errors.Is(err, errNotStreamable) {
		em.reset()
		return 0, false, nil
	}
	if err == nil {
		t.nchunks += uint64(n)
	}
	return n, err == nil, err
}

// countChunk checks the limits on chunk references before the n-th chunk
// of p (from 1) is taken: chunks per variable, and per file with those
// of the variables translated before; and, every 4096 chunks, the context.
func (t *h5translator) countChunk(p *varPlan, n uint64) error {
	if n%4096 == 0 {
		if err := t.ctx.Err(); err != nil {
			return err
		}
	}
	lim := t.opts.Limits
	if err := limits.CheckVar(limits.ChunksPerVariable, t.name, p.key, n, lim.ChunksPerVariable); err != nil {
		return err
	}
	return limits.CheckVar(limits.ChunksPerFile, t.name, "", t.nchunks+n, lim.ChunksPerFile)
}

// streamWindow is the number of chunks streamChunks handles at a time.
const streamWindow = 1 << 14

const undefAddr = ^uint64(0)

// ------------------------------------------------------------ fixed-size

// fixedChunks writes the chunks of a variable of fixed-size elements, in
// grid order.
func (t *h5translator) fixedChunks(p *varPlan, em *chunkEmitter) error {
	ds := p.ds
	if p.transform {
		size := int64(ds.Space.NumElements()) * int64(ds.Type.Size)
		if t.opts.InlineVarMax < 0 || size > t.opts.InlineVarMax {
			return fmt.Errorf("%w: %s; the variable (%d bytes decoded) is larger than the %d-byte limit for decoding it into the references",
				ErrUnsupported, p.exactWhy, size, max(t.opts.InlineVarMax, 0))
		}
	}
	if ds.Layout.Class == hdf5meta.LayoutChunked && !p.transform && !p.extended() {
		_, ok, err := t.streamChunks(p, em, newFillChunks(p, p.fill).insideOK)
		if err != nil {
			return err
		}
		if ok {
			return nil // never-written chunks read as fill_value; the chain stays the file's
		}
	}
	stored, err := t.storedChunks(p)
	if err != nil {
		return err
	}
	nstored := stored.n()
	if p.transform {
		ownCodec(p)
	}
	fill := p.fill

	// Never-written chunks read as the fill value when fill_value says
	// the same, else they are written out. Chunks past the dataset's
	// extent (a netCDF variable shorter than its unlimited dimension) read
	// as the netCDF fill value instead.
	gap := newFillChunks(p, fill)
	if missing := p.total - uint64(nstored); missing > 0 {
		// Would writing the never-written chunks out blow the budget? Ask
		// before walking a grid that may have billions of positions.
		need, enc, err := gap.chunk(make([]uint64, len(p.grid)))
		cost := float64(missing) * float64(len(enc))
		if err == nil && (need || p.extended()) && (p.out == nil || missing > 1<<22 || float64(t.fillUsed)+cost > float64(t.opts.FillBudget)) {
			return t.fillFallback(p, fill, stored, int64(missing), p.out == nil, em)
		}
	}
	pf := t.prefetcher(p, stored)

	if p.total > uint64(nstored) && gap.insideOK && !p.extended() {
		// Never-written chunks read as fill_value: list the stored ones.
		for i := range nstored {
			pf.at(i)
			c := stored.get(i)
			ref, err := t.chunkRef(p, c)
			if err != nil {
				return fmt.Errorf("chunk %v: %w", c.idx, err)
			}
			em.emit(c.lin, ref)
		}
		return nil
	}
	// The never-written chunks to write out, and their cost.
	var missing []uint64
	var cost int64
	next := uint64(0)
	consider := func(lin uint64) error {
		idx := unravel(lin, p.grid)
		need, enc, err := gap.chunk(idx)
		if err != nil {
			return err
		}
		if need {
			missing = append(missing, lin)
			cost += int64(len(enc))
		}
		return nil
	}
	for i := range nstored {
		lin := stored.lin(i)
		for ; next < lin; next++ {
			if err := consider(next); err != nil {
				return err
			}
		}
		next = lin + 1
	}
	for ; next < p.total; next++ {
		if err := consider(next); err != nil {
			return err
		}
	}
	if len(missing) > 0 && (p.out == nil || t.fillUsed+cost > t.opts.FillBudget) {
		return t.fillFallback(p, fill, stored, int64(len(missing)), p.out == nil, em)
	}
	t.fillUsed += cost
	emitMissing := func(lin uint64) {
		_, enc, _ := gap.chunk(unravel(lin, p.grid))
		em.emit(lin, Inline(enc))
	}
	mi := 0
	for i := range nstored {
		pf.at(i)
		c := stored.get(i)
		for ; mi < len(missing) && missing[mi] < c.lin; mi++ {
			emitMissing(missing[mi])
		}
		if gap.class(c.idx) == chunkStraddles {
			c.straddles = true
		}
		ref, err := t.chunkRef(p, c)
		if err != nil {
			return fmt.Errorf("chunk %v: %w", c.idx, err)
		}
		em.emit(c.lin, ref)
	}
	for ; mi < len(missing); mi++ {
		emitMissing(missing[mi])
	}
	return nil
}

// ownCodec chooses the codec of a variable whose chunks are all written
// by the translator, decoded and converted (p.transform). Small variables
// are not worth compressing. A variable whose chunks were never written
// keeps its file's chain instead, as the same variable of another file
// of a series has it (combine needs one chain per array).
func ownCodec(p *varPlan) {
	p.za.Filters = nil
	p.za.Compressor = nil
	p.out = &codecs.Chain{}
	if int64(p.total)*int64(p.nelem)*int64(p.zt.size) > 64<<10 {
		p.za.Compressor = codecs.Config{"id": "zlib", "level": 1}
		p.out, _ = chainOf([]codecs.Config{p.za.Compressor})
	}
}

// fillFallback lists the stored chunks only and lets fill_value stand for
// the others: exact for raw reads, masked by xarray, said in a warning.
func (t *h5translator) fillFallback(p *varPlan, fill []byte, stored *chunkList, missing int64, noEncoder bool, em *chunkEmitter) error {
	zt := p.zt
	if missing := p.convert(p.missing); fill == nil && uniformElem(missing, zt.size) {
		p.za.FillValue = zt.fillJSON(missing[:zt.size])
	}
	why := "writing them out would exceed the fill budget"
	if noEncoder {
		why = "their codecs have no Go encoder"
	}
	t.res.Warnings = append(t.res.Warnings, fmt.Sprintf("%s: %d never-written chunks read as fill_value %s, which xarray masks (%s)",
		p.key, missing, string(p.za.FillValue), why))
	em.reset()
	gap := newFillChunks(p, fill)
	pf := t.prefetcher(p, stored)
	for i := range stored.n() {
		pf.at(i)
		c := stored.get(i)
		c.straddles = gap.class(c.idx) == chunkStraddles
		ref, err := t.chunkRef(p, c)
		if err != nil {
			return fmt.Errorf("chunk %v: %w", c.idx, err)
		}
		em.emit(c.lin, ref)
	}
	return nil
}

// chunkPrefetcher asks the reader, a window at a time, for the stored
// chunks that will be copied, in few requests: the window bounds the
// ranges listed and the bytes fetched ahead of use (the cache is bounded).
type chunkPrefetcher struct {
	t      *h5translator
	p      *varPlan
	stored *chunkList
	rr     rangeio.Prefetcher
	next   int // first chunk not prefetched yet
	ranges []rangeio.Range
}

// Prefetch windows: at most this many chunks, spanning at most this many
// bytes of the file.
const (
	prefetchChunks = 1 << 14
	prefetchSpan   = 16 << 20
)

func (t *h5translator) prefetcher(p *varPlan, stored *chunkList) *chunkPrefetcher {
	rr, _ := t.h.r.(rangeio.Prefetcher)
	return &chunkPrefetcher{t: t, p: p, stored: stored, rr: rr}
}

// at is called before chunk i is read: it prefetches the window that
// starts at i when i has not been prefetched yet.
func (f *chunkPrefetcher) at(i int) {
	if f.rr == nil || i < f.next {
		return
	}
	ranges := f.ranges[:0]
	lo, hi := int64(-1), int64(-1)
	j := i
	for ; j < f.stored.n() && j-i < prefetchChunks; j++ {
		var c srcChunk
		if f.stored.one != nil {
			c = *f.stored.one
		} else {
			e := f.stored.ents[j]
			c = srcChunk{url: f.stored.urlOf(j), off: e.off, size: e.size, mask: e.mask}
		}
		if !(c.data == nil && c.url == f.t.url && (f.p.transform || c.mask != 0 || c.size < int64(f.t.opts.InlineThreshold))) {
			continue
		}
		if lo < 0 {
			lo, hi = c.off, c.off+c.size
		}
		lo, hi = min(lo, c.off), max(hi, c.off+c.size)
		if hi-lo > prefetchSpan && len(ranges) > 0 {
			break
		}
		ranges = append(ranges, rangeio.Range{Off: c.off, Len: c.size})
	}
	f.next = max(j, i+1)
	f.ranges = ranges
	if len(ranges) > 1 {
		_ = f.rr.Prefetch(f.t.ctx, ranges)
	}
}

// beyondBytes returns the element that reads past a dataset's extent: the
// netCDF fill value (the _FillValue attribute, else the default fill of the
// type) for netCDF-4 files, as netCDF-C returns it; libhdf5's fill value
// otherwise, as h5netcdf pads.
func (t *h5translator) beyondBytes(p *varPlan, fillAttr *hdf5meta.Attribute) []byte {
	if !t.m.IsNetCDF4 {
		b := make([]byte, p.ds.Type.Size)
		if p.ds.Fill.Defined && len(p.ds.Fill.Value) == len(b) {
			copy(b, p.ds.Fill.Value)
		}
		return b
	}
	if fillAttr != nil {
		if b := attrFill(fillAttr, p.zt); len(b) == p.ds.Type.Size {
			return b
		}
	}
	return netcdfDefaultFill(p.ds.Type)
}

// netcdfDefaultFill returns netCDF-C's default fill value (NC_FILL_*) for
// an HDF5 type, in its byte order.
func netcdfDefaultFill(t *hdf5meta.Datatype) []byte {
	var v any
	switch t.Class {
	case hdf5meta.ClassFixedPoint:
		switch {
		case t.Size == 1 && t.Signed:
			v = int64(-127)
		case t.Size == 1:
			v = uint64(255)
		case t.Size == 2 && t.Signed:
			v = int64(-32767)
		case t.Size == 2:
			v = uint64(65535)
		case t.Size == 4 && t.Signed:
			v = int64(-2147483647)
		case t.Size == 4:
			v = uint64(4294967295)
		case t.Size == 8 && t.Signed:
			v = int64(-9223372036854775806)
		case t.Size == 8:
			v = uint64(18446744073709551614)
		}
	case hdf5meta.ClassFloat:
		v = 9.9692099683868690e+36
	}
	if v != nil {
		if b := encodeScalar(t, v); b != nil {
			return b
		}
	}
	return make([]byte, t.Size)
}

func uniformElem(b []byte, size int) bool {
	if size <= 0 || len(b) < size || len(b)%size != 0 {
		return false
	}
	for i := size; i < len(b); i += size {
		if !bytes.Equal(b[i:i+size], b[:size]) {
			return false
		}
	}
	return true
}

func unravel(lin uint64, grid []uint64) []uint64 {
	idx := make([]uint64, len(grid))
	unravelInto(idx, lin, grid)
	return idx
}

// unravelInto writes the grid index of lin into idx (len(grid) long).
func unravelInto(idx []uint64, lin uint64, grid []uint64) {
	for i := len(grid) - 1; i >= 0; i-- {
		if grid[i] > 0 {
			idx[i] = lin % grid[i]
			lin /= grid[i]
		}
	}
}

// chunkRef writes one stored chunk: a reference, or inline bytes.
func (t *h5translator) chunkRef(p *varPlan, c srcChunk) (Ref, error) {
	if c.data != nil && !p.transform {
		return Inline(c.data), nil
	}
	reencode := p.transform || (!c.whole && c.mask != 0) || c.straddles
	if !reencode && c.size >= int64(t.opts.InlineThreshold) {
		return Range(c.url, c.off, c.size), nil
	}
	var stored []byte
	if c.data != nil {
		stored = c.data
	} else if c.url != t.url {
		return Range(c.url, c.off, c.size), nil // external file: never copied
	} else {
		b, err := t.h.readAbs(c.off, c.size, "chunk")
		if err != nil {
			return Ref{}, err
		}
		stored = b
	}
	if !reencode {
		return Inline(stored), nil
	}
	raw, err := p.decodeStored(c, stored)
	if err != nil {
		return Ref{}, err
	}
	if p.out == nil {
		return Ref{}, fmt.Errorf("%w: chunk %v must be re-encoded (filter mask %#x) and its codecs have no Go encoder", ErrUnsupported, c.idx, c.mask)
	}
	enc, err := p.out.Encode(raw)
	if err != nil {
		return Ref{}, err
	}
	return Inline(enc), nil
}

// zarrFilters maps an HDF5 filter pipeline to Zarr v2 filters, applied in
// pipeline order (numcodecs decodes them in reverse, as libhdf5 does). It
// returns why there is no exact mapping, or "".
func zarrFilters(filters []hdf5meta.Filter, dt *hdf5meta.Datatype, rawChunk int) ([]codecs.Config, string) {
	var out []codecs.Config
	length := rawChunk // bytes entering the next filter, -1 when unknown
	for _, f := range filters {
		switch f.ID {
		case hdf5meta.FilterDeflate:
			level := 4
			if len(f.Params) > 0 {
				level = int(f.Params[0])
			}
			out = append(out, codecs.Config{"id": "zlib", "level": level})
			length = -1
		case hdf5meta.FilterShuffle:
			size := dt.Size
			if len(f.Params) > 0 && f.Params[0] > 0 {
				size = int(f.Params[0])
			}
			if size > 1 && (length < 0 || length%size != 0) {
				return nil, fmt.Sprintf("filter shuffle (id 2) of %d-byte elements applies to data that is not a whole number of elements (after %s), which numcodecs' shuffle rejects", size, prevName(filters, f))
			}
			out = append(out, codecs.Config{"elementsize": size, "id": "shuffle"})
		case hdf5meta.FilterFletcher32:
			out = append(out, codecs.Config{"id": "fletcher32"})
			if length >= 0 {
				length += 4
			}
		case hdf5meta.FilterLZF:
			out = append(out, codecs.Config{"header": false, "id": "imagecodecs_lzf"})
			length = -1
		case hdf5meta.FilterZstd:
			level := 3
			if len(f.Params) > 0 {
				level = int(int32(f.Params[0]))
			}
			out = append(out, codecs.Config{"id": "zstd", "level": level})
			length = -1
		case hdf5meta.FilterBlosc:
			out = append(out, bloscConfig(f.Params))
			length = -1
		case hdf5meta.FilterLZ4:
			out = append(out, codecs.Config{"id": "imagecodecs_lz4h5"})
			length = -1
		default:
			return nil, fmt.Sprintf("filter %s has no Zarr codec", filterName(f))
		}
	}
	return out, ""
}

func prevName(filters []hdf5meta.Filter, f hdf5meta.Filter) string {
	for i := range filters {
		if filters[i].ID == f.ID && i > 0 {
			return filterName(filters[i-1])
		}
	}
	return "nothing"
}

func bloscConfig(params []uint32) codecs.Config {
	cname, clevel, shuffle := "blosclz", 5, 1
	names := []string{"blosclz", "lz4", "lz4hc", "snappy", "zlib", "zstd"}
	if len(params) > 4 {
		clevel = int(params[4])
	}
	if len(params) > 5 {
		shuffle = int(params[5])
	}
	if len(params) > 6 && int(params[6]) < len(names) {
		cname = names[params[6]]
	}
	return codecs.Config{"blocksize": 0, "clevel": clevel, "cname": cname, "id": "blosc", "shuffle": shuffle}
}

// chainOf builds an encoder for Zarr codec configurations, or returns an
// error when one has no Go encoder.
func chainOf(cfgs []codecs.Config) (*codecs.Chain, error) {
	c := &codecs.Chain{}
	for _, cfg := range cfgs {
		codec, err := codecs.New(cfg)
		if err != nil {
			return nil, err
		}
		c.Filters = append(c.Filters, codec)
	}
	return c, nil
}

// complexFillAttr returns the .zattrs _FillValue of a complex variable
// (zarr.DType.ComplexFillAttr) for its h5py-style r/i _FillValue
// attribute, or nil when none masks it.
func complexFillAttr(a *hdf5meta.Attribute) []byte {
	s, ok := complexDtype(a.Type)
	if !ok || a.Space.Kind == hdf5meta.SpaceNull || a.Space.NumElements() != 1 {
		return nil
	}
	d, err := zarr.ParseDTypeString(s)
	if err != nil {
		return nil
	}
	b, _ := d.ComplexFillAttr(a.Raw)
	return b
}

// attrFill converts a _FillValue attribute to one element of the Zarr type.
func attrFill(a *hdf5meta.Attribute, zt *zType) []byte {
	if len(zt.extra) > 0 || a.Space.Kind == hdf5meta.SpaceNull {
		return nil
	}
	t := zt.elem
	val := a.Value
	switch x := val.(type) {
	case []any:
		if len(x) == 0 {
			return nil
		}
		val = x[0]
	case []string:
		if len(x) == 0 {
			return nil
		}
		val = x[0]
	case []float32:
		if len(x) == 0 {
			return nil
		}
		val = x[0]
	case []float64:
		if len(x) == 0 {
			return nil
		}
		val = x[0]
	default:
		if n, ok := hdf5meta.AsInt(val); ok {
			val = n
		}
	}
	return encodeScalar(t, val)
}

func nonNil(s []uint64) []uint64 {
	if s == nil {
		return []uint64{}
	}
	return s
}
