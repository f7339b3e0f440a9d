package kerchunk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/netcdf3"
	"github.com/greensight/vzarr/netcdf4"
)

// Source reads, from a NetCDF/HDF5 file itself, what each array of the
// file's references should hold: HDF5 chunks located through the chunk
// index and decoded with the HDF5 filter pipeline (filter masks, n-bit,
// scale-offset included), never-written storage read as libhdf5 reads it,
// netCDF-3 variables from their byte ranges. refread.Verify compares it
// with what the references give. A Source is not safe for concurrent use.
type Source struct {
	arrays func(path string) (expecter, error)
	cache  map[string]expecter
	errs   map[string]error
}

// OpenSource opens the NetCDF/HDF5 file in r (size bytes) as a Source.
// r is read as given: a caller reading slow storage passes a cached reader.
func OpenSource(ctx context.Context, r io.ReaderAt, size int64) (*Source, error) {
	s := &Source{cache: map[string]expecter{}, errs: map[string]error{}}
	var head [4]byte
	n, _ := r.ReadAt(head[:], 0)
	if n == 4 && netcdf3.IsNetCDF3(head[:]) {
		f, err := netcdf3.Open(r, size)
		if err != nil {
			return nil, err
		}
		s.arrays = func(path string) (expecter, error) {
			v := f.Var(path)
			if v == nil {
				return nil, fmt.Errorf("no variable %q in the source", path)
			}
			return &nc3Expect{r: r, v: v}, nil
		}
		return s, nil
	}
	t, err := newH5Translator(ctx, r, size, "", Options{})
	if err != nil {
		return nil, err
	}
	vars := map[string]*netcdf4.Var{}
	for _, v := range t.m.Vars {
		vars[v.Key()] = v
	}
	s.arrays = func(path string) (expecter, error) {
		v := vars[path]
		if v == nil {
			return nil, fmt.Errorf("no variable %q in the source", path)
		}
		p, err := t.plan(path, v)
		if err != nil {
			return nil, err
		}
		stored, err := t.storedChunks(p)
		if err != nil {
			return nil, err
		}
		e := &h5Expect{t: t, p: p, stored: map[uint64]srcChunk{}}
		for i := range stored.n() {
			c := stored.get(i)
			e.stored[c.lin] = c
		}
		return e, nil
	}
	return s, nil
}

// Chunk returns the chunk at grid index idx of the array at path ("tas",
// "g1/tas") as its Zarr chunk holds it, decoded: the bytes of its
// elements (fixed-size types), or its items (variable-length strings and
// sequences; nil items for a never-written chunk).
func (s *Source) Chunk(path string, idx []uint64) (raw []byte, items [][]byte, err error) {
	if err := s.Check(path); err != nil {
		return nil, nil, err
	}
	return s.cache[path].chunk(idx)
}

// Check reports why the source cannot give the chunks of the array at
// path (it has no such variable, or its layout cannot be read), or nil.
func (s *Source) Check(path string) error {
	if _, ok := s.cache[path]; ok {
		return nil
	}
	if err, ok := s.errs[path]; ok {
		return err
	}
	e, err := s.arrays(path)
	if err != nil {
		s.errs[path] = err
		return err
	}
	s.cache[path] = e
	return nil
}

// newH5Translator opens an HDF5 file and builds its netCDF-4 view.
func newH5Translator(ctx context.Context, r io.ReaderAt, size int64, url string, opts Options) (*h5translator, error) {
	o := opts.norm()
	f, err := hdf5meta.Open(r, size)
	if err != nil {
		return nil, err
	}
	m, err := netcdf4.New(ctx, f)
	if err != nil {
		return nil, err
	}
	return &h5translator{ctx: ctx, opts: o, name: url, url: url, f: f, h: newH5Reader(r, size, f), m: m,
		refs: NewRefs(0), res: &Result{Dimensions: map[string]uint64{}, Variables: map[string]*VarInfo{}}}, nil
}

// expecter gives a chunk's expected content from the source: raw Zarr
// elements, or items for variable-length arrays.
type expecter interface {
	chunk(idx []uint64) ([]byte, [][]byte, error)
}

type h5Expect struct {
	t      *h5translator
	p      *varPlan
	stored map[uint64]srcChunk
}

func (e *h5Expect) chunk(idx []uint64) ([]byte, [][]byte, error) {
	p := e.p
	if p.tooBig {
		return nil, nil, p.errTooBig()
	}
	var lin uint64
	for i, x := range idx {
		lin = lin*p.grid[i] + x
	}
	gap := newFillChunks(p, nil)
	cls := gap.class(idx)
	var raw []byte
	if c, ok := e.stored[lin]; ok {
		stored := c.data
		if stored == nil {
			if c.url != e.t.url && c.url != "" {
				return nil, nil, fmt.Errorf("%w: data in the external file %s", ErrUnsupported, c.url)
			}
			b, err := e.t.h.readAbs(c.off, c.size, "chunk")
			if err != nil {
				return nil, nil, err
			}
			stored = b
		}
		if !c.whole {
			var err error
			if stored, err = decodePipeline(p.srcFilters, c.mask, stored, p.rawChunk, p.ds.Type, p.nelem); err != nil {
				return nil, nil, err
			}
		}
		raw = append([]byte(nil), stored...)
	} else {
		switch cls {
		case chunkBeyond:
			raw = bytes.Repeat(p.beyond, p.nelem)
		default:
			raw = bytes.Repeat(p.missing, p.nelem)
		}
	}
	if cls == chunkStraddles {
		patchBeyond(p, idx, raw)
	}
	if p.zt.kind != kindFixed {
		if _, ok := e.stored[lin]; !ok {
			return nil, make([][]byte, p.nelem), nil
		}
		items, err := e.t.vlenItems(p, raw)
		return nil, items, err
	}
	return p.convert(raw), nil, nil
}

type nc3Expect struct {
	r io.ReaderAt
	v *netcdf3.Var
}

func (e *nc3Expect) chunk(idx []uint64) ([]byte, [][]byte, error) {
	i := int64(0)
	if e.v.IsRecord {
		i = int64(idx[0])
	}
	if i >= e.v.NumSlabs() {
		return nil, nil, fmt.Errorf("record %d of %d", i, e.v.NumSlabs())
	}
	s := e.v.Slab(i)
	b := make([]byte, s.Length)
	if _, err := e.r.ReadAt(b, s.Offset); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	return b, nil, nil
}
