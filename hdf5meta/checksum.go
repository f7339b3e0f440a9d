package hdf5meta

import "math/bits"

// lookup3 is Bob Jenkins' hashlittle (lookup3.c) with an initial value of 0,
// the checksum HDF5 stores after version 2 metadata structures.
func lookup3(k []byte) uint32 {
	n := uint32(len(k))
	a := 0xdeadbeef + n
	b, c := a, a
	for len(k) > 12 {
		a += le32(k[0:])
		b += le32(k[4:])
		c += le32(k[8:])
		// mix
		a -= c
		a ^= bits.RotateLeft32(c, 4)
		c += b
		b -= a
		b ^= bits.RotateLeft32(a, 6)
		a += c
		c -= b
		c ^= bits.RotateLeft32(b, 8)
		b += a
		a -= c
		a ^= bits.RotateLeft32(c, 16)
		c += b
		b -= a
		b ^= bits.RotateLeft32(a, 19)
		a += c
		c -= b
		c ^= bits.RotateLeft32(b, 4)
		b += a
		k = k[12:]
	}
	if len(k) == 0 {
		return c
	}
	var tail [12]byte
	copy(tail[:], k)
	a += le32(tail[0:])
	b += le32(tail[4:])
	c += le32(tail[8:])
	// final
	c ^= b
	c -= bits.RotateLeft32(b, 14)
	a ^= c
	a -= bits.RotateLeft32(c, 11)
	b ^= a
	b -= bits.RotateLeft32(a, 25)
	c ^= b
	c -= bits.RotateLeft32(b, 16)
	a ^= c
	a -= bits.RotateLeft32(c, 4)
	b ^= a
	b -= bits.RotateLeft32(a, 14)
	c ^= b
	c -= bits.RotateLeft32(b, 24)
	return c
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// verifyChecksum checks that the last four bytes of block are the lookup3
// checksum of the bytes before them.
func verifyChecksum(block []byte, off int64, what string) error {
	if len(block) < 4 {
		return truncatedErr(off, "%s too short for a checksum", what)
	}
	want := le32(block[len(block)-4:])
	if got := lookup3(block[:len(block)-4]); got != want {
		return formatErr(off, "%s checksum mismatch (stored %#08x, computed %#08x)", what, want, got)
	}
	return nil
}

// readBlock reads the n-byte metadata block at addr, which ends in a lookup3
// checksum: it checks the block's signature (unless sig is "") and, unless
// checksums are off, its checksum. It returns the block and its absolute
// file offset.
func (f *File) readBlock(addr uint64, n int, sig, what string) ([]byte, int64, error) {
	b, err := f.read(addr, n, what)
	if err != nil {
		return nil, 0, err
	}
	off := f.AbsOffset(addr)
	if sig != "" {
		if err := checkSig(b, sig, off); err != nil {
			return nil, 0, err
		}
	}
	if f.opts.verifyChksum {
		if err := verifyChecksum(b, off, what); err != nil {
			return nil, 0, err
		}
	}
	return b, off, nil
}
