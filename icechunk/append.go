package icechunk

import (
	"bytes"
	"context"
	"strings"

	"github.com/greensight/vzarr/kerchunk"
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
// only. Nodes and chunks of the base that refs lacks are kept (nothing is
// deleted).
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
	changed := map[string]bool{}
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
	for dir := range changed {
		for _, name := range []string{".zarray", ".zattrs"} {
			if r, ok := refs.Get(metaKey(dir, name)); ok {
				delta.Set(metaKey(dir, name), r)
			}
		}
	}
	return FromRefs(ctx, s, delta)
}

// sameRef reports two references to the same bytes.
func sameRef(a, b kerchunk.Ref) bool {
	if a.IsInline() || b.IsInline() {
		return a.IsInline() && b.IsInline() && bytes.Equal(a.Data, b.Data)
	}
	return a.URL == b.URL && a.Offset == b.Offset && a.Length == b.Length
}
