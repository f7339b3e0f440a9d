package kerchunk

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"unsafe"
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

// String shows the reference as it reads in a JSON reference file.
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
// Refs is compact, since a file may have tens of millions of chunks: keys
// and inline data live in append-only byte arenas of pages (4 KiB growing
// to 1 MiB), URLs in a table of distinct URLs, and a reference takes one
// 32-byte entry (in blocks of 32768) besides its key and inline bytes:
// about 42 bytes for a one-byte chunk "v/1234567". Past the first block
// and pages nothing is copied as the set grows. The key-to-position index
// that Get and Set need (sorted key hashes, 16 bytes a key) is built on
// first use only;
// building references with add (the translators) or Append (combine) and
// iterating with All or At (the writers) never build it, and DropIndex
// frees it. Keys and Data returned by Refs share the
// arenas: they must not be modified.
//
// Refs is not safe for concurrent use, reads included: Get, Text and Keys
// build their index and key cache on first use. Give each goroutine its own
// Refs (or guard one with a lock).
type Refs struct {
	keyText arena // the keys
	data    arena // inline data
	blocks  [][]refEntry
	n       int              // entries
	urls    []string         // distinct URLs in order of first use
	urlIdx  map[string]int32 // URL -> position in urls
	index   *keyIndex        // key -> position, built on first use
	keys    []string         // Keys' cache, nil when stale
}

// refEntry is one reference: where its key is in keyText, its URL (an
// index into urls, -1 for inline data) and its range (for inline data the
// position and length of its bytes in data).
type refEntry struct {
	key    int64
	keyLen uint32
	url    int32
	off    int64
	n      int64
}

const (
	refBlockBits = 15
	refBlock     = 1 << refBlockBits
	// refEntryBytes is the memory a reference takes besides its key text
	// and inline bytes.
	refEntryBytes = 32
)

// arena is an append-only store of byte strings in pages; a string never
// spans pages, and a stored string never moves.
type arena struct {
	pages [][]byte
}

const arenaPage = 1 << 20

// pos encodes a page and an offset.
func arenaPos(page, off int) int64 { return int64(page)<<32 | int64(off) }

func (a *arena) get(pos int64, n int) []byte {
	if n == 0 {
		return nil
	}
	p := a.pages[pos>>32]
	off := int(pos & 0xffffffff)
	return p[off : off+n : off+n]
}

// room returns the last page with room for n more bytes.
func (a *arena) room(n int) int {
	if k := len(a.pages); k > 0 && cap(a.pages[k-1])-len(a.pages[k-1]) >= n {
		return k - 1
	}
	size := 4 << 10 // pages grow from 4 KiB to 1 MiB: small sets stay small
	if k := len(a.pages); k > 0 {
		size = min(2*cap(a.pages[k-1]), arenaPage)
	}
	a.pages = append(a.pages, make([]byte, 0, max(size, n)))
	return len(a.pages) - 1
}

// put stores b and returns its position.
func (a *arena) put(b []byte) int64 {
	if len(b) == 0 {
		return 0
	}
	k := a.room(len(b))
	off := len(a.pages[k])
	a.pages[k] = append(a.pages[k], b...)
	return arenaPos(k, off)
}

// putFunc stores what fn appends to the slice it is given and returns its
// position and length.
func (a *arena) putFunc(fn func([]byte) []byte) (int64, int) {
	k := a.room(putFuncRoom)
	p := a.pages[k]
	off := len(p)
	out := fn(p)
	n := len(out) - off
	if n == 0 {
		return 0, 0
	}
	if cap(out) == cap(p) {
		a.pages[k] = out // formatted in place
		return arenaPos(k, off), n
	}
	// The page was too short: move the string to a new page.
	piece := out[off:]
	k = a.room(n)
	start := len(a.pages[k])
	a.pages[k] = append(a.pages[k], piece...)
	return arenaPos(k, start), n
}

// putFuncRoom is the room putFunc asks of the last page before fn
// appends: a string that fits (a chunk key does) never outgrows the page,
// which would copy it (append doubles a full page).
const putFuncRoom = 64

type arenaMark struct{ pages, last int }

func (a *arena) mark() arenaMark {
	m := arenaMark{pages: len(a.pages)}
	if m.pages > 0 {
		m.last = len(a.pages[m.pages-1])
	}
	return m
}

func (a *arena) truncate(m arenaMark) {
	clear(a.pages[m.pages:])
	a.pages = a.pages[:m.pages]
	if m.pages > 0 {
		a.pages[m.pages-1] = a.pages[m.pages-1][:m.last]
	}
}

// size returns the bytes held.
func (a *arena) size() int64 {
	var n int64
	for _, p := range a.pages {
		n += int64(cap(p))
	}
	return n
}

// NewRefs returns an empty reference set; n, the number of keys expected,
// is a hint (the set grows by pages and blocks, never by copying).
func NewRefs(n int) *Refs {
	return &Refs{blocks: [][]refEntry{make([]refEntry, 0, min(max(n, 0), refBlock))}}
}

// Len returns the number of keys.
func (s *Refs) Len() int { return s.n }

func (s *Refs) ent(i int) *refEntry { return &s.blocks[i>>refBlockBits][i&(refBlock-1)] }

// key returns key i (sharing the arena).
func (s *Refs) key(i int) string {
	e := s.ent(i)
	b := s.keyText.get(e.key, int(e.keyLen))
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// ref returns reference i (Data sharing the arena).
func (s *Refs) ref(i int) Ref {
	e := s.ent(i)
	if e.url < 0 {
		return Ref{Data: s.data.get(e.off, int(e.n))}
	}
	return Ref{URL: s.urls[e.url], Offset: e.off, Length: e.n}
}

// entry encodes r, storing its inline data.
func (s *Refs) entry(r Ref) refEntry {
	if r.IsInline() {
		return refEntry{off: s.data.put(r.Data), n: int64(len(r.Data)), url: -1}
	}
	return refEntry{off: r.Offset, n: r.Length, url: s.urlID(r.URL)}
}

func (s *Refs) urlID(u string) int32 {
	if n := len(s.urls); n > 0 && s.urls[n-1] == u {
		return int32(n - 1)
	}
	if id, ok := s.urlIdx[u]; ok {
		return id
	}
	if s.urlIdx == nil {
		s.urlIdx = map[string]int32{}
	}
	id := int32(len(s.urls))
	s.urls = append(s.urls, u)
	s.urlIdx[u] = id
	return id
}

// push appends an entry.
func (s *Refs) push(e refEntry) {
	b := s.n >> refBlockBits
	if b == len(s.blocks) {
		var blk []refEntry // the first block grows by appending: small sets stay small
		if b > 0 {
			blk = make([]refEntry, 0, refBlock)
		}
		s.blocks = append(s.blocks, blk)
	}
	s.blocks[b] = append(s.blocks[b], e)
	s.n++
	s.keys = nil
}

// keyIndex finds keys by position compactly (16 bytes a key, where a map
// of strings takes several times that): entries [0, sorted) as key hashes
// sorted with their positions, binary-searched; later entries in a small
// map until it is worth merging them in.
type keyIndex struct {
	seed   maphash.Seed
	sorted []hashPos
	n      int            // entries covered by sorted
	extra  map[string]int // entries [n, indexed)
	upto   int            // entries indexed
}

// mapIndexMax is the number of keys a keyIndex holds in its map before it
// sorts them (a map is faster, the sorted hashes smaller).
const mapIndexMax = 1 << 12

type hashPos struct {
	h   uint64
	pos int
}

// syncIndex brings the index up to date with the entries.
func (s *Refs) syncIndex() {
	x := s.index
	if x == nil && s.n < mapIndexMax {
		x = &keyIndex{seed: maphash.MakeSeed()} // small sets: a map alone
		s.index = x
	}
	if x == nil || s.n-x.n > max(mapIndexMax, x.n/4) {
		// (Re)build the sorted part over every entry.
		seed := maphash.MakeSeed()
		if x != nil {
			seed = x.seed
		}
		s.index = s.sortedHashes(seed)
		return
	}
	for ; x.upto < s.n; x.upto++ {
		if x.extra == nil {
			x.extra = map[string]int{}
		}
		x.extra[s.key(x.upto)] = x.upto
	}
}

// dedupeKeys makes keys appended with add unique, as Set would have: a
// key given again keeps its first position and takes the last reference.
// Readers append every key and call it once (one sort) instead of calling
// Set per key.
func (s *Refs) dedupeKeys() {
	s.index = nil
	x := s.sortedHashes(maphash.MakeSeed())
	if s.n >= mapIndexMax {
		s.index = &keyIndex{seed: x.seed, sorted: x.sorted, n: s.n, upto: s.n} // Get's index, built anyway
	}
	dup := false
	hs := x.sorted
	for i := 0; i < len(hs) && !dup; {
		j := i + 1
		for j < len(hs) && hs[j].h == hs[i].h {
			j++
		}
		for a := i; a < j && !dup; a++ { // a run of equal hashes: tiny
			for b := a + 1; b < j; b++ {
				if s.key(hs[a].pos) == s.key(hs[b].pos) {
					dup = true
					break
				}
			}
		}
		i = j
	}
	if !dup {
		return
	}
	out := &Refs{}
	for i := range s.n {
		out.Set(s.key(i), s.ref(i))
	}
	*s = *out
}

// sortedHashes returns an index of every entry in its sorted part.
func (s *Refs) sortedHashes(seed maphash.Seed) *keyIndex {
	sorted := make([]hashPos, s.n)
	for i := range s.n {
		sorted[i] = hashPos{maphash.String(seed, s.key(i)), i}
	}
	slices.SortFunc(sorted, func(a, b hashPos) int {
		if c := cmp.Compare(a.h, b.h); c != 0 {
			return c
		}
		return cmp.Compare(a.pos, b.pos)
	})
	return &keyIndex{seed: seed, sorted: sorted, n: s.n, upto: s.n}
}

// lookup returns the position of key (the last one when a key was added
// twice).
func (s *Refs) lookup(key string) (int, bool) {
	s.syncIndex()
	x := s.index
	if i, ok := x.extra[key]; ok {
		return i, true
	}
	h := maphash.String(x.seed, key)
	i, _ := slices.BinarySearchFunc(x.sorted, h, func(e hashPos, h uint64) int { return cmp.Compare(e.h, h) })
	found := -1
	for ; i < len(x.sorted) && x.sorted[i].h == h; i++ {
		if s.key(x.sorted[i].pos) == key {
			found = x.sorted[i].pos
		}
	}
	return found, found >= 0
}

// Set adds or replaces the reference of key.
func (s *Refs) Set(key string, r Ref) {
	if i, ok := s.lookup(key); ok {
		s.setAt(i, r)
		return
	}
	s.add(key, r)
}

// add appends a key the caller knows is new; the index catches up lazily.
func (s *Refs) add(key string, r Ref) {
	e := s.entry(r)
	e.key = s.keyText.put(unsafe.Slice(unsafe.StringData(key), len(key)))
	e.keyLen = uint32(len(key))
	s.push(e)
}

// addKey appends a key the caller knows is new, its text appended by
// appendKey straight into the arena (no string is allocated).
func (s *Refs) addKey(appendKey func([]byte) []byte, r Ref) {
	e := s.entry(r)
	pos, n := s.keyText.putFunc(appendKey)
	e.key, e.keyLen = pos, uint32(n)
	s.push(e)
}

// setAt replaces the reference of key i.
func (s *Refs) setAt(i int, r Ref) {
	e := s.entry(r)
	old := s.ent(i)
	e.key, e.keyLen = old.key, old.keyLen
	*old = e
}

// mark returns the current end of s, for truncate.
func (s *Refs) mark() refsMark {
	return refsMark{n: s.n, keyText: s.keyText.mark(), data: s.data.mark()}
}

type refsMark struct {
	n             int
	keyText, data arenaMark
}

// truncate removes the keys added since m (only keys added with add or
// addKey, never indexed).
func (s *Refs) truncate(m refsMark) {
	s.n = m.n
	nb := (m.n + refBlock - 1) >> refBlockBits
	clear(s.blocks[nb:])
	s.blocks = s.blocks[:nb]
	if nb > 0 {
		s.blocks[nb-1] = s.blocks[nb-1][:m.n-(nb-1)<<refBlockBits]
	}
	s.keyText.truncate(m.keyText)
	s.data.truncate(m.data)
	if s.index != nil && (s.index.n > m.n || s.index.upto > m.n) {
		s.index = nil // covered removed keys
	}
	s.keys = nil
}

// memory returns the bytes s holds (entries, arenas), for estimates.
func (s *Refs) memory() int64 {
	var n int64
	for _, b := range s.blocks {
		n += int64(cap(b)) * refEntryBytes
	}
	return n + s.keyText.size() + s.data.size()
}

// SetText adds an inline reference holding text (Zarr metadata).
func (s *Refs) SetText(key, text string) {
	s.Set(key, Ref{Data: unsafe.Slice(unsafe.StringData(text), len(text))}) // copied into the arena
}

// Get returns the reference of key.
func (s *Refs) Get(key string) (Ref, bool) {
	i, ok := s.lookup(key)
	if !ok {
		return Ref{}, false
	}
	return s.ref(i), true
}

// Delete removes key, keeping the order of the others.
func (s *Refs) Delete(key string) {
	if _, ok := s.lookup(key); !ok {
		return
	}
	s.deleteIf(func(k string) bool { return k == key })
}

// deleteIf removes the keys for which drop returns true (the arenas are
// rebuilt: strings handed out before stay valid).
func (s *Refs) deleteIf(drop func(key string) bool) {
	out := &Refs{}
	for i := range s.n {
		if k := s.key(i); !drop(k) {
			out.add(k, s.ref(i))
		}
	}
	*s = *out
}

// Keys returns the keys in order. The slice must not be modified. It is
// built on first call after a change (16 bytes per key, the key text
// shared): prefer All over a large set.
func (s *Refs) Keys() []string {
	if s.keys == nil || len(s.keys) != s.n {
		s.keys = make([]string, s.n)
		for i := range s.n {
			s.keys[i] = s.key(i)
		}
	}
	return s.keys
}

// All calls fn for every key in order until fn returns false.
func (s *Refs) All(fn func(key string, r Ref) bool) {
	for i := range s.n {
		if !fn(s.key(i), s.ref(i)) {
			return
		}
	}
}

// At returns key i and its reference, 0 <= i < Len(), in the order of
// Keys and All (both sharing the arenas: they must not be modified).
func (s *Refs) At(i int) (string, Ref) { return s.key(i), s.ref(i) }

// Append adds key at the end without looking it up: no key index is built
// or kept up to date, so building a large set with Append then calling
// Dedupe once costs one sort instead of an index grown key by key.
// Until Dedupe, a key appended twice is held twice.
func (s *Refs) Append(key string, r Ref) { s.add(key, r) }

// AppendKey is Append with the key's text appended by appendKey (given a
// slice to append to) straight into the key storage: no string is
// allocated per key.
func (s *Refs) AppendKey(appendKey func(b []byte) []byte, r Ref) { s.addKey(appendKey, r) }

// Dedupe makes the keys added with Append or AppendKey unique as Set
// would have: a key given again keeps its first position and takes the
// last reference. It builds the key index Get and Set use (16 bytes a
// key) in passing.
func (s *Refs) Dedupe() { s.dedupeKeys() }

// DropIndex frees the key index that Get and Set use (16 bytes a key;
// readers such as ReadJSON build it) and the Keys cache: for a holder of
// a large set that only iterates it (All, At) from then on. The next Get
// or Set builds the index again.
func (s *Refs) DropIndex() { s.index, s.keys = nil, nil }

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
	seen := make([]bool, len(s.urls))
	var out []string
	for i := range s.n {
		if u := s.ent(i).url; u >= 0 && !seen[u] {
			seen[u] = true
			out = append(out, s.urls[u])
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
