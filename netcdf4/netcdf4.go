package netcdf4

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/greensight/vzarr/hdf5meta"
)

// NetCDF-4 naming conventions that netCDF-C applies on top of HDF5.
const (
	// DimOnlyPrefix starts the NAME attribute of a dimension scale that is
	// a netCDF dimension but not a netCDF variable.
	DimOnlyPrefix = "This is a netCDF dimension but not a netCDF variable"
	// NonCoordPrefix starts the link name of a variable named like a
	// dimension that is not its coordinate variable; the netCDF name is
	// the rest.
	NonCoordPrefix = "_nc4_non_coord_"
)

// bookkeeping are the attributes that HDF5 dimension scales and netCDF-C
// use internally; the netCDF data model does not show them.
var bookkeeping = map[string]bool{
	"DIMENSION_LIST": true, "REFERENCE_LIST": true, "CLASS": true, "NAME": true,
	"_Netcdf4Dimid": true, "_Netcdf4Coordinates": true, "_NCProperties": true,
	"_nc3_strict": true, "_SuperblockVersion": true, "_IsNetcdf4": true,
}

// IsBookkeeping reports whether an attribute name is HDF5 or netCDF-C
// bookkeeping, which the netCDF data model does not show.
func IsBookkeeping(name string) bool { return bookkeeping[name] }

// Dim is a netCDF dimension.
type Dim struct {
	Name      string // name within its group
	Group     string // group path without leading "/", "" for the root
	Size      uint64 // for unlimited dimensions, the longest variable's extent
	Unlimited bool
	Phony     bool  // invented for axes without a dimension scale
	ID        int64 // netCDF-C's dimension id
}

// Key is the dimension's name qualified by its group ("g1/x"; "x" at root).
func (d *Dim) Key() string { return join(d.Group, d.Name) }

// Var is a netCDF variable: an HDF5 dataset with named dimensions.
type Var struct {
	Name     string // netCDF name: the link name without NonCoordPrefix
	Group    string // group path without leading "/", "" for the root
	HDF5Path string // link path in the file, without leading "/"
	Dataset  *hdf5meta.Dataset
	// Dims are the dataset's dimensions, then those of an array datatype.
	Dims []*Dim
	// Attrs are the variable's attributes without bookkeeping.
	Attrs []*hdf5meta.Attribute
	// IsCoord reports a coordinate variable (a dimension scale that is
	// also a variable).
	IsCoord bool
	// HDF5Only reports a dataset netCDF-C does not show (its datatype has
	// no netCDF type); it is described and translated all the same.
	HDF5Only bool
}

// Key is the variable's name qualified by its group ("g1/v"; "v" at root),
// which is also its Zarr array path.
func (v *Var) Key() string { return join(v.Group, v.Name) }

// DimNames returns the names of the variable's dimensions.
func (v *Var) DimNames() []string {
	out := make([]string, len(v.Dims))
	for i, d := range v.Dims {
		out[i] = d.Name
	}
	return out
}

// Shape returns the variable's shape: the dataset's extent, then the
// dimensions of an array datatype. An axis on an unlimited dimension is as
// long as the dimension (netCDF-C reads past a shorter dataset's extent
// as fill values).
func (v *Var) Shape() []uint64 {
	ds := v.Dataset
	out := make([]uint64, 0, len(v.Dims))
	if ds.Space.Kind == hdf5meta.SpaceSimple {
		for i, n := range ds.Space.Dims {
			if i < len(v.Dims) && v.Dims[i].Unlimited && v.Dims[i].Size > n {
				n = v.Dims[i].Size
			}
			out = append(out, n)
		}
	}
	return append(out, ArrayDims(ds.Type)...)
}

// ArrayDims returns the dimensions of an HDF5 array datatype (nested
// arrays flattened, outermost first), or nil for other types.
func ArrayDims(t *hdf5meta.Datatype) []uint64 {
	var out []uint64
	for ; t != nil && t.Class == hdf5meta.ClassArray; t = t.Base {
		for _, d := range t.Dims {
			out = append(out, uint64(d))
		}
	}
	return out
}

// Group is a netCDF group.
type Group struct {
	Path   string // without leading "/", "" for the root
	Parent *Group // nil for the root
	// Attrs are the group's attributes without bookkeeping.
	Attrs  []*hdf5meta.Attribute
	Dims   []*Dim // defined in this group: scales, then phony dimensions
	Vars   []*Var
	Groups []*Group // child groups
	// Shadowed are datasets of the group with the netCDF name of an
	// earlier variable ("x" and "_nc4_non_coord_x"): they are not
	// variables.
	Shadowed []*Var
}

// File is the netCDF-4 view of an HDF5 file.
type File struct {
	Root *Group
	// Groups are all groups, parent before children, in netCDF-C's order.
	Groups []*Group
	// Dims and Vars are all dimensions and variables, group by group.
	Dims []*Dim
	Vars []*Var
	// IsNetCDF4 reports that netCDF-C wrote the file (it has _NCProperties
	// or netCDF-4 dimension ids).
	IsNetCDF4 bool
}

// Var returns the variable with the given key ("g1/v"), or nil.
func (f *File) Var(key string) *Var {
	for _, v := range f.Vars {
		if v.Key() == key {
			return v
		}
	}
	return nil
}

// Attrs returns the attributes of o without bookkeeping.
func Attrs(o hdf5meta.Object) []*hdf5meta.Attribute {
	var as []*hdf5meta.Attribute
	switch o := o.(type) {
	case *hdf5meta.Group:
		as = o.Attrs
	case *hdf5meta.Dataset:
		as = o.Attrs
	}
	var out []*hdf5meta.Attribute
	for _, a := range as {
		if !bookkeeping[a.Name] {
			out = append(out, a)
		}
	}
	return out
}

func join(group, name string) string {
	if group == "" {
		return name
	}
	return group + "/" + name
}

// builder holds what New works with.
type builder struct {
	f      *File
	scales map[uint64]*Dim // dimension scale object address -> dimension
	byID   map[int64]*Dim
	nextID int64
	named  []*hdf5meta.Datatype // the file's committed datatypes
}

// New builds the netCDF-4 view of an HDF5 file. It checks ctx between
// objects.
func New(ctx context.Context, h *hdf5meta.File) (*File, error) {
	objs := map[string]hdf5meta.Object{}
	var named []*hdf5meta.Datatype
	err := h.Walk(func(p string, o hdf5meta.Object) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		objs[p] = o
		if nt, ok := o.(*hdf5meta.NamedDatatype); ok {
			named = append(named, nt.Type)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rootObj, ok := objs["/"].(*hdf5meta.Group)
	if !ok {
		return nil, fmt.Errorf("%w: no root group", hdf5meta.ErrFormat)
	}
	b := &builder{f: &File{}, scales: map[uint64]*Dim{}, byID: map[int64]*Dim{}, named: named}
	expanded := map[uint64]bool{}
	// Groups parent first, each group's own links before its children, as
	// netCDF-C reads them.
	var read func(g *Group, o *hdf5meta.Group) error
	read = func(g *Group, o *hdf5meta.Group) error {
		b.f.Groups = append(b.f.Groups, g)
		if hdf5meta.Attr(o, "_NCProperties") != nil {
			b.f.IsNetCDF4 = true
		}
		if expanded[o.Addr] {
			return nil // reached again: the first path holds its members
		}
		expanded[o.Addr] = true
		type child struct {
			g *Group
			o *hdf5meta.Group
		}
		var children []child
		for _, l := range o.Links {
			if err := ctx.Err(); err != nil {
				return err
			}
			lp := join(g.Path, l.Name)
			var obj hdf5meta.Object
			switch l.Kind {
			case hdf5meta.LinkHard:
				obj = objs["/"+lp]
			case hdf5meta.LinkSoft:
				target := l.Target
				if !strings.HasPrefix(target, "/") {
					target = "/" + join(g.Path, target)
				}
				t, err := h.Object(target)
				if err != nil {
					continue // dangling soft link: nothing to show
				}
				if _, isDS := t.(*hdf5meta.Dataset); !isDS {
					continue // soft links to groups are not followed
				}
				obj = t
			}
			switch obj := obj.(type) {
			case *hdf5meta.Group:
				c := &Group{Path: lp, Parent: g, Attrs: Attrs(obj)}
				g.Groups = append(g.Groups, c)
				children = append(children, child{c, obj})
			case *hdf5meta.Dataset:
				b.dataset(g, l.Name, obj)
			}
		}
		for _, c := range children {
			if err := read(c.g, c.o); err != nil {
				return err
			}
		}
		return nil
	}
	b.f.Root = &Group{Attrs: Attrs(rootObj)}
	if err := read(b.f.Root, rootObj); err != nil {
		return nil, err
	}
	// Phony dimensions: netCDF-C's variables first, then the others.
	b.phony(b.f.Root, false)
	b.phony(b.f.Root, true)
	for _, g := range b.f.Groups {
		b.f.Dims = append(b.f.Dims, g.Dims...)
		b.f.Vars = append(b.f.Vars, g.Vars...)
	}
	// An unlimited dimension is as long as its longest variable.
	for _, v := range b.f.Vars {
		if v.Dataset.Space.Kind != hdf5meta.SpaceSimple {
			continue
		}
		for i, n := range v.Dataset.Space.Dims {
			if d := v.Dims[i]; d.Unlimited && n > d.Size {
				d.Size = n
			}
		}
	}
	return b.f, nil
}

// dataset adds a dataset of group g: a dimension if it is a scale, a
// variable unless it is a dimension only.
func (b *builder) dataset(g *Group, link string, ds *hdf5meta.Dataset) {
	name := strings.TrimPrefix(link, NonCoordPrefix)
	scale := b.scales[ds.Addr]
	if scale == nil && ds.IsDimensionScale() {
		scale = &Dim{Name: name, Group: g.Path, Size: ds.Space.Dims[0], Unlimited: ds.Space.MaxDims[0] == hdf5meta.Unlimited}
		if id, ok := attrInt(ds, "_Netcdf4Dimid"); ok {
			scale.ID = id
			b.nextID = max(b.nextID, id+1)
			b.f.IsNetCDF4 = true
		} else {
			scale.ID = b.nextID
			b.nextID++
		}
		if _, dup := b.byID[scale.ID]; !dup {
			b.byID[scale.ID] = scale
		}
		b.scales[ds.Addr] = scale
		g.Dims = append(g.Dims, scale)
	}
	if s, _ := hdf5meta.AttrString(ds, "NAME"); scale != nil && strings.HasPrefix(s, DimOnlyPrefix) {
		return // a dimension without a variable
	}
	v := &Var{Name: name, Group: g.Path, HDF5Path: join(g.Path, link), Dataset: ds, Attrs: Attrs(ds),
		IsCoord: scale != nil, HDF5Only: !b.netcdfType(ds.Type)}
	for _, o := range g.Vars {
		if o.Name == name {
			g.Shadowed = append(g.Shadowed, v)
			return
		}
	}
	g.Vars = append(g.Vars, v)
	rank := 0
	if ds.Space.Kind == hdf5meta.SpaceSimple {
		rank = len(ds.Space.Dims)
	}
	v.Dims = make([]*Dim, rank+len(ArrayDims(ds.Type)))
	if len(v.Dims) == 0 {
		return
	}
	if scale != nil && rank > 0 {
		v.Dims[0] = scale
	}
	// The other dimensions may be scales read later: they are resolved
	// once all are known (phony).
}

// resolve sets the dimensions a variable names through
// _Netcdf4Coordinates or DIMENSION_LIST.
func (b *builder) resolve(v *Var) {
	ds := v.Dataset
	rank := 0
	if ds.Space.Kind == hdf5meta.SpaceSimple {
		rank = len(ds.Space.Dims)
	}
	if ids, ok := hdf5meta.AttrInts(ds, "_Netcdf4Coordinates"); ok && len(ids) == rank {
		all := true
		for _, id := range ids {
			if b.byID[id] == nil {
				all = false
			}
		}
		if all {
			for i, id := range ids {
				v.Dims[i] = b.byID[id]
			}
			return
		}
	}
	dl := hdf5meta.Attr(ds, "DIMENSION_LIST")
	if dl == nil {
		return
	}
	axes, _ := dl.Value.([]any)
	for i, ax := range axes {
		if i >= rank || v.Dims[i] != nil {
			continue
		}
		refs, _ := ax.([]any)
		for j := len(refs) - 1; j >= 0; j-- {
			if a, ok := refs[j].(uint64); ok && b.scales[a] != nil {
				v.Dims[i] = b.scales[a]
				break
			}
		}
	}
}

// phony names the axes left without a dimension, children first, for
// netCDF-C's variables (hdf5Only false) or the others.
func (b *builder) phony(g *Group, hdf5Only bool) {
	for _, c := range g.Groups {
		b.phony(c, hdf5Only)
	}
	for _, v := range g.Vars {
		if v.HDF5Only != hdf5Only {
			continue
		}
		b.resolve(v)
		ds := v.Dataset
		lens := make([]uint64, 0, len(v.Dims))
		unlim := make([]bool, 0, len(v.Dims))
		if ds.Space.Kind == hdf5meta.SpaceSimple {
			for i, n := range ds.Space.Dims {
				lens = append(lens, n)
				unlim = append(unlim, ds.Space.MaxDims[i] == hdf5meta.Unlimited)
			}
		}
		for _, n := range ArrayDims(ds.Type) {
			lens = append(lens, n)
			unlim = append(unlim, false)
		}
		for i := range v.Dims {
			if v.Dims[i] != nil {
				continue
			}
			var pick *Dim
			for _, d := range g.Dims {
				if d.Size == lens[i] && d.Unlimited == unlim[i] && !usedBefore(v.Dims[:i], d) {
					pick = d
					break
				}
			}
			if pick == nil {
				pick = &Dim{Name: fmt.Sprintf("phony_dim_%d", b.nextID), Group: g.Path, Size: lens[i], Unlimited: unlim[i], Phony: true, ID: b.nextID}
				b.nextID++
				g.Dims = append(g.Dims, pick)
			}
			v.Dims[i] = pick
		}
	}
}

func usedBefore(dims []*Dim, d *Dim) bool {
	for _, x := range dims {
		if x == d {
			return true
		}
	}
	return false
}

// netcdfType reports whether netCDF-C shows a dataset of type t: atomic
// integers, floats and strings, types equal to a committed (named) type
// of the file (netCDF-C's user-defined types), and arrays of those.
func (b *builder) netcdfType(t *hdf5meta.Datatype) bool {
	for t.Class == hdf5meta.ClassArray && t.Base != nil {
		t = t.Base
	}
	switch t.Class {
	case hdf5meta.ClassFixedPoint, hdf5meta.ClassFloat, hdf5meta.ClassString:
		return true
	case hdf5meta.ClassVarLen:
		if t.VarLenString {
			return true
		}
	}
	if t.Committed != 0 {
		return true
	}
	for _, n := range b.named {
		if sameType(t, n, 0) {
			return true
		}
	}
	return false
}

// sameType reports whether two datatypes are equal as libhdf5's H5Tequal
// compares them: class, size, byte order, sign, members, enum values,
// base types and array dimensions.
func sameType(a, b *hdf5meta.Datatype, depth int) bool {
	if a == nil || b == nil || depth > 32 {
		return a == b
	}
	if a.Class != b.Class || a.Size != b.Size || a.BigEndian != b.BigEndian || a.Signed != b.Signed ||
		a.VarLenString != b.VarLenString || a.Tag != b.Tag || !slices.Equal(a.Dims, b.Dims) ||
		!slices.Equal(a.EnumNames, b.EnumNames) || len(a.Members) != len(b.Members) || len(a.EnumValues) != len(b.EnumValues) {
		return false
	}
	for i := range a.EnumValues {
		if !bytes.Equal(a.EnumValues[i], b.EnumValues[i]) {
			return false
		}
	}
	for i, m := range a.Members {
		o := b.Members[i]
		if m.Name != o.Name || m.Offset != o.Offset || !sameType(m.Type, o.Type, depth+1) {
			return false
		}
	}
	if (a.Base == nil) != (b.Base == nil) {
		return false
	}
	return a.Base == nil || sameType(a.Base, b.Base, depth+1)
}

// attrInt returns an integer attribute's only value.
func attrInt(o hdf5meta.Object, name string) (int64, bool) {
	v, ok := hdf5meta.AttrInts(o, name)
	if !ok || len(v) != 1 {
		return 0, false
	}
	return v[0], true
}
