package hdf5meta

// sharedMessageTable is the file's index of shared object header messages
// (SOHM): for each index, the message types it holds and its fractal heap.
type sharedMessageTable struct {
	indexes []sohmIndex
}

type sohmIndex struct {
	typeFlags uint16
	heapAddr  uint64
	heap      *fractalHeap
}

func (f *File) readSuperblockExtension() error {
	oh, err := f.objectHeader(f.Superblock.ExtensionAddr)
	if err != nil {
		return err
	}
	m := oh.find(msgSharedMsgTable)
	if m == nil {
		return nil
	}
	d := f.newDecoder(m.data, m.off, "shared message table message")
	d.u8() // version
	tableAddr := d.addr()
	n := int(d.u8())
	if d.err != nil {
		return d.err
	}
	entry := 1 + 1 + 2 + 4 + 2 + 2 + 2 + f.offSize + f.offSize
	b, err := f.read(tableAddr, 4+n*entry+4, "shared message table")
	if err != nil {
		return err
	}
	off := f.AbsOffset(tableAddr)
	if f.opts.verifyChksum {
		if err := verifyChecksum(b, off, "shared message table"); err != nil {
			return err
		}
	}
	td := f.newDecoder(b, off, "shared message table")
	td.signature("SMTB")
	t := &sharedMessageTable{}
	for i := 0; i < n && td.err == nil; i++ {
		td.u8() // version
		td.u8() // index type: list or B-tree; the heap suffices to read
		flags := td.u16()
		td.skip(4 + 2 + 2 + 2)
		td.addr() // index address
		heap := td.addr()
		t.indexes = append(t.indexes, sohmIndex{typeFlags: flags, heapAddr: heap})
	}
	if td.err != nil {
		return td.err
	}
	f.sohm = t
	return nil
}

// resolve returns the message itself, or for a shared message the message
// it refers to: in another object header (a committed datatype) or in the
// shared message heap. committed is the object header address, if any.
func (f *File) resolve(m *message) (msg *message, committed uint64, err error) {
	if m.flags&msgFlagShared == 0 {
		return m, 0, nil
	}
	d := f.newDecoder(m.data, m.off, "shared message")
	version := d.u8()
	typ := d.u8()
	var addr uint64
	switch version {
	case 1:
		d.skip(6)
		addr = d.addr()
	case 2:
		addr = d.addr()
	case 3:
		if typ == 1 {
			id := d.bytes(8)
			if d.err != nil {
				return nil, 0, d.err
			}
			data, err := f.sharedHeapMessage(m.typ, id, m.off)
			if err != nil {
				return nil, 0, err
			}
			return &message{typ: m.typ, data: data, off: m.off}, 0, nil
		}
		addr = d.addr()
	default:
		if d.err != nil {
			return nil, 0, d.err
		}
		return nil, 0, formatErr(m.off, "shared message version %d", version)
	}
	if d.err != nil {
		return nil, 0, d.err
	}
	oh, err := f.objectHeader(addr)
	if err != nil {
		return nil, 0, err
	}
	target := oh.find(m.typ)
	if target == nil {
		return nil, 0, formatErr(m.off, "shared message type %d not found in object header at %#x", m.typ, addr)
	}
	if target.flags&msgFlagShared != 0 {
		return nil, 0, formatErr(m.off, "shared message refers to another shared message")
	}
	return target, addr, nil
}

func (f *File) sharedHeapMessage(typ uint16, id []byte, off int64) ([]byte, error) {
	if f.sohm == nil {
		return nil, formatErr(off, "message in the shared message heap, but the file has no shared message table")
	}
	if typ >= 16 {
		return nil, formatErr(off, "message type %d cannot be shared", typ)
	}
	flag := uint16(1) << typ // index type flags have bit N set for message type N
	for i := range f.sohm.indexes {
		ix := &f.sohm.indexes[i]
		if ix.typeFlags&flag == 0 {
			continue
		}
		f.mu.Lock()
		h := ix.heap
		f.mu.Unlock()
		if h == nil {
			var err error
			if h, err = f.fractalHeap(ix.heapAddr); err != nil {
				return nil, err
			}
			f.mu.Lock()
			ix.heap = h
			f.mu.Unlock()
		}
		return f.heapObject(h, id)
	}
	return nil, formatErr(off, "no shared message index holds message type %d", typ)
}
