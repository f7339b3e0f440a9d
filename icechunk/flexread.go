package icechunk

import (
	"bytes"
	"fmt"
	"slices"
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

// ContainerPrefixes returns the url_prefix of every virtual chunk container
// the repository config declares (the keys of its virtual_chunk_containers
// map), sorted; none for a repository without a config.
func (r *RepoInfo) ContainerPrefixes() ([]string, error) {
	if len(r.Config) == 0 {
		return nil, nil
	}
	root, err := flexRoot(r.Config)
	if err != nil {
		return nil, err
	}
	keys, vals, err := root.mapEntries()
	if err != nil {
		return nil, err
	}
	i := slices.Index(keys, "virtual_chunk_containers")
	if i < 0 || vals[i].packed>>2 == flexNull {
		return nil, nil
	}
	prefixes, _, err := vals[i].mapEntries()
	if err != nil {
		return nil, err
	}
	slices.Sort(prefixes)
	return prefixes, nil
}
