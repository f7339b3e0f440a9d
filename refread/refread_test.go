package refread

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/kerchunk/codecs"
)

func zarray(shape, chunks, dtype, fill, compressor, filters, extra string) string {
	return fmt.Sprintf(`{"chunks":%s,"compressor":%s,"dtype":"%s","fill_value":%s,"filters":%s,"order":"C","shape":%s,"zarr_format":2%s}`,
		chunks, compressor, dtype, fill, filters, shape, extra)
}

func le64(vals ...float64) []byte {
	b := make([]byte, 0, 8*len(vals))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return b
}

func TestReadPartialAndMissingChunks(t *testing.T) {
	refs := kerchunk.NewRefs(0)
	// 2-D <f8 array 3x5 in chunks of 2x2: the grid is 2x3, edge chunks
	// are partial; chunk 1.2 has no reference and reads as fill_value.
	refs.SetText("a/.zarray", zarray("[3,5]", "[2,2]", "<f8", `"NaN"`, "null", "null", ""))
	refs.SetText("a/.zattrs", `{"_ARRAY_DIMENSIONS":["y","x"],"units":"m","scale_factor":[0.5],"bad":NaN}`)
	val := func(r, c int) float64 { return float64(10*r + c) }
	for gi := 0; gi < 2; gi++ {
		for gj := 0; gj < 3; gj++ {
			if gi == 1 && gj == 2 {
				continue
			}
			var vals []float64
			for i := 0; i < 2; i++ {
				for j := 0; j < 2; j++ {
					vals = append(vals, val(gi*2+i, gj*2+j))
				}
			}
			refs.Set(fmt.Sprintf("a/%d.%d", gi, gj), kerchunk.Inline(le64(vals...)))
		}
	}
	s := NewStore(refs, nil)
	defer s.Close()
	a, err := s.Open("a")
	require.NoError(t, err)
	assert.Equal(t, []string{"y", "x"}, a.Dims)
	assert.Equal(t, "m", a.Attrs["units"])
	sf, ok := a.AttrFloat("scale_factor")
	assert.True(t, ok)
	assert.Equal(t, 0.5, sf)
	assert.True(t, math.IsNaN(a.Attrs["bad"].(float64)))
	got, err := a.ReadFloat64s(context.Background())
	require.NoError(t, err)
	require.Len(t, got, 15)
	for r := 0; r < 3; r++ {
		for c := 0; c < 5; c++ {
			if r == 2 && c == 4 {
				assert.True(t, math.IsNaN(got[r*5+c]))
				continue
			}
			assert.Equal(t, val(r, c), got[r*5+c], "(%d,%d)", r, c)
		}
	}
	_, err = s.Open("nope")
	assert.ErrorIs(t, err, ErrNotFound)

	// Missing marks the elements of chunk 1.2, which has no reference.
	d, err := a.Read(context.Background())
	require.NoError(t, err)
	require.Len(t, d.Missing, 15)
	for i, m := range d.Missing {
		assert.Equal(t, i == 2*5+4, m, "element %d", i)
	}
	// ReadChunks reads the chunks asked for; the others read as
	// fill_value and are missing.
	d, err = a.ReadChunks(context.Background(), func(idx []int) bool { return idx[1] == 0 })
	require.NoError(t, err)
	for r := 0; r < 3; r++ {
		for c := 0; c < 5; c++ {
			i := r*5 + c
			assert.Equal(t, c >= 2, d.Missing[i], "(%d,%d)", r, c)
			if c < 2 {
				assert.Equal(t, val(r, c), d.Float[i], "(%d,%d)", r, c)
			} else {
				assert.True(t, math.IsNaN(d.Float[i]), "(%d,%d)", r, c)
			}
		}
	}
}

func TestReadEveryChunkHasNoMissing(t *testing.T) {
	refs := kerchunk.NewRefs(0)
	refs.SetText("t/.zarray", zarray("[3]", "[2]", "<M8[s]", "null", "null", "null", ""))
	refs.Set("t/0", kerchunk.Inline(le64(0, 0)))
	refs.Set("t/1", kerchunk.Inline(le64(0, 0)))
	a, err := NewStore(refs, nil).Open("t")
	require.NoError(t, err)
	assert.Equal(t, "s", a.DType.TimeUnit())
	d, err := a.Read(context.Background())
	require.NoError(t, err)
	assert.Nil(t, d.Missing)
}

func TestReadDtypesAndCodecs(t *testing.T) {
	ctx := context.Background()
	refs := kerchunk.NewRefs(0)

	// Big-endian int16 through shuffle + zlib filters, F order, "/" keys.
	be := make([]byte, 0, 12)
	for _, v := range []int16{1, -2, 3, -4, 5, -6} { // F order of [[1,3,5],[-2,-4,-6]]
		be = binary.BigEndian.AppendUint16(be, uint16(v))
	}
	sh := codecs.Shuffle(be, 2)
	z, err := codecs.ZlibEncode(sh, 5)
	require.NoError(t, err)
	refs.SetText("g/i/.zarray", strings.Replace(zarray("[2,3]", "[2,3]", ">i2", "0", "null",
		`[{"id":"shuffle","elementsize":2},{"id":"zlib","level":5}]`, `,"dimension_separator":"/"`), `"order":"C"`, `"order":"F"`, 1))
	refs.Set("g/i/0/0", kerchunk.Inline(z))

	// Unsigned bytes with a compressor and a fill value; chunk 1 missing.
	gz, err := codecs.New(codecs.Config{"id": "gzip", "level": 1})
	require.NoError(t, err)
	enc, err := gz.Encode([]byte{200, 201})
	require.NoError(t, err)
	refs.SetText("u/.zarray", zarray("[4]", "[2]", "|u1", "7", `{"id":"gzip","level":1}`, "null", ""))
	refs.Set("u/0", kerchunk.Inline(enc))

	// Fixed-length bytes, UCS-4 text, vlen-utf8 strings, bool, float32.
	refs.SetText("s/.zarray", zarray("[3]", "[3]", "|S3", `"eHl6"`, "null", "null", ""))
	refs.Set("s/0", kerchunk.Inline([]byte("ab\x00cde\x00\x00\x00")))
	refs.SetText("t/.zarray", zarray("[2]", "[2]", "<U2", `""`, "null", "null", ""))
	ucs := make([]byte, 16)
	for i, r := range []rune{'h', 'é', 'x', 0} {
		binary.LittleEndian.PutUint32(ucs[4*i:], uint32(r))
	}
	refs.Set("t/0", kerchunk.Inline(ucs))
	refs.SetText("o/.zarray", zarray("[3]", "[2]", "|O", `""`, "null", `[{"id":"vlen-utf8"}]`, ""))
	refs.Set("o/0", kerchunk.Inline(codecs.VLenUTF8Encode([]string{"α", "b"})))
	refs.Set("o/1", kerchunk.Inline(codecs.VLenUTF8Encode([]string{"c", ""})))
	refs.SetText("b/.zarray", zarray("[2]", "[2]", "|b1", "false", "null", "null", ""))
	refs.Set("b/0", kerchunk.Inline([]byte{0, 1}))
	refs.SetText("f/.zarray", zarray("[2]", "[2]", ">f4", "null", "null", "null", ""))
	f4 := binary.BigEndian.AppendUint32(nil, math.Float32bits(1.5))
	f4 = binary.BigEndian.AppendUint32(f4, math.Float32bits(-2.25))
	refs.Set("f/0", kerchunk.Inline(f4))
	// A scalar.
	refs.SetText("sc/.zarray", zarray("[]", "[]", "<i8", "null", "null", "null", ""))
	refs.Set("sc/0", kerchunk.Inline(binary.LittleEndian.AppendUint64(nil, uint64(1<<40))))

	s := NewStore(refs, FetcherFunc(func(context.Context, string, int64, int64) ([]byte, error) {
		t.Fatal("no fetch expected")
		return nil, nil
	}))
	read := func(path string) *Data {
		a, err := s.Open(path)
		require.NoError(t, err, path)
		d, err := a.Read(ctx)
		require.NoError(t, err, path)
		return d
	}
	d := read("g/i")
	assert.Equal(t, []int64{1, 3, 5, -2, -4, -6}, d.Int)
	ints, err := d.Int64s()
	require.NoError(t, err)
	assert.Equal(t, d.Int, ints)
	assert.Equal(t, []int64{200, 201, 7, 7}, read("u").Int)
	assert.Equal(t, []string{"ab", "cde", ""}, read("s").Str)
	assert.Equal(t, []string{"hé", "x"}, read("t").Str)
	assert.Equal(t, []string{"α", "b", "c"}, read("o").Str)
	assert.Equal(t, []int64{0, 1}, read("b").Int)
	fl, err := read("f").Float64s()
	require.NoError(t, err)
	assert.Equal(t, []float64{1.5, -2.25}, fl)
	assert.Equal(t, []int64{1 << 40}, read("sc").Int)
	assert.Equal(t, []string{"1099511627776"}, read("sc").Strings())
	_, err = read("s").Float64s()
	assert.ErrorIs(t, err, ErrUnsupported)

	// A chunk that decodes to the wrong size is an error, not garbage.
	refs.Set("f/0", kerchunk.Inline([]byte{1, 2, 3}))
	a, err := s.Open("f")
	require.NoError(t, err)
	_, err = a.Read(ctx)
	assert.ErrorIs(t, err, ErrBadRef)
}

// Complex, raw and structured arrays open (their metadata is valid) but
// their values are not read as numbers or strings.
func TestReadUnsupportedDtypes(t *testing.T) {
	refs := kerchunk.NewRefs(0)
	refs.SetText("c/.zarray", zarray("[2]", "[2]", "<c16", "null", "null", "null", ""))
	refs.SetText("v/.zarray", zarray("[2]", "[2]", "|V8", "null", "null", "null", ""))
	refs.SetText("r/.zarray", strings.Replace(zarray("[2]", "[2]", "X", "null", "null", "null", ""), `"X"`, `[["r","<f4"],["i","<f4"]]`, 1))
	s := NewStore(refs, nil)
	for _, name := range []string{"c", "v", "r"} {
		a, err := s.Open(name)
		require.NoError(t, err, name)
		_, err = a.Read(context.Background())
		assert.ErrorIs(t, err, ErrUnsupported, name)
	}
	refs.SetText("x/.zarray", zarray("[2]", "[2]", "<i3", "null", "null", "null", ""))
	_, err := s.Open("x")
	assert.ErrorIs(t, err, ErrUnsupported)
	refs.SetText("y/.zarray", zarray("[2]", "[2]", "<i2", `"x"`, "null", "null", ""))
	_, err = s.Open("y")
	assert.ErrorIs(t, err, ErrBadMetadata)
}

func TestBlobFetcher(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "data.bin")
	payload := le64(1, 2, 3, 4, 5, 6)
	require.NoError(t, os.WriteFile(path, append([]byte("HEADER.."), payload...), 0o644))

	mem := &blobio.MemBuckets{}
	b := mem.Create("c")
	require.NoError(t, b.WriteAll(ctx, "x/data.bin", payload, nil))
	require.NoError(t, b.Close())

	refs := kerchunk.NewRefs(0)
	refs.SetText("v/.zarray", zarray("[6]", "[2]", "<f8", "null", "null", "null", ""))
	refs.Set("v/0", kerchunk.Range(path, 8, 16))
	refs.Set("v/1", kerchunk.Range("file://"+path, 24, 16))
	refs.Set("v/2", kerchunk.Range("mem://c/x/data.bin", 32, 16))

	f := blobio.NewBlobFetcher(&blobio.Opener{Mem: mem}, 1) // evictions on every switch
	defer f.Close()
	var calls atomic.Int64
	counting := FetcherFunc(func(ctx context.Context, url string, off, n int64) ([]byte, error) {
		calls.Add(1)
		return f.Fetch(ctx, url, off, n)
	})
	s := NewStore(refs, counting)
	s.Parallel = 2
	a, err := s.Open("v")
	require.NoError(t, err)
	got, err := a.ReadFloat64s(ctx)
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 2, 3, 4, 5, 6}, got)
	assert.EqualValues(t, 3, calls.Load())

	whole, err := f.Fetch(ctx, "mem://c/x/data.bin", 0, -1)
	require.NoError(t, err)
	assert.Equal(t, payload, whole)
	_, err = f.Fetch(ctx, path, 50, 16)
	assert.ErrorIs(t, err, blobio.ErrInvalidArgument)
	_, err = f.Fetch(ctx, filepath.Join(dir, "missing"), 0, 1)
	assert.ErrorIs(t, err, blobio.ErrNotFound)

	refs.Set("v/1", kerchunk.Range(filepath.Join(dir, "missing"), 0, 16))
	_, err = a.ReadFloat64s(ctx)
	assert.ErrorIs(t, err, blobio.ErrNotFound)
	assert.Contains(t, err.Error(), "v/1")
}

// TestTranslatedFile reads arrays of a netCDF file through the references
// the kerchunk translator writes: byte ranges of the file, zlib+shuffle
// filters, fill values.
func TestTranslatedFile(t *testing.T) {
	ctx := context.Background()
	path, err := filepath.Abs(filepath.Join("..", "testdata", "series", "same_units", "tas_2000_01b.nc"))
	require.NoError(t, err)
	fh, err := os.Open(path)
	require.NoError(t, err)
	defer fh.Close()
	st, err := fh.Stat()
	require.NoError(t, err)
	res, err := kerchunk.Translate(context.Background(), fh, st.Size(), path, kerchunk.Options{InlineThreshold: -1})
	require.NoError(t, err)
	s := NewStore(res.Refs, nil)
	defer s.Close()

	lat, err := s.Open("lat")
	require.NoError(t, err)
	v, err := lat.ReadFloat64s(ctx)
	require.NoError(t, err)
	assert.Equal(t, []float64{-30, 0, 30}, v)

	tm, err := s.Open("time")
	require.NoError(t, err)
	assert.Equal(t, "days since 2000-01-01", tm.Attrs["units"])
	iv, err := tm.ReadInt64s(ctx)
	require.NoError(t, err)
	assert.Equal(t, []int64{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, iv)

	tas, err := s.Open("tas")
	require.NoError(t, err)
	require.NotNil(t, tas.Filters)
	d, err := tas.Read(ctx)
	require.NoError(t, err)
	require.Len(t, d.Float, 10*3*4)
	// gen_series.py: 270 + step + day0 + cell/10, one value masked with
	// the _FillValue -9999 in the middle step.
	assert.InDelta(t, 270.0+0+375+0.1, d.Float[1], 1e-4)
	assert.Equal(t, -9999.0, d.Float[5*12])
}
