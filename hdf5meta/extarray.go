package hdf5meta

import "github.com/greensight/vzarr/rangeio"

// Extensible array chunk index (HDF5 File Format Specification, VII.C).
// Elements 0..IndexElements-1 live in the index block; the rest live in
// data blocks grouped in super blocks whose sizes double every other super
// block. The first super blocks have their data block addresses in the
// index block itself.

type eaHeader struct {
	client        int
	elemSize      int
	maxBits       int
	idxElems      int
	dblkMinElems  int
	sblkMinPtrs   int
	pageBits      int
	maxIndexSet   uint64
	iblockAddr    uint64
	arrOffSize    int
	nsblks        int
	sblks         []eaSuperInfo
	iblockNsblks  int
	iblockDblks   int // data block addresses stored in the index block
	iblockSblks   int // super block addresses stored in the index block
	pageElems     uint64
	blockAddrSize int
}

type eaSuperInfo struct {
	ndblks     uint64
	dblkElems  uint64
	startIndex uint64 // relative to the first element after the index block
}

// readExtArrayHeader reads the dataset's extensible array header and
// derives the geometry of its super blocks; hoff is its file offset.
func (d *Dataset) readExtArrayHeader() (h *eaHeader, hoff int64, err error) {
	f := d.f
	b, hoff, err := f.readBlock(d.Layout.Address, f.extArrayHeaderSize(), "", "extensible array header")
	if err != nil {
		return nil, 0, err
	}
	hd := f.newDecoder(b, hoff, "extensible array header")
	hd.signature("EAHD")
	hd.u8()
	h = &eaHeader{}
	h.client = int(hd.u8())
	h.elemSize = int(hd.u8())
	h.maxBits = int(hd.u8())
	h.idxElems = int(hd.u8())
	h.dblkMinElems = int(hd.u8())
	h.sblkMinPtrs = int(hd.u8())
	h.pageBits = int(hd.u8())
	for i := 0; i < 4; i++ {
		hd.length() // super/data block counts and sizes
	}
	h.maxIndexSet = hd.length()
	hd.length() // elements realized
	h.iblockAddr = hd.addr()
	if hd.err != nil {
		return nil, 0, hd.err
	}
	if h.maxBits == 0 || h.maxBits > 64 || h.dblkMinElems == 0 || h.dblkMinElems&(h.dblkMinElems-1) != 0 ||
		h.sblkMinPtrs == 0 || h.sblkMinPtrs&(h.sblkMinPtrs-1) != 0 || h.pageBits > 32 || h.elemSize == 0 ||
		log2(uint64(h.dblkMinElems)) > h.maxBits {
		return nil, 0, formatErr(hoff, "extensible array parameters (max bits %d, data block min %d, super block min %d, page bits %d)",
			h.maxBits, h.dblkMinElems, h.sblkMinPtrs, h.pageBits)
	}
	h.arrOffSize = (h.maxBits + 7) / 8
	h.nsblks = 1 + h.maxBits - log2(uint64(h.dblkMinElems))
	var start uint64
	for u := 0; u < h.nsblks; u++ {
		s := eaSuperInfo{ndblks: 1 << (u / 2), dblkElems: (1 << ((u + 1) / 2)) * uint64(h.dblkMinElems), startIndex: start}
		start += s.ndblks * s.dblkElems
		h.sblks = append(h.sblks, s)
	}
	h.iblockNsblks = 2 * log2(uint64(h.sblkMinPtrs))
	h.iblockDblks = 2 * (h.sblkMinPtrs - 1)
	h.iblockSblks = max(h.nsblks-h.iblockNsblks, 0)
	h.pageElems = 1 << h.pageBits
	return h, hoff, nil
}

// extArrayHeaderSize is the size of an extensible array header.
func (f *File) extArrayHeaderSize() int { return 4 + 1 + 1 + 6 + 6*f.lenSize + f.offSize + 4 }

// indexBlockSize is the size of the index block.
func (h *eaHeader) indexBlockSize(f *File) int {
	return 4 + 1 + 1 + f.offSize + h.idxElems*h.elemSize + (h.iblockDblks+h.iblockSblks)*f.offSize + 4
}

// superBlockSize is the size of a super block of s, and the length of its
// page bitmaps.
func (h *eaHeader) superBlockSize(f *File, addr uint64, s eaSuperInfo) (n, bitmapLen int, err error) {
	// Late super blocks of a wide array claim up to 2^32 data blocks of
	// 2^32 elements: products that overflow would wrap the block size
	// computed below. A super block's block addresses and bitmaps are in
	// the file, so their size is bounded by it.
	if mulSat(s.ndblks, uint64(f.offSize)) > uint64(f.size) {
		return 0, 0, formatErr(f.AbsOffset(addr), "extensible array super block of %d data blocks", s.ndblks)
	}
	if s.dblkElems > h.pageElems {
		npages := s.dblkElems / h.pageElems
		bl := mulSat(s.ndblks, (npages+7)/8)
		if bl > uint64(f.size) {
			return 0, 0, formatErr(f.AbsOffset(addr), "extensible array super block with %d-byte page bitmaps", bl)
		}
		bitmapLen = int(bl)
	}
	return 4 + 1 + 1 + f.offSize + h.arrOffSize + bitmapLen + int(s.ndblks)*f.offSize + 4, bitmapLen, nil
}

// readIndexBlock reads the index block: its elements' bytes, and the data
// block and super block addresses it holds.
func (d *Dataset) readEAIndexBlock(h *eaHeader) (elems [][]byte, dblkAddrs, sblkAddrs []uint64, err error) {
	f := d.f
	blk, ioff, err := f.readBlock(h.iblockAddr, h.indexBlockSize(f), "EAIB", "extensible array index block")
	if err != nil {
		return nil, nil, nil, err
	}
	id := f.newDecoder(blk, ioff, "extensible array index block")
	id.skip(6 + f.offSize)
	elems = make([][]byte, h.idxElems)
	for i := range elems {
		elems[i] = id.bytes(h.elemSize)
	}
	dblkAddrs = make([]uint64, h.iblockDblks)
	for i := range dblkAddrs {
		dblkAddrs[i] = id.addr()
	}
	sblkAddrs = make([]uint64, h.iblockSblks)
	for i := range sblkAddrs {
		sblkAddrs[i] = id.addr()
	}
	return elems, dblkAddrs, sblkAddrs, id.err
}

// readEASuperBlock reads the super block at addr: its page bitmaps and
// data block addresses.
func (d *Dataset) readEASuperBlock(h *eaHeader, addr uint64, s eaSuperInfo) (bitmaps []byte, dblkAddrs []uint64, err error) {
	f := d.f
	n, bitmapLen, err := h.superBlockSize(f, addr, s)
	if err != nil {
		return nil, nil, err
	}
	blk, off, err := f.readBlock(addr, n, "EASB", "extensible array super block")
	if err != nil {
		return nil, nil, err
	}
	sd := f.newDecoder(blk, off, "extensible array super block")
	sd.skip(6 + f.offSize + h.arrOffSize)
	bitmaps = sd.bytes(bitmapLen)
	dblkAddrs = make([]uint64, s.ndblks)
	for j := range dblkAddrs {
		dblkAddrs[j] = sd.addr()
	}
	return bitmaps, dblkAddrs, sd.err
}

// extArrayIndex is the header of the dataset's extensible array, for
// PrefetchChunkIndexes: then the index block, then the data blocks and
// super blocks it addresses, then theirs.
func (d *Dataset) extArrayIndex() (indexNode, bool) {
	f := d.f
	return indexNode{addr: d.Layout.Address, size: int64(f.extArrayHeaderSize()), next: func() []indexNode {
		h, _, err := d.readExtArrayHeader()
		if err != nil || h.iblockAddr == undefAddr || h.maxIndexSet == 0 || h.maxIndexSet > uint64(f.size) {
			return nil
		}
		return []indexNode{{addr: h.iblockAddr, size: int64(h.indexBlockSize(f)), next: func() []indexNode {
			_, dblkAddrs, sblkAddrs, err := d.readEAIndexBlock(h)
			if err != nil {
				return nil
			}
			var out []indexNode
			k := 0
			for u := 0; u < h.iblockNsblks && u < h.nsblks; u++ {
				for j := uint64(0); j < h.sblks[u].ndblks && k < len(dblkAddrs); j++ {
					out = append(out, indexNode{addr: dblkAddrs[k], size: h.dataBlockSize(f, h.sblks[u].dblkElems)})
					k++
				}
			}
			base := uint64(h.idxElems)
			for i, sa := range sblkAddrs {
				s := h.sblks[h.iblockNsblks+i]
				if sa == undefAddr || base+s.startIndex >= h.maxIndexSet {
					continue
				}
				n, _, err := h.superBlockSize(f, sa, s)
				if err != nil {
					continue
				}
				out = append(out, indexNode{addr: sa, size: int64(n), next: func() []indexNode {
					_, das, err := d.readEASuperBlock(h, sa, s)
					if err != nil {
						return nil
					}
					var out []indexNode
					for j, da := range das {
						if base+s.startIndex+uint64(j)*s.dblkElems < h.maxIndexSet {
							out = append(out, indexNode{addr: da, size: h.dataBlockSize(f, s.dblkElems)})
						}
					}
					return out
				}})
			}
			return out
		}}}
	}}, true
}

func (d *Dataset) chunksExtArray(fn func(Chunk) error) error {
	f := d.f
	h, hoff, err := d.readExtArrayHeader()
	if err != nil {
		return err
	}
	if h.iblockAddr == undefAddr || h.maxIndexSet == 0 {
		return nil
	}
	if h.maxIndexSet > uint64(f.size) { // every element takes bytes in the file
		return formatErr(hoff, "extensible array with %d elements in a %d-byte file", h.maxIndexSet, f.size)
	}
	decode, err := d.entryDecoder(h.elemSize, h.client == 1)
	if err != nil {
		return err
	}

	// Chunk coordinates: the index linearises "swizzled" scaled coordinates
	// in which the unlimited dimension comes first.
	rank := len(d.Space.Dims)
	unlim := -1
	for i, m := range d.Space.MaxDims {
		if m == Unlimited {
			unlim = i
			break
		}
	}
	if unlim < 0 {
		return formatErr(hoff, "extensible array index on a dataset without an unlimited dimension")
	}
	maxGrid := d.grid(d.Space.MaxDims)
	perm := make([]int, 0, rank) // swizzled position -> dimension
	perm = append(perm, unlim)
	for i := 0; i < rank; i++ {
		if i != unlim {
			perm = append(perm, i)
		}
	}
	swGrid := make([]uint64, rank)
	for k, dim := range perm {
		swGrid[k] = maxGrid[dim]
	}
	if _, err := checkGrid(swGrid, hoff, "extensible array"); err != nil {
		return err
	}
	down := downChunks(swGrid)
	var offs offsets
	emit := func(idx uint64, e []byte) error {
		c, ok := decode(e)
		if !ok {
			return nil
		}
		c.Offset = offs.next(rank)
		for k, dim := range perm {
			s := idx / down[k]
			if k > 0 {
				s %= swGrid[k]
			}
			c.Offset[dim] = s * d.Layout.ChunkDims[dim]
		}
		return fn(c)
	}

	// Index block.
	elems, dblkAddrs, sblkAddrs, err := d.readEAIndexBlock(h)
	if err != nil {
		return err
	}
	for i, e := range elems {
		if uint64(i) < h.maxIndexSet {
			if err := emit(uint64(i), e); err != nil {
				return err
			}
		}
	}
	base := uint64(h.idxElems)
	// Fetch the next level in few requests: the data blocks the index block
	// addresses, then the super blocks (each fetches its data blocks).
	var rs []rangeio.Range
	k := 0
	for u := 0; u < h.iblockNsblks && u < h.nsblks; u++ {
		for j := uint64(0); j < h.sblks[u].ndblks; j++ {
			if k < len(dblkAddrs) && dblkAddrs[k] != undefAddr {
				rs = append(rs, rangeio.Range{Off: int64(dblkAddrs[k]), Len: h.dataBlockSize(f, h.sblks[u].dblkElems)})
			}
			k++
		}
	}
	for i, sa := range sblkAddrs {
		if sa != undefAddr {
			if n, _, err := h.superBlockSize(f, sa, h.sblks[h.iblockNsblks+i]); err == nil {
				rs = append(rs, rangeio.Range{Off: int64(sa), Len: int64(n)})
			}
		}
	}
	f.prefetch(rs)
	// Data blocks addressed from the index block.
	k = 0
	for u := 0; u < h.iblockNsblks && u < h.nsblks; u++ {
		s := h.sblks[u]
		for j := uint64(0); j < s.ndblks; j++ {
			first := base + s.startIndex + j*s.dblkElems
			if k < len(dblkAddrs) && first < h.maxIndexSet {
				if err := d.eaDataBlock(h, dblkAddrs[k], s.dblkElems, first, nil, emit); err != nil {
					return err
				}
			}
			k++
		}
	}
	// Super blocks.
	for i, sa := range sblkAddrs {
		u := h.iblockNsblks + i
		s := h.sblks[u]
		if sa == undefAddr || base+s.startIndex >= h.maxIndexSet {
			continue
		}
		if err := d.eaSuperBlock(h, sa, s, base+s.startIndex, emit); err != nil {
			return err
		}
	}
	return nil
}

func (d *Dataset) eaSuperBlock(h *eaHeader, addr uint64, s eaSuperInfo, first uint64, emit func(uint64, []byte) error) error {
	f := d.f
	paged := s.dblkElems > h.pageElems
	npages := uint64(0)
	if paged {
		npages = s.dblkElems / h.pageElems
	}
	bitmaps, dblkAddrs, err := d.readEASuperBlock(h, addr, s)
	if err != nil {
		return err
	}
	var rs []rangeio.Range
	for j, da := range dblkAddrs {
		if da != undefAddr && first+uint64(j)*s.dblkElems < h.maxIndexSet {
			rs = append(rs, rangeio.Range{Off: int64(da), Len: h.dataBlockSize(f, s.dblkElems)})
		}
	}
	f.prefetch(rs)
	for j, da := range dblkAddrs {
		j := uint64(j)
		start := first + j*s.dblkElems
		if da == undefAddr || start >= h.maxIndexSet {
			continue
		}
		// The page bitmaps of a super block's data blocks form one bit
		// string, most significant bit first: block j's page p is bit
		// j*npages+p (libhdf5 sizes the storage per block, but packs bits).
		var bm *pageBits
		if paged {
			bm = &pageBits{bits: bitmaps, first: j * npages}
		}
		if err := d.eaDataBlock(h, da, s.dblkElems, start, bm, emit); err != nil {
			return err
		}
	}
	return nil
}

// eaDataBlock emits the elements of one data block; bitmap is its page
// initialisation bitmap when the block is paged.
func (d *Dataset) eaDataBlock(h *eaHeader, addr uint64, nelem, first uint64, bitmap *pageBits, emit func(uint64, []byte) error) error {
	f := d.f
	if addr == undefAddr {
		return nil
	}
	prefix := 4 + 1 + 1 + f.offSize + h.arrOffSize
	count := min(nelem, h.maxIndexSet-first) // elements worth reading
	if nelem <= h.pageElems {
		blk, _, err := f.readBlock(addr, prefix+int(nelem)*h.elemSize+4, "EADB", "extensible array data block")
		if err != nil {
			return err
		}
		for i := uint64(0); i < count; i++ {
			if err := emit(first+i, blk[prefix+int(i)*h.elemSize:]); err != nil {
				return err
			}
		}
		return nil
	}
	if _, _, err := f.readBlock(addr, prefix+4, "EADB", "extensible array data block"); err != nil {
		return err
	}
	pageSize := h.pageElems*uint64(h.elemSize) + 4
	npages := nelem / h.pageElems
	for p := uint64(0); p < npages; p++ {
		if p*h.pageElems >= count {
			break
		}
		if bitmap != nil && !bitmap.set(p) {
			continue
		}
		pa := addr + uint64(prefix+4) + p*pageSize
		pg, _, err := f.readBlock(pa, int(pageSize), "", "extensible array data block page")
		if err != nil {
			return err
		}
		for i := uint64(0); i < h.pageElems && p*h.pageElems+i < count; i++ {
			if err := emit(first+p*h.pageElems+i, pg[int(i)*h.elemSize:]); err != nil {
				return err
			}
		}
	}
	return nil
}

// pageBits is a data block's view of its super block's page bitmap.
type pageBits struct {
	bits  []byte
	first uint64 // bit index of the block's page 0
}

// set reports whether page p was initialised; bits past the bitmap read
// as unset.
func (b *pageBits) set(p uint64) bool {
	i := b.first + p
	if i/8 >= uint64(len(b.bits)) {
		return false
	}
	return b.bits[i/8]&(0x80>>(i%8)) != 0
}

// dataBlockSize is the size in the file of a data block of nelem elements
// (a prefetch hint: an estimate is harmless).
func (h *eaHeader) dataBlockSize(f *File, nelem uint64) int64 {
	prefix := int64(4 + 1 + 1 + f.offSize + h.arrOffSize + 4)
	n := int64(min(nelem, uint64(f.size)))
	if nelem <= h.pageElems {
		return prefix + n*int64(h.elemSize)
	}
	npages := n / int64(h.pageElems)
	return prefix + npages*(int64(h.pageElems)*int64(h.elemSize)+4)
}
