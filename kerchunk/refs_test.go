package kerchunk

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/zarr"
)

func sampleRefs() *Refs {
	r := NewRefs(0)
	r.SetText(".zgroup", `{"zarr_format":2}`)
	r.SetText("v/.zattrs", `{"_ARRAY_DIMENSIONS":["x"],"name":"caf\u00e9"}`)
	r.Set("v/0", Range("/data/some long path/file.nc", 100, 200))
	r.Set("v/1", Range("/data/some long path/file.nc", 300, 200))
	r.Set("v/2", Inline([]byte{0, 1, 2, 0xff}))
	r.Set("w/0", Whole("s3://bucket/other.bin"))
	r.Set("w/1", Inline([]byte("base64:not really")))
	return r
}

func TestWriteJSONDeterministicAndReadable(t *testing.T) {
	r := sampleRefs()
	var a, b bytes.Buffer
	require.NoError(t, WriteJSON(&a, r, nil))
	require.NoError(t, WriteJSON(&b, r, nil))
	assert.Equal(t, a.String(), b.String())
	// Valid JSON with a template for the URL used twice.
	var doc struct {
		Version   int                        `json:"version"`
		Templates map[string]string          `json:"templates"`
		Refs      map[string]json.RawMessage `json:"refs"`
	}
	require.NoError(t, json.Unmarshal(a.Bytes(), &doc))
	assert.Equal(t, 1, doc.Version)
	assert.Equal(t, map[string]string{"u": "/data/some long path/file.nc"}, doc.Templates)
	assert.JSONEq(t, `["{{u}}",100,200]`, string(doc.Refs["v/0"]))
	assert.JSONEq(t, `["s3://bucket/other.bin"]`, string(doc.Refs["w/0"]))
	assert.Equal(t, `"base64:AAEC/w=="`, string(doc.Refs["v/2"]))
	// Text that starts with base64: must itself be base64-encoded.
	assert.True(t, strings.HasPrefix(string(doc.Refs["w/1"]), `"base64:`))

	back, err := ReadJSON(bytes.NewReader(a.Bytes()))
	require.NoError(t, err)
	assert.Equal(t, r.Keys(), back.Keys())
	for _, k := range r.Keys() {
		want, _ := r.Get(k)
		got, _ := back.Get(k)
		assert.Equal(t, want, got, k)
	}
}

func TestWriteJSONNoTemplates(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, sampleRefs(), &WriteOptions{NoTemplates: true}))
	assert.NotContains(t, buf.String(), "templates")
	assert.Contains(t, buf.String(), `["/data/some long path/file.nc",100,200]`)
}

func TestReadJSONVersion0AndPythonKerchunk(t *testing.T) {
	v0 := `{".zgroup": "{\"zarr_format\": 2}", "a/0": ["file.nc", 8, 16], "a/1": "base64:AAAA", "a/.zarray": {"shape": [2]}}`
	r, err := ReadJSON(strings.NewReader(v0))
	require.NoError(t, err)
	assert.Equal(t, []string{".zgroup", "a/0", "a/1", "a/.zarray"}, r.Keys())
	ref, _ := r.Get("a/0")
	assert.Equal(t, Range("file.nc", 8, 16), ref)
	ref, _ = r.Get("a/1")
	assert.Equal(t, []byte{0, 0, 0}, ref.Data)
	txt, _ := r.Text("a/.zarray")
	assert.JSONEq(t, `{"shape":[2]}`, txt)

	// Python kerchunk style: templates, and a gen entry.
	v1 := `{"version": 1, "templates": {"a": "s3://b/f.nc"},
	  "refs": {"x/0": ["{{a}}", 0, 10]},
	  "gen": [{"key": "y/{{i}}", "url": "{{a}}", "offset": "{{ 1000 + i * 10 }}", "length": "10",
	           "dimensions": {"i": {"start": 0, "stop": 3, "step": 1}}}]}`
	r, err = ReadJSON(strings.NewReader(v1))
	require.NoError(t, err)
	ref, _ = r.Get("x/0")
	assert.Equal(t, Range("s3://b/f.nc", 0, 10), ref)
	ref, ok := r.Get("y/2")
	require.True(t, ok)
	assert.Equal(t, Range("s3://b/f.nc", 1020, 10), ref)
}

func TestReadJSONErrors(t *testing.T) {
	for _, bad := range []string{
		``, `[]`, `{"version": 2, "refs": {}}`, `{"version": 1, "refs": {"a": [1, 2]}}`,
		`{"version": 1, "refs": {"a": ["u", -1, 2]}}`, `{"version": 1, "refs": {"a": "base64:***"}}`,
		`{"version": 1, "refs": {"a": ["{{nope}}", 0, 1]}}`,
	} {
		_, err := ReadJSON(strings.NewReader(bad))
		assert.Error(t, err, bad)
	}
}

func TestAppendJSONStringAndASCII(t *testing.T) {
	s := "a\"b\\c\n\x01é\u2028😀\xff"
	b := appendJSONString(nil, s)
	var back string
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, strings.ToValidUTF8(s, "\ufffd"), back)
	a := zarr.EscapeNonASCII(`{"k":"é😀"}`)
	assert.Equal(t, `{"k":"\u00e9\ud83d\ude00"}`, a)
	var m map[string]string
	require.NoError(t, json.Unmarshal([]byte(a), &m))
	assert.Equal(t, "é😀", m["k"])
}

func TestAppendValueNumbers(t *testing.T) {
	assert.Equal(t, "0.10000000149011612", string(appendValue(nil, float32(0.1))))
	assert.Equal(t, "1.0", string(appendValue(nil, 1.0)))
	assert.Equal(t, "1e+20", string(appendValue(nil, 1e20)))
	assert.Equal(t, "NaN", string(appendValue(nil, nanF64())))
	assert.Equal(t, "18446744073709551615", string(appendValue(nil, uint64(18446744073709551615))))
	assert.Equal(t, `[1,-2]`, string(appendValue(nil, []int8{1, -2})))
	assert.Equal(t, `""`, string(appendValue(nil, "")))
}

func TestRefsSetGetDelete(t *testing.T) {
	r := NewRefs(0)
	r.Set("a", Inline([]byte("1")))
	r.Set("b", Inline([]byte("2")))
	r.Set("a", Inline([]byte("3")))
	assert.Equal(t, []string{"a", "b"}, r.Keys())
	v, _ := r.Get("a")
	assert.Equal(t, "3", string(v.Data))
	r.Delete("a")
	assert.Equal(t, []string{"b"}, r.Keys())
	_, ok := r.Get("a")
	assert.False(t, ok)
	v, _ = r.Get("b")
	assert.Equal(t, "2", string(v.Data))
	assert.True(t, IsMetadataKey("g/v/.zarray"))
	assert.False(t, IsMetadataKey("g/v/0.0"))
}

func nanF64() float64 { var z float64; return z / z }

// TestRefsCompactStorage fills a Refs past several entry blocks and arena
// pages (keys formatted in place, inline data, ranges, a replaced value, a
// long key and inline value larger than a page) and checks every key and
// reference read back, then truncate and Delete.
func TestRefsCompactStorage(t *testing.T) {
	const n = 3*refBlock + 17
	s := NewRefs(0)
	s.SetText(".zgroup", `{"zarr_format":2}`)
	em := newChunkEmitter(s, "g/v", []uint64{(n + 6) / 7, 7})
	want := map[string]Ref{".zgroup": Inline([]byte(`{"zarr_format":2}`))}
	var order []string
	order = append(order, ".zgroup")
	for lin := range uint64(n) {
		var r Ref
		switch lin % 3 {
		case 0:
			r = Inline([]byte{byte(lin), byte(lin >> 8)})
		case 1:
			r = Range("/data/a.nc", int64(lin)*10, 10)
		default:
			r = Range("/data/b.nc", int64(lin), 1)
		}
		em.emit(lin, r)
		k := string(chunkKey(nil, "g/v/", unravel(lin, em.grid)))
		want[k] = r
		order = append(order, k)
	}
	big := bytes.Repeat([]byte("x"), 3*arenaPage)
	longKey := strings.Repeat("k", arenaPage+5)
	s.Set(longKey, Inline(big))
	want[longKey] = Inline(big)
	order = append(order, longKey)
	s.Set("g/v/0.1", Whole("/data/c.nc")) // replaced in place
	want["g/v/0.1"] = Whole("/data/c.nc")

	require.Equal(t, len(order), s.Len())
	assert.True(t, slices.Equal(order, s.Keys()), "keys in order")
	i := 0
	s.All(func(k string, r Ref) bool {
		require.Equal(t, order[i], k)
		w := want[k]
		if w.IsInline() {
			assert.True(t, r.IsInline(), k)
			assert.Equal(t, w.Data, r.Data, k)
		} else {
			assert.Equal(t, w, r, k)
		}
		i++
		return true
	})
	assert.Equal(t, []string{"/data/a.nc", "/data/b.nc", "/data/c.nc"}, sortedCopy(s.URLs()))
	assert.Equal(t, em.inlineBytes, int64(2*((n+2)/3)))

	// truncate back to a mark, then add again.
	m := s.mark()
	s.add("extra/0", Inline([]byte("abc")))
	s.add("extra/1", Range("/data/d.nc", 1, 2))
	s.truncate(m)
	assert.Equal(t, len(order), s.Len())
	_, ok := s.Get("extra/0")
	assert.False(t, ok)
	s.add("after/0", Inline([]byte("def")))
	got, ok := s.Get("after/0")
	require.True(t, ok)
	assert.Equal(t, []byte("def"), got.Data)
	assert.NotContains(t, s.URLs(), "/data/d.nc")

	// Delete keeps the order of the others.
	s.Delete("g/v/0.0")
	_, ok = s.Get("g/v/0.0")
	assert.False(t, ok)
	assert.Equal(t, len(order), s.Len())
	wantKeys := append([]string{order[0]}, order[2:]...)
	assert.True(t, slices.Equal(append(wantKeys, "after/0"), s.Keys()), "keys after Delete")
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}

// TestRefsIndexGrowsWithSet interleaves Set and Get so that the index
// serves keys from its sorted part, from its map of later keys, and after
// rebuilds; replaced keys keep their position.
func TestRefsIndexGrowsWithSet(t *testing.T) {
	s := NewRefs(0)
	const n = 3 * mapIndexMax // past the map-only index: sorted, map, rebuilds
	for i := range n {
		k := "v/" + strconv.Itoa(i)
		s.Set(k, Range("/a", int64(i), 1))
		got, ok := s.Get(k)
		require.True(t, ok, k)
		require.Equal(t, int64(i), got.Offset, k)
		if i%7 == 0 && i > 0 {
			prev := "v/" + strconv.Itoa(i/2)
			s.Set(prev, Range("/b", int64(i), 2)) // replace an older key
			got, ok := s.Get(prev)
			require.True(t, ok, prev)
			require.Equal(t, "/b", got.URL, prev)
		}
	}
	assert.Equal(t, n, s.Len())
	_, ok := s.Get("v/" + strconv.Itoa(n))
	assert.False(t, ok)
	assert.Equal(t, "v/0", s.Keys()[0])
	assert.Equal(t, "v/"+strconv.Itoa(n-1), s.Keys()[n-1])
	assert.NotEmpty(t, s.index.sorted, "the sorted index was used")
}

// TestReadJSONDuplicateKeys: a key given twice keeps its first position
// and its last value, as a JSON object read into a map would (version 1
// and version 0).
func TestReadJSONDuplicateKeys(t *testing.T) {
	for _, doc := range []string{
		`{"version":1,"refs":{"a":"x","b":"y","a":"z"}}`,
		`{"a":"x","b":"y","a":"z"}`,
	} {
		r, err := ReadJSON(strings.NewReader(doc))
		require.NoError(t, err, doc)
		assert.Equal(t, []string{"a", "b"}, r.Keys(), doc)
		text, ok := r.Text("a")
		require.True(t, ok, doc)
		assert.Equal(t, "z", text, doc)
	}
}

// TestRefsAppendDedupe: a set built with Append, AppendKey and Dedupe is
// the set Set would have built (a repeated key keeps its first position
// and its last reference), for small sets (map index) and sets past the
// sorted index threshold; At reads entries by position.
func TestRefsAppendDedupe(t *testing.T) {
	for _, n := range []int{3, mapIndexMax + 10} {
		viaSet, viaAppend := NewRefs(0), NewRefs(n)
		for i := range n {
			k := "v/" + strconv.Itoa(i)
			r := Range("u", int64(i), 1)
			viaSet.Set(k, r)
			if i%2 == 0 {
				viaAppend.Append(k, r)
			} else {
				viaAppend.AppendKey(func(b []byte) []byte { return strconv.AppendInt(append(b, "v/"...), int64(i), 10) }, r)
			}
		}
		for _, k := range []string{"v/1", "v/0"} { // repeated: last reference wins
			viaSet.Set(k, Inline([]byte(k)))
			viaAppend.Append(k, Inline([]byte(k)))
		}
		assert.Equal(t, n+2, viaAppend.Len(), "held twice until Dedupe")
		viaAppend.Dedupe()
		require.Equal(t, viaSet.Len(), viaAppend.Len(), "n=%d", n)
		for i := range viaSet.Len() {
			k0, r0 := viaSet.At(i)
			k, r := viaAppend.At(i)
			assert.Equal(t, k0, k, "n=%d i=%d", n, i)
			assert.Equal(t, r0, r, "n=%d i=%d", n, i)
		}
		text, ok := viaAppend.Text("v/0")
		require.True(t, ok)
		assert.Equal(t, "v/0", text)
		k, r := viaAppend.At(2)
		assert.Equal(t, "v/2", k)
		assert.Equal(t, Range("u", 2, 1), r)
		viaAppend.DropIndex()
		assert.Nil(t, viaAppend.index, "n=%d", n)
		got, ok := viaAppend.Get("v/2") // rebuilt on use
		require.True(t, ok)
		assert.Equal(t, Range("u", 2, 1), got)
	}
}
