package icechunk

import (
	"encoding/binary"
	"slices"
)

// FlexBuffers (the schemaless sibling of FlatBuffers) encodes the repository
// config in the repo info file, as Rust serde would: structs and maps are
// FlexBuffers maps, None is null, an enum's newtype variant is a one-entry map.
// This is a minimal writer for the value tree vzarr needs: maps, strings, null.
// Every size prefix, offset and slot is 4 bytes wide and 4-byte aligned.

// flexValue is a node of the tree: nil (null), string, or flexMap.
type flexValue any

// flexMap is a FlexBuffers map; keys are written sorted by their bytes.
type flexMap map[string]flexValue

// FlexBuffers type codes used here and the 32-bit width code.
const (
	flexNull   = 0
	flexKey    = 4
	flexString = 5
	flexMapT   = 9
	flexWidth4 = 2
)

type flexWriter struct{ buf []byte }

func (w *flexWriter) align4() {
	for len(w.buf)%4 != 0 {
		w.buf = append(w.buf, 0)
	}
}

func (w *flexWriter) u32(v uint32) { w.buf = binary.LittleEndian.AppendUint32(w.buf, v) }

// slot writes a 4-byte slot holding the backward offset to target (0 for null).
func (w *flexWriter) slot(target int, isNull bool) {
	if isNull {
		w.u32(0)
		return
	}
	w.u32(uint32(len(w.buf) - target))
}

// write encodes v and returns where it starts and its packed type byte.
func (w *flexWriter) write(v flexValue) (int, byte) {
	switch v := v.(type) {
	case nil:
		return 0, flexNull
	case string:
		w.align4()
		w.u32(uint32(len(v)))
		at := len(w.buf)
		w.buf = append(append(w.buf, v...), 0)
		return at, flexString<<2 | flexWidth4
	case flexMap:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		vals := make([]int, len(keys))
		types := make([]byte, len(keys))
		for i, k := range keys {
			vals[i], types[i] = w.write(v[k])
		}
		keyAt := make([]int, len(keys))
		for i, k := range keys {
			keyAt[i] = len(w.buf)
			w.buf = append(append(w.buf, k...), 0)
		}
		w.align4()
		w.u32(uint32(len(keys)))
		keyVec := len(w.buf)
		for _, at := range keyAt {
			w.slot(at, false)
		}
		w.align4()
		w.slot(keyVec, false) // keys vector offset
		w.u32(4)              // keys vector byte width
		w.u32(uint32(len(keys)))
		at := len(w.buf)
		for i := range keys {
			w.slot(vals[i], types[i] == flexNull)
		}
		w.buf = append(w.buf, types...)
		return at, flexMapT<<2 | flexWidth4
	}
	panic("icechunk: unsupported flex value") // unreachable: the tree is built here
}

// encodeFlex returns the FlexBuffers encoding of v with v as the root.
func encodeFlex(v flexValue) []byte {
	w := &flexWriter{}
	at, typ := w.write(v)
	w.align4()
	w.slot(at, typ == flexNull)
	w.buf = append(w.buf, typ, 4)
	return w.buf
}
