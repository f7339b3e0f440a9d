package zarr

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/greensight/vzarr/kerchunk/codecs"
)

// CodecV3 is one entry of a Zarr v3 codec list.
type CodecV3 struct {
	Name          string         `json:"name"`
	Configuration map[string]any `json:"configuration,omitempty"`
}

// ChunkKeyEncoding is a Zarr v3 chunk_key_encoding: Name "default"
// (keys "c/0/3") or "v2" (keys "0.3"), with its Separator ("" for the
// encoding's own default: "/" for default, "." for v2).
type ChunkKeyEncoding struct {
	Name      string
	Separator string
}

// ArrayV3 is a Zarr v3 array's metadata: its zarr.json document with a
// regular chunk grid.
type ArrayV3 struct {
	Shape      []uint64
	ChunkShape []uint64
	// DataType is the data type; its byte order is the one of the
	// "bytes" codec (Zarr v3 data types have none).
	DataType DType
	// FillValue is the fill_value as JSON text (v3 encoding; see
	// DType.EncodeFillV3).
	FillValue        json.RawMessage
	ChunkKeyEncoding ChunkKeyEncoding
	Codecs           []CodecV3
	// DimensionNames are the dimension names (nil: none written; an ""
	// entry is written as null).
	DimensionNames []string
	// Attributes is the attributes object as JSON text (nil: {}).
	Attributes json.RawMessage
}

// GroupV3 is a Zarr v3 group's metadata.
type GroupV3 struct {
	// Attributes is the attributes object as JSON text (nil: {}).
	Attributes json.RawMessage
}

// DataTypeV3 returns the Zarr v3 data_type of d: core names ("bool",
// "int8" ... "uint64", "float16" ... "float64", "complex64", "complex128"),
// and for the rest the extension names zarr-python 3 writes: "string"
// (vlen-utf8), "variable_length_bytes" (vlen-bytes), "raw_bytes" ('V'; the
// core "r<bits>" is read too), "null_terminated_bytes" ('S'),
// "fixed_length_utf32" ('U'),
// "numpy.datetime64" and "numpy.timedelta64" (unit and scale_factor),
// "structured" (fields). Errors wrap ErrUnsupported.
func (d DType) DataTypeV3() (json.RawMessage, error) {
	named := func(name string, cfg map[string]any) (json.RawMessage, error) {
		return json.Marshal(CodecV3{Name: name, Configuration: cfg})
	}
	quoted := func(s string) (json.RawMessage, error) { return json.Marshal(s) }
	switch {
	case d.Fields != nil:
		if !d.Packed() {
			return nil, unsupported("structured dtype with padding (member offsets) in Zarr v3")
		}
		fields := make([]any, 0, len(d.Fields))
		for _, f := range d.Fields {
			if f.Shape != nil {
				return nil, unsupported("structured field %q with a subarray shape in Zarr v3", f.Name)
			}
			sub, err := f.DType.DataTypeV3()
			if err != nil {
				return nil, err
			}
			fields = append(fields, []any{f.Name, sub})
		}
		return named("structured", map[string]any{"fields": fields})
	case d.Kind == 'b', d.Kind == 'i', d.Kind == 'u', d.Kind == 'f', d.Kind == 'c':
		return quoted(d.NumpyName())
	case d.Kind == 'V':
		return named("raw_bytes", map[string]any{"length_bytes": d.Size})
	case d.Kind == 'S':
		return named("null_terminated_bytes", map[string]any{"length_bytes": d.Size})
	case d.Kind == 'U':
		return named("fixed_length_utf32", map[string]any{"length_bytes": d.Size})
	case d.Kind == 'M', d.Kind == 'm':
		n, unit := splitUnit(d.Unit)
		if unit == "" || unit == "generic" {
			return nil, unsupported("%s without a unit in Zarr v3", d.Str)
		}
		name := "numpy.datetime64"
		if d.Kind == 'm' {
			name = "numpy.timedelta64"
		}
		return named(name, map[string]any{"unit": unit, "scale_factor": n})
	case d.Kind == 'O' && d.Object == VLenUTF8:
		return quoted("string")
	case d.Kind == 'O' && d.Object == VLenBytes:
		return quoted("variable_length_bytes")
	}
	return nil, unsupported("dtype %s (object codec %q) in Zarr v3", d.Str, d.Object)
}

// splitUnit splits a NumPy time unit "10s" into 10 and "s".
func splitUnit(u string) (int, string) {
	i := 0
	for i < len(u) && u[i] >= '0' && u[i] <= '9' {
		i++
	}
	n, err := strconv.Atoi(u[:i])
	if err != nil || n == 0 {
		n = 1
	}
	return n, u[i:]
}

// ParseDataTypeV3 parses a Zarr v3 data_type (the names DataTypeV3
// writes) as a little-endian DType.
func ParseDataTypeV3(raw json.RawMessage) (DType, error) {
	return parseDataTypeV3(bytes.TrimSpace(raw), 0)
}

func parseDataTypeV3(raw []byte, depth int) (DType, error) {
	if depth > maxDTypeDepth {
		return DType{}, invalid("data_type nested more than %d deep", maxDTypeDepth)
	}
	var name string
	var cfg map[string]json.RawMessage
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &name); err != nil {
			return DType{}, invalid("data_type %.40s: %v", raw, err)
		}
	} else {
		var c struct {
			Name          string                     `json:"name"`
			Configuration map[string]json.RawMessage `json:"configuration"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return DType{}, invalid("data_type %.40s: %v", raw, err)
		}
		name, cfg = c.Name, c.Configuration
	}
	cfgInt := func(key string) (int, error) {
		var n int
		if err := json.Unmarshal(cfg[key], &n); err != nil || n < 0 || n > maxItemSize {
			return 0, invalid("data_type %s: configuration %s", name, key)
		}
		return n, nil
	}
	simple := map[string]string{
		"bool": "|b1", "int8": "|i1", "uint8": "|u1", "int16": "<i2", "uint16": "<u2",
		"int32": "<i4", "uint32": "<u4", "int64": "<i8", "uint64": "<u8",
		"float16": "<f2", "float32": "<f4", "float64": "<f8", "complex64": "<c8", "complex128": "<c16",
	}
	switch {
	case simple[name] != "":
		return ParseDTypeString(simple[name])
	case name == "string":
		return DType{Str: "|O", Kind: 'O', Object: VLenUTF8}, nil
	case name == "variable_length_bytes":
		return DType{Str: "|O", Kind: 'O', Object: VLenBytes}, nil
	case len(name) > 1 && name[0] == 'r' && name[1] >= '0' && name[1] <= '9':
		bits, err := strconv.Atoi(name[1:])
		if err != nil || bits <= 0 || bits%8 != 0 || bits/8 > maxItemSize {
			return DType{}, unsupported("data_type %q", name)
		}
		return ParseDTypeString("|V" + strconv.Itoa(bits/8))
	case name == "null_terminated_bytes", name == "fixed_length_utf32", name == "raw_bytes":
		n, err := cfgInt("length_bytes")
		if err != nil {
			return DType{}, err
		}
		if name == "fixed_length_utf32" {
			if n%4 != 0 {
				return DType{}, invalid("data_type %s: length_bytes %d", name, n)
			}
			return ParseDTypeString("<U" + strconv.Itoa(n/4))
		}
		if name == "raw_bytes" {
			return ParseDTypeString("|V" + strconv.Itoa(n))
		}
		return ParseDTypeString("|S" + strconv.Itoa(n))
	case name == "numpy.datetime64", name == "numpy.timedelta64":
		var unit string
		if err := json.Unmarshal(cfg["unit"], &unit); err != nil {
			return DType{}, invalid("data_type %s: unit", name)
		}
		scale, err := cfgInt("scale_factor")
		if err != nil {
			return DType{}, err
		}
		if scale > 1 {
			unit = strconv.Itoa(scale) + unit
		}
		kind := "M"
		if name == "numpy.timedelta64" {
			kind = "m"
		}
		return ParseDTypeString("<" + kind + "8[" + unit + "]")
	case name == "structured":
		var fields [][]json.RawMessage
		if err := json.Unmarshal(cfg["fields"], &fields); err != nil {
			return DType{}, invalid("data_type structured: fields: %v", err)
		}
		list := make([]any, 0, len(fields))
		for _, f := range fields {
			if len(f) != 2 {
				return DType{}, invalid("data_type structured: field of %d items", len(f))
			}
			var fname string
			if err := json.Unmarshal(f[0], &fname); err != nil {
				return DType{}, invalid("data_type structured: field name: %v", err)
			}
			sub, err := parseDataTypeV3(bytes.TrimSpace(f[1]), depth+1)
			if err != nil {
				return DType{}, err
			}
			list = append(list, []any{fname, sub.JSON()})
		}
		j, _ := json.Marshal(list)
		return ParseDType(j)
	}
	return DType{}, unsupported("data_type %q", name)
}

// codecsV3 maps numcodecs ids to their Zarr v3 names: core codecs where
// the encoding is the same, else the numcodecs.* names of numcodecs >=
// 0.15 (zarr-python 3).
var codecsV3 = map[string]string{
	"gzip":             "gzip",
	"zstd":             "zstd",
	"crc32c":           "crc32c",
	"blosc":            "blosc",
	"zlib":             "numcodecs.zlib",
	"shuffle":          "numcodecs.shuffle",
	"fletcher32":       "numcodecs.fletcher32",
	"lz4":              "numcodecs.lz4",
	"bz2":              "numcodecs.bz2",
	"lzma":             "numcodecs.lzma",
	"adler32":          "numcodecs.adler32",
	"crc32":            "numcodecs.crc32",
	"delta":            "numcodecs.delta",
	"quantize":         "numcodecs.quantize",
	"bitround":         "numcodecs.bitround",
	"fixedscaleoffset": "numcodecs.fixedscaleoffset",
}

// CodecV3Of returns the Zarr v3 codec of a numcodecs configuration (see
// codecsV3; gzip, zstd, crc32c and blosc become the core codecs, the
// others numcodecs.NAME with the same configuration). typesize is the
// element size blosc needs. Errors wrap ErrUnsupported.
func CodecV3Of(c codecs.Config, typesize int) (CodecV3, error) {
	id := CodecID(c)
	name, ok := codecsV3[id]
	if !ok {
		return CodecV3{}, unsupported("codec %q has no Zarr v3 name", id)
	}
	cfg := map[string]any{}
	for k, v := range c {
		if k != "id" {
			cfg[k] = v
		}
	}
	switch id {
	case "zstd":
		if _, ok := cfg["checksum"]; !ok {
			cfg["checksum"] = false
		}
		if _, ok := cfg["level"]; !ok {
			cfg["level"] = 0
		}
	case "gzip":
		if _, ok := cfg["level"]; !ok {
			cfg["level"] = 1
		}
	case "blosc":
		sh, _ := AsFloat(cfg["shuffle"])
		switch {
		case sh == 0:
			cfg["shuffle"] = "noshuffle"
		case sh == 2 || (sh == -1 && typesize == 1):
			cfg["shuffle"] = "bitshuffle"
		default:
			cfg["shuffle"] = "shuffle"
		}
		cfg["typesize"] = typesize
	}
	if len(cfg) == 0 {
		cfg = nil
	}
	return CodecV3{Name: name, Configuration: cfg}, nil
}

// ArrayV3Of returns the Zarr v3 metadata of a Zarr v2 array with the same
// chunks and encoding: order F becomes a transpose codec, the dtype's byte
// order the "bytes" codec's endian (vlen-utf8 and vlen-bytes arrays use
// those codecs instead), filters and compressor follow as bytes-to-bytes
// codecs (CodecV3Of), and chunk keys keep their v2 form ("v2" encoding).
// dims become dimension_names, attrs (a JSON object, nil for none) the
// attributes.
func ArrayV3Of(a *ArrayV2, dims []string, attrs json.RawMessage) (*ArrayV3, error) {
	if dims != nil && len(dims) != len(a.Shape) {
		return nil, invalid("%d dimension names for %d dimensions", len(dims), len(a.Shape))
	}
	fill, err := a.DType.DecodeFill(a.FillValue)
	if err != nil {
		return nil, err
	}
	v3 := &ArrayV3{Shape: a.Shape, ChunkShape: a.Chunks, DataType: a.DType,
		ChunkKeyEncoding: ChunkKeyEncoding{Name: "v2", Separator: a.DimensionSeparator},
		DimensionNames:   dims, Attributes: attrs}
	if fill == nil {
		fill = defaultFill(a.DType)
	}
	if v3.FillValue, err = a.DType.EncodeFillV3(fill); err != nil {
		return nil, err
	}
	if _, err := a.DType.DataTypeV3(); err != nil {
		return nil, err
	}
	if a.Order == 'F' && len(a.Shape) > 1 {
		order := make([]int, len(a.Shape))
		for i := range order {
			order[i] = len(order) - 1 - i
		}
		v3.Codecs = append(v3.Codecs, CodecV3{Name: "transpose", Configuration: map[string]any{"order": order}})
	}
	filters := a.Filters
	switch {
	case a.DType.Kind == 'O':
		if len(filters) == 0 || (CodecID(filters[0]) != VLenUTF8 && CodecID(filters[0]) != VLenBytes) {
			return nil, unsupported("object dtype without vlen-utf8 or vlen-bytes in Zarr v3")
		}
		v3.Codecs = append(v3.Codecs, CodecV3{Name: CodecID(filters[0])})
		filters = filters[1:]
	case a.DType.Size > 1 && a.DType.Fields == nil && a.DType.Kind != 'S' && a.DType.Kind != 'V':
		endian := "little"
		if a.DType.BigEndian {
			endian = "big"
		}
		v3.Codecs = append(v3.Codecs, CodecV3{Name: "bytes", Configuration: map[string]any{"endian": endian}})
	default:
		v3.Codecs = append(v3.Codecs, CodecV3{Name: "bytes"})
	}
	for _, c := range append(append([]codecs.Config{}, filters...), a.Compressor) {
		if c == nil {
			continue
		}
		cv, err := CodecV3Of(c, max(a.DType.Size, 1))
		if err != nil {
			return nil, err
		}
		v3.Codecs = append(v3.Codecs, cv)
	}
	return v3, nil
}

// defaultFill is the fill value Zarr v3 requires when v2 had null: zero
// (an empty string for vlen types).
func defaultFill(d DType) []byte {
	if d.Kind == 'O' {
		return []byte{}
	}
	return make([]byte, d.Size)
}

// MarshalJSON writes the zarr.json document (non-ASCII escaped, as
// EscapeNonASCII does).
func (a *ArrayV3) MarshalJSON() ([]byte, error) {
	dt, err := a.DataType.DataTypeV3()
	if err != nil {
		return nil, err
	}
	b := []byte(`{"zarr_format":3,"node_type":"array","shape":`)
	b = appendUints(b, a.Shape)
	b = append(b, `,"data_type":`...)
	b = append(b, dt...)
	b = append(b, `,"chunk_grid":{"name":"regular","configuration":{"chunk_shape":`...)
	b = appendUints(b, a.ChunkShape)
	b = append(b, `}},"chunk_key_encoding":{"name":`...)
	enc := a.ChunkKeyEncoding
	if enc.Name == "" {
		enc.Name = "default"
	}
	b = appendString(b, enc.Name)
	if enc.Separator != "" {
		b = append(b, `,"configuration":{"separator":`...)
		b = appendString(b, enc.Separator)
		b = append(b, '}')
	}
	b = append(b, `},"fill_value":`...)
	if fill := bytes.TrimSpace(a.FillValue); len(fill) > 0 {
		b = append(b, fill...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"codecs":`...)
	if b, err = appendJSON(b, a.Codecs); err != nil {
		return nil, err
	}
	b = appendAttributes(b, a.Attributes)
	if a.DimensionNames != nil {
		b = append(b, `,"dimension_names":[`...)
		for i, n := range a.DimensionNames {
			if i > 0 {
				b = append(b, ',')
			}
			if n == "" {
				b = append(b, "null"...)
			} else {
				b = appendString(b, n)
			}
		}
		b = append(b, ']')
	}
	return []byte(EscapeNonASCII(string(append(b, '}')))), nil
}

func appendAttributes(b []byte, attrs json.RawMessage) []byte {
	b = append(b, `,"attributes":`...)
	if a := bytes.TrimSpace(attrs); len(a) > 0 {
		return append(b, a...)
	}
	return append(b, "{}"...)
}

// MarshalJSON writes the zarr.json document of the group.
func (g *GroupV3) MarshalJSON() ([]byte, error) {
	b := []byte(`{"zarr_format":3,"node_type":"group"`)
	b = appendAttributes(b, g.Attributes)
	return []byte(EscapeNonASCII(string(append(b, '}')))), nil
}

// v3JSON is the JSON form of a zarr.json document.
type v3JSON struct {
	ZarrFormat *int            `json:"zarr_format"`
	NodeType   string          `json:"node_type"`
	Shape      []uint64        `json:"shape"`
	DataType   json.RawMessage `json:"data_type"`
	ChunkGrid  struct {
		Name          string `json:"name"`
		Configuration struct {
			ChunkShape []uint64 `json:"chunk_shape"`
		} `json:"configuration"`
	} `json:"chunk_grid"`
	ChunkKeyEncoding struct {
		Name          string `json:"name"`
		Configuration struct {
			Separator string `json:"separator"`
		} `json:"configuration"`
	} `json:"chunk_key_encoding"`
	FillValue           json.RawMessage   `json:"fill_value"`
	Codecs              []CodecV3         `json:"codecs"`
	Attributes          json.RawMessage   `json:"attributes"`
	DimensionNames      []*string         `json:"dimension_names"`
	StorageTransformers []json.RawMessage `json:"storage_transformers"`
}

// ParseV3 parses a zarr.json document (bare NaN and Infinity accepted):
// an array (*ArrayV3) or a group (*GroupV3). Arrays must have a regular
// chunk grid with one chunk length (> 0) per dimension, a data type
// ParseDataTypeV3 reads and a fill value that fits it; the "bytes" codec's
// endian sets the data type's byte order. Errors wrap ErrInvalid or
// ErrUnsupported.
func ParseV3(b []byte) (any, error) {
	var z v3JSON
	if err := json.Unmarshal(QuoteNonFinite(b), &z); err != nil {
		return nil, invalid("zarr.json: %v", err)
	}
	if z.ZarrFormat == nil || *z.ZarrFormat != 3 {
		return nil, invalid("zarr.json: zarr_format is not 3")
	}
	if z.Attributes != nil && !bytes.HasPrefix(bytes.TrimSpace(z.Attributes), []byte("{")) && string(bytes.TrimSpace(z.Attributes)) != "null" {
		return nil, invalid("zarr.json: attributes is not an object")
	}
	switch z.NodeType {
	case "group":
		return &GroupV3{Attributes: z.Attributes}, nil
	case "array":
	default:
		return nil, invalid("zarr.json: node_type %q", z.NodeType)
	}
	if len(z.StorageTransformers) > 0 {
		return nil, unsupported("zarr.json: storage transformers")
	}
	if z.ChunkGrid.Name != "regular" {
		return nil, unsupported("zarr.json: chunk grid %q", z.ChunkGrid.Name)
	}
	a := &ArrayV3{Shape: z.Shape, ChunkShape: z.ChunkGrid.Configuration.ChunkShape, Codecs: z.Codecs,
		Attributes: z.Attributes, FillValue: z.FillValue}
	if len(a.ChunkShape) != len(a.Shape) {
		return nil, invalid("zarr.json: chunk_shape %v for shape %v", a.ChunkShape, a.Shape)
	}
	for _, c := range a.ChunkShape {
		if c == 0 {
			return nil, invalid("zarr.json: chunk_shape %v has a 0", a.ChunkShape)
		}
	}
	switch enc := z.ChunkKeyEncoding; enc.Name {
	case "default", "v2":
		a.ChunkKeyEncoding = ChunkKeyEncoding{Name: enc.Name, Separator: enc.Configuration.Separator}
		if s := enc.Configuration.Separator; s != "" && s != "." && s != "/" {
			return nil, invalid("zarr.json: separator %q", s)
		}
	default:
		return nil, unsupported("zarr.json: chunk_key_encoding %q", enc.Name)
	}
	if z.DimensionNames != nil {
		if len(z.DimensionNames) != len(a.Shape) {
			return nil, invalid("zarr.json: %d dimension names for %d dimensions", len(z.DimensionNames), len(a.Shape))
		}
		a.DimensionNames = make([]string, len(z.DimensionNames))
		for i, n := range z.DimensionNames {
			if n != nil {
				a.DimensionNames[i] = *n
			}
		}
	}
	dt, err := ParseDataTypeV3(z.DataType)
	if err != nil {
		return nil, err
	}
	for _, c := range a.Codecs {
		if c.Name == "" {
			return nil, invalid("zarr.json: codec without a name")
		}
		if e, _ := c.Configuration["endian"].(string); c.Name == "bytes" && e == "big" && dt.Size > 1 && dt.Fields == nil {
			dt.BigEndian = true
			dt.Str = strings.Replace(dt.Str, "<", ">", 1)
		}
	}
	a.DataType = dt
	if _, err := dt.DecodeFill(a.FillValue); err != nil {
		return nil, err
	}
	return a, nil
}

// ChunkKey returns the key of the chunk at grid index idx, relative to
// the array ("c/0/3" by default, "0.3" with the v2 encoding).
func (a *ArrayV3) ChunkKey(idx []uint64) string {
	sep := a.ChunkKeyEncoding.Separator
	var b []byte
	if a.ChunkKeyEncoding.Name == "v2" {
		if sep == "" {
			sep = "."
		}
		if len(idx) == 0 {
			return "0"
		}
	} else {
		if sep == "" {
			sep = "/"
		}
		b = append(b, 'c')
		if len(idx) > 0 {
			b = append(b, sep...)
		}
	}
	for i, x := range idx {
		if i > 0 {
			b = append(b, sep...)
		}
		b = strconv.AppendUint(b, x, 10)
	}
	return string(b)
}
