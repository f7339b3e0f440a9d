package kerchunk

import (
	"context"
	"fmt"
	"io"
	"strings"
	"unsafe"

	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/netcdf3"
	"github.com/greensight/vzarr/rangeio"
	"github.com/greensight/vzarr/zarr"
)

// TranslateNetCDF3 writes the references of a netCDF classic file (CDF-1,
// CDF-2 or CDF-5).
//
// Fixed-size variables are one chunk; record variables one chunk per
// record, at the record stride netcdf3 computes (with netCDF-C's rule that
// a file with a single record variable does not pad its records). Data is
// big-endian, so dtypes are ">f4" and the like. Attributes keep their
// types: numbers stay numbers (one value as a scalar, several as a list, as
// netCDF4-python returns them), text stays text (NUL bytes removed, as
// netCDF4-python does). _FillValue becomes fill_value; netCDF-3 files
// store every element, so no chunk is ever missing. It stops with ctx's
// error when ctx is done.
func TranslateNetCDF3(ctx context.Context, r io.ReaderAt, size int64, url string, opts Options) (*Result, error) {
	o := opts.norm()
	name := o.Name
	if name == "" {
		name = url
	}
	f, err := netcdf3.Open(r, size, netcdf3.WithLimits(o.Limits))
	if err != nil {
		return nil, fileErr(name, "", err)
	}
	// One chunk per slab: check the counts before listing them.
	var nchunks uint64
	for i := range f.Vars {
		v := &f.Vars[i]
		if v.SlabSize() == 0 {
			continue
		}
		n := uint64(v.NumSlabs())
		if err := limits.CheckVar(limits.ChunksPerVariable, name, v.Name, n, o.Limits.ChunksPerVariable); err != nil {
			return nil, err
		}
		nchunks += n
		if err := limits.CheckVar(limits.ChunksPerFile, name, "", nchunks, o.Limits.ChunksPerFile); err != nil {
			return nil, err
		}
	}
	res := &Result{Dimensions: map[string]uint64{}, Variables: map[string]*VarInfo{}}
	switch f.Format {
	case netcdf3.Classic:
		res.Format = "netcdf3_classic"
	case netcdf3.Offset64:
		res.Format = "netcdf3_64bit_offset"
	default:
		res.Format = "netcdf3_64bit_data"
	}
	h := HeaderInfo{Name: name, Size: size, Variables: len(f.Vars)}
	for i := range f.Vars {
		h.Chunks = addSat(h.Chunks, max(f.Vars[i].NumSlabs(), 0))
	}
	if err := o.onHeader(h); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	refs := NewRefs(16 + 4*len(f.Vars))
	res.Refs = refs
	refs.add(zarr.GroupKeyV2, Ref{Data: []byte(zarr.GroupV2JSON)})
	var ga attrsJSON
	for _, a := range f.Attrs {
		ga.add(a.Name, nc3AttrValue(a))
	}
	if ga.n > 0 {
		refs.add(".zattrs", Ref{Data: []byte(zarr.EscapeNonASCII(ga.text()))})
	}
	for _, d := range f.Dims {
		res.Dimensions[d.Name] = uint64(d.Len)
	}

	// Copy small slabs in one batch of reads.
	if rr, ok := r.(rangeio.Prefetcher); ok && o.InlineThreshold > 0 {
		var ranges []rangeio.Range
		for i := range f.Vars {
			v := &f.Vars[i]
			if v.SlabSize() < int64(o.InlineThreshold) && v.SlabSize() > 0 {
				for _, s := range v.Slabs() {
					ranges = append(ranges, rangeio.Range{Off: s.Offset, Len: s.Length})
				}
			}
		}
		if len(ranges) > 1 {
			_ = rr.Prefetch(ctx, ranges)
		}
	}

	var keyBuf []byte
	seen := make(map[string]bool, len(f.Vars))
	for i := range f.Vars {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v := &f.Vars[i]
		// Keys are new unless a (hostile) file repeats a name: appended
		// without building Refs' index, else replaced.
		set := refs.add
		if seen[v.Name] || v.Name == "" {
			set = refs.Set
		}
		seen[v.Name] = true
		dt, err := zarr.ParseDTypeString(v.Type.Dtype())
		if err != nil {
			return nil, fmt.Errorf("%s: variable %q: %w", name, v.Name, err)
		}
		za := zarr.ArrayV2{DType: dt}
		for _, n := range v.Shape {
			za.Shape = append(za.Shape, uint64(n))
		}
		za.Chunks = make([]uint64, len(za.Shape))
		for j, n := range za.Shape {
			za.Chunks[j] = max(n, 1)
		}
		if v.IsRecord {
			za.Chunks[0] = 1
		}
		var at attrsJSON
		at.add("_ARRAY_DIMENSIONS", dimNamesJSON(v.Dims))
		for _, a := range v.Attrs {
			if a.Name == "_FillValue" && a.Type == v.Type {
				if fb := nc3Fill(v, a); fb != nil {
					za.FillValue = fb
					continue
				}
			}
			at.add(a.Name, nc3AttrValue(a))
		}
		text, err := zarrayText(&za)
		if err != nil {
			return nil, fmt.Errorf("%s: variable %q: %w", name, v.Name, err)
		}
		set(v.Name+"/.zarray", Ref{Data: text})
		set(v.Name+"/.zattrs", Ref{Data: []byte(zarr.EscapeNonASCII(at.text()))})
		res.Variables[v.Name] = &VarInfo{Shape: nonNil(za.Shape), Dims: append([]string{}, v.Dims...), Dtype: za.DType.NumpyName(), Chunks: nonNil(za.Chunks)}
		res.VarOrder = append(res.VarOrder, v.Name)
		if v.SlabSize() == 0 {
			continue
		}
		idx := make([]uint64, len(za.Shape))
		for k := int64(0); k < v.NumSlabs(); k++ {
			if k%4096 == 4095 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			if v.IsRecord {
				idx[0] = uint64(k)
			}
			s := v.Slab(k)
			var ref Ref
			if s.Length < int64(o.InlineThreshold) {
				b := make([]byte, s.Length)
				if _, err := r.ReadAt(b, s.Offset); err != nil && err != io.EOF {
					return nil, fmt.Errorf("%s: variable %q: reading %d bytes at offset %d: %w", name, v.Name, s.Length, s.Offset, err)
				}
				ref = Inline(b)
				res.InlineBytes += s.Length
			} else {
				ref = Range(url, s.Offset, s.Length)
			}
			keyBuf = chunkKey(keyBuf[:0], v.Name+"/", idx)
			set(unsafe.String(unsafe.SliceData(keyBuf), len(keyBuf)), ref) // copied by Refs
		}
	}
	if err := refs.Consolidate(); err != nil {
		return nil, fileErr(name, "", err)
	}
	return res, nil
}

// nc3AttrValue converts a netCDF-3 attribute to JSON as netCDF4-python
// returns it.
func nc3AttrValue(a netcdf3.Attr) []byte {
	if s, ok := a.Value.(string); ok {
		return appendJSONString(nil, toValidUTF8(strings.ReplaceAll(s, "\x00", "")))
	}
	v := a.Value
	if a.Len() == 1 {
		v, _ = firstValue(v)
	}
	return appendValue(nil, v)
}

// nc3Fill returns the JSON fill_value of a _FillValue attribute of the
// variable's type, or nil. (A _FillValue of another type stays an
// attribute: xarray then sees it exactly as netCDF4-python returns it.)
func nc3Fill(v *netcdf3.Var, a netcdf3.Attr) []byte {
	x, ok := firstValue(a.Value)
	if !ok {
		return nil
	}
	if s, ok := x.(string); ok { // char variable: a one-byte string
		if v.Type != netcdf3.Char || len(s) == 0 {
			return nil
		}
		return appendBase64(nil, []byte(s[:1]))
	}
	fl, i, u, kind := asNumber(x)
	switch v.Type {
	case netcdf3.Float, netcdf3.Double:
		switch kind {
		case 'i':
			fl = float64(i)
		case 'u':
			fl = float64(u)
		}
		if v.Type == netcdf3.Float {
			fl = float64(float32(fl))
		}
		return zarr.AppendFillFloat(nil, fl)
	case netcdf3.Char:
		return nil
	}
	// Integer variable: convert and wrap to the variable's width, as
	// numpy's astype would.
	if kind == 'f' {
		i = int64(fl)
		u = uint64(i)
	} else if kind == 'i' {
		u = uint64(i)
	}
	bits := uint(8 * v.Type.Size())
	signed := v.Type == netcdf3.Byte || v.Type == netcdf3.Short || v.Type == netcdf3.Int || v.Type == netcdf3.Int64
	if bits < 64 {
		u &= 1<<bits - 1
	}
	if signed {
		s := int64(u)
		if bits < 64 {
			s = int64(u<<(64-bits)) >> (64 - bits)
		}
		return appendValue(nil, s)
	}
	return appendValue(nil, u)
}
