package icechunk

import (
	"bytes"
	"slices"
	"strings"
	"time"

	flatbuffers "github.com/google/flatbuffers/go"
)

// DimShape is the V2 shape of one array dimension.
type DimShape struct {
	Length    uint64 // array elements along the dimension
	NumChunks uint32 // chunks along the dimension
}

// ManifestRef points an array at the manifest holding its chunk refs for a region
// of the chunk grid: Extents[d] is the half-open range [from, to) of chunk indexes.
type ManifestRef struct {
	ID      ObjectID
	Extents [][2]uint32
}

// ArrayData is the array part of a node.
type ArrayData struct {
	Shape          []DimShape
	DimensionNames []string // optional; "" is an unnamed dimension
	Manifests      []ManifestRef
}

// Node is an array or group of a snapshot; Array is nil for groups.
type Node struct {
	ID       NodeID
	Path     string // absolute: "/", "/a", "/a/b"
	UserData []byte // the node's zarr.json
	Array    *ArrayData
}

// IsGroup reports whether the node is a group.
func (n *Node) IsGroup() bool { return n.Array == nil }

// ManifestFileInfo summarises a manifest file referenced by a snapshot.
type ManifestFileInfo struct {
	ID           ObjectID
	SizeBytes    uint64
	NumChunkRefs uint32
}

// Snapshot is a snapshot file: the full hierarchy at one commit.
type Snapshot struct {
	ID            ObjectID
	Nodes         []Node // sorted by path (raw bytes)
	FlushedAt     time.Time
	Message       string
	ManifestFiles []ManifestFileInfo
}

// Node returns the node at path.
func (s *Snapshot) Node(path string) (*Node, bool) {
	i, ok := slices.BinarySearchFunc(s.Nodes, path, func(n Node, p string) int { return strings.Compare(n.Path, p) })
	if !ok {
		return nil, false
	}
	return &s.Nodes[i], true
}

// Schema slots (declaration order in snapshot.fbs).
const (
	mfiID, mfiSizeBytes, mfiNumChunkRefs                                          = 0, 1, 2
	mrObjectID, mrExtents                                                         = 0, 1
	dsLength, dsNumChunks                                                         = 0, 1
	dnName                                                                        = 0
	andShape, andDimensionNames, andManifests, andShapeV2                         = 0, 1, 2, 3
	nsID, nsPath, nsUserData, nsNodeDataType, nsNodeData                          = 0, 1, 2, 3, 4
	snID, snNodes, snFlushedAt, snMessage, snMetadata, snManifestFiles, snFilesV2 = 0, 2, 3, 4, 5, 6, 7
	nodeDataArray, nodeDataGroup                                                  = 1, 2
)

func micros(t time.Time) uint64 { return uint64(t.UnixMicro()) }

func fromMicros(v uint64) time.Time { return time.UnixMicro(int64(v)).UTC() }

// EncodeSnapshot sorts the nodes and manifest files of s in place and returns the
// FlatBuffers payload.
func EncodeSnapshot(s *Snapshot) []byte {
	slices.SortFunc(s.Nodes, func(a, b Node) int { return strings.Compare(a.Path, b.Path) })
	slices.SortFunc(s.ManifestFiles, func(a, b ManifestFileInfo) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	b := flatbuffers.NewBuilder(4096)

	files := make([]flatbuffers.UOffsetT, len(s.ManifestFiles))
	for i, f := range s.ManifestFiles {
		b.StartObject(4)
		b.PrependUint64Slot(mfiSizeBytes, f.SizeBytes, 0)
		b.PrependStructSlot(mfiID, prependID(b, f.ID[:]), 0)
		b.PrependUint32Slot(mfiNumChunkRefs, f.NumChunkRefs, 0)
		files[i] = b.EndObject()
	}
	filesV2 := offsetVector(b, files)
	b.StartVector(12+8+4, 0, 8) // the V1 list: required, empty in V2
	filesV1 := b.EndVector(0)
	b.StartVector(4, 0, 4)
	metadata := b.EndVector(0)
	msg := b.CreateString(s.Message)

	nodes := make([]flatbuffers.UOffsetT, len(s.Nodes))
	for i, n := range s.Nodes {
		var data flatbuffers.UOffsetT
		dataType := byte(nodeDataGroup)
		if n.Array == nil {
			b.StartObject(0)
			data = b.EndObject()
		} else {
			dataType = nodeDataArray
			data = encodeArrayData(b, n.Array)
		}
		path := b.CreateString(n.Path)
		ud := b.CreateByteVector(n.UserData)
		b.StartObject(6)
		b.PrependStructSlot(nsID, prependID(b, n.ID[:]), 0)
		b.PrependUOffsetTSlot(nsPath, path, 0)
		b.PrependUOffsetTSlot(nsUserData, ud, 0)
		b.PrependUOffsetTSlot(nsNodeData, data, 0)
		b.PrependByteSlot(nsNodeDataType, dataType, 0)
		nodes[i] = b.EndObject()
	}
	nv := offsetVector(b, nodes)

	b.StartObject(9)
	b.PrependUint64Slot(snFlushedAt, micros(s.FlushedAt), 0)
	b.PrependStructSlot(snID, prependID(b, s.ID[:]), 0)
	b.PrependUOffsetTSlot(snNodes, nv, 0)
	b.PrependUOffsetTSlot(snMessage, msg, 0)
	b.PrependUOffsetTSlot(snMetadata, metadata, 0)
	b.PrependUOffsetTSlot(snManifestFiles, filesV1, 0)
	b.PrependUOffsetTSlot(snFilesV2, filesV2, 0)
	return finish(b, b.EndObject())
}

func encodeArrayData(b *flatbuffers.Builder, a *ArrayData) flatbuffers.UOffsetT {
	shapes := make([]flatbuffers.UOffsetT, len(a.Shape))
	for i, d := range a.Shape {
		b.StartObject(2)
		b.PrependUint64Slot(dsLength, d.Length, 0)
		b.PrependUint32Slot(dsNumChunks, d.NumChunks, 0)
		shapes[i] = b.EndObject()
	}
	shapeV2 := offsetVector(b, shapes)
	var dimNames flatbuffers.UOffsetT
	if a.DimensionNames != nil {
		names := make([]flatbuffers.UOffsetT, len(a.DimensionNames))
		for i, name := range a.DimensionNames {
			var s flatbuffers.UOffsetT
			if name != "" {
				s = b.CreateString(name)
			}
			b.StartObject(1)
			b.PrependUOffsetTSlot(dnName, s, 0)
			names[i] = b.EndObject()
		}
		dimNames = offsetVector(b, names)
	}
	refs := make([]flatbuffers.UOffsetT, len(a.Manifests))
	for i, m := range a.Manifests {
		b.StartVector(8, len(m.Extents), 4)
		for j := len(m.Extents) - 1; j >= 0; j-- {
			b.Prep(4, 8)
			b.PrependUint32(m.Extents[j][1])
			b.PrependUint32(m.Extents[j][0])
		}
		ext := b.EndVector(len(m.Extents))
		b.StartObject(2)
		b.PrependStructSlot(mrObjectID, prependID(b, m.ID[:]), 0)
		b.PrependUOffsetTSlot(mrExtents, ext, 0)
		refs[i] = b.EndObject()
	}
	mv := offsetVector(b, refs)
	b.StartVector(16, 0, 8)
	shapeV1 := b.EndVector(0)
	b.StartObject(4)
	b.PrependUOffsetTSlot(andShape, shapeV1, 0)
	b.PrependUOffsetTSlot(andDimensionNames, dimNames, 0)
	b.PrependUOffsetTSlot(andManifests, mv, 0)
	b.PrependUOffsetTSlot(andShapeV2, shapeV2, 0)
	return b.EndObject()
}

// DecodeSnapshot parses a snapshot payload.
func DecodeSnapshot(buf []byte) (*Snapshot, error) {
	root, err := rootTable(buf)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{}
	if s.ID, err = root.objectID(snID, "snapshot id"); err != nil {
		return nil, err
	}
	fa, err := root.u64(snFlushedAt, 0)
	if err != nil {
		return nil, err
	}
	s.FlushedAt = fromMicros(fa)
	if s.Message, err = root.str(snMessage); err != nil {
		return nil, err
	}
	files, err := root.tables(snFilesV2)
	if err != nil {
		return nil, err
	}
	for _, ft := range files {
		var f ManifestFileInfo
		if f.ID, err = ft.objectID(mfiID, "manifest file id"); err != nil {
			return nil, err
		}
		if f.SizeBytes, err = ft.u64(mfiSizeBytes, 0); err != nil {
			return nil, err
		}
		if f.NumChunkRefs, err = ft.u32(mfiNumChunkRefs, 0); err != nil {
			return nil, err
		}
		s.ManifestFiles = append(s.ManifestFiles, f)
	}
	nodes, err := root.tables(snNodes)
	if err != nil {
		return nil, err
	}
	s.Nodes = make([]Node, len(nodes))
	for i, nt := range nodes {
		if s.Nodes[i], err = decodeNode(nt); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func decodeNode(t fbTable) (Node, error) {
	var n Node
	var err error
	if n.ID, err = t.nodeID(nsID, "node id"); err != nil {
		return n, err
	}
	if n.Path, err = t.str(nsPath); err != nil {
		return n, err
	}
	ud, err := t.bytesField(nsUserData)
	if err != nil {
		return n, err
	}
	n.UserData = bytes.Clone(ud)
	typ, err := t.u8(nsNodeDataType, 0)
	if err != nil {
		return n, err
	}
	data, ok, err := t.table(nsNodeData)
	if err != nil {
		return n, err
	}
	switch {
	case !ok:
		return n, corruptf("node %q has no node data", n.Path)
	case typ == nodeDataGroup:
		return n, nil
	case typ != nodeDataArray:
		return n, corruptf("node %q has node data type %d", n.Path, typ)
	}
	a := &ArrayData{}
	shapes, err := data.tables(andShapeV2)
	if err != nil {
		return n, err
	}
	for _, st := range shapes {
		var d DimShape
		if d.Length, err = st.u64(dsLength, 0); err != nil {
			return n, err
		}
		if d.NumChunks, err = st.u32(dsNumChunks, 0); err != nil {
			return n, err
		}
		a.Shape = append(a.Shape, d)
	}
	names, err := data.tables(andDimensionNames)
	if err != nil {
		return n, err
	}
	for _, nt := range names {
		name, err := nt.str(dnName)
		if err != nil {
			return n, err
		}
		a.DimensionNames = append(a.DimensionNames, name)
	}
	refs, err := data.tables(andManifests)
	if err != nil {
		return n, err
	}
	for _, rt := range refs {
		var m ManifestRef
		if m.ID, err = rt.objectID(mrObjectID, "manifest ref id"); err != nil {
			return n, err
		}
		ext, err := rt.structs(mrExtents, 8)
		if err != nil {
			return n, err
		}
		for _, e := range ext {
			m.Extents = append(m.Extents, [2]uint32{flatbuffers.GetUint32(e), flatbuffers.GetUint32(e[4:])})
		}
		a.Manifests = append(a.Manifests, m)
	}
	n.Array = a
	return n, nil
}
