package codecs

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testData(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		if i%7 < 4 {
			b[i] = byte(i / 13)
		} else {
			b[i] = byte(r.IntN(256))
		}
	}
	return b
}

func TestShuffleRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 3, 8, 17, 1000} {
		for _, size := range []int{1, 2, 4, 8, 41} {
			d := testData(n)
			s := Shuffle(d, size)
			assert.Equal(t, d, Unshuffle(s, size), "n=%d size=%d", n, size)
		}
	}
	// Known layout: two 4-byte elements.
	assert.Equal(t, []byte{1, 5, 2, 6, 3, 7, 4, 8}, Shuffle([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 4))
	// Trailing bytes are left in place, as libhdf5 does.
	assert.Equal(t, []byte{1, 3, 2, 4, 9}, Shuffle([]byte{1, 2, 3, 4, 9}, 2))
	assert.False(t, ShuffleCompatible(12, 8))
	assert.True(t, ShuffleCompatible(16, 8))
}

func TestFletcher32(t *testing.T) {
	// Values from the reference implementation of libhdf5's
	// H5_checksum_fletcher32 (big-endian 16-bit words).
	assert.Equal(t, uint32(0x4ff029c7), Fletcher32([]byte("abcde")))
	assert.Equal(t, uint32(0x50562a2d), Fletcher32([]byte("abcdef")))
	d := testData(4001)
	enc := Fletcher32Encode(d)
	dec, err := Fletcher32Decode(enc)
	require.NoError(t, err)
	assert.Equal(t, d, dec)
	enc[10] ^= 1
	_, err = Fletcher32Decode(enc)
	assert.ErrorIs(t, err, ErrCorrupt)
	_, err = Fletcher32Decode([]byte{1, 2})
	assert.ErrorIs(t, err, ErrCorrupt)
}

func TestLZFRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 40, 1000, 100000} {
		d := testData(n)
		enc := LZFEncode(d)
		dec, err := LZFDecode(enc, n)
		require.NoError(t, err)
		assert.Equal(t, d, dec, n)
	}
	same := bytes.Repeat([]byte{7}, 100000)
	enc := LZFEncode(same)
	assert.Less(t, len(enc), 1500)
	_, err := LZFDecode([]byte{0xe0}, 0) // back reference without its bytes
	assert.Error(t, err)
	_, err = LZFDecode([]byte{0x20, 0x05}, 0) // reference before the start
	assert.Error(t, err)
}

func TestZlibRoundTrip(t *testing.T) {
	d := testData(50000)
	enc, err := ZlibEncode(d, 6)
	require.NoError(t, err)
	dec, err := ZlibDecode(enc, len(d))
	require.NoError(t, err)
	assert.Equal(t, d, dec)
	_, err = ZlibDecode([]byte("not zlib"), 0)
	assert.ErrorIs(t, err, ErrCorrupt)
}

func TestChainMatchesNumcodecsOrder(t *testing.T) {
	// filters [shuffle, zlib, fletcher32] as the translator writes them for
	// HDF5 shuffle+deflate+fletcher32.
	c, err := NewChain([]Config{{"id": "shuffle", "elementsize": 4.0}, {"id": "zlib", "level": 4.0}, {"id": "fletcher32"}}, nil)
	require.NoError(t, err)
	d := testData(4096)
	enc, err := c.Encode(d)
	require.NoError(t, err)
	// The stored form is fletcher32(zlib(shuffle(d))).
	body, err := Fletcher32Decode(enc)
	require.NoError(t, err)
	inf, err := ZlibDecode(body, 0)
	require.NoError(t, err)
	assert.Equal(t, Shuffle(d, 4), inf)
	dec, err := c.Decode(enc)
	require.NoError(t, err)
	assert.Equal(t, d, dec)

	for _, cfg := range []Config{{"id": "zstd", "level": 3.0}, {"id": "lz4"}, {"id": "gzip", "level": 5.0}, {"id": "imagecodecs_lzf", "header": true}} {
		c, err := NewChain(nil, cfg)
		require.NoError(t, err)
		enc, err := c.Encode(d)
		require.NoError(t, err, cfg)
		dec, err := c.Decode(enc)
		require.NoError(t, err, cfg)
		assert.Equal(t, d, dec, cfg)
	}
	_, err = NewChain(nil, Config{"id": "blosc"})
	assert.ErrorIs(t, err, ErrUnsupported)
}

func TestVLenUTF8(t *testing.T) {
	items := []string{"", "a", "héllo", "😀"}
	enc := VLenUTF8Encode(items)
	assert.Equal(t, uint32(4), binary.LittleEndian.Uint32(enc))
	dec, err := VLenUTF8Decode(enc)
	require.NoError(t, err)
	assert.Equal(t, items, dec)
	_, err = VLenUTF8Decode(enc[:len(enc)-1])
	assert.Error(t, err)
	_, err = VLenUTF8Decode([]byte{255, 255, 255, 255})
	assert.Error(t, err)
}
