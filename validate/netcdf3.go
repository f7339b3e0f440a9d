package validate

import (
	"context"
	"fmt"
	"io"

	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/netcdf3"
	"github.com/greensight/vzarr/zarr"
)

// InspectNetCDF3 builds the report for a netCDF-3 file. Its data is never
// compressed: fixed-size variables are one contiguous range each, record
// variables one range per record (the record dimension becomes the chunk
// axis with one record per chunk). It stops with ctx's error when ctx is
// done.
func InspectNetCDF3(ctx context.Context, r io.ReaderAt, size int64, url string, opts Options) (*Report, error) {
	lim := opts.Limits.WithDefaults()
	f, err := netcdf3.Open(r, size, netcdf3.WithLimits(lim))
	if err != nil {
		return nil, err
	}
	rep := &Report{NCURL: url, Format: "netcdf3", Variables: map[string]*Variable{}, Dimensions: map[string]uint64{}, Warnings: []Finding{}}
	for _, d := range f.Dims {
		rep.Dimensions[d.Name] = uint64(d.Len)
	}
	if opts.Chunks {
		rep.Datasets = map[string]*DatasetStorage{}
	}
	for i := range f.Vars {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v := &f.Vars[i]
		info := &Variable{Shape: []uint64{}, Dims: append([]string{}, v.Dims...), Dtype: numpyName(v.Type.Dtype()), Filters: []FilterInfo{}, Layout: "contiguous"}
		total := uint64(v.Type.Size())
		for _, s := range v.Shape {
			info.Shape = append(info.Shape, uint64(s))
			total *= uint64(s)
		}
		// One chunk per slab: a file of 1-byte records has as many as
		// it has bytes, so count them before listing them.
		if err := limits.CheckVar(limits.ChunksPerVariable, url, v.Name, uint64(v.NumSlabs()), lim.ChunksPerVariable); err != nil {
			return nil, err
		}
		slabs := v.Slabs()
		if v.IsRecord {
			info.Layout = "record"
			info.Chunks = append([]uint64{1}, info.Shape[1:]...)
		}
		info.NumChunks = len(slabs)
		for _, s := range slabs {
			info.StoredBytes += uint64(s.Length)
		}
		rep.Variables[v.Name] = info
		var packed []string
		for _, a := range v.Attrs {
			if isPackingAttr(a.Name) && a.Type == netcdf3.Float {
				packed = append(packed, a.Name)
			}
		}
		addPackedFloat32(rep, v.Name, packed)
		if !v.IsRecord && total > opts.ContiguousMaxBytes {
			rep.Warnings = append(rep.Warnings, Finding{Variable: v.Name, Code: "large_contiguous",
				Message: fmt.Sprintf("contiguous variable of %s: every read fetches it as one %s chunk", human(total), human(total))})
		}
		if v.IsRecord && len(slabs) > 1 && uint64(v.SlabSize()) < opts.TinyChunkBytes {
			rep.Warnings = append(rep.Warnings, Finding{Variable: v.Name, Code: "tiny_chunks",
				Message: fmt.Sprintf("records of %s (%d records): reading a time series takes one request per record", human(uint64(v.SlabSize())), len(slabs))})
		}
		if opts.Chunks {
			st := &DatasetStorage{Layout: info.Layout}
			if v.IsRecord {
				st.ChunkList = []ChunkInfo{}
				for i, s := range slabs {
					off := make([]uint64, len(v.Shape))
					off[0] = uint64(i)
					st.ChunkList = append(st.ChunkList, ChunkInfo{Offset: off, Addr: s.Offset, Size: uint64(s.Length)})
				}
			} else if len(slabs) == 1 {
				a, n := slabs[0].Offset, uint64(slabs[0].Length)
				st.Addr, st.Size = &a, &n
			}
			rep.Datasets[v.Name] = st
		}
	}
	finish(rep)
	return rep, nil
}

// numpyName names a netCDF-3 type's dtype by zarr's one rule.
func numpyName(dtype string) string {
	d, err := zarr.ParseDTypeString(dtype)
	if err != nil {
		return dtype
	}
	return d.NumpyName()
}
