package hdf5meta

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/rangeio"
)

// headerPrefetchLen is how much of an object header is fetched ahead; most
// dataset headers (with compact attributes) fit.
const headerPrefetchLen = 1024

// Object is a *Group, *Dataset or *NamedDatatype.
type Object interface {
	ObjectPath() string
	ObjectAddr() uint64
	Attributes() []*Attribute
}

// Group is an HDF5 group.
type Group struct {
	Path  string
	Addr  uint64
	Links []Link
	Attrs []*Attribute
}

// Dataset is an HDF5 dataset: its shape, type, storage and filters.
type Dataset struct {
	f       *File
	Path    string
	Addr    uint64
	Space   Dataspace
	Type    *Datatype
	Layout  Layout
	Filters []Filter
	Fill    FillValue
	Attrs   []*Attribute
	// External lists the files holding a contiguous dataset's data when it
	// is stored outside the HDF5 file (H5Pset_external).
	External []ExternalFile
}

// ExternalFile is one segment of a dataset's external raw data storage.
type ExternalFile struct {
	Name   string
	Offset uint64 // byte offset in the external file
	Size   uint64 // bytes in this segment
}

// NamedDatatype is a committed datatype stored as an object.
type NamedDatatype struct {
	Path  string
	Addr  uint64
	Type  *Datatype
	Attrs []*Attribute
}

// ObjectPath returns the group's path.
func (g *Group) ObjectPath() string { return g.Path }

// ObjectAddr returns the address of the group's object header.
func (g *Group) ObjectAddr() uint64 { return g.Addr }

// Attributes returns the group's attributes.
func (g *Group) Attributes() []*Attribute { return g.Attrs }

// ObjectPath returns the dataset's path.
func (d *Dataset) ObjectPath() string { return d.Path }

// ObjectAddr returns the address of the dataset's object header.
func (d *Dataset) ObjectAddr() uint64 { return d.Addr }

// Attributes returns the dataset's attributes.
func (d *Dataset) Attributes() []*Attribute { return d.Attrs }

// ObjectPath returns the named datatype's path.
func (t *NamedDatatype) ObjectPath() string { return t.Path }

// ObjectAddr returns the address of the named datatype's object header.
func (t *NamedDatatype) ObjectAddr() uint64 { return t.Addr }

// Attributes returns the named datatype's attributes.
func (t *NamedDatatype) Attributes() []*Attribute { return t.Attrs }

// Attr returns the attribute with the given name, or nil.
func Attr(o Object, name string) *Attribute {
	for _, a := range o.Attributes() {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Root returns the root group.
func (f *File) Root() (*Group, error) {
	o, err := f.objectAt(f.Superblock.RootAddress, "/")
	if err != nil {
		return nil, err
	}
	g, ok := o.(*Group)
	if !ok {
		return nil, formatErr(f.AbsOffset(f.Superblock.RootAddress), "root object is not a group")
	}
	return g, nil
}

// Object returns the object at an absolute path ("/g1/v"), following hard
// and soft links.
func (f *File) Object(path string) (Object, error) {
	root, err := f.Root()
	if err != nil {
		return nil, err
	}
	hops := 0
	return f.lookup(root, path, 0, &hops)
}

// lookup resolves path from root; hops counts the links followed by the
// whole Object call, so soft links whose targets name other soft links
// several times cannot make the resolution exponential.
func (f *File) lookup(root *Group, path string, depth int, hops *int) (Object, error) {
	if depth > 32 {
		return nil, &FormatError{Offset: -1, Path: path, What: "too many levels of soft links", Err: ErrFormat}
	}
	if len(path) > maxPathBytes {
		return nil, &FormatError{Offset: -1, Path: path[:64] + "...", What: fmt.Sprintf("path of %d bytes", len(path)), Err: ErrUnsupported}
	}
	var cur Object = root
	curPath := ""
	for _, name := range strings.Split(strings.Trim(path, "/"), "/") {
		if name == "" || name == "." {
			continue
		}
		g, ok := cur.(*Group)
		if !ok {
			return nil, &FormatError{Offset: -1, Path: path, What: fmt.Sprintf("%q is not a group", curPath), Err: ErrNotFound}
		}
		i := slices.IndexFunc(g.Links, func(l Link) bool { return l.Name == name })
		if i < 0 {
			return nil, &FormatError{Offset: -1, Path: path, What: fmt.Sprintf("no link %q in %q", name, g.Path), Err: ErrNotFound}
		}
		l := g.Links[i]
		curPath += "/" + name
		if *hops++; *hops > maxLookupHops {
			return nil, &FormatError{Offset: -1, Path: path, What: fmt.Sprintf("more than %d links followed", maxLookupHops), Err: ErrUnsupported}
		}
		switch l.Kind {
		case LinkHard:
			o, err := f.objectAt(l.Addr, curPath)
			if err != nil {
				return nil, err
			}
			cur = o
		case LinkSoft:
			target := l.Target
			if !strings.HasPrefix(target, "/") {
				target = g.Path + "/" + target
			}
			o, err := f.lookup(root, target, depth+1, hops)
			if err != nil {
				return nil, err
			}
			cur = o
		default:
			return nil, &FormatError{Offset: -1, Path: path, What: fmt.Sprintf("link %q is %s", name, l.Kind), Err: ErrUnsupported}
		}
	}
	return cur, nil
}

// objectAt reads the object whose header is at addr and names it path.
// Each object is built once and then copied under each path: an object
// reachable by many paths (many links to one big group) would otherwise be
// rebuilt, its links and attributes parsed again, for every one of them.
func (f *File) objectAt(addr uint64, path string) (Object, error) {
	oh, err := f.objectHeader(addr)
	if err != nil {
		return nil, withPath(err, path)
	}
	f.mu.Lock()
	o := oh.built
	f.mu.Unlock()
	if o == nil {
		if o, err = f.buildObject(oh, ""); err != nil {
			return nil, withPath(err, path)
		}
		f.mu.Lock()
		oh.built = o
		f.mu.Unlock()
	}
	switch o := o.(type) {
	case *Group:
		cp := *o
		cp.Path = path
		return &cp, nil
	case *Dataset:
		cp := *o
		cp.Path = path
		return &cp, nil
	case *NamedDatatype:
		cp := *o
		cp.Path = path
		return &cp, nil
	}
	return o, nil
}

func (f *File) buildObject(oh *objectHeader, path string) (Object, error) {
	attrs, err := f.attributes(oh)
	if err != nil {
		return nil, err
	}
	if oh.find(msgLayout) != nil {
		ds := &Dataset{f: f, Path: path, Addr: oh.addr, Attrs: attrs}
		if err := f.fillDataset(ds, oh); err != nil {
			return nil, err
		}
		return ds, nil
	}
	isGroup := oh.find(msgSymbolTable) != nil || oh.find(msgLinkInfo) != nil || oh.find(msgLink) != nil
	if !isGroup && oh.find(msgDatatype) != nil {
		m, _, err := f.resolve(oh.find(msgDatatype))
		if err != nil {
			return nil, err
		}
		t, err := f.parseDatatype(f.newDecoder(m.data, m.off, "named datatype"), 0)
		if err != nil {
			return nil, err
		}
		t.Committed = oh.addr
		return &NamedDatatype{Path: path, Addr: oh.addr, Type: t, Attrs: attrs}, nil
	}
	links, err := f.links(oh)
	if err != nil {
		return nil, err
	}
	return &Group{Path: path, Addr: oh.addr, Links: links, Attrs: attrs}, nil
}

func (f *File) fillDataset(ds *Dataset, oh *objectHeader) error {
	get := func(typ uint16, required bool) (*message, error) {
		m := oh.find(typ)
		if m == nil {
			if required {
				return nil, formatErr(f.AbsOffset(oh.addr), "dataset without message type %#x", typ)
			}
			return nil, nil
		}
		r, _, err := f.resolve(m)
		return r, err
	}
	m, err := get(msgDataspace, true)
	if err != nil {
		return err
	}
	if ds.Space, err = f.parseDataspace(f.newDecoder(m.data, m.off, "dataspace message")); err != nil {
		return err
	}
	raw := oh.find(msgDatatype)
	if raw == nil {
		return formatErr(f.AbsOffset(oh.addr), "dataset without a datatype message")
	}
	m, committed, err := f.resolve(raw)
	if err != nil {
		return err
	}
	if ds.Type, err = f.parseDatatype(f.newDecoder(m.data, m.off, "datatype message"), 0); err != nil {
		return err
	}
	ds.Type.Committed = committed
	if m, err = get(msgLayout, true); err != nil {
		return err
	}
	if ds.Layout, err = f.parseLayout(m); err != nil {
		return err
	}
	if ds.Layout.Class == LayoutContiguous && ds.Layout.Version < 3 {
		ds.Layout.Size = ds.Space.NumElements() * uint64(ds.Type.Size)
	}
	if ds.Layout.Class == LayoutChunked && len(ds.Layout.ChunkDims) != len(ds.Space.Dims) {
		return formatErr(m.off, "chunk rank %d for a rank %d dataspace", len(ds.Layout.ChunkDims), len(ds.Space.Dims))
	}
	if m := oh.find(msgExternalFiles); m != nil {
		if ds.External, err = f.parseExternalFiles(m); err != nil {
			return err
		}
	}
	if m, err = get(msgFilterPipeline, false); err != nil {
		return err
	}
	if m != nil {
		if ds.Filters, err = f.parseFilterPipeline(m); err != nil {
			return err
		}
	}
	if m, err = get(msgFillValue, false); err != nil {
		return err
	}
	if m == nil {
		if m, err = get(msgFillValueOld, false); err != nil {
			return err
		}
	}
	if m != nil {
		if ds.Fill, err = f.parseFillValue(m); err != nil {
			return err
		}
	}
	return nil
}

const maxAttributes = 1 << 20

// attributes returns an object's attributes, compact or dense, in creation
// order when tracked (else name order for dense storage).
func (f *File) attributes(oh *objectHeader) ([]*Attribute, error) {
	var out []*Attribute
	for i := range oh.msgs {
		m := &oh.msgs[i]
		if m.typ != msgAttribute {
			continue
		}
		r, _, err := f.resolve(m)
		if err != nil {
			return nil, err
		}
		a, err := f.parseAttribute(r)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	ai := oh.find(msgAttributeInfo)
	if ai == nil {
		return out, nil
	}
	heapAddr, idx, byOrder, err := f.denseIndex(ai, "attribute info message", 2)
	if err != nil {
		return nil, err
	}
	if heapAddr == undefAddr {
		return out, nil
	}
	h, err := f.fractalHeap(heapAddr)
	if err != nil {
		return nil, err
	}
	type ordered struct {
		a     *Attribute
		order uint32
	}
	var dense []ordered
	err = f.walkBTree2(idx, func(bh *bt2Header, rec []byte) error {
		if (bh.typ != 8 && bh.typ != 9) || len(rec) < 13 {
			return formatErr(f.AbsOffset(bh.addr), "v2 B-tree type %d (%d-byte records) as an attribute index", bh.typ, len(rec))
		}
		rd := f.newDecoder(rec, -1, "attribute index record")
		id := rd.bytes(8)
		mflags := rd.u8()
		order := rd.u32()
		obj, err := f.heapObject(h, id)
		if err != nil {
			return err
		}
		// Records of many objects may name the same large heap object.
		if err := f.charge(uint64(len(obj))+valueCost, f.AbsOffset(bh.addr), "dense attribute"); err != nil {
			return err
		}
		m := &message{typ: msgAttribute, flags: mflags, data: obj, off: -1}
		r, _, err := f.resolve(m)
		if err != nil {
			return err
		}
		a, err := f.parseAttribute(r)
		if err != nil {
			return err
		}
		if len(dense) >= maxAttributes {
			return formatErr(f.AbsOffset(bh.addr), "more than %d attributes", maxAttributes)
		}
		dense = append(dense, ordered{a, order})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if byOrder {
		slices.SortStableFunc(dense, func(x, y ordered) int { return cmp.Compare(x.order, y.order) })
	} else {
		slices.SortStableFunc(dense, func(x, y ordered) int { return strings.Compare(x.a.Name, y.a.Name) })
	}
	for _, o := range dense {
		out = append(out, o.a)
	}
	return out, nil
}

// Walk calls fn for the root group and then for every object reachable
// through hard links, depth first in link order, with its absolute path. An
// object reachable by several paths is visited under each of them, but a
// group's members are walked only once, so cycles end. Soft and external
// links are not followed.
func (f *File) Walk(fn func(path string, o Object) error) error {
	root, err := f.Root()
	if err != nil {
		return err
	}
	w := &walkState{expanded: map[uint64]bool{}}
	return f.walk(root, "", fn, w, 0)
}

// walkState is what one Walk has done: the groups it expanded, and how
// many paths, of how many bytes, it built. Expanding each group once keeps
// the number of paths linear in the number of links, but long names at
// every level of a deep hierarchy still make long paths, so both are capped.
type walkState struct {
	expanded  map[uint64]bool
	visits    int
	pathBytes int64
}

func (f *File) walk(o Object, path string, fn func(string, Object) error, w *walkState, depth int) error {
	p := path
	if p == "" {
		p = "/"
	}
	if err := fn(p, o); err != nil {
		return err
	}
	g, ok := o.(*Group)
	if !ok || w.expanded[g.Addr] {
		return nil
	}
	w.expanded[g.Addr] = true
	// Fetch the members' object headers together: over blob storage this
	// is one or two requests per group instead of one per member.
	rs := make([]rangeio.Range, 0, len(g.Links))
	for _, l := range g.Links {
		if l.Kind == LinkHard {
			rs = append(rs, rangeio.Range{Off: int64(l.Addr), Len: headerPrefetchLen})
		}
	}
	f.prefetch(rs)
	if depth >= f.opts.maxDepth {
		return &FormatError{Offset: -1, Path: p, What: fmt.Sprintf("groups nested deeper than %d", f.opts.maxDepth), Err: ErrUnsupported}
	}
	for _, l := range g.Links {
		if l.Kind != LinkHard {
			continue
		}
		w.visits++
		w.pathBytes += int64(len(path) + 1 + len(l.Name))
		switch {
		case len(path)+1+len(l.Name) > maxPathBytes:
			return &FormatError{Offset: -1, Path: p, What: fmt.Sprintf("link %.40q makes a path longer than %d bytes", l.Name, maxPathBytes), Err: ErrUnsupported}
		case w.visits > maxWalkVisits || w.pathBytes > budgetFixed+budgetPerByte*min(f.size, 1<<50):
			return &FormatError{Offset: -1, Path: p, What: fmt.Sprintf("more than %d paths (%d bytes of paths) to walk", w.visits, w.pathBytes), Err: ErrUnsupported}
		}
		cp := path + "/" + l.Name
		child, err := f.objectAt(l.Addr, cp)
		if err != nil {
			return err
		}
		if err := f.walk(child, cp, fn, w, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// UnlimitedSize is the Size of an external file segment that extends to
// the end of the address space (H5F_UNLIMITED); only the last may.
const UnlimitedSize = math.MaxUint64

// parseExternalFiles reads an External Data Files message: its version,
// slot counts and heap address, then one name offset (in the local heap),
// file offset and size per used slot. Names are bounded by the
// StringBytes limit; the segment list by the message's size.
func (f *File) parseExternalFiles(m *message) ([]ExternalFile, error) {
	d := f.newDecoder(m.data, m.off, "external data files message")
	version := d.u8()
	d.skip(3)
	allocated := int(d.u16())
	used := int(d.u16())
	heapAddr := d.addr()
	if d.err != nil {
		return nil, d.err
	}
	if version != 1 {
		return nil, formatErr(m.off, "external data files message version %d", version)
	}
	if used == 0 || used > allocated {
		return nil, formatErr(m.off, "external data files message with %d of %d slots used", used, allocated)
	}
	if used*3*f.lenSize > d.remaining() {
		return nil, formatErr(m.off, "external data files message with %d slots in %d bytes", used, d.remaining())
	}
	heap, err := f.localHeap(heapAddr)
	if err != nil {
		return nil, err
	}
	out := make([]ExternalFile, used)
	for i := range out {
		nameOff := d.length()
		out[i].Offset = d.length()
		out[i].Size = d.length()
		if out[i].Name, err = heap.name(nameOff); err != nil {
			return nil, err
		}
		if out[i].Name == "" {
			return nil, formatErr(m.off, "external data file %d without a name", i)
		}
		if err := limits.Check(limits.StringBytes, uint64(len(out[i].Name)), f.opts.limits.StringBytes); err != nil {
			return nil, err
		}
		if out[i].Size == UnlimitedSize && i != used-1 {
			return nil, formatErr(m.off, "external data file %d of size %d", i, out[i].Size)
		}
	}
	return out, d.err
}
