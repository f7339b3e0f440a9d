package zarr

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/kerchunk/codecs"
)

func TestParseDType(t *testing.T) {
	for _, c := range []struct {
		in        string
		kind      byte
		size      int
		big       bool
		unit      string
		numpy     string
		v3        string
		canonical string // JSON written back ("": the input)
	}{
		{`"<f4"`, 'f', 4, false, "", "float32", `"float32"`, ""},
		{`">f8"`, 'f', 8, true, "", "float64", `"float64"`, ""},
		{`"<f2"`, 'f', 2, false, "", "float16", `"float16"`, ""},
		{`">i2"`, 'i', 2, true, "", "int16", `"int16"`, ""},
		{`"|u1"`, 'u', 1, false, "", "uint8", `"uint8"`, ""},
		{`"|b1"`, 'b', 1, false, "", "bool", `"bool"`, ""},
		{`"<c8"`, 'c', 8, false, "", "complex64", `"complex64"`, ""},
		{`"<c16"`, 'c', 16, false, "", "complex128", `"complex128"`, ""},
		{`"|S10"`, 'S', 10, false, "", "S10", `{"name":"null_terminated_bytes","configuration":{"length_bytes":10}}`, ""},
		{`"<U5"`, 'U', 20, false, "", "U5", `{"name":"fixed_length_utf32","configuration":{"length_bytes":20}}`, ""},
		{`"|V8"`, 'V', 8, false, "", "V8", `{"name":"raw_bytes","configuration":{"length_bytes":8}}`, ""},
		{`"<M8[ns]"`, 'M', 8, false, "ns", "datetime64[ns]", `{"name":"numpy.datetime64","configuration":{"scale_factor":1,"unit":"ns"}}`, ""},
		{`"<m8[10s]"`, 'm', 8, false, "10s", "timedelta64[10s]", `{"name":"numpy.timedelta64","configuration":{"scale_factor":10,"unit":"s"}}`, ""},
		{`[["r", "<f4"], ["i", "<f4"]]`, 'V', 8, false, "", "compound",
			`{"name":"structured","configuration":{"fields":[["r","float32"],["i","float32"]]}}`, `[["r","<f4"],["i","<f4"]]`},
	} {
		d, err := ParseDType(json.RawMessage(c.in))
		require.NoError(t, err, c.in)
		assert.Equal(t, c.kind, d.Kind, c.in)
		assert.Equal(t, c.size, d.Size, c.in)
		assert.Equal(t, c.big, d.BigEndian, c.in)
		assert.Equal(t, c.unit, d.TimeUnit(), c.in)
		assert.Equal(t, c.numpy, d.NumpyName(), c.in)
		want := c.canonical
		if want == "" {
			want = c.in
		}
		assert.Equal(t, want, string(d.JSON()), c.in)
		v3, err := d.DataTypeV3()
		require.NoError(t, err, c.in)
		assert.JSONEq(t, c.v3, string(v3), c.in)
		// The v3 name reads back as the same type (little-endian).
		back, err := ParseDataTypeV3(v3)
		require.NoError(t, err, c.in)
		assert.Equal(t, d.Kind, back.Kind, c.in)
		assert.Equal(t, d.Size, back.Size, c.in)
		assert.Equal(t, d.Unit, back.Unit, c.in)
	}
}

func TestParseDTypeStructuredLayout(t *testing.T) {
	d, err := ParseDType(json.RawMessage(`[["a","|u1"],["b",">i4",[2,3]],["c",[["x","<f8"]]]]`))
	require.NoError(t, err)
	require.Len(t, d.Fields, 3)
	assert.Equal(t, []int{0, 1, 25}, []int{d.Fields[0].Offset, d.Fields[1].Offset, d.Fields[2].Offset})
	assert.Equal(t, 33, d.Size)
	assert.Equal(t, []int{2, 3}, d.Fields[1].Shape)
	assert.True(t, d.Fields[1].DType.BigEndian)
	_, err = d.DataTypeV3()
	assert.ErrorIs(t, err, ErrUnsupported, "subarray fields have no v3 form")
}

func TestParseDTypeErrors(t *testing.T) {
	for _, in := range []string{`"<f3"`, `"<i16"`, `"|b2"`, `"x"`, `"<q8"`, `"<M8[xx]"`, `"<f4[ns]"`, `"<U-1"`, `"|O4"`,
		`"<c4"`, `"<S99999999999"`} {
		_, err := ParseDType(json.RawMessage(in))
		assert.ErrorIs(t, err, ErrUnsupported, in)
	}
	for _, in := range []string{`3`, `{}`, `[["a"]]`, `[["a","<f4"],["a","<f4"]]`, `[[1,"<f4"]]`, `[["a","<f4",[-1]]]`, `"`} {
		_, err := ParseDType(json.RawMessage(in))
		assert.ErrorIs(t, err, ErrInvalid, in)
	}
	_, err := ParseDType(json.RawMessage(`[["o","|O"]]`))
	assert.ErrorIs(t, err, ErrUnsupported)
}

func TestParseDataTypeV3CoreRawBits(t *testing.T) {
	d, err := ParseDataTypeV3(json.RawMessage(`"r16"`))
	require.NoError(t, err)
	assert.Equal(t, "|V2", d.Str)
	b, err := d.DecodeFill(json.RawMessage(`[1,2]`))
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 2}, b)
	for _, bad := range []string{`"r12"`, `"r"`, `"quaternion"`, `{"name":"raw_bytes"}`} {
		_, err := ParseDataTypeV3(json.RawMessage(bad))
		assert.Error(t, err, bad)
	}
}

func TestPutFloat64(t *testing.T) {
	d := mustDType(t, `">i2"`)
	b := make([]byte, 2)
	require.NoError(t, d.PutFloat64(b, -2))
	assert.Equal(t, []byte{0xff, 0xfe}, b)
	assert.ErrorIs(t, d.PutFloat64(b, 40000), ErrInvalid)
	assert.ErrorIs(t, d.PutFloat64(b, 1.5), ErrInvalid)
	f := mustDType(t, `"<f4"`)
	assert.ErrorIs(t, f.PutFloat64(make([]byte, 4), 0.1), ErrInvalid, "0.1 is not a float32")
	h := mustDType(t, `"<f2"`)
	require.NoError(t, h.PutFloat64(b, -2))
	assert.Equal(t, -2.0, h.Float64At(b))
	assert.Equal(t, "", f.TimeUnit())
}

func TestNumpyNameObject(t *testing.T) {
	d, err := ParseDTypeString("|O")
	require.NoError(t, err)
	assert.Equal(t, "object", d.NumpyName())
	d.Object = VLenUTF8
	assert.Equal(t, "str", d.NumpyName())
	d.Object = VLenArray
	assert.Equal(t, "object", d.NumpyName())
}

func mustDType(t *testing.T, s string) DType {
	t.Helper()
	d, err := ParseDType(json.RawMessage(s))
	require.NoError(t, err, s)
	return d
}

func TestFillRoundTrip(t *testing.T) {
	for _, c := range []struct {
		dtype string
		fill  string // v2 encoding, as written
		v3    string // v3 encoding ("": the same)
		check func(t *testing.T, d DType, b []byte)
	}{
		{`"<f4"`, `"NaN"`, "", func(t *testing.T, d DType, b []byte) { assert.True(t, math.IsNaN(d.Float64At(b))) }},
		{`"<f8"`, `"Infinity"`, "", func(t *testing.T, d DType, b []byte) { assert.True(t, math.IsInf(d.Float64At(b), 1)) }},
		{`">f8"`, `"-Infinity"`, "", func(t *testing.T, d DType, b []byte) { assert.True(t, math.IsInf(d.Float64At(b), -1)) }},
		{`"<f8"`, `-0.0`, "", func(t *testing.T, d DType, b []byte) { assert.True(t, math.Signbit(d.Float64At(b))) }},
		{`"<f4"`, `9.969209968386869e+36`, "", func(t *testing.T, d DType, b []byte) {
			assert.Equal(t, float32(9.96921e36), float32(d.Float64At(b)))
		}},
		{`"<f8"`, `1e+20`, "", func(t *testing.T, d DType, b []byte) { assert.Equal(t, 1e20, d.Float64At(b)) }},
		{`"<f2"`, `-999.5`, "", func(t *testing.T, d DType, b []byte) { assert.Equal(t, -999.5, d.Float64At(b)) }},
		{`"<i8"`, `-9223372036854775808`, "", func(t *testing.T, d DType, b []byte) { assert.Equal(t, int64(math.MinInt64), d.Int64At(b)) }},
		{`"<u8"`, `18446744073709551615`, "", func(t *testing.T, d DType, b []byte) { assert.Equal(t, uint64(math.MaxUint64), uint64(d.Int64At(b))) }},
		{`">i2"`, `-32767`, "", func(t *testing.T, d DType, b []byte) { assert.Equal(t, int64(-32767), d.Int64At(b)) }},
		{`"|b1"`, `true`, "", func(t *testing.T, d DType, b []byte) { assert.Equal(t, int64(1), d.Int64At(b)) }},
		{`"<c8"`, `["NaN",2.5]`, "", func(t *testing.T, d DType, b []byte) {
			part := DType{Kind: 'f', Size: 4}
			assert.True(t, math.IsNaN(part.Float64At(b[:4])))
			assert.Equal(t, 2.5, part.Float64At(b[4:]))
		}},
		{`"|S3"`, `"YWIA"`, "", func(t *testing.T, d DType, b []byte) { assert.Equal(t, "ab", d.StringAt(b)) }},
		{`"<U2"`, `"é"`, "", func(t *testing.T, d DType, b []byte) { assert.Equal(t, "é", d.StringAt(b)) }},
		{`"|V2"`, `"AQI="`, "", func(t *testing.T, d DType, b []byte) { assert.Equal(t, []byte{1, 2}, b) }},
		{`"<M8[ns]"`, `-9223372036854775808`, "", func(t *testing.T, d DType, b []byte) { assert.Equal(t, int64(math.MinInt64), d.Int64At(b)) }},
		{`[["r","<f4"],["i","<f4"]]`, `"AAAAAAAAgD8="`, "", func(t *testing.T, d DType, b []byte) { assert.Len(t, b, 8) }},
	} {
		d := mustDType(t, c.dtype)
		b, err := d.DecodeFill(json.RawMessage(c.fill))
		require.NoError(t, err, "%s %s", c.dtype, c.fill)
		require.Len(t, b, d.Size)
		c.check(t, d, b)
		enc, err := d.EncodeFill(b)
		require.NoError(t, err)
		assert.Equal(t, c.fill, string(enc), c.dtype)
		enc3, err := d.EncodeFillV3(b)
		require.NoError(t, err)
		want3 := c.v3
		if want3 == "" {
			want3 = c.fill
		}
		assert.Equal(t, want3, string(enc3), c.dtype)
		back, err := d.DecodeFill(enc3)
		require.NoError(t, err)
		assert.Equal(t, b, back, "v3 %s %s", c.dtype, enc3)
	}
}

func TestFillLenientForms(t *testing.T) {
	f4 := mustDType(t, `"<f4"`)
	for _, in := range []string{`NaN`, `"NaN"`, `"0x7fc00000"`} {
		b, err := f4.DecodeFill(json.RawMessage(in))
		require.NoError(t, err, in)
		assert.True(t, math.IsNaN(f4.Float64At(b)), in)
	}
	// A signalling NaN keeps its bits through v3's hex form.
	b, err := f4.DecodeFill(json.RawMessage(`"0x7f800001"`))
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 0, 0x80, 0x7f}, b)
	enc, err := f4.EncodeFillV3(b)
	require.NoError(t, err)
	assert.Equal(t, `"0x7f800001"`, string(enc))
	// zarr 2 writes a short bytes value unpadded.
	s3 := mustDType(t, `"|S3"`)
	b, err = s3.DecodeFill(json.RawMessage(`"YWI="`))
	require.NoError(t, err)
	assert.Equal(t, []byte("ab\x00"), b)
	// Integral floats for integer dtypes, as netCDF attributes give them.
	i2 := mustDType(t, `"<i2"`)
	b, err = i2.DecodeFill(json.RawMessage(`-999.0`))
	require.NoError(t, err)
	assert.Equal(t, int64(-999), i2.Int64At(b))
	// Object arrays: zarr 2 writes 0; a string is the text.
	o := mustDType(t, `"|O"`)
	b, err = o.DecodeFill(json.RawMessage(`0`))
	require.NoError(t, err)
	assert.Nil(t, b)
	b, err = o.DecodeFill(json.RawMessage(`"x"`))
	require.NoError(t, err)
	assert.Equal(t, "x", string(b))
	b, err = f4.DecodeFill(json.RawMessage(`null`))
	require.NoError(t, err)
	assert.Nil(t, b)
	v, ok := i2.FillFloat(json.RawMessage(`-999`))
	assert.True(t, ok)
	assert.Equal(t, -999.0, v)
}

func TestFillErrors(t *testing.T) {
	for _, c := range []struct{ dtype, fill string }{
		{`"|u1"`, `256`}, {`"|u1"`, `-1`}, {`"<i2"`, `40000`}, {`"<i4"`, `1.5`}, {`"<f4"`, `"nan"`},
		{`"<f4"`, `"0x7fc0"`}, {`"|b1"`, `2`}, {`"|S2"`, `"YWJj"`}, {`"|S2"`, `"!!"`}, {`"<U1"`, `"ab"`},
		{`"<c8"`, `[1]`}, {`"<f8"`, `{}`}, {`"<i8"`, `"NaT"`},
	} {
		_, err := mustDType(t, c.dtype).DecodeFill(json.RawMessage(c.fill))
		assert.ErrorIs(t, err, ErrInvalid, "%s %s", c.dtype, c.fill)
	}
}

func TestLenientJSON(t *testing.T) {
	in := `{"a": NaN, "b": [Infinity, -Infinity, 1], "s": "NaN Infinity \"NaN\"", "big": 12345678901234567890, "n": {"x": NaN}}`
	assert.Equal(t, `{"a": "NaN", "b": ["Infinity", "-Infinity", 1], "s": "NaN Infinity \"NaN\"", "big": 12345678901234567890, "n": {"x": "NaN"}}`,
		string(QuoteNonFinite([]byte(in))))
	m, err := ParseAttrs([]byte(in))
	require.NoError(t, err)
	assert.True(t, math.IsNaN(m["a"].(float64)))
	l := m["b"].([]any)
	assert.True(t, math.IsInf(l[0].(float64), 1))
	assert.True(t, math.IsInf(l[1].(float64), -1))
	assert.Equal(t, json.Number("1"), l[2])
	assert.Equal(t, "NaN Infinity \"NaN\"", m["s"], "strings are left alone")
	assert.Equal(t, json.Number("12345678901234567890"), m["big"], "integers stay exact")
	assert.True(t, math.IsNaN(m["n"].(map[string]any)["x"].(float64)))
	esc := `{"c": "NaN \" Infinity", "d": "\\", "e": NaN}`
	assert.Equal(t, `{"c": "NaN \" Infinity", "d": "\\", "e": "NaN"}`, string(QuoteNonFinite([]byte(esc))), "escaped quotes and backslashes")
	plain := []byte(`{"a":1}`)
	assert.Equal(t, &plain[0], &QuoteNonFinite(plain)[0], "text without the tokens is returned as is")
	for _, bad := range []string{`[1]`, `{"a":}`, `{} {}`, `null`} {
		_, err := ParseAttrs([]byte(bad))
		assert.ErrorIs(t, err, ErrInvalid, bad)
	}
	for _, c := range []struct {
		v    any
		want float64
	}{{json.Number("2.5"), 2.5}, {[]any{json.Number("3")}, 3}, {"-Infinity", math.Inf(-1)}, {4.0, 4}} {
		f, ok := AsFloat(c.v)
		assert.True(t, ok)
		assert.Equal(t, c.want, f)
	}
	_, ok := AsFloat("x")
	assert.False(t, ok)
	assert.Equal(t, `"NaN"`, string(AppendFillFloat(nil, math.NaN())))
	assert.Equal(t, `-1e+20`, string(AppendFillFloat(nil, -1e20)))
	for f, want := range map[float64]string{1: "1.0", 1e20: "1e+20", 0.1: "0.1", math.NaN(): "NaN", math.Inf(-1): "-Infinity", -2.5e-7: "-2.5e-07"} {
		assert.Equal(t, want, string(AppendFloat(nil, f)))
	}
}

func TestArrayV2RoundTrip(t *testing.T) {
	for _, text := range []string{
		`{"chunks":[10,20],"compressor":{"id":"zlib","level":4},"dtype":"<f4","fill_value":"NaN","filters":[{"elementsize":4,"id":"shuffle"}],"order":"C","shape":[100,200],"zarr_format":2}`,
		`{"chunks":[1],"compressor":null,"dimension_separator":"/","dtype":"|O","fill_value":null,"filters":[{"id":"vlen-utf8"}],"order":"C","shape":[3],"zarr_format":2}`,
		`{"chunks":[],"compressor":null,"dtype":[["r","<f8"],["i","<f8"]],"fill_value":"AAAAAAAAAAAAAAAAAAAAAA==","filters":null,"order":"F","shape":[],"zarr_format":2}`,
		`{"chunks":[5],"compressor":{"id":"zstd","level":3},"dtype":">u8","fill_value":18446744073709551615,"filters":null,"order":"C","shape":[7],"zarr_format":2}`,
	} {
		a, err := ParseArrayV2([]byte(text))
		require.NoError(t, err, text)
		out, err := a.MarshalJSON()
		require.NoError(t, err)
		assert.Equal(t, text, string(out))
	}
	a, err := ParseArrayV2([]byte(`{"chunks":[2,3],"compressor":null,"dtype":"|S2","fill_value":NaN,"filters":null,"order":"C","shape":[5,3],"zarr_format":2}`))
	require.ErrorIs(t, err, ErrInvalid, "a NaN fill for bytes")
	assert.Nil(t, a)
	a, err = ParseArrayV2([]byte(`{"chunks":[2,3],"compressor":null,"dtype":"|O","fill_value":"","filters":[{"id":"vlen-utf8"}],"order":"C","shape":[5,3],"zarr_format":2}`))
	require.NoError(t, err)
	assert.Equal(t, "str", a.DType.NumpyName())
	assert.Equal(t, []uint64{3, 1}, a.Grid())
	assert.Equal(t, "2.0", a.ChunkKey([]uint64{2, 0}))
	a.DimensionSeparator = "/"
	assert.Equal(t, "2/0", a.ChunkKey([]uint64{2, 0}))
	assert.Equal(t, "0", a.ChunkKey(nil))
}

func TestArrayV2Errors(t *testing.T) {
	base := map[string]any{"chunks": []int{2}, "compressor": nil, "dtype": "<f4", "fill_value": 0, "filters": nil, "order": "C", "shape": []int{4}, "zarr_format": 2}
	for _, c := range []struct {
		key  string
		val  any
		want error
	}{
		{"zarr_format", 3, ErrInvalid},
		{"zarr_format", nil, ErrInvalid},
		{"chunks", []int{0}, ErrInvalid},
		{"chunks", []int{1, 1}, ErrInvalid},
		{"order", "X", ErrInvalid},
		{"dimension_separator", "-", ErrInvalid},
		{"compressor", map[string]any{"level": 1}, ErrInvalid},
		{"filters", []any{nil}, ErrInvalid},
		{"dtype", "<f5", ErrUnsupported},
		{"fill_value", "x", ErrInvalid},
		{"shape", []int{-1}, ErrInvalid},
	} {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		m[c.key] = c.val
		b, _ := json.Marshal(m)
		_, err := ParseArrayV2(b)
		assert.True(t, errors.Is(err, c.want), "%s=%v: %v", c.key, c.val, err)
	}
}

func TestArrayV3FromV2(t *testing.T) {
	a, err := ParseArrayV2([]byte(`{"chunks":[10,20],"compressor":{"id":"zlib","level":4},"dtype":">f4","fill_value":"NaN","filters":[{"elementsize":4,"id":"shuffle"},{"id":"fletcher32"}],"order":"C","shape":[100,200],"zarr_format":2}`))
	require.NoError(t, err)
	v3, err := ArrayV3Of(a, []string{"lat", ""}, json.RawMessage(`{"units":"K"}`))
	require.NoError(t, err)
	b, err := v3.MarshalJSON()
	require.NoError(t, err)
	assert.JSONEq(t, `{"zarr_format":3,"node_type":"array","shape":[100,200],"data_type":"float32",
		"chunk_grid":{"name":"regular","configuration":{"chunk_shape":[10,20]}},
		"chunk_key_encoding":{"name":"v2"},"fill_value":"NaN",
		"codecs":[{"name":"bytes","configuration":{"endian":"big"}},{"name":"numcodecs.shuffle","configuration":{"elementsize":4}},
			{"name":"numcodecs.fletcher32"},{"name":"numcodecs.zlib","configuration":{"level":4}}],
		"attributes":{"units":"K"},"dimension_names":["lat",null]}`, string(b))
	back, err := ParseV3(b)
	require.NoError(t, err)
	got := back.(*ArrayV3)
	assert.True(t, got.DataType.BigEndian, "the bytes codec gives the byte order")
	assert.Equal(t, ">f4", got.DataType.Str)
	assert.Equal(t, []string{"lat", ""}, got.DimensionNames)
	assert.Equal(t, "3.4", got.ChunkKey([]uint64{3, 4}))
	again, err := json.Marshal(got)
	require.NoError(t, err)
	assert.JSONEq(t, string(b), string(again))

	// Strings, F order, gzip and zstd as core codecs; null fill becomes "".
	s, err := ParseArrayV2([]byte(`{"chunks":[2,2],"compressor":{"id":"zstd","level":3},"dtype":"|O","fill_value":null,"filters":[{"id":"vlen-utf8"},{"id":"gzip","level":5}],"order":"F","shape":[4,4],"zarr_format":2}`))
	require.NoError(t, err)
	v3, err = ArrayV3Of(s, nil, nil)
	require.NoError(t, err)
	b, err = json.Marshal(v3)
	require.NoError(t, err)
	assert.JSONEq(t, `{"zarr_format":3,"node_type":"array","shape":[4,4],"data_type":"string",
		"chunk_grid":{"name":"regular","configuration":{"chunk_shape":[2,2]}},
		"chunk_key_encoding":{"name":"v2"},"fill_value":"",
		"codecs":[{"name":"transpose","configuration":{"order":[1,0]}},{"name":"vlen-utf8"},{"name":"gzip","configuration":{"level":5}},
			{"name":"zstd","configuration":{"level":3,"checksum":false}}],"attributes":{}}`, string(b))

	_, err = ArrayV3Of(a, []string{"lat"}, nil)
	assert.ErrorIs(t, err, ErrInvalid, "one name for two dimensions")

	u, err := ParseArrayV2([]byte(`{"chunks":[2],"compressor":{"id":"imagecodecs_lzf"},"dtype":"<i2","fill_value":0,"filters":null,"order":"C","shape":[4],"zarr_format":2}`))
	require.NoError(t, err)
	_, err = ArrayV3Of(u, nil, nil)
	assert.ErrorIs(t, err, ErrUnsupported)
}

func TestGroupsAndV3Errors(t *testing.T) {
	b, err := json.Marshal(&GroupV3{Attributes: json.RawMessage(`{"title":"t"}`)})
	require.NoError(t, err)
	assert.Equal(t, `{"zarr_format":3,"node_type":"group","attributes":{"title":"t"}}`, string(b))
	g, err := ParseV3(b)
	require.NoError(t, err)
	assert.JSONEq(t, `{"title":"t"}`, string(g.(*GroupV3).Attributes))
	assert.JSONEq(t, GroupV2JSON, `{"zarr_format":2}`)
	for _, bad := range []string{
		`{"zarr_format":2,"node_type":"group"}`,
		`{"zarr_format":3,"node_type":"x"}`,
		`{"zarr_format":3,"node_type":"array","shape":[2],"data_type":"float32","chunk_grid":{"name":"regular","configuration":{"chunk_shape":[0]}},"chunk_key_encoding":{"name":"default"},"fill_value":0,"codecs":[{"name":"bytes"}]}`,
		`{"zarr_format":3,"node_type":"array","shape":[2],"data_type":"float32","chunk_grid":{"name":"regular","configuration":{"chunk_shape":[1]}},"chunk_key_encoding":{"name":"default"},"fill_value":"x","codecs":[{"name":"bytes"}]}`,
		`{"zarr_format":3,"node_type":"array","shape":[2],"data_type":"float32","chunk_grid":{"name":"regular","configuration":{"chunk_shape":[1]}},"chunk_key_encoding":{"name":"default"},"fill_value":0,"codecs":[{"name":"bytes"}],"dimension_names":["a","b"]}`,
	} {
		_, err := ParseV3([]byte(bad))
		assert.ErrorIs(t, err, ErrInvalid, bad)
	}
	_, err = ParseV3([]byte(`{"zarr_format":3,"node_type":"array","shape":[2],"data_type":"float32","chunk_grid":{"name":"rectilinear"},"chunk_key_encoding":{"name":"default"},"fill_value":0,"codecs":[]}`))
	assert.ErrorIs(t, err, ErrUnsupported)
	v := &ArrayV3{ChunkKeyEncoding: ChunkKeyEncoding{Name: "default"}}
	assert.Equal(t, "c/1/2", v.ChunkKey([]uint64{1, 2}))
	assert.Equal(t, "c", v.ChunkKey(nil))
	_ = codecs.Config{}
}

func TestEachMemberAndSplitArray(t *testing.T) {
	in := `{ "a" : NaN, "b":[1, {"c": "}"}], "d\"": -Infinity ,"e":{}}`
	var keys, vals []string
	require.NoError(t, EachMember([]byte(in), func(k, v []byte) error {
		keys, vals = append(keys, string(k)), append(vals, string(v))
		return nil
	}))
	assert.Equal(t, []string{`"a"`, `"b"`, `"d\""`, `"e"`}, keys)
	assert.Equal(t, []string{`NaN`, `[1, {"c": "}"}]`, `-Infinity`, `{}`}, vals, "values keep their text")
	stop := errors.New("stop")
	assert.Equal(t, stop, EachMember([]byte(in), func(k, v []byte) error { return stop }))
	for _, bad := range []string{`[]`, `{"a" 1}`, `{"a":`, `{"a":1`, `{1:2}`, `{"a":}`, `{"a":"x}`} {
		assert.ErrorIs(t, EachMember([]byte(bad), func(k, v []byte) error { return nil }), ErrInvalid, bad)
	}
	parts, err := SplitArray([]byte(` ["u", 10,NaN ,[2]] `))
	require.NoError(t, err)
	assert.Equal(t, []string{`"u"`, `10`, `NaN`, `[2]`}, []string{string(parts[0]), string(parts[1]), string(parts[2]), string(parts[3])})
	for _, bad := range []string{`{}`, `[1,`, `[,1]`, `["a]`} {
		_, err := SplitArray([]byte(bad))
		assert.ErrorIs(t, err, ErrInvalid, bad)
	}
}

func TestStructuredLayoutDictForm(t *testing.T) {
	f4 := mustDType(t, `"<f4"`)
	u1 := mustDType(t, `"|u1"`)
	i8 := mustDType(t, `">i8"`)
	inner, err := NewStructuredLayout([]Field{{Name: "x", DType: f4}, {Name: "flag", DType: u1, Offset: 4}}, 8)
	require.NoError(t, err)
	assert.False(t, inner.Packed(), "3 bytes of padding after flag")
	for _, c := range []struct {
		name   string
		fields []Field
		size   int
		want   string
		packed bool
	}{
		{"packed top, packed nested member in dict form",
			[]Field{{Name: "id", DType: u1}, {Name: "w", DType: mustDType(t, `[["a","<f4"],["b","<f4"]]`), Offset: 1}}, 9,
			`[["id","|u1"],["w",{"names":["a","b"],"formats":["<f4","<f4"],"offsets":[0,4],"itemsize":8}]]`, true},
		{"padding between members",
			[]Field{{Name: "a", DType: u1}, {Name: "b", DType: i8, Offset: 8}}, 16,
			`{"names":["a","b"],"formats":["|u1",">i8"],"offsets":[0,8],"itemsize":16}`, false},
		{"members out of offset order, subarray, padded nested",
			[]Field{{Name: "b", DType: f4, Shape: []int{2, 3}, Offset: 16}, {Name: "a", DType: f4, Shape: []int{2}, Offset: 0}, {Name: "n", DType: inner, Offset: 40}}, 48,
			`{"names":["b","a","n"],"formats":["(2,3)<f4","(2,)<f4",{"names":["x","flag"],"formats":["<f4","|u1"],"offsets":[0,4],"itemsize":8}],"offsets":[16,0,40],"itemsize":48}`, false},
		{"packed top with a padded member subarray",
			[]Field{{Name: "n", DType: inner, Shape: []int{3}}}, 24,
			`[["n",{"names":["x","flag"],"formats":["<f4","|u1"],"offsets":[0,4],"itemsize":8},[3]]]`, true},
	} {
		d, err := NewStructuredLayout(c.fields, c.size)
		require.NoError(t, err, c.name)
		assert.Equal(t, c.want, string(d.JSON()), c.name)
		assert.Equal(t, c.want, d.Str, c.name)
		assert.Equal(t, c.packed, d.Packed(), c.name)
		back, err := ParseDType(d.JSON())
		require.NoError(t, err, c.name)
		assert.Equal(t, d, back, c.name)
		_, err = d.DataTypeV3()
		if !c.packed {
			assert.ErrorIs(t, err, ErrUnsupported, "%s: Zarr v3 has no member offsets", c.name)
		}
	}
	// NumPy's dict form without offsets or itemsize, and with only itemsize.
	d, err := ParseDType(json.RawMessage(`{"names":["a","b"],"formats":["<i2","(2,)|u1"]}`))
	require.NoError(t, err)
	assert.True(t, d.Packed())
	assert.Equal(t, `[["a","<i2"],["b","|u1",[2]]]`, d.Str)
	d, err = ParseDType(json.RawMessage(`{"names":["a"],"formats":["<i2"],"itemsize":4}`))
	require.NoError(t, err)
	assert.Equal(t, 4, d.Size)
	assert.False(t, d.Packed())
}

func TestStructuredLayoutErrors(t *testing.T) {
	f4 := mustDType(t, `"<f4"`)
	inner := mustDType(t, `[["x","<f4"]]`)
	for _, c := range []struct {
		name   string
		fields []Field
		size   int
		err    error
	}{
		{"overlap", []Field{{Name: "a", DType: f4}, {Name: "b", DType: f4, Offset: 2}}, 8, ErrUnsupported},
		{"past the end", []Field{{Name: "a", DType: f4, Offset: 6}}, 8, ErrInvalid},
		{"negative offset", []Field{{Name: "a", DType: f4, Offset: -1}}, 8, ErrInvalid},
		{"duplicate", []Field{{Name: "a", DType: f4}, {Name: "a", DType: f4, Offset: 4}}, 8, ErrInvalid},
		{"structured subarray in padding", []Field{{Name: "n", DType: inner, Shape: []int{2}}}, 12, ErrUnsupported},
		{"huge", []Field{{Name: "a", DType: f4}}, 1 << 31, ErrUnsupported},
	} {
		_, err := NewStructuredLayout(c.fields, c.size)
		assert.ErrorIs(t, err, c.err, c.name)
	}
	for _, in := range []string{`{"names":["a"],"formats":["<f4"],"titles":["t"]}`, `{"names":["a"],"formats":["<f4"],"offsets":[0],"itemsize":2}`} {
		_, err := ParseDType(json.RawMessage(in))
		assert.Error(t, err, in)
	}
	for _, in := range []string{`{"names":["a"],"formats":["<f4","<f4"]}`, `{"names":"a","formats":["<f4"]}`, `{"names":["a"],"formats":["(2<f4"]}`,
		`{"names":["a"],"formats":["(x,)<f4"]}`, `{"names":["a"],"formats":["<f4"],"offsets":[0,1]}`, `{"names":["a"],"formats":["<f4"],"itemsize":"4"}`} {
		_, err := ParseDType(json.RawMessage(in))
		assert.ErrorIs(t, err, ErrInvalid, in)
	}
}
