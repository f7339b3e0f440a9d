package combine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/greensight/vzarr/internal/cftime"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/kerchunk/codecs"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/refread"
	"github.com/greensight/vzarr/zarr"
)

// timeInfo marks an array along the concat dimension that holds CF times.
type timeInfo struct {
	// parent is the coordinate whose units apply, for cell bounds
	// without units of their own ("" otherwise).
	parent string
}

// rewritten is a time-like array decoded from every input and re-encoded
// in the first input's units, calendar and dtype, as inline chunks.
type rewritten struct {
	zarray, zattrs string
	shape, chunks2 []int
	chunk          int // chunk length along the concat axis
	chunks         []chunkRef
	units          *cftime.Units
	instants       []cftime.Instant // in C order of the output shape
	missing        []bool
}

// Rewritten arrays are written in chunks of at most this many bytes, and
// compressed with zlib when larger than rewriteCompressAbove.
const (
	rewriteChunkBytes    = 16 << 20
	rewriteCompressAbove = 4 << 10
)

// decodedPart is one input's values of a time-like array.
type decodedPart struct {
	instants []cftime.Instant
	missing  []bool
}

// rewrite decodes every input's values of a time-like array with the
// input's own units and calendar and re-encodes them in the first input's.
func (c *combiner) rewrite(ctx context.Context, v *concatVar, total int) (*rewritten, error) {
	p0 := v.parts[0]
	a0 := p0.fa
	cal0, err := cftime.ParseCalendar(p0.calendar)
	if err != nil {
		return nil, incompatible(p0.file, v.path, "%v", err)
	}
	u0, err := cftime.ParseUnits(p0.units, cal0)
	if err != nil {
		return nil, incompatible(p0.file, v.path, "%v", err)
	}
	if !a0.meta.DType.IsFloat() && !a0.meta.DType.IsInteger() || a0.meta.DType.Kind == 'M' || a0.meta.DType.Kind == 'm' || a0.meta.DType.Kind == 'b' {
		return nil, incompatible(p0.file, v.path, "holds CF times as %s, which combine cannot re-encode", a0.meta.DType.Str)
	}

	// Check the output's size before reading or allocating anything:
	// the shapes come from the inputs.
	outShape := append([]int(nil), a0.meta.Shape...)
	outShape[a0.axis] = total
	if err := limits.CheckVar(limits.CoordElements, p0.file, v.path, limits.Product(outShape), c.opts.Limits.CoordElements); err != nil {
		return nil, err
	}

	// Decode every part, a few at once.
	dec := make([]decodedPart, len(v.parts))
	errs := make([]error, len(v.parts))
	var wg sync.WaitGroup
	sem := make(chan struct{}, c.opts.Parallel)
	for i, pt := range v.parts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			dec[i], errs[i] = c.decodePart(ctx, v.path, pt, cal0)
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return nil, e
		}
	}

	// Assemble in the output's C order: [outer][total][inner].
	m0 := a0.meta
	ax := a0.axis
	shape := append([]int(nil), m0.Shape...)
	shape[ax] = total
	outer, inner := 1, 1
	for j := 0; j < ax; j++ {
		outer *= shape[j]
	}
	for j := ax + 1; j < len(shape); j++ {
		inner *= shape[j]
	}
	rw := &rewritten{shape: shape, units: u0,
		instants: make([]cftime.Instant, outer*total*inner), missing: make([]bool, outer*total*inner)}
	start := 0
	for i, pt := range v.parts {
		d := dec[i]
		for o := 0; o < outer; o++ {
			src := o * pt.length * inner
			dst := (o*total + start) * inner
			copy(rw.instants[dst:dst+pt.length*inner], d.instants[src:src+pt.length*inner])
			copy(rw.missing[dst:dst+pt.length*inner], d.missing[src:src+pt.length*inner])
		}
		start += pt.length
	}

	// Encode in the first input's units, packing and dtype.
	dt := m0.DType
	scale, hasScale := m0.AttrFloat("scale_factor")
	offset, hasOffset := m0.AttrFloat("add_offset")
	if !hasScale {
		scale = 1
	}
	raw := make([]float64, len(rw.instants))
	anyMissing := false
	filePos := func(k int) string { // the input holding flat index k
		pos := (k / inner) % total
		for _, pt := range v.parts {
			if pos < pt.length {
				return pt.file
			}
			pos -= pt.length
		}
		return p0.file
	}
	for k, in := range rw.instants {
		if rw.missing[k] {
			anyMissing = true
			continue
		}
		val, err := u0.Encode(in)
		if err == nil && (hasScale || hasOffset) {
			r := (val - offset) / scale
			if r*scale+offset != val {
				err = fmt.Errorf("%w: %v is not a whole multiple of scale_factor %v after add_offset %v", cftime.ErrInexact, val, scale, offset)
			}
			val = r
		}
		if err == nil && dt.IsInteger() && val != math.Trunc(val) {
			err = fmt.Errorf("%w: %v is not an integer, as %s needs", cftime.ErrInexact, val, dt.Str)
		}
		if err != nil {
			return nil, incompatible(filePos(k), v.path, "its time %s cannot be written exactly in the units %q of %s (%s): %v; re-encode the inputs in one set of units",
				cal0.Date(in).ISO(), u0.Text, p0.file, dt.Str, err)
		}
		raw[k] = val
	}
	fillJSON := "null"
	var fillVal float64
	if anyMissing {
		fillJSON, fillVal, err = chooseFill(a0.meta, raw, rw.missing)
		if err != nil {
			return nil, incompatible(p0.file, v.path, "%v", err)
		}
	}
	elem := dt.Size
	buf := make([]byte, len(raw)*elem)
	for k := range raw {
		val := raw[k]
		if rw.missing[k] {
			val = fillVal
		}
		if err := dt.PutFloat64(buf[k*elem:], val); err != nil {
			return nil, incompatible(filePos(k), v.path, "cannot write %v as %s: %v", val, dt.Str, err)
		}
	}

	// Chunks: along the concat axis when it is the first, else one chunk.
	chunks := append([]int(nil), shape...)
	rowBytes := inner * elem
	if ax == 0 && total > 0 {
		chunks[0] = max(1, min(total, rewriteChunkBytes/max(rowBytes, 1)))
	}
	for j := range chunks {
		chunks[j] = max(chunks[j], 1)
	}
	rw.chunks2 = chunks
	rw.chunk = chunks[ax]
	chunkElems := 1
	for _, n := range chunks {
		chunkElems *= n
	}
	compress := chunkElems*elem > rewriteCompressAbove
	var compressor codecs.Config
	if compress {
		compressor = codecs.Config{"id": "zlib", "level": 6}
	}
	nchunks := 1
	if ax == 0 && total > 0 {
		nchunks = (total + chunks[0] - 1) / chunks[0]
	}
	for k := 0; k < nchunks; k++ {
		lo := k * chunkElems * elem
		data := make([]byte, chunkElems*elem)
		copy(data, buf[min(lo, len(buf)):min(lo+len(data), len(buf))])
		if compress {
			if data, err = codecs.ZlibEncode(data, 6); err != nil {
				return nil, err
			}
		}
		idx := make([]int, len(shape))
		idx[0] = k
		if len(shape) == 0 {
			idx = []int{}
		}
		rw.chunks = append(rw.chunks, chunkRef{idx: idx, ref: kerchunk.Inline(data)})
	}
	rw.zarray, err = editZarray(a0.zarray, shape, chunks, func(z *zarr.ArrayV2) {
		z.FillValue = json.RawMessage(fillJSON)
		z.Compressor, z.Filters, z.Order = compressor, nil, 'C'
	})
	if err != nil {
		return nil, incompatible(p0.file, v.path, ".zarray: %v", err)
	}
	if a0.zattrs != "" {
		// The mask now lives in fill_value alone.
		if rw.zattrs, err = dropMembers(a0.zattrs, "_FillValue", "missing_value"); err != nil {
			return nil, incompatible(p0.file, v.path, ".zattrs: %v", err)
		}
	}
	return rw, nil
}

// decodePart reads one input's values of a time-like array and decodes
// them (masking its fill and missing values, unpacking, applying its units
// and calendar) to instants of calendar cal0.
func (c *combiner) decodePart(ctx context.Context, path string, pt *part, cal0 cftime.Calendar) (decodedPart, error) {
	fa := pt.fa
	cal, err := cftime.ParseCalendar(pt.calendar)
	if err != nil {
		return decodedPart{}, incompatible(pt.file, path, "%v", err)
	}
	u, err := cftime.ParseUnits(pt.units, cal)
	if err != nil {
		return decodedPart{}, incompatible(pt.file, path, "%v", err)
	}
	refs := kerchunk.NewRefs(pt.chunks.len() + 1)
	refs.SetText(path+"/.zarray", fa.zarray)
	var kb []byte
	var buf []int
	for j := range pt.chunks.len() {
		idx, r, err := pt.chunks.at(j, &buf)
		if err != nil {
			return decodedPart{}, err
		}
		kb = chunkKey(kb[:0], path, fa.meta.Sep, idx)
		refs.Set(string(kb), r)
	}
	arr, err := c.store(refs).Open(path)
	if err != nil {
		return decodedPart{}, incompatible(pt.file, path, "%v", err)
	}
	data, err := arr.Read(ctx)
	if errors.Is(err, limits.ErrExceeded) {
		return decodedPart{}, limits.Locate(err, pt.file, path)
	}
	if err != nil {
		return decodedPart{}, fmt.Errorf("%s: variable %q: reading its times: %w", pt.file, path, err)
	}
	vals, err := data.Float64s()
	if err != nil {
		return decodedPart{}, incompatible(pt.file, path, "%v", err)
	}
	f := effectiveFill(fa.meta)
	var missingVals []float64
	switch mv := fa.meta.Attrs["missing_value"].(type) {
	case []any:
		for _, x := range mv {
			if v, ok := zarr.AsFloat(x); ok {
				missingVals = append(missingVals, v)
			}
		}
	default:
		if v, ok := zarr.AsFloat(mv); ok {
			missingVals = append(missingVals, v)
		}
	}
	scale, hasScale := fa.meta.AttrFloat("scale_factor")
	offset, _ := fa.meta.AttrFloat("add_offset")
	if !hasScale {
		scale = 1
	}
	out := decodedPart{instants: make([]cftime.Instant, len(vals)), missing: make([]bool, len(vals))}
	for k, x := range vals {
		miss := math.IsNaN(x) || (f.set && f.raw == "" && x == f.num)
		for _, mv := range missingVals {
			miss = miss || x == mv
		}
		if miss {
			out.missing[k] = true
			continue
		}
		x = x*scale + offset
		in, err := u.Decode(x)
		if err == nil {
			in, err = cal.Convert(in, cal0)
		}
		if err != nil {
			return decodedPart{}, incompatible(pt.file, path, "value %v (%s, calendar %s): %v", x, u.Text, cal, err)
		}
		out.instants[k] = in
	}
	return out, nil
}

// chooseFill picks the fill value of a re-encoded array with missing
// values: NaN for floats; for integers the first input's fill value, else
// the type's minimum, when no real value equals it.
func chooseFill(m *refread.Array, raw []float64, missing []bool) (string, float64, error) {
	if m.DType.IsFloat() {
		return `"NaN"`, math.NaN(), nil
	}
	var cands []float64
	if f := effectiveFill(m); f.set && f.raw == "" {
		cands = append(cands, f.num)
	}
	lo := -math.Ldexp(1, m.DType.Size*8-1)
	if m.DType.Kind == 'u' {
		lo = math.Ldexp(1, m.DType.Size*8) - 1
	}
	cands = append(cands, lo)
	for _, f := range cands {
		clash := false
		for k, v := range raw {
			if !missing[k] && v == f {
				clash = true
				break
			}
		}
		if !clash {
			b, _ := json.Marshal(f)
			return string(b), f, nil
		}
	}
	return "", 0, fmt.Errorf("has missing times, and no fill value for %s is free of real values", m.DType.Str)
}
