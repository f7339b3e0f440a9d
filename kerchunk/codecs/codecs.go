// Package codecs holds pure-Go implementations of the byte transforms that
// HDF5 filters and Zarr v2 (numcodecs) codecs apply to chunks: zlib
// (deflate), shuffle, Fletcher-32, LZF, zstd, numcodecs' LZ4 framing and
// the vlen-utf8 string encoding, plus decoders for the HDF5 filters that
// have no Zarr codec (n-bit and scale-offset live in package kerchunk,
// which knows the datatypes).
//
// Two users: vzarr verify, which decodes chunks read through a reference
// exactly as numcodecs would, and the kerchunk translator, which decodes
// chunks a Zarr reader could not (a per-chunk filter mask, a filter
// without a Zarr codec) and re-encodes them, or fill-value chunks, with the
// variable's codec chain. Every decoder bounds its output, so a corrupt or
// hostile chunk yields an error, not a huge allocation.
package codecs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/klauspost/compress/zlib"
	"io"
	"sync"
)

// ErrCorrupt reports data that a decoder cannot decode.
var ErrCorrupt = errors.New("codecs: corrupt data")

// MaxDecoded bounds the size of one decoded chunk (1 GiB).
const MaxDecoded = 1 << 30

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// ---------------------------------------------------------------- zlib

// ZlibDecode inflates a zlib stream (HDF5's deflate filter, numcodecs'
// "zlib"). sizeHint, when positive, is the expected decoded size.
func ZlibDecode(src []byte, sizeHint int) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(src))
	if err != nil {
		return nil, corrupt("zlib: %v", err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	if sizeHint > 0 && sizeHint <= MaxDecoded {
		buf.Grow(sizeHint)
	}
	n, err := io.Copy(&buf, io.LimitReader(zr, MaxDecoded+1))
	if err != nil {
		return nil, corrupt("zlib: %v", err)
	}
	if n > MaxDecoded {
		return nil, corrupt("zlib: more than %d bytes", MaxDecoded)
	}
	return buf.Bytes(), nil
}

var zlibPools [11]sync.Pool // by level+1

// ZlibEncode deflates src into a zlib stream at the given level (0-9; -1
// for the default). Compressors are pooled.
func ZlibEncode(src []byte, level int) ([]byte, error) {
	if level < -1 || level > 9 {
		level = -1
	}
	var buf bytes.Buffer
	buf.Grow(len(src)/4 + 64)
	pool := &zlibPools[level+1]
	zw, _ := pool.Get().(*zlib.Writer)
	if zw == nil {
		var err error
		if zw, err = zlib.NewWriterLevel(&buf, level); err != nil {
			return nil, err
		}
	} else {
		zw.Reset(&buf)
	}
	if _, err := zw.Write(src); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	pool.Put(zw)
	return buf.Bytes(), nil
}

// ---------------------------------------------------------------- shuffle

// Unshuffle reverses HDF5's shuffle filter for elements of size bytes:
// the first len/size*size bytes are transposed back, trailing bytes are
// copied unchanged (numcodecs' Shuffle instead refuses a length that is not
// a multiple of size; see ShuffleCompatible).
func Unshuffle(src []byte, size int) []byte {
	out := make([]byte, len(src))
	if size <= 1 || len(src) < size {
		copy(out, src)
		return out
	}
	n := len(src) / size
	for b := 0; b < size; b++ {
		plane := src[b*n : (b+1)*n]
		for i, c := range plane {
			out[i*size+b] = c
		}
	}
	copy(out[n*size:], src[n*size:])
	return out
}

// Shuffle applies HDF5's shuffle filter (the inverse of Unshuffle).
func Shuffle(src []byte, size int) []byte {
	out := make([]byte, len(src))
	if size <= 1 || len(src) < size {
		copy(out, src)
		return out
	}
	n := len(src) / size
	for b := 0; b < size; b++ {
		plane := out[b*n : (b+1)*n]
		for i := range plane {
			plane[i] = src[i*size+b]
		}
	}
	copy(out[n*size:], src[n*size:])
	return out
}

// ShuffleCompatible reports whether numcodecs' Shuffle(elementsize=size)
// decodes a buffer of n bytes as HDF5 does: it rejects lengths that are not
// a multiple of the element size.
func ShuffleCompatible(n, size int) bool { return size <= 1 || n%size == 0 }

// ---------------------------------------------------------------- fletcher32

// Fletcher32 computes HDF5's Fletcher-32 checksum (H5_checksum_fletcher32):
// big-endian 16-bit words, an odd last byte as the high byte of a word.
func Fletcher32(data []byte) uint32 {
	var sum1, sum2 uint32
	n := len(data) / 2
	p := 0
	for n > 0 {
		t := min(n, 360)
		n -= t
		for ; t > 0; t-- {
			sum1 += uint32(data[p])<<8 | uint32(data[p+1])
			p += 2
			sum2 += sum1
		}
		sum1 = (sum1 & 0xffff) + (sum1 >> 16)
		sum2 = (sum2 & 0xffff) + (sum2 >> 16)
	}
	if len(data)%2 == 1 {
		sum1 += uint32(data[len(data)-1]) << 8
		sum2 += sum1
		sum1 = (sum1 & 0xffff) + (sum1 >> 16)
		sum2 = (sum2 & 0xffff) + (sum2 >> 16)
	}
	sum1 = (sum1 & 0xffff) + (sum1 >> 16)
	sum2 = (sum2 & 0xffff) + (sum2 >> 16)
	return sum2<<16 | sum1
}

// Fletcher32Decode checks and strips the 4-byte little-endian checksum that
// HDF5's fletcher32 filter appends (accepting the half-swapped form old
// libhdf5 versions wrote, as libhdf5 does).
func Fletcher32Decode(src []byte) ([]byte, error) {
	if len(src) < 4 {
		return nil, corrupt("fletcher32: chunk of %d bytes is shorter than its checksum", len(src))
	}
	body := src[:len(src)-4]
	stored := binary.LittleEndian.Uint32(src[len(src)-4:])
	want := Fletcher32(body)
	if stored != want && stored != (want<<16|want>>16) {
		return nil, corrupt("fletcher32: checksum mismatch (stored %#08x, computed %#08x)", stored, want)
	}
	return body, nil
}

// Fletcher32Encode appends the checksum of src.
func Fletcher32Encode(src []byte) []byte {
	out := make([]byte, len(src)+4)
	copy(out, src)
	binary.LittleEndian.PutUint32(out[len(src):], Fletcher32(src))
	return out
}

// ---------------------------------------------------------------- vlen-utf8

// VLenUTF8Encode encodes strings as numcodecs' VLenUTF8 does: a
// little-endian uint32 item count, then each item as a uint32 byte length
// and its UTF-8 bytes.
func VLenUTF8Encode(items []string) []byte {
	n := 4
	for _, s := range items {
		n += 4 + len(s)
	}
	out := make([]byte, 4, n)
	binary.LittleEndian.PutUint32(out, uint32(len(items)))
	for _, s := range items {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(s)))
		out = append(out, s...)
	}
	return out
}

// VLenUTF8Decode decodes numcodecs' VLenUTF8 encoding.
func VLenUTF8Decode(src []byte) ([]string, error) {
	items, err := VLenItems(src)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(items))
	for i, b := range items {
		out[i] = string(b)
	}
	return out, nil
}

// VLenItems splits the framing numcodecs' vlen-utf8, vlen-bytes and
// vlen-array codecs share: a little-endian uint32 item count, then each
// item as a uint32 length and its bytes. The items are views of src.
func VLenItems(src []byte) ([][]byte, error) {
	if len(src) < 4 {
		return nil, corrupt("vlen: %d bytes", len(src))
	}
	n := binary.LittleEndian.Uint32(src)
	if uint64(n)*4 > uint64(len(src)-4) {
		return nil, corrupt("vlen: %d items in %d bytes", n, len(src))
	}
	out := make([][]byte, n)
	p := 4
	for i := range out {
		if p+4 > len(src) {
			return nil, corrupt("vlen: truncated at item %d", i)
		}
		l := int(binary.LittleEndian.Uint32(src[p:]))
		p += 4
		if l < 0 || l > len(src)-p {
			return nil, corrupt("vlen: item %d of %d bytes past the end", i, l)
		}
		out[i] = src[p : p+l]
		p += l
	}
	return out, nil
}
