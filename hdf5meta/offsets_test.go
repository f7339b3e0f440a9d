package hdf5meta

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOffsetsNext: the offsets cut from shared blocks are zeroed, never
// nil, independent of each other (an append copies) and few allocations.
func TestOffsetsNext(t *testing.T) {
	for _, rank := range []int{0, 1, 3, 7, offsetBlock/4 + 1} {
		var o offsets
		var got [][]uint64
		for i := 0; i < 2*offsetBlock; i++ {
			s := o.next(rank)
			require.NotNil(t, s)
			require.Len(t, s, rank)
			require.Equal(t, rank, cap(s), "capped")
			for j := range s {
				require.Zero(t, s[j])
				s[j] = uint64(i*10 + j)
			}
			got = append(got, s)
		}
		if rank > 0 {
			_ = append(got[0], 99) // must not write into got[1]
			assert.Equal(t, uint64(10), got[1][0], "rank %d", rank)
		}
		for i, s := range got {
			for j := range s {
				if s[j] != uint64(i*10+j) {
					t.Fatalf("rank %d: offset %d overwritten", rank, i)
				}
			}
		}
	}
	var o offsets
	allocs := testing.AllocsPerRun(10, func() {
		for i := 0; i < offsetBlock; i++ {
			o.next(2)
		}
	})
	assert.LessOrEqual(t, allocs, 2.0)
}
