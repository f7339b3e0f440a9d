package hdf5meta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// smallFixtures are the fixtures the corruption tests damage: small enough
// to try many damaged copies of each in a few seconds.
var smallFixtures = []string{"h5_extlink_target.h5", "h5_sohm_list.h5", "nc4_classic.nc", "h5_sb1_istore_k.h5"}

func loadSmallFixtures(t *testing.T) map[string][]byte {
	_, data := fixtureBytes(t, maxSeedSize)
	out := map[string][]byte{}
	for _, n := range smallFixtures {
		b, ok := data[n]
		require.True(t, ok, "fixture %s", n)
		out[n] = b
	}
	return out
}

// patchEOF sets the superblock's end-of-file address to n (fixing the
// checksum of a version 2/3 superblock), so that a truncated file is not
// refused at once and its structures are parsed up to where they break.
func patchEOF(b []byte, n int) {
	switch b[8] {
	case 0:
		binary.LittleEndian.PutUint64(b[40:], uint64(n))
	case 1:
		binary.LittleEndian.PutUint64(b[44:], uint64(n))
	case 2, 3:
		binary.LittleEndian.PutUint64(b[28:], uint64(n))
		binary.LittleEndian.PutUint32(b[44:], lookup3(b[:44]))
	}
}

// TestTruncatedPrefixes opens prefixes of small fixtures: each must fail
// with ErrTruncated or ErrFormat, at Open or while walking. With the end of
// file patched to the prefix length, the parsers behind the superblock meet
// the missing bytes themselves: they may succeed (only raw data is
// missing), but every error must be typed and located.
func TestTruncatedPrefixes(t *testing.T) {
	for name, data := range loadSmallFixtures(t) {
		t.Run(name, func(t *testing.T) {
			// Every prefix through the superblock, then a sample.
			step := max(1, len(data)/1500)
			for n := 0; n < len(data); n++ {
				if n > 512 && n%step != 0 {
					continue
				}
				prefix := data[:n]
				errs := exercise(prefix)
				require.NotEmpty(t, errs, "prefix of %d bytes", n)
				for _, err := range errs {
					checkTyped(t, err)
				}
				assert.True(t, errors.Is(errs[0], ErrTruncated) || errors.Is(errs[0], ErrFormat), "prefix of %d bytes: %v", n, errs[0])
				if n >= 56 {
					cp := append([]byte(nil), prefix...)
					patchEOF(cp, n)
					for _, err := range exercise(cp) {
						checkTyped(t, err)
					}
				}
			}
		})
	}
}

// TestRandomFlips damages small fixtures with deterministic random byte
// changes, most of them in the first kilobytes where the metadata is, and
// checks that reading them never panics, hangs or over-allocates, and only
// fails with typed, located errors.
func TestRandomFlips(t *testing.T) {
	rng := rand.New(rand.NewSource(20251126))
	for _, name := range smallFixtures {
		data := loadSmallFixtures(t)[name]
		t.Run(name, func(t *testing.T) {
			for i := 0; i < 400; i++ {
				b := append([]byte(nil), data...)
				for k := 0; k < 1+rng.Intn(6); k++ {
					pos := rng.Intn(len(b))
					if rng.Intn(2) == 0 {
						pos = rng.Intn(min(len(b), 4096))
					}
					switch rng.Intn(3) {
					case 0:
						b[pos] ^= 1 << rng.Intn(8)
					case 1:
						b[pos] = 0xff
					default:
						b[pos] = byte(rng.Intn(256))
					}
				}
				guardedExercise(t, b)
			}
		})
	}
}

// h5build assembles small HDF5 files by hand: a version 0 superblock
// (8-byte offsets and lengths) and version 1 object headers.
type h5build struct{ b []byte }

const h5rootAddr = 96

func newH5(size int) *h5build {
	b := make([]byte, size)
	copy(b, signature)
	b[13], b[14] = 8, 8                              // sizes of offsets, lengths
	binary.LittleEndian.PutUint16(b[16:], 4)         // group leaf K
	binary.LittleEndian.PutUint16(b[18:], 16)        // group internal K
	binary.LittleEndian.PutUint64(b[32:], undefAddr) // free space
	binary.LittleEndian.PutUint64(b[40:], uint64(size))
	binary.LittleEndian.PutUint64(b[48:], undefAddr) // driver info
	binary.LittleEndian.PutUint64(b[64:], h5rootAddr)
	return &h5build{b: b}
}

func (h *h5build) u16(off int, v uint16) { binary.LittleEndian.PutUint16(h.b[off:], v) }
func (h *h5build) u32(off int, v uint32) { binary.LittleEndian.PutUint32(h.b[off:], v) }
func (h *h5build) u64(off int, v uint64) { binary.LittleEndian.PutUint64(h.b[off:], v) }

type h5msg struct {
	typ  uint16
	data []byte
}

// header writes a version 1 object header at addr and returns the address
// just past it.
func (h *h5build) header(addr int, msgs ...h5msg) int {
	body := 0
	for _, m := range msgs {
		body += 8 + (len(m.data)+7)&^7
	}
	h.b[addr] = 1
	h.u16(addr+2, uint16(len(msgs)))
	h.u32(addr+4, 1)
	h.u32(addr+8, uint32(body))
	p := addr + 16
	for _, m := range msgs {
		h.u16(p, m.typ)
		h.u16(p+2, uint16((len(m.data)+7)&^7))
		copy(h.b[p+8:], m.data)
		p += 8 + (len(m.data)+7)&^7
	}
	return p
}

func le64(vs ...uint64) []byte {
	var out []byte
	for _, v := range vs {
		out = binary.LittleEndian.AppendUint64(out, v)
	}
	return out
}

// linkMsg is a link message: a hard link to addr, or a soft link to target.
func linkMsg(name string, addr uint64, target string) h5msg {
	d := []byte{1, 0}
	if target != "" {
		d[1] = 0x08
		d = append(d, 1)
	}
	d = append(d, byte(len(name)))
	d = append(d, name...)
	if target != "" {
		d = binary.LittleEndian.AppendUint16(d, uint16(len(target)))
		d = append(d, target...)
	} else {
		d = binary.LittleEndian.AppendUint64(d, addr)
	}
	return h5msg{msgLink, d}
}

// attrMsg is a version 1 attribute message.
func attrMsg(name string, dtype, space, data []byte) h5msg {
	pad := func(b []byte) []byte { return append(b, make([]byte, (8-len(b)%8)%8)...) }
	d := []byte{1, 0}
	d = binary.LittleEndian.AppendUint16(d, uint16(len(name)+1))
	d = binary.LittleEndian.AppendUint16(d, uint16(len(dtype)))
	d = binary.LittleEndian.AppendUint16(d, uint16(len(space)))
	d = append(d, pad(append([]byte(name), 0))...)
	d = append(d, pad(append([]byte(nil), dtype...))...)
	d = append(d, pad(append([]byte(nil), space...))...)
	return h5msg{msgAttribute, append(d, data...)}
}

// symbolTableRoot gives the root object header a symbol table message
// naming a v1 B-tree at 512 and a local heap at 256, and writes the heap's
// header: a data segment of heapSize bytes at 288 and no free list. The
// B-tree node is the caller's to write.
func (h *h5build) symbolTableRoot(heapSize uint64) {
	h.header(h5rootAddr, h5msg{msgSymbolTable, le64(512, 256)})
	copy(h.b[256:], "HEAP")
	h.u64(264, heapSize)
	h.u64(272, undefAddr)
	h.u64(280, 288)
}

// btreeNode writes the header of a group v1 B-tree node at 512: its level,
// its entry count and no siblings. Keys and children are the caller's.
func (h *h5build) btreeNode(level uint8, entries uint16) {
	copy(h.b[512:], "TREE")
	h.b[517] = level
	h.u16(518, entries)
	h.u64(520, undefAddr)
	h.u64(528, undefAddr)
}

// vlenRef is a variable-length value's reference: n bytes, held as object 1
// of the global heap collection at addr.
func vlenRef(n uint32, addr uint64) []byte {
	ref := binary.LittleEndian.AppendUint32(nil, n)
	ref = binary.LittleEndian.AppendUint64(ref, addr)
	return binary.LittleEndian.AppendUint32(ref, 1)
}

var (
	scalarSpace = []byte{1, 0, 0, 0, 0, 0, 0, 0}
	// A variable-length string of 1-byte characters.
	vlenStringType = append([]byte{0x19, 0x01, 0, 0, 16, 0, 0, 0}, 0x10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 8, 0)
	int32Type      = []byte{0x10, 0x08, 0, 0, 4, 0, 0, 0, 0, 0, 32, 0}
)

// globalHeap writes a global heap collection at addr holding one object of
// n bytes (index 1) and returns the address past it.
func (h *h5build) globalHeap(addr, n int) int {
	size := 16 + 16 + (n+7)&^7 + 16
	copy(h.b[addr:], "GCOL")
	h.b[addr+4] = 1
	h.u64(addr+8, uint64(size))
	h.u16(addr+16, 1)
	h.u16(addr+18, 1)
	h.u64(addr+24, uint64(n))
	for i := 0; i < n; i++ {
		h.b[addr+32+i] = 'x'
	}
	return addr + size
}

// bigHeapObject is the size of the one global heap object that thousands of
// vlen string attributes name in TestHostileInputs.
const bigHeapObject = 256 << 10

func TestHostileInputs(t *testing.T) {
	type op func(f *File) error
	walk := func(f *File) error { return f.Walk(func(string, Object) error { return nil }) }
	object := func(p string) op { return func(f *File) error { _, err := f.Object(p); return err } }
	cases := []struct {
		name  string
		size  int
		build func(h *h5build) // writes the damage into a valid skeleton
		op    op               // nil: Open must fail
		want  error
		msg   string // in the error message
	}{
		{
			name: "offset size 3",
			size: 512, build: func(h *h5build) { h.b[13] = 3 },
			want: ErrFormat, msg: "offset 0",
		},
		{
			name: "superblock version 9",
			size: 512, build: func(h *h5build) { h.b[8] = 9 },
			want: ErrUnsupported, msg: "offset 0",
		},
		{
			name: "superblock claims more bytes than the file has",
			size: 512, build: func(h *h5build) { h.u64(40, 1<<20) },
			want: ErrTruncated, msg: "offset 0",
		},
		{
			name: "root object header past the end",
			size: 512, build: func(h *h5build) { h.u64(64, 1<<40) },
			op: walk, want: ErrFormat, msg: `object "/"`,
		},
		{
			name: "continuation pointing to its own header",
			size: 512, build: func(h *h5build) {
				h.header(h5rootAddr, h5msg{msgContinuation, le64(h5rootAddr+16, 24)})
			},
			op: walk, want: ErrFormat, msg: "offset 112",
		},
		{
			name: "overlapping continuation chain",
			size: 4096, build: func(h *h5build) {
				// Each continuation starts 8 bytes further into the
				// previous one: every chunk holds the next continuation.
				h.header(h5rootAddr, h5msg{msgContinuation, le64(1024, 3000)})
				for a := 1024; a+24 < 4096; a += 24 {
					h.u16(a, msgContinuation)
					h.u16(a+2, 16)
					h.u64(a+8, uint64(a+24))
					h.u64(a+16, uint64(4096-a-24))
				}
			},
			op: walk, want: ErrFormat, msg: "offset",
		},
		{
			name: "v1 B-tree node with 65535 entries in a tiny file",
			size: 1024, build: func(h *h5build) {
				h.symbolTableRoot(16)
				h.btreeNode(0, 0xffff)
			},
			op: walk, want: ErrTruncated, msg: "offset 536",
		},
		{
			name: "v1 B-tree whose child claims its own level",
			size: 1024, build: func(h *h5build) {
				h.symbolTableRoot(16)
				h.btreeNode(1, 1)
				h.u64(544, 512) // the child is the node itself
			},
			op: walk, want: ErrFormat, msg: "offset 512",
		},
		{
			name: "v1 B-tree at level 200",
			size: 1024, build: func(h *h5build) {
				h.symbolTableRoot(16)
				copy(h.b[512:], "TREE")
				h.b[517] = 200
			},
			op: walk, want: ErrFormat, msg: "offset 512",
		},
		{
			name: "local heap larger than the file",
			size: 1024, build: func(h *h5build) {
				h.symbolTableRoot(1 << 40)
			},
			op: walk, want: ErrTruncated, msg: "offset 256",
		},
		{
			name: "soft link to itself",
			size: 512, build: func(h *h5build) {
				h.header(h5rootAddr, linkMsg("a", 0, "/a"))
			},
			op: object("/a"), want: ErrFormat, msg: `object "/a"`,
		},
		{
			name: "soft links that double at every level",
			size: 4096, build: func(h *h5build) {
				// s0 -> /s1/s1, s1 -> /s2/s2, ... s29 -> /: resolving s0
				// naively takes 2^30 steps.
				var msgs []h5msg
				for i := 0; i < 30; i++ {
					msgs = append(msgs, linkMsg(fmt.Sprint("s", i), 0, fmt.Sprintf("/s%d/s%d", i+1, i+1)))
				}
				msgs = append(msgs, linkMsg("s30", 0, "/"))
				h.header(h5rootAddr, msgs...)
			},
			op: object("/s0"), want: ErrUnsupported, msg: `object "/s`,
		},
		{
			name: "attribute datatype nested 40 deep",
			size: 2048, build: func(h *h5build) {
				var dt []byte
				for i := 0; i < 40; i++ {
					dt = append(dt, 0x3a, 0, 0, 0, 4, 0, 0, 0, 1, 1, 0, 0, 0)
				}
				dt = append(dt, int32Type...)
				h.header(h5rootAddr, attrMsg("deep", dt, scalarSpace, make([]byte, 4)))
			},
			op: walk, want: ErrFormat, msg: `object "/"`,
		},
		{
			name: "array datatype whose element count overflows",
			size: 2048, build: func(h *h5build) {
				dt := []byte{0x3a, 0, 0, 0, 4, 0, 0, 0, 4}
				for i := 0; i < 4; i++ {
					dt = binary.LittleEndian.AppendUint32(dt, 0xffff)
				}
				dt = append(dt, int32Type...)
				h.header(h5rootAddr, attrMsg("big", dt, scalarSpace, make([]byte, 4)))
			},
			op: walk, want: ErrFormat, msg: `object "/"`,
		},
		{
			name: "vlen strings all naming one large heap object",
			size: 512 + bigHeapObject + 64 + 3000*80 + 1024, build: func(h *h5build) {
				// 3000 attributes of 64 bytes each decode to the same 256 KiB.
				var msgs []h5msg
				for i := 0; i < 3000; i++ {
					ref := vlenRef(bigHeapObject, 512)
					msgs = append(msgs, attrMsg(fmt.Sprint("a", i), vlenStringType, scalarSpace, ref))
				}
				h.u64(64, 512+bigHeapObject+64)
				h.globalHeap(512, bigHeapObject)
				h.header(512+bigHeapObject+64, msgs...)
			},
			op: walk, want: ErrUnsupported, msg: `object "@a`,
		},
		{
			name: "global heap collection larger than the file",
			size: 2048, build: func(h *h5build) {
				ref := vlenRef(4, 1024)
				h.header(h5rootAddr, attrMsg("s", vlenStringType, scalarSpace, ref))
				h.globalHeap(1024, 4)
				h.u64(1032, 1<<40)
			},
			op: walk, want: ErrFormat, msg: "offset 1024",
		},
		{
			name: "dataspace of rank 40",
			size: 2048, build: func(h *h5build) {
				space := []byte{1, 40, 0, 0, 0, 0, 0, 0}
				space = append(space, make([]byte, 40*8)...)
				h.header(h5rootAddr, attrMsg("r", int32Type, space, nil))
			},
			op: walk, want: ErrFormat, msg: `object "/"`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newH5(c.size)
			c.build(h)
			start := time.Now()
			f, err := Open(bytes.NewReader(h.b), int64(len(h.b)))
			if c.op == nil {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
				err = c.op(f)
				require.Error(t, err)
			}
			checkTyped(t, err)
			assert.ErrorIs(t, err, c.want)
			assert.Contains(t, err.Error(), c.msg)
			assert.Less(t, time.Since(start), 5*time.Second)
		})
	}
}

// TestSharedGroupWalkIsLinear walks a root with many links to one group
// that has many links itself: each path is visited, but the group is built
// once, not once per path.
func TestSharedGroupWalkIsLinear(t *testing.T) {
	const k = 3000
	h := newH5(16 + 2*k*32 + 4096)
	g := h5rootAddr + 16 + k*32
	var rootLinks, gLinks []h5msg
	for i := 0; i < k; i++ {
		rootLinks = append(rootLinks, linkMsg(fmt.Sprintf("l%04d", i), uint64(g), ""))
		gLinks = append(gLinks, linkMsg(fmt.Sprintf("m%04d", i), uint64(g), ""))
	}
	end := h.header(h5rootAddr, rootLinks...)
	require.LessOrEqual(t, end, g)
	h.header(g, gLinks...)
	f, err := Open(bytes.NewReader(h.b), int64(len(h.b)))
	require.NoError(t, err)
	start := time.Now()
	n := 0
	require.NoError(t, f.Walk(func(p string, o Object) error {
		n++
		if gr, ok := o.(*Group); ok && p != "/" {
			assert.Len(t, gr.Links, k)
			assert.True(t, strings.HasPrefix(p, "/l"), p)
		}
		return nil
	}))
	assert.Equal(t, 1+2*k, n)
	assert.Less(t, time.Since(start), 2*time.Second)
}

// TestChunkIndexCaps builds datasets whose chunk index parameters claim
// far more chunks than the file could hold.
func TestChunkIndexCaps(t *testing.T) {
	f := &File{size: 4096, offSize: 8, lenSize: 8, headers: map[uint64]*objectHeader{}}
	f.initBudget()
	ds := &Dataset{f: f, Path: "/huge", Type: &Datatype{Class: ClassFixedPoint, Size: 1},
		Space:  Dataspace{Kind: SpaceSimple, Dims: []uint64{1 << 30, 1 << 30}, MaxDims: []uint64{1 << 30, 1 << 30}},
		Layout: Layout{Class: LayoutChunked, ChunkIndex: IndexImplicit, ChunkDims: []uint64{1, 1}}}
	start := time.Now()
	err := ds.ForEachChunk(func(Chunk) error { return nil })
	require.Error(t, err)
	checkTyped(t, err)
	assert.ErrorIs(t, err, ErrFormat)
	// A grid whose chunk count overflows 64 bits must not wrap to a small one.
	ds.Space.Dims = []uint64{1 << 40, 1 << 40, 1 << 40}
	ds.Space.MaxDims = ds.Space.Dims
	ds.Layout.ChunkDims = []uint64{1, 1, 1}
	err = ds.ForEachChunk(func(Chunk) error { return nil })
	require.Error(t, err)
	checkTyped(t, err)
	assert.Less(t, time.Since(start), time.Second)
}

// TestFixedArrayCaps gives a fixed array index an entry count far past
// what the file can hold, and one past the dataset's chunk grid.
func TestFixedArrayCaps(t *testing.T) {
	for _, c := range []struct {
		name string
		n    uint64
		dims []uint64
	}{
		{"2^40 entries", 1 << 40, []uint64{1 << 20, 1 << 20}},
		{"more entries than chunks", 8, []uint64{2, 2}},
		{"empty grid", 4, []uint64{0, 4}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newH5(4096)
			copy(h.b[256:], "FAHD")
			h.b[260] = 0    // version
			h.b[261] = 0    // client: unfiltered chunks
			h.b[262] = 8    // entry size
			h.b[263] = 10   // page bits
			h.u64(264, c.n) // entries
			h.u64(272, 512) // data block
			copy(h.b[512:], "FADB")
			f, err := Open(bytes.NewReader(h.b), int64(len(h.b)), WithoutChecksums())
			require.NoError(t, err)
			ds := &Dataset{f: f, Path: "/fa", Type: &Datatype{Class: ClassFixedPoint, Size: 1},
				Space:  Dataspace{Kind: SpaceSimple, Dims: c.dims, MaxDims: c.dims},
				Layout: Layout{Class: LayoutChunked, ChunkIndex: IndexFixedArray, Address: 256, ChunkDims: []uint64{1, 1}}}
			err = ds.ForEachChunk(func(Chunk) error { return nil })
			require.Error(t, err)
			checkTyped(t, err)
			assert.ErrorIs(t, err, ErrFormat)
			assert.Contains(t, err.Error(), `object "/fa", offset 256`)
		})
	}
}

// builtSeeds are small hand-built files for the fuzzer: link messages in a
// version 1 header, soft links, vlen attributes in a global heap, arrays.
func builtSeeds() [][]byte {
	var out [][]byte
	h := newH5(2048)
	g := 1024
	ref := vlenRef(5, 1536)
	arr := append([]byte{0x3a, 0, 0, 0, 8, 0, 0, 0, 1, 2, 0, 0, 0}, int32Type...)
	h.header(h5rootAddr, linkMsg("g", uint64(g), ""), linkMsg("soft", 0, "/g"), linkMsg("loop", 0, "/loop"),
		attrMsg("s", vlenStringType, scalarSpace, ref),
		attrMsg("arr", arr, []byte{1, 1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 16)))
	h.header(g, linkMsg("up", h5rootAddr, ""), linkMsg("self", uint64(g), ""))
	h.globalHeap(1536, 5)
	out = append(out, h.b)
	return out
}
