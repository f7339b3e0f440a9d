package zarr

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/greensight/vzarr/kerchunk/codecs"
)

// Metadata keys of Zarr v2 and v3.
const (
	ArrayKeyV2 = ".zarray"
	GroupKeyV2 = ".zgroup"
	AttrsKeyV2 = ".zattrs"
	KeyV3      = "zarr.json"
)

// GroupV2JSON is the text of a Zarr v2 .zgroup document.
const GroupV2JSON = `{"zarr_format":2}`

// ArrayV2 is a Zarr v2 array's metadata: the .zarray document.
type ArrayV2 struct {
	Shape  []uint64
	Chunks []uint64
	DType  DType
	// FillValue is the fill_value as JSON text (nil or "null": none);
	// DType.DecodeFill reads it.
	FillValue json.RawMessage
	// Order is 'C' or 'F' (0 means 'C').
	Order byte
	// Compressor is the compressor's configuration (nil: none).
	Compressor codecs.Config
	// Filters are the filters' configurations, in encoding order.
	Filters []codecs.Config
	// DimensionSeparator is the chunk key separator: "" (written as the
	// default ".", and left out) or "/".
	DimensionSeparator string
}

// v2JSON is the JSON form of a .zarray.
type v2JSON struct {
	Chunks     []uint64          `json:"chunks"`
	Compressor json.RawMessage   `json:"compressor"`
	DType      json.RawMessage   `json:"dtype"`
	FillValue  json.RawMessage   `json:"fill_value"`
	Filters    []json.RawMessage `json:"filters"`
	Order      string            `json:"order"`
	Shape      []uint64          `json:"shape"`
	ZarrFormat *int              `json:"zarr_format"`
	DimSep     string            `json:"dimension_separator"`
}

// ParseArrayV2 parses a .zarray document (NaN and Infinity fill values
// may be bare tokens, as Python writes them) and checks it: zarr_format 2,
// one chunk length (> 0) per dimension, order C or F, separator "." or
// "/", a dtype ParseDType reads, codecs with an "id" and a fill_value that
// fits the dtype. The dtype of an 'O' array gets its Object codec from the
// first filter. Errors wrap ErrInvalid or ErrUnsupported.
func ParseArrayV2(b []byte) (*ArrayV2, error) {
	var z v2JSON
	if err := json.Unmarshal(QuoteNonFinite(b), &z); err != nil {
		return nil, invalid(".zarray: %v", err)
	}
	if z.ZarrFormat == nil || *z.ZarrFormat != 2 {
		return nil, invalid(".zarray: zarr_format is not 2")
	}
	if len(z.Chunks) != len(z.Shape) {
		return nil, invalid(".zarray: %d chunk lengths for %d dimensions", len(z.Chunks), len(z.Shape))
	}
	for _, c := range z.Chunks {
		if c == 0 {
			return nil, invalid(".zarray: chunks %v has a 0", z.Chunks)
		}
	}
	dt, err := ParseDType(z.DType)
	if err != nil {
		return nil, err
	}
	a := &ArrayV2{Shape: z.Shape, Chunks: z.Chunks, DType: dt, FillValue: z.FillValue, Order: 'C'}
	switch z.Order {
	case "", "C":
	case "F":
		a.Order = 'F'
	default:
		return nil, invalid(".zarray: order %q", z.Order)
	}
	switch z.DimSep {
	case "", ".":
	case "/":
		a.DimensionSeparator = "/"
	default:
		return nil, invalid(".zarray: dimension_separator %q", z.DimSep)
	}
	if a.Compressor, err = parseCodecV2(z.Compressor); err != nil {
		return nil, err
	}
	for _, f := range z.Filters {
		c, err := parseCodecV2(f)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, invalid(".zarray: null filter")
		}
		a.Filters = append(a.Filters, c)
	}
	if dt.Kind == 'O' && len(a.Filters) > 0 {
		switch id := CodecID(a.Filters[0]); id {
		case VLenUTF8, VLenBytes, VLenArray:
			a.DType.Object = id
		}
	}
	if _, err := a.DType.DecodeFill(a.FillValue); err != nil {
		return nil, err
	}
	return a, nil
}

// parseCodecV2 parses one codec configuration (nil for null).
func parseCodecV2(raw json.RawMessage) (codecs.Config, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var c codecs.Config
	if err := json.Unmarshal(raw, &c); err != nil || c == nil {
		return nil, invalid(".zarray: codec %.60s is not an object", raw)
	}
	if id, ok := c["id"].(string); !ok || id == "" {
		return nil, invalid(".zarray: codec %.60s has no id", raw)
	}
	return c, nil
}

// MarshalJSON writes the .zarray document as zarr-python does: keys
// sorted, compact (dimension_separator only when "/"), non-ASCII escaped
// (EscapeNonASCII).
func (a *ArrayV2) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, `{"chunks":`...)
	b = appendUints(b, a.Chunks)
	b = append(b, `,"compressor":`...)
	var err error
	if b, err = appendCodec(b, a.Compressor); err != nil {
		return nil, err
	}
	if a.DimensionSeparator != "" && a.DimensionSeparator != "." {
		b = append(b, `,"dimension_separator":`...)
		b = appendString(b, a.DimensionSeparator)
	}
	b = append(b, `,"dtype":`...)
	b = append(b, a.DType.JSON()...)
	b = append(b, `,"fill_value":`...)
	if fill := bytes.TrimSpace(a.FillValue); len(fill) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, fill...)
	}
	b = append(b, `,"filters":`...)
	if len(a.Filters) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, f := range a.Filters {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendCodec(b, f); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"order":"`...)
	if a.Order == 'F' {
		b = append(b, 'F')
	} else {
		b = append(b, 'C')
	}
	b = append(b, `","shape":`...)
	b = appendUints(b, a.Shape)
	b = append(b, `,"zarr_format":2}`...)
	return []byte(EscapeNonASCII(string(b))), nil
}

func appendCodec(b []byte, c codecs.Config) ([]byte, error) {
	if c == nil {
		return append(b, "null"...), nil
	}
	return appendJSON(b, c)
}

// appendJSON appends v as encoding/json writes it (map keys sorted),
// without escaping <, > and &.
func appendJSON(b []byte, v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, invalid("%v: %v", v, err)
	}
	return append(b, bytes.TrimRight(buf.Bytes(), "\n")...), nil
}

func appendUints(b []byte, v []uint64) []byte {
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, x, 10)
	}
	return append(b, ']')
}

// Grid returns the number of chunks along each dimension.
func (a *ArrayV2) Grid() []uint64 {
	g := make([]uint64, len(a.Shape))
	for i := range g {
		g[i] = a.Shape[i]/a.Chunks[i] + min(a.Shape[i]%a.Chunks[i], 1)
	}
	return g
}

// ChunkKey returns the key of the chunk at grid index idx, relative to
// the array ("0.3", or "0/3" with the "/" separator; "0" for a scalar).
func (a *ArrayV2) ChunkKey(idx []uint64) string {
	if len(idx) == 0 {
		return "0"
	}
	sep := byte('.')
	if a.DimensionSeparator == "/" {
		sep = '/'
	}
	b := make([]byte, 0, 4*len(idx))
	for i, x := range idx {
		if i > 0 {
			b = append(b, sep)
		}
		b = strconv.AppendUint(b, x, 10)
	}
	return string(b)
}

// CodecID returns a codec configuration's "id" ("" when it has none).
func CodecID(c codecs.Config) string {
	id, _ := c["id"].(string)
	return id
}
