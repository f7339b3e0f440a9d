package zarr

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzParseMetadata feeds untrusted .zarray and zarr.json text to the
// parsers: they return a typed error or metadata that writes back and
// parses again to the same dtype and fill.
func FuzzParseMetadata(f *testing.F) {
	for _, s := range []string{
		`{"chunks":[10],"compressor":{"id":"zlib","level":4},"dtype":"<f4","fill_value":NaN,"filters":null,"order":"C","shape":[100],"zarr_format":2}`,
		`{"chunks":[1],"compressor":null,"dtype":[["a","<i4"],["b","|S2",[2]]],"fill_value":null,"filters":null,"order":"F","shape":[3],"zarr_format":2}`,
		`{"chunks":[2],"compressor":null,"dtype":"|O","fill_value":"","filters":[{"id":"vlen-utf8"}],"order":"C","shape":[3],"zarr_format":2}`,
		`{"zarr_format":3,"node_type":"array","shape":[2],"data_type":{"name":"numpy.datetime64","configuration":{"unit":"s","scale_factor":1}},"chunk_grid":{"name":"regular","configuration":{"chunk_shape":[1]}},"chunk_key_encoding":{"name":"default"},"fill_value":"NaT","codecs":[{"name":"bytes","configuration":{"endian":"big"}}]}`,
		`{"zarr_format":3,"node_type":"group","attributes":{"a":NaN}}`,
		`{"chunks":[1],"compressor":null,"dtype":{"names":["a","w"],"formats":["|u1",{"names":["x"],"formats":["(2,)<f4"],"offsets":[4],"itemsize":12}],"offsets":[0,4],"itemsize":16},"fill_value":null,"filters":null,"order":"C","shape":[3],"zarr_format":2}`,
		`{"chunks":[1],"compressor":null,"dtype":[["a","<i2"],["w",{"names":["x","y"],"formats":["<f4","|u1"],"offsets":[0,4],"itemsize":8},[3]]],"fill_value":null,"filters":null,"order":"C","shape":[3],"zarr_format":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseAttrs(data)
		if err := EachMember(data, func(k, v []byte) error { return nil }); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("untyped error %v", err)
		}
		if _, err := SplitArray(data); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("untyped error %v", err)
		}
		if a, err := ParseArrayV2(data); err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("untyped error %v", err)
			}
		} else {
			out, err := a.MarshalJSON()
			if err != nil {
				t.Fatalf("writing parsed metadata: %v", err)
			}
			b, err := ParseArrayV2(out)
			if err != nil {
				t.Fatalf("reparsing %s: %v", out, err)
			}
			if b.DType.Str != a.DType.Str {
				t.Fatalf("dtype %s became %s", a.DType.Str, b.DType.Str)
			}
			if v3, err := ArrayV3Of(a, nil, nil); err == nil {
				if _, err := v3.MarshalJSON(); err != nil {
					t.Fatalf("writing v3: %v", err)
				}
			}
		}
		if m, err := ParseV3(data); err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("untyped error %v", err)
			}
		} else if a, ok := m.(*ArrayV3); ok {
			if _, err := a.DataType.DecodeFill(a.FillValue); err != nil {
				t.Fatalf("accepted fill fails to decode: %v", err)
			}
		}
		if d, err := ParseDType(json.RawMessage(data)); err == nil {
			if _, err := ParseDType(d.JSON()); err != nil {
				t.Fatalf("%s does not parse back: %v", d.JSON(), err)
			}
		}
	})
}
