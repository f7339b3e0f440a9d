package combine

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/zarr"
)

// How an array along the concat dimension is written.
type planKind int

const (
	planRegular planKind = iota // chunk keys renumbered
	planSplit                   // uncompressed chunks split into byte ranges
	planRewrite                 // values decoded and re-encoded inline (CF times)
)

type plan struct {
	kind  planKind
	total int // length along the concat axis
	chunk int // output chunk length along the concat axis
	rw    *rewritten
}

// finish plans every array, writes the combined references and the
// summary.
func (c *combiner) finish(ctx context.Context) (*Result, error) {
	n := len(c.files)
	plans := map[string]*plan{}
	for _, p := range c.first.order {
		v := c.vars[p]
		if v == nil {
			continue
		}
		pl, err := c.planVar(ctx, v, n)
		if err != nil {
			return nil, err
		}
		plans[p] = pl
	}

	keys := 0
	for _, v := range c.vars {
		for _, pt := range v.parts {
			keys += pt.chunks.len()
		}
	}
	// The result's references: those of the first input's other arrays,
	// and its concat arrays' chunks, as renumbered, split or re-encoded.
	var total uint64
	for _, p := range c.first.order {
		if pl := plans[p]; pl != nil && pl.kind == planRewrite {
			total += uint64(len(pl.rw.chunks)) + 2
			continue
		}
		if v := c.vars[p]; v != nil {
			for _, pt := range v.parts {
				n := uint64(pt.chunks.len())
				if pl := plans[p]; pl != nil && pl.kind == planSplit {
					n = limits.Mul(n, uint64(pt.chunk/pl.chunk))
				}
				total += n
			}
		} else {
			total += uint64(c.first.arrays[p].chunks.len())
		}
		total += 2
	}
	if err := limits.CheckVar(limits.CombinedRefs, "", "", total, c.opts.Limits.CombinedRefs); err != nil {
		return nil, err
	}
	// Keys are appended in order, without an index grown key by key, and
	// made unique once at the end (as Set would have: no input key is
	// lost or reordered, even a repeated one). Each input's references
	// are released once its last chunk is written.
	out := kerchunk.NewRefs(keys + 3*len(c.first.order) + 8)
	c.planReleases(plans)
	shapes := map[string][]int{}
	chunks := map[string][]int{}
	for _, m := range c.first.meta {
		prefix, base := splitKey(m.key)
		a := c.first.arrays[prefix]
		switch {
		case base == ".zarray" && a != nil:
			if err := c.emitArray(out, a, plans[prefix], shapes, chunks); err != nil {
				return nil, err
			}
		case base == ".zattrs" && a != nil:
			// written with the array
		case m.key == kerchunk.ConsolidatedKey:
			out.Append(m.key, kerchunk.Inline([]byte("{}"))) // placeholder, keeps the position
		default:
			out.Append(m.key, m.ref)
		}
	}
	c.first.meta = nil
	out.Dedupe()
	// Every combined set is consolidated (in step with its metadata keys).
	if err := out.Consolidate(); err != nil {
		return nil, err
	}
	res := &Result{Refs: out, SourceFiles: c.files, Warnings: c.warnings}
	if err := c.summarize(ctx, res, plans, shapes, chunks); err != nil {
		return nil, err
	}
	// Callers write the result (All): its key index, built by Dedupe and
	// used by the summary, would be a sixth of its memory.
	out.DropIndex()
	return res, nil
}

// planReleases notes, for every input, the last array whose chunks it
// holds, in the order finish writes them, so that the input's references
// are released right after (the others hold their own; re-encoded times
// hold none once planned).
func (c *combiner) planReleases(plans map[string]*plan) {
	c.lastUse = make([]string, len(c.files))
	for _, p := range c.first.order {
		if v := c.vars[p]; v != nil {
			if pl := plans[p]; pl == nil || pl.kind != planRewrite {
				for i := range min(len(v.parts), len(c.lastUse)) {
					c.lastUse[i] = p
				}
			}
		} else if c.first.arrays[p].chunks.len() > 0 {
			c.lastUse[0] = p
		}
	}
	for i, p := range c.lastUse {
		if p == "" {
			c.release(i)
		}
	}
}

// released is called when the first input's array p is written.
func (c *combiner) released(p string) {
	if len(c.lastUse) > 0 && c.lastUse[0] == p {
		c.release(0)
	}
}

// releasedPart is called when input i's part of the concat array p is
// written.
func (c *combiner) releasedPart(p string, i int) {
	if i < len(c.lastUse) && c.lastUse[i] == p {
		c.release(i)
	}
}

// release drops what combine holds of input i's references: its chunk
// lists (the first input's metadata was copied out when it was read).
func (c *combiner) release(i int) {
	for _, v := range c.vars {
		if i < len(v.parts) {
			pt := v.parts[i]
			pt.chunks = chunkList{}
			if pt.fa != nil {
				pt.fa.chunks = chunkList{}
			}
		}
	}
	if i == 0 {
		for _, a := range c.first.arrays {
			a.chunks = chunkList{}
		}
	}
}

// planVar decides how to write an array along the concat dimension.
func (c *combiner) planVar(ctx context.Context, v *concatVar, n int) (*plan, error) {
	total := 0
	for _, pt := range v.parts {
		if pt.length > math.MaxInt-total {
			return nil, incompatible(pt.file, v.path, "the inputs' lengths along %q add up to more than %d", c.opts.ConcatDim, math.MaxInt)
		}
		total += pt.length
	}
	pl := &plan{total: total, chunk: v.parts[0].chunk}
	bad, why := c.regular(v, n)
	if c.timeLike[v.path] != nil && (v.encDiffers || bad != nil) {
		rw, err := c.rewrite(ctx, v, total)
		if err != nil {
			return nil, err
		}
		pl.kind, pl.rw, pl.chunk = planRewrite, rw, rw.chunk
		c.log.Info("combine: time values re-encoded in the first input's units", "variable", v.path,
			"units", rw.units.Text, "calendar", rw.units.Calendar.String(), "values", total)
		return pl, nil
	}
	if bad == nil {
		return pl, nil
	}
	a := v.first
	m := a.meta
	splittable := m.Compressor == nil && len(m.Filters) == 0 && m.DType.Size > 0
	for j := range m.Chunks {
		if (m.Order == 'C' && j < a.axis || m.Order == 'F' && j > a.axis) && m.Chunks[j] != 1 {
			splittable = false
		}
	}
	if !splittable {
		var how string
		if m.Compressor != nil || len(m.Filters) > 0 || m.DType.Size == 0 {
			how = fmt.Sprintf("its chunks are encoded (%s), so they cannot be split without copying data", describeCodecs(m))
		} else {
			how = fmt.Sprintf("its chunks cannot be split into byte ranges along %q (chunks %v, order %c)", c.opts.ConcatDim, m.Chunks, m.Order)
		}
		return nil, incompatible(bad.file, v.path, "%s; %s. Rechunk the inputs so that every file's %s length is a multiple of one chunk length (chunk length 1 along %s works for any lengths, e.g. nccopy -c %s/1 IN OUT)%s",
			why, how, c.opts.ConcatDim, c.opts.ConcatDim, c.opts.ConcatDim, lastHint(bad, v, n))
	}
	g := 0
	for i, pt := range v.parts {
		g = gcd(g, pt.chunk)
		if i < n-1 {
			g = gcd(g, pt.length)
		}
	}
	// Splitting multiplies the references: count them before writing.
	var pieces uint64
	for _, pt := range v.parts {
		pieces += limits.Mul(uint64(pt.chunks.len()), uint64(pt.chunk/g))
		if err := limits.CheckVar(limits.ChunksPerVariable, pt.file, v.path, pieces, c.opts.Limits.ChunksPerVariable); err != nil {
			return nil, err
		}
	}
	pl.kind, pl.chunk = planSplit, g
	msg := fmt.Sprintf("%s: %s; its chunks are uncompressed, so they are referenced as byte ranges of %s along %q",
		v.path, why, plural(g, "step", "steps"), c.opts.ConcatDim)
	c.warnings = append(c.warnings, msg)
	c.log.Warn("combine: chunks split into byte ranges", "variable", v.path, "chunk", g, "reason", why)
	return pl, nil
}

func lastHint(bad *part, v *concatVar, n int) string {
	if bad == v.parts[n-1] || bad.chunk != v.parts[0].chunk {
		return ""
	}
	return ", or make " + bad.file + " the last input"
}

// regular checks that renumbering chunk keys is enough: one chunk length,
// and every input but the last a whole number of chunks long. It returns
// the first part that breaks this, and why.
func (c *combiner) regular(v *concatVar, n int) (*part, string) {
	c0 := v.parts[0].chunk
	for i, pt := range v.parts {
		if pt.chunk != c0 {
			return pt, fmt.Sprintf("its chunk length %d along %q differs from %d in %s (%s long): a Zarr array has one chunk length, and only the last input may end in a partial chunk",
				pt.chunk, c.opts.ConcatDim, c0, v.parts[0].file, plural(v.parts[0].length, "step", "steps"))
		}
		if i < n-1 && pt.length%c0 != 0 {
			return pt, fmt.Sprintf("its %s along %q are not a whole number of chunks of %d: only the last input may end in a partial chunk",
				plural(pt.length, "step", "steps"), c.opts.ConcatDim, c0)
		}
	}
	return nil, ""
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// appendText appends a metadata key holding text.
func appendText(out *kerchunk.Refs, key, text string) {
	out.Append(key, kerchunk.Inline([]byte(text)))
}

// emitArray writes an array's metadata and chunks.
func (c *combiner) emitArray(out *kerchunk.Refs, a *fileArray, pl *plan, shapes, chunkShapes map[string][]int) error {
	p := a.path
	shape := append([]int(nil), a.meta.Shape...)
	chunks := append([]int(nil), a.meta.Chunks...)
	// Chunk keys are formatted straight into out's key storage.
	var idx []int
	appendKey := func(b []byte) []byte { return chunkKey(b, p, a.meta.Sep, idx) }
	if pl == nil {
		appendText(out, p+"/.zarray", a.zarray)
		if a.zattrs != "" {
			appendText(out, p+"/.zattrs", a.zattrs)
		}
		var buf []int
		for j := range a.chunks.len() {
			var r kerchunk.Ref
			var err error
			if idx, r, err = a.chunks.at(j, &buf); err != nil {
				return err
			}
			out.AppendKey(appendKey, r)
		}
		shapes[p], chunkShapes[p] = shape, chunks
		c.released(p)
		return nil
	}
	if pl.kind == planRewrite {
		appendText(out, p+"/.zarray", pl.rw.zarray)
		if pl.rw.zattrs != "" {
			appendText(out, p+"/.zattrs", pl.rw.zattrs)
		}
		for _, ch := range pl.rw.chunks {
			idx = ch.idx
			out.AppendKey(appendKey, ch.ref)
		}
		shapes[p], chunkShapes[p] = pl.rw.shape, pl.rw.chunks2
		return nil
	}
	ax := a.axis
	shape[ax] = pl.total
	chunks[ax] = pl.chunk
	dropFill := false
	zattrs := a.zattrs
	if p == c.opts.ConcatDim && len(shape) == 1 {
		// A coordinate variable has no missing values (CF): no fill
		// value, so none of its values can read as missing.
		dropFill = true
		if _, ok := a.meta.Attrs["_FillValue"]; ok {
			zattrs, _ = dropMembers(zattrs, "_FillValue", "missing_value")
		} else if _, ok := a.meta.Attrs["missing_value"]; ok {
			zattrs, _ = dropMembers(zattrs, "missing_value")
		}
	}
	text, err := editZarray(a.zarray, shape, chunks, func(z *zarr.ArrayV2) {
		if dropFill {
			z.FillValue = nil
		}
	})
	if err != nil {
		return incompatible(c.first.name, p, ".zarray: %v", err)
	}
	appendText(out, p+"/.zarray", text)
	if zattrs != "" {
		appendText(out, p+"/.zattrs", zattrs)
	}
	shapes[p], chunkShapes[p] = shape, chunks
	v := c.vars[p]
	start := 0 // position of the part along the axis
	var buf []int
	for i, pt := range v.parts {
		switch pl.kind {
		case planRegular:
			off := start / pl.chunk
			for j := range pt.chunks.len() {
				var r kerchunk.Ref
				if idx, r, err = pt.chunks.at(j, &buf); err != nil {
					return err
				}
				idx[ax] += off
				out.AppendKey(appendKey, r)
			}
		case planSplit:
			if err := c.emitSplit(out, a, pt, pl, start); err != nil {
				return err
			}
		}
		start += pt.length
		c.releasedPart(p, i)
	}
	return nil
}

// emitSplit writes the chunks of an uncompressed part as byte ranges of
// pl.chunk steps along the concat axis.
func (c *combiner) emitSplit(out *kerchunk.Refs, a *fileArray, pt *part, pl *plan, start int) error {
	ax := a.axis
	pieces := pt.chunk / pl.chunk
	chunkBytes := int64(a.meta.DType.Size)
	for j, n := range a.meta.Chunks {
		if j == ax {
			n = pt.chunk
		}
		chunkBytes *= int64(n)
	}
	pieceBytes := chunkBytes / int64(pieces)
	idx := make([]int, len(a.meta.Shape))
	appendKey := func(b []byte) []byte { return chunkKey(b, a.path, a.meta.Sep, idx) }
	var buf []int
	for j := range pt.chunks.len() {
		chIdx, r, err := pt.chunks.at(j, &buf)
		if err != nil {
			return err
		}
		size := r.Length
		if r.IsInline() {
			size = int64(len(r.Data))
		}
		if r.Length < 0 && !r.IsInline() {
			size = chunkBytes
			r.Offset = 0
		}
		if size != chunkBytes {
			key := chunkKey(nil, a.path, a.meta.Sep, chIdx)
			return incompatible(pt.file, a.path, "chunk %s holds %d bytes, not the %d of an uncompressed %v chunk, so it cannot be split", string(key), size, chunkBytes, a.meta.Chunks)
		}
		for k := 0; k < pieces; k++ {
			pos := chIdx[ax]*pt.chunk + k*pl.chunk
			if pos >= pt.length {
				break
			}
			copy(idx, chIdx)
			idx[ax] = (start + pos) / pl.chunk
			var piece kerchunk.Ref
			if r.IsInline() {
				piece = kerchunk.Inline(r.Data[int64(k)*pieceBytes : int64(k+1)*pieceBytes])
			} else {
				piece = kerchunk.Range(r.URL, r.Offset+int64(k)*pieceBytes, pieceBytes)
			}
			out.AppendKey(appendKey, piece)
		}
	}
	return nil
}

// editZarray returns the .zarray text with a new shape and chunks and
// edit's other changes (edit may be nil), as package zarr writes it.
func editZarray(text string, shape, chunks []int, edit func(*zarr.ArrayV2)) (string, error) {
	z, err := zarr.ParseArrayV2([]byte(text))
	if err != nil {
		return "", err
	}
	z.Shape, z.Chunks = make([]uint64, len(shape)), make([]uint64, len(chunks))
	for i := range shape {
		z.Shape[i] = uint64(shape[i])
	}
	for i := range chunks {
		z.Chunks[i] = uint64(chunks[i])
	}
	if edit != nil {
		edit(z)
	}
	b, err := z.MarshalJSON()
	return string(b), err
}

// dropMembers returns the JSON object text without the members named
// drop; the other members keep their text (bare NaN and Infinity too).
func dropMembers(text string, drop ...string) (string, error) {
	var b strings.Builder
	b.WriteByte('{')
	n := 0
	err := zarr.EachMember([]byte(text), func(k, v []byte) error {
		var key string
		if err := json.Unmarshal(k, &key); err != nil {
			return err
		}
		if slicesContains(drop, key) {
			return nil
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
		n++
		return nil
	})
	if err != nil {
		return "", err
	}
	b.WriteByte('}')
	return b.String(), nil
}

func slicesContains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
