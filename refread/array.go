package refread

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/kerchunk/codecs"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/zarr"
)

// Errors, for errors.Is.
var (
	// ErrNotFound: the store has no array at the path.
	ErrNotFound = errors.New("refread: array not found")
	// ErrBadMetadata: .zarray or .zattrs cannot be read.
	ErrBadMetadata = errors.New("refread: invalid array metadata")
	// ErrBadRef: a reference points outside its object, or a chunk does
	// not decode to the chunk's size.
	ErrBadRef = errors.New("refread: invalid chunk")
	// ErrUnsupported: a dtype, codec or layout this package cannot read.
	ErrUnsupported = errors.New("refread: unsupported")
)

// DefaultParallel is how many chunks Read fetches at once by default.
const DefaultParallel = 16

// Store reads the arrays of one reference set. It is safe for concurrent
// use as long as nobody modifies the references meanwhile.
type Store struct {
	mu       sync.Mutex // kerchunk.Refs lookups may update its index
	refs     *kerchunk.Refs
	fetch    Fetcher
	own      *blobio.BlobFetcher // created by NewStore, closed by Close
	Parallel int                 // chunks fetched at once (0: DefaultParallel)
	// Limits bound what Read allocates for an array (its elements,
	// chunks and string lengths) before it allocates; the zero value
	// means limits.Default().
	Limits limits.Limits
}

// NewStore returns a Store reading refs. Chunk bytes behind URLs come
// from fetch; nil means a blobio.BlobFetcher of its own over an Opener configured
// from the environment, released by Close.
func NewStore(refs *kerchunk.Refs, fetch Fetcher) *Store {
	s := &Store{refs: refs, fetch: fetch}
	if fetch == nil {
		s.own = blobio.NewBlobFetcher(nil, 0)
		s.fetch = s.own
	}
	return s
}

// Close releases the objects a Store's own fetcher opened.
func (s *Store) Close() error {
	if s.own != nil {
		return s.own.Close()
	}
	return nil
}

// Array is one Zarr v2 array of a Store: its metadata, parsed.
type Array struct {
	Path   string
	Shape  []int
	Chunks []int
	DType  zarr.DType
	// Order is 'C' or 'F'.
	Order byte
	// Fill is the .zarray fill_value as JSON ("null" for none).
	Fill json.RawMessage
	// Compressor and Filters are the codec configurations (nil for none).
	Compressor codecs.Config
	Filters    []codecs.Config
	// Dims are the _ARRAY_DIMENSIONS of .zattrs (nil when absent).
	Dims []string
	// Attrs are the other attributes of .zattrs, as zarr.ParseAttrs
	// decodes them (numbers are json.Number; bare NaN and Infinity
	// float64).
	Attrs map[string]any
	// Sep is the chunk key separator, "." or "/".
	Sep string
	// Meta is the parsed .zarray (zarr.ArrayV3Of turns it into Zarr v3
	// metadata); the fields above are its view for reading.
	Meta *zarr.ArrayV2

	store *Store
}

// Open returns the array at path ("tas", "group/tas"), from its .zarray
// and .zattrs references.
func (s *Store) Open(path string) (*Array, error) {
	prefix := path
	if prefix != "" {
		prefix += "/"
	}
	s.mu.Lock()
	text, ok := s.refs.Text(prefix + ".zarray")
	attrs, _ := s.refs.Text(prefix + ".zattrs")
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, path)
	}
	a, err := NewArray(path, []byte(text), []byte(attrs))
	if err != nil {
		return nil, err
	}
	a.store = s
	return a, nil
}

// NewArray parses the .zarray and .zattrs texts of the array at path
// (attrs may be empty) with package zarr. The result has no store: use
// Store.Open to read. Errors wrap ErrBadMetadata, or ErrUnsupported for a
// dtype zarr does not model.
func NewArray(path string, zarray, zattrs []byte) (*Array, error) {
	z, err := zarr.ParseArrayV2(zarray)
	if err != nil {
		if errors.Is(err, zarr.ErrUnsupported) {
			return nil, fmt.Errorf("%w: %s/.zarray: %w", ErrUnsupported, path, err)
		}
		return nil, fmt.Errorf("%w: %s/.zarray: %w", ErrBadMetadata, path, err)
	}
	a := &Array{Path: path, DType: z.DType, Order: z.Order, Fill: z.FillValue, Sep: ".",
		Compressor: z.Compressor, Filters: z.Filters, Meta: z}
	if len(a.Fill) == 0 {
		a.Fill = json.RawMessage("null")
	}
	if z.DimensionSeparator == "/" {
		a.Sep = "/"
	}
	for i := range z.Shape {
		if z.Shape[i] > math.MaxInt || z.Chunks[i] > math.MaxInt {
			return nil, fmt.Errorf("%w: %s/.zarray: shape %v, chunks %v", ErrUnsupported, path, z.Shape, z.Chunks)
		}
		a.Shape = append(a.Shape, int(z.Shape[i]))
		a.Chunks = append(a.Chunks, int(z.Chunks[i]))
	}
	if a.Shape == nil {
		a.Shape, a.Chunks = []int{}, []int{}
	}
	if len(bytes.TrimSpace(zattrs)) > 0 {
		if a.Attrs, err = zarr.ParseAttrs(zattrs); err != nil {
			return nil, fmt.Errorf("%w: %s/.zattrs: %w", ErrBadMetadata, path, err)
		}
		if d, ok := a.Attrs["_ARRAY_DIMENSIONS"].([]any); ok {
			for _, x := range d {
				s, _ := x.(string)
				a.Dims = append(a.Dims, s)
			}
			delete(a.Attrs, "_ARRAY_DIMENSIONS")
		}
	}
	return a, nil
}

// Len returns the number of elements.
func (a *Array) Len() int {
	n := 1
	for _, s := range a.Shape {
		n *= s
	}
	return n
}

// AttrFloat returns an attribute as a float64 (numbers, or one-element lists
// of a number).
func (a *Array) AttrFloat(name string) (float64, bool) {
	return zarr.AsFloat(a.Attrs[name])
}

// AttrString returns a string attribute.
func (a *Array) AttrString(name string) (string, bool) {
	s, ok := a.Attrs[name].(string)
	return s, ok
}

// Data holds the values of an array in C order: one of Float (dtype kind
// 'f'), Int (kinds 'b', 'i', 'u', 'M', 'm') or Str (kinds 'S', 'U', 'O').
type Data struct {
	Shape []int
	DType zarr.DType
	Float []float64
	Int   []int64
	Str   []string
	// Missing marks the elements that no chunk gave (they hold the fill
	// value): those of chunks without a reference and of chunks
	// ReadChunks left unread. It is nil when every element was read.
	Missing []bool
}

// Len returns the number of elements.
func (d *Data) Len() int {
	switch {
	case d.Float != nil:
		return len(d.Float)
	case d.Int != nil:
		return len(d.Int)
	}
	return len(d.Str)
}

// Float64s returns the values as float64 (integers converted, unsigned
// 64-bit ones as unsigned); an error for strings.
func (d *Data) Float64s() ([]float64, error) {
	switch {
	case d.DType.Kind == 'f':
		return d.Float, nil
	case d.DType.IsInteger():
		out := make([]float64, len(d.Int))
		for i, v := range d.Int {
			if d.DType.Kind == 'u' && d.DType.Size == 8 {
				out[i] = float64(uint64(v))
			} else {
				out[i] = float64(v)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %s values are not numbers", ErrUnsupported, d.DType.Str)
}

// Int64s returns the values as int64: integers as they are, floats when
// every one is integral and in range; else an error.
func (d *Data) Int64s() ([]int64, error) {
	switch {
	case d.DType.IsInteger():
		return d.Int, nil
	case d.DType.Kind == 'f':
		out := make([]int64, len(d.Float))
		for i, v := range d.Float {
			if v != math.Trunc(v) || v < -(1<<63) || v >= 1<<63 {
				return nil, fmt.Errorf("value %v at %d is not an int64", v, i)
			}
			out[i] = int64(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %s values are not numbers", ErrUnsupported, d.DType.Str)
}

// Strings returns the values as strings (numbers formatted).
func (d *Data) Strings() []string {
	if d.DType.IsString() {
		return d.Str
	}
	out := make([]string, d.Len())
	for i := range out {
		if d.Float != nil {
			out[i] = strconv.FormatFloat(d.Float[i], 'g', -1, 64)
		} else {
			out[i] = strconv.FormatInt(d.Int[i], 10)
		}
	}
	return out
}

// ReadFloat64s reads the array as float64 values in C order.
func (a *Array) ReadFloat64s(ctx context.Context) ([]float64, error) {
	d, err := a.Read(ctx)
	if err != nil {
		return nil, err
	}
	return d.Float64s()
}

// ReadInt64s reads the array as int64 values in C order.
func (a *Array) ReadInt64s(ctx context.Context) ([]int64, error) {
	d, err := a.Read(ctx)
	if err != nil {
		return nil, err
	}
	return d.Int64s()
}

// ReadStrings reads the array as strings in C order.
func (a *Array) ReadStrings(ctx context.Context) ([]string, error) {
	d, err := a.Read(ctx)
	if err != nil {
		return nil, err
	}
	return d.Strings(), nil
}

// chain decodes stored chunks: the codecs.Chain of the compressor and the
// filters; a leading vlen-utf8 filter turns bytes into strings.
type chain struct {
	codecs.Chain
	vlenUTF8 bool
}

func (a *Array) chain() (*chain, error) {
	c := &chain{}
	if a.Compressor != nil {
		codec, err := codecs.New(a.Compressor)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: compressor: %v", ErrUnsupported, a.Path, err)
		}
		c.Compressor = codec
	}
	for i, f := range a.Filters {
		id, _ := f["id"].(string)
		if id == "vlen-utf8" {
			if i != 0 || a.DType.Kind != 'O' {
				return nil, fmt.Errorf("%w: %s: vlen-utf8 must be the first filter of an object array", ErrUnsupported, a.Path)
			}
			c.vlenUTF8 = true
			continue
		}
		codec, err := codecs.New(f)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: filter: %v", ErrUnsupported, a.Path, err)
		}
		c.Filters = append(c.Filters, codec)
	}
	if a.DType.Kind == 'O' && !c.vlenUTF8 {
		return nil, fmt.Errorf("%w: %s: object dtype without the vlen-utf8 codec", ErrUnsupported, a.Path)
	}
	return c, nil
}

// ChunkKey returns the key of the chunk at grid index idx.
func (a *Array) ChunkKey(idx []int) string {
	var b strings.Builder
	if a.Path != "" {
		b.WriteString(a.Path)
		b.WriteByte('/')
	}
	if len(idx) == 0 {
		b.WriteByte('0')
		return b.String()
	}
	for i, x := range idx {
		if i > 0 {
			b.WriteString(a.Sep)
		}
		b.WriteString(strconv.Itoa(x))
	}
	return b.String()
}

// Read reads all values of the array: every chunk is fetched (inline data,
// or a byte range through the Store's Fetcher), decoded with the codec
// chain and placed; chunks without a reference read as fill_value (zero,
// or "", when fill_value is null) and are marked in Data.Missing.
func (a *Array) Read(ctx context.Context) (*Data, error) {
	return a.ReadChunks(ctx, nil)
}

// ReadChunks reads the array as Read does, but only the chunks at the grid
// indexes for which want returns true (nil: every chunk); the elements of
// the others hold the fill value and are marked in Data.Missing.
func (a *Array) ReadChunks(ctx context.Context, want func(idx []int) bool) (*Data, error) {
	if a.store == nil {
		return nil, fmt.Errorf("refread: %s: array has no store", a.Path)
	}
	switch k := a.DType.Kind; {
	case a.DType.IsStructured() || k == 'c' || k == 'V':
		return nil, fmt.Errorf("%w: %s: reading values of dtype %s", ErrUnsupported, a.Path, a.DType.Str)
	}
	ch, err := a.chain()
	if err != nil {
		return nil, err
	}
	if err := a.checkLimits(a.store.Limits.WithDefaults()); err != nil {
		return nil, err
	}
	n := a.Len()
	d := &Data{Shape: append([]int(nil), a.Shape...), DType: a.DType}
	switch {
	case a.DType.Kind == 'f':
		d.Float = make([]float64, n)
	case a.DType.IsInteger():
		d.Int = make([]int64, n)
	default:
		d.Str = make([]string, n)
	}
	if n == 0 {
		return d, nil
	}
	fill, err := a.fillElement()
	if err != nil {
		return nil, err
	}
	rank := len(a.Shape)
	grid := make([]int, rank)
	nchunks := 1
	for i := range grid {
		grid[i] = (a.Shape[i] + a.Chunks[i] - 1) / a.Chunks[i]
		nchunks *= grid[i]
	}
	par := a.store.Parallel
	if par <= 0 {
		par = DefaultParallel
	}
	par = min(par, nchunks)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		first   error
		indexes = make(chan []int)
		missing sync.Once // allocates d.Missing
	)
	markMissing := func(idx []int) {
		missing.Do(func() { d.Missing = make([]bool, n) })
		a.place(idx, func(i int) { d.Missing[i] = true })
	}
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for idx := range indexes {
				if want != nil && !want(idx) {
					a.place(idx, func(i int) { set(d, i, fill) })
					markMissing(idx)
					continue
				}
				if err := a.readChunk(ctx, ch, idx, fill, d, markMissing); err != nil {
					mu.Lock()
					if first == nil {
						first = err
						cancel()
					}
					mu.Unlock()
				}
			}
		}()
	}
	idx := make([]int, rank)
feed:
	for c := 0; c < nchunks; c++ {
		select {
		case indexes <- append([]int(nil), idx...):
		case <-ctx.Done():
			break feed
		}
		for i := rank - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < grid[i] {
				break
			}
			idx[i] = 0
		}
	}
	close(indexes)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return d, nil
}

// checkLimits checks the array's size against lim before Read allocates
// for it: its elements, its chunk grid and its string length.
func (a *Array) checkLimits(lim limits.Limits) error {
	if err := limits.CheckVar(limits.CoordElements, "", a.Path, limits.Product(a.Shape), lim.CoordElements); err != nil {
		return err
	}
	grid := uint64(1)
	for i := range a.Shape {
		grid = limits.Mul(grid, uint64((a.Shape[i]+a.Chunks[i]-1)/a.Chunks[i]))
	}
	if err := limits.CheckVar(limits.ChunksPerVariable, "", a.Path, grid, lim.ChunksPerVariable); err != nil {
		return err
	}
	if a.DType.IsString() {
		if err := limits.CheckVar(limits.StringBytes, "", a.Path, uint64(a.DType.Size), lim.StringBytes); err != nil {
			return err
		}
	}
	// No chunk decodes to more than codecs.MaxDecoded: a larger declared
	// chunk could only overflow the index arithmetic of placeChunk.
	if n := limits.Mul(limits.Product(a.Chunks), uint64(max(a.DType.Size, 1))); n > codecs.MaxDecoded {
		return fmt.Errorf("%w: %s: chunks %v of %s hold %d bytes, more than the %d a chunk may decode to", ErrUnsupported, a.Path, a.Chunks, a.DType.Str, n, int64(codecs.MaxDecoded))
	}
	return nil
}

// element is one decoded value.
type element struct {
	f float64
	i int64
	s string
}

// fillElement returns the fill value as an element (zarr decodes it).
func (a *Array) fillElement() (element, error) {
	b, err := a.DType.DecodeFill(a.Fill)
	if err != nil {
		return element{}, fmt.Errorf("%w: %s: %w", ErrBadMetadata, a.Path, err)
	}
	switch {
	case b == nil:
		return element{}, nil
	case a.DType.Kind == 'O':
		return element{s: string(b)}, nil
	case a.DType.Kind == 'f':
		return element{f: a.DType.Float64At(b)}, nil
	case a.DType.IsInteger():
		return element{i: a.DType.Int64At(b)}, nil
	case a.DType.Kind == 'S' || a.DType.Kind == 'U':
		return element{s: a.DType.StringAt(b)}, nil
	}
	return element{}, fmt.Errorf("%w: %s: dtype %s", ErrUnsupported, a.Path, a.DType.Str)
}

// readChunk fetches, decodes and places the chunk at grid index idx; a
// chunk without a reference reads as fill and is passed to missing.
func (a *Array) readChunk(ctx context.Context, ch *chain, idx []int, fill element, d *Data, missing func(idx []int)) error {
	key := a.ChunkKey(idx)
	a.store.mu.Lock()
	ref, ok := a.store.refs.Get(key)
	a.store.mu.Unlock()
	if !ok {
		a.place(idx, func(i int) { set(d, i, fill) })
		missing(idx)
		return nil
	}
	var raw []byte
	if ref.IsInline() {
		raw = ref.Data
	} else {
		var err error
		if raw, err = a.store.fetch.Fetch(ctx, ref.URL, ref.Offset, ref.Length); err != nil {
			return fmt.Errorf("%s: chunk %s: %w", a.Path, key, fetchError(err))
		}
	}
	dec, err := ch.Decode(raw)
	if err != nil {
		return fmt.Errorf("%w: %s: chunk %s: %v", ErrBadRef, a.Path, key, err)
	}
	nelem := 1
	for _, c := range a.Chunks {
		nelem *= c
	}
	if ch.vlenUTF8 {
		strs, err := codecs.VLenUTF8Decode(dec)
		if err != nil {
			return fmt.Errorf("%w: %s: chunk %s: %v", ErrBadRef, a.Path, key, err)
		}
		if len(strs) != nelem {
			return fmt.Errorf("%w: %s: chunk %s holds %d strings, not %d", ErrBadRef, a.Path, key, len(strs), nelem)
		}
		a.placeChunk(idx, d, func(i int) element { return element{s: strs[i]} })
		return nil
	}
	es := a.DType.Size
	if len(dec) != nelem*es {
		return fmt.Errorf("%w: %s: chunk %s decodes to %d bytes, not %d (%d elements of %d bytes)", ErrBadRef, a.Path, key, len(dec), nelem*es, nelem, es)
	}
	dt := a.DType
	switch {
	case dt.Kind == 'f':
		a.placeChunk(idx, d, func(i int) element { return element{f: dt.Float64At(dec[i*es:])} })
	case dt.IsInteger():
		a.placeChunk(idx, d, func(i int) element { return element{i: dt.Int64At(dec[i*es:])} })
	default:
		a.placeChunk(idx, d, func(i int) element { return element{s: dt.StringAt(dec[i*es : (i+1)*es])} })
	}
	return nil
}

// placeChunk copies the part of the chunk at grid index idx that lies
// within the array into d; elem(i) gives the chunk's i-th stored element.
func (a *Array) placeChunk(idx []int, d *Data, elem func(int) element) {
	a.placeFrom(idx, func(dst, src int) { set(d, dst, elem(src)) })
}

// place calls put with the C-order index in the array of every element of
// the chunk at grid index idx that lies within the array.
func (a *Array) place(idx []int, put func(dst int)) {
	a.placeFrom(idx, func(dst, _ int) { put(dst) })
}

// placeFrom calls put(dst, src) for every element of the chunk at grid
// index idx that lies within the array: dst is its C-order index in the
// array, src its index in the chunk as stored (C or F order).
func (a *Array) placeFrom(idx []int, put func(dst, src int)) {
	rank := len(a.Shape)
	if rank == 0 {
		put(0, 0)
		return
	}
	// Strides of the chunk (C or F order) and of the output (C order).
	cs := make([]int, rank)
	os := make([]int, rank)
	ext := make([]int, rank) // extent of the chunk within the array
	base := 0
	cst, ost := 1, 1
	for i := rank - 1; i >= 0; i-- {
		os[i] = ost
		ost *= a.Shape[i]
		start := idx[i] * a.Chunks[i]
		ext[i] = min(a.Chunks[i], a.Shape[i]-start)
		base += start * os[i]
	}
	if a.Order == 'F' {
		for i := 0; i < rank; i++ {
			cs[i] = cst
			cst *= a.Chunks[i]
		}
	} else {
		for i := rank - 1; i >= 0; i-- {
			cs[i] = cst
			cst *= a.Chunks[i]
		}
	}
	coord := make([]int, rank)
	for {
		src, dst := 0, base
		for i := 0; i < rank; i++ {
			src += coord[i] * cs[i]
			dst += coord[i] * os[i]
		}
		// The last axis runs fastest.
		last := rank - 1
		for k := 0; k < ext[last]; k++ {
			put(dst+k*os[last], src+k*cs[last])
		}
		i := rank - 2
		for ; i >= 0; i-- {
			coord[i]++
			if coord[i] < ext[i] {
				break
			}
			coord[i] = 0
		}
		if i < 0 {
			return
		}
	}
}

func set(d *Data, i int, e element) {
	switch {
	case d.Float != nil:
		d.Float[i] = e.f
	case d.Int != nil:
		d.Int[i] = e.i
	default:
		d.Str[i] = e.s
	}
}

// ChunkBytes returns the chunk at grid index idx as a Zarr reader holds it
// once the codec chain has run and before it interprets the elements: the
// bytes of its elements (any fixed-size dtype, structured and complex
// included, in the array's byte order), or, for object dtypes stored with
// vlen-utf8, vlen-bytes or vlen-array, its items. A chunk without a
// reference is the fill value repeated; with a null fill value, or for
// object dtypes, that is an error (a reader would return uninitialised
// memory). Errors wrap ErrBadRef, ErrBadMetadata or ErrUnsupported.
func (a *Array) ChunkBytes(ctx context.Context, idx []int) (raw []byte, items [][]byte, err error) {
	if a.store == nil {
		return nil, nil, fmt.Errorf("refread: %s: array has no store", a.Path)
	}
	if len(idx) != len(a.Shape) {
		return nil, nil, fmt.Errorf("refread: %s: chunk index %v for %d dimensions", a.Path, idx, len(a.Shape))
	}
	filters := a.Filters
	vlen := ""
	if len(filters) > 0 {
		switch id := zarr.CodecID(filters[0]); id {
		case zarr.VLenUTF8, zarr.VLenBytes, zarr.VLenArray:
			vlen, filters = id, filters[1:]
		}
	}
	if vlen == "" && a.DType.Kind == 'O' {
		return nil, nil, fmt.Errorf("%w: %s: object dtype without a vlen codec", ErrUnsupported, a.Path)
	}
	nelem := limits.Product(a.Chunks)
	if n := limits.Mul(nelem, uint64(max(a.DType.Size, 1))); n > codecs.MaxDecoded {
		return nil, nil, fmt.Errorf("%w: %s: chunks %v of %s hold %d bytes, more than the %d a chunk may decode to", ErrUnsupported, a.Path, a.Chunks, a.DType.Str, n, int64(codecs.MaxDecoded))
	}
	chain, err := codecs.NewChain(filters, a.Compressor)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrUnsupported, a.Path, err)
	}
	key := a.ChunkKey(idx)
	a.store.mu.Lock()
	ref, ok := a.store.refs.Get(key)
	a.store.mu.Unlock()
	if !ok {
		if vlen != "" {
			return nil, nil, fmt.Errorf("%w: %s: no reference, and arrays of variable-length items have no fill_value to read instead", ErrBadRef, key)
		}
		fill, err := a.DType.DecodeFill(a.Fill)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %w", ErrBadMetadata, a.Path, err)
		}
		if fill == nil {
			return nil, nil, fmt.Errorf("%w: %s: no reference and fill_value null: a reader returns uninitialised memory", ErrBadRef, key)
		}
		return bytes.Repeat(fill, int(nelem)), nil, nil
	}
	data := ref.Data
	if !ref.IsInline() {
		if data, err = a.store.fetch.Fetch(ctx, ref.URL, ref.Offset, ref.Length); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", key, err)
		}
		if ref.Length >= 0 && int64(len(data)) != ref.Length {
			return nil, nil, fmt.Errorf("%w: %s: read %d bytes of a %d-byte range", ErrBadRef, key, len(data), ref.Length)
		}
	}
	dec, err := chain.Decode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrBadRef, key, err)
	}
	if vlen == "" {
		if want := nelem * uint64(a.DType.Size); uint64(len(dec)) != want {
			return nil, nil, fmt.Errorf("%w: %s: chunk decodes to %d bytes, want %d", ErrBadRef, key, len(dec), want)
		}
		return dec, nil, nil
	}
	if items, err = codecs.VLenItems(dec); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrBadRef, key, err)
	}
	if uint64(len(items)) != nelem {
		return nil, nil, fmt.Errorf("%w: %s: chunk holds %d items, want %d", ErrBadRef, key, len(items), nelem)
	}
	return nil, items, nil
}
