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
	for _, k := range refs.Keys() {
		dir, base := splitKey(k)
		switch base {
		case ".zgroup":
			groups[dir] = true
		case ".zarray":
			arrays = append(arrays, dir)
		}
	}
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
	local := localSources{}
	for _, p := range arrays {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := addRefsArray(s, refs, p, local); err != nil {
			return fmt.Errorf("icechunk: array %q: %w", p, err)
		}
	}
	return nil
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

func addRefsArray(s *Session, refs *kerchunk.Refs, p string, local localSources) error {
	zarray, _ := refs.Text(metaKey(p, ".zarray"))
	zattrs, _ := refs.Text(metaKey(p, ".zattrs"))
	a, err := refread.NewArray(p, []byte(zarray), []byte(zattrs))
	if err != nil {
		return err
	}
	fillAttr, err := a.Meta.DType.FillValueAttr(a.Meta.FillValue)
	if err != nil {
		return err
	}
	if fillAttr != nil {
		fillAttr = append([]byte(`,"_FillValue":`), fillAttr...)
	}
	v3, err := zarr.ArrayV3Of(a.Meta, a.Dims, attrsWithout([]byte(zattrs), fillAttr...))
	if err != nil {
		return err
	}
	v3.ChunkKeyEncoding = zarr.ChunkKeyEncoding{Name: "default"}
	meta, err := v3.MarshalJSON()
	if err != nil {
		return err
	}
	grid := a.Meta.Grid()
	shape := make([]DimShape, len(grid))
	for d, n := range grid {
		if n > 1<<32-1 {
			return fmt.Errorf("%w: %d chunks along dimension %d", ErrInvalidArgument, n, d)
		}
		shape[d] = DimShape{Length: a.Meta.Shape[d], NumChunks: uint32(n)}
	}
	if err := s.AddArray(nodePath(p), meta, shape, a.Dims); err != nil {
		return err
	}
	prefix := p + "/"
	var ferr error
	refs.All(func(key string, r kerchunk.Ref) bool {
		rest, ok := strings.CutPrefix(key, prefix)
		if !ok || strings.HasPrefix(rest, ".") || (a.Sep != "/" && strings.Contains(rest, "/")) {
			return true
		}
		idx, ok := chunkIndex(rest, a.Sep, len(grid))
		if !ok {
			return true // a key of a node below, not a chunk of this array
		}
		ref := ChunkRef{Index: idx}
		if r.IsInline() {
			ref.Inline = r.Data
			if ref.Inline == nil {
				ref.Inline = []byte{}
			}
		} else {
			if ref.Location, ferr = virtualLocation(r.URL); ferr != nil {
				return false
			}
			src, err := local.stat(strings.TrimPrefix(ref.Location, "file://"))
			if err != nil {
				ferr = err
				return false
			}
			ref.Offset, ref.Length = uint64(r.Offset), uint64(r.Length)
			if r.Length < 0 {
				ref.Offset, ref.Length = 0, uint64(src.size)
			}
			ref.ChecksumLastModified = src.checksum
		}
		if ferr = s.SetChunk(nodePath(p), ref); ferr != nil {
			ferr = fmt.Errorf("chunk %q: %w", key, ferr)
			return false
		}
		return true
	})
	return ferr
}

// chunkIndex parses a v2 chunk key ("0.1", "0/1"; "0" for a scalar) of a
// rank-dimensional array.
func chunkIndex(key, sep string, rank int) ([]uint32, bool) {
	parts := strings.Split(key, sep)
	if rank == 0 {
		return []uint32{}, key == "0"
	}
	if len(parts) != rank {
		return nil, false
	}
	idx := make([]uint32, rank)
	for i, s := range parts {
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return nil, false
		}
		idx[i] = uint32(v)
	}
	return idx, true
}
