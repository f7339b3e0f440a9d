package icechunk

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPackUnpack: every kind of ref comes back from its packed form, ranges of
// 4 GiB and more included, and sources are stored once.
func TestPackUnpack(t *testing.T) {
	id := ObjectID{1, 2, 3}
	refs := []ChunkRef{
		{Location: "file:///a.nc", Offset: 1 << 40, Length: 4096, ChecksumLastModified: 7},
		{Location: "file:///a.nc", Offset: 5, Length: 1<<32 - 1, ChecksumLastModified: 7},
		{Location: "file:///b.nc", Offset: 0, Length: 1 << 33, ChecksumETag: "\"x\""},
		{Location: "file:///a.nc", Offset: 9, Length: 1, ChecksumLastModified: 7},
		{Location: "file:///a.nc", Offset: 9, Length: 1, ChecksumLastModified: 8},
		{Inline: []byte{}},
		{Inline: []byte{1, 2}},
		{ChunkID: &id, Offset: 3, Length: 1 << 32},
	}
	pool := &refPool{}
	var packed []packedRef
	for i := range refs {
		pr, err := pool.pack(uint64(i), &refs[i])
		require.NoError(t, err)
		packed = append(packed, pr)
	}
	for i := range refs {
		assert.Equal(t, refs[i], pool.unpack(&packed[i], nil), "ref %d", i)
	}
	assert.Len(t, pool.sources, 3, "a.nc@7, b.nc, a.nc@8")
	assert.Len(t, pool.long, 3, "the ranges of 4 GiB - 1 and more")
}

func TestGridKeys(t *testing.T) {
	g := newGridKeys([]DimShape{{NumChunks: 3}, {NumChunks: 4}, {NumChunks: 5}})
	require.True(t, g.fits)
	prev := uint64(0)
	idx := make([]uint32, 3)
	for i := range uint32(3) {
		for j := range uint32(4) {
			for k := range uint32(5) {
				key := g.key([]uint32{i, j, k})
				if i+j+k > 0 {
					assert.Equal(t, prev+1, key, "row-major order is index order")
				}
				prev = key
				assert.Equal(t, []uint32{i, j, k}, g.index(key, idx))
				assert.Equal(t, i, g.first(key))
			}
		}
	}
	assert.False(t, newGridKeys([]DimShape{{NumChunks: 1 << 31}, {NumChunks: 1 << 31}, {NumChunks: 1 << 3}}).fits)
	assert.True(t, newGridKeys([]DimShape{{NumChunks: 1 << 31}, {NumChunks: 1 << 31}, {NumChunks: 1 << 1}}).fits)
	assert.True(t, newGridKeys(nil).fits, "a scalar has one chunk")
}

// TestRegrid: refs set before a grid change keep their chunk index; those
// outside the new grid go.
func TestRegrid(t *testing.T) {
	pool := &refPool{}
	a := &arrayRefs{}
	require.NoError(t, a.regrid([]DimShape{{NumChunks: 2}, {NumChunks: 3}}))
	for _, idx := range [][]uint32{{0, 2}, {1, 0}, {1, 2}} {
		pr, err := pool.pack(a.grid.key(idx), &ChunkRef{Inline: []byte{byte(idx[0]), byte(idx[1])}})
		require.NoError(t, err)
		a.add(pr)
	}
	require.NoError(t, a.regrid([]DimShape{{NumChunks: 4}, {NumChunks: 2}}))
	var got [][]uint32
	for i := 0; i < a.n; i++ {
		idx := a.grid.index(a.at(i).key, make([]uint32, 2))
		assert.Equal(t, []byte{byte(idx[0]), byte(idx[1])}, pool.unpack(a.at(i), nil).Inline)
		got = append(got, idx)
	}
	assert.Equal(t, [][]uint32{{1, 0}}, got)
	assert.ErrorIs(t, a.regrid([]DimShape{{NumChunks: 1 << 31}, {NumChunks: 1 << 31}, {NumChunks: 1 << 31}}), ErrInvalidArgument)
}
