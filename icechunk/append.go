package icechunk

import (
	"bytes"
	"context"
	"fmt"
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
//
// UpdateFromRefs reads blob sources with an Opener configured from the
// environment; Sources.UpdateFromRefs takes one.
func UpdateFromRefs(ctx context.Context, s *Session, refs *kerchunk.Refs) error {
	src := &Sources{}
	defer src.Close()
	return src.UpdateFromRefs(ctx, s, refs)
}

// ReplaceFromRefs is UpdateFromRefs for refs that are the whole new
// content of the session (each commit a complete version, as a pipeline
// Release is): it refuses, with ErrIncomplete and before writing
// anything, refs that lack a node of the base or a chunk of a base array
// they do not re-encode (an array whose metadata differs in more than its
// shape is replaced whole, so its old chunks need no cover), since
// UpdateFromRefs would keep those and the old data would show through. A
// shrunk array's dropped chunks are refused the same way.
func ReplaceFromRefs(ctx context.Context, s *Session, refs *kerchunk.Refs) error {
	src := &Sources{}
	defer src.Close()
	return src.ReplaceFromRefs(ctx, s, refs)
}

// UpdateFromRefs is the package's UpdateFromRefs with src's Opener and cache.
func (src *Sources) UpdateFromRefs(ctx context.Context, s *Session, refs *kerchunk.Refs) error {
	return src.updateFromRefs(ctx, s, refs, false)
}

// ReplaceFromRefs is the package's ReplaceFromRefs with src's Opener and cache.
func (src *Sources) ReplaceFromRefs(ctx context.Context, s *Session, refs *kerchunk.Refs) error {
	return src.updateFromRefs(ctx, s, refs, true)
}

func (src *Sources) updateFromRefs(ctx context.Context, s *Session, refs *kerchunk.Refs, complete bool) error {
	cur, err := s.repo.toRefs(ctx, s.base, nil) // the locations, as FromRefs writes them
	if err != nil {
		return err
	}
	if complete {
		if err := checkCovers(cur, refs); err != nil {
			return err
		}
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
		if old, ok := cur.Get(k); !ok || !src.sameRef(old, r) {
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
	return src.FromRefs(ctx, s, delta)
}

// checkCovers refuses refs (ErrIncomplete) that lack a node of cur, or a
// chunk of an array of cur whose metadata refs keeps but for its shape.
func checkCovers(cur, refs *kerchunk.Refs) error {
	var err error
	cur.All(func(k string, _ kerchunk.Ref) bool {
		dir, base := splitKey(k)
		switch {
		case base == ".zgroup" || base == ".zarray":
			if _, ok := refs.Get(k); !ok {
				err = fmt.Errorf("%w: the node /%s of the branch's head is not in the new references (a commit cannot drop nodes yet)", ErrIncomplete, dir)
			}
		case strings.HasPrefix(base, "."):
		default:
			for dir != "" && !isArray(cur, dir) {
				dir, _ = splitKey(dir)
			}
			if _, ok := refs.Get(k); !ok && isArray(cur, dir) && sameButShape(cur, refs, metaKey(dir, ".zarray")) {
				err = fmt.Errorf("%w: chunk %s of the branch's head is not in the new references (a commit cannot drop chunks yet)", ErrIncomplete, k)
			}
		}
		return err == nil
	})
	return err
}

func isArray(refs *kerchunk.Refs, dir string) bool {
	_, ok := refs.Get(metaKey(dir, ".zarray"))
	return dir != "" && ok
}

// growsOnly reports whether the .zarray at key of refs is the one of cur
// (absent from cur: a new array) with a shape whose chunk grid is no
// smaller along any dimension.
func growsOnly(cur, refs *kerchunk.Refs, key string) bool {
	if _, ok := cur.Text(key); !ok {
		return true
	}
	a, b, ok := parseBoth(cur, refs, key)
	if !ok || !sameButShape(cur, refs, key) {
		return false
	}
	ga, gb := a.Grid(), b.Grid()
	for d := range ga {
		if gb[d] < ga[d] {
			return false
		}
	}
	return true
}

// parseBoth parses the .zarray at key of cur and of refs.
func parseBoth(cur, refs *kerchunk.Refs, key string) (a, b *zarr.ArrayV2, ok bool) {
	oldText, okA := cur.Text(key)
	newText, okB := refs.Text(key)
	if !okA || !okB {
		return nil, nil, false
	}
	a, errA := zarr.ParseArrayV2([]byte(oldText))
	b, errB := zarr.ParseArrayV2([]byte(newText))
	return a, b, errA == nil && errB == nil && len(a.Shape) == len(b.Shape)
}

// sameButShape reports whether the .zarray at key is the same in cur and
// refs but for its shape.
func sameButShape(cur, refs *kerchunk.Refs, key string) bool {
	a, b, ok := parseBoth(cur, refs, key)
	if !ok {
		return false
	}
	a2 := *a
	a2.Shape = b.Shape
	x, errA := a2.MarshalJSON()
	y, errB := b.MarshalJSON()
	return errA == nil && errB == nil && bytes.Equal(x, y)
}

// sameRef reports whether reference b of the new set is the same bytes as
// reference a of the base, whose URL is a virtual chunk location (b's URL
// is resolved to its location, so a local path and its file:// URL, or two
// spellings of one blob, are the same source).
func (src *Sources) sameRef(a, b kerchunk.Ref) bool {
	if a.IsInline() || b.IsInline() {
		return a.IsInline() && b.IsInline() && bytes.Equal(a.Data, b.Data)
	}
	if a.Offset != b.Offset || a.Length != b.Length {
		return false
	}
	if info, err := src.resolve(b.URL); err == nil {
		return info.location == a.URL
	}
	return a.URL == b.URL
}
