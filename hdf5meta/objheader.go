package hdf5meta

// Object header message types (HDF5 File Format Specification, IV.A.2).
const (
	msgNil             = 0x00
	msgDataspace       = 0x01
	msgLinkInfo        = 0x02
	msgDatatype        = 0x03
	msgFillValueOld    = 0x04
	msgFillValue       = 0x05
	msgLink            = 0x06
	msgExternalFiles   = 0x07
	msgLayout          = 0x08
	msgBogus           = 0x09
	msgGroupInfo       = 0x0A
	msgFilterPipeline  = 0x0B
	msgAttribute       = 0x0C
	msgComment         = 0x0D
	msgModTimeOld      = 0x0E
	msgSharedMsgTable  = 0x0F
	msgContinuation    = 0x10
	msgSymbolTable     = 0x11
	msgModTime         = 0x12
	msgBTreeK          = 0x13
	msgDriverInfo      = 0x14
	msgAttributeInfo   = 0x15
	msgRefCount        = 0x16
	msgFileSpaceInfo   = 0x17
	msgFlagShared      = 0x02 // message flag bit: the message is shared
	maxHeaderChunks    = 1 << 16
	maxHeaderChunkSize = 1 << 30
)

// message is one raw object header message.
type message struct {
	typ   uint16
	flags uint8
	data  []byte
	off   int64 // absolute file offset of data
}

// objectHeader is a parsed object header: its messages, in order, across
// all continuation chunks.
type objectHeader struct {
	addr            uint64
	version         int
	msgs            []message
	maxCompactAttrs int
	minDenseAttrs   int

	// built is the object built from this header, without a path; objectAt
	// builds each object once and hands out copies (under File.mu).
	built Object
}

// objectHeader reads (and caches) the object header at addr.
func (f *File) objectHeader(addr uint64) (*objectHeader, error) {
	f.mu.Lock()
	oh, ok := f.headers[addr]
	f.mu.Unlock()
	if ok {
		return oh, nil
	}
	oh, err := f.parseObjectHeader(addr)
	if err != nil {
		return nil, err
	}
	// Headers are cached, so each is charged once; many overlapping headers
	// would otherwise each hold a copy of most of the file.
	var n uint64
	for _, m := range oh.msgs {
		n += uint64(len(m.data)) + 16
	}
	if err := f.charge(n, f.AbsOffset(addr), "object header"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.headers[addr] = oh
	f.mu.Unlock()
	return oh, nil
}

type chunkRef struct {
	addr   uint64
	length uint64
}

func (f *File) parseObjectHeader(addr uint64) (*objectHeader, error) {
	prefix, err := f.readUpTo(addr, 64, "object header")
	if err != nil {
		return nil, err
	}
	oh := &objectHeader{addr: addr}
	var pending []chunkRef
	visited := map[uint64]bool{addr: true}
	// Chunks of one header never overlap: this bounds what a chain of
	// overlapping continuations can make us read and parse.
	chunkBytes := nodeBytes{f: f}

	if len(prefix) >= 4 && string(prefix[:4]) == "OHDR" {
		oh.version = 2
		d := f.newDecoder(prefix, f.AbsOffset(addr), "object header v2")
		d.skip(4)
		if v := d.u8(); v != 2 && d.err == nil {
			return nil, formatErr(d.base, "object header version %d after OHDR", v)
		}
		flags := d.u8()
		if flags&0x20 != 0 {
			d.skip(16) // access, modification, change, birth times
		}
		oh.maxCompactAttrs, oh.minDenseAttrs = 8, 6
		if flags&0x10 != 0 {
			oh.maxCompactAttrs = int(d.u16())
			oh.minDenseAttrs = int(d.u16())
		}
		size := d.uvar(1 << (flags & 3))
		if d.err != nil {
			return nil, d.err
		}
		if size > maxHeaderChunkSize {
			return nil, formatErr(d.base, "object header chunk of %d bytes", size)
		}
		hdrLen := d.pos
		// The chunk is the prefix, size bytes of messages, and a checksum.
		block, err := f.read(addr, hdrLen+int(size)+4, "object header v2")
		if err != nil {
			return nil, err
		}
		if err := chunkBytes.add(uint64(len(block)), f.AbsOffset(addr), "object header"); err != nil {
			return nil, err
		}
		if f.opts.verifyChksum {
			if err := verifyChecksum(block, f.AbsOffset(addr), "object header"); err != nil {
				return nil, err
			}
		}
		pending, err = f.parseMessagesV2(oh, block[hdrLen:len(block)-4], f.AbsOffset(addr)+int64(hdrLen), flags, pending)
		if err != nil {
			return nil, err
		}
		for len(pending) > 0 {
			c := pending[0]
			pending = pending[1:]
			if visited[c.addr] {
				return nil, formatErr(f.AbsOffset(c.addr), "object header continuation cycle")
			}
			visited[c.addr] = true
			if len(visited) > maxHeaderChunks {
				return nil, formatErr(f.AbsOffset(addr), "object header with more than %d continuation chunks", maxHeaderChunks)
			}
			if c.length < 8 || c.length > maxHeaderChunkSize {
				return nil, formatErr(f.AbsOffset(c.addr), "object header continuation of %d bytes", c.length)
			}
			if err := chunkBytes.add(c.length, f.AbsOffset(c.addr), "object header continuation"); err != nil {
				return nil, err
			}
			blk, err := f.read(c.addr, int(c.length), "object header continuation")
			if err != nil {
				return nil, err
			}
			if string(blk[:4]) != "OCHK" {
				return nil, formatErr(f.AbsOffset(c.addr), "object header continuation signature %q", blk[:4])
			}
			if f.opts.verifyChksum {
				if err := verifyChecksum(blk, f.AbsOffset(c.addr), "object header continuation"); err != nil {
					return nil, err
				}
			}
			pending, err = f.parseMessagesV2(oh, blk[4:len(blk)-4], f.AbsOffset(c.addr)+4, flags, pending)
			if err != nil {
				return nil, err
			}
		}
		return oh, nil
	}

	// Version 1: 16-byte prefix (version, reserved, message count,
	// reference count, header size, padding), then 8-byte aligned messages.
	d := f.newDecoder(prefix, f.AbsOffset(addr), "object header v1")
	if v := d.u8(); v != 1 {
		if d.err != nil {
			return nil, d.err
		}
		return nil, formatErr(d.base, "object header version %d", v)
	}
	oh.version = 1
	d.skip(1)
	nmsgs := int(d.u16())
	d.skip(4)
	size := d.u32()
	if d.err != nil {
		return nil, d.err
	}
	if size > maxHeaderChunkSize {
		return nil, formatErr(d.base, "object header of %d bytes", size)
	}
	pending = append(pending, chunkRef{addr: addr + 16, length: uint64(size)})
	first := true
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		if !first {
			if visited[c.addr] {
				return nil, formatErr(f.AbsOffset(c.addr), "object header continuation cycle")
			}
			visited[c.addr] = true
			if len(visited) > maxHeaderChunks {
				return nil, formatErr(f.AbsOffset(addr), "object header with more than %d continuation chunks", maxHeaderChunks)
			}
		}
		first = false
		if c.length > maxHeaderChunkSize {
			return nil, formatErr(f.AbsOffset(c.addr), "object header continuation of %d bytes", c.length)
		}
		if err := chunkBytes.add(c.length, f.AbsOffset(c.addr), "object header v1 messages"); err != nil {
			return nil, err
		}
		blk, err := f.read(c.addr, int(c.length), "object header v1 messages")
		if err != nil {
			return nil, err
		}
		pending, err = f.parseMessagesV1(oh, blk, f.AbsOffset(c.addr), pending)
		if err != nil {
			return nil, err
		}
	}
	_ = nmsgs // the count includes NIL padding messages; the sizes are authoritative
	return oh, nil
}

func (f *File) parseMessagesV1(oh *objectHeader, blk []byte, off int64, pending []chunkRef) ([]chunkRef, error) {
	d := f.newDecoder(blk, off, "object header v1 message")
	for d.remaining() >= 8 {
		typ := d.u16()
		size := int(d.u16())
		flags := d.u8()
		d.skip(3)
		var err error
		if pending, err = f.addMessage(d, oh, typ, flags, size, pending); err != nil {
			return nil, err
		}
		d.align(0, 8)
		d.err = nil // trailing alignment past the block end is harmless
	}
	return pending, nil
}

func (f *File) parseMessagesV2(oh *objectHeader, blk []byte, off int64, hdrFlags uint8, pending []chunkRef) ([]chunkRef, error) {
	d := f.newDecoder(blk, off, "object header v2 message")
	hsize := 4
	if hdrFlags&0x04 != 0 {
		hsize = 6 // creation order tracked: 2 more bytes per message
	}
	for d.remaining() >= hsize {
		typ := uint16(d.u8())
		size := int(d.u16())
		flags := d.u8()
		if hdrFlags&0x04 != 0 {
			d.skip(2)
		}
		var err error
		if pending, err = f.addMessage(d, oh, typ, flags, size, pending); err != nil {
			return nil, err
		}
	}
	return pending, nil
}

// addMessage reads the size bytes of one message's data from d and files
// the message: a continuation joins the chunks still to read, a NIL message
// is padding, any other is kept in oh.
func (f *File) addMessage(d *decoder, oh *objectHeader, typ uint16, flags uint8, size int, pending []chunkRef) ([]chunkRef, error) {
	m := message{typ: typ, flags: flags, off: d.offset()}
	m.data = d.bytes(size)
	if d.err != nil {
		return nil, d.err
	}
	switch m.typ {
	case msgContinuation:
		cd := f.newDecoder(m.data, m.off, "continuation message")
		c := chunkRef{addr: cd.addr(), length: cd.length()}
		if cd.err != nil {
			return nil, cd.err
		}
		pending = append(pending, c)
	case msgNil:
	default:
		oh.msgs = append(oh.msgs, m)
	}
	return pending, nil
}

// find returns the first message of the given type, or nil.
func (oh *objectHeader) find(typ uint16) *message {
	for i := range oh.msgs {
		if oh.msgs[i].typ == typ {
			return &oh.msgs[i]
		}
	}
	return nil
}
