package refread

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/kerchunk/codecs"
)

// ChunkBytes gives the decoded bytes of any fixed-size dtype, the fill
// value for a missing chunk, and the items of vlen chunks.
func TestChunkBytes(t *testing.T) {
	ctx := context.Background()
	refs := kerchunk.NewRefs(0)
	refs.SetText("c/.zarray", strings.Replace(zarray("[3]", "[2]", "X", `"AAAAAAAAgD8="`, "null", "null", ""), `"X"`, `[["r","<f4"],["i","<f4"]]`, 1))
	chunk := le64(1.5, -2) // two 8-byte elements
	refs.Set("c/0", kerchunk.Inline(chunk))
	refs.SetText("o/.zarray", zarray("[2]", "[2]", "|O", "null", "null", `[{"id":"vlen-bytes"}]`, ""))
	refs.Set("o/0", kerchunk.Inline(codecs.VLenUTF8Encode([]string{"ab", ""})))
	refs.SetText("n/.zarray", zarray("[2]", "[1]", "<f8", "null", "null", "null", ""))
	s := NewStore(refs, nil)
	defer s.Close()

	c, err := s.Open("c")
	require.NoError(t, err)
	raw, items, err := c.ChunkBytes(ctx, []int{0})
	require.NoError(t, err)
	assert.Nil(t, items)
	assert.Equal(t, chunk, raw)
	raw, _, err = c.ChunkBytes(ctx, []int{1}) // missing: the fill, repeated
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0, 0, 0, 0, 0x80, 0x3f}, raw)

	o, err := s.Open("o")
	require.NoError(t, err)
	raw, items, err = o.ChunkBytes(ctx, []int{0})
	require.NoError(t, err)
	assert.Nil(t, raw)
	assert.Equal(t, [][]byte{[]byte("ab"), {}}, items)

	n, err := s.Open("n")
	require.NoError(t, err)
	_, _, err = n.ChunkBytes(ctx, []int{0})
	assert.ErrorIs(t, err, ErrBadRef, "no reference and a null fill")
	refs.Set("n/1", kerchunk.Inline([]byte{1, 2, 3}))
	_, _, err = n.ChunkBytes(ctx, []int{1})
	assert.ErrorIs(t, err, ErrBadRef, "a chunk of the wrong size")
	_, _, err = n.ChunkBytes(ctx, []int{0, 0})
	assert.Error(t, err)
}

func TestSamplePositions(t *testing.T) {
	assert.Equal(t, [][]int{{0, 0}, {0, 1}, {1, 0}, {1, 1}}, samplePositions([]int{2, 2}, 0))
	assert.Equal(t, [][]int{{0, 0}, {1, 1}}, samplePositions([]int{2, 2}, 2))
	assert.Equal(t, [][]int{{0}}, samplePositions([]int{5}, 1))
	assert.Nil(t, samplePositions([]int{0, 3}, 0))
	assert.Len(t, samplePositions([]int{1 << 20, 1 << 20}, 3), 3)
}
