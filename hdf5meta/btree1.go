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

func (f *File) walkBTree1Node(addr uint64, typ, keySize, wantLevel int, visited map[uint64]bool, nb *nodeBytes, fn func([]byte, uint64) error) error {
	if visited[addr] {
		return formatErr(f.AbsOffset(addr), "v1 B-tree node visited twice (cycle)")
	}
	visited[addr] = true
	prefixLen := 8 + 2*f.offSize
	pre, err := f.read(addr, prefixLen, "v1 B-tree node")
	if err != nil {
		return err
	}
	off := f.AbsOffset(addr)
	d := f.newDecoder(pre, off, "v1 B-tree node")
	d.signature("TREE")
	if t := int(d.u8()); t != typ && d.err == nil {
		return formatErr(off, "v1 B-tree node type %d, want %d", t, typ)
	}
	level := int(d.u8())
	n := int(d.u16())
	if d.err != nil {
		return d.err
	}
	if level > maxBTree1Level || (wantLevel >= 0 && level != wantLevel) {
		return formatErr(off, "v1 B-tree node at level %d, want %d", level, wantLevel)
	}
	bodyLen := (n+1)*keySize + n*f.offSize
	body, err := f.read(addr+uint64(prefixLen), bodyLen, "v1 B-tree node entries")
	if err != nil {
		return err
	}
	if err := nb.add(uint64(prefixLen+bodyLen), off, "v1 B-tree"); err != nil {
		return err
	}
	bd := f.newDecoder(body, off+int64(prefixLen), "v1 B-tree node entries")
	if level > 0 {
		// Fetch all children at once: over blob storage this turns one
		// round trip per node into a few coalesced requests per level.
		var rs []rangeio.Range
		for i := 0; i < n; i++ {
			pos := i*(keySize+f.offSize) + keySize
			cd := f.newDecoder(body[pos:], 0, "")
			if c := cd.addr(); cd.err == nil && c != undefAddr {
				rs = append(rs, rangeio.Range{Off: int64(c), Len: int64(prefixLen + bodyLen)})
			}
		}
		f.prefetch(rs)
	}
	for i := 0; i < n; i++ {
		key := bd.bytes(keySize)
		child := bd.addr()
		if bd.err != nil {
			return bd.err
		}
		if level > 0 {
			if err := f.walkBTree1Node(child, typ, keySize, level-1, visited, nb, fn); err != nil {
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
