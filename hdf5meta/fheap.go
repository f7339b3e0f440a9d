package hdf5meta

// fractalHeap is a parsed fractal heap header (FRHP): the storage of dense
// links, dense attributes and shared messages.
type fractalHeap struct {
	addr           uint64
	idLen          int
	filterLen      int
	maxManaged     uint32
	hugeBTree      uint64
	tableWidth     int
	startBlockSize uint64
	maxDirectSize  uint64
	maxHeapBits    int
	startRows      int
	rootAddr       uint64
	curRows        int
	rootFiltered   uint64 // size of a filtered root direct block
	checksumDirect bool
	offBytes       int // bytes of heap offsets ("block offset" fields, IDs)
	lenBytes       int // bytes of lengths in managed object IDs
	maxDirectRows  int
}

func (f *File) fractalHeap(addr uint64) (*fractalHeap, error) {
	const hdrMax = 4 + 1 + 2 + 2 + 1 + 4 + 8*12 + 2*4 + 8*3 + 4 + 1<<16
	b, err := f.readUpTo(addr, min(hdrMax, 512), "fractal heap header")
	if err != nil {
		return nil, err
	}
	off := f.AbsOffset(addr)
	d := f.newDecoder(b, off, "fractal heap header")
	d.signature("FRHP")
	if v := d.u8(); v != 0 && d.err == nil {
		return nil, formatErr(off, "fractal heap version %d", v)
	}
	h := &fractalHeap{addr: addr}
	h.idLen = int(d.u16())
	h.filterLen = int(d.u16())
	flags := d.u8()
	h.checksumDirect = flags&2 != 0
	h.maxManaged = d.u32()
	d.length() // next huge object id
	h.hugeBTree = d.addr()
	d.length() // free space in managed blocks
	d.addr()   // free-space manager
	d.length() // managed space
	d.length() // allocated managed space
	d.length() // direct block allocation iterator offset
	d.length() // number of managed objects
	d.length() // size of huge objects
	d.length() // number of huge objects
	d.length() // size of tiny objects
	d.length() // number of tiny objects
	h.tableWidth = int(d.u16())
	h.startBlockSize = d.length()
	h.maxDirectSize = d.length()
	h.maxHeapBits = int(d.u16())
	h.startRows = int(d.u16())
	h.rootAddr = d.addr()
	h.curRows = int(d.u16())
	if h.filterLen > 0 {
		h.rootFiltered = d.length()
		d.u32() // filter mask
		d.skip(h.filterLen)
	}
	if d.err != nil {
		return nil, d.err
	}
	if f.opts.verifyChksum {
		if d.remaining() < 4 {
			return nil, truncatedErr(off, "fractal heap header checksum")
		}
		if err := verifyChecksum(b[:d.pos+4], off, "fractal heap header"); err != nil {
			return nil, err
		}
	}
	if h.tableWidth == 0 || h.tableWidth > 1<<16 || h.startBlockSize == 0 || h.maxDirectSize < h.startBlockSize ||
		h.maxHeapBits == 0 || h.maxHeapBits > 64 || h.maxDirectSize > 1<<40 ||
		h.startBlockSize&(h.startBlockSize-1) != 0 || h.maxDirectSize&(h.maxDirectSize-1) != 0 {
		return nil, formatErr(off, "fractal heap geometry (width %d, start block %d, max direct block %d, heap bits %d)",
			h.tableWidth, h.startBlockSize, h.maxDirectSize, h.maxHeapBits)
	}
	h.offBytes = (h.maxHeapBits + 7) / 8
	h.lenBytes = min((log2(h.maxDirectSize)+7)/8, limitEncSize(uint64(h.maxManaged)))
	h.maxDirectRows = log2(h.maxDirectSize) - log2(h.startBlockSize) + 2
	return h, nil
}

func log2(v uint64) int {
	n := -1
	for v > 0 {
		v >>= 1
		n++
	}
	return max(n, 0)
}

// rowBlockSize is the size of direct blocks in row r of the doubling table.
func (h *fractalHeap) rowBlockSize(r int) uint64 {
	if r <= 1 {
		return h.startBlockSize
	}
	return h.startBlockSize << (r - 1)
}

// get returns the object a heap ID names.
func (f *File) heapObject(h *fractalHeap, id []byte) ([]byte, error) {
	if len(id) < 1 {
		return nil, formatErr(-1, "empty fractal heap ID")
	}
	switch (id[0] >> 4) & 3 {
	case 0: // managed
		d := f.newDecoder(id[1:], -1, "fractal heap ID")
		offset := d.uvar(h.offBytes)
		length := d.uvar(h.lenBytes)
		if d.err != nil {
			return nil, d.err
		}
		return f.heapManaged(h, offset, length)
	case 2: // tiny
		n := int(id[0]&0x0f) + 1
		if 1+n > len(id) {
			// Extended tiny objects use two length bytes.
			if len(id) < 2 {
				return nil, formatErr(-1, "tiny heap object ID")
			}
			n = int(id[0]&0x0f)<<8 | int(id[1]) + 1
			if 2+n > len(id) {
				return nil, formatErr(-1, "tiny heap object of %d bytes in a %d-byte ID", n, len(id))
			}
			return id[2 : 2+n], nil
		}
		return id[1 : 1+n], nil
	case 1: // huge
		return f.heapHuge(h, id)
	}
	return nil, formatErr(-1, "fractal heap ID type %d", (id[0]>>4)&3)
}

// heapManaged finds a managed object by walking the doubling table from the
// root block down to the direct block holding offset.
func (f *File) heapManaged(h *fractalHeap, offset, length uint64) ([]byte, error) {
	if h.rootAddr == undefAddr {
		return nil, formatErr(f.AbsOffset(h.addr), "fractal heap object in an empty heap")
	}
	if h.filterLen > 0 {
		return nil, unsupportedErr(f.AbsOffset(h.addr), "filtered fractal heap blocks")
	}
	if length > h.maxDirectSize {
		return nil, formatErr(f.AbsOffset(h.addr), "managed heap object of %d bytes", length)
	}
	blockAddr, blockOff, blockSize := h.rootAddr, uint64(0), h.startBlockSize
	rows := h.curRows
	for depth := 0; rows > 0; depth++ {
		if depth > 64 {
			return nil, formatErr(f.AbsOffset(blockAddr), "fractal heap indirect blocks nested too deep")
		}
		// An indirect block with `rows` rows: find the row and column of
		// offset relative to the block's start.
		rel := offset - blockOff
		if offset < blockOff {
			return nil, formatErr(f.AbsOffset(blockAddr), "heap offset %d before its block at %d", offset, blockOff)
		}
		row, col, start := -1, 0, uint64(0)
		for r := 0; r < rows; r++ {
			sz := h.rowBlockSize(r)
			span := mulSat(sz, uint64(h.tableWidth))
			// Rows past the heap's address space: block sizes shifted
			// out to 0 would divide by zero below.
			if sz == 0 || span == ^uint64(0) || start+span < start {
				return nil, formatErr(f.AbsOffset(blockAddr), "fractal heap indirect block of %d rows", rows)
			}
			if rel < start+span {
				row = r
				col = int((rel - start) / sz)
				start += uint64(col) * sz
				break
			}
			start += span
		}
		if row < 0 {
			return nil, formatErr(f.AbsOffset(blockAddr), "heap offset %d outside its indirect block", offset)
		}
		entry := row*h.tableWidth + col
		ib, err := f.heapIndirectEntry(h, blockAddr, rows, entry)
		if err != nil {
			return nil, err
		}
		if ib == undefAddr {
			return nil, formatErr(f.AbsOffset(blockAddr), "heap offset %d in an unallocated block", offset)
		}
		blockAddr, blockOff, blockSize = ib, blockOff+start, h.rowBlockSize(row)
		if row < h.maxDirectRows {
			rows = 0
		} else {
			// A child indirect block of this row's size has rows enough to
			// span it: log2(size) - log2(start block) + 1 .. computed as libhdf5.
			rows = log2(blockSize) - log2(h.startBlockSize*uint64(h.tableWidth)) + 1
			if rows <= 0 {
				return nil, formatErr(f.AbsOffset(blockAddr), "fractal heap indirect block geometry")
			}
		}
	}
	// Direct block: signature, version, heap header address, block offset,
	// optional checksum, then the objects.
	if blockOff > offset || offset-blockOff+length > blockSize {
		return nil, formatErr(f.AbsOffset(blockAddr), "heap object %d+%d outside its direct block", offset, length)
	}
	sig, err := f.read(blockAddr, 4, "fractal heap direct block")
	if err != nil {
		return nil, err
	}
	if string(sig) != "FHDB" {
		return nil, formatErr(f.AbsOffset(blockAddr), "fractal heap direct block signature %q", sig)
	}
	pos := offset - blockOff
	b, err := f.read(blockAddr+pos, int(length), "fractal heap object")
	if err != nil {
		return nil, err
	}
	return b, nil
}

// heapIndirectEntry reads child entry i of the indirect block at addr.
func (f *File) heapIndirectEntry(h *fractalHeap, addr uint64, rows, i int) (uint64, error) {
	prefix := 4 + 1 + f.offSize + h.offBytes
	entrySize := f.offSize
	if h.filterLen > 0 {
		entrySize = f.offSize + f.lenSize + 4
	}
	directEntries := min(rows, h.maxDirectRows) * h.tableWidth
	pos := prefix
	if i < directEntries {
		pos += i * entrySize
	} else {
		pos += directEntries*entrySize + (i-directEntries)*f.offSize
	}
	hdr, err := f.read(addr, prefix, "fractal heap indirect block")
	if err != nil {
		return 0, err
	}
	if string(hdr[:4]) != "FHIB" {
		return 0, formatErr(f.AbsOffset(addr), "fractal heap indirect block signature %q", hdr[:4])
	}
	b, err := f.read(addr+uint64(pos), f.offSize, "fractal heap indirect block entry")
	if err != nil {
		return 0, err
	}
	d := f.newDecoder(b, f.AbsOffset(addr)+int64(pos), "fractal heap indirect block entry")
	return d.addr(), d.err
}

// heapHuge reads a huge object, stored outside the heap's blocks and
// indexed by a v2 B-tree of type 1 (indirect) or 3 (directly addressed).
func (f *File) heapHuge(h *fractalHeap, id []byte) ([]byte, error) {
	if h.filterLen > 0 {
		return nil, unsupportedErr(f.AbsOffset(h.addr), "filtered huge fractal heap objects")
	}
	d := f.newDecoder(id[1:], -1, "huge heap object ID")
	if len(id) >= 1+f.offSize+f.lenSize {
		// Directly addressed: the ID holds address and length.
		a, n := d.addr(), d.length()
		if d.err != nil {
			return nil, d.err
		}
		if n > uint64(f.size) {
			return nil, truncatedErr(-1, "huge heap object of %d bytes", n)
		}
		return f.read(a, int(n), "huge heap object")
	}
	key := d.uvar(min(len(id)-1, 8))
	if h.hugeBTree == undefAddr {
		return nil, formatErr(f.AbsOffset(h.addr), "huge heap object without a B-tree")
	}
	var addr, n uint64
	found := false
	err := f.walkBTree2(h.hugeBTree, func(bh *bt2Header, rec []byte) error {
		if bh.typ != 1 {
			return nil
		}
		rd := f.newDecoder(rec, -1, "huge object record")
		a, l, k := rd.addr(), rd.length(), rd.length()
		if rd.err == nil && k == key {
			addr, n, found = a, l, true
			return errStop // the rest of the tree would only cost time
		}
		return rd.err
	})
	if err != nil && err != errStop {
		return nil, err
	}
	if !found {
		return nil, formatErr(f.AbsOffset(h.addr), "huge heap object %d not in its B-tree", key)
	}
	if n > uint64(f.size) {
		return nil, truncatedErr(-1, "huge heap object of %d bytes", n)
	}
	return f.read(addr, int(n), "huge heap object")
}
