package parquet_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/parquet"
	"github.com/greensight/vzarr/kerchunk"
)

// sampleSet is a reference set over two arrays: "v" of 7 chunks (byte
// ranges, a whole file, inline bytes, one chunk without reference) and
// "g/w" of a 2x3 chunk grid.
func sampleSet() *kerchunk.Refs {
	s := kerchunk.NewRefs(0)
	s.SetText(".zgroup", `{"zarr_format":2}`)
	s.SetText("v/.zarray", `{"chunks":[1],"compressor":null,"dtype":"<f8","fill_value":"NaN","filters":null,"order":"C","shape":[7],"zarr_format":2}`)
	s.SetText("v/.zattrs", `{"_ARRAY_DIMENSIONS":["t"]}`)
	s.SetText("g/.zgroup", `{"zarr_format":2}`)
	s.SetText("g/w/.zarray", `{"chunks":[2,2],"compressor":null,"dtype":"<i2","fill_value":null,"filters":null,"order":"C","shape":[4,6],"zarr_format":2}`)
	for i := range 7 {
		k := "v/" + strconv.Itoa(i)
		switch i {
		case 2:
			s.Set(k, kerchunk.Whole("s3://bucket/whole.bin"))
		case 4:
			s.Set(k, kerchunk.Inline([]byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f}))
		case 5: // no reference
		default:
			s.Set(k, kerchunk.Range("s3://bucket/a.nc", int64(1000+8*i), 8))
		}
	}
	for i := range 2 {
		for j := range 3 {
			s.Set(fmt.Sprintf("g/w/%d.%d", i, j), kerchunk.Range("/data/b-"+strconv.Itoa(j)+".h5", int64(i*100+j), 8))
		}
	}
	// Consolidated, as every set vzarr builds (and every set read) is.
	if err := s.Consolidate(); err != nil {
		panic(err)
	}
	return s
}

// wantRow is the refs file row of a reference in fsspec's layout.
func wantRow(r kerchunk.Ref, ok bool) parquet.Row {
	switch {
	case !ok:
		return parquet.Row{}
	case r.IsInline():
		return parquet.Row{Raw: r.Data}
	case r.Length < 0:
		return parquet.Row{Path: []byte(r.URL)}
	}
	return parquet.Row{Path: []byte(r.URL), Offset: r.Offset, Size: r.Length}
}

// recordRows is the rows of refs.<rec>.parq of an array whose chunk keys
// in C order are keys, in a set of record size rs, and whether any chunk
// of the record has a reference.
func recordRows(src *kerchunk.Refs, keys []string, rec, rs int) ([]parquet.Row, bool) {
	rows := make([]parquet.Row, rs)
	any := false
	for r := range rs {
		if c := rec*rs + r; c < len(keys) {
			ref, ok := src.Get(keys[c])
			rows[r] = wantRow(ref, ok)
			any = any || ok
		}
	}
	return rows, any
}

// assertSameRefs checks that got holds the keys of want with the same
// references (metadata as equal JSON).
func assertSameRefs(t *testing.T, want, got *kerchunk.Refs) {
	t.Helper()
	assert.ElementsMatch(t, want.Keys(), got.Keys())
	for _, k := range want.Keys() {
		w, _ := want.Get(k)
		g, ok := got.Get(k)
		require.True(t, ok, k)
		if kerchunk.IsMetadataKey(k) {
			assert.JSONEq(t, string(w.Data), string(g.Data), k)
		} else {
			assert.Equal(t, w, g, k)
		}
	}
}

// setArrays lists the set's arrays: name -> chunk keys in C order.
var setArrays = map[string][]string{
	"v":   {"v/0", "v/1", "v/2", "v/3", "v/4", "v/5", "v/6"},
	"g/w": {"g/w/0.0", "g/w/0.1", "g/w/0.2", "g/w/1.0", "g/w/1.1", "g/w/1.2"},
}

// TestArrowReadsParquetSet writes a set with kerchunk.WriteParquetSet and
// reads every refs file with arrow-go: each holds record_size rows, row r
// of refs.<i>.parq being chunk i*record_size+r.
func TestArrowReadsParquetSet(t *testing.T) {
	src := sampleSet()
	for _, rs := range []int{0, 1, 2, 3, 100} {
		t.Run(strconv.Itoa(rs), func(t *testing.T) {
			files := map[string][]byte{}
			require.NoError(t, kerchunk.WriteParquetSet(src, func(name string, b []byte) error {
				files[name] = append([]byte(nil), b...)
				return nil
			}, &kerchunk.ParquetOptions{RecordSize: rs}))
			size := rs
			if size == 0 {
				size = 7 // the largest chunk count of an array
			}
			assert.Contains(t, string(files[".zmetadata"]), `"record_size":`+strconv.Itoa(size))
			n := 1
			for name, keys := range setArrays {
				for rec := 0; rec*size < len(keys); rec++ {
					fn := name + "/refs." + strconv.Itoa(rec) + ".parq"
					want, any := recordRows(src, keys, rec, size)
					b, ok := files[fn]
					if !any { // a record without references has no file
						assert.False(t, ok, fn)
						continue
					}
					require.True(t, ok, fn)
					n++
					assertRows(t, want, readArrow(t, b))
				}
			}
			assert.Len(t, files, n, "no other files")
		})
	}
}

// TestReadParquetSetFromArrow reads sets whose refs files arrow-go wrote,
// in each layout, with kerchunk.ReadParquetSet: the same references.
func TestReadParquetSetFromArrow(t *testing.T) {
	src := sampleSet()
	const rs = 4
	var meta []string
	for _, k := range src.Keys() {
		if kerchunk.IsMetadataKey(k) {
			text, _ := src.Text(k)
			meta = append(meta, strconv.Quote(k)+":"+text)
		}
	}
	zmeta := `{"metadata":{` + strings.Join(meta, ",") + `},"record_size":` + strconv.Itoa(rs) + `}`
	for _, l := range []arrowLayout{
		{codec: compress.Codecs.Zstd, nullableInts: true, dict: true},   // pyarrow, as fsspec asks
		{codec: compress.Codecs.Zstd},                                   // fastparquet, as fsspec asks
		{codec: compress.Codecs.Snappy, nullableInts: true, dict: true}, // pandas' default codec
		{codec: compress.Codecs.Uncompressed, v2: true},
	} {
		t.Run(l.String(), func(t *testing.T) {
			files := map[string][]byte{".zmetadata": []byte(zmeta)}
			for name, keys := range setArrays {
				for rec := 0; rec*rs < len(keys); rec++ {
					rows, _ := recordRows(src, keys, rec, rs)
					files[name+"/refs."+strconv.Itoa(rec)+".parq"] = writeArrow(t, rows, l)
				}
			}
			got, err := kerchunk.ReadParquetSet(func(name string) ([]byte, error) {
				b, ok := files[name]
				if !ok {
					return nil, os.ErrNotExist
				}
				return b, nil
			})
			require.NoError(t, err)
			assertSameRefs(t, src, got)
		})
	}
}
