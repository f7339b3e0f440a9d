package kerchunk

import (
	"fmt"
	"path"
	"strings"

	"github.com/greensight/vzarr/hdf5meta"
)

// The netCDF-4 data model of an HDF5 file, built the way netCDF-C reads
// files (libhdf5/hdf5open.c): dimensions are dimension scales, named after
// the scale's link name; coordinate variables with more than one
// dimension name theirs in _Netcdf4Coordinates; axes without a scale get
// phony dimensions.
//
// Phony dimensions follow netCDF-C exactly, as its readers (netCDF4-python,
// xarray's netcdf4 engine, h5netcdf with phony_dims="sort") show them:
// groups are matched children first, then the group's own variables in
// link order; an axis takes the first dimension of its group (real or
// phony) with the same length and the same unlimitedness that an earlier
// axis of the same variable does not use, else a new dimension
// "phony_dim_N", N being the next file-wide dimension id. Names therefore
// never collide: a name means one length within its group.

type ncDim struct {
	name      string
	group     string // group path without leading "/" ("" for root)
	size      uint64
	unlimited bool
	phony     bool
	id        int64
}

type ncVar struct {
	name   string // Zarr name: the link name without netCDF-C's _nc4_non_coord_ prefix
	h5path string // HDF5 path without leading "/"
	ds     *hdf5meta.Dataset
	dims   []*ncDim
}

type ncGroup struct {
	path     string // without leading "/", "" for root
	attrs    []*hdf5meta.Attribute
	vars     []*ncVar
	children []*ncGroup
	dims     []*ncDim // dimensions defined in this group (scales, then phony)
}

type ncModel struct {
	root      *ncGroup
	groups    []*ncGroup // pre-order
	isNetCDF4 bool
	nextID    int64 // next free dimension id
}

// buildModel walks the file into groups, variables and dimensions.
func buildModel(f *hdf5meta.File) (*ncModel, error) {
	m := &ncModel{}
	byPath := map[string]*ncGroup{}
	scaleDims := map[uint64]*ncDim{}
	var scaleOrder []*hdf5meta.Dataset
	seenGroups := map[uint64]bool{} // a group reached again is written empty
	err := f.Walk(func(p string, o hdf5meta.Object) error {
		rel := strings.TrimPrefix(p, "/")
		parent := ""
		if i := strings.LastIndexByte(rel, '/'); i >= 0 {
			parent = rel[:i]
		}
		switch o := o.(type) {
		case *hdf5meta.Group:
			g := &ncGroup{path: rel, attrs: o.Attrs}
			alias := seenGroups[o.Addr]
			seenGroups[o.Addr] = true
			if rel == "" {
				m.root = g
			} else if pg := byPath[parent]; pg != nil {
				pg.children = append(pg.children, g)
			}
			byPath[rel] = g
			m.groups = append(m.groups, g)
			if hdf5meta.Attr(o, "_NCProperties") != nil {
				m.isNetCDF4 = true
			}
			// Soft links to datasets are variables too (netCDF-C and
			// h5netcdf follow them).
			for _, l := range o.Links {
				if alias || l.Kind != hdf5meta.LinkSoft {
					continue
				}
				target := l.Target
				if !strings.HasPrefix(target, "/") {
					target = p + "/" + target
				}
				t, err := f.Object(target)
				if err != nil {
					continue // dangling soft link: nothing to show
				}
				if ds, ok := t.(*hdf5meta.Dataset); ok {
					g.vars = append(g.vars, &ncVar{name: l.Name, h5path: path.Join(rel, l.Name), ds: ds})
				}
			}
		case *hdf5meta.Dataset:
			g := byPath[parent]
			if g == nil {
				return nil
			}
			if o.IsDimensionScale() {
				if _, dup := scaleDims[o.Addr]; !dup {
					d := &ncDim{name: strings.TrimPrefix(path.Base(rel), hdf5meta.NonCoordPrefix), group: parent,
						size: o.Space.Dims[0], unlimited: o.Space.MaxDims[0] == hdf5meta.Unlimited, id: -1}
					if ids, ok := hdf5meta.AttrInts(o, "_Netcdf4Dimid"); ok && len(ids) == 1 {
						d.id = ids[0]
						m.isNetCDF4 = true
					}
					scaleDims[o.Addr] = d
					scaleOrder = append(scaleOrder, o)
					g.dims = append(g.dims, d)
				}
				if name, _ := hdf5meta.AttrString(o, "NAME"); strings.HasPrefix(name, hdf5meta.DimOnlyPrefix) {
					return nil // a dimension without a variable
				}
			}
			g.vars = append(g.vars, &ncVar{name: strings.TrimPrefix(path.Base(rel), hdf5meta.NonCoordPrefix), h5path: rel, ds: o})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if m.root == nil {
		return nil, fmt.Errorf("%w: no root group", hdf5meta.ErrFormat)
	}
	// Dimension ids: as netCDF-C assigns them while reading scales.
	var nextID int64
	byID := map[int64]*ncDim{}
	for _, ds := range scaleOrder {
		d := scaleDims[ds.Addr]
		if d.id >= 0 {
			if d.id >= nextID {
				nextID = d.id + 1
			}
		}
	}
	for _, ds := range scaleOrder {
		d := scaleDims[ds.Addr]
		if d.id < 0 {
			d.id = nextID
			nextID++
		}
		if _, dup := byID[d.id]; !dup {
			byID[d.id] = d
		}
	}
	// Real dimensions of each variable.
	for _, g := range m.groups {
		for _, v := range g.vars {
			ds := v.ds
			if ds.Space.Kind != hdf5meta.SpaceSimple || len(ds.Space.Dims) == 0 {
				continue
			}
			rank := len(ds.Space.Dims)
			v.dims = make([]*ncDim, rank)
			if d := scaleDims[ds.Addr]; d != nil {
				v.dims[0] = d
			}
			if ids, ok := hdf5meta.AttrInts(ds, "_Netcdf4Coordinates"); ok && len(ids) == rank {
				all := true
				for _, id := range ids {
					if byID[id] == nil {
						all = false
					}
				}
				if all {
					for i, id := range ids {
						v.dims[i] = byID[id]
					}
				}
			}
			if dl := hdf5meta.Attr(ds, "DIMENSION_LIST"); dl != nil {
				if axes, ok := dl.Value.([]any); ok {
					for i, ax := range axes {
						if i >= rank || v.dims[i] != nil {
							continue
						}
						refs, _ := ax.([]any)
						// Several scales on one axis: the last one wins, as in
						// netCDF-C and h5netcdf.
						for j := len(refs) - 1; j >= 0; j-- {
							if a, ok := refs[j].(uint64); ok && scaleDims[a] != nil {
								v.dims[i] = scaleDims[a]
								break
							}
						}
					}
				}
			}
		}
	}
	// Phony dimensions, children first.
	var phony func(g *ncGroup)
	phony = func(g *ncGroup) {
		for _, c := range g.children {
			phony(c)
		}
		for _, v := range g.vars {
			for i := range v.dims {
				if v.dims[i] != nil {
					continue
				}
				size := v.ds.Space.Dims[i]
				unlim := v.ds.Space.MaxDims[i] == hdf5meta.Unlimited
				var pick *ncDim
				for _, d := range g.dims {
					if d.size != size || d.unlimited != unlim {
						continue
					}
					used := false
					for _, u := range v.dims[:i] {
						if u == d {
							used = true
						}
					}
					if !used {
						pick = d
						break
					}
				}
				if pick == nil {
					pick = &ncDim{name: fmt.Sprintf("phony_dim_%d", nextID), group: g.path, size: size, unlimited: unlim, phony: true, id: nextID}
					nextID++
					g.dims = append(g.dims, pick)
				}
				v.dims[i] = pick
			}
		}
	}
	phony(m.root)
	m.nextID = nextID
	// An unlimited dimension is as long as its longest variable.
	for _, g := range m.groups {
		for _, v := range g.vars {
			for i, d := range v.dims {
				if d.unlimited && i < len(v.ds.Space.Dims) && v.ds.Space.Dims[i] > d.size {
					d.size = v.ds.Space.Dims[i]
				}
			}
		}
	}
	return m, nil
}
