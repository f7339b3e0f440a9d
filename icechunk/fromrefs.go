package icechunk

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/refread"
	"github.com/greensight/vzarr/zarr"
)

// FromRefs writes a kerchunk reference set (Zarr v2 metadata and chunk
// references) into session s: every group (a .zgroup, and always the root)
// becomes a Zarr v3 group with the .zattrs as attributes, every array (a
// .zarray) a Zarr v3 array (zarr.ArrayV3Of, default "/" chunk keys) whose
// dimension_names are its _ARRAY_DIMENSIONS and whose attributes are the
// other .zattrs members, their text kept as it is. Each chunk key ("0.1")
// becomes a chunk index; an inline reference an inline chunk, a range
// reference a virtual chunk at its location (a local path becomes a
// file:// URL) whose checksum is the source's last-modified time
// (LastModifiedChecksum). Local sources only for now: a reference to
// another scheme fails with ErrInvalidArgument. The repository needs a
// virtual chunk container covering the locations: see RefsContainers.
// Consolidated metadata (.zmetadata) is left out.
func FromRefs(ctx context.Context, s *Session, refs *kerchunk.Refs) error {
	groups := map[string]bool{"": true}
	var arrays []string
	refs.All(func(k string, _ kerchunk.Ref) bool {
		dir, base := splitKey(k)
		switch base {
		case ".zgroup":
			groups[dir] = true
		case ".zarray":
			arrays = append(arrays, strings.Clone(dir))
		}
		return true
	})
	for _, g := range slices.Sorted(maps.Keys(groups)) {
		attrs, _ := refs.Text(metaKey(g, ".zattrs"))
		b, err := (&zarr.GroupV3{Attributes: attrsWithout([]byte(attrs))}).MarshalJSON()
		if err != nil {
			return fmt.Errorf("icechunk: group %q: %w", g, err)
		}
		if err := s.AddGroup(nodePath(g), b); err != nil {
			return err
		}
	}
	slices.Sort(arrays)
	byPath := map[string]*refsArray{}
	for _, p := range arrays {
		a, err := addRefsArray(s, refs, p)
		if err != nil {
			return fmt.Errorf("icechunk: array %q: %w", p, err)
		}
		byPath[p] = a
	}
	return setRefsChunks(ctx, s, refs, byPath)
}

// RefsContainers returns the virtual chunk containers a repository needs
// for the virtual chunks FromRefs writes from refs: one local-filesystem
// container per directory holding a source (file:///dir/).
func RefsContainers(refs *kerchunk.Refs) ([]VirtualChunkContainer, error) {
	seen := map[string]bool{}
	var out []VirtualChunkContainer
	for _, u := range refs.URLs() {
		loc, err := virtualLocation(u)
		if err != nil {
			return nil, err
		}
		prefix := loc[:strings.LastIndexByte(loc, '/')+1]
		if !seen[prefix] {
			seen[prefix] = true
			out = append(out, VirtualChunkContainer{URLPrefix: prefix, Store: StoreLocalFilesystem})
		}
	}
	return out, nil
}

// splitKey splits a reference key into its node ("" for the root) and name.
func splitKey(k string) (dir, base string) {
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		return k[:i], k[i+1:]
	}
	return "", k
}

func metaKey(node, name string) string {
	if node == "" {
		return name
	}
	return node + "/" + name
}

func nodePath(node string) string { return "/" + node }

// attrsWithout returns the .zattrs text without _ARRAY_DIMENSIONS and
// _FillValue, every other member as written, followed by extra members
// (text of the form `,"name":value`; nil for none or text that is not an
// object when extra is empty).
func attrsWithout(zattrs []byte, extra ...byte) []byte {
	if len(bytes.TrimSpace(zattrs)) == 0 {
		if len(extra) == 0 {
			return nil
		}
		zattrs = []byte("{}")
	}
	out := []byte{'{'}
	err := zarr.EachMember(zattrs, func(key, val []byte) error {
		if string(key) == `"_ARRAY_DIMENSIONS"` || string(key) == `"_FillValue"` {
			return nil
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(append(append(out, key...), ':'), val...)
		return nil
	})
	if err != nil {
		return nil
	}
	if len(extra) > 0 {
		if len(out) == 1 {
			extra = extra[1:]
		}
		out = append(out, extra...)
	}
	return append(out, '}')
}

// localSources caches the size and checksum of each local source.
type localSources map[string]localSource

type localSource struct {
	size     int64
	checksum uint32
}

func (l localSources) stat(file string) (localSource, error) {
	if src, ok := l[file]; ok {
		return src, nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		return localSource{}, fmt.Errorf("%w: virtual chunk source: %w", ErrInvalidArgument, err)
	}
	src := localSource{size: fi.Size(), checksum: LastModifiedChecksum(fi.ModTime())}
	l[file] = src
	return src, nil
}

// virtualLocation is the Icechunk location of a reference URL: file:// for
// an absolute local path.
func virtualLocation(u string) (string, error) {
	switch {
	case strings.HasPrefix(u, "file:///"):
		return u, nil
	case strings.HasPrefix(u, "/"):
		return "file://" + u, nil
	}
	return "", fmt.Errorf("%w: virtual chunk location %q is not a local file", ErrInvalidArgument, u)
}

// refsArray is an array FromRefs added: its node and how its chunk keys read.
type refsArray struct {
	path string // reference key prefix
	node *Node
	sep  string // chunk key separator
	idx  []uint32
}

func addRefsArray(s *Session, refs *kerchunk.Refs, p string) (*refsArray, error) {
	zarray, _ := refs.Text(metaKey(p, ".zarray"))
	zattrs, _ := refs.Text(metaKey(p, ".zattrs"))
	a, err := refread.NewArray(p, []byte(zarray), []byte(zattrs))
	if err != nil {
		return nil, err
	}
	fillAttr, err := a.Meta.DType.FillValueAttr(a.Meta.FillValue)
	if err != nil {
		return nil, err
	}
	if fillAttr != nil {
		fillAttr = append([]byte(`,"_FillValue":`), fillAttr...)
	}
	v3, err := zarr.ArrayV3Of(a.Meta, a.Dims, attrsWithout([]byte(zattrs), fillAttr...))
	if err != nil {
		return nil, err
	}
	v3.ChunkKeyEncoding = zarr.ChunkKeyEncoding{Name: "default"}
	meta, err := v3.MarshalJSON()
	if err != nil {
		return nil, err
	}
	grid := a.Meta.Grid()
	shape := make([]DimShape, len(grid))
	for d, n := range grid {
		if n > 1<<32-1 {
			return nil, fmt.Errorf("%w: %d chunks along dimension %d", ErrInvalidArgument, n, d)
		}
		shape[d] = DimShape{Length: a.Meta.Shape[d], NumChunks: uint32(n)}
	}
	if err := s.AddArray(nodePath(p), meta, shape, a.Dims); err != nil {
		return nil, err
	}
	return &refsArray{path: p, node: s.nodes[nodePath(p)], sep: a.Sep, idx: make([]uint32, len(grid))}, nil
}

// setRefsChunks sets the chunks of the arrays in one pass over refs, in
// their order. A key is a chunk of the deepest array whose path is a prefix
// of it and whose chunk key syntax it follows.
func setRefsChunks(ctx context.Context, s *Session, refs *kerchunk.Refs, byPath map[string]*refsArray) error {
	if len(byPath) == 0 {
		return nil
	}
	local := localSources{}
	var last *refsArray  // the array of the previous chunk
	var lastURL string   // the previous virtual reference's URL ...
	var lastRef ChunkRef // ... and its location and checksum
	var ferr error
	n := 0
	refs.All(func(key string, r kerchunk.Ref) bool {
		if n++; n&(1<<16-1) == 0 {
			if ferr = ctx.Err(); ferr != nil {
				return false
			}
		}
		for i := strings.LastIndexByte(key, '/'); i > 0; i = strings.LastIndexByte(key[:i], '/') {
			dir, rest := key[:i], key[i+1:]
			a := last
			if a == nil || a.path != dir {
				if a = byPath[dir]; a == nil {
					continue
				}
			}
			if strings.HasPrefix(rest, ".") {
				return true // metadata of a node, not a chunk
			}
			if a.sep != "/" && strings.Contains(rest, "/") {
				continue
			}
			if !chunkIndex(rest, a.sep, a.idx) {
				continue // a key of a node below, not a chunk of this array
			}
			last = a
			ref := ChunkRef{Index: a.idx}
			if r.IsInline() {
				ref.Inline = r.Data
				if ref.Inline == nil {
					ref.Inline = []byte{}
				}
			} else {
				if r.URL != lastURL || lastRef.Location == "" {
					if ferr = lastRef.setSource(r.URL, local); ferr != nil {
						ferr = fmt.Errorf("icechunk: array %q: %w", a.path, ferr)
						return false
					}
					lastURL = r.URL
				}
				ref.Location, ref.ChecksumLastModified = lastRef.Location, lastRef.ChecksumLastModified
				ref.Offset, ref.Length = uint64(r.Offset), uint64(r.Length)
				if r.Length < 0 {
					ref.Offset, ref.Length = 0, lastRef.Length
				}
			}
			if ferr = s.setChunk(a.node, ref); ferr != nil {
				ferr = fmt.Errorf("icechunk: array %q: chunk %q: %w", a.path, key, ferr)
				return false
			}
			return true
		}
		return true
	})
	return ferr
}

// setSource sets r's location, checksum and (as Length) the source's size
// for a reference to url.
func (r *ChunkRef) setSource(url string, local localSources) error {
	loc, err := virtualLocation(url)
	if err != nil {
		return err
	}
	src, err := local.stat(strings.TrimPrefix(loc, "file://"))
	if err != nil {
		return err
	}
	r.Location, r.ChecksumLastModified, r.Length = loc, src.checksum, uint64(src.size)
	return nil
}

// chunkIndex parses a v2 chunk key ("0.1", "0/1"; "0" for a scalar) into
// idx, whose length is the array's rank; false when key is not one.
func chunkIndex(key, sep string, idx []uint32) bool {
	if len(idx) == 0 {
		return key == "0"
	}
	for d := range idx {
		part := key
		if d < len(idx)-1 {
			i := strings.Index(key, sep)
			if i < 0 {
				return false
			}
			part, key = key[:i], key[i+len(sep):]
		}
		v, err := strconv.ParseUint(part, 10, 32)
		if err != nil {
			return false
		}
		idx[d] = uint32(v)
	}
	return true
}
