package icechunk

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/zarr"
)

// ToRefs returns snapshot snap as a kerchunk reference set, the inverse of
// FromRefs, so that the readers and checks written for references (refread
// with its Verify, package combine) read a repository too: every group
// becomes a .zgroup (with its attributes as .zattrs), every array a
// .zarray (zarr.ArrayV2Of; the v2 fill_value is the v3 one when the
// attributes hold xarray's _FillValue, which FromRefs writes for a v2
// fill_value, else null) and a .zattrs (the attributes without _FillValue,
// with _ARRAY_DIMENSIONS from dimension_names), every chunk ref a
// reference: inline chunks inline, virtual chunks a byte range of their
// source, native chunks inline (read from the repository). A virtual
// chunk's source is its location mapped through the covering virtual chunk
// container of the repository config (VirtualChunkContainer.SourceURL): a
// local path for file://, abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH
// for an az:// location of an Azure container naming its account, so that
// blobio opens it; a location no container covers, or one SourceURL cannot
// map, is kept as it is. Checksums are not carried: a reference has no
// field for them.
func (r *Repo) ToRefs(ctx context.Context, snap *Snapshot) (*kerchunk.Refs, error) {
	cs, err := r.info.Containers()
	if err != nil {
		return nil, err
	}
	return r.toRefs(ctx, snap, &sourceURLs{containers: cs})
}

// sourceURLs maps virtual chunk locations to source URLs (memoised: a
// snapshot has few distinct sources and many chunks).
type sourceURLs struct {
	containers []VirtualChunkContainer
	memo       map[string]string
}

// url returns the source URL of location.
func (m *sourceURLs) url(location string) string {
	if m == nil {
		return location
	}
	if u, ok := m.memo[location]; ok {
		return u
	}
	u := location
	if c, ok := Covering(m.containers, location); ok {
		if s, err := c.SourceURL(location); err == nil {
			u = s
		}
	}
	if m.memo == nil {
		m.memo = map[string]string{}
	}
	m.memo[location] = u
	return u
}

// toRefs is ToRefs with virtual chunks at src.url(location); a nil src
// keeps the locations.
func (r *Repo) toRefs(ctx context.Context, snap *Snapshot, src *sourceURLs) (*kerchunk.Refs, error) {
	refs := kerchunk.NewRefs(0)
	for i := range snap.Nodes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := &snap.Nodes[i]
		node := strings.TrimPrefix(n.Path, "/")
		meta, err := zarr.ParseV3(n.UserData)
		if err != nil {
			return nil, fmt.Errorf("icechunk: node %s: %w", n.Path, err)
		}
		switch m := meta.(type) {
		case *zarr.GroupV3:
			if n.Array != nil {
				return nil, fmt.Errorf("%w: array node %s has group metadata", ErrCorrupt, n.Path)
			}
			refs.SetText(metaKey(node, ".zgroup"), zarr.GroupV2JSON)
			if attrs := attrsWithout(m.Attributes); len(attrs) > 2 {
				refs.SetText(metaKey(node, ".zattrs"), string(attrs))
			}
		case *zarr.ArrayV3:
			if n.Array == nil || node == "" {
				return nil, fmt.Errorf("%w: node %s has array metadata", ErrCorrupt, n.Path)
			}
			if err := r.arrayToRefs(ctx, refs, node, n, m, src); err != nil {
				return nil, fmt.Errorf("icechunk: array %s: %w", n.Path, err)
			}
		}
	}
	return refs, nil
}

func (r *Repo) arrayToRefs(ctx context.Context, refs *kerchunk.Refs, node string, n *Node, m *zarr.ArrayV3, src *sourceURLs) error {
	hasFill := false
	if err := zarr.EachMember(m.Attributes, func(key, _ []byte) error {
		hasFill = hasFill || string(key) == `"_FillValue"`
		return nil
	}); err != nil && len(m.Attributes) > 0 {
		return err
	}
	v2, err := zarr.ArrayV2Of(m, hasFill)
	if err != nil {
		return err
	}
	zarray, err := v2.MarshalJSON()
	if err != nil {
		return err
	}
	refs.SetText(metaKey(node, zarr.ArrayKeyV2), string(zarray))
	var extra []byte
	if m.DimensionNames != nil {
		dims, err := json.Marshal(m.DimensionNames)
		if err != nil {
			return err
		}
		extra = append([]byte(`,"_ARRAY_DIMENSIONS":`), dims...)
	}
	if attrs := attrsWithout(m.Attributes, extra...); len(attrs) > 2 {
		refs.SetText(metaKey(node, zarr.AttrsKeyV2), string(attrs))
	}
	chunks, err := r.ArrayRefs(ctx, n)
	if err != nil {
		return err
	}
	sep := "."
	if v2.DimensionSeparator != "" {
		sep = v2.DimensionSeparator
	}
	var key []byte
	for _, c := range chunks {
		key = append(append(key[:0], node...), '/')
		if len(c.Index) == 0 {
			key = append(key, '0')
		}
		for d, i := range c.Index {
			if d > 0 {
				key = append(key, sep...)
			}
			key = strconv.AppendUint(key, uint64(i), 10)
		}
		switch {
		case c.Location != "":
			refs.Set(string(key), kerchunk.Range(src.url(c.Location), int64(c.Offset), int64(c.Length)))
		case c.ChunkID != nil:
			b, _, err := r.st.Get(ctx, ChunkPath(*c.ChunkID))
			if err != nil {
				return fmt.Errorf("chunk %s: %w", key, err)
			}
			if c.Offset > uint64(len(b)) || c.Length > uint64(len(b))-c.Offset {
				return fmt.Errorf("%w: chunk %s: range %d+%d of a %d-byte chunk file", ErrCorrupt, key, c.Offset, c.Length, len(b))
			}
			refs.Set(string(key), kerchunk.Inline(b[c.Offset:c.Offset+c.Length]))
		default:
			refs.Set(string(key), kerchunk.Inline(c.Inline))
		}
	}
	return nil
}
