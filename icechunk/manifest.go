package icechunk

import (
	"bytes"
	"slices"
	"time"

	flatbuffers "github.com/google/flatbuffers/go"
)

// ChunkRef is one chunk reference of a manifest. Exactly one kind is set: Inline
// (non-nil Inline), native (non-nil ChunkID) or virtual (Location non-empty).
type ChunkRef struct {
	Index                []uint32  // chunk grid coordinates
	Inline               []byte    // inline chunk bytes
	ChunkID              *ObjectID // native chunk file
	Location             string    // virtual: absolute URL of the containing object
	Offset, Length       uint64    // native and virtual byte range
	ChecksumETag         string    // virtual: expected ETag of the object
	ChecksumLastModified uint32    // virtual: expected last-modified, Unix seconds
}

// ArrayManifest holds the chunk references of one array.
type ArrayManifest struct {
	Node NodeID
	Refs []ChunkRef
}

// Manifest is a chunk manifest file.
type Manifest struct {
	ID     ObjectID
	Arrays []ArrayManifest
}

// NumRefs is the total number of chunk references.
func (m *Manifest) NumRefs() int {
	n := 0
	for _, a := range m.Arrays {
		n += len(a.Refs)
	}
	return n
}

// Schema slots (declaration order in manifest.fbs).
const (
	crIndex, crInline, crOffset, crLength, crChunkID, crLocation, crETag, crLastModified = 0, 1, 2, 3, 4, 5, 6, 7
	amNodeID, amRefs                                                                     = 0, 1
	mfID, mfArrays, mfCompressionAlgorithm                                               = 0, 1, 3
)

// sortManifest orders arrays by node id and refs by index, as the spec requires.
func sortManifest(m *Manifest) {
	slices.SortFunc(m.Arrays, func(a, b ArrayManifest) int { return bytes.Compare(a.Node[:], b.Node[:]) })
	for _, a := range m.Arrays {
		sortByIndex(a.Refs, func(r *ChunkRef) []uint32 { return r.Index })
	}
}

// EncodeManifest sorts m in place and returns its FlatBuffers payload. Locations are
// written uncompressed (compression_algorithm 0).
func EncodeManifest(m *Manifest) []byte {
	sortManifest(m)
	b := flatbuffers.NewBuilder(1024 + 64*m.NumRefs())
	arrays := make([]flatbuffers.UOffsetT, len(m.Arrays))
	for i, a := range m.Arrays {
		refs := make([]flatbuffers.UOffsetT, len(a.Refs))
		for j, r := range a.Refs {
			idx := u32Vector(b, r.Index)
			var inline, loc, etag flatbuffers.UOffsetT
			if r.Inline != nil {
				inline = b.CreateByteVector(r.Inline)
			}
			if r.Location != "" {
				loc = b.CreateSharedString(r.Location) // one copy per source file
			}
			if r.ChecksumETag != "" {
				etag = b.CreateString(r.ChecksumETag)
			}
			b.StartObject(10)
			b.PrependUint64Slot(crOffset, r.Offset, 0)
			b.PrependUint64Slot(crLength, r.Length, 0)
			b.PrependUOffsetTSlot(crIndex, idx, 0)
			b.PrependUOffsetTSlot(crInline, inline, 0)
			if r.ChunkID != nil {
				b.PrependStructSlot(crChunkID, prependID(b, r.ChunkID[:]), 0)
			}
			b.PrependUOffsetTSlot(crLocation, loc, 0)
			b.PrependUOffsetTSlot(crETag, etag, 0)
			b.PrependUint32Slot(crLastModified, r.ChecksumLastModified, 0)
			refs[j] = b.EndObject()
		}
		rv := offsetVector(b, refs)
		b.StartObject(3)
		b.PrependStructSlot(amNodeID, prependID(b, a.Node[:]), 0)
		b.PrependUOffsetTSlot(amRefs, rv, 0)
		arrays[i] = b.EndObject()
	}
	av := offsetVector(b, arrays)
	b.StartObject(5)
	b.PrependStructSlot(mfID, prependID(b, m.ID[:]), 0)
	b.PrependUOffsetTSlot(mfArrays, av, 0)
	b.PrependUint8Slot(mfCompressionAlgorithm, 0, 1)
	return finish(b, b.EndObject())
}

// DecodeManifest parses a manifest payload. Compressed locations are reported as
// ErrCorrupt (not supported yet).
func DecodeManifest(buf []byte) (*Manifest, error) {
	root, err := rootTable(buf)
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	if m.ID, err = root.objectID(mfID, "manifest id"); err != nil {
		return nil, err
	}
	arrays, err := root.tables(mfArrays)
	if err != nil {
		return nil, err
	}
	for _, at := range arrays {
		var a ArrayManifest
		if a.Node, err = at.nodeID(amNodeID, "array manifest node id"); err != nil {
			return nil, err
		}
		refs, err := at.tables(amRefs)
		if err != nil {
			return nil, err
		}
		a.Refs = make([]ChunkRef, len(refs))
		for i, rt := range refs {
			if a.Refs[i], err = decodeChunkRef(rt); err != nil {
				return nil, err
			}
		}
		m.Arrays = append(m.Arrays, a)
	}
	return m, nil
}

func decodeChunkRef(t fbTable) (ChunkRef, error) {
	var r ChunkRef
	var err error
	if r.Index, err = t.u32s(crIndex); err != nil {
		return r, err
	}
	if r.Inline, err = t.bytesField(crInline); err != nil {
		return r, err
	}
	if r.Offset, err = t.u64(crOffset, 0); err != nil {
		return r, err
	}
	if r.Length, err = t.u64(crLength, 0); err != nil {
		return r, err
	}
	id, err := t.structBytes(crChunkID, 12)
	if err != nil {
		return r, err
	}
	if id != nil {
		r.ChunkID = new(ObjectID)
		copy(r.ChunkID[:], id)
	}
	if r.Location, err = t.str(crLocation); err != nil {
		return r, err
	}
	if r.ChecksumETag, err = t.str(crETag); err != nil {
		return r, err
	}
	if r.ChecksumLastModified, err = t.u32(crLastModified, 0); err != nil {
		return r, err
	}
	if cl, err := t.bytesField(8); err != nil {
		return r, err
	} else if cl != nil && r.Location == "" {
		return r, corruptf("compressed virtual chunk locations are not supported")
	}
	if r.Inline != nil {
		r.Inline = bytes.Clone(r.Inline)
	}
	return r, nil
}

// LastModifiedChecksum converts a source's modification time to the
// ChecksumLastModified of a virtual ref. The field holds whole seconds and a
// reader refuses the chunk when the object was modified after it, so the time is
// rounded up: a file modified at 12:00:00.4 is recorded as 12:00:01.
func LastModifiedChecksum(t time.Time) uint32 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return uint32(s)
}
