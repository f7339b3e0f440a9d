package icechunk

import (
	"bufio"
	"encoding/binary"
	"fmt"

	flatbuffers "github.com/google/flatbuffers/go"
)

// fileIdentifier is the FlatBuffers file identifier the reference implementation
// writes into every metadata payload.
const fileIdentifier = "Ichk"

// fbTable is a bounds-checked view of one FlatBuffers table. Accessors take the
// field's slot (its declaration index in the schema).
type fbTable struct {
	t flatbuffers.Table
}

// corruptf formats an ErrCorrupt.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// rootTable returns the root table of buf after checking the root offset.
func rootTable(buf []byte) (fbTable, error) {
	if len(buf) < 8 {
		return fbTable{}, corruptf("payload of %d bytes", len(buf))
	}
	off := flatbuffers.GetUOffsetT(buf)
	if int(off)+4 > len(buf) {
		return fbTable{}, corruptf("root offset %d out of range", off)
	}
	t := fbTable{flatbuffers.Table{Bytes: buf, Pos: off}}
	if err := t.check(); err != nil {
		return fbTable{}, err
	}
	return t, nil
}

// check validates the table's vtable bounds.
func (t fbTable) check() error {
	n := len(t.t.Bytes)
	if int(t.t.Pos)+4 > n {
		return corruptf("table at %d out of range", t.t.Pos)
	}
	vt := int64(t.t.Pos) - int64(flatbuffers.GetSOffsetT(t.t.Bytes[t.t.Pos:]))
	if vt < 0 || vt+4 > int64(n) {
		return corruptf("vtable at %d out of range", vt)
	}
	vlen := int64(flatbuffers.GetVOffsetT(t.t.Bytes[vt:]))
	if vlen < 4 || vt+vlen > int64(n) || vlen%2 != 0 {
		return corruptf("vtable length %d at %d", vlen, vt)
	}
	return nil
}

// field returns the absolute position of the slot's data, or 0 when absent.
func (t fbTable) field(slot int) (flatbuffers.UOffsetT, error) {
	o := flatbuffers.UOffsetT(t.t.Offset(flatbuffers.VOffsetT(4 + 2*slot)))
	if o == 0 {
		return 0, nil
	}
	pos := t.t.Pos + o
	if int(pos) >= len(t.t.Bytes) {
		return 0, corruptf("field %d out of range", slot)
	}
	return pos, nil
}

func (t fbTable) scalar(slot, size int) ([]byte, error) {
	pos, err := t.field(slot)
	if err != nil || pos == 0 {
		return nil, err
	}
	if int(pos)+size > len(t.t.Bytes) {
		return nil, corruptf("field %d truncated", slot)
	}
	return t.t.Bytes[pos : int(pos)+size], nil
}

func (t fbTable) u8(slot int, def uint8) (uint8, error) {
	b, err := t.scalar(slot, 1)
	if err != nil || b == nil {
		return def, err
	}
	return b[0], nil
}

func (t fbTable) u32(slot int, def uint32) (uint32, error) {
	b, err := t.scalar(slot, 4)
	if err != nil || b == nil {
		return def, err
	}
	return flatbuffers.GetUint32(b), nil
}

func (t fbTable) i32(slot int, def int32) (int32, error) {
	b, err := t.scalar(slot, 4)
	if err != nil || b == nil {
		return def, err
	}
	return flatbuffers.GetInt32(b), nil
}

func (t fbTable) u64(slot int, def uint64) (uint64, error) {
	b, err := t.scalar(slot, 8)
	if err != nil || b == nil {
		return def, err
	}
	return flatbuffers.GetUint64(b), nil
}

// structBytes returns the inline struct of the given size, nil when absent.
func (t fbTable) structBytes(slot, size int) ([]byte, error) { return t.scalar(slot, size) }

// indirect follows the uoffset stored at pos.
func (t fbTable) indirect(pos flatbuffers.UOffsetT) (flatbuffers.UOffsetT, error) {
	if int(pos)+4 > len(t.t.Bytes) {
		return 0, corruptf("offset at %d out of range", pos)
	}
	target := uint64(pos) + uint64(flatbuffers.GetUOffsetT(t.t.Bytes[pos:]))
	if target+4 > uint64(len(t.t.Bytes)) {
		return 0, corruptf("offset target %d out of range", target)
	}
	return flatbuffers.UOffsetT(target), nil
}

// vector returns the start of the slot's vector elements and its length; ok is
// false when the field is absent.
func (t fbTable) vector(slot, elemSize int) (start flatbuffers.UOffsetT, n int, ok bool, err error) {
	pos, err := t.field(slot)
	if err != nil || pos == 0 {
		return 0, 0, false, err
	}
	vpos, err := t.indirect(pos)
	if err != nil {
		return 0, 0, false, err
	}
	n = int(flatbuffers.GetUOffsetT(t.t.Bytes[vpos:]))
	start = vpos + 4
	if uint64(start)+uint64(n)*uint64(elemSize) > uint64(len(t.t.Bytes)) {
		return 0, 0, false, corruptf("vector %d of %d elements out of range", slot, n)
	}
	return start, n, true, nil
}

// bytesField returns a [ubyte] vector (aliasing the buffer), nil when absent.
func (t fbTable) bytesField(slot int) ([]byte, error) {
	start, n, ok, err := t.vector(slot, 1)
	if err != nil || !ok {
		return nil, err
	}
	return t.t.Bytes[start : int(start)+n], nil
}

// str returns a string field, "" when absent.
func (t fbTable) str(slot int) (string, error) {
	b, err := t.bytesField(slot)
	return string(b), err
}

// u32s returns a [uint32] vector.
func (t fbTable) u32s(slot int) ([]uint32, error) {
	start, n, ok, err := t.vector(slot, 4)
	if err != nil || !ok {
		return nil, err
	}
	out := make([]uint32, n)
	for i := range out {
		out[i] = flatbuffers.GetUint32(t.t.Bytes[int(start)+4*i:])
	}
	return out, nil
}

// structs returns the elements of a vector of fixed-size structs.
func (t fbTable) structs(slot, size int) ([][]byte, error) {
	start, n, ok, err := t.vector(slot, size)
	if err != nil || !ok {
		return nil, err
	}
	out := make([][]byte, n)
	for i := range out {
		p := int(start) + size*i
		out[i] = t.t.Bytes[p : p+size]
	}
	return out, nil
}

// tables returns the tables of a vector of tables.
func (t fbTable) tables(slot int) ([]fbTable, error) {
	start, n, ok, err := t.vector(slot, 4)
	if err != nil || !ok {
		return nil, err
	}
	out := make([]fbTable, n)
	for i := range out {
		p, err := t.indirect(start + flatbuffers.UOffsetT(4*i))
		if err != nil {
			return nil, err
		}
		out[i] = fbTable{flatbuffers.Table{Bytes: t.t.Bytes, Pos: p}}
		if err := out[i].check(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// table returns a sub-table field; ok is false when absent.
func (t fbTable) table(slot int) (fbTable, bool, error) {
	pos, err := t.field(slot)
	if err != nil || pos == 0 {
		return fbTable{}, false, err
	}
	p, err := t.indirect(pos)
	if err != nil {
		return fbTable{}, false, err
	}
	sub := fbTable{flatbuffers.Table{Bytes: t.t.Bytes, Pos: p}}
	return sub, true, sub.check()
}

// idInto copies a fixed-size id struct field into dst; required fields report
// ErrCorrupt when absent.
func (t fbTable) idInto(slot int, dst []byte, what string) error {
	b, err := t.structBytes(slot, len(dst))
	if err != nil {
		return err
	}
	if b == nil {
		return corruptf("%s missing", what)
	}
	copy(dst, b)
	return nil
}

// objectID reads a required ObjectId12 struct field.
func (t fbTable) objectID(slot int, what string) (ObjectID, error) {
	var id ObjectID
	return id, t.idInto(slot, id[:], what)
}

// nodeID reads a required ObjectId8 struct field.
func (t fbTable) nodeID(slot int, what string) (NodeID, error) {
	var id NodeID
	return id, t.idInto(slot, id[:], what)
}

// --- writing helpers ---

// prependID writes a fixed-size id struct inline; call right before the matching
// AddStructSlot while the table is open.
func prependID(b *flatbuffers.Builder, id []byte) flatbuffers.UOffsetT {
	b.Prep(1, len(id))
	for i := len(id) - 1; i >= 0; i-- {
		b.PrependByte(id[i])
	}
	return b.Offset()
}

// idVector writes a vector of fixed-size id structs.
func idVector[T ObjectID | NodeID](b *flatbuffers.Builder, ids []T) flatbuffers.UOffsetT {
	size := 12
	var z T
	if len(z) == 8 {
		size = 8
	}
	b.StartVector(size, len(ids), 1)
	for i := len(ids) - 1; i >= 0; i-- {
		id := ids[i]
		for j := size - 1; j >= 0; j-- {
			b.PrependByte(id[j])
		}
	}
	return b.EndVector(len(ids))
}

// offsetVector writes a vector of already-built tables or strings.
func offsetVector(b *flatbuffers.Builder, offs []flatbuffers.UOffsetT) flatbuffers.UOffsetT {
	b.StartVector(4, len(offs), 4)
	for i := len(offs) - 1; i >= 0; i-- {
		b.PrependUOffsetT(offs[i])
	}
	return b.EndVector(len(offs))
}

// u32Vector writes a [uint32] vector.
func u32Vector(b *flatbuffers.Builder, v []uint32) flatbuffers.UOffsetT {
	b.StartVector(4, len(v), 4)
	for i := len(v) - 1; i >= 0; i-- {
		b.PrependUint32(v[i])
	}
	return b.EndVector(len(v))
}

// finish completes the buffer with the Icechunk file identifier and returns its bytes.
func finish(b *flatbuffers.Builder, root flatbuffers.UOffsetT) []byte {
	b.FinishWithFileIdentifier(root, []byte(fileIdentifier))
	return b.FinishedBytes()
}

// strs returns a [string] vector.
func (t fbTable) strs(slot int) ([]string, error) {
	start, n, ok, err := t.vector(slot, 4)
	if err != nil || !ok {
		return nil, err
	}
	out := make([]string, n)
	for i := range out {
		p, err := t.indirect(start + flatbuffers.UOffsetT(4*i))
		if err != nil {
			return nil, err
		}
		l := uint64(flatbuffers.GetUOffsetT(t.t.Bytes[p:]))
		if uint64(p)+4+l > uint64(len(t.t.Bytes)) {
			return nil, corruptf("string out of range")
		}
		out[i] = string(t.t.Bytes[p+4 : uint64(p)+4+l])
	}
	return out, nil
}

// fbWriter writes a FlatBuffers payload front to back, for the layouts that
// are too large to build in memory (see writeTransactionLog); it tracks the
// position and keeps the first write error.
type fbWriter struct {
	w   *bufio.Writer
	pos int
	err error
	b   [8]byte
}

func (w *fbWriter) raw(p []byte) {
	if w.err == nil {
		_, w.err = w.w.Write(p)
	}
	w.pos += len(p)
}

func (w *fbWriter) u32(v uint32) {
	binary.LittleEndian.PutUint32(w.b[:], v)
	w.raw(w.b[:4])
}

func (w *fbWriter) u16(vs ...uint16) {
	for _, v := range vs {
		binary.LittleEndian.PutUint16(w.b[:], v)
		w.raw(w.b[:2])
	}
}

// offsetTo writes the uoffset from the current position to target (ahead).
func (w *fbWriter) offsetTo(target int) { w.u32(uint32(target - w.pos)) }
