package hdf5meta

import (
	"fmt"
	"path"
	"strings"
)

// NetCDF-4 naming conventions that netCDF-C applies on top of HDF5.
const (
	// DimOnlyPrefix starts the NAME attribute of a dimension scale that is
	// a netCDF dimension but not a netCDF variable.
	DimOnlyPrefix = "This is a netCDF dimension but not a netCDF variable"
	// NonCoordPrefix starts the link name of a variable named like a
	// dimension that is not its coordinate variable; the netCDF name is
	// the rest.
	NonCoordPrefix  = "_nc4_non_coord_"
	phonyDimPattern = "phony_dim_%d"
)

// BookkeepingAttrs are attributes that HDF5 dimension scales and netCDF-C
// use internally; the netCDF data model does not show them.
var BookkeepingAttrs = map[string]bool{
	"DIMENSION_LIST": true, "REFERENCE_LIST": true, "CLASS": true, "NAME": true,
	"_Netcdf4Dimid": true, "_Netcdf4Coordinates": true, "_NCProperties": true,
	"_nc3_strict": true, "_SuperblockVersion": true, "_IsNetcdf4": true,
}

// Dim is a netCDF dimension.
type Dim struct {
	Name      string // name within its group
	Group     string // group path without leading "/", "" for the root
	Size      uint64
	Unlimited bool
	Phony     bool   // invented for a dataset without dimension scales
	scaleAddr uint64 // object header of the dimension scale, if any
	id        int64  // _Netcdf4Dimid, or -1
	order     int
}

// Key is the dimension's name qualified by its group ("g1/x"; "x" at root).
func (d *Dim) Key() string {
	if d.Group == "" {
		return d.Name
	}
	return d.Group + "/" + d.Name
}

// Var is a netCDF variable: an HDF5 dataset with named dimensions.
type Var struct {
	Name    string
	Path    string // within the file, without leading "/": "g1/g2/v"
	Group   string
	Dataset *Dataset
	Dims    []*Dim
	// Attrs are the variable's attributes without HDF5/netCDF bookkeeping.
	Attrs []*Attribute
	// IsCoord reports a coordinate variable (a dimension scale that is also
	// a variable).
	IsCoord bool
}

// DimNames returns the names of the variable's dimensions.
func (v *Var) DimNames() []string {
	out := make([]string, len(v.Dims))
	for i, d := range v.Dims {
		out[i] = d.Name
	}
	return out
}

// NetCDFView is the netCDF-4 data model of an HDF5 file, as netCDF-C
// presents it: dimensions named after dimension scales (or phony
// dimensions), variables, and group attributes.
type NetCDFView struct {
	Dims   []*Dim
	Vars   []*Var
	Groups map[string][]*Attribute // group path ("" for root) -> attributes without bookkeeping
	// IsNetCDF4 reports that netCDF-C wrote the file (it has _NCProperties
	// or netCDF-4 dimension bookkeeping).
	IsNetCDF4 bool
}

// NetCDF builds the netCDF view of the file.
func (f *File) NetCDF() (*NetCDFView, error) {
	v := &NetCDFView{Groups: map[string][]*Attribute{}}
	type dsEntry struct {
		path string
		ds   *Dataset
	}
	var datasets []dsEntry
	scales := map[uint64]*Dim{}
	var dims []*Dim
	err := f.Walk(func(p string, o Object) error {
		rel := strings.TrimPrefix(p, "/")
		switch o := o.(type) {
		case *Group:
			v.Groups[rel] = visibleAttrs(o.Attrs)
			if Attr(o, "_NCProperties") != nil {
				v.IsNetCDF4 = true
			}
		case *Dataset:
			datasets = append(datasets, dsEntry{rel, o})
			if o.IsDimensionScale() {
				if _, dup := scales[o.Addr]; dup {
					return nil
				}
				grp, name := path.Split(rel)
				d := &Dim{Name: strings.TrimPrefix(name, NonCoordPrefix), Group: strings.TrimSuffix(grp, "/"),
					Size: o.Space.Dims[0], Unlimited: o.Space.MaxDims[0] == Unlimited, scaleAddr: o.Addr, id: -1, order: len(dims)}
				if id, ok := attrInt(o, "_Netcdf4Dimid"); ok {
					d.id = id
					v.IsNetCDF4 = true
				}
				scales[o.Addr] = d
				dims = append(dims, d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	phonyCount := 0
	// Phony dimensions by group, size and unlimitedness, in creation order:
	// scanning all dimensions for each axis would be quadratic in the
	// number of variables.
	type phonyKey struct {
		group string
		size  uint64
		unlim bool
	}
	phony := map[phonyKey][]*Dim{}
	for _, e := range datasets {
		ds := e.ds
		nameAttr, _ := AttrString(ds, "NAME")
		isScale := scales[ds.Addr] != nil
		if isScale && strings.HasPrefix(nameAttr, DimOnlyPrefix) {
			continue // a dimension without a variable
		}
		grp, name := path.Split(e.path)
		vr := &Var{Name: name, Path: e.path, Group: strings.TrimSuffix(grp, "/"), Dataset: ds, Attrs: visibleAttrs(ds.Attrs)}
		rank := len(ds.Space.Dims)
		if ds.Space.Kind == SpaceSimple && rank > 0 {
			vr.Dims = make([]*Dim, rank)
			if isScale {
				vr.IsCoord = true
				vr.Dims[0] = scales[ds.Addr]
			}
			if dl := Attr(ds, "DIMENSION_LIST"); dl != nil {
				if axes, ok := dl.Value.([]any); ok {
					for i, ax := range axes {
						if i >= rank || vr.Dims[i] != nil {
							continue
						}
						refs, _ := ax.([]any)
						for _, r := range refs {
							if a, ok := r.(uint64); ok && scales[a] != nil {
								vr.Dims[i] = scales[a]
								break
							}
						}
					}
				}
			}
			// Axes without a dimension scale get phony dimensions, shared
			// within the group by size as netCDF-C does, but never twice in
			// one variable.
			for i := range vr.Dims {
				if vr.Dims[i] != nil {
					continue
				}
				size, unlim := ds.Space.Dims[i], ds.Space.MaxDims[i] == Unlimited
				var pick *Dim
				key := phonyKey{vr.Group, size, unlim}
				for _, d := range phony[key] {
					if !containsDim(vr.Dims, d) {
						pick = d
						break
					}
				}
				if pick == nil {
					pick = &Dim{Name: fmt.Sprintf(phonyDimPattern, phonyCount), Group: vr.Group, Size: size,
						Unlimited: unlim, Phony: true, id: -1, order: len(dims)}
					phonyCount++
					dims = append(dims, pick)
					phony[key] = append(phony[key], pick)
				}
				vr.Dims[i] = pick
			}
			// An unlimited dimension is as long as its longest variable.
			for i, d := range vr.Dims {
				if d.Unlimited && ds.Space.Dims[i] > d.Size {
					d.Size = ds.Space.Dims[i]
				}
			}
		}
		v.Vars = append(v.Vars, vr)
	}
	v.Dims = dims
	return v, nil
}

func containsDim(ds []*Dim, d *Dim) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

func visibleAttrs(as []*Attribute) []*Attribute {
	var out []*Attribute
	for _, a := range as {
		if !BookkeepingAttrs[a.Name] {
			out = append(out, a)
		}
	}
	return out
}

// IsDimensionScale reports whether the dataset is an HDF5 dimension scale
// (CLASS "DIMENSION_SCALE") of at least one dimension.
func (ds *Dataset) IsDimensionScale() bool {
	s, _ := AttrString(ds, "CLASS")
	return s == "DIMENSION_SCALE" && ds.Space.Kind == SpaceSimple && len(ds.Space.Dims) >= 1
}

// AttrString returns the value of a string attribute (or of a list of one
// string) of o.
func AttrString(o Object, name string) (string, bool) {
	a := Attr(o, name)
	if a == nil {
		return "", false
	}
	switch v := a.Value.(type) {
	case string:
		return v, true
	case []string:
		if len(v) == 1 {
			return v[0], true
		}
	}
	return "", false
}

// attrInt returns an integer attribute's first value.
func attrInt(o Object, name string) (int64, bool) {
	v, ok := AttrInts(o, name)
	if !ok || len(v) == 0 {
		return 0, false
	}
	return v[0], true
}

// AttrInts returns the values of an integer attribute of o (a scalar is
// one value).
func AttrInts(o Object, name string) ([]int64, bool) {
	a := Attr(o, name)
	if a == nil {
		return nil, false
	}
	var out []int64
	switch v := a.Value.(type) {
	case []int32:
		for _, x := range v {
			out = append(out, int64(x))
		}
	case []int64:
		out = v
	case []any:
		for _, x := range v {
			n, ok := AsInt(x)
			if !ok {
				return nil, false
			}
			out = append(out, n)
		}
	default:
		n, ok := AsInt(v)
		if !ok {
			return nil, false
		}
		out = []int64{n}
	}
	return out, true
}

// AsInt converts a decoded integer value, or the first element of an
// integer slice, to int64.
func AsInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), true
	case []int32:
		if len(x) > 0 {
			return int64(x[0]), true
		}
	case []int64:
		if len(x) > 0 {
			return x[0], true
		}
	case []any:
		if len(x) > 0 {
			return AsInt(x[0])
		}
	}
	return 0, false
}
