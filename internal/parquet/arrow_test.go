package parquet_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/parquet"
)

// The codec is checked against arrow-go's Parquet implementation, an
// independent reader and writer: every file Encode writes reads back in
// arrow-go with the same values, and files arrow-go writes in the layouts
// that pandas (pyarrow or fastparquet) gives fsspec's LazyReferenceMapper
// read back with Decode. Those layouts: the four columns path (UTF-8
// string, nullable), offset and size (int64, required from fastparquet,
// nullable from pyarrow), raw (binary, nullable); PLAIN or dictionary
// encoding (pyarrow's default, with PLAIN fallback when the dictionary
// grows); data pages v1 (the default) or v2; zstd (fsspec's choice),
// snappy (pandas' default), gzip or no compression; several pages and row
// groups for large record sizes.

// sampleRows is a refs file's rows: byte ranges, whole-file references,
// inline data (binary, empty, long), absent chunks, a repeated path (for
// dictionaries) and unique ones (for the dictionary fallback).
func sampleRows(n int) []parquet.Row {
	rows := make([]parquet.Row, n)
	for i := range rows {
		switch i % 7 {
		case 0, 1, 2:
			rows[i] = parquet.Row{Path: []byte("s3://bucket/data/file.nc"), Offset: int64(i) * 4096, Size: 4096 + int64(i)}
		case 3:
			rows[i] = parquet.Row{Path: []byte("/local/path-" + strconv.Itoa(i) + ".h5")} // whole file
		case 4:
			rows[i] = parquet.Row{Raw: []byte{0, 1, 2, 0xff, byte(i)}}
		case 5:
			if i%2 == 1 {
				rows[i] = parquet.Row{Raw: []byte{}}
			} else {
				rows[i] = parquet.Row{Raw: bytes.Repeat([]byte("x"), 300+i)}
			}
		case 6: // absent chunk
		}
	}
	return rows
}

// readArrow reads a refs file with arrow-go: its rows, checking the schema
// on the way.
func readArrow(t *testing.T, b []byte) []parquet.Row {
	t.Helper()
	rdr, err := file.NewParquetReader(bytes.NewReader(b))
	require.NoError(t, err)
	defer rdr.Close()
	sc := rdr.MetaData().Schema
	require.Equal(t, 4, sc.NumColumns())
	want := map[string]pq.Type{"path": pq.Types.ByteArray, "offset": pq.Types.Int64, "size": pq.Types.Int64, "raw": pq.Types.ByteArray}
	for i := range 4 {
		c := sc.Column(i)
		assert.Equal(t, want[c.Name()], c.PhysicalType(), c.Name())
	}
	assert.True(t, sc.Column(sc.ColumnIndexByName("path")).LogicalType().Equals(schema.StringLogicalType{}), "path is a UTF-8 string")
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	require.NoError(t, err)
	tbl, err := fr.ReadTable(context.Background())
	require.NoError(t, err)
	defer tbl.Release()
	rows := make([]parquet.Row, tbl.NumRows())
	for ci := range int(tbl.NumCols()) {
		col := tbl.Column(ci)
		r := 0
		for _, ch := range col.Data().Chunks() {
			for i := range ch.Len() {
				switch a := ch.(type) {
				case *array.String:
					if a.IsValid(i) {
						rows[r].Path = []byte(a.Value(i))
					}
				case *array.Binary:
					if a.IsValid(i) {
						rows[r].Raw = append([]byte{}, a.Value(i)...)
					}
				case *array.Int64:
					require.True(t, a.IsValid(i), "%s row %d is null", col.Name(), r)
					if col.Name() == "offset" {
						rows[r].Offset = a.Value(i)
					} else {
						rows[r].Size = a.Value(i)
					}
				default:
					t.Fatalf("column %s: arrow type %s", col.Name(), ch.DataType())
				}
				r++
			}
		}
		require.Equal(t, len(rows), r, col.Name())
	}
	return rows
}

// decodeRows reads a refs file with Decode.
func decodeRows(t *testing.T, b []byte, maxRows int) []parquet.Row {
	t.Helper()
	cols, n, err := parquet.Decode(b, maxRows)
	require.NoError(t, err)
	rows := make([]parquet.Row, n)
	for r := range rows {
		rows[r] = parquet.Row{Path: cols["path"].BytesAt(r), Offset: cols["offset"].Int(r), Size: cols["size"].Int(r), Raw: cols["raw"].BytesAt(r)}
	}
	return rows
}

func TestArrowReadsEncode(t *testing.T) {
	for _, n := range []int{0, 1, 7, 100, 10000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			rows := sampleRows(n)
			b, err := parquet.Encode(rows)
			require.NoError(t, err)
			got := readArrow(t, b)
			assertRows(t, rows, got)
			assertRows(t, rows, decodeRows(t, b, max(n, 1)))
		})
	}
}

// arrowLayout is one way of writing a refs file with arrow-go.
type arrowLayout struct {
	codec          compress.Compression
	dict           bool
	v2             bool
	nullableInts   bool  // pyarrow's int64 columns; fastparquet's are required
	pageSize       int64 // 0: the default (1 MiB)
	rowGroupLength int64 // 0: the default
}

func (l arrowLayout) String() string {
	s := fmt.Sprintf("%s/dict=%t/v2=%t/nullable=%t", l.codec, l.dict, l.v2, l.nullableInts)
	if l.pageSize > 0 {
		s += fmt.Sprintf("/page=%d", l.pageSize)
	}
	if l.rowGroupLength > 0 {
		s += fmt.Sprintf("/rowgroup=%d", l.rowGroupLength)
	}
	return s
}

// writeArrow writes rows as a refs file with arrow-go.
func writeArrow(t *testing.T, rows []parquet.Row, l arrowLayout) []byte {
	t.Helper()
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "path", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "offset", Type: arrow.PrimitiveTypes.Int64, Nullable: l.nullableInts},
		{Name: "size", Type: arrow.PrimitiveTypes.Int64, Nullable: l.nullableInts},
		{Name: "raw", Type: arrow.BinaryTypes.Binary, Nullable: true},
	}, nil)
	props := []pq.WriterProperty{pq.WithCompression(l.codec), pq.WithDictionaryDefault(l.dict), pq.WithStats(true)}
	if l.v2 {
		props = append(props, pq.WithDataPageVersion(pq.DataPageV2))
	}
	if l.pageSize > 0 {
		props = append(props, pq.WithDataPageSize(l.pageSize), pq.WithBatchSize(64), pq.WithDictionaryPageSizeLimit(l.pageSize))
	}
	if l.rowGroupLength > 0 {
		props = append(props, pq.WithMaxRowGroupLength(l.rowGroupLength))
	}
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(sch, &buf, pq.NewWriterProperties(props...), pqarrow.DefaultWriterProps())
	require.NoError(t, err)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer rb.Release()
	for _, r := range rows {
		if r.Path != nil {
			rb.Field(0).(*array.StringBuilder).Append(string(r.Path))
		} else {
			rb.Field(0).(*array.StringBuilder).AppendNull()
		}
		rb.Field(1).(*array.Int64Builder).Append(r.Offset)
		rb.Field(2).(*array.Int64Builder).Append(r.Size)
		if r.Raw != nil {
			rb.Field(3).(*array.BinaryBuilder).Append(r.Raw)
		} else {
			rb.Field(3).(*array.BinaryBuilder).AppendNull()
		}
	}
	rec := rb.NewRecordBatch()
	defer rec.Release()
	require.NoError(t, w.Write(rec))
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// arrowLayouts is the matrix of layouts the reader must accept.
func arrowLayouts() []arrowLayout {
	var ls []arrowLayout
	for _, codec := range []compress.Compression{compress.Codecs.Zstd, compress.Codecs.Snappy, compress.Codecs.Gzip, compress.Codecs.Uncompressed} {
		for _, dict := range []bool{false, true} {
			for _, v2 := range []bool{false, true} {
				for _, nullable := range []bool{false, true} {
					ls = append(ls, arrowLayout{codec: codec, dict: dict, v2: v2, nullableInts: nullable})
				}
			}
		}
	}
	// Small pages (several data pages per column chunk, dictionary
	// fallback to PLAIN) and several row groups.
	for _, dict := range []bool{false, true} {
		ls = append(ls,
			arrowLayout{codec: compress.Codecs.Zstd, dict: dict, nullableInts: true, pageSize: 512},
			arrowLayout{codec: compress.Codecs.Snappy, dict: dict, v2: true, pageSize: 512},
			arrowLayout{codec: compress.Codecs.Zstd, dict: dict, nullableInts: true, rowGroupLength: 300},
		)
	}
	return ls
}

func TestDecodeReadsArrow(t *testing.T) {
	const n = 1000
	rows := sampleRows(n)
	for _, l := range arrowLayouts() {
		t.Run(l.String(), func(t *testing.T) {
			b := writeArrow(t, rows, l)
			checkLayout(t, b, l)
			assertRows(t, rows, readArrow(t, b)) // the writer wrote what we meant
			assertRows(t, rows, decodeRows(t, b, n))
		})
	}
}

// checkLayout checks that arrow-go wrote the layout asked for: the path
// column's compression, dictionary page, data page version, pages and
// row groups.
func checkLayout(t *testing.T, b []byte, l arrowLayout) {
	t.Helper()
	rdr, err := file.NewParquetReader(bytes.NewReader(b))
	require.NoError(t, err)
	defer rdr.Close()
	if l.rowGroupLength > 0 {
		assert.Greater(t, rdr.NumRowGroups(), 1, "row groups")
	}
	cc, err := rdr.MetaData().RowGroup(0).ColumnChunk(0)
	require.NoError(t, err)
	assert.Equal(t, l.codec, cc.Compression())
	pr, err := rdr.RowGroup(0).GetColumnPageReader(0)
	require.NoError(t, err)
	var dict, v1, v2 int
	for pr.Next() {
		switch pr.Page().(type) {
		case *file.DictionaryPage:
			dict++
		case *file.DataPageV1:
			v1++
		case *file.DataPageV2:
			v2++
		}
	}
	require.NoError(t, pr.Err())
	assert.Equal(t, l.dict, dict > 0, "dictionary page")
	if l.v2 {
		assert.Positive(t, v2)
		assert.Zero(t, v1)
	} else {
		assert.Positive(t, v1)
		assert.Zero(t, v2)
	}
	if l.pageSize > 0 {
		assert.Greater(t, v1+v2, 1, "data pages")
	}
}

// assertRows compares rows, one message per differing row.
func assertRows(t *testing.T, want, got []parquet.Row) {
	t.Helper()
	require.Len(t, got, len(want))
	var bad []string
	for i := range want {
		w, g := want[i], got[i]
		if (w.Path == nil) != (g.Path == nil) || !bytes.Equal(w.Path, g.Path) || w.Offset != g.Offset || w.Size != g.Size ||
			(w.Raw == nil) != (g.Raw == nil) || !bytes.Equal(w.Raw, g.Raw) {
			bad = append(bad, fmt.Sprintf("row %d: want %s, got %s", i, rowString(w), rowString(g)))
		}
		if len(bad) == 5 {
			break
		}
	}
	assert.Empty(t, bad, strings.Join(bad, "\n"))
}

func rowString(r parquet.Row) string {
	q := func(b []byte) string {
		if b == nil {
			return "null"
		}
		return strconv.Quote(string(b))
	}
	return fmt.Sprintf("{path %s offset %d size %d raw %s}", q(r.Path), r.Offset, r.Size, q(r.Raw))
}
