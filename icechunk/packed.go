package icechunk

import (
	"fmt"
	"math"
	"math/bits"
)

// A Session keeps the chunk refs it is given in a compact form, so that ten
// million refs fit in a few hundred megabytes: one 24-byte packedRef per chunk
// (the chunk index as its row-major position in the array's grid, byte range,
// and a tagged index into the session's refPool), stored in fixed-size blocks
// that never move as they grow. The strings of a virtual ref (location, ETag)
// are kept once per distinct source in the pool, not once per chunk.

// packedRef is one chunk ref of a Session.
type packedRef struct {
	key    uint64 // row-major position of the chunk index in the array's grid
	offset uint64 // virtual and native byte range; with longLength, an index into the pool's long ranges
	length uint32
	src    uint32 // kind (top two bits) and index into the pool's sources, inline or native
}

// longLength marks a packedRef whose range is in refPool.long: a length of
// 4 GiB - 1 or more does not fit the record.
const longLength = math.MaxUint32

// Kinds of a packedRef's src.
const (
	refVirtual  = 0 << 30
	refInline   = 1 << 30
	refNative   = 2 << 30
	refKindMask = 3 << 30
	refMaxIndex = 1<<30 - 1
)

// refSource is what the virtual refs of one source object share.
type refSource struct {
	location, etag string
	lastModified   uint32
}

// refPool holds what a Session's packed refs point at: the distinct virtual
// sources, inline chunk bytes and native chunk ids.
type refPool struct {
	sources  []refSource
	sourceID map[refSource]uint32
	inline   [][]byte
	native   []ObjectID
	long     [][2]uint64 // offset and length of the refs with longLength
}

// byteRange returns pr's offset and length.
func (p *refPool) byteRange(pr *packedRef) (offset, length uint64) {
	if pr.length == longLength {
		r := p.long[pr.offset]
		return r[0], r[1]
	}
	return pr.offset, uint64(pr.length)
}

// pack returns the packed form of r at key, adding its source, inline bytes or
// chunk id to the pool. r must hold exactly one kind.
func (p *refPool) pack(key uint64, r *ChunkRef) (packedRef, error) {
	pr := packedRef{key: key}
	switch {
	case r.Inline != nil:
		pr.src = refInline | uint32(len(p.inline))
		p.inline = append(p.inline, r.Inline)
	case r.ChunkID != nil:
		pr.src = refNative | uint32(len(p.native))
		p.native = append(p.native, *r.ChunkID)
	default:
		s := refSource{r.Location, r.ChecksumETag, r.ChecksumLastModified}
		if n := len(p.sources); n > 0 && p.sources[n-1] == s { // refs usually come source by source
			pr.src = refVirtual | uint32(n-1)
			break
		}
		id, ok := p.sourceID[s]
		if !ok {
			if p.sourceID == nil {
				p.sourceID = map[refSource]uint32{}
			}
			id = uint32(len(p.sources))
			p.sources = append(p.sources, s)
			p.sourceID[s] = id
		}
		pr.src = refVirtual | id
	}
	switch {
	case r.Inline != nil:
	case r.Length < longLength:
		pr.offset, pr.length = r.Offset, uint32(r.Length)
	default:
		pr.offset, pr.length = uint64(len(p.long)), longLength
		p.long = append(p.long, [2]uint64{r.Offset, r.Length})
	}
	if len(p.sources) > refMaxIndex || len(p.inline) > refMaxIndex || len(p.native) > refMaxIndex {
		return packedRef{}, fmt.Errorf("%w: more than %d sources, inline chunks or native chunks in one session", ErrInvalidArgument, refMaxIndex)
	}
	return pr, nil
}

// unpack returns the ChunkRef of pr with index idx.
func (p *refPool) unpack(pr *packedRef, idx []uint32) ChunkRef {
	r := ChunkRef{Index: idx}
	i := pr.src &^ refKindMask
	switch pr.src & refKindMask {
	case refInline:
		r.Inline = p.inline[i]
		return r
	case refNative:
		id := p.native[i]
		r.ChunkID = &id
	default:
		s := p.sources[i]
		r.Location, r.ChecksumETag, r.ChecksumLastModified = s.location, s.etag, s.lastModified
	}
	r.Offset, r.Length = p.byteRange(pr)
	return r
}

// gridKeys maps the chunk indexes of one array's grid to their row-major
// position, which orders them as the spec orders indexes (lexicographically).
type gridKeys struct {
	num    []uint32 // chunks per dimension
	stride []uint64 // key step of one chunk along each dimension
	fits   bool     // the grid has fewer than 2^64 chunks, so every key fits
}

// newGridKeys returns the keys of the chunk grid of shape.
func newGridKeys(shape []DimShape) gridKeys {
	g := gridKeys{fits: true}
	g.num = make([]uint32, len(shape))
	g.stride = make([]uint64, len(shape))
	s := uint64(1)
	for d := len(shape) - 1; d >= 0; d-- {
		g.num[d] = shape[d].NumChunks
		g.stride[d] = s
		hi, lo := bits.Mul64(s, uint64(max(shape[d].NumChunks, 1)))
		if hi != 0 {
			g.fits = false
			return g
		}
		s = lo
	}
	return g
}

// inGrid reports whether idx is a chunk of the grid.
func (g gridKeys) inGrid(idx []uint32) bool {
	if len(idx) != len(g.num) {
		return false
	}
	for d, i := range idx {
		if i >= g.num[d] {
			return false
		}
	}
	return true
}

// key returns the position of idx, a chunk of the grid.
func (g gridKeys) key(idx []uint32) uint64 {
	var k uint64
	for d, i := range idx {
		k += uint64(i) * g.stride[d]
	}
	return k
}

// index writes the chunk index at key into dst (of the grid's rank) and returns it.
func (g gridKeys) index(key uint64, dst []uint32) []uint32 {
	for d := range dst {
		dst[d] = uint32(key / g.stride[d])
		key %= g.stride[d]
	}
	return dst
}

// first returns the first coordinate of the chunk at key (0 for a scalar).
func (g gridKeys) first(key uint64) uint32 {
	if len(g.stride) == 0 {
		return 0
	}
	return uint32(key / g.stride[0])
}

// refBlockBits sets the size of an arrayRefs block: 2^16 refs, 2 MiB.
const refBlockBits = 16

// arrayRefs holds the packed refs of one array in blocks of 2^refBlockBits.
type arrayRefs struct {
	grid   gridKeys
	blocks [][]packedRef
	n      int
}

func (a *arrayRefs) add(r packedRef) {
	if a.n>>refBlockBits == len(a.blocks) {
		a.blocks = append(a.blocks, make([]packedRef, 1<<refBlockBits))
	}
	a.blocks[a.n>>refBlockBits][a.n&(1<<refBlockBits-1)] = r
	a.n++
}

func (a *arrayRefs) at(i int) *packedRef {
	return &a.blocks[i>>refBlockBits][i&(1<<refBlockBits-1)]
}

// regrid moves the refs to the grid of shape, dropping refs outside it.
func (a *arrayRefs) regrid(shape []DimShape) error {
	g := newGridKeys(shape)
	if !g.fits && a.n > 0 {
		return fmt.Errorf("%w: a chunk grid of 2^64 chunks or more cannot hold chunk refs", ErrInvalidArgument)
	}
	old := a.grid
	a.grid = g
	if a.n == 0 {
		return nil
	}
	if len(old.num) != len(g.num) {
		a.blocks, a.n = nil, 0 // a different rank: no old index is a chunk of the new grid
		return nil
	}
	idx := make([]uint32, len(g.num))
	w := 0
	for i := 0; i < a.n; i++ {
		r := *a.at(i)
		if !g.inGrid(old.index(r.key, idx)) {
			continue
		}
		r.key = g.key(idx)
		*a.at(w) = r
		w++
	}
	a.truncate(w)
	return nil
}

// truncate keeps the first n refs.
func (a *arrayRefs) truncate(n int) {
	a.n = n
	a.blocks = a.blocks[:(n+1<<refBlockBits-1)>>refBlockBits]
}

// sortLast sorts the refs by key, stably, and keeps the last ref of each key
// (the one set last). Refs set in order cost one pass; otherwise an LSD radix
// sort (16-bit digits, skipping digits equal everywhere) computes a
// permutation that is then applied in place, so the extra memory is 8 bytes
// per ref, not a second copy of the refs.
func (a *arrayRefs) sortLast() {
	sorted, unique := true, true
	for i := 1; i < a.n && sorted; i++ {
		p, c := a.at(i-1).key, a.at(i).key
		sorted = p <= c
		unique = unique && p != c
	}
	if sorted && unique {
		return
	}
	if !sorted {
		a.radixSort()
	}
	w := 0
	for i := 0; i < a.n; i++ {
		if i+1 < a.n && a.at(i).key == a.at(i+1).key {
			continue
		}
		*a.at(w) = *a.at(i)
		w++
	}
	a.truncate(w)
}

func (a *arrayRefs) radixSort() {
	var maxKey uint64
	for i := 0; i < a.n; i++ {
		maxKey = max(maxKey, a.at(i).key)
	}
	perm := radixOrder(a.n, (bits.Len64(maxKey)+15)/16, func(d int, i uint32) uint32 {
		return uint32(a.at(int(i)).key>>(16*d)) & 0xffff
	})
	permute(perm, a.at)
}

// mergeRefs merges two arrays' refs sorted by sortLast into a new arrayRefs
// on newer's grid; on an equal key the newer ref wins.
func mergeRefs(older, newer *arrayRefs) *arrayRefs {
	merged := &arrayRefs{grid: newer.grid}
	i, j := 0, 0
	for i < older.n || j < newer.n {
		switch {
		case j == newer.n || (i < older.n && older.at(i).key < newer.at(j).key):
			merged.add(*older.at(i))
			i++
		default:
			if i < older.n && older.at(i).key == newer.at(j).key {
				i++
			}
			merged.add(*newer.at(j))
			j++
		}
	}
	return merged
}
