package netcdf3

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const fixtureDir = "../testdata/netcdf3"

// fixtures lists the files that testdata/gen_netcdf3.py writes.
var fixtures = []string{
	"classic", "offset64", "data64", "onerec_short", "onerec_char",
	"onerec_byte", "multirec_pad", "norecs", "unicode", "empty", "nulpad",
}

// truth mirrors <name>.truth.json.
type truth struct {
	Format    string      `json:"format"`
	DataModel string      `json:"data_model"`
	NumRecs   int64       `json:"numrecs"`
	Dims      []truthDim  `json:"dims"`
	Attrs     []truthAttr `json:"attrs"`
	Vars      []truthVar  `json:"vars"`
}

type truthDim struct {
	Name      string `json:"name"`
	Len       int64  `json:"len"`
	Unlimited bool   `json:"unlimited"`
}

type truthAttr struct {
	Name   string        `json:"name"`
	Type   string        `json:"type"`
	Len    int           `json:"len"`
	RawB64 string        `json:"raw_b64"`
	Python *string       `json:"python"`
	Values []json.Number `json:"values"`
}

type truthVar struct {
	Name      string        `json:"name"`
	Dims      []string      `json:"dims"`
	Shape     []int64       `json:"shape"`
	Type      string        `json:"type"`
	Dtype     string        `json:"dtype"`
	Attrs     []truthAttr   `json:"attrs"`
	FillValue any           `json:"fill_value"` // json.Number, or base64 for char
	Data      []json.Number `json:"data"`
	DataB64   string        `json:"data_b64"`
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name+".nc"))
	require.NoError(t, err)
	return b
}

func readTruth(t *testing.T, name string) truth {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name+".truth.json"))
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var tr truth
	require.NoError(t, dec.Decode(&tr))
	return tr
}

func openBytes(t testing.TB, b []byte) *File {
	t.Helper()
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	return f
}

// scalars converts a slice of any attribute element type, or a scalar of
// one, to int64, uint64 or float64 values for comparison.
func scalars(v any) []any {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		one := reflect.MakeSlice(reflect.SliceOf(rv.Type()), 1, 1)
		one.Index(0).Set(rv)
		rv = one
	}
	out := make([]any, 0, rv.Len())
	for i := range rv.Len() {
		switch e := rv.Index(i); {
		case e.CanInt():
			out = append(out, e.Int())
		case e.CanUint():
			out = append(out, e.Uint())
		case e.CanFloat():
			out = append(out, e.Float())
		default:
			panic("scalars: unexpected type")
		}
	}
	return out
}

// parseNumbers parses JSON numbers as the scalars of type typ would be.
func parseNumbers(t *testing.T, typ Type, ns []json.Number) []any {
	t.Helper()
	out := []any{}
	for _, n := range ns {
		switch typ {
		case Byte, Short, Int, Int64:
			x, err := strconv.ParseInt(n.String(), 10, 64)
			require.NoError(t, err)
			out = append(out, x)
		case UByte, UShort, UInt, UInt64:
			x, err := strconv.ParseUint(n.String(), 10, 64)
			require.NoError(t, err)
			out = append(out, x)
		case Float, Double:
			x, err := strconv.ParseFloat(n.String(), 64)
			require.NoError(t, err)
			out = append(out, x)
		default:
			t.Fatalf("numbers for type %v", typ)
		}
	}
	return out
}

func checkAttrs(t *testing.T, where string, got []Attr, want []truthAttr) {
	t.Helper()
	checkAttrList(t, where, got, want, func(w truthAttr) string { return w.Name }, func(a Attr, w truthAttr, label string) {
		assert.Equal(t, w.Type, a.Type.String(), label)
		assert.Equal(t, w.Len, a.Len(), label)
		if a.Type == Char {
			raw, err := base64.StdEncoding.DecodeString(w.RawB64)
			require.NoError(t, err)
			assert.Equal(t, string(raw), a.Value, label)
			require.NotNil(t, w.Python)
			if w.Name != "_FillValue" {
				// netCDF4-python removes every NUL.
				assert.Equal(t, *w.Python, strings.ReplaceAll(a.Value.(string), "\x00", ""), label)
			}
			return
		}
		assert.Equal(t, parseNumbers(t, a.Type, w.Values), scalars(a.Value), label)
	})
}

// checkAttrList checks that got holds the attributes of want, in order and
// by name, and hands each pair to check with its label ("where name").
func checkAttrList[W any](t *testing.T, where string, got []Attr, want []W, name func(W) string, check func(a Attr, w W, label string)) {
	t.Helper()
	require.Len(t, got, len(want), where)
	for i, w := range want {
		assert.Equal(t, name(w), got[i].Name, where)
		check(got[i], w, where+" "+name(w))
	}
}

// readData reads all slabs of v from file, in order.
func readData(t *testing.T, file []byte, v *Var) []byte {
	t.Helper()
	var out []byte
	for _, r := range v.Slabs() {
		require.LessOrEqual(t, r.End(), int64(len(file)), v.Name)
		out = append(out, file[r.Offset:r.End()]...)
	}
	return out
}

// decodeBE decodes big-endian data of type typ independently of the package.
func decodeBE(t *testing.T, typ Type, b []byte) any {
	t.Helper()
	n := len(b) / typ.Size()
	var v any
	switch typ {
	case Byte:
		v = make([]int8, n)
	case UByte:
		v = make([]uint8, n)
	case Short:
		v = make([]int16, n)
	case UShort:
		v = make([]uint16, n)
	case Int:
		v = make([]int32, n)
	case UInt:
		v = make([]uint32, n)
	case Int64:
		v = make([]int64, n)
	case UInt64:
		v = make([]uint64, n)
	case Float:
		v = make([]float32, n)
	case Double:
		v = make([]float64, n)
	}
	require.NoError(t, binary.Read(bytes.NewReader(b), binary.BigEndian, v))
	return v
}

func TestFixtures(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			file := readFixture(t, name)
			tr := readTruth(t, name)
			f := openBytes(t, file)

			assert.Equal(t, tr.Format, f.Format.String())
			assert.Equal(t, tr.DataModel, f.Format.String())
			assert.True(t, IsNetCDF3(file))
			assert.Equal(t, tr.NumRecs, f.NumRecs)
			assert.False(t, f.Streaming)

			require.Len(t, f.Dims, len(tr.Dims))
			for i, d := range tr.Dims {
				assert.Equal(t, Dim{Name: d.Name, Len: d.Len, Unlimited: d.Unlimited}, f.Dims[i])
				assert.Equal(t, &f.Dims[i], f.Dim(d.Name))
			}
			checkAttrs(t, "global", f.Attrs, tr.Attrs)

			require.Len(t, f.Vars, len(tr.Vars))
			for i, w := range tr.Vars {
				v := &f.Vars[i]
				assert.Same(t, v, f.Var(w.Name))
				assert.Equal(t, w.Name, v.Name)
				assert.Equal(t, w.Dims, append([]string{}, v.Dims...), w.Name)
				assert.Equal(t, w.Shape, append([]int64{}, v.Shape...), w.Name)
				assert.Equal(t, w.Type, v.Type.String(), w.Name)
				assert.Equal(t, w.Dtype, v.Type.Dtype(), w.Name)
				for j, id := range v.DimIDs {
					assert.Equal(t, f.Dims[id].Name, v.Dims[j])
				}
				assert.Equal(t, len(v.Shape) > 0 && f.Dims[v.DimIDs[0]].Unlimited, v.IsRecord, w.Name)
				checkAttrs(t, w.Name, v.Attrs, w.Attrs)

				// netCDF-C's fill value.
				if v.Type == Char {
					fill, err := base64.StdEncoding.DecodeString(w.FillValue.(string))
					require.NoError(t, err)
					assert.Equal(t, string(fill), v.FillValue(), w.Name)
				} else {
					want := parseNumbers(t, v.Type, []json.Number{w.FillValue.(json.Number)})
					assert.Equal(t, want, scalars(v.FillValue()), w.Name)
				}

				// The data, read through the computed byte ranges.
				data := readData(t, file, v)
				if v.Type == Char {
					want, err := base64.StdEncoding.DecodeString(w.DataB64)
					require.NoError(t, err)
					assert.Equal(t, want, data, w.Name)
				} else {
					assert.Equal(t, parseNumbers(t, v.Type, w.Data), scalars(decodeBE(t, v.Type, data)), w.Name)
				}
			}
		})
	}
}

// TestRecordLayout checks the record size rule on the fixtures: padded
// per-record sizes summed, except for exactly one record variable.
func TestRecordLayout(t *testing.T) {
	tests := []struct {
		file       string
		recVar     string
		recordSize int64
		slabSize   int64
		vsize      int64
	}{
		{"onerec_short", "v", 6, 6, 8},    // int16 x 3: unpadded 6
		{"onerec_char", "v", 5, 5, 8},     // char x 5
		{"onerec_byte", "v", 1, 1, 4},     // ubyte: one byte per record
		{"multirec_pad", "a", 20, 1, 4},   // 4 + 4 + 4 + 8
		{"multirec_pad", "c", 20, 3, 4},   // char x 3
		{"multirec_pad", "d", 20, 6, 8},   // int16 x 3
		{"classic", "flag", 76, 1, 4},     // 8 + 48 + 4 + 8 + 8
		{"classic", "names", 76, 5, 8},    //
		{"norecs", "temp", 16, 8, 8},      // 8 + 8, no records
		{"data64", "rec_u8", 136, 24, 24}, // 4+4+8+8+12+12+24+24+12+24+4
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.recVar, func(t *testing.T) {
			f := openBytes(t, readFixture(t, tt.file))
			v := f.Var(tt.recVar)
			require.NotNil(t, v)
			assert.True(t, v.IsRecord)
			assert.Equal(t, tt.recordSize, f.RecordSize)
			assert.Equal(t, tt.recordSize, v.Stride())
			assert.Equal(t, tt.slabSize, v.SlabSize())
			assert.Equal(t, tt.vsize, v.VSize)
			assert.Equal(t, f.NumRecs, v.NumSlabs())
			for r := int64(0); r < v.NumSlabs(); r++ {
				assert.Equal(t, Range{v.Begin + r*tt.recordSize, tt.slabSize}, v.Slab(r))
			}
		})
	}
}

func TestFixedLayout(t *testing.T) {
	f := openBytes(t, readFixture(t, "classic"))
	grid := f.Var("grid")
	require.NotNil(t, grid)
	assert.False(t, grid.IsRecord)
	assert.Equal(t, int64(1), grid.NumSlabs())
	assert.Equal(t, int64(0), grid.Stride())
	assert.Equal(t, int64(3*4*4), grid.SlabSize())
	assert.Equal(t, []Range{{grid.Begin, 48}}, grid.Slabs())
	assert.Panics(t, func() { grid.Slab(1) })
	assert.Panics(t, func() { grid.Slab(-1) })

	sc := f.Var("scalar_c")
	require.NotNil(t, sc)
	assert.Empty(t, sc.Shape)
	assert.Equal(t, Range{sc.Begin, 1}, sc.Slab(0))
	assert.Equal(t, int64(4), sc.VSize)

	// Variables follow the header and one another.
	assert.GreaterOrEqual(t, f.Vars[0].Begin, f.HeaderSize)
}

func TestAttrValues(t *testing.T) {
	f := openBytes(t, readFixture(t, "classic"))
	get := func(name string) Attr {
		a, ok := f.Attr(name)
		require.True(t, ok, name)
		return a
	}
	assert.Equal(t, []int8{-128, 0, 127}, get("att_byte").Value)
	assert.Equal(t, []int16{-32768, 1, 32767}, get("att_short").Value)
	assert.Equal(t, []int32{42}, get("att_scalar_int").Value)
	assert.Equal(t, []float32{1.5, -2.25, math.MaxFloat32, math.SmallestNonzeroFloat32}, get("att_float").Value)
	assert.Equal(t, []float64{math.Pi, -1e300, math.SmallestNonzeroFloat64}, get("att_double").Value)
	assert.Equal(t, []int32{}, get("att_empty_int").Value)
	assert.Equal(t, "Grüße, 世界 ✓", get("att_unicode").Value)

	// netCDF4-python writes "" as one NUL; Text trims trailing NULs only.
	assert.Equal(t, "\x00", get("att_empty_string").Value)
	s, ok := get("att_empty_string").Text()
	assert.True(t, ok)
	assert.Equal(t, "", s)
	assert.Equal(t, "", get("att_empty_text").Value)
	assert.Equal(t, 0, get("att_empty_text").Len())
	assert.Equal(t, "a\x00b\x00\x00", get("att_nuls").Value)
	s, _ = get("att_nuls").Text()
	assert.Equal(t, "a\x00b", s)
	_, ok = get("att_int").Text()
	assert.False(t, ok)
	_, ok = f.Attr("no such attribute")
	assert.False(t, ok)

	g := openBytes(t, readFixture(t, "data64"))
	for name, want := range map[string]any{
		"att_ubyte":  []uint8{0, 255},
		"att_ushort": []uint16{0, 65535},
		"att_uint":   []uint32{0, math.MaxUint32},
		"att_int64":  []int64{math.MinInt64, math.MaxInt64},
		"att_uint64": []uint64{0, math.MaxUint64},
	} {
		a, ok := g.Attr(name)
		require.True(t, ok, name)
		assert.Equal(t, want, a.Value, name)
	}

	u := f.Var("flag")
	require.NotNil(t, u)
	a, ok := u.Attr("_Unsigned")
	require.True(t, ok)
	assert.Equal(t, Attr{Name: "_Unsigned", Type: Char, Value: "true"}, a)
}

func TestUnicodeNames(t *testing.T) {
	f := openBytes(t, readFixture(t, "unicode"))
	assert.Equal(t, []Dim{{"時間", 2, true}, {"température", 2, false}, {"ñ", 3, false}}, f.Dims)
	v := f.Var("données")
	require.NotNil(t, v)
	assert.Equal(t, []string{"時間", "ñ"}, v.Dims)
	a, ok := v.Attr("unités")
	require.True(t, ok)
	assert.Equal(t, "°C", a.Value)
}

func TestTypes(t *testing.T) {
	tests := []struct {
		typ   Type
		name  string
		size  int
		dtype string
		fill  any
	}{
		{Byte, "byte", 1, "|i1", int8(-127)},
		{Char, "char", 1, "|S1", "\x00"},
		{Short, "short", 2, ">i2", int16(-32767)},
		{Int, "int", 4, ">i4", int32(-2147483647)},
		{Float, "float", 4, ">f4", float32(9.9692099683868690e+36)},
		{Double, "double", 8, ">f8", 9.9692099683868690e+36},
		{UByte, "ubyte", 1, "|u1", uint8(255)},
		{UShort, "ushort", 2, ">u2", uint16(65535)},
		{UInt, "uint", 4, ">u4", uint32(4294967295)},
		{Int64, "int64", 8, ">i8", int64(-9223372036854775806)},
		{UInt64, "uint64", 8, ">u8", uint64(18446744073709551614)},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.name, tt.typ.String())
		assert.Equal(t, tt.size, tt.typ.Size())
		assert.Equal(t, tt.dtype, tt.typ.Dtype())
		assert.Equal(t, tt.fill, tt.typ.DefaultFill())
	}
	for _, bad := range []Type{0, 12, 99} {
		assert.Equal(t, 0, bad.Size())
		assert.Equal(t, "", bad.Dtype())
		assert.Nil(t, bad.DefaultFill())
		assert.Contains(t, bad.String(), "Type(")
	}
	assert.Equal(t, "NETCDF3_CLASSIC", Classic.String())
	assert.Equal(t, "NETCDF3_64BIT_OFFSET", Offset64.String())
	assert.Equal(t, "NETCDF3_64BIT_DATA", Data64.String())
	assert.Equal(t, "Format(3)", Format(3).String())
}

func TestIsNetCDF3(t *testing.T) {
	for _, m := range []string{"CDF\x01", "CDF\x02", "CDF\x05", "CDF\x01rest"} {
		assert.True(t, IsNetCDF3([]byte(m)), "%q", m)
	}
	for _, m := range []string{"", "CDF", "CDF\x03", "CDF\x00", "\x89HDF\r\n\x1a\n", "cdf\x01"} {
		assert.False(t, IsNetCDF3([]byte(m)), "%q", m)
	}
}

// countingReader counts ReadAt calls and bytes.
type countingReader struct {
	r     *bytes.Reader
	calls int
	bytes int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.calls++
	n, err := c.r.ReadAt(p, off)
	c.bytes += int64(n)
	return n, err
}

func TestFewReads(t *testing.T) {
	for _, name := range fixtures {
		file := readFixture(t, name)
		want := openBytes(t, file)

		// A header under 64 KiB takes one read.
		c := &countingReader{r: bytes.NewReader(file)}
		f, err := Open(c, int64(len(file)))
		require.NoError(t, err, name)
		assert.Equal(t, 1, c.calls, name)
		assert.Equal(t, want, f, name)

		// Longer headers grow the buffer geometrically: a 16-byte first
		// read takes about log2(header/16) more, each for new bytes only.
		c = &countingReader{r: bytes.NewReader(file)}
		f, err = open(c, int64(len(file)), 16)
		require.NoError(t, err, name)
		assert.Equal(t, want, f, name)
		assert.LessOrEqual(t, c.calls, 1+int(math.Ceil(math.Log2(float64(want.HeaderSize)/16)))+1, name)
		assert.LessOrEqual(t, c.bytes, int64(len(file)), name)
	}
}
