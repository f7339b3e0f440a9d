package hdf5meta

import "github.com/greensight/vzarr/rangeio"

// Chunk indexes are trees: a header, then nodes whose addresses are only
// known once their parent is read. Over blob storage each level costs a
// round trip, so PrefetchChunkIndexes reads the indexes of many datasets
// level by level, every node of a level in flight at once: the rounds are
// the depth of the deepest index, not the number of nodes or datasets.

// indexNode is a node of a chunk index still to be fetched: its HDF5
// address and size, and, for nodes that point to others, how to find them
// once the node is in the cache.
type indexNode struct {
	addr uint64
	size int64
	next func() []indexNode // nil: points to no other node
}

// maxPrefetchIndexBytes bounds the index bytes PrefetchChunkIndexes fetches
// ahead, well within the cache of blobio.MetadataReaderOptions (64 MiB):
// beyond it the walks read the rest as they go.
const maxPrefetchIndexBytes = 32 << 20

// PrefetchChunkIndexes fetches the chunk indexes of the given datasets
// (every node of them, up to 32 MiB), one level of all indexes at a time
// with all its requests in flight together, so that listing their chunks
// afterwards reads from the cache. It does nothing unless the File reads
// through a rangeio.Prefetcher. Errors are left for the listings to
// report.
func (f *File) PrefetchChunkIndexes(ds []*Dataset) {
	if f.pf == nil {
		return
	}
	var level []indexNode
	for _, d := range ds {
		if n, ok := d.indexRoot(); ok {
			level = append(level, n)
		}
	}
	seen := map[uint64]bool{}
	budget := int64(maxPrefetchIndexBytes)
	for depth := 0; len(level) > 0 && depth <= maxBTree1Level+2 && budget > 0; depth++ {
		rs := make([]rangeio.Range, 0, len(level))
		var fetched []indexNode
		for _, n := range level {
			if seen[n.addr] || n.addr == undefAddr || n.size <= 0 || budget <= 0 {
				continue
			}
			seen[n.addr] = true
			budget -= n.size
			rs = append(rs, rangeio.Range{Off: int64(n.addr), Len: n.size})
			fetched = append(fetched, n)
		}
		f.prefetch(rs)
		var next []indexNode
		for _, n := range fetched {
			if n.next != nil {
				next = append(next, n.next()...)
			}
		}
		level = next
	}
}

// indexRoot returns the first node of the dataset's chunk index (none for
// datasets without one).
func (d *Dataset) indexRoot() (indexNode, bool) {
	f := d.f
	if d.Layout.Class != LayoutChunked || d.Layout.Address == undefAddr {
		return indexNode{}, false
	}
	addr := d.Layout.Address
	switch d.Layout.ChunkIndex {
	case IndexBTreeV1:
		keySize := 4 + 4 + 8*(len(d.Space.Dims)+1)
		return f.btree1Index(addr, 1, keySize, -1), true
	case IndexBTreeV2:
		return indexNode{addr: addr, size: int64(f.bt2HeaderSize()), next: func() []indexNode {
			h, err := f.readBTree2Header(addr)
			if err != nil || h.rootAddr == undefAddr || h.totalRecs == 0 {
				return nil
			}
			return []indexNode{f.btree2Index(h, h.rootAddr, h.depth, h.rootNRecs)}
		}}, true
	case IndexFixedArray:
		return indexNode{addr: addr, size: int64(f.fixedArrayHeaderSize()), next: func() []indexNode {
			h, err := d.readFixedArrayHeader()
			if err != nil || h.dblk == undefAddr || h.n == 0 {
				return nil
			}
			return []indexNode{{addr: h.dblk, size: h.dataBlockSpan(f)}}
		}}, true
	case IndexExtArray:
		return d.extArrayIndex()
	}
	return indexNode{}, false
}

// btree1Index is the node at addr of a version 1 B-tree (at level, or
// unknown when level < 0).
func (f *File) btree1Index(addr uint64, typ, keySize, level int) indexNode {
	n := indexNode{addr: addr, size: int64(f.btree1NodeSize(typ, keySize))}
	if level == 0 {
		return n // a leaf: its children are chunks
	}
	n.next = func() []indexNode {
		nd, err := f.readBTree1Node(addr, typ, keySize, level)
		if err != nil || nd.level == 0 {
			return nil
		}
		var out []indexNode
		for _, c := range nd.children(f, keySize) {
			out = append(out, f.btree1Index(c, typ, keySize, nd.level-1))
		}
		return out
	}
	return n
}

// btree2Index is the node at addr of a version 2 B-tree.
func (f *File) btree2Index(h *bt2Header, addr uint64, depth, nrecs int) indexNode {
	n := indexNode{addr: addr, size: int64(h.nodeSize)}
	if depth == 0 {
		return n
	}
	n.next = func() []indexNode {
		_, _, children, err := f.readBTree2Node(h, addr, depth, nrecs)
		if err != nil {
			return nil
		}
		out := make([]indexNode, 0, len(children))
		for _, c := range children {
			out = append(out, f.btree2Index(h, c.addr, depth-1, c.nrecs))
		}
		return out
	}
	return n
}
