package icechunk

import (
	"bytes"
	"context"
	"strings"

	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/zarr"
)

// BaseID returns the id of the snapshot the session started from.
func (s *Session) BaseID() ObjectID { return s.base.ID }

// UpdateFromRefs writes refs into session s as the new state of its base
// snapshot, writing only what differs from the base (ToRefs of it): the
// metadata of the root group and of every group whose metadata changed, and
// for each array with changed metadata or chunks its metadata and the
// changed chunk refs (FromRefs). A chunk whose reference is the same as the
// base's is left as it is, its checksum included, so a commit that appends
// along a dimension holds the new chunks and the grown arrays' metadata
// only. An array whose metadata changes in more than its shape (another
// chunk shape, dtype, codecs or fill value: a re-encoded time coordinate),
// or whose chunk grid shrinks, is replaced: written as a new node holding
// the chunks of refs only, so no chunk of the old encoding shows through.
// Other nodes and chunks of the base that refs lacks are kept.
func UpdateFromRefs(ctx context.Context, s *Session, refs *kerchunk.Refs) error {
	cur, err := s.repo.ToRefs(ctx, s.base)
	if err != nil {
		return err
	}
	arrays := map[string]bool{}
	for _, k := range refs.Keys() {
		if dir, ok := strings.CutSuffix(k, "/.zarray"); ok {
			arrays[dir] = true
		}
	}
	changed, replaced := map[string]bool{}, map[string]bool{}
	delta := kerchunk.NewRefs(0)
	sameText := func(k string) bool {
		a, okA := refs.Text(k)
		b, okB := cur.Text(k)
		return okA == okB && a == b
	}
	refs.All(func(k string, r kerchunk.Ref) bool {
		dir, base := splitKey(k)
		if strings.HasPrefix(base, ".") {
			switch {
			case base == ".zmetadata":
			case arrays[dir]:
				if !sameText(k) {
					changed[dir] = true
				}
				if base == ".zarray" && !growsOnly(cur, refs, k) {
					replaced[dir] = true
				}
			case dir == "" || !sameText(metaKey(dir, ".zgroup")) || !sameText(metaKey(dir, ".zattrs")):
				delta.Set(k, r) // group metadata: the root's always (FromRefs rewrites it)
			}
			return true
		}
		for dir != "" && !arrays[dir] {
			dir, _ = splitKey(dir)
		}
		if !arrays[dir] {
			return true // not a chunk of an array; FromRefs would skip it too
		}
		if old, ok := cur.Get(k); !ok || !sameRef(old, r) {
			delta.Set(k, r)
			changed[dir] = true
		}
		return true
	})
	for dir := range replaced {
		if n, ok := s.nodes[nodePath(dir)]; ok && n.Array != nil {
			delete(s.nodes, nodePath(dir)) // FromRefs adds it back as a new node
		}
		prefix := dir + "/"
		refs.All(func(k string, r kerchunk.Ref) bool {
			if rest, ok := strings.CutPrefix(k, prefix); ok && !strings.HasPrefix(rest, ".") {
				delta.Set(k, r)
			}
			return true
		})
	}
	for dir := range changed {
		for _, name := range []string{".zarray", ".zattrs"} {
			if r, ok := refs.Get(metaKey(dir, name)); ok {
				delta.Set(metaKey(dir, name), r)
			}
		}
	}
	return FromRefs(ctx, s, delta)
}

// growsOnly reports whether the .zarray at key of refs is the one of cur
// (absent from cur: a new array) with a shape whose chunk grid is no
// smaller along any dimension.
func growsOnly(cur, refs *kerchunk.Refs, key string) bool {
	oldText, ok := cur.Text(key)
	if !ok {
		return true
	}
	newText, _ := refs.Text(key)
	a, err := zarr.ParseArrayV2([]byte(oldText))
	if err != nil {
		return false
	}
	b, err := zarr.ParseArrayV2([]byte(newText))
	if err != nil || len(a.Shape) != len(b.Shape) {
		return false
	}
	ga, gb := a.Grid(), b.Grid()
	for d := range ga {
		if gb[d] < ga[d] {
			return false
		}
	}
	a.Shape = b.Shape
	x, errA := a.MarshalJSON()
	y, errB := b.MarshalJSON()
	return errA == nil && errB == nil && bytes.Equal(x, y)
}

// sameRef reports two references to the same bytes (a local path and its
// file:// URL name the same object).
func sameRef(a, b kerchunk.Ref) bool {
	if a.IsInline() || b.IsInline() {
		return a.IsInline() && b.IsInline() && bytes.Equal(a.Data, b.Data)
	}
	if a.Offset != b.Offset || a.Length != b.Length {
		return false
	}
	return strings.TrimPrefix(a.URL, "file://") == strings.TrimPrefix(b.URL, "file://")
}
