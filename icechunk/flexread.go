package icechunk

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// flexRef is a FlexBuffers value: where it is, the width of the slot it
// was read from (for the root, of the root slot) and its packed type.
type flexRef struct {
	buf    []byte
	at     int // position of the value's slot
	parent int // byte width of the slot
	packed byte
}

// flexRoot returns the root value of a FlexBuffers buffer.
func flexRoot(buf []byte) (flexRef, error) {
	if len(buf) < 3 {
		return flexRef{}, fmt.Errorf("%w: flexbuffer of %d bytes", ErrCorrupt, len(buf))
	}
	w := int(buf[len(buf)-1])
	if w != 1 && w != 2 && w != 4 && w != 8 || len(buf) < w+2 {
		return flexRef{}, fmt.Errorf("%w: flexbuffer root width %d", ErrCorrupt, w)
	}
	return flexRef{buf: buf, at: len(buf) - 2 - w, parent: w, packed: buf[len(buf)-2]}, nil
}

// uint reads an unsigned integer of width w at i.
func flexUint(buf []byte, i, w int) (int, error) {
	if i < 0 || w <= 0 || i+w > len(buf) {
		return 0, fmt.Errorf("%w: flexbuffer read of %d bytes at %d outside %d", ErrCorrupt, w, i, len(buf))
	}
	var v uint64
	for k := w - 1; k >= 0; k-- {
		v = v<<8 | uint64(buf[i+k])
	}
	if v > uint64(len(buf)) {
		return 0, fmt.Errorf("%w: flexbuffer value %d beyond the buffer", ErrCorrupt, v)
	}
	return int(v), nil
}

// target follows the value's backward offset.
func (r flexRef) target() (int, error) {
	off, err := flexUint(r.buf, r.at, r.parent)
	if err != nil {
		return 0, err
	}
	if off == 0 || off > r.at {
		return 0, fmt.Errorf("%w: flexbuffer offset %d at %d", ErrCorrupt, off, r.at)
	}
	return r.at - off, nil
}

// mapEntries returns the keys and values of a map value.
func (r flexRef) mapEntries() ([]string, []flexRef, error) {
	if r.packed>>2 != flexMapT {
		return nil, nil, fmt.Errorf("%w: flexbuffer value of type %d is not a map", ErrCorrupt, r.packed>>2)
	}
	bw := 1 << (r.packed & 3)
	at, err := r.target()
	if err != nil {
		return nil, nil, err
	}
	n, err := flexUint(r.buf, at-bw, bw)
	if err != nil {
		return nil, nil, err
	}
	keysOff, err := flexUint(r.buf, at-3*bw, bw)
	if err != nil {
		return nil, nil, err
	}
	kw, err := flexUint(r.buf, at-2*bw, bw)
	if err != nil {
		return nil, nil, err
	}
	keysAt := at - 3*bw - keysOff
	if kw != 1 && kw != 2 && kw != 4 && kw != 8 || keysAt < 0 || at+n*bw+n > len(r.buf) {
		return nil, nil, fmt.Errorf("%w: flexbuffer map of %d entries at %d", ErrCorrupt, n, at)
	}
	keys := make([]string, n)
	vals := make([]flexRef, n)
	for i := range n {
		k := flexRef{buf: r.buf, at: keysAt + i*kw, parent: kw}
		ka, err := k.target()
		if err != nil {
			return nil, nil, err
		}
		end := bytes.IndexByte(r.buf[ka:], 0)
		if end < 0 {
			return nil, nil, fmt.Errorf("%w: flexbuffer key without a terminator", ErrCorrupt)
		}
		keys[i] = string(r.buf[ka : ka+end])
		vals[i] = flexRef{buf: r.buf, at: at + i*bw, parent: bw, packed: r.buf[at+n*bw+i]}
	}
	return keys, vals, nil
}

// str returns a string or key value.
func (r flexRef) str() (string, error) {
	t := r.packed >> 2
	if t != flexString && t != flexKey {
		return "", fmt.Errorf("%w: flexbuffer value of type %d is not a string", ErrCorrupt, t)
	}
	at, err := r.target()
	if err != nil {
		return "", err
	}
	if t == flexKey {
		end := bytes.IndexByte(r.buf[at:], 0)
		if end < 0 {
			return "", fmt.Errorf("%w: flexbuffer key without a terminator", ErrCorrupt)
		}
		return string(r.buf[at : at+end]), nil
	}
	bw := 1 << (r.packed & 3)
	n, err := flexUint(r.buf, at-bw, bw)
	if err != nil {
		return "", err
	}
	if n > len(r.buf)-at {
		return "", fmt.Errorf("%w: flexbuffer string of %d bytes at %d", ErrCorrupt, n, at)
	}
	return string(r.buf[at : at+n]), nil
}

// member returns the value of key in map value r (ok false when absent or null).
func (r flexRef) member(key string) (flexRef, bool, error) {
	keys, vals, err := r.mapEntries()
	if err != nil {
		return flexRef{}, false, err
	}
	i := slices.Index(keys, key)
	if i < 0 || vals[i].packed>>2 == flexNull {
		return flexRef{}, false, nil
	}
	return vals[i], true, nil
}

// Containers decodes the virtual chunk containers the repository config
// declares (its virtual_chunk_containers map, in the layout Rust serde
// gives the official library's config and RepoConfig writes), sorted by
// URLPrefix: the url_prefix, the store kind (the variant of its store
// enum) and, for an Azure store, its string options ("account", ...); a
// local file system store has none. Other store kinds are returned with
// their kind and no options. None for a repository without a config; a
// config that is not such FlexBuffers is ErrCorrupt.
func (r *RepoInfo) Containers() ([]VirtualChunkContainer, error) {
	if len(r.Config) == 0 {
		return nil, nil
	}
	root, err := flexRoot(r.Config)
	if err != nil {
		return nil, err
	}
	vccs, ok, err := root.member("virtual_chunk_containers")
	if err != nil || !ok {
		return nil, err
	}
	prefixes, vals, err := vccs.mapEntries()
	if err != nil {
		return nil, err
	}
	out := make([]VirtualChunkContainer, 0, len(prefixes))
	for i, prefix := range prefixes {
		c, err := decodeContainer(prefix, vals[i])
		if err != nil {
			return nil, fmt.Errorf("virtual chunk container %q: %w", prefix, err)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b VirtualChunkContainer) int { return strings.Compare(a.URLPrefix, b.URLPrefix) })
	return out, nil
}

// decodeContainer decodes one entry of virtual_chunk_containers.
func decodeContainer(key string, v flexRef) (VirtualChunkContainer, error) {
	c := VirtualChunkContainer{URLPrefix: key}
	if u, ok, err := v.member("url_prefix"); err != nil {
		return c, err
	} else if ok {
		if c.URLPrefix, err = u.str(); err != nil {
			return c, err
		}
	}
	store, ok, err := v.member("store")
	if err != nil || !ok {
		return c, err
	}
	kinds, vals, err := store.mapEntries()
	if err != nil {
		return c, err
	}
	if len(kinds) != 1 {
		return c, fmt.Errorf("%w: store with %d variants", ErrCorrupt, len(kinds))
	}
	c.Store = StoreKind(kinds[0])
	if c.Store != StoreAzure || vals[0].packed>>2 == flexNull {
		return c, nil
	}
	names, opts, err := vals[0].mapEntries()
	if err != nil {
		return c, err
	}
	c.Options = make(map[string]string, len(names))
	for i, name := range names {
		if opts[i].packed>>2 == flexNull {
			continue
		}
		if c.Options[name], err = opts[i].str(); err != nil {
			return c, err
		}
	}
	return c, nil
}

// Covering returns the container of cs whose URLPrefix is the longest
// prefix of location (ok false when none covers it).
func Covering(cs []VirtualChunkContainer, location string) (VirtualChunkContainer, bool) {
	var best VirtualChunkContainer
	ok := false
	for _, c := range cs {
		if strings.HasPrefix(location, c.URLPrefix) && (!ok || len(c.URLPrefix) > len(best.URLPrefix)) {
			best, ok = c, true
		}
	}
	return best, ok
}

// ContainerPrefixes returns the url_prefix of every virtual chunk container
// the repository config declares (Containers), sorted; none for a
// repository without a config.
func (r *RepoInfo) ContainerPrefixes() ([]string, error) {
	cs, err := r.Containers()
	if err != nil {
		return nil, err
	}
	prefixes := make([]string, len(cs))
	for i, c := range cs {
		prefixes[i] = c.URLPrefix
	}
	if len(prefixes) == 0 {
		return nil, nil
	}
	return prefixes, nil
}
