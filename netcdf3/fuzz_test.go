package netcdf3

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// FuzzOpen checks that Open never panics, returns only typed errors, gives
// the same result whatever its first read size, and that what it accepts is
// self-consistent: every slab lies inside the file, after the header.
func FuzzOpen(f *testing.F) {
	for _, name := range fixtures {
		f.Add(readFixture(f, name))
	}
	for _, format := range []Format{Classic, Offset64, Data64} {
		f.Add(fixedFile(format))
	}
	// STREAMING record counts.
	for _, name := range []string{"classic", "onerec_byte"} {
		b := bytes.Clone(readFixture(f, name))
		if b[3] == byte(Data64) {
			copy(b[4:], "\xff\xff\xff\xff\xff\xff\xff\xff")
		} else {
			copy(b[4:], "\xff\xff\xff\xff")
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		size := int64(len(data))
		file, err := Open(bytes.NewReader(data), size)
		small, err2 := open(bytes.NewReader(data), size, 7)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("first read size changes the outcome: %v vs %v", err, err2)
		}
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("untyped error: %v", err)
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Offset < 0 || fe.Offset > size {
				t.Fatalf("bad FormatError: %#v", err)
			}
			if file != nil {
				t.Fatal("file and error")
			}
			return
		}
		// Compared as printed values: reflect.DeepEqual calls two NaN
		// attribute values unequal.
		if fmt.Sprintf("%#v", *file) != fmt.Sprintf("%#v", *small) {
			t.Fatal("first read size changes the result")
		}
		if file.NumRecs < 0 || file.HeaderSize > size || file.RecordSize < 0 {
			t.Fatalf("bad file: numrecs %d header %d recsize %d", file.NumRecs, file.HeaderSize, file.RecordSize)
		}
		for _, d := range file.Dims {
			if d.Len < 0 || d.Unlimited && d.Len != file.NumRecs {
				t.Fatalf("bad dim %+v", d)
			}
		}
		checkAttrsSane(t, file.Attrs)
		for i := range file.Vars {
			v := &file.Vars[i]
			checkAttrsSane(t, v.Attrs)
			if v.Type.Dtype() == "" || v.FillValue() == nil {
				t.Fatalf("var %q: bad type %v", v.Name, v.Type)
			}
			if len(v.Dims) != len(v.DimIDs) || len(v.Shape) != len(v.DimIDs) {
				t.Fatalf("var %q: ragged dims", v.Name)
			}
			n := v.NumSlabs()
			if n < 0 || n > 0 && v.SlabSize() <= 0 {
				t.Fatalf("var %q: %d slabs of %d bytes", v.Name, n, v.SlabSize())
			}
			for _, s := range []int64{0, n - 1} {
				if s < 0 || s >= n {
					continue
				}
				r := v.Slab(s)
				if r.Offset < file.HeaderSize || r.End() > size || r.Length != v.SlabSize() {
					t.Fatalf("var %q slab %d: %+v outside [%d, %d)", v.Name, s, r, file.HeaderSize, size)
				}
			}
		}
	})
}

func checkAttrsSane(t *testing.T, attrs []Attr) {
	for _, a := range attrs {
		if a.Type.Size() == 0 || a.Value == nil || a.Len() < 0 {
			t.Fatalf("bad attribute %+v", a)
		}
		if _, isText := a.Value.(string); isText != (a.Type == Char) {
			t.Fatalf("attribute %q: value %T for type %v", a.Name, a.Value, a.Type)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, name := range []string{"classic", "data64"} {
		file := readFixture(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(file)))
			for b.Loop() {
				if _, err := Open(bytes.NewReader(file), int64(len(file))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
