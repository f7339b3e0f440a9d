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

func (d *Dataset) chunksExtArray(fn func(Chunk) error) error {
	f := d.f
	hdrLen := 4 + 1 + 1 + 6 + 6*f.lenSize + f.offSize + 4
	b, hoff, err := f.readBlock(d.Layout.Address, hdrLen, "", "extensible array header")
	if err != nil {
		return err
	}
	hd := f.newDecoder(b, hoff, "extensible array header")
	hd.signature("EAHD")
	hd.u8()
	h := &eaHeader{}
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
		return hd.err
	}
	if h.maxBits == 0 || h.maxBits > 64 || h.dblkMinElems == 0 || h.dblkMinElems&(h.dblkMinElems-1) != 0 ||
		h.sblkMinPtrs == 0 || h.sblkMinPtrs&(h.sblkMinPtrs-1) != 0 || h.pageBits > 32 || h.elemSize == 0 ||
		log2(uint64(h.dblkMinElems)) > h.maxBits {
		return formatErr(hoff, "extensible array parameters (max bits %d, data block min %d, super block min %d, page bits %d)",
			h.maxBits, h.dblkMinElems, h.sblkMinPtrs, h.pageBits)
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
	emit := func(idx uint64, e []byte) error {
		c, ok := decode(e)
		if !ok {
			return nil
		}
		c.Offset = make([]uint64, rank)
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
	ib := 4 + 1 + 1 + f.offSize + h.idxElems*h.elemSize + (h.iblockDblks+h.iblockSblks)*f.offSize + 4
	blk, ioff, err := f.readBlock(h.iblockAddr, ib, "EAIB", "extensible array index block")
	if err != nil {
		return err
	}
	id := f.newDecoder(blk, ioff, "extensible array index block")
	id.skip(6 + f.offSize)
	for i := 0; i < h.idxElems; i++ {
		e := id.bytes(h.elemSize)
		if uint64(i) < h.maxIndexSet {
			if err := emit(uint64(i), e); err != nil {
				return err
			}
		}
	}
	dblkAddrs := make([]uint64, h.iblockDblks)
	for i := range dblkAddrs {
		dblkAddrs[i] = id.addr()
	}
	sblkAddrs := make([]uint64, h.iblockSblks)
	for i := range sblkAddrs {
		sblkAddrs[i] = id.addr()
	}
	if id.err != nil {
		return id.err
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
			s := h.sblks[h.iblockNsblks+i]
			rs = append(rs, rangeio.Range{Off: int64(sa), Len: int64(min(s.ndblks, 1<<16))*int64(f.offSize+8) + 64})
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
	// Late super blocks of a wide array claim up to 2^32 data blocks of
	// 2^32 elements: products that overflow would wrap the block size
	// computed below. A super block's block addresses and bitmaps are in
	// the file, so their size is bounded by it.
	if mulSat(s.ndblks, uint64(f.offSize)) > uint64(f.size) {
		return formatErr(f.AbsOffset(addr), "extensible array super block of %d data blocks", s.ndblks)
	}
	paged := s.dblkElems > h.pageElems
	npages := uint64(0)
	bitmapLen := 0
	if paged {
		npages = s.dblkElems / h.pageElems
		bl := mulSat(s.ndblks, (npages+7)/8)
		if bl > uint64(f.size) {
			return formatErr(f.AbsOffset(addr), "extensible array super block with %d-byte page bitmaps", bl)
		}
		bitmapLen = int(bl)
	}
	n := 4 + 1 + 1 + f.offSize + h.arrOffSize + bitmapLen + int(s.ndblks)*f.offSize + 4
	blk, off, err := f.readBlock(addr, n, "EASB", "extensible array super block")
	if err != nil {
		return err
	}
	sd := f.newDecoder(blk, off, "extensible array super block")
	sd.skip(6 + f.offSize + h.arrOffSize)
	bitmaps := sd.bytes(bitmapLen)
	addrStart := sd.pos
	var rs []rangeio.Range
	for j := uint64(0); j < s.ndblks; j++ {
		if da := sd.addr(); sd.err == nil && da != undefAddr && first+j*s.dblkElems < h.maxIndexSet {
			rs = append(rs, rangeio.Range{Off: int64(da), Len: h.dataBlockSize(f, s.dblkElems)})
		}
	}
	f.prefetch(rs)
	sd.pos = addrStart
	for j := uint64(0); j < s.ndblks; j++ {
		da := sd.addr()
		if sd.err != nil {
			return sd.err
		}
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
