package combine

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/refread"
)

// fileModel is what combine keeps of one input: its arrays, their
// metadata and (for the arrays it needs) their chunk references.
type fileModel struct {
	index  int
	name   string
	arrays map[string]*fileArray
	order  []string // array paths, in the order of their .zarray keys
	// meta holds the metadata keys (.zgroup, .zarray, .zattrs,
	// .zmetadata) of the first input, in order, copied out of its
	// references so that those can be released once their chunks are
	// written.
	meta []metaRef
}

// metaRef is a metadata key and its reference.
type metaRef struct {
	key string
	ref kerchunk.Ref
}

// fileArray is one array of one input.
type fileArray struct {
	path   string
	zarray string // .zarray text
	zattrs string // .zattrs text ("" when absent)
	meta   *refread.Array
	axis   int // index of the concat dimension in meta.Dims, -1 if none
	chunks chunkList
	values *refread.Data // Options.Identical arrays: the values
}

// chunkRef is one chunk reference: its grid index and where its bytes
// are (re-encoded times, built by combine).
type chunkRef struct {
	idx []int
	ref kerchunk.Ref
}

// chunkList is the chunk references of an input array: their positions
// in the input's references, which it keeps (4 bytes a chunk besides the
// references themselves; a file may have tens of millions of chunks).
// The grid index of a chunk is parsed again from its key when needed.
type chunkList struct {
	refs *kerchunk.Refs
	pos  []uint32
	// How the keys parse: the length of the array's path and "/", the
	// separator and rank of the indexes.
	skip int
	sep  string
	rank int
}

func (l chunkList) len() int { return len(l.pos) }

// at returns the grid index of chunk j, parsed again from its key into
// buf (reset, reused), and its reference. The key was parsed when the
// input was read: an error here is a bug, reported as one.
func (l chunkList) at(j int, buf *[]int) ([]int, kerchunk.Ref, error) {
	k, r := l.refs.At(int(l.pos[j]))
	*buf = (*buf)[:0]
	idx, ok := parseIndex(k[min(l.skip, len(k)):], l.sep, l.rank, buf)
	if !ok {
		return nil, r, fmt.Errorf("combine: internal error: chunk key %q no longer parses", k)
	}
	return idx, r, nil
}
func (fa *fileArray) length() int { return fa.meta.Shape[fa.axis] }
func (fa *fileArray) chunk() int  { return fa.meta.Chunks[fa.axis] }

// parseFile splits an input's references into arrays and chunks. Chunk
// references are kept for the arrays along the concat dimension, and for
// every array of the first input; the values of the Identical arrays are
// read.
func (c *combiner) parseFile(ctx context.Context, index int, name string, refs *kerchunk.Refs) (*fileModel, error) {
	fm := &fileModel{index: index, name: name, arrays: map[string]*fileArray{}}
	if err := limits.CheckVar(limits.ChunksPerFile, name, "", uint64(refs.Len()), c.opts.Limits.ChunksPerFile); err != nil {
		return nil, err
	}
	if refs.Len() > math.MaxUint32 {
		return nil, incompatible(name, "", "%d references: more than combine can hold", refs.Len())
	}
	// Metadata keys, read with All: Keys and Get would build a key slice
	// and an index of every chunk key.
	attrs := map[string]string{}
	var bad error
	refs.All(func(k string, r kerchunk.Ref) bool {
		if !kerchunk.IsMetadataKey(k) {
			return true
		}
		if index == 0 {
			fm.meta = append(fm.meta, metaRef{strings.Clone(k), kerchunk.Ref{URL: r.URL, Offset: r.Offset, Length: r.Length, Data: bytes.Clone(r.Data)}})
		}
		prefix, base := splitKey(k)
		switch base {
		case ".zarray":
			if prefix == "" {
				bad = incompatible(name, "", "the references hold a single array, not a group of variables")
				return false
			}
			if !r.IsInline() {
				bad = incompatible(name, prefix, ".zarray is not inline metadata")
				return false
			}
			fm.arrays[prefix] = &fileArray{path: prefix, zarray: string(r.Data)}
			fm.order = append(fm.order, prefix)
		case ".zattrs":
			if r.IsInline() {
				attrs[prefix] = string(r.Data)
			}
		}
		return true
	})
	if bad != nil {
		return nil, bad
	}
	for _, p := range fm.order {
		fa := fm.arrays[p]
		fa.zattrs = attrs[p]
		if c.first != nil {
			// Most inputs repeat the first one's metadata: share it.
			if a0, ok := c.first.arrays[p]; ok && a0.zarray == fa.zarray && a0.zattrs == fa.zattrs {
				fa.meta, fa.axis = a0.meta, a0.axis
				continue
			}
		}
		meta, err := refread.NewArray(p, []byte(fa.zarray), []byte(fa.zattrs))
		if err != nil {
			return nil, incompatible(name, p, "%v", err)
		}
		if meta.Dims == nil && len(meta.Shape) > 0 {
			return nil, incompatible(name, p, "no _ARRAY_DIMENSIONS attribute: the references do not say which dimensions the variable has")
		}
		if len(meta.Dims) != len(meta.Shape) {
			return nil, incompatible(name, p, "%d dimension names for %d dimensions", len(meta.Dims), len(meta.Shape))
		}
		fa.meta = meta
		fa.axis = -1
		for j, d := range meta.Dims {
			if d == c.opts.ConcatDim {
				fa.axis = j
			}
		}
	}
	// Chunk keys: their positions in refs.
	var buf []int
	pos := -1
	refs.All(func(k string, r kerchunk.Ref) bool {
		pos++
		if kerchunk.IsMetadataKey(k) {
			return true
		}
		buf = buf[:0]
		fa, idx := fm.chunkOf(k, &buf)
		if fa == nil {
			c.log.Debug("combine: key of no array ignored", "file", name, "key", k)
			return true
		}
		for j, x := range idx {
			if x < 0 || x*fa.meta.Chunks[j] >= max(fa.meta.Shape[j], 1) {
				bad = incompatible(name, fa.path, "chunk key %q lies outside the array's shape %v (chunks %v)", k, fa.meta.Shape, fa.meta.Chunks)
				return false
			}
		}
		if index > 0 && fa.axis < 0 && !c.identical[fa.path] {
			return true // taken from the first file
		}
		if fa.chunks.refs == nil {
			fa.chunks = chunkList{refs: refs, skip: len(fa.path) + 1, sep: fa.meta.Sep, rank: len(fa.meta.Shape)}
		}
		if l := &fa.chunks.pos; len(*l) == cap(*l) {
			// Doubling: append grows large slices by a quarter, which
			// allocates several times the final size along the way.
			*l = append(make([]uint32, 0, max(2*cap(*l), 64)), *l...)
		}
		fa.chunks.pos = append(fa.chunks.pos, uint32(pos))
		return true
	})
	if bad != nil {
		return nil, bad
	}
	// Values of the arrays to check for identity.
	if len(c.identical) > 0 {
		store := c.store(refs)
		for p := range c.identical {
			fa, ok := fm.arrays[p]
			if !ok || fa.axis >= 0 {
				continue // reported by the comparison
			}
			a, err := store.Open(p)
			if err != nil {
				return nil, incompatible(name, p, "%v", err)
			}
			if fa.values, err = a.Read(ctx); err != nil {
				return nil, readErr(name, p, "reading its values: ", err)
			}
		}
	}
	for _, fa := range fm.arrays {
		if index > 0 && fa.axis < 0 && !c.identical[fa.path] {
			fa.chunks = chunkList{}
		}
	}
	// From here the input is only read by position: its key index (which
	// readers build) is not needed.
	refs.DropIndex()
	return fm, nil
}

// splitKey splits "a/b/.zarray" into "a/b" and ".zarray".
func splitKey(k string) (prefix, base string) {
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		return k[:i], k[i+1:]
	}
	return "", k
}

// chunkOf finds the array a chunk key belongs to and parses its grid
// index. buf is reused backing storage for the indexes.
func (fm *fileModel) chunkOf(k string, buf *[]int) (*fileArray, []int) {
	end := len(k)
	for up := 0; up < 33; up++ {
		i := strings.LastIndexByte(k[:end], '/')
		if i < 0 {
			return nil, nil
		}
		fa, ok := fm.arrays[k[:i]]
		if ok {
			sep := fa.meta.Sep
			want := 0
			if sep == "/" {
				want = max(len(fa.meta.Shape)-1, 0)
			}
			if up != want {
				return nil, nil
			}
			idx, ok := parseIndex(k[i+1:], sep, len(fa.meta.Shape), buf)
			if !ok {
				return nil, nil
			}
			return fa, idx
		}
		end = i
	}
	return nil, nil
}

// parseIndex parses "3.0.1" (or "3/0/1") into rank integers; a scalar's
// key is "0".
func parseIndex(s, sep string, rank int, buf *[]int) ([]int, bool) {
	if rank == 0 {
		return []int{}, s == "0"
	}
	if len(*buf)+rank > cap(*buf) {
		*buf = make([]int, 0, max(1024, 4*rank))
	}
	start := len(*buf)
	for j := 0; j < rank; j++ {
		part := s
		if j < rank-1 {
			i := strings.Index(s, sep)
			if i < 0 {
				return nil, false
			}
			part, s = s[:i], s[i+len(sep):]
		}
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil, false
		}
		*buf = append(*buf, n)
	}
	idx := (*buf)[start:len(*buf):len(*buf)]
	return idx, true
}

// chunkKey formats the key of the chunk at idx of the array at path.
func chunkKey(b []byte, path, sep string, idx []int) []byte {
	b = append(b, path...)
	b = append(b, '/')
	if len(idx) == 0 {
		return append(b, '0')
	}
	for j, x := range idx {
		if j > 0 {
			b = append(b, sep...)
		}
		b = strconv.AppendInt(b, int64(x), 10)
	}
	return b
}

func describeCodecs(a *refread.Array) string {
	var ids []string
	for _, f := range a.Filters {
		id, _ := f["id"].(string)
		ids = append(ids, id)
	}
	if a.Compressor != nil {
		id, _ := a.Compressor["id"].(string)
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
