package kerchunk

import (
	"bytes"
	"fmt"
	"path"
	"slices"

	"github.com/greensight/vzarr/hdf5meta"
)

// vdsPlan is how a virtual dataset (VDS) is referenced: the chunks of its
// sources, each placed whole at start on the VDS's chunk grid.
type vdsPlan struct {
	sources []vdsSource
	filters []hdf5meta.Filter // the sources' (all the same)
}

type vdsSource struct {
	ds    *hdf5meta.Dataset
	file  *sourceFile // the file holding ds
	start []uint64    // where the source's first element lies in the VDS
	pad   int         // leading VDS dimensions the source lacks (of length 1)
}

// planVirtual checks that every mapping of a virtual dataset places a
// whole source dataset of the same file, of the VDS's type, chunked (or
// contiguous) like the others with the same filters, at a position on that
// chunk grid, so that the sources' chunks are the VDS's chunks. It returns
// the chunk shape; any other mapping is ErrUnsupported, saying why.
func (t *h5translator) planVirtual(p *varPlan) ([]uint64, error) {
	ds := p.ds
	dims := ds.Space.Dims
	ms, err := ds.VirtualMappings()
	if err != nil {
		return nil, err
	}
	unsupported := func(i int, m hdf5meta.VirtualMapping, format string, args ...any) error {
		return fmt.Errorf("%w: virtual dataset (VDS) mapping %d (%s in %q): %s; only mappings of whole source datasets of the same file on a common chunk grid can be referenced",
			ErrUnsupported, i, m.SourceDataset, m.SourceFile, fmt.Sprintf(format, args...))
	}
	vp := &vdsPlan{}
	var chunks []uint64
	for i, m := range ms {
		sf := &sourceFile{f: t.f, url: t.url, size: t.h.size}
		if m.SourceFile != "." && m.SourceFile != path.Base(t.url) {
			if t.opts.OpenSource == nil {
				return nil, unsupported(i, m, "the source is in another file")
			}
			if sf, err = t.sourceFile(m.SourceFile); err != nil {
				return nil, fmt.Errorf("virtual dataset (VDS) mapping %d: %w", i, err)
			}
		}
		o, err := sf.f.Object("/" + m.SourceDataset)
		if err != nil {
			return nil, unsupported(i, m, "%v", err)
		}
		src, ok := o.(*hdf5meta.Dataset)
		if !ok {
			return nil, unsupported(i, m, "the source is not a dataset")
		}
		sdims := src.Space.Dims
		if len(sdims) > len(dims) || src.Space.Kind != hdf5meta.SpaceSimple {
			return nil, unsupported(i, m, "the source has rank %d, the VDS %d", len(sdims), len(dims))
		}
		// A source of lower rank is a block of length 1 along the VDS's
		// leading dimensions (rows of a stack).
		pad := len(dims) - len(sdims)
		full := append(slices.Repeat([]uint64{1}, pad), sdims...)
		zs, err := zarrType(src.Type)
		if err != nil || zs.dtype.Str != p.zt.dtype.Str || src.Type.Size != ds.Type.Size {
			return nil, unsupported(i, m, "the source's type differs from the VDS's")
		}
		if !wholeSelection(m.Source, sdims) {
			return nil, unsupported(i, m, "it selects part of the source (%s selection)", m.Source.Kind)
		}
		start, ok := blockAt(m.Virtual, full, dims)
		if !ok {
			return nil, unsupported(i, m, "its place in the VDS is not one block of the source's shape (%s selection)", m.Virtual.Kind)
		}
		var c []uint64
		var filters []hdf5meta.Filter
		switch src.Layout.Class {
		case hdf5meta.LayoutChunked:
			if src.Layout.DontFilterPartialEdge {
				return nil, unsupported(i, m, "the source's partial edge chunks are unfiltered")
			}
			c, filters = src.Layout.ChunkDims, src.Filters
		case hdf5meta.LayoutContiguous:
			if len(src.External) > 0 {
				return nil, unsupported(i, m, "the source's data is in external files")
			}
			c = sdims
		default:
			return nil, unsupported(i, m, "the source's layout is %s", src.Layout.Class)
		}
		c = append(slices.Repeat([]uint64{1}, pad), c...)
		if chunks == nil {
			chunks, vp.filters = c, filters
		} else if !slices.Equal(chunks, c) || !sameFilters(vp.filters, filters) {
			return nil, unsupported(i, m, "the source is chunked %v with %d filters, another %v with %d", c, len(filters), chunks, len(vp.filters))
		}
		for k := range dims {
			if chunks[k] == 0 || start[k]%chunks[k] != 0 || (full[k]%chunks[k] != 0 && start[k]+full[k] != dims[k]) {
				return nil, unsupported(i, m, "its place %v is not on the %v chunk grid", start, chunks)
			}
		}
		vp.sources = append(vp.sources, vdsSource{ds: src, file: sf, start: start, pad: pad})
	}
	if chunks == nil {
		chunks = make([]uint64, len(dims))
		for k, n := range dims {
			chunks[k] = max(n, 1)
		}
	}
	p.vds = vp
	return chunks, nil
}

// wholeSelection reports a selection of every element of dims.
func wholeSelection(s hdf5meta.Selection, dims []uint64) bool {
	if s.Kind == hdf5meta.SelectAll {
		return true
	}
	start, ok := blockAt(s, dims, dims)
	return ok && !slices.ContainsFunc(start, func(v uint64) bool { return v != 0 })
}

// blockAt returns where a selection of one block of shape block lies
// within dims.
func blockAt(s hdf5meta.Selection, block, dims []uint64) ([]uint64, bool) {
	switch {
	case s.Kind == hdf5meta.SelectAll:
		return make([]uint64, len(dims)), slices.Equal(block, dims)
	case s.Kind != hdf5meta.SelectHyperslab || !s.Regular || len(s.Start) != len(dims):
		return nil, false
	}
	for k := range dims {
		if s.Count[k] != 1 || s.Block[k] != block[k] || s.Start[k] > dims[k] || block[k] > dims[k]-s.Start[k] {
			return nil, false
		}
	}
	return slices.Clone(s.Start), true
}

func sameFilters(a, b []hdf5meta.Filter) bool {
	return slices.EqualFunc(a, b, func(x, y hdf5meta.Filter) bool {
		return x.ID == y.ID && slices.Equal(x.Params, y.Params)
	})
}

// sourceFile is an HDF5 file a virtual dataset reads: the one translated,
// or another one opened with Options.OpenSource.
type sourceFile struct {
	f     *hdf5meta.File
	url   string
	size  int64
	close func()
}

// sourceFile opens (once) the file a virtual dataset mapping names.
func (t *h5translator) sourceFile(name string) (*sourceFile, error) {
	url, err := t.externalURL(name)
	if err != nil {
		return nil, err
	}
	if sf, ok := t.sources[url]; ok {
		return sf, nil
	}
	r, size, closeFn, err := t.opts.OpenSource(t.ctx, url)
	if err != nil {
		return nil, fmt.Errorf("opening the source file %s: %w", url, err)
	}
	f, err := hdf5meta.Open(r, size, hdf5meta.WithLimits(t.opts.Limits))
	if err != nil {
		if closeFn != nil {
			closeFn()
		}
		return nil, fmt.Errorf("source file %s: %w", url, err)
	}
	if t.sources == nil {
		t.sources = map[string]*sourceFile{}
	}
	sf := &sourceFile{f: f, url: url, size: size, close: closeFn}
	t.sources[url] = sf
	return sf, nil
}

// closeSources closes the files sourceFile opened.
func (t *h5translator) closeSources() {
	for _, sf := range t.sources {
		if sf.close != nil {
			sf.close()
		}
	}
}

// virtualChunks lists the chunks of a virtual dataset's sources at their
// places in its grid. A source's never-written chunks must read as the
// VDS's never-written chunks do, and mappings must not overlap.
func (t *h5translator) virtualChunks(p *varPlan, list *chunkList) (*chunkList, error) {
	chunks := p.za.Chunks[:p.h5rank]
	var urls []string
	for _, s := range p.vds.sources {
		src := s.ds
		other := s.file.url != t.url
		if other && p.transform {
			return nil, fmt.Errorf("%w: %s, and virtual dataset (VDS) source %s is in another file, which the translator does not copy", ErrUnsupported, p.exactWhy, src.Path)
		}
		n := 0
		add := func(offset []uint64, addr, size uint64, mask uint32) error {
			n++
			if err := t.countChunk(p, uint64(len(list.ents))+1); err != nil {
				return err
			}
			var lin uint64
			for k := range p.h5rank {
				o := uint64(0)
				if k >= s.pad {
					o = offset[k-s.pad]
				}
				lin = lin*p.grid[k] + (s.start[k]+o)/chunks[k]
			}
			off := s.file.f.AbsOffset(addr)
			if off < 0 || int64(size) > s.file.size-off {
				return fmt.Errorf("%w: chunk %v of %s, %d bytes at offset %d, past the end of the %d-byte file %s", hdf5meta.ErrTruncated, offset, src.Path, size, off, s.file.size, s.file.url)
			}
			if other && mask != 0 {
				return fmt.Errorf("%w: chunk %v of virtual dataset (VDS) source %s in another file skipped filters (mask %#x) and would have to be re-encoded", ErrUnsupported, offset, src.Path, mask)
			}
			list.ents = append(list.ents, storedEntry{lin: lin, off: off, size: int64(size), mask: mask})
			urls = append(urls, s.file.url)
			return nil
		}
		total := uint64(1)
		switch src.Layout.Class {
		case hdf5meta.LayoutContiguous:
			if src.Layout.Address != undefAddr {
				if err := add(make([]uint64, len(src.Space.Dims)), src.Layout.Address, src.Space.NumElements()*uint64(src.Type.Size), 0); err != nil {
					return nil, err
				}
			}
		default:
			for k, d := range src.Space.Dims {
				total *= (d + chunks[s.pad+k] - 1) / chunks[s.pad+k]
			}
			err := src.ForEachChunk(func(c hdf5meta.Chunk) error {
				for k, o := range c.Offset {
					if o >= src.Space.Dims[k] {
						return nil // beyond the source's extent: never read
					}
				}
				return add(c.Offset, c.Addr, c.Size, c.FilterMask)
			})
			if err != nil {
				return nil, fmt.Errorf("source %s: %w", src.Path, err)
			}
		}
		if uint64(n) < total && !bytes.Equal(missingBytes(src), p.missing) {
			return nil, fmt.Errorf("%w: virtual dataset (VDS) source %s has never-written chunks, which read as its fill value, not the VDS's", ErrUnsupported, src.Path)
		}
	}
	// Sort entries (and their URLs) by grid position.
	order := make([]int, len(list.ents))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return byLin(list.ents[a], list.ents[b]) })
	ents := make([]storedEntry, len(order))
	list.urls = make([]string, len(order))
	for i, j := range order {
		ents[i], list.urls[i] = list.ents[j], urls[j]
	}
	list.ents = ents
	for i := 1; i < len(list.ents); i++ {
		if list.ents[i].lin == list.ents[i-1].lin {
			return nil, fmt.Errorf("%w: virtual dataset (VDS) mappings overlap", ErrUnsupported)
		}
	}
	t.nchunks += uint64(len(list.ents))
	return list, nil
}
