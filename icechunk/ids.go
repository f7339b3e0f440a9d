package icechunk

import (
	"crypto/rand"
	"fmt"
)

// crockford is the Crockford base32 alphabet Icechunk renders ids with (upper case,
// no padding, no check symbol).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ObjectID is the 12-byte id of a snapshot, manifest, transaction log or chunk file
// (ObjectId12 in the schema).
type ObjectID [12]byte

// NodeID is the 8-byte id of an array or group node (ObjectId8 in the schema).
type NodeID [8]byte

// InitialSnapshotID is the well-known id of the snapshot every repository starts
// with; it renders as 1CECHNKREP0F1RSTCMT0.
var InitialSnapshotID = ObjectID{0x0b, 0x1c, 0xc8, 0xd6, 0x78, 0x75, 0x80, 0xf0, 0xe3, 0x3a, 0x65, 0x34}

// NewObjectID returns a random ObjectID.
func NewObjectID() ObjectID {
	var id ObjectID
	_, _ = rand.Read(id[:])
	return id
}

// NewNodeID returns a random NodeID.
func NewNodeID() NodeID {
	var id NodeID
	_, _ = rand.Read(id[:])
	return id
}

// String renders the id in Crockford base32 (20 characters).
func (id ObjectID) String() string { return encodeCrockford(id[:]) }

// String renders the id in Crockford base32 (13 characters).
func (id NodeID) String() string { return encodeCrockford(id[:]) }

// ParseObjectID decodes a 20-character Crockford base32 object id.
func ParseObjectID(s string) (ObjectID, error) {
	var id ObjectID
	return id, decodeCrockford(s, id[:])
}

// ParseNodeID decodes a 13-character Crockford base32 node id.
func ParseNodeID(s string) (NodeID, error) {
	var id NodeID
	return id, decodeCrockford(s, id[:])
}

// encodeCrockford encodes b five bits at a time, most significant first, padding
// the last group with zero bits on the right.
func encodeCrockford(b []byte) string {
	out := make([]byte, 0, (len(b)*8+4)/5)
	var acc uint32
	var n uint
	for _, c := range b {
		acc = acc<<8 | uint32(c)
		n += 8
		for n >= 5 {
			n -= 5
			out = append(out, crockford[(acc>>n)&31])
		}
	}
	if n > 0 {
		out = append(out, crockford[(acc<<(5-n))&31])
	}
	return string(out)
}

// crockfordValue maps one symbol to its value; lower case and the look-alikes
// I, L (1) and O (0) are accepted as Crockford decoding allows.
func crockfordValue(c byte) (uint32, bool) {
	switch {
	case c >= 'a' && c <= 'z':
		c -= 'a' - 'A'
	}
	switch c {
	case 'I', 'L':
		return 1, true
	case 'O':
		return 0, true
	}
	for i := 0; i < len(crockford); i++ {
		if crockford[i] == c {
			return uint32(i), true
		}
	}
	return 0, false
}

// decodeCrockford decodes s into dst, which must be exactly filled; the padding
// bits of the last symbol must be zero.
func decodeCrockford(s string, dst []byte) error {
	if want := (len(dst)*8 + 4) / 5; len(s) != want {
		return fmt.Errorf("%w: id %q has %d characters, want %d", ErrInvalidID, s, len(s), want)
	}
	var acc uint32
	var n uint
	j := 0
	for i := 0; i < len(s); i++ {
		v, ok := crockfordValue(s[i])
		if !ok {
			return fmt.Errorf("%w: id %q: bad character %q", ErrInvalidID, s, s[i])
		}
		acc = acc<<5 | v
		n += 5
		if n >= 8 {
			n -= 8
			dst[j] = byte(acc >> n)
			j++
		}
	}
	if acc&(1<<n-1) != 0 {
		return fmt.Errorf("%w: id %q: non-zero padding bits", ErrInvalidID, s)
	}
	return nil
}
