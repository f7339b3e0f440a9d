package kerchunk

import (
	"fmt"
	"strings"
)

// Ref is one reference: either inline data or a byte range of an object.
type Ref struct {
	// URL names the object holding the bytes; "" for inline data.
	URL string
	// Offset and Length give the byte range [Offset, Offset+Length) of the
	// object at URL. Length is -1 for a reference to the whole object
	// (written as ["url"]).
	Offset int64
	Length int64
	// Data holds the bytes of an inline reference (URL == "").
	Data []byte
}

// Inline returns an inline reference holding data.
func Inline(data []byte) Ref { return Ref{Data: data} }

// Range returns a reference to n bytes at off of the object at url.
func Range(url string, off, n int64) Ref { return Ref{URL: url, Offset: off, Length: n} }

// Whole returns a reference to the whole object at url.
func Whole(url string) Ref { return Ref{URL: url, Length: -1} }

// IsInline reports whether the reference holds its data itself.
func (r Ref) IsInline() bool { return r.URL == "" }

func (r Ref) String() string {
	switch {
	case r.IsInline():
		return fmt.Sprintf("inline(%d bytes)", len(r.Data))
	case r.Length < 0:
		return fmt.Sprintf("[%s]", r.URL)
	}
	return fmt.Sprintf("[%s, %d, %d]", r.URL, r.Offset, r.Length)
}

// Refs is a set of kerchunk references: Zarr keys (".zgroup",
// "g/v/.zarray", "g/v/0.1") mapped to references. Keys keep the order in
// which they were first set, so that writing the same references twice
// gives the same bytes.
//
// Refs is not safe for concurrent mutation.
type Refs struct {
	keys    []string
	refs    []Ref
	index   map[string]int // key -> position, for keys[:indexed]
	indexed int
}

// NewRefs returns an empty reference set with room for n keys.
func NewRefs(n int) *Refs {
	return &Refs{keys: make([]string, 0, n), refs: make([]Ref, 0, n)}
}

// Len returns the number of keys.
func (s *Refs) Len() int { return len(s.keys) }

func (s *Refs) syncIndex() {
	if s.index == nil {
		s.index = make(map[string]int, len(s.keys))
	}
	for ; s.indexed < len(s.keys); s.indexed++ {
		s.index[s.keys[s.indexed]] = s.indexed
	}
}

// Set adds or replaces the reference of key.
func (s *Refs) Set(key string, r Ref) {
	s.syncIndex()
	if i, ok := s.index[key]; ok {
		s.refs[i] = r
		return
	}
	s.add(key, r)
}

// add appends a key the caller knows is new; the index catches up lazily.
func (s *Refs) add(key string, r Ref) {
	s.keys = append(s.keys, key)
	s.refs = append(s.refs, r)
}

// SetText adds an inline reference holding text (Zarr metadata).
func (s *Refs) SetText(key, text string) { s.Set(key, Ref{Data: []byte(text)}) }

// Get returns the reference of key.
func (s *Refs) Get(key string) (Ref, bool) {
	s.syncIndex()
	i, ok := s.index[key]
	if !ok {
		return Ref{}, false
	}
	return s.refs[i], true
}

// Delete removes key, keeping the order of the others.
func (s *Refs) Delete(key string) {
	s.syncIndex()
	i, ok := s.index[key]
	if !ok {
		return
	}
	s.keys = append(s.keys[:i], s.keys[i+1:]...)
	s.refs = append(s.refs[:i], s.refs[i+1:]...)
	s.index, s.indexed = nil, 0
}

// deleteIf removes the keys for which drop returns true.
func (s *Refs) deleteIf(drop func(key string) bool) {
	keys, refs := s.keys[:0], s.refs[:0]
	for i, k := range s.keys {
		if !drop(k) {
			keys = append(keys, k)
			refs = append(refs, s.refs[i])
		}
	}
	clear(s.keys[len(keys):])
	clear(s.refs[len(refs):])
	s.keys, s.refs = keys, refs
	s.index, s.indexed = nil, 0
}

// Keys returns the keys in order. The slice must not be modified.
func (s *Refs) Keys() []string { return s.keys }

// All calls fn for every key in order until fn returns false.
func (s *Refs) All(fn func(key string, r Ref) bool) {
	for i, k := range s.keys {
		if !fn(k, s.refs[i]) {
			return
		}
	}
}

// Text returns the inline text of key (metadata such as ".zarray").
func (s *Refs) Text(key string) (string, bool) {
	r, ok := s.Get(key)
	if !ok || !r.IsInline() {
		return "", false
	}
	return string(r.Data), true
}

// URLs returns the distinct URLs referenced, in order of first use.
func (s *Refs) URLs() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range s.refs {
		if r.URL != "" && !seen[r.URL] {
			seen[r.URL] = true
			out = append(out, r.URL)
		}
	}
	return out
}

// IsMetadataKey reports whether key names Zarr metadata (.zgroup, .zarray,
// .zattrs, .zmetadata) rather than a chunk.
func IsMetadataKey(key string) bool {
	base := key
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		base = key[i+1:]
	}
	return strings.HasPrefix(base, ".z")
}
