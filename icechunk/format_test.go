package icechunk

import (
	"bytes"
	"slices"
	"testing"
	"time"

	flatbuffers "github.com/google/flatbuffers/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestObjectIDCrockford(t *testing.T) {
	tests := []struct {
		name string
		id   ObjectID
		want string
	}{
		{"spec example (initial snapshot)", InitialSnapshotID, "1CECHNKREP0F1RSTCMT0"},
		{"zeros", ObjectID{}, "00000000000000000000"},
		{"ones", ObjectID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "ZZZZZZZZZZZZZZZZZZZG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.id.String())
			got, err := ParseObjectID(tt.want)
			require.NoError(t, err)
			assert.Equal(t, tt.id, got)
		})
	}
}

func TestNodeIDCrockford(t *testing.T) {
	for i := 0; i < 50; i++ {
		id := NewNodeID()
		s := id.String()
		require.Len(t, s, 13)
		got, err := ParseNodeID(s)
		require.NoError(t, err)
		assert.Equal(t, id, got)
	}
	// Crockford decoding is case-insensitive and maps O to 0 and I/L to 1.
	got, err := ParseObjectID("1cechnkrepof1rstcmto")
	require.NoError(t, err)
	assert.Equal(t, InitialSnapshotID, got)
}

func TestParseIDErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{"short", "1CECHNKREP0F1RSTCMT"},
		{"long", "1CECHNKREP0F1RSTCMT00"},
		{"bad char U", "1CECHNKREP0F1RSTCMTU"},
		{"non-zero padding", "1CECHNKREP0F1RSTCMT1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseObjectID(tt.in)
			assert.ErrorIs(t, err, ErrInvalidID)
		})
	}
}

func TestFileHeader(t *testing.T) {
	payload := bytes.Repeat([]byte("flatbuffer"), 100)
	for _, typ := range []FileType{FileSnapshot, FileManifest, FileTransactionLog, FileRepoInfo} {
		b := EncodeFile(typ, payload)
		assert.Equal(t, []byte{0x49, 0x43, 0x45, 0xF0, 0x9F, 0xA7, 0x8A, 0x43, 0x48, 0x55, 0x4E, 0x4B}, b[:12])
		assert.Equal(t, ImplementationName+string(bytes.Repeat([]byte(" "), 24-len(ImplementationName))), string(b[12:36]))
		assert.Equal(t, []byte{2, byte(typ), 1}, b[36:39])
		got, h, err := DecodeFile(typ, b)
		require.NoError(t, err)
		assert.Equal(t, payload, got)
		assert.Equal(t, ImplementationName, h.Implementation)
	}
}

func TestFileHeaderErrors(t *testing.T) {
	good := EncodeFile(FileSnapshot, []byte("x"))
	mut := func(i int, v byte) []byte {
		b := bytes.Clone(good)
		b[i] = v
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"short", good[:20], ErrHeader},
		{"magic", mut(0, 'X'), ErrHeader},
		{"spec version", mut(36, 9), ErrHeader},
		{"file type", mut(37, 3), ErrHeader},
		{"wrong file type", mut(37, byte(FileManifest)), ErrHeader},
		{"compression", mut(38, 7), ErrHeader},
		{"zstd garbage", append(bytes.Clone(good[:HeaderLen]), 1, 2, 3), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := DecodeFile(FileSnapshot, tt.in)
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

func TestPaths(t *testing.T) {
	assert.Equal(t, "snapshots/1CECHNKREP0F1RSTCMT0", SnapshotPath(InitialSnapshotID))
	assert.Equal(t, "manifests/1CECHNKREP0F1RSTCMT0", ManifestPath(InitialSnapshotID))
	assert.Equal(t, "transactions/1CECHNKREP0F1RSTCMT0", TransactionLogPath(InitialSnapshotID))
	assert.Equal(t, "chunks/1CECHNKREP0F1RSTCMT0", ChunkPath(InitialSnapshotID))
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, int64(32503680000000-1767225600000), backupStamp(at)) // 3000-01-01 and 2026-01-01 in Unix ms
}

func TestManifestRoundTrip(t *testing.T) {
	cid := NewObjectID()
	a, b := NodeID{2}, NodeID{1}
	m := &Manifest{ID: NewObjectID(), Arrays: []ArrayManifest{
		{Node: a, Refs: []ChunkRef{
			{Index: []uint32{1, 0}, Location: "file:///data/x.nc", Offset: 100, Length: 50, ChecksumETag: "\"abc\""},
			{Index: []uint32{0, 1}, Inline: []byte{1, 2, 3}},
			{Index: []uint32{0, 0}, ChunkID: &cid, Offset: 0, Length: 9},
			{Index: []uint32{1, 1}, Location: "file:///data/y.nc", Offset: 1, Length: 2, ChecksumLastModified: 1700000000},
		}},
		{Node: b, Refs: []ChunkRef{{Index: []uint32{}, Inline: []byte{}}}},
	}}
	got, err := DecodeManifest(EncodeManifest(m))
	require.NoError(t, err)
	assert.Equal(t, m, got) // m was sorted in place by EncodeManifest
	assert.Equal(t, b, got.Arrays[0].Node, "arrays sorted by node id")
	assert.Equal(t, []uint32{0, 0}, got.Arrays[1].Refs[0].Index, "refs sorted by index")
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := &Snapshot{ID: NewObjectID(), FlushedAt: time.UnixMicro(1_780_000_000_123_456).UTC(), Message: "hello",
		Nodes: []Node{
			{ID: NewNodeID(), Path: "/b", UserData: []byte(`{"node_type":"array"}`), Array: &ArrayData{
				Shape: []DimShape{{Length: 10, NumChunks: 2}, {Length: 3, NumChunks: 1}}, DimensionNames: []string{"time", ""},
				Manifests: []ManifestRef{{ID: NewObjectID(), Extents: [][2]uint32{{0, 2}, {0, 1}}}}}},
			{ID: NewNodeID(), Path: "/", UserData: []byte(`{"node_type":"group"}`)},
			{ID: NewNodeID(), Path: "/a-b", UserData: []byte(`{}`), Array: &ArrayData{Shape: []DimShape{{Length: 1, NumChunks: 1}}}},
		},
		ManifestFiles: []ManifestFileInfo{{ID: NewObjectID(), SizeBytes: 99, NumChunkRefs: 2}}}
	got, err := DecodeSnapshot(EncodeSnapshot(s))
	require.NoError(t, err)
	assert.Equal(t, s, got)
	assert.Equal(t, []string{"/", "/a-b", "/b"}, []string{got.Nodes[0].Path, got.Nodes[1].Path, got.Nodes[2].Path})
	n, ok := got.Node("/b")
	require.True(t, ok)
	assert.False(t, n.IsGroup())
}

func TestTransactionLogRoundTrip(t *testing.T) {
	tl := &TransactionLog{ID: NewObjectID(), NewGroups: []NodeID{{3}, {1}}, NewArrays: []NodeID{{2}},
		UpdatedChunks: []ArrayChunks{{Node: NodeID{2}, Chunks: [][]uint32{{1, 0}, {0, 1}}}}}
	got, err := DecodeTransactionLog(EncodeTransactionLog(tl))
	require.NoError(t, err)
	assert.Equal(t, []NodeID{{1}, {3}}, got.NewGroups)
	assert.Equal(t, tl.NewArrays, got.NewArrays)
	assert.Equal(t, [][]uint32{{0, 1}, {1, 0}}, got.UpdatedChunks[0].Chunks)
	assert.Empty(t, got.DeletedArrays)
}

func TestRepoInfoRoundTrip(t *testing.T) {
	t0 := time.UnixMicro(1_780_000_000_000_000).UTC()
	second := ObjectID{0xff}
	info := &RepoInfo{
		Branches:    map[string]ObjectID{"main": second, "dev": InitialSnapshotID},
		Tags:        map[string]ObjectID{"v1": second},
		DeletedTags: []string{"old"},
		Snapshots: []SnapshotInfo{
			{ID: second, Parent: &InitialSnapshotID, FlushedAt: t0.Add(time.Second), Message: "two"},
			{ID: InitialSnapshotID, FlushedAt: t0, Message: "Repository initialized"},
		},
		StatusSetAt: t0,
		Updates: []Update{
			{Kind: UpdateTagCreated, Name: "v1", At: t0.Add(3 * time.Second)},
			{Kind: UpdateNewCommit, Name: "main", New: second, At: t0.Add(2 * time.Second), BackupPath: "repo.1.X"},
			{Kind: UpdateBranchReset, Name: "dev", Previous: second, At: t0.Add(time.Second)},
			{Kind: UpdateRepoInitialized, At: t0},
		},
		Config: []byte{1, 2},
	}
	payload, err := EncodeRepoInfo(info)
	require.NoError(t, err)
	got, err := DecodeRepoInfo(payload)
	require.NoError(t, err)
	assert.Equal(t, info, got)
	assert.Equal(t, InitialSnapshotID, got.Snapshots[0].ID, "snapshots sorted by id")
}

func TestRepoInfoEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		info RepoInfo
	}{
		{"no main", RepoInfo{Branches: map[string]ObjectID{}}},
		{"dangling ref", RepoInfo{Branches: map[string]ObjectID{"main": {1}}}},
		{"bad kind", RepoInfo{Branches: map[string]ObjectID{"main": {1}}, Snapshots: []SnapshotInfo{{ID: ObjectID{1}}}, Updates: []Update{{Kind: 99}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := EncodeRepoInfo(&tt.info)
			assert.ErrorIs(t, err, ErrInvalidArgument)
		})
	}
}

// TestDecodeHostile truncates and corrupts valid payloads: every decoder must
// return ErrCorrupt or succeed, never panic.
func TestDecodeHostile(t *testing.T) {
	m := &Manifest{ID: NewObjectID(), Arrays: []ArrayManifest{{Node: NodeID{1}, Refs: []ChunkRef{{Index: []uint32{0}, Location: "file:///x", Length: 3}}}}}
	s := &Snapshot{ID: NewObjectID(), Nodes: []Node{{ID: NodeID{1}, Path: "/", UserData: []byte("{}")}}}
	ri, err := EncodeRepoInfo(&RepoInfo{Branches: map[string]ObjectID{"main": {1}}, Snapshots: []SnapshotInfo{{ID: ObjectID{1}}}, Updates: []Update{{Kind: UpdateRepoInitialized}}})
	require.NoError(t, err)
	decoders := map[string]struct {
		buf []byte
		dec func([]byte) error
	}{
		"manifest": {EncodeManifest(m), func(b []byte) error { _, err := DecodeManifest(b); return err }},
		"snapshot": {EncodeSnapshot(s), func(b []byte) error { _, err := DecodeSnapshot(b); return err }},
		"txlog":    {EncodeTransactionLog(&TransactionLog{NewArrays: []NodeID{{1}}}), func(b []byte) error { _, err := DecodeTransactionLog(b); return err }},
		"repo":     {ri, func(b []byte) error { _, err := DecodeRepoInfo(b); return err }},
	}
	for name, d := range decoders {
		t.Run(name, func(t *testing.T) {
			for n := 0; n < len(d.buf); n++ {
				if err := d.dec(d.buf[:n]); err != nil {
					assert.ErrorIs(t, err, ErrCorrupt, "truncated to %d", n)
				}
				for _, v := range []byte{0, 0x7f, 0xff} {
					b := bytes.Clone(d.buf)
					b[n] = v
					if err := d.dec(b); err != nil {
						assert.ErrorIs(t, err, ErrCorrupt, "byte %d = %#x", n, v)
					}
				}
			}
		})
	}
}

func TestSortByIndex(t *testing.T) {
	tests := []struct {
		name string
		in   [][]uint32
		want [][]uint32
	}{
		{"sorted", [][]uint32{{0, 1}, {0, 2}}, [][]uint32{{0, 1}, {0, 2}}},
		{"reversed", [][]uint32{{2, 0}, {1, 5}, {1, 0}, {0, 9}}, [][]uint32{{0, 9}, {1, 0}, {1, 5}, {2, 0}}},
		{"big values", [][]uint32{{1 << 31}, {255}, {256}}, [][]uint32{{255}, {256}, {1 << 31}}},
		{"mixed rank", [][]uint32{{1}, {0, 5}, {}}, [][]uint32{{}, {0, 5}, {1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sortByIndex(tt.in, func(c *[]uint32) []uint32 { return *c })
			assert.Equal(t, tt.want, tt.in)
		})
	}
}

// TestSortByIndexRandom compares the radix sort with a comparison sort.
func TestSortByIndexRandom(t *testing.T) {
	for _, rank := range []int{1, 2, 3} {
		in := make([][]uint32, 5000)
		for i := range in {
			in[i] = make([]uint32, rank)
			id := NewObjectID() // random bytes
			for d := range in[i] {
				in[i][d] = uint32(id[4*d])<<24 | uint32(id[4*d+1])<<8 | uint32(id[4*d+2])%7
			}
		}
		want := slices.Clone(in)
		slices.SortFunc(want, slices.Compare)
		sortByIndex(in, func(c *[]uint32) []uint32 { return *c })
		assert.Equal(t, want, in, "rank %d", rank)
	}
}

func TestLastModifiedChecksum(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want uint32
	}{
		{"whole second", time.Unix(1_700_000_000, 0), 1_700_000_000},
		{"rounded up", time.Unix(1_700_000_000, 1), 1_700_000_001},
		{"just below", time.Unix(1_700_000_000, 999_999_999), 1_700_000_001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, LastModifiedChecksum(tt.in)) })
	}
}

// compressedManifest builds a one-ref manifest whose location is "compressed"
// (the bytes given) with the given dictionary, as the official library lays it out.
func compressedManifest(loc, dict []byte) []byte {
	b := flatbuffers.NewBuilder(256)
	idx := u32Vector(b, []uint32{0})
	cl := b.CreateByteVector(loc)
	b.StartObject(10)
	b.PrependUOffsetTSlot(crIndex, idx, 0)
	b.PrependUOffsetTSlot(crCompressedLocation, cl, 0)
	b.PrependUint64Slot(crLength, 1, 0)
	ref := b.EndObject()
	refs := offsetVector(b, []flatbuffers.UOffsetT{ref})
	b.StartObject(3)
	b.PrependStructSlot(amNodeID, prependID(b, []byte{1, 2, 3, 4, 5, 6, 7, 8}), 0)
	b.PrependUOffsetTSlot(amRefs, refs, 0)
	arr := offsetVector(b, []flatbuffers.UOffsetT{b.EndObject()})
	var d flatbuffers.UOffsetT
	if dict != nil {
		d = b.CreateByteVector(dict)
	}
	b.StartObject(5)
	b.PrependStructSlot(mfID, prependID(b, make([]byte, 12)), 0)
	b.PrependUOffsetTSlot(mfArrays, arr, 0)
	b.PrependUOffsetTSlot(mfLocationDictionary, d, 0)
	return finish(b, b.EndObject())
}

func TestDecodeCompressedLocationErrors(t *testing.T) {
	tests := []struct {
		name      string
		loc, dict []byte
	}{
		{"no dictionary", []byte{1, 2, 3}, nil},
		{"garbage dictionary", []byte{1, 2, 3}, []byte("not a zstd dictionary")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeManifest(compressedManifest(tt.loc, tt.dict))
			assert.ErrorIs(t, err, ErrCorrupt)
		})
	}
}
