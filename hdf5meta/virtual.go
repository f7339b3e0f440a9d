package hdf5meta

import "math"

// SelectionKind is the kind of a dataspace selection.
type SelectionKind int

// Selection kinds, as HDF5 encodes them.
const (
	SelectNone      SelectionKind = 0
	SelectPoints    SelectionKind = 1
	SelectHyperslab SelectionKind = 2
	SelectAll       SelectionKind = 3
)

// String names the selection kind as the HDF5 documentation does.
func (k SelectionKind) String() string {
	switch k {
	case SelectNone:
		return "none"
	case SelectPoints:
		return "points"
	case SelectHyperslab:
		return "hyperslab"
	case SelectAll:
		return "all"
	}
	return "unknown"
}

// SelectUnlimited is a hyperslab Count (or Block) that extends with the
// dataspace (H5S_UNLIMITED).
const SelectUnlimited = math.MaxUint64

// Selection is a dataspace selection of a virtual dataset mapping. A
// hyperslab lists its blocks, each as its first and last coordinates, when
// stored so; a regular one (or one of a single block) has Start, Stride,
// Count and Block per dimension.
type Selection struct {
	Kind                        SelectionKind
	Regular                     bool
	Start, Stride, Count, Block []uint64
	Blocks                      [][2][]uint64
}

// VirtualMapping is one mapping of a virtual dataset (VDS): the elements
// of Source in dataset SourceDataset of file SourceFile ("." for the file
// itself) appear at the elements of Virtual.
type VirtualMapping struct {
	SourceFile    string
	SourceDataset string
	Source        Selection
	Virtual       Selection
}

// Bounds on what a virtual dataset's mappings may make the parser hold.
const (
	maxVirtualMappings = 1 << 20
	maxSelectionBlocks = 1 << 20
)

// VirtualMappings reads the mappings of a virtual dataset from the global
// heap (version 0 of the "virtual dataset global heap block").
func (d *Dataset) VirtualMappings() ([]VirtualMapping, error) {
	f := d.f
	if d.Layout.Class != LayoutVirtual {
		return nil, nil
	}
	b, err := f.globalHeapObject(d.Layout.Address, d.Layout.VirtualHeapIndex)
	if err != nil {
		return nil, withPath(err, d.Path)
	}
	off := f.AbsOffset(d.Layout.Address)
	dec := f.newDecoder(b, off, "virtual dataset mappings")
	if v := dec.u8(); v != 0 {
		if dec.err != nil {
			return nil, dec.err
		}
		return nil, unsupportedErr(off, "virtual dataset mappings version %d", v)
	}
	n := dec.length()
	if dec.err != nil {
		return nil, dec.err
	}
	// Each mapping takes at least 2 names and 2 selection headers.
	if n > maxVirtualMappings || n*34 > uint64(dec.remaining()) {
		return nil, formatErr(off, "%d virtual dataset mappings in %d bytes", n, dec.remaining())
	}
	out := make([]VirtualMapping, 0, n)
	for range n {
		var m VirtualMapping
		m.SourceFile = dec.cstring()
		m.SourceDataset = dec.cstring()
		if m.Source, err = f.parseSelection(dec); err != nil {
			return nil, err
		}
		if m.Virtual, err = f.parseSelection(dec); err != nil {
			return nil, err
		}
		if dec.err != nil {
			return nil, dec.err
		}
		out = append(out, m)
	}
	return out, dec.err
}

// parseSelection reads a serialized selection (H5S_SELECT_SERIALIZE):
// all and none, and hyperslabs of versions 1 to 3.
func (f *File) parseSelection(d *decoder) (Selection, error) {
	at := d.offset()
	var s Selection
	s.Kind = SelectionKind(d.u32())
	version := d.u32()
	if d.err != nil {
		return s, d.err
	}
	switch s.Kind {
	case SelectAll, SelectNone:
		d.skip(8) // reserved, length
		return s, d.err
	case SelectHyperslab:
	default:
		return s, unsupportedErr(at, "%s selection", s.Kind)
	}
	var rank, encSize int
	regular := false
	switch version {
	case 1:
		d.skip(8) // reserved, length
		rank, encSize = int(d.u32()), 4
	case 2:
		regular = d.u8()&1 != 0
		d.skip(4) // length
		rank, encSize = int(d.u32()), 8
		if !regular {
			return s, formatErr(at, "irregular hyperslab selection of version 2")
		}
	case 3:
		regular = d.u8()&1 != 0
		encSize = int(d.u8())
		rank = int(d.u32())
		if encSize != 2 && encSize != 4 && encSize != 8 {
			return s, formatErr(at, "hyperslab selection with %d-byte values", encSize)
		}
	default:
		return s, unsupportedErr(at, "hyperslab selection version %d", version)
	}
	if d.err != nil {
		return s, d.err
	}
	if rank < 1 || rank > maxRank {
		return s, formatErr(at, "hyperslab selection of rank %d", rank)
	}
	read := func() uint64 {
		v := d.uvar(encSize)
		if encSize < 8 && v == 1<<(8*encSize)-1 {
			return SelectUnlimited
		}
		return v
	}
	if regular {
		s.Regular = true
		for range rank {
			s.Start = append(s.Start, read())
			s.Stride = append(s.Stride, read())
			s.Count = append(s.Count, read())
			s.Block = append(s.Block, read())
		}
		return s, d.err
	}
	n := read()
	if n > maxSelectionBlocks || n*uint64(2*rank*encSize) > uint64(d.remaining()) {
		return s, formatErr(at, "hyperslab selection of %d blocks in %d bytes", n, d.remaining())
	}
	for range n {
		var blk [2][]uint64
		for c := range 2 {
			for range rank {
				blk[c] = append(blk[c], read())
			}
		}
		s.Blocks = append(s.Blocks, blk)
	}
	if d.err == nil && len(s.Blocks) == 1 {
		// One block is a regular hyperslab, however encoded.
		s.Regular = true
		for i := range rank {
			first, last := s.Blocks[0][0][i], s.Blocks[0][1][i]
			if last < first {
				return s, formatErr(at, "hyperslab block from %d to %d", first, last)
			}
			s.Start = append(s.Start, first)
			s.Stride = append(s.Stride, 1)
			s.Count = append(s.Count, 1)
			s.Block = append(s.Block, last-first+1)
		}
	}
	return s, d.err
}
