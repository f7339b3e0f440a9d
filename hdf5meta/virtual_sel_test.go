package hdf5meta

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseSelection decodes serialized selections, and refuses hostile
// ones with typed errors (never a panic, never a large allocation).
func TestParseSelection(t *testing.T) {
	u32 := func(vs ...uint32) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		return b
	}
	u64 := func(vs ...uint64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
		return b
	}
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want Selection
		err  error
	}{
		{"all", u32(3, 1, 0, 0), Selection{Kind: SelectAll}, nil},
		{"v1 one block", u32(2, 1, 0, 0, 2, 1, 4, 0, 7, 5),
			Selection{Kind: SelectHyperslab, Regular: true, Start: []uint64{4, 0}, Stride: []uint64{1, 1}, Count: []uint64{1, 1}, Block: []uint64{4, 6},
				Blocks: [][2][]uint64{{{4, 0}, {7, 5}}}}, nil},
		{"v2 regular", cat(u32(2, 2), []byte{1}, u32(0, 1), u64(2, 3, 4, 5)),
			Selection{Kind: SelectHyperslab, Regular: true, Start: []uint64{2}, Stride: []uint64{3}, Count: []uint64{4}, Block: []uint64{5}}, nil},
		{"v3 regular 2-byte unlimited", cat(u32(2, 3), []byte{1, 2}, u32(1), []byte{0, 0, 1, 0, 0xff, 0xff, 1, 0}),
			Selection{Kind: SelectHyperslab, Regular: true, Start: []uint64{0}, Stride: []uint64{1}, Count: []uint64{SelectUnlimited}, Block: []uint64{1}}, nil},
		{"points", u32(1, 1, 0, 0), Selection{}, ErrUnsupported},
		{"version 9", u32(2, 9, 0, 0), Selection{}, ErrUnsupported},
		{"rank 0", u32(2, 1, 0, 0, 0, 0), Selection{}, ErrFormat},
		{"rank huge", u32(2, 1, 0, 0, 1<<30, 0), Selection{}, ErrFormat},
		{"blocks past the end", u32(2, 1, 0, 0, 1, 1<<20), Selection{}, ErrFormat},
		{"inverted block", u32(2, 1, 0, 0, 1, 1, 5, 2), Selection{}, ErrFormat},
		{"v3 bad size", cat(u32(2, 3), []byte{1, 3}, u32(1)), Selection{}, ErrFormat},
		{"truncated", u32(2, 1, 0), Selection{}, ErrTruncated},
	}
	f := &File{offSize: 8, lenSize: 8}
	for _, tt := range tests {
		got, err := f.parseSelection(f.newDecoder(tt.in, 0, "selection"))
		if tt.err != nil {
			require.Error(t, err, tt.name)
			assert.True(t, errors.Is(err, tt.err), "%s: %v", tt.name, err)
			continue
		}
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.want, got, tt.name)
	}
}
