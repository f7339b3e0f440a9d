package hdf5meta

import "github.com/greensight/vzarr/rangeio"

// walkBTree1 visits the leaf entries of the version 1 B-tree of the given
// node type at addr (0: group nodes, 1: raw data chunks). keySize is the
// size of one key. fn gets the key before each child and the child address
// (for type 0, an SNOD; for type 1, a chunk with the key describing it).
// Every node is read once; sibling pointers are not followed.
func (f *File) walkBTree1(addr uint64, typ, keySize int, fn func(key []byte, child uint64) error) error {
	return f.walkBTree1Counted(addr, typ, keySize, &nodeBytes{f: f}, fn)
}

// walkBTree1Counted is walkBTree1 adding the bytes of the nodes it reads to
// nb. Nodes may not be read twice (a cycle) nor overlap (more node bytes
// than the file holds), so a walk reads at most the file.
func (f *File) walkBTree1Counted(addr uint64, typ, keySize int, nb *nodeBytes, fn func(key []byte, child uint64) error) error {
	visited := map[uint64]bool{}
	return f.walkBTree1Node(addr, typ, keySize, -1, visited, nb, fn)
}

const maxBTree1Level = 64

// btree1NodeSize is the size of a node of a version 1 B-tree of type typ:
// libhdf5 allocates room for 2K entries, K from the superblock (a group
// tree's internal K, or the chunk trees' K).
func (f *File) btree1NodeSize(typ, keySize int) int {
	k := f.Superblock.IndexedStorageK
	if typ == 0 {
		k = f.Superblock.GroupInternalK
	}
	if k <= 0 || k > 1<<15 {
		k = 32 // the format's default for chunk trees
	}
	return 8 + 2*f.offSize + 2*k*f.offSize + (2*k+1)*keySize
}

// btree1Node is a node of a version 1 B-tree: its level (0 for leaves)
// and its n entries, keys and child addresses (body: key, child, ...,
// key).
type btree1Node struct {
	off   int64 // absolute offset, for errors
	level int
	n     int
	body  []byte
}

// readBTree1Node reads the node at addr, checking its signature and type,
// and that it sits at wantLevel (unless wantLevel < 0).
func (f *File) readBTree1Node(addr uint64, typ, keySize, wantLevel int) (*btree1Node, error) {
	prefixLen := 8 + 2*f.offSize
	pre, err := f.read(addr, prefixLen, "v1 B-tree node")
	if err != nil {
		return nil, err
	}
	off := f.AbsOffset(addr)
	d := f.newDecoder(pre, off, "v1 B-tree node")
	d.signature("TREE")
	if t := int(d.u8()); t != typ && d.err == nil {
		return nil, formatErr(off, "v1 B-tree node type %d, want %d", t, typ)
	}
	level := int(d.u8())
	n := int(d.u16())
	if d.err != nil {
		return nil, d.err
	}
	if level > maxBTree1Level || (wantLevel >= 0 && level != wantLevel) {
		return nil, formatErr(off, "v1 B-tree node at level %d, want %d", level, wantLevel)
	}
	body, err := f.read(addr+uint64(prefixLen), (n+1)*keySize+n*f.offSize, "v1 B-tree node entries")
	if err != nil {
		return nil, err
	}
	return &btree1Node{off: off, level: level, n: n, body: body}, nil
}

// size is the bytes of the node that were read.
func (nd *btree1Node) size(f *File) int { return 8 + 2*f.offSize + len(nd.body) }

// children returns the defined child addresses of the node, in order.
func (nd *btree1Node) children(f *File, keySize int) []uint64 {
	out := make([]uint64, 0, nd.n)
	for i := 0; i < nd.n; i++ {
		pos := i*(keySize+f.offSize) + keySize
		cd := f.newDecoder(nd.body[pos:], 0, "")
		if c := cd.addr(); cd.err == nil && c != undefAddr {
			out = append(out, c)
		}
	}
	return out
}

func (f *File) walkBTree1Node(addr uint64, typ, keySize, wantLevel int, visited map[uint64]bool, nb *nodeBytes, fn func([]byte, uint64) error) error {
	if visited[addr] {
		return formatErr(f.AbsOffset(addr), "v1 B-tree node visited twice (cycle)")
	}
	visited[addr] = true
	nd, err := f.readBTree1Node(addr, typ, keySize, wantLevel)
	if err != nil {
		return err
	}
	if err := nb.add(uint64(nd.size(f)), nd.off, "v1 B-tree"); err != nil {
		return err
	}
	bd := f.newDecoder(nd.body, nd.off+int64(8+2*f.offSize), "v1 B-tree node entries")
	if nd.level > 0 {
		// Fetch all children at once, each at its size: over blob storage
		// this turns one round trip per node into one per level.
		size := f.btree1NodeSize(typ, keySize)
		var rs []rangeio.Range
		for _, c := range nd.children(f, keySize) {
			rs = append(rs, rangeio.Range{Off: int64(c), Len: int64(size)})
		}
		f.prefetch(rs)
	}
	// readBTree1Node read exactly n entries (and the last key): index
	// them directly instead of through a decoder, entry by entry.
	stride := keySize + f.offSize
	for i := 0; i < nd.n; i++ {
		p := i * stride
		key := nd.body[p : p+keySize : p+keySize]
		child := bd.addrAt(p + keySize)
		if nd.level > 0 {
			if err := f.walkBTree1Node(child, typ, keySize, nd.level-1, visited, nb, fn); err != nil {
				return err
			}
			continue
		}
		if err := fn(key, child); err != nil {
			return err
		}
	}
	return nil
}
