package hdf5meta

import (
	"cmp"
	"slices"
	"strings"
)

// LinkKind is the kind of a link from a group to an object.
type LinkKind int

// The link kinds of the link message (other values are user-defined).
const (
	LinkHard     LinkKind = 0  // to an object header address
	LinkSoft     LinkKind = 1  // to a path in the same file
	LinkExternal LinkKind = 64 // to a path in another file
)

// String returns "hard", "soft", "external" or "user-defined".
func (k LinkKind) String() string {
	switch k {
	case LinkHard:
		return "hard"
	case LinkSoft:
		return "soft"
	case LinkExternal:
		return "external"
	}
	return "user-defined"
}

// Link is a named link in a group.
type Link struct {
	Name string
	Kind LinkKind
	Addr uint64 // hard links: the object header address
	// Soft links: the target path. External links: the file name and the
	// object path, separated by a NUL byte as HDF5 stores them.
	Target string

	order    int64 // creation order, when tracked
	hasOrder bool
}

const maxLinks = 1 << 24

// links returns the links of the group whose object header is oh, in
// creation order when the file tracks it, else in name order.
func (f *File) links(oh *objectHeader) ([]Link, error) {
	var out []Link
	if st := oh.find(msgSymbolTable); st != nil {
		d := f.newDecoder(st.data, st.off, "symbol table message")
		btree, heap := d.addr(), d.addr()
		if d.err != nil {
			return nil, d.err
		}
		return f.symbolTableLinks(btree, heap)
	}
	if li := oh.find(msgLinkInfo); li != nil {
		heapAddr, idx, _, err := f.denseIndex(li, "link info message", 8)
		if err != nil {
			return nil, err
		}
		if heapAddr != undefAddr {
			return f.denseLinks(heapAddr, idx)
		}
	}
	for i := range oh.msgs {
		m := &oh.msgs[i]
		if m.typ != msgLink {
			continue
		}
		l, err := f.parseLink(m.data, m.off)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	sortLinks(out)
	return out, nil
}

// denseIndex decodes a link info or attribute info message (the two share
// one layout; the maximum creation index is maxIdxSize bytes) and returns
// the fractal heap holding the dense links or attributes and the v2 B-tree
// to walk them by: the creation-order index when there is one (byOrder),
// else the name index. heapAddr is undefAddr when they are stored compactly.
func (f *File) denseIndex(m *message, what string, maxIdxSize int) (heapAddr, idx uint64, byOrder bool, err error) {
	d := f.newDecoder(m.data, m.off, what)
	d.u8()
	flags := d.u8()
	if flags&1 != 0 {
		d.skip(maxIdxSize)
	}
	heapAddr = d.addr()
	idx = d.addr()
	if flags&2 != 0 {
		if orderIdx := d.addr(); orderIdx != undefAddr {
			idx, byOrder = orderIdx, true
		}
	}
	return heapAddr, idx, byOrder, d.err
}

// chargeLink charges a link built from the file to its budget.
func (f *File) chargeLink(l *Link, off int64) error {
	return f.charge(uint64(len(l.Name)+len(l.Target))+linkCost, off, "link")
}

func sortLinks(ls []Link) {
	slices.SortStableFunc(ls, func(a, b Link) int {
		if a.hasOrder && b.hasOrder {
			return cmp.Compare(a.order, b.order)
		}
		return strings.Compare(a.Name, b.Name)
	})
}

func (f *File) parseLink(b []byte, off int64) (Link, error) {
	d := f.newDecoder(b, off, "link message")
	var l Link
	if v := d.u8(); v != 1 {
		if d.err != nil {
			return l, d.err
		}
		return l, formatErr(off, "link message version %d", v)
	}
	flags := d.u8()
	if flags&0x08 != 0 {
		l.Kind = LinkKind(d.u8())
	}
	if flags&0x04 != 0 {
		l.order = int64(d.u64())
		l.hasOrder = true
	}
	if flags&0x10 != 0 {
		d.u8() // name character set
	}
	nameLen := int(d.uvar(1 << (flags & 3)))
	l.Name = string(d.bytes(nameLen))
	switch l.Kind {
	case LinkHard:
		l.Addr = d.addr()
	case LinkSoft, LinkExternal:
		n := int(d.u16())
		t := d.bytes(n)
		if l.Kind == LinkExternal && len(t) > 0 {
			t = t[1:] // version and flags byte
		}
		l.Target = strings.TrimRight(string(t), "\x00")
	default:
		n := int(d.u16())
		d.skip(n)
	}
	return l, d.err
}

func (f *File) denseLinks(heapAddr, btreeAddr uint64) ([]Link, error) {
	h, err := f.fractalHeap(heapAddr)
	if err != nil {
		return nil, err
	}
	var out []Link
	err = f.walkBTree2(btreeAddr, func(bh *bt2Header, rec []byte) error {
		var id []byte
		switch bh.typ {
		case 5: // name hash (4), heap ID (7)
			if len(rec) < 11 {
				return formatErr(f.AbsOffset(bh.addr), "link name record of %d bytes", len(rec))
			}
			id = rec[4:11]
		case 6: // creation order (8), heap ID (7)
			if len(rec) < 15 {
				return formatErr(f.AbsOffset(bh.addr), "link order record of %d bytes", len(rec))
			}
			id = rec[8:15]
		default:
			return formatErr(f.AbsOffset(bh.addr), "v2 B-tree type %d as a link index", bh.typ)
		}
		obj, err := f.heapObject(h, id)
		if err != nil {
			return err
		}
		l, err := f.parseLink(obj, -1)
		if err != nil {
			return err
		}
		// Groups may share one link index: charge what each one builds.
		if err := f.chargeLink(&l, f.AbsOffset(bh.addr)); err != nil {
			return err
		}
		if len(out) >= maxLinks {
			return formatErr(f.AbsOffset(bh.addr), "more than %d links in a group", maxLinks)
		}
		out = append(out, l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortLinks(out)
	return out, nil
}

func (f *File) symbolTableLinks(btreeAddr, heapAddr uint64) ([]Link, error) {
	heap, err := f.localHeap(heapAddr)
	if err != nil {
		return nil, err
	}
	var out []Link
	entrySize := 2*f.offSize + 4 + 4 + 16
	// The B-tree may name one symbol table node many times, or nodes that
	// overlap: each would add up to 65535 links.
	snodBytes := nodeBytes{f: f}
	treeBytes := nodeBytes{f: f}
	err = f.walkBTree1Counted(btreeAddr, 0, f.lenSize, &treeBytes, func(_ []byte, snod uint64) error {
		pre, err := f.read(snod, 8, "symbol table node")
		if err != nil {
			return err
		}
		d := f.newDecoder(pre, f.AbsOffset(snod), "symbol table node")
		d.signature("SNOD")
		d.skip(2)
		n := int(d.u16())
		if d.err != nil {
			return d.err
		}
		if err := snodBytes.add(uint64(8+n*entrySize), f.AbsOffset(snod), "symbol table node"); err != nil {
			return err
		}
		body, err := f.read(snod+8, n*entrySize, "symbol table node entries")
		if err != nil {
			return err
		}
		bd := f.newDecoder(body, f.AbsOffset(snod)+8, "symbol table entry")
		for i := 0; i < n; i++ {
			nameOff := bd.length()
			objAddr := bd.addr()
			cache := bd.u32()
			bd.skip(4)
			scratch := bd.bytes(16)
			if bd.err != nil {
				return bd.err
			}
			name, err := heap.name(nameOff)
			if err != nil {
				return err
			}
			l := Link{Name: name, Kind: LinkHard, Addr: objAddr}
			if cache == 2 { // soft link: the target is in the local heap
				sd := f.newDecoder(scratch, -1, "symbol table scratch pad")
				t, err := heap.name(uint64(sd.u32()))
				if err != nil {
					return err
				}
				l = Link{Name: name, Kind: LinkSoft, Target: t}
			}
			if len(out) >= maxLinks {
				return formatErr(f.AbsOffset(snod), "more than %d links in a group", maxLinks)
			}
			if err := f.chargeLink(&l, f.AbsOffset(snod)); err != nil {
				return err
			}
			out = append(out, l)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Groups may share one symbol table: charge what each one reads.
	if err := f.charge(treeBytes.total+snodBytes.total, f.AbsOffset(btreeAddr), "symbol table"); err != nil {
		return nil, err
	}
	return out, nil
}

type localHeap struct {
	data []byte
	off  int64
}

func (f *File) localHeap(addr uint64) (*localHeap, error) {
	b, err := f.read(addr, 8+2*f.lenSize+f.offSize, "local heap")
	if err != nil {
		return nil, err
	}
	d := f.newDecoder(b, f.AbsOffset(addr), "local heap")
	d.signature("HEAP")
	d.skip(4)
	size := d.length()
	d.length() // free list
	dataAddr := d.addr()
	if d.err != nil {
		return nil, d.err
	}
	if size > uint64(f.size) {
		return nil, truncatedErr(f.AbsOffset(addr), "local heap of %d bytes", size)
	}
	// Many groups may share one large heap, each reading a copy of it.
	if err := f.charge(size, f.AbsOffset(addr), "local heap"); err != nil {
		return nil, err
	}
	data, err := f.read(dataAddr, int(size), "local heap data")
	if err != nil {
		return nil, err
	}
	return &localHeap{data: data, off: f.AbsOffset(dataAddr)}, nil
}

func (h *localHeap) name(off uint64) (string, error) {
	if off >= uint64(len(h.data)) {
		return "", formatErr(h.off, "local heap offset %d outside its %d bytes", off, len(h.data))
	}
	b := h.data[off:]
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), nil
		}
	}
	return "", formatErr(h.off+int64(off), "unterminated name in local heap")
}
