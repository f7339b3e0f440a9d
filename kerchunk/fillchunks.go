package kerchunk

import (
	"bytes"
	"fmt"
)

type chunkClass int

const (
	chunkInside    chunkClass = iota // within the dataset's extent
	chunkStraddles                   // partly past the extent, within the Zarr shape
	chunkBeyond                      // wholly past the extent
)

// fillChunks computes the content of chunks the translator writes for
// positions no stored chunk covers.
type fillChunks struct {
	p        *varPlan
	fill     []byte // Zarr fill_value element, nil for none
	inside   []byte // encoded chunk of missing elements, once computed
	beyond   []byte // encoded chunk of past-the-extent elements
	insideOK bool   // inside chunk can be left out (fill_value says it)
	beyondOK bool
	done     [2]bool
	err      [2]error
}

func newFillChunks(p *varPlan, fill []byte) *fillChunks {
	g := &fillChunks{p: p, fill: fill}
	zs := p.zt.size
	if fill != nil { // compared as Zarr elements (converted: packed, decoded floats)
		missing, beyond := p.convert(p.missing), p.convert(p.beyond)
		g.insideOK = uniformElem(missing, zs) && p.zt.sameFill(fill, missing[:zs])
		g.beyondOK = uniformElem(beyond, zs) && p.zt.sameFill(fill, beyond[:zs])
	}
	return g
}

// class places the chunk at grid index idx relative to the dataset extent.
func (g *fillChunks) class(idx []uint64) chunkClass {
	p := g.p
	c := chunkInside
	for i := 0; i < p.h5rank; i++ {
		h5 := p.ds.Space.Dims[i]
		if p.za.Shape[i] <= h5 {
			continue
		}
		start := idx[i] * p.za.Chunks[i]
		if start >= h5 {
			return chunkBeyond
		}
		if start+p.za.Chunks[i] > h5 {
			c = chunkStraddles
		}
	}
	return c
}

// chunk returns whether the chunk at idx must be written and its encoded
// bytes.
func (g *fillChunks) chunk(idx []uint64) (bool, []byte, error) {
	p := g.p
	if p.tooBig {
		return true, nil, p.errTooBig()
	}
	switch g.class(idx) {
	case chunkInside:
		if g.insideOK {
			return false, nil, nil
		}
		if !g.done[0] {
			g.done[0] = true
			g.inside, g.err[0] = g.encode(bytes.Repeat(p.missing, p.nelem))
		}
		return true, g.inside, g.err[0]
	case chunkBeyond:
		if g.beyondOK {
			return false, nil, nil
		}
		if !g.done[1] {
			g.done[1] = true
			g.beyond, g.err[1] = g.encode(bytes.Repeat(p.beyond, p.nelem))
		}
		return true, g.beyond, g.err[1]
	}
	raw := bytes.Repeat(p.missing, p.nelem)
	patchBeyond(p, idx, raw)
	enc, err := g.encode(raw)
	return true, enc, err
}

func (g *fillChunks) encode(raw []byte) ([]byte, error) {
	if g.p.out == nil {
		return nil, nil // no encoder: the caller falls back on fill_value
	}
	enc, err := g.p.out.Encode(g.p.convert(raw))
	if err != nil {
		return nil, fmt.Errorf("encoding a fill chunk: %w", err)
	}
	return enc, nil
}

// patchBeyond sets the elements of a raw chunk at grid index idx that lie
// past the dataset's extent to the past-the-extent fill.
func patchBeyond(p *varPlan, idx []uint64, raw []byte) {
	rank := p.h5rank
	es := p.ds.Type.Size
	if rank == 0 {
		return
	}
	coord := make([]uint64, rank)
	for e := 0; e < p.nelem; e++ {
		past := false
		for i := 0; i < rank; i++ {
			if idx[i]*p.za.Chunks[i]+coord[i] >= p.ds.Space.Dims[i] {
				past = true
				break
			}
		}
		if past {
			copy(raw[e*es:(e+1)*es], p.beyond)
		}
		for i := rank - 1; i >= 0; i-- {
			coord[i]++
			if coord[i] < p.za.Chunks[i] {
				break
			}
			coord[i] = 0
		}
	}
}
