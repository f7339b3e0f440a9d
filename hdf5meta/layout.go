package hdf5meta

// LayoutClass is how a dataset's raw data is stored.
type LayoutClass int

// The layout classes of the data layout message.
const (
	LayoutCompact    LayoutClass = 0 // data inside the object header
	LayoutContiguous LayoutClass = 1 // one contiguous extent of the file
	LayoutChunked    LayoutClass = 2 // chunks found through a chunk index
	LayoutVirtual    LayoutClass = 3 // mapped from other datasets (VDS)
)

// String returns the class's name as h5dump spells it in lower case
// ("compact", "contiguous", "chunked", "virtual").
func (c LayoutClass) String() string {
	if s, ok := enumName(c, layoutNames[:]); ok {
		return s
	}
	return "unknown"
}

var layoutNames = [...]string{"compact", "contiguous", "chunked", "virtual"}

// ChunkIndex is the structure that indexes a chunked dataset's chunks.
type ChunkIndex int

// The chunk indexes of the data layout message (the values of version 4's
// index type field; version 1-3 layouts always use IndexBTreeV1).
const (
	IndexBTreeV1     ChunkIndex = 0 // layout message versions 1-3
	IndexSingleChunk ChunkIndex = 1 // one chunk, the whole dataset
	IndexImplicit    ChunkIndex = 2 // chunks at fixed places, allocated early
	IndexFixedArray  ChunkIndex = 3 // fixed-size dimensions
	IndexExtArray    ChunkIndex = 4 // one unlimited dimension
	IndexBTreeV2     ChunkIndex = 5 // several unlimited dimensions
)

// String returns the index's name ("btree_v1", "single_chunk",
// "implicit", "fixed_array", "extensible_array", "btree_v2").
func (c ChunkIndex) String() string {
	if s, ok := enumName(c, chunkIndexNames[:]); ok {
		return s
	}
	return "unknown"
}

var chunkIndexNames = [...]string{"btree_v1", "single_chunk", "implicit", "fixed_array", "extensible_array", "btree_v2"}

// Layout is a dataset's data layout message.
type Layout struct {
	Version int
	Class   LayoutClass

	// Contiguous: Address (undefined when never written) and Size.
	// Chunked: Address of the chunk index (undefined when no chunk exists).
	Address uint64
	Size    uint64

	CompactData []byte // compact: the data itself

	ChunkDims  []uint64 // chunked: chunk shape in elements (no element-size dim)
	ChunkIndex ChunkIndex
	// SingleChunkFiltered reports a single-chunk index for a filtered
	// dataset; FilteredSize and FilterMask then describe that chunk.
	SingleChunkFiltered bool
	FilteredSize        uint64
	FilterMask          uint32
	// Fixed array: PageBits. Extensible array: MaxBits, IndexElements,
	// MinPointers, MinElements, PageBits. B-tree v2: NodeSize, SplitPct, MergePct.
	PageBits, MaxBits, IndexElements, MinPointers, MinElements int
	NodeSize                                                   uint32
	SplitPct, MergePct                                         int
	// DontFilterPartialEdge: partial edge chunks are stored unfiltered.
	DontFilterPartialEdge bool
	// VirtualHeapIndex: virtual, the index of the mappings (see
	// Dataset.VirtualMappings) in the global heap collection at Address.
	VirtualHeapIndex uint32
}

func (f *File) parseLayout(m *message) (Layout, error) {
	d := f.newDecoder(m.data, m.off, "data layout message")
	var l Layout
	l.Version = int(d.u8())
	switch l.Version {
	case 1, 2:
		rank := int(d.u8())
		l.Class = LayoutClass(d.u8())
		d.skip(5)
		if rank > maxRank+1 {
			return l, formatErr(m.off, "layout rank %d", rank)
		}
		if l.Class != LayoutCompact {
			l.Address = d.addr()
		}
		dims := make([]uint64, rank)
		for i := range dims {
			dims[i] = uint64(d.u32())
		}
		switch l.Class {
		case LayoutChunked:
			if rank < 1 {
				return l, formatErr(m.off, "chunked layout with rank 0")
			}
			l.ChunkDims = dims[:rank-1]
			l.ChunkIndex = IndexBTreeV1
		case LayoutCompact:
			n := int(d.u32())
			l.CompactData = d.bytes(n)
			l.Size = uint64(n)
		case LayoutContiguous:
			// Versions 1 and 2 store no size; it follows from the dataspace.
		}
	case 3, 4:
		l.Class = LayoutClass(d.u8())
		switch l.Class {
		case LayoutCompact:
			n := int(d.u16())
			l.CompactData = d.bytes(n)
			l.Size = uint64(n)
		case LayoutContiguous:
			l.Address = d.addr()
			l.Size = d.length()
		case LayoutChunked:
			if l.Version == 3 {
				rank := int(d.u8())
				if rank < 1 || rank > maxRank+1 {
					return l, formatErr(m.off, "chunked layout rank %d", rank)
				}
				l.Address = d.addr()
				for i := 0; i < rank; i++ {
					l.ChunkDims = append(l.ChunkDims, uint64(d.u32()))
				}
				l.ChunkDims = l.ChunkDims[:rank-1]
				l.ChunkIndex = IndexBTreeV1
				break
			}
			flags := d.u8()
			l.DontFilterPartialEdge = flags&1 != 0
			rank := int(d.u8())
			encLen := int(d.u8())
			if rank < 1 || rank > maxRank+1 || encLen < 1 || encLen > 8 {
				return l, formatErr(m.off, "chunked layout rank %d, dimension size %d bytes", rank, encLen)
			}
			for i := 0; i < rank; i++ {
				l.ChunkDims = append(l.ChunkDims, d.uvar(encLen))
			}
			l.ChunkDims = l.ChunkDims[:rank-1]
			l.ChunkIndex = ChunkIndex(d.u8())
			switch l.ChunkIndex {
			case IndexSingleChunk:
				if flags&2 != 0 {
					l.SingleChunkFiltered = true
					l.FilteredSize = d.length()
					l.FilterMask = d.u32()
				}
			case IndexImplicit:
			case IndexFixedArray:
				l.PageBits = int(d.u8())
			case IndexExtArray:
				l.MaxBits = int(d.u8())
				l.IndexElements = int(d.u8())
				l.MinPointers = int(d.u8())
				l.MinElements = int(d.u8())
				l.PageBits = int(d.u8())
			case IndexBTreeV2:
				l.NodeSize = d.u32()
				l.SplitPct = int(d.u8())
				l.MergePct = int(d.u8())
			default:
				if d.err != nil {
					return l, d.err
				}
				return l, unsupportedErr(m.off, "chunk index type %d", int(l.ChunkIndex))
			}
			l.Address = d.addr()
		case LayoutVirtual:
			// The mapping lives in the global heap; virtual datasets are
			// reported as such and their sources are not followed.
			l.Address = d.addr()
			l.VirtualHeapIndex = d.u32()
		default:
			if d.err != nil {
				return l, d.err
			}
			return l, formatErr(m.off, "layout class %d", int(l.Class))
		}
	default:
		if d.err != nil {
			return l, d.err
		}
		return l, formatErr(m.off, "data layout message version %d", l.Version)
	}
	if d.err != nil {
		return l, d.err
	}
	for _, c := range l.ChunkDims {
		if c == 0 {
			return l, formatErr(m.off, "chunk dimension of size 0")
		}
	}
	return l, nil
}
