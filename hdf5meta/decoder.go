package hdf5meta

import (
	"encoding/binary"
	"math"
)

// decoder reads little-endian fields from an in-memory metadata block. It
// keeps the first error and returns zero values after it, so parsers can read
// a whole structure and check d.err once.
type decoder struct {
	buf     []byte
	pos     int
	base    int64 // file offset of buf[0], for error messages
	offSize int   // size of offsets (addresses) in bytes
	lenSize int   // size of lengths in bytes
	what    string
	err     error
}

func (f *File) newDecoder(buf []byte, off int64, what string) *decoder {
	return &decoder{buf: buf, base: off, offSize: f.offSize, lenSize: f.lenSize, what: what}
}

func (d *decoder) fail(need int) {
	if d.err == nil {
		d.err = truncatedErr(d.base+int64(d.pos), "%s: need %d bytes, %d left", d.what, need, len(d.buf)-d.pos)
	}
}

func (d *decoder) remaining() int {
	if d.err != nil {
		return 0
	}
	return len(d.buf) - d.pos
}

func (d *decoder) offset() int64 { return d.base + int64(d.pos) }

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.buf)-d.pos {
		d.fail(n)
		return nil
	}
	b := d.buf[d.pos : d.pos+n]
	d.pos += n
	return b
}

func (d *decoder) skip(n int) { d.bytes(n) }

func (d *decoder) u8() uint8 {
	b := d.bytes(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (d *decoder) u16() uint16 {
	b := d.bytes(2)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(b)
}

func (d *decoder) u32() uint32 {
	b := d.bytes(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (d *decoder) u64() uint64 {
	b := d.bytes(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// uvar reads an unsigned little-endian integer of n bytes (0 <= n <= 8).
func (d *decoder) uvar(n int) uint64 {
	if n > 8 {
		if d.err == nil {
			d.err = formatErr(d.offset(), "%s: %d-byte integer field", d.what, n)
		}
		return 0
	}
	b := d.bytes(n)
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// addr reads a file address; the all-ones value means "undefined" and is
// returned as undefAddr whatever the size of offsets.
func (d *decoder) addr() uint64 {
	v := d.uvar(d.offSize)
	if d.offSize < 8 && v == (uint64(1)<<(8*d.offSize))-1 {
		return undefAddr
	}
	return v
}

// addrAt returns the file address at buf[pos:], like addr but without
// moving; the caller knows the bytes are there.
func (d *decoder) addrAt(pos int) uint64 {
	if d.offSize == 8 {
		return binary.LittleEndian.Uint64(d.buf[pos:])
	}
	b := d.buf[pos : pos+d.offSize]
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if v == (uint64(1)<<(8*d.offSize))-1 {
		return undefAddr
	}
	return v
}

func (d *decoder) length() uint64 { return d.uvar(d.lenSize) }

// cstring reads a NUL-terminated string of at most the remaining bytes.
func (d *decoder) cstring() string {
	if d.err != nil {
		return ""
	}
	for i := d.pos; i < len(d.buf); i++ {
		if d.buf[i] == 0 {
			s := string(d.buf[d.pos:i])
			d.pos = i + 1
			return s
		}
	}
	d.fail(len(d.buf) - d.pos + 1)
	return ""
}

// align advances to the next multiple of n relative to start.
func (d *decoder) align(start, n int) {
	if rem := (d.pos - start) % n; rem != 0 {
		d.skip(n - rem)
	}
}

func (d *decoder) signature(sig string) {
	b := d.bytes(len(sig))
	if b != nil && string(b) != sig && d.err == nil {
		d.err = formatErr(d.offset()-int64(len(sig)), "%s: signature %q, want %q", d.what, b, sig)
	}
}

const undefAddr = math.MaxUint64

// UndefinedAddress is the HDF5 "undefined address": storage never allocated.
const UndefinedAddress = undefAddr

// sizeBytes is the number of bytes needed to encode v (at least 1).
func sizeBytes(v uint64) int {
	n := 1
	for v > 0xff {
		v >>= 8
		n++
	}
	return n
}
