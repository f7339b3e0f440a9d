package netcdf3

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dataEnd returns the end of the last byte of data of any variable, or the
// header size if there is none.
func dataEnd(f *File) int64 {
	end := f.HeaderSize
	for i := range f.Vars {
		v := &f.Vars[i]
		if v.NumSlabs() > 0 {
			end = max(end, v.Slab(v.NumSlabs()-1).End())
		}
	}
	return end
}

// TestTruncation opens every prefix of every fixture: one that cuts the
// header or any variable's data must fail with ErrTruncated or ErrFormat,
// one that cuts only trailing padding must parse as the whole file does.
func TestTruncation(t *testing.T) {
	for _, name := range fixtures {
		file := readFixture(t, name)
		whole := openBytes(t, file)
		end := dataEnd(whole)
		for n := 0; n < len(file); n++ {
			f, err := Open(bytes.NewReader(file[:n]), int64(n))
			if int64(n) >= end {
				if assert.NoError(t, err, "%s[:%d]", name, n) {
					assert.Equal(t, whole, f)
				}
				continue
			}
			require.Error(t, err, "%s[:%d]", name, n)
			assert.Nil(t, f)
			assert.True(t, errors.Is(err, ErrTruncated) || errors.Is(err, ErrFormat), "%s[:%d]: %v", name, n, err)
			var fe *FormatError
			assert.True(t, errors.As(err, &fe), "%s[:%d]: %v", name, n, err)
			if n >= 4 && int64(n) < whole.HeaderSize {
				assert.ErrorIs(t, err, ErrTruncated, "%s[:%d]", name, n)
			}
		}
	}
}

// shortReader serves only the first n bytes of b, as a file that is shorter
// than its stated size would.
type shortReader struct{ b []byte }

func (s shortReader) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(s.b).ReadAt(p, off)
}

type failingReader struct{}

var errDisk = errors.New("disk on fire")

func (failingReader) ReadAt(p []byte, off int64) (int, error) { return 0, errDisk }

func TestReaderShorterThanSize(t *testing.T) {
	file := readFixture(t, "classic")
	_, err := Open(shortReader{file[:100]}, int64(len(file)))
	assert.ErrorIs(t, err, ErrTruncated)

	// Other read errors are passed on, not disguised as format errors.
	_, err = Open(failingReader{}, 1000)
	assert.ErrorIs(t, err, errDisk)
	assert.NotErrorIs(t, err, ErrFormat)

	_, err = Open(bytes.NewReader(file), -1)
	assert.ErrorIs(t, err, ErrFormat)
}

// builder writes headers field by field, in the encoding of its format.
type builder struct {
	format Format
	b      []byte
}

func (w *builder) u32(v uint32) *builder { w.b = binary.BigEndian.AppendUint32(w.b, v); return w }
func (w *builder) u64(v uint64) *builder { w.b = binary.BigEndian.AppendUint64(w.b, v); return w }

// n writes a NON_NEG: count, length, vsize, or a dim id.
func (w *builder) n(v uint64) *builder {
	if w.format == Data64 {
		return w.u64(v)
	}
	return w.u32(uint32(v))
}

// begin writes an OFFSET.
func (w *builder) begin(v uint64) *builder {
	if w.format == Classic {
		return w.u32(uint32(v))
	}
	return w.u64(v)
}

func (w *builder) name(s string) *builder {
	w.n(uint64(len(s)))
	w.b = append(w.b, s...)
	for len(w.b)%4 != 0 {
		w.b = append(w.b, 0)
	}
	return w
}

func (w *builder) start(numrecs uint64) *builder {
	w.b = append(w.b, 'C', 'D', 'F', byte(w.format))
	return w.n(numrecs)
}

func (w *builder) absent() *builder { return w.u32(0).n(0) }

func (w *builder) dims(dims ...any) *builder {
	if len(dims) == 0 {
		return w.absent()
	}
	w.u32(tagDimension).n(uint64(len(dims) / 2))
	for i := 0; i < len(dims); i += 2 {
		var n uint64
		switch x := dims[i+1].(type) {
		case int:
			n = uint64(x)
		case uint64:
			n = x
		}
		w.name(dims[i].(string)).n(n)
	}
	return w
}

// variable writes one variable with no attributes.
func (w *builder) variable(name string, typ Type, vsize, begin uint64, dimids ...uint64) *builder {
	w.name(name).n(uint64(len(dimids)))
	for _, id := range dimids {
		w.n(id)
	}
	return w.absent().u32(uint32(typ)).n(vsize).begin(begin)
}

func (w *builder) vars(n int) *builder { return w.u32(tagVariable).n(uint64(n)) }

// pad extends the file to size bytes.
func (w *builder) pad(size int) []byte {
	for len(w.b) < size {
		w.b = append(w.b, 0)
	}
	return w.b
}

func newBuilder(f Format) *builder { return &builder{format: f} }

// fixedFile is a valid file of format f with one fixed int variable "v" of
// dimension "x" (length 2), data at offset 256, 264 bytes long.
func fixedFile(f Format) []byte {
	return newBuilder(f).start(0).dims("x", 2).absent().vars(1).
		variable("v", Int, 8, 256, 0).pad(264)
}

func TestBuilderBaseline(t *testing.T) {
	for _, f := range []Format{Classic, Offset64, Data64} {
		file := fixedFile(f)
		g := openBytes(t, file)
		assert.Equal(t, f, g.Format)
		require.Len(t, g.Vars, 1)
		assert.Equal(t, Range{256, 8}, g.Vars[0].Slab(0))
	}
}

func TestHostile(t *testing.T) {
	b := newBuilder
	tests := []struct {
		name string
		file []byte
		want error
	}{
		{"empty file", nil, ErrTruncated},
		{"short magic", []byte("CD"), ErrTruncated},
		{"hdf5 magic", []byte("\x89HDF\r\n\x1a\n"), ErrFormat},
		{"not CDF", []byte("CDX\x01\x00\x00\x00\x00"), ErrFormat},
		{"version 3", []byte("CDF\x03\x00\x00\x00\x00"), ErrUnsupported},
		{"no numrecs", []byte("CDF\x01\x00\x00"), ErrTruncated},
		{"huge dim count", b(Classic).start(0).u32(tagDimension).u32(math.MaxInt32).pad(200), ErrTruncated},
		{"huge dim count CDF-5", b(Data64).start(0).u32(tagDimension).u64(1 << 62).pad(200), ErrTruncated},
		{"negative dim count CDF-5", b(Data64).start(0).u32(tagDimension).u64(1 << 63).pad(200), ErrFormat},
		{"negative numrecs CDF-5", b(Data64).start(1 << 63).absent().absent().absent().b, ErrFormat},
		{"huge name", b(Classic).start(0).u32(tagDimension).u32(1).u32(math.MaxUint32).pad(200), ErrTruncated},
		{"bad dim tag", b(Classic).start(0).u32(tagVariable).u32(1).name("x").u32(1).b, ErrFormat},
		{"bad absent", b(Classic).start(0).u32(0x99).u32(0).absent().absent().b, ErrFormat},
		{"huge attr count", b(Classic).start(0).absent().u32(tagAttribute).u32(1 << 30).pad(200), ErrTruncated},
		{"huge attr values", b(Classic).start(0).absent().u32(tagAttribute).u32(1).name("a").u32(uint32(Double)).u32(1 << 31).pad(200), ErrTruncated},
		{"huge attr values CDF-5", b(Data64).start(0).absent().u32(tagAttribute).u64(1).name("a").u32(uint32(Double)).u64(1 << 61).pad(200), ErrTruncated},
		{"attr type 0", b(Classic).start(0).absent().u32(tagAttribute).u32(1).name("a").u32(0).u32(0).absent().b, ErrFormat},
		{"attr type 13", b(Classic).start(0).absent().u32(tagAttribute).u32(1).name("a").u32(13).u32(0).absent().b, ErrFormat},
		{"attr NC_STRING", b(Classic).start(0).absent().u32(tagAttribute).u32(1).name("a").u32(12).u32(0).absent().b, ErrUnsupported},
		{"huge var count", b(Classic).start(0).absent().absent().vars(1 << 30).pad(200), ErrTruncated},
		{"huge rank", b(Classic).start(0).dims("x", 2).absent().vars(1).name("v").u32(1 << 30).pad(200), ErrTruncated},
		{"dim id out of range", b(Classic).start(0).dims("x", 2).absent().vars(1).variable("v", Int, 8, 64, 1).pad(72), ErrFormat},
		{"negative dim id", b(Classic).start(0).dims("x", 2).absent().vars(1).variable("v", Int, 8, 64, math.MaxUint32).pad(72), ErrFormat},
		{"negative dim id CDF-5", b(Data64).start(0).dims("x", 2).absent().vars(1).variable("v", Int, 8, 128, math.MaxUint64).pad(136), ErrFormat},
		{"dim id past int CDF-5", b(Data64).start(0).dims("x", 2).absent().vars(1).variable("v", Int, 8, 128, 1<<40).pad(136), ErrFormat},
		{"var type 99", b(Classic).start(0).dims("x", 2).absent().vars(1).variable("v", 99, 8, 64, 0).pad(72), ErrFormat},
		{"negative begin CDF-1", b(Classic).start(0).dims("x", 2).absent().vars(1).variable("v", Int, 8, 0x80000000, 0).pad(72), ErrFormat},
		{"negative begin CDF-2", b(Offset64).start(0).dims("x", 2).absent().vars(1).variable("v", Int, 8, 1<<63, 0).pad(72), ErrFormat},
		{"begin inside header", b(Classic).start(0).dims("x", 2).absent().vars(1).variable("v", Int, 8, 8, 0).pad(72), ErrFormat},
		{"begin past end", b(Classic).start(0).dims("x", 2).absent().vars(1).variable("v", Int, 8, 1000, 0).pad(264), ErrTruncated},
		{"data past end", b(Classic).start(0).dims("x", 2).absent().vars(1).variable("v", Int, 8, 260, 0).pad(264), ErrTruncated},
		{"two unlimited dims", b(Classic).start(0).dims("t", 0, "u", 0).absent().absent().b, ErrFormat},
		{"unlimited not first", b(Classic).start(0).dims("x", 2, "t", 0).absent().vars(1).variable("v", Int, 8, 64, 0, 1).pad(72), ErrFormat},
		{"overlapping vars", b(Classic).start(0).dims("x", 2).absent().vars(2).
			variable("a", Int, 8, 128, 0).variable("b", Int, 8, 132, 0).pad(200), ErrFormat},
		{"vars out of order", b(Classic).start(0).dims("x", 2).absent().vars(2).
			variable("a", Int, 8, 120, 0).variable("b", Int, 8, 96, 0).pad(200), ErrFormat},
		{"record section inside fixed", b(Classic).start(1).dims("t", 0, "x", 2).absent().vars(2).
			variable("a", Int, 8, 136, 1).variable("r", Int, 4, 140, 0).pad(200), ErrFormat},
		{"numrecs past end", b(Classic).start(0xFFFFFFFE).dims("t", 0).absent().vars(1).variable("r", Int, 4, 256, 0).pad(300), ErrTruncated},
		{"numrecs past end CDF-5", b(Data64).start(math.MaxInt64).dims("t", 0).absent().vars(1).variable("r", Double, 8, 128, 0).pad(200), ErrTruncated},
		{"shape overflow CDF-5", b(Data64).start(0).dims("x", uint64(1<<62), "y", uint64(1<<62)).absent().vars(1).variable("v", Int, 8, 256, 0, 1).pad(300), ErrFormat},
		{"size overflow CDF-5", b(Data64).start(0).dims("x", uint64(1<<61)).absent().vars(1).variable("v", Double, 8, 256, 0).pad(300), ErrFormat},
		{"large CDF-1 var not last", b(Classic).start(0).dims("x", 1<<30).absent().vars(2).
			variable("big", Double, 8, 96, 0).variable("after", Byte, 4, 96+(8<<30), 0).pad(200), ErrFormat},
		{"large CDF-2 fixed var with record vars", b(Offset64).start(0).dims("t", 0, "x", 1<<30).absent().vars(2).
			variable("big", Double, math.MaxUint32, 128, 1).variable("r", Byte, 4, 128+(8<<30), 0).pad(200), ErrFormat},
		{"two large CDF-2 record vars", b(Offset64).start(0).dims("t", 0, "x", 1<<30).absent().vars(2).
			variable("r1", Double, math.MaxUint32, 128, 0, 1).variable("r2", Double, math.MaxUint32, 128+(8<<30), 0, 1).pad(200), ErrFormat},
	}
	// What each error must say, so that it fails for the intended reason.
	msgs := map[string]string{
		"empty file":                             "magic number: 4 bytes needed, 0 left",
		"short magic":                            "magic number: 4 bytes needed, 2 left",
		"hdf5 magic":                             "not a netCDF classic file",
		"not CDF":                                "not a netCDF classic file",
		"version 3":                              "unknown format version 3",
		"no numrecs":                             "numrecs: 4 bytes needed",
		"huge dim count":                         "dimension list: 2147483647 elements do not fit",
		"huge dim count CDF-5":                   "dimension list: 4611686018427387904 elements do not fit",
		"negative dim count CDF-5":               "dimension list: value 9223372036854775808 out of range",
		"negative numrecs CDF-5":                 "numrecs 9223372036854775808 out of range",
		"huge name":                              "dimension 0: name: length 4294967295 exceeds",
		"bad dim tag":                            "dimension list: tag 0xb, want 0xa",
		"bad absent":                             "dimension list: tag 0x99, want 0xa",
		"huge attr count":                        "attribute list: 1073741824 elements do not fit",
		"huge attr values":                       "global attribute 0 \"a\": 2147483648 values of 8 bytes exceed",
		"huge attr values CDF-5":                 "2305843009213693952 values of 8 bytes exceed",
		"attr type 0":                            "global attribute 0 \"a\": type: unknown type 0",
		"attr type 13":                           "unknown type 13",
		"attr NC_STRING":                         "NC_STRING",
		"huge var count":                         "variable list: 1073741824 elements do not fit",
		"huge rank":                              "variable 0 \"v\": rank: 1073741824 elements do not fit",
		"dim id out of range":                    "variable 0 \"v\": dimension id 1 out of range",
		"negative dim id":                        "variable 0 \"v\": dimension id: negative value -1",
		"negative dim id CDF-5":                  "variable 0 \"v\": dimension id: negative value -1",
		"dim id past int CDF-5":                  "dimension id 1099511627776 out of range",
		"var type 99":                            "unknown type 99",
		"negative begin CDF-1":                   "begin: negative value -2147483648",
		"negative begin CDF-2":                   "begin: negative value -9223372036854775808",
		"begin inside header":                    "begin 8 overlaps the header",
		"begin past end":                         "data end past the end of the file (1008 > 264)",
		"data past end":                          "data end past the end of the file (268 > 264)",
		"two unlimited dims":                     "dimension 1 \"u\": a second unlimited dimension",
		"unlimited not first":                    "unlimited dimension \"t\" not first",
		"overlapping vars":                       "variable \"b\": begin 132 overlaps variable \"a\"",
		"vars out of order":                      "variable \"b\": begin 96 overlaps variable \"a\"",
		"record section inside fixed":            "variable \"r\": begin 140 overlaps variable \"a\"",
		"numrecs past end":                       "variable \"r\": data end past the end of the file",
		"numrecs past end CDF-5":                 "variable \"r\": data end past the end of the file",
		"shape overflow CDF-5":                   "size overflows 64 bits",
		"size overflow CDF-5":                    "size overflows 64 bits",
		"large CDF-1 var not last":               "only the last variable may be that large",
		"large CDF-2 fixed var with record vars": "not with record variables",
		"two large CDF-2 record vars":            "only one variable may be that large",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Contains(t, msgs, tt.name)
			f, err := Open(bytes.NewReader(tt.file), int64(len(tt.file)))
			require.Error(t, err)
			assert.Nil(t, f)
			assert.ErrorIs(t, err, tt.want)
			var fe *FormatError
			require.ErrorAs(t, err, &fe)
			assert.GreaterOrEqual(t, fe.Offset, int64(0))
			assert.LessOrEqual(t, fe.Offset, int64(len(tt.file)))
			assert.Contains(t, err.Error(), fe.What)
			assert.Contains(t, err.Error(), msgs[tt.name])
		})
	}
}

// TestHostileAllocation checks that huge counts in small files are refused
// before anything is allocated for them.
func TestHostileAllocation(t *testing.T) {
	b := newBuilder
	files := [][]byte{
		b(Classic).start(0).u32(tagDimension).u32(math.MaxInt32).pad(200),
		b(Data64).start(0).u32(tagDimension).u64(math.MaxInt64).pad(200),
		b(Classic).start(0).absent().u32(tagAttribute).u32(1).name("a").u32(uint32(Double)).u32(math.MaxUint32).pad(200),
		b(Classic).start(0).absent().absent().vars(math.MaxInt32).pad(200),
		b(Classic).start(0).dims("x", 2).absent().vars(1).name("v").u32(math.MaxUint32).pad(200),
		b(Classic).start(0).u32(tagDimension).u32(1).u32(math.MaxUint32).pad(200),
	}
	for i, file := range files {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Open(bytes.NewReader(file), int64(len(file)))
		runtime.ReadMemStats(&after)
		assert.Error(t, err, i)
		assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<10), "file %d allocated too much", i)
	}
}

// sparseFile is a large file of which only the header bytes exist; the rest
// reads as zeros.
type sparseFile struct{ head []byte }

func (s sparseFile) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	if off < int64(len(s.head)) {
		copy(p, s.head[off:])
	}
	return len(p), nil
}

// TestLargeVariables checks that sizes come from shapes, not from the vsize
// field that CDF-1 and CDF-2 clamp to 2^32-1 for variables over 4 GiB.
func TestLargeVariables(t *testing.T) {
	t.Run("last fixed var over 4 GiB", func(t *testing.T) {
		const n = 3 << 30 // int32 x 3Gi = 12 GiB
		head := newBuilder(Offset64).start(0).dims("x", 2, "big", uint64(n)).absent().vars(2).
			variable("small", Short, 4, 256, 0).
			variable("huge", Int, math.MaxUint32, 260, 1).pad(256)
		size := int64(260 + 4*n)
		f, err := Open(sparseFile{head}, size)
		require.NoError(t, err)
		v := f.Var("huge")
		assert.Equal(t, int64(math.MaxUint32), v.VSize)
		assert.Equal(t, int64(4*n), v.SlabSize())
		assert.Equal(t, Range{260, 4 * n}, v.Slab(0))
		assert.Equal(t, Range{256, 4}, f.Var("small").Slab(0))

		_, err = Open(sparseFile{head}, size-1)
		assert.ErrorIs(t, err, ErrTruncated)
	})
	t.Run("last record var over 4 GiB", func(t *testing.T) {
		const n = 1 << 30 // float64 x 1Gi = 8 GiB per record
		head := newBuilder(Offset64).start(2).dims("t", 0, "big", n).absent().vars(2).
			variable("r1", Short, 4, 256, 0).
			variable("r2", Double, math.MaxUint32, 260, 0, 1).pad(256)
		rec := int64(4 + 8*n)
		f, err := Open(sparseFile{head}, 256+2*rec)
		require.NoError(t, err)
		assert.Equal(t, rec, f.RecordSize)
		r2 := f.Var("r2")
		assert.Equal(t, []int64{2, n}, r2.Shape)
		assert.Equal(t, Range{260 + rec, 8 * n}, r2.Slab(1))
		assert.Equal(t, Range{256 + rec, 2}, f.Var("r1").Slab(1))
	})
	t.Run("CDF-1 last fixed var over 2 GiB", func(t *testing.T) {
		const n = 1 << 30
		head := newBuilder(Classic).start(0).dims("big", n).absent().vars(1).
			variable("huge", Double, math.MaxUint32, 256, 0).pad(256)
		f, err := Open(sparseFile{head}, 256+8*n)
		require.NoError(t, err)
		assert.Equal(t, int64(8*n), f.Vars[0].SlabSize())
	})
}

func TestStreaming(t *testing.T) {
	tests := []struct {
		name    string
		numrecs int64
	}{
		{"classic", 3},
		{"onerec_short", 5},
		{"onerec_char", 4},
		{"onerec_byte", 7},
		{"multirec_pad", 4},
		{"norecs", 0},
		{"empty", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A streaming writer leaves no padding after the last record.
			file := readFixture(t, tt.name)
			file = file[:dataEnd(openBytes(t, file))]
			want := openBytes(t, file)
			streaming := bytes.Clone(file)
			if want.Format == Data64 {
				binary.BigEndian.PutUint64(streaming[4:], math.MaxUint64)
			} else {
				binary.BigEndian.PutUint32(streaming[4:], math.MaxUint32)
			}
			f := openBytes(t, streaming)
			assert.True(t, f.Streaming)
			assert.Equal(t, tt.numrecs, f.NumRecs)
			want.Streaming = true
			assert.Equal(t, want, f)

			// A file cut in the middle of a record has only its whole records.
			if tt.numrecs >= 2 {
				cut := streaming[:len(streaming)-int(f.RecordSize)-1]
				g := openBytes(t, cut)
				assert.Equal(t, max(tt.numrecs-2, 0), g.NumRecs)
			}
		})
	}
}

func TestFormatError(t *testing.T) {
	err := error(&FormatError{Offset: 12, What: "dimension 0 name", Err: ErrTruncated})
	assert.Equal(t, "netcdf3: truncated file: dimension 0 name (offset 12)", err.Error())
	assert.ErrorIs(t, err, ErrTruncated)
	assert.NotErrorIs(t, err, ErrFormat)
	wrapped := fmt.Errorf("opening x.nc: %w", err)
	var fe *FormatError
	require.ErrorAs(t, wrapped, &fe)
	assert.Equal(t, int64(12), fe.Offset)
}

var _ io.ReaderAt = sparseFile{}

// TestErrorLocation checks that errors name the element being read, and
// only that one.
func TestErrorLocation(t *testing.T) {
	b := newBuilder
	tests := []struct {
		file []byte
		msg  string
	}{
		{b(Classic).start(0).dims("x", 2).u32(tagVariable).u32(0).b, `invalid file: attribute list: tag 0xb, want 0xc (offset 28)`},
		{b(Classic).start(0).dims("x", 2).absent().u32(tagDimension).u32(0).b, `invalid file: variable list: tag 0xa, want 0xb (offset 36)`},
		{b(Classic).start(0).absent().u32(tagAttribute).u32(1).name("a").u32(uint32(Char)).u32(1).u32(0).u32(99).u32(0).b, `invalid file: variable list: tag 0x63, want 0xb (offset 44)`},
		{b(Classic).start(0).dims("x", 2).absent().vars(1).name("v").u32(1).u32(0).u32(tagAttribute).u32(2).name("ok").u32(uint32(Byte)).u32(0).name("bad").u32(77).b,
			`invalid file: variable 0 "v": attribute 1 "bad": type: unknown type 77`},
		{b(Classic).start(0).dims("x", 2).absent().vars(1).name("v").u32(1).u32(0).absent().u32(uint32(Int)).u32(8).b,
			`truncated file: variable 0 "v": begin: 4 bytes needed, 0 left`},
	}
	for _, tt := range tests {
		_, err := Open(bytes.NewReader(tt.file), int64(len(tt.file)))
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.msg)
	}
}
