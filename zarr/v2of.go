package zarr

import (
	"strings"

	"github.com/greensight/vzarr/kerchunk/codecs"
)

// ArrayV2Of returns the Zarr v2 metadata of a Zarr v3 array with the same
// chunks and encoding: the inverse of ArrayV3Of. A transpose codec that
// reverses the axes becomes order F; the array-to-bytes codec ("bytes",
// "vlen-utf8", "vlen-bytes") sets the dtype (its byte order was read by
// ParseV3); every bytes-to-bytes codec after it becomes a filter, in
// order, with no compressor (as vzarr's HDF5 translation writes
// pipelines): "numcodecs.NAME" as id NAME with the same configuration,
// and the core codecs as their numcodecs ids (zstd without the
// "checksum": false ArrayV3Of adds, blosc with its numeric shuffle and
// without typesize). The fill value is kept, so fillValue decides whether
// the v2 fill_value is null (false) or the v3 one. The chunk keys use the
// v2 separator "." ("/" for a v2 chunk key encoding with "/"). Errors wrap
// ErrUnsupported (another codec, a sharded or other transposed array) or
// ErrInvalid.
func ArrayV2Of(a *ArrayV3, fillValue bool) (*ArrayV2, error) {
	v2 := &ArrayV2{Shape: a.Shape, Chunks: a.ChunkShape, DType: a.DataType, Order: 'C'}
	if a.ChunkKeyEncoding.Name == "v2" && a.ChunkKeyEncoding.Separator == "/" {
		v2.DimensionSeparator = "/"
	}
	if fillValue {
		b, err := a.DataType.DecodeFill(a.FillValue)
		if err != nil {
			return nil, err
		}
		if v2.FillValue, err = a.DataType.EncodeFill(b); err != nil {
			return nil, err
		}
	}
	cs := a.Codecs
	if len(cs) > 0 && cs[0].Name == "transpose" {
		if !reversed(cs[0].Configuration["order"], len(a.Shape)) {
			return nil, unsupported("transpose codec %v other than reversing the axes", cs[0].Configuration["order"])
		}
		v2.Order = 'F'
		cs = cs[1:]
	}
	if len(cs) == 0 {
		return nil, invalid("zarr.json: no array-to-bytes codec")
	}
	switch cs[0].Name {
	case "bytes":
	case VLenUTF8, VLenBytes:
		v2.DType.Object = cs[0].Name
		v2.Filters = append(v2.Filters, codecs.Config{"id": cs[0].Name})
	default:
		return nil, unsupported("array-to-bytes codec %q", cs[0].Name)
	}
	for _, c := range cs[1:] {
		cfg, err := codecV2Of(c)
		if err != nil {
			return nil, err
		}
		v2.Filters = append(v2.Filters, cfg)
	}
	return v2, nil
}

// codecV2Of is the numcodecs configuration of a bytes-to-bytes codec.
func codecV2Of(c CodecV3) (codecs.Config, error) {
	id, ok := strings.CutPrefix(c.Name, "numcodecs.")
	if !ok {
		switch c.Name {
		case "gzip", "zstd", "crc32c", "blosc":
			id = c.Name
		default:
			return nil, unsupported("codec %q has no Zarr v2 id", c.Name)
		}
	}
	if codecsV3[id] != c.Name {
		return nil, unsupported("codec %q has no Zarr v2 id", c.Name)
	}
	cfg := codecs.Config{"id": id}
	for k, v := range c.Configuration {
		cfg[k] = v
	}
	switch id {
	case "zstd":
		if cfg["checksum"] == false {
			delete(cfg, "checksum")
		}
	case "blosc":
		delete(cfg, "typesize")
		switch cfg["shuffle"] {
		case "noshuffle":
			cfg["shuffle"] = 0.0
		case "shuffle":
			cfg["shuffle"] = 1.0
		case "bitshuffle":
			cfg["shuffle"] = 2.0
		}
	}
	return cfg, nil
}

// reversed reports a transpose order that reverses rank axes.
func reversed(order any, rank int) bool {
	o, ok := order.([]any)
	if !ok || len(o) != rank {
		return false
	}
	for i, v := range o {
		if f, ok := AsFloat(v); !ok || int(f) != rank-1-i {
			return false
		}
	}
	return true
}
