package hdf5meta

// globalHeap is one parsed global heap collection (GCOL): the storage of
// variable-length data such as vlen strings.
type globalHeap struct {
	objects map[uint16][]byte
}

const maxGlobalHeapSize = 1 << 30

func (f *File) globalHeapObject(addr uint64, index uint32) ([]byte, error) {
	f.mu.Lock()
	if f.gheaps == nil {
		f.gheaps = map[uint64]*globalHeap{}
	}
	gh := f.gheaps[addr]
	f.mu.Unlock()
	if gh == nil {
		var err error
		if gh, err = f.parseGlobalHeap(addr); err != nil {
			return nil, err
		}
		f.mu.Lock()
		f.gheaps[addr] = gh
		f.mu.Unlock()
	}
	obj, ok := gh.objects[uint16(index)]
	if !ok || index > 0xffff {
		return nil, formatErr(f.AbsOffset(addr), "global heap object %d not found", index)
	}
	return obj, nil
}

func (f *File) parseGlobalHeap(addr uint64) (*globalHeap, error) {
	hdr, err := f.read(addr, 8+f.lenSize, "global heap collection")
	if err != nil {
		return nil, err
	}
	off := f.AbsOffset(addr)
	d := f.newDecoder(hdr, off, "global heap collection")
	d.signature("GCOL")
	if v := d.u8(); v != 1 && d.err == nil {
		return nil, formatErr(off, "global heap version %d", v)
	}
	d.skip(3)
	size := d.length()
	if d.err != nil {
		return nil, d.err
	}
	if size < uint64(len(hdr)) || size > maxGlobalHeapSize {
		return nil, formatErr(off, "global heap collection of %d bytes", size)
	}
	b, err := f.readUpTo(addr, int(size), "global heap collection")
	if err != nil {
		return nil, err
	}
	// Collections are cached: overlapping ones would each keep a copy.
	if err := f.charge(uint64(len(b)), off, "global heap collection"); err != nil {
		return nil, err
	}
	gh := &globalHeap{objects: map[uint16][]byte{}}
	d = f.newDecoder(b, off, "global heap object")
	// libhdf5 pads the collection header and each object header to 8
	// bytes (it matters when lengths are 4 bytes).
	d.skip(align8(len(hdr)))
	objHdr := align8(8 + f.lenSize)
	for d.remaining() >= objHdr {
		idx := d.u16()
		d.skip(6) // reference count, reserved
		n := d.length()
		d.skip(objHdr - 8 - f.lenSize)
		if idx == 0 { // free space: the rest of the collection
			break
		}
		if n > uint64(d.remaining()) {
			return nil, truncatedErr(d.offset(), "global heap object %d of %d bytes", idx, n)
		}
		start := d.pos
		gh.objects[idx] = d.bytes(int(n))
		d.align(start, 8)
		if d.err != nil {
			d.err = nil
			break
		}
	}
	return gh, nil
}

func align8(n int) int { return (n + 7) &^ 7 }
