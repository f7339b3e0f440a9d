package hdf5meta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/greensight/vzarr/rangeio"
	"iter"
)

// Chunk is one allocated chunk of a chunked dataset.
type Chunk struct {
	// Offset is the chunk's first element, in element coordinates (as
	// libhdf5's H5Dget_chunk_info reports it). Iterations cut the
	// offsets from shared blocks (one allocation per few thousand
	// chunks, not one per chunk); each is capped at its length, so a
	// caller may keep it and append to it (the append copies).
	Offset []uint64
	// Addr is the chunk's HDF5 address (relative to the base address, as
	// libhdf5 reports it); File.AbsOffset(Addr) is where its bytes start.
	Addr uint64
	// Size is the number of bytes stored (after filters).
	Size uint64
	// FilterMask has bit i set when filter i of the pipeline was skipped
	// for this chunk.
	FilterMask uint32
}

// offsetBlock is how many coordinates an offsets allocates at once.
const offsetBlock = 4096

// offsets hands out the chunks' Offset slices, cut from blocks of
// offsetBlock coordinates: listing 100,000 chunks then allocates 25 blocks
// instead of 100,000 slices. Each slice is capped at its length, so an
// append to it copies instead of overwriting its neighbour.
type offsets struct{ block []uint64 }

// next returns a zeroed slice of rank coordinates (never nil).
func (o *offsets) next(rank int) []uint64 {
	if rank == 0 || rank > offsetBlock/4 {
		return make([]uint64, rank)
	}
	if len(o.block) < rank {
		o.block = make([]uint64, offsetBlock)
	}
	s := o.block[:rank:rank]
	o.block = o.block[rank:]
	return s
}

// errStop ends an iteration early without an error.
var errStop = errors.New("stop")

// Chunks returns an iterator over the allocated chunks of a chunked
// dataset, in index order. Each index node is read once, so the time is
// linear in the number of chunks. For a dataset that is not chunked the
// iterator yields one error.
func (d *Dataset) Chunks() iter.Seq2[Chunk, error] {
	return func(yield func(Chunk, error) bool) {
		err := d.ForEachChunk(func(c Chunk) error {
			if !yield(c, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(Chunk{}, err)
		}
	}
}

// ForEachChunk calls fn for every allocated chunk; an error from fn stops
// the iteration and is returned.
func (d *Dataset) ForEachChunk(fn func(Chunk) error) error {
	if d.Layout.Class != LayoutChunked {
		return &FormatError{Offset: -1, Path: d.Path, What: fmt.Sprintf("%s dataset has no chunks", d.Layout.Class), Err: ErrNotFound}
	}
	if d.Layout.Address == undefAddr {
		return nil // no chunk was ever written
	}
	var err error
	switch d.Layout.ChunkIndex {
	case IndexBTreeV1:
		err = d.chunksBTreeV1(fn)
	case IndexSingleChunk:
		size := d.chunkBytes()
		if d.Layout.SingleChunkFiltered {
			size = d.Layout.FilteredSize
		}
		err = fn(Chunk{Offset: make([]uint64, len(d.Space.Dims)), Addr: d.Layout.Address, Size: size, FilterMask: d.Layout.FilterMask})
	case IndexImplicit:
		err = d.chunksImplicit(fn)
	case IndexFixedArray:
		err = d.chunksFixedArray(fn)
	case IndexExtArray:
		err = d.chunksExtArray(fn)
	case IndexBTreeV2:
		err = d.chunksBTreeV2(fn)
	default:
		err = unsupportedErr(-1, "chunk index %v", d.Layout.ChunkIndex)
	}
	if errors.Is(err, errStop) {
		return err
	}
	return withPath(err, d.Path)
}

// NumChunks counts the allocated chunks and their stored bytes.
func (d *Dataset) NumChunks() (n int, stored uint64, err error) {
	err = d.ForEachChunk(func(c Chunk) error {
		n++
		stored += c.Size
		return nil
	})
	return n, stored, err
}

// chunkBytes is the unfiltered size of one chunk.
func (d *Dataset) chunkBytes() uint64 {
	n := uint64(d.Type.Size)
	for _, c := range d.Layout.ChunkDims {
		n *= c
	}
	return n
}

// grid returns the number of chunks along each dimension for the given
// extent (current or maximum dims); unlimited dims count as 1 chunk
// (they only occur where the count does not matter).
func (d *Dataset) grid(dims []uint64) []uint64 {
	g := make([]uint64, len(dims))
	for i, v := range dims {
		if v == Unlimited {
			g[i] = 1
			continue
		}
		g[i] = (v + d.Layout.ChunkDims[i] - 1) / d.Layout.ChunkDims[i]
	}
	return g
}

// downChunks returns the strides of a row-major linearisation of grid.
func downChunks(grid []uint64) []uint64 {
	down := make([]uint64, len(grid))
	acc := uint64(1)
	for i := len(grid) - 1; i >= 0; i-- {
		down[i] = acc
		acc *= grid[i]
	}
	return down
}

// offsetOf turns a linear chunk index into element coordinates, taken
// from offs.
func (d *Dataset) offsetOf(offs *offsets, idx uint64, down []uint64, grid []uint64) []uint64 {
	off := offs.next(len(down))
	for i := range down {
		s := idx / down[i]
		if i > 0 {
			s %= grid[i]
		}
		off[i] = s * d.Layout.ChunkDims[i]
	}
	return off
}

func (d *Dataset) chunksBTreeV1(fn func(Chunk) error) error {
	f := d.f
	rank := len(d.Space.Dims)
	keySize := 4 + 4 + 8*(rank+1)
	var offs offsets
	return f.walkBTree1(d.Layout.Address, 1, keySize, func(key []byte, child uint64) error {
		// The walk hands out keys of exactly keySize bytes: chunk size,
		// filter mask, then rank+1 64-bit offsets (the last is 0).
		le := binary.LittleEndian
		c := Chunk{Size: uint64(le.Uint32(key)), FilterMask: le.Uint32(key[4:]), Addr: child}
		c.Offset = offs.next(rank)
		for i := range c.Offset {
			c.Offset[i] = le.Uint64(key[8+8*i:])
		}
		return fn(c)
	})
}

func (d *Dataset) chunksImplicit(fn func(Chunk) error) error {
	grid := d.grid(d.Space.Dims)
	maxGrid := d.grid(d.Space.MaxDims)
	down := downChunks(maxGrid)
	size := d.chunkBytes()
	var offs offsets
	total := uint64(1)
	for _, g := range grid {
		total = mulSat(total, g) // an overflow must not wrap below the check
	}
	if total > uint64(d.f.size) { // each chunk has at least one byte
		return formatErr(-1, "implicit index of %d chunks in a %d-byte file", total, d.f.size)
	}
	pos := make([]uint64, len(grid))
	for n := uint64(0); n < total; n++ {
		var idx uint64
		off := offs.next(len(grid))
		for i := range pos {
			idx += pos[i] * down[i]
			off[i] = pos[i] * d.Layout.ChunkDims[i]
		}
		if err := fn(Chunk{Offset: off, Addr: d.Layout.Address + idx*size, Size: size}); err != nil {
			return err
		}
		for i := len(pos) - 1; i >= 0; i-- {
			pos[i]++
			if pos[i] < grid[i] {
				break
			}
			pos[i] = 0
		}
	}
	return nil
}

// entryDecoder decodes a chunk address entry of a fixed or extensible
// array: the address, and for filtered datasets the size and filter mask.
func (d *Dataset) entryDecoder(entrySize int, filtered bool) (func(b []byte) (Chunk, bool), error) {
	f := d.f
	sizeLen := entrySize - f.offSize - 4
	if filtered && (sizeLen < 1 || sizeLen > 8) || !filtered && entrySize != f.offSize {
		return nil, formatErr(-1, "chunk index entry of %d bytes", entrySize)
	}
	plain := d.chunkBytes()
	return func(b []byte) (Chunk, bool) {
		ed := decoder{buf: b, offSize: f.offSize, lenSize: f.lenSize}
		c := Chunk{Addr: ed.addr(), Size: plain}
		if filtered {
			c.Size = ed.uvar(sizeLen)
			c.FilterMask = ed.u32()
		}
		return c, c.Addr != undefAddr && ed.err == nil
	}, nil
}

// faHeader is the part of a fixed array header (FAHD) the reader uses.
type faHeader struct {
	off       int64 // absolute offset, for errors
	client    int
	entrySize int
	pageBits  int
	n         uint64 // entries
	dblk      uint64 // data block address
}

// fixedArrayHeaderSize is the size of a fixed array header.
func (f *File) fixedArrayHeaderSize() int { return 4 + 1 + 1 + 1 + 1 + f.lenSize + f.offSize + 4 }

func (d *Dataset) readFixedArrayHeader() (*faHeader, error) {
	f := d.f
	b, hoff, err := f.readBlock(d.Layout.Address, f.fixedArrayHeaderSize(), "", "fixed array header")
	if err != nil {
		return nil, err
	}
	hd := f.newDecoder(b, hoff, "fixed array header")
	hd.signature("FAHD")
	hd.u8()
	h := &faHeader{off: hoff}
	h.client = int(hd.u8())
	h.entrySize = int(hd.u8())
	h.pageBits = int(hd.u8())
	h.n = hd.length()
	h.dblk = hd.addr()
	if hd.err != nil {
		return nil, hd.err
	}
	if h.pageBits > 32 || h.entrySize == 0 || h.n > uint64(f.size)/uint64(h.entrySize) {
		return nil, formatErr(hoff, "fixed array of %d %d-byte entries, page bits %d", h.n, h.entrySize, h.pageBits)
	}
	return h, nil
}

// dataBlockSpan is the size of the fixed array's data block with its
// pages (they follow it).
func (h *faHeader) dataBlockSpan(f *File) int64 {
	prefix := int64(4 + 1 + 1 + f.offSize)
	pageN := uint64(1) << h.pageBits
	if h.n <= pageN {
		return prefix + int64(h.n)*int64(h.entrySize) + 4
	}
	npages := (h.n + pageN - 1) / pageN
	return prefix + int64((npages+7)/8) + 4 + int64(npages)*(int64(pageN)*int64(h.entrySize)+4)
}

func (d *Dataset) chunksFixedArray(fn func(Chunk) error) error {
	f := d.f
	h, err := d.readFixedArrayHeader()
	if err != nil {
		return err
	}
	hoff, client, entrySize, pageBits, n, dblk := h.off, h.client, h.entrySize, h.pageBits, h.n, h.dblk
	if dblk == undefAddr || n == 0 {
		return nil
	}
	decode, err := d.entryDecoder(entrySize, client == 1)
	if err != nil {
		return err
	}
	grid := d.grid(d.Space.MaxDims)
	nchunks, err := checkGrid(grid, hoff, "fixed array")
	if err != nil {
		return err
	}
	if n > nchunks {
		return formatErr(hoff, "fixed array of %d entries for %d chunks", n, nchunks)
	}
	down := downChunks(grid)
	var offs offsets
	emit := func(idx uint64, e []byte) error {
		c, ok := decode(e)
		if !ok {
			return nil
		}
		c.Offset = d.offsetOf(&offs, idx, down, grid)
		return fn(c)
	}
	prefix := 4 + 1 + 1 + f.offSize
	pageN := uint64(1) << pageBits
	if n <= pageN {
		blk, _, err := f.readBlock(dblk, prefix+int(n)*entrySize+4, "FADB", "fixed array data block")
		if err != nil {
			return err
		}
		for i := uint64(0); i < n; i++ {
			if err := emit(i, blk[prefix+int(i)*entrySize:]); err != nil {
				return err
			}
		}
		return nil
	}
	npages := (n + pageN - 1) / pageN
	bitmapLen := int((npages + 7) / 8)
	hdr, _, err := f.readBlock(dblk, prefix+bitmapLen+4, "FADB", "fixed array data block")
	if err != nil {
		return err
	}
	bitmap := hdr[prefix : prefix+bitmapLen]
	pageAddr := dblk + uint64(len(hdr))
	fullPage := uint64(pageN)*uint64(entrySize) + 4
	// The pages follow each other: fetch them all in one go (the cache
	// splits very large spans) instead of one request per page.
	f.prefetch([]rangeio.Range{{Off: int64(pageAddr), Len: int64(npages * fullPage)}})
	for p := uint64(0); p < npages; p++ {
		cnt := pageN
		if p == npages-1 {
			cnt = n - p*pageN
		}
		addr := pageAddr + p*fullPage
		if bitmap[p/8]&(0x80>>(p%8)) == 0 {
			continue // page never written: all its chunks are unallocated
		}
		pg, _, err := f.readBlock(addr, int(cnt)*entrySize+4, "", "fixed array data block page")
		if err != nil {
			return err
		}
		for i := uint64(0); i < cnt; i++ {
			if err := emit(p*pageN+i, pg[int(i)*entrySize:]); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkSig(b []byte, sig string, off int64) error {
	if len(b) < len(sig) || string(b[:len(sig)]) != sig {
		return formatErr(off, "signature %q, want %q", b[:min(len(b), len(sig))], sig)
	}
	return nil
}

func (d *Dataset) chunksBTreeV2(fn func(Chunk) error) error {
	f := d.f
	rank := len(d.Space.Dims)
	plain := d.chunkBytes()
	var offs offsets
	return f.walkBTree2(d.Layout.Address, func(h *bt2Header, rec []byte) error {
		rd := f.newDecoder(rec, f.AbsOffset(h.addr), "chunk B-tree record")
		c := Chunk{Addr: rd.addr(), Size: plain}
		switch h.typ {
		case 10:
		case 11:
			sizeLen := h.recordSize - f.offSize - 4 - 8*rank
			if sizeLen < 1 || sizeLen > 8 {
				return formatErr(f.AbsOffset(h.addr), "filtered chunk record of %d bytes for rank %d", h.recordSize, rank)
			}
			c.Size = rd.uvar(sizeLen)
			c.FilterMask = rd.u32()
		default:
			return formatErr(f.AbsOffset(h.addr), "v2 B-tree type %d as a chunk index", h.typ)
		}
		c.Offset = offs.next(rank)
		for i := range c.Offset {
			c.Offset[i] = rd.u64() * d.Layout.ChunkDims[i]
		}
		if rd.err != nil {
			return rd.err
		}
		if c.Addr == undefAddr {
			return nil
		}
		return fn(c)
	})
}
