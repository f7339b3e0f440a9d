package hdf5meta

import "github.com/greensight/vzarr/rangeio"

// bt2Header is a version 2 B-tree header (BTHD).
type bt2Header struct {
	addr       uint64
	typ        int
	nodeSize   int
	recordSize int
	depth      int
	rootAddr   uint64
	rootNRecs  int
	totalRecs  uint64
	// per-depth node geometry (index 0 = leaves)
	maxRecs    []uint64
	cumMaxRecs []uint64
	nrecSize   int   // bytes of "number of records in child" fields
	cumSize    []int // bytes of "total records in child" at each depth
}

const bt2Prefix = 10 // signature, version, type, checksum

// bt2HeaderSize is the size of a v2 B-tree header.
func (f *File) bt2HeaderSize() int {
	return 4 + 1 + 1 + 4 + 2 + 2 + 1 + 1 + f.offSize + 2 + f.lenSize + 4
}

func (f *File) readBTree2Header(addr uint64) (*bt2Header, error) {
	b, err := f.read(addr, f.bt2HeaderSize(), "v2 B-tree header")
	if err != nil {
		return nil, err
	}
	off := f.AbsOffset(addr)
	d := f.newDecoder(b, off, "v2 B-tree header")
	d.signature("BTHD")
	if v := d.u8(); v != 0 && d.err == nil {
		return nil, formatErr(off, "v2 B-tree header version %d", v)
	}
	h := &bt2Header{addr: addr}
	h.typ = int(d.u8())
	h.nodeSize = int(d.u32())
	h.recordSize = int(d.u16())
	h.depth = int(d.u16())
	d.skip(2) // split, merge percent
	h.rootAddr = d.addr()
	h.rootNRecs = int(d.u16())
	h.totalRecs = d.length()
	if d.err != nil {
		return nil, d.err
	}
	if f.opts.verifyChksum {
		if err := verifyChecksum(b, off, "v2 B-tree header"); err != nil {
			return nil, err
		}
	}
	if h.recordSize == 0 || h.nodeSize <= bt2Prefix || h.nodeSize > 1<<24 || h.depth > 64 {
		return nil, formatErr(off, "v2 B-tree geometry: node %d bytes, record %d bytes, depth %d", h.nodeSize, h.recordSize, h.depth)
	}
	// Node geometry as libhdf5 computes it (H5B2__hdr_init): the size of the
	// record-count fields in internal nodes depends on how many records a
	// child at each depth can hold.
	h.maxRecs = make([]uint64, h.depth+1)
	h.cumMaxRecs = make([]uint64, h.depth+1)
	h.cumSize = make([]int, h.depth+1)
	h.maxRecs[0] = uint64((h.nodeSize - bt2Prefix) / h.recordSize)
	if h.maxRecs[0] == 0 {
		return nil, formatErr(off, "v2 B-tree node of %d bytes holds no %d-byte record", h.nodeSize, h.recordSize)
	}
	h.cumMaxRecs[0] = h.maxRecs[0]
	h.nrecSize = limitEncSize(h.maxRecs[0])
	for u := 1; u <= h.depth; u++ {
		ptrSize := f.offSize + h.nrecSize
		if u > 1 {
			ptrSize += h.cumSize[u-1]
		}
		avail := h.nodeSize - (bt2Prefix + ptrSize)
		if avail <= 0 {
			return nil, formatErr(off, "v2 B-tree internal node too small")
		}
		h.maxRecs[u] = uint64(avail / (h.recordSize + ptrSize))
		if h.maxRecs[u] == 0 {
			return nil, formatErr(off, "v2 B-tree internal node holds no record")
		}
		h.cumMaxRecs[u] = (h.maxRecs[u]+1)*h.cumMaxRecs[u-1] + h.maxRecs[u]
		if h.cumMaxRecs[u] < h.cumMaxRecs[u-1] { // overflow
			h.cumMaxRecs[u] = ^uint64(0)
		}
		h.cumSize[u] = limitEncSize(h.cumMaxRecs[u])
	}
	return h, nil
}

// limitEncSize is the number of bytes libhdf5 uses to encode counts up to n.
func limitEncSize(n uint64) int {
	l := 0
	for v := n; v > 1; v >>= 1 {
		l++
	}
	return l/8 + 1
}

// walkBTree2 calls fn with every record of the v2 B-tree at addr, in key
// order. Each node is read once; the records slice is only valid during fn.
func (f *File) walkBTree2(addr uint64, fn func(h *bt2Header, rec []byte) error) error {
	h, err := f.readBTree2Header(addr)
	if err != nil {
		return err
	}
	if h.rootAddr == undefAddr || h.totalRecs == 0 {
		return nil
	}
	visited := map[uint64]bool{}
	var seen uint64
	return f.walkBTree2Node(h, h.rootAddr, h.depth, h.rootNRecs, visited, &nodeBytes{f: f}, &seen, fn)
}

// bt2Child is a child pointer of an internal v2 B-tree node.
type bt2Child struct {
	addr  uint64
	nrecs int
}

// readBTree2Node reads the node at addr of depth with nrecs records and
// returns its bytes, where its records start and (internal nodes) its
// children.
func (f *File) readBTree2Node(h *bt2Header, addr uint64, depth, nrecs int) (b []byte, recStart int, children []bt2Child, err error) {
	off := f.AbsOffset(addr)
	if uint64(nrecs) > h.maxRecs[depth] {
		return nil, 0, nil, formatErr(off, "v2 B-tree node with %d records, at most %d fit", nrecs, h.maxRecs[depth])
	}
	b, err = f.read(addr, h.nodeSize, "v2 B-tree node")
	if err != nil {
		return nil, 0, nil, err
	}
	d := f.newDecoder(b, off, "v2 B-tree node")
	sig := "BTLF"
	if depth > 0 {
		sig = "BTIN"
	}
	d.signature(sig)
	d.skip(1)
	if t := int(d.u8()); t != h.typ && d.err == nil {
		return nil, 0, nil, formatErr(off, "v2 B-tree node of type %d in a type %d tree", t, h.typ)
	}
	recStart = d.pos
	d.skip(nrecs * h.recordSize)
	if depth > 0 {
		children = make([]bt2Child, nrecs+1)
		for i := range children {
			children[i].addr = d.addr()
			children[i].nrecs = int(d.uvar(h.nrecSize))
			if depth > 1 {
				d.uvar(h.cumSize[depth-1])
			}
		}
	}
	if d.err != nil {
		return nil, 0, nil, d.err
	}
	if f.opts.verifyChksum {
		if err := verifyChecksum(b[:d.pos+4], off, "v2 B-tree node"); err != nil {
			return nil, 0, nil, err
		}
	}
	return b, recStart, children, nil
}

func (f *File) walkBTree2Node(h *bt2Header, addr uint64, depth, nrecs int, visited map[uint64]bool, nb *nodeBytes, seen *uint64, fn func(*bt2Header, []byte) error) error {
	if visited[addr] {
		return formatErr(f.AbsOffset(addr), "v2 B-tree node visited twice (cycle)")
	}
	visited[addr] = true
	// Distinct but overlapping nodes: at most the file's bytes of nodes.
	if err := nb.add(uint64(h.nodeSize), f.AbsOffset(addr), "v2 B-tree"); err != nil {
		return err
	}
	if uint64(nrecs) > h.maxRecs[depth] {
		return formatErr(f.AbsOffset(addr), "v2 B-tree node with %d records, at most %d fit", nrecs, h.maxRecs[depth])
	}
	*seen += uint64(nrecs)
	if *seen > h.totalRecs {
		return formatErr(f.AbsOffset(addr), "v2 B-tree holds more records than its header's %d", h.totalRecs)
	}
	b, recStart, children, err := f.readBTree2Node(h, addr, depth, nrecs)
	if err != nil {
		return err
	}
	if depth > 0 {
		rs := make([]rangeio.Range, 0, len(children))
		for _, c := range children {
			rs = append(rs, rangeio.Range{Off: int64(c.addr), Len: int64(h.nodeSize)})
		}
		f.prefetch(rs)
	}
	for i := 0; i <= nrecs; i++ {
		if depth > 0 {
			if err := f.walkBTree2Node(h, children[i].addr, depth-1, children[i].nrecs, visited, nb, seen, fn); err != nil {
				return err
			}
		}
		if i < nrecs {
			rec := b[recStart+i*h.recordSize : recStart+(i+1)*h.recordSize]
			if err := fn(h, rec); err != nil {
				return err
			}
		}
	}
	return nil
}
