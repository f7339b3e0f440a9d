package icechunk

import (
	"bytes"
	"slices"
	"time"

	"github.com/klauspost/compress/zstd"

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
	crCompressedLocation                                                                 = 8
	mfID, mfArrays, mfLocationDictionary, mfCompressionAlgorithm                         = 0, 1, 2, 3
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
			var f refFields
			if r.Inline != nil {
				f.inline = b.CreateByteVector(r.Inline)
			}
			if r.Location != "" {
				f.location = b.CreateSharedString(r.Location) // one copy per source file
			}
			if r.ChecksumETag != "" {
				f.etag = b.CreateSharedString(r.ChecksumETag)
			}
			f.chunkID, f.offset, f.length, f.lastModified = r.ChunkID, r.Offset, r.Length, r.ChecksumLastModified
			refs[j] = putRef(b, r.Index, &f)
		}
		arrays[i] = putArrayManifest(b, a.Node, refs)
	}
	return finishManifest(b, m.ID, arrays)
}

// refFields are the fields of one ChunkRef table, its strings and vectors
// already in the builder.
type refFields struct {
	inline, location, etag flatbuffers.UOffsetT
	chunkID                *ObjectID
	offset, length         uint64
	lastModified           uint32
}

// putRef writes one ChunkRef table.
func putRef(b *flatbuffers.Builder, index []uint32, f *refFields) flatbuffers.UOffsetT {
	idx := u32Vector(b, index)
	b.StartObject(10)
	b.PrependUint64Slot(crOffset, f.offset, 0)
	b.PrependUint64Slot(crLength, f.length, 0)
	b.PrependUOffsetTSlot(crIndex, idx, 0)
	b.PrependUOffsetTSlot(crInline, f.inline, 0)
	if f.chunkID != nil {
		b.PrependStructSlot(crChunkID, prependID(b, f.chunkID[:]), 0)
	}
	b.PrependUOffsetTSlot(crLocation, f.location, 0)
	b.PrependUOffsetTSlot(crETag, f.etag, 0)
	b.PrependUint32Slot(crLastModified, f.lastModified, 0)
	return b.EndObject()
}

// putArrayManifest writes one ArrayManifest table over already-written refs.
func putArrayManifest(b *flatbuffers.Builder, node NodeID, refs []flatbuffers.UOffsetT) flatbuffers.UOffsetT {
	rv := offsetVector(b, refs)
	b.StartObject(3)
	b.PrependStructSlot(amNodeID, prependID(b, node[:]), 0)
	b.PrependUOffsetTSlot(amRefs, rv, 0)
	return b.EndObject()
}

// finishManifest writes the Manifest root table and returns the payload.
func finishManifest(b *flatbuffers.Builder, id ObjectID, arrays []flatbuffers.UOffsetT) []byte {
	av := offsetVector(b, arrays)
	b.StartObject(5)
	b.PrependStructSlot(mfID, prependID(b, id[:]), 0)
	b.PrependUOffsetTSlot(mfArrays, av, 0)
	b.PrependUint8Slot(mfCompressionAlgorithm, 0, 1)
	return finish(b, b.EndObject())
}

// manifestSegment is a run of one array's sorted packed refs that goes into
// one manifest.
type manifestSegment struct {
	node       NodeID
	refs       *arrayRefs
	start, end int
}

// manifestWriter encodes manifests from a Session's packed refs, one at a
// time and with one reused builder, so a commit holds at most one manifest's
// FlatBuffers payload in memory however many it writes.
type manifestWriter struct {
	b           *flatbuffers.Builder
	pool        *refPool
	strs        []flatbuffers.UOffsetT // per source: location, then ETag, in the manifest being built
	refs        []flatbuffers.UOffsetT // the ref tables of the segment being built
	idx, lo, hi []uint32               // a chunk index, and the segment's extents so far
}

func newManifestWriter(pool *refPool) *manifestWriter {
	return &manifestWriter{b: flatbuffers.NewBuilder(0), pool: pool}
}

// resetBuilder empties b and makes room for size bytes up front, so a large
// payload is not built by repeated doubling and copying.
func resetBuilder(b *flatbuffers.Builder, size int) {
	if cap(b.Bytes) < size {
		b.Bytes = make([]byte, size)
	}
	b.Reset()
}

// encode returns the payload of manifest id holding segs (in node-id order,
// refs in key order) and, per segment, the extents of its refs. The payload
// aliases the writer's builder: it is valid until the next call.
func (w *manifestWriter) encode(id ObjectID, segs []manifestSegment) ([]byte, [][][2]uint32) {
	b := w.b
	total := 0
	for _, s := range segs {
		total += s.end - s.start
	}
	resetBuilder(b, 1024+72*total)
	if need := 2 * len(w.pool.sources); cap(w.strs) < need {
		w.strs = make([]flatbuffers.UOffsetT, need)
	} else {
		w.strs = w.strs[:need]
		clear(w.strs)
	}
	arrays := make([]flatbuffers.UOffsetT, len(segs))
	exts := make([][][2]uint32, len(segs))
	for si, s := range segs {
		g := s.refs.grid
		rank := len(g.num)
		w.idx, w.lo, w.hi = resize(w.idx, rank), resize(w.lo, rank), resize(w.hi, rank)
		for d := range rank {
			w.lo[d], w.hi[d] = ^uint32(0), 0
		}
		w.refs = resize(w.refs, s.end-s.start)
		for i := s.start; i < s.end; i++ {
			pr := s.refs.at(i)
			idx := g.index(pr.key, w.idx)
			for d, c := range idx {
				w.lo[d], w.hi[d] = min(w.lo[d], c), max(w.hi[d], c+1)
			}
			f := w.fields(pr)
			w.refs[i-s.start] = putRef(b, idx, &f)
		}
		arrays[si] = putArrayManifest(b, s.node, w.refs)
		ext := make([][2]uint32, rank)
		for d := range ext {
			ext[d] = [2]uint32{w.lo[d], w.hi[d]}
		}
		exts[si] = ext
	}
	return finishManifest(b, id, arrays), exts
}

// fields writes the strings and bytes of pr's table into the builder, each
// source's location and ETag once per manifest.
func (w *manifestWriter) fields(pr *packedRef) refFields {
	var f refFields
	i := pr.src &^ refKindMask
	switch pr.src & refKindMask {
	case refInline:
		f.inline = w.b.CreateByteVector(w.pool.inline[i])
		return f
	case refNative:
		f.chunkID = &w.pool.native[i]
	default:
		src := &w.pool.sources[i]
		if w.strs[2*i] == 0 {
			w.strs[2*i] = w.b.CreateString(src.location)
			if src.etag != "" {
				w.strs[2*i+1] = w.b.CreateString(src.etag)
			}
		}
		f.location, f.etag, f.lastModified = w.strs[2*i], w.strs[2*i+1], src.lastModified
	}
	f.offset, f.length = w.pool.byteRange(pr)
	return f
}

// resize returns s with length n, reusing its array when large enough.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// maxLocationLen bounds a decompressed virtual location, as the reference
// implementation does.
const maxLocationLen = 1024

// locationDecoder decompresses the dictionary-compressed virtual locations of
// one manifest (compression_algorithm 1); nil when the manifest has none.
type locationDecoder struct {
	dec *zstd.Decoder
	buf []byte
}

func newLocationDecoder(root fbTable) (*locationDecoder, error) {
	alg, err := root.u8(mfCompressionAlgorithm, 1)
	if err != nil || alg != 1 {
		return nil, err
	}
	dict, err := root.bytesField(mfLocationDictionary)
	if err != nil || dict == nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderDicts(dict), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<20))
	if err != nil {
		return nil, corruptf("location dictionary: %v", err)
	}
	return &locationDecoder{dec: dec}, nil
}

func (l *locationDecoder) decode(b []byte) ([]byte, error) {
	if l == nil {
		return nil, corruptf("compressed virtual location without a dictionary")
	}
	out, err := l.dec.DecodeAll(b, l.buf[:0])
	if err != nil {
		return nil, corruptf("compressed virtual location: %v", err)
	}
	if len(out) > maxLocationLen {
		return nil, corruptf("virtual location of %d bytes", len(out))
	}
	l.buf = out
	return out, nil
}

// refStrings holds the location and ETag of the ref decoded last: the refs of
// a manifest mostly repeat them, and then share one string.
type refStrings struct{ location, etag string }

// interned returns b as a string, *last when equal.
func interned(last *string, b []byte) string {
	if string(b) != *last {
		*last = string(b)
	}
	return *last
}

func (l *locationDecoder) close() {
	if l != nil {
		l.dec.Close()
	}
}

// DecodeManifest parses a manifest payload, decompressing dictionary-compressed
// virtual locations.
func DecodeManifest(buf []byte) (*Manifest, error) {
	root, err := rootTable(buf)
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	if m.ID, err = root.objectID(mfID, "manifest id"); err != nil {
		return nil, err
	}
	locs, err := newLocationDecoder(root)
	if err != nil {
		return nil, err
	}
	defer locs.close()
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
		var last refStrings
		for i, rt := range refs {
			if a.Refs[i], err = decodeChunkRef(rt, locs, &last); err != nil {
				return nil, err
			}
		}
		m.Arrays = append(m.Arrays, a)
	}
	return m, nil
}

func decodeChunkRef(t fbTable, locs *locationDecoder, last *refStrings) (ChunkRef, error) {
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
	loc, err := t.bytesField(crLocation)
	if err != nil {
		return r, err
	}
	if loc != nil {
		r.Location = interned(&last.location, loc)
	}
	etag, err := t.bytesField(crETag)
	if err != nil {
		return r, err
	}
	if etag != nil {
		r.ChecksumETag = interned(&last.etag, etag)
	}
	if r.ChecksumLastModified, err = t.u32(crLastModified, 0); err != nil {
		return r, err
	}
	if cl, err := t.bytesField(crCompressedLocation); err != nil {
		return r, err
	} else if cl != nil && r.Location == "" {
		b, err := locs.decode(cl)
		if err != nil {
			return r, err
		}
		r.Location = interned(&last.location, b)
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
