package codecs

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Codec is one numcodecs codec working on bytes.
type Codec interface {
	// ID is the numcodecs codec id ("zlib", "shuffle", ...).
	ID() string
	Decode(src []byte) ([]byte, error)
	Encode(src []byte) ([]byte, error)
}

// Config is a numcodecs codec configuration as stored in .zarray.
type Config map[string]any

// ErrUnsupported reports a codec id this package does not implement.
var ErrUnsupported = fmt.Errorf("codecs: unsupported codec")

// New returns the codec a configuration describes. Supported ids: zlib,
// gzip, bz2 (decode only), shuffle, fletcher32, imagecodecs_lzf, zstd, lz4.
// vlen-utf8 is not a byte codec; callers handle it (see VLenUTF8Decode).
func New(cfg Config) (Codec, error) {
	id, _ := cfg["id"].(string)
	num := func(name string, def int) int {
		switch v := cfg[name].(type) {
		case float64:
			return int(v)
		case int:
			return v
		case json.Number:
			n, err := v.Int64()
			if err == nil {
				return int(n)
			}
		}
		return def
	}
	switch id {
	case "zlib":
		return &zlibCodec{level: num("level", 1)}, nil
	case "gzip":
		return gzipCodec{level: num("level", 1)}, nil
	case "bz2":
		return bz2Codec{}, nil
	case "shuffle":
		return shuffleCodec{size: num("elementsize", 4)}, nil
	case "fletcher32":
		return fletcherCodec{}, nil
	case "imagecodecs_lzf":
		header, _ := cfg["header"].(bool)
		return lzfCodec{header: header}, nil
	case "zstd":
		return zstdCodec{level: num("level", 1)}, nil
	case "lz4":
		return lz4Codec{}, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnsupported, id)
}

type zlibCodec struct{ level int }

func (*zlibCodec) ID() string                          { return "zlib" }
func (*zlibCodec) Decode(src []byte) ([]byte, error)   { return ZlibDecode(src, 0) }
func (c *zlibCodec) Encode(src []byte) ([]byte, error) { return ZlibEncode(src, c.level) }

type gzipCodec struct{ level int }

func (gzipCodec) ID() string { return "gzip" }
func (gzipCodec) Decode(src []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(src))
	if err != nil {
		return nil, corrupt("gzip: %v", err)
	}
	return readAllLimited(zr, "gzip")
}
func (c gzipCodec) Encode(src []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, c.level)
	if err != nil {
		return nil, err
	}
	zw.Write(src)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type bz2Codec struct{}

func (bz2Codec) ID() string { return "bz2" }
func (bz2Codec) Decode(src []byte) ([]byte, error) {
	return readAllLimited(bzip2.NewReader(bytes.NewReader(src)), "bz2")
}
func (bz2Codec) Encode([]byte) ([]byte, error) {
	return nil, fmt.Errorf("%w: bz2 encoding", ErrUnsupported)
}

func readAllLimited(r io.Reader, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxDecoded+1))
	if err != nil {
		return nil, corrupt("%s: %v", what, err)
	}
	if len(b) > MaxDecoded {
		return nil, corrupt("%s: more than %d bytes", what, MaxDecoded)
	}
	return b, nil
}

type shuffleCodec struct{ size int }

func (shuffleCodec) ID() string { return "shuffle" }
func (c shuffleCodec) Decode(src []byte) ([]byte, error) {
	if !ShuffleCompatible(len(src), c.size) {
		return nil, corrupt("shuffle: buffer of %d bytes is not a multiple of elementsize %d", len(src), c.size)
	}
	return Unshuffle(src, c.size), nil
}
func (c shuffleCodec) Encode(src []byte) ([]byte, error) {
	if !ShuffleCompatible(len(src), c.size) {
		return nil, corrupt("shuffle: buffer of %d bytes is not a multiple of elementsize %d", len(src), c.size)
	}
	return Shuffle(src, c.size), nil
}

type fletcherCodec struct{}

func (fletcherCodec) ID() string                        { return "fletcher32" }
func (fletcherCodec) Decode(src []byte) ([]byte, error) { return Fletcher32Decode(src) }
func (fletcherCodec) Encode(src []byte) ([]byte, error) { return Fletcher32Encode(src), nil }

type lzfCodec struct{ header bool }

func (lzfCodec) ID() string { return "imagecodecs_lzf" }
func (c lzfCodec) Decode(src []byte) ([]byte, error) {
	if c.header {
		if len(src) < 4 {
			return nil, corrupt("lzf: no header")
		}
		src = src[4:]
	}
	return LZFDecode(src, 0)
}
func (c lzfCodec) Encode(src []byte) ([]byte, error) {
	out := LZFEncode(src)
	if c.header {
		out = append(binary.BigEndian.AppendUint32(nil, uint32(len(src))), out...)
	}
	return out, nil
}

type zstdCodec struct{ level int }

var zstdDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxDecoded))

func (zstdCodec) ID() string { return "zstd" }
func (zstdCodec) Decode(src []byte) ([]byte, error) {
	out, err := zstdDecoder.DecodeAll(src, nil)
	if err != nil {
		return nil, corrupt("zstd: %v", err)
	}
	return out, nil
}
func (c zstdCodec) Encode(src []byte) ([]byte, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(c.level)))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	return enc.EncodeAll(src, nil), nil
}

// lz4Codec is numcodecs' LZ4: a little-endian uint32 decoded size, then
// one LZ4 block.
type lz4Codec struct{}

func (lz4Codec) ID() string { return "lz4" }
func (lz4Codec) Decode(src []byte) ([]byte, error) {
	if len(src) < 4 {
		return nil, corrupt("lz4: no size header")
	}
	n := int(binary.LittleEndian.Uint32(src))
	if n > MaxDecoded {
		return nil, corrupt("lz4: decoded size %d", n)
	}
	out := make([]byte, n)
	m, err := lz4.UncompressBlock(src[4:], out)
	if err != nil || m != n {
		return nil, corrupt("lz4: %v", err)
	}
	return out, nil
}
func (lz4Codec) Encode(src []byte) ([]byte, error) {
	out := make([]byte, 4+lz4.CompressBlockBound(len(src)))
	binary.LittleEndian.PutUint32(out, uint32(len(src)))
	var c lz4.Compressor
	n, err := c.CompressBlock(src, out[4:])
	if err != nil {
		return nil, err
	}
	if n == 0 { // incompressible: store as literals
		return nil, fmt.Errorf("lz4: incompressible input")
	}
	return out[:4+n], nil
}

// Chain is a Zarr v2 codec pipeline: filters applied in order on encode,
// then the compressor; decoding runs the other way. A Chain is not safe
// for concurrent use.
type Chain struct {
	Filters    []Codec
	Compressor Codec
}

// NewChain builds the chain of a .zarray's "filters" and "compressor".
func NewChain(filters []Config, compressor Config) (*Chain, error) {
	c := &Chain{}
	for _, f := range filters {
		codec, err := New(f)
		if err != nil {
			return nil, err
		}
		c.Filters = append(c.Filters, codec)
	}
	if compressor != nil {
		codec, err := New(compressor)
		if err != nil {
			return nil, err
		}
		c.Compressor = codec
	}
	return c, nil
}

// Decode decodes one stored chunk.
func (c *Chain) Decode(src []byte) ([]byte, error) {
	var err error
	if c.Compressor != nil {
		if src, err = c.Compressor.Decode(src); err != nil {
			return nil, err
		}
	}
	for i := len(c.Filters) - 1; i >= 0; i-- {
		if src, err = c.Filters[i].Decode(src); err != nil {
			return nil, err
		}
	}
	return src, nil
}

// Encode encodes one chunk.
func (c *Chain) Encode(src []byte) ([]byte, error) {
	var err error
	for _, f := range c.Filters {
		if src, err = f.Encode(src); err != nil {
			return nil, err
		}
	}
	if c.Compressor != nil {
		if src, err = c.Compressor.Encode(src); err != nil {
			return nil, err
		}
	}
	return src, nil
}
