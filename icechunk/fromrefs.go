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

	"github.com/greensight/vzarr/blobio"
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
// reference a virtual chunk at the source's Icechunk location (see
// Sources) with the source's checksum: its ETag for a blob, its
// last-modified time (LastModifiedChecksum) for a local file. The
// repository needs virtual chunk containers covering the locations: see
// RefsContainers. Consolidated metadata (.zmetadata) is left out.
//
// FromRefs reads blob sources with an Opener configured from the
// environment; Sources.FromRefs takes one.
func FromRefs(ctx context.Context, s *Session, refs *kerchunk.Refs) error {
	src := &Sources{}
	defer src.Close()
	return src.FromRefs(ctx, s, refs)
}

// FromRefs is the package's FromRefs with src's Opener and cache.
func (src *Sources) FromRefs(ctx context.Context, s *Session, refs *kerchunk.Refs) error {
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
		if err := ctx.Err(); err != nil {
			return err
		}
		a, err := addRefsArray(s, refs, p)
		if err != nil {
			return fmt.Errorf("icechunk: array %q: %w", p, err)
		}
		byPath[p] = a
	}
	return setRefsChunks(ctx, s, refs, byPath, src)
}

// RefsContainers returns the virtual chunk containers a repository needs
// for the virtual chunks FromRefs writes from refs (see
// Sources.Containers), resolving accounts with an Opener configured from
// the environment.
func RefsContainers(refs *kerchunk.Refs) ([]VirtualChunkContainer, error) {
	return (&Sources{}).Containers(refs)
}

// Containers returns the virtual chunk containers covering the sources of
// refs, one per directory holding a source: file:///DIR/ (local file
// system) for local files, az://CONTAINER/DIR/ (Azure, with the storage
// account as the "account" option) for blobs. Icechunk names Azure
// locations az://CONTAINER/PATH and keeps the account in the container's
// store config, so two sources in containers of the same name in different
// accounts need different directories (ErrInvalidArgument otherwise).
func (src *Sources) Containers(refs *kerchunk.Refs) ([]VirtualChunkContainer, error) {
	seen := map[string]VirtualChunkContainer{}
	var out []VirtualChunkContainer
	for _, u := range refs.URLs() {
		info, err := src.resolve(u)
		if err != nil {
			return nil, err
		}
		c := info.container
		if prev, ok := seen[c.URLPrefix]; ok {
			if prev.Options["account"] != c.Options["account"] {
				return nil, fmt.Errorf("%w: %s holds sources of two storage accounts (%s, %s); Icechunk locations do not name the account", ErrInvalidArgument, c.URLPrefix, prev.Options["account"], c.Options["account"])
			}
			continue
		}
		seen[c.URLPrefix] = c
		out = append(out, c)
	}
	return out, nil
}

// CommonContainers merges containers (as Containers gives them, one per
// source folder) into one for their deepest common folder when they share
// a store kind and options and that folder is below the URL's root (the
// subfolders of a recursive scan: a later commit with a new subfolder is
// then covered too, since a repository's containers are set when it is
// created); otherwise it returns them as they are.
func CommonContainers(cs []VirtualChunkContainer) []VirtualChunkContainer {
	if len(cs) < 2 {
		return cs
	}
	common := cs[0].URLPrefix
	for _, c := range cs[1:] {
		if c.Store != cs[0].Store || !maps.Equal(c.Options, cs[0].Options) {
			return cs
		}
		for !strings.HasPrefix(c.URLPrefix, common) {
			common = common[:strings.LastIndexByte(strings.TrimSuffix(common, "/"), '/')+1]
		}
	}
	if _, rest, ok := strings.Cut(common, "://"); !ok || strings.Trim(rest, "/") == "" {
		return cs // nothing below the root in common
	}
	merged := cs[0]
	merged.URLPrefix = common
	return []VirtualChunkContainer{merged}
}

// SourceURL returns the URL blobio opens for location, a virtual chunk
// location c covers: the local path of a file:// location, or
// abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH for an Azure one
// (reached with the Opener's credential, or its connection string for the
// account, such as an emulator's).
func (c VirtualChunkContainer) SourceURL(location string) (string, error) {
	if !strings.HasPrefix(location, c.URLPrefix) {
		return "", fmt.Errorf("%w: %s is not under container %s", ErrInvalidArgument, location, c.URLPrefix)
	}
	switch c.Store {
	case StoreLocalFilesystem:
		if p, ok := strings.CutPrefix(location, "file://"); ok {
			return p, nil
		}
	case StoreAzure:
		if rest, ok := strings.CutPrefix(location, "az://"); ok && c.Options["account"] != "" {
			container, key, _ := strings.Cut(rest, "/")
			return "abfs://" + container + "@" + c.Options["account"] + ".dfs.core.windows.net/" + key, nil
		}
	}
	return "", fmt.Errorf("%w: location %s of a %s container", ErrInvalidArgument, location, c.Store)
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

// Sources resolves the sources of kerchunk references to Icechunk virtual
// chunks: the location (a local path or file:// URL becomes
// file:///PATH; an Azure blob, in any spelling blobio reads: abfs://,
// abfss://, az://, azblob://, becomes az://CONTAINER/PATH, as Icechunk
// names Azure locations), the covering container, the size (for
// whole-object references) and the checksum: a local file's last-modified
// time, a blob's ETag. Each source is looked at once (one stat or one
// Azure Get Blob Properties request), then cached. Other schemes (mem://,
// http) fail with ErrInvalidArgument. Not safe for concurrent use; Close
// it when done.
type Sources struct {
	// Opener parses blob URLs, finds their storage account and reads
	// their properties (its allowed hosts and credentials apply); nil means
	// blobio.NewOpenerFromEnv(), made on first use.
	Opener *blobio.Opener

	infos map[string]*sourceInfo     // by reference URL
	objs  map[string]*blobio.Objects // by container URL
	stats map[string]*sourceChecksum // by location
}

// sourceInfo is what a reference URL resolves to.
type sourceInfo struct {
	location  string
	container VirtualChunkContainer
	local     string           // the path of a local source
	blob      *blobio.Location // the location of a blob source
}

// sourceChecksum is a stat of a source.
type sourceChecksum struct {
	size         int64
	etag         string
	lastModified uint32
}

// Stat looks at every source of refs once (a stat or a Get Blob
// Properties request; cached for FromRefs), so that a source that cannot
// be read fails before anything is written.
func (src *Sources) Stat(ctx context.Context, refs *kerchunk.Refs) error {
	for _, u := range refs.URLs() {
		info, err := src.resolve(u)
		if err != nil {
			return err
		}
		if _, err := src.checksum(ctx, info); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the buckets opened to read blob properties.
func (src *Sources) Close() error {
	for _, o := range src.objs {
		_ = o.Close()
	}
	src.objs = nil
	return nil
}

func (src *Sources) opener() *blobio.Opener {
	if src.Opener == nil {
		src.Opener = blobio.NewOpenerFromEnv()
	}
	return src.Opener
}

// resolve returns the location and container of a reference URL.
func (src *Sources) resolve(u string) (*sourceInfo, error) {
	if info, ok := src.infos[u]; ok {
		return info, nil
	}
	info, err := src.resolveURL(u)
	if err != nil {
		return nil, err
	}
	if src.infos == nil {
		src.infos = map[string]*sourceInfo{}
	}
	src.infos[u] = info
	return info, nil
}

func (src *Sources) resolveURL(u string) (*sourceInfo, error) {
	dir := func(loc string) string { return loc[:strings.LastIndexByte(loc, '/')+1] }
	switch {
	case strings.HasPrefix(u, "file:///"):
		return &sourceInfo{location: u, local: strings.TrimPrefix(u, "file://"),
			container: VirtualChunkContainer{URLPrefix: dir(u), Store: StoreLocalFilesystem}}, nil
	case strings.HasPrefix(u, "/"):
		return &sourceInfo{location: "file://" + u, local: u,
			container: VirtualChunkContainer{URLPrefix: "file://" + dir(u), Store: StoreLocalFilesystem}}, nil
	}
	o := src.opener()
	loc, err := o.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("%w: virtual chunk source %q: %w", ErrInvalidArgument, u, err)
	}
	if !loc.IsAzure() || loc.Key == "" || strings.HasSuffix(loc.Key, "/") {
		return nil, fmt.Errorf("%w: virtual chunk location %q is neither a local file nor an Azure blob", ErrInvalidArgument, u)
	}
	if d := loc.Domain; d != "" && !strings.HasSuffix(d, ".core.windows.net") {
		return nil, fmt.Errorf("%w: virtual chunk source %q: only the Azure public cloud (core.windows.net) has Icechunk locations here", ErrInvalidArgument, u)
	}
	account := o.AccountOf(loc)
	if account == "" {
		return nil, fmt.Errorf("%w: virtual chunk source %q names no storage account and none is configured", ErrInvalidArgument, u)
	}
	location := "az://" + loc.Container + "/" + loc.Key
	return &sourceInfo{location: location, blob: loc, container: VirtualChunkContainer{
		URLPrefix: dir(location), Store: StoreAzure, Options: map[string]string{"account": account}}}, nil
}

// checksum returns the size and checksum of a resolved source.
func (src *Sources) checksum(ctx context.Context, info *sourceInfo) (*sourceChecksum, error) {
	if c, ok := src.stats[info.location]; ok {
		return c, nil
	}
	c := &sourceChecksum{}
	if info.local != "" {
		fi, err := os.Stat(info.local)
		if err != nil {
			return nil, fmt.Errorf("%w: virtual chunk source: %w", ErrInvalidArgument, err)
		}
		c.size, c.lastModified = fi.Size(), LastModifiedChecksum(fi.ModTime())
	} else {
		root := info.blob.WithKey("").String()
		objs, ok := src.objs[root]
		if !ok {
			var err error
			if objs, err = src.opener().OpenObjects(ctx, root); err != nil {
				return nil, fmt.Errorf("%w: virtual chunk source: %w", ErrInvalidArgument, err)
			}
			if src.objs == nil {
				src.objs = map[string]*blobio.Objects{}
			}
			src.objs[root] = objs
		}
		size, _, etag, err := objs.Stat(ctx, info.blob.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: virtual chunk source: %w", ErrInvalidArgument, err)
		}
		if etag == "" {
			return nil, fmt.Errorf("%w: virtual chunk source %s: no ETag", ErrInvalidArgument, info.location)
		}
		c.size, c.etag = size, etag
	}
	if src.stats == nil {
		src.stats = map[string]*sourceChecksum{}
	}
	src.stats[info.location] = c
	return c, nil
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
func setRefsChunks(ctx context.Context, s *Session, refs *kerchunk.Refs, byPath map[string]*refsArray, src *Sources) error {
	if len(byPath) == 0 {
		return nil
	}
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
					if ferr = lastRef.setSource(ctx, r.URL, src); ferr != nil {
						ferr = fmt.Errorf("icechunk: array %q: %w", a.path, ferr)
						return false
					}
					lastURL = r.URL
				}
				ref.Location, ref.ChecksumLastModified, ref.ChecksumETag = lastRef.Location, lastRef.ChecksumLastModified, lastRef.ChecksumETag
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
func (r *ChunkRef) setSource(ctx context.Context, url string, src *Sources) error {
	info, err := src.resolve(url)
	if err != nil {
		return err
	}
	sum, err := src.checksum(ctx, info)
	if err != nil {
		return err
	}
	r.Location, r.Length = info.location, uint64(sum.size)
	r.ChecksumLastModified, r.ChecksumETag = sum.lastModified, sum.etag
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
