package refread

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/limits"
)

// TestReadLimits: arrays whose declared size is above a limit fail with a
// *limits.Error before anything is allocated or fetched (the fetcher
// fails the test if called), and those within the limits read.
func TestReadLimits(t *testing.T) {
	cases := []struct {
		name                 string
		shape, chunks, dtype string
		lim                  limits.Limits
		what                 string // "" when the read succeeds
		value                uint64
	}{
		{"2^40 time steps", "[1099511627776]", "[1024]", "<f8", limits.Limits{}, limits.CoordElements, 1 << 40},
		{"1e8 time steps", "[100000000]", "[1024]", "<f8", limits.Limits{}, limits.CoordElements, 1e8},
		{"2-D overflowing int", "[4294967296,4294967296]", "[1,1]", "<i4", limits.Limits{}, limits.CoordElements, math.MaxUint64},
		{"lowered element limit", "[100]", "[10]", "<f8", limits.Limits{CoordElements: 99}, limits.CoordElements, 100},
		{"chunk grid", "[100]", "[1]", "<f8", limits.Limits{ChunksPerVariable: 50}, limits.ChunksPerVariable, 100},
		{"long fixed strings", "[2]", "[2]", "|S100000", limits.Limits{StringBytes: 1000}, limits.StringBytes, 100000},
		{"within the limits", "[100]", "[10]", "<f8", limits.Limits{CoordElements: 100, ChunksPerVariable: 10}, "", 0},
		{"no limit", "[100]", "[10]", "<f8", limits.Limits{CoordElements: -1}, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			refs := kerchunk.NewRefs(0)
			refs.SetText("time/.zarray", zarray(c.shape, c.chunks, c.dtype, "null", "null", "null", ""))
			fetched := false
			s := NewStore(refs, FetcherFunc(func(context.Context, string, int64, int64) ([]byte, error) {
				fetched = true
				return nil, os.ErrNotExist
			}))
			s.Limits = c.lim
			a, err := s.Open("time")
			require.NoError(t, err)
			d, err := a.Read(context.Background())
			if c.what == "" {
				require.NoError(t, err)
				assert.Equal(t, 100, d.Len())
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, limits.ErrExceeded)
			var le *limits.Error
			require.ErrorAs(t, err, &le)
			assert.Equal(t, c.what, le.What)
			assert.Equal(t, "time", le.Variable)
			assert.Equal(t, c.value, le.Value)
			assert.False(t, fetched)
		})
	}
}

// TestFetchRanges: a reference whose range lies outside its object is a
// bad reference for the Store (blobio's fetcher refuses it before it
// allocates a buffer, see blobio's TestBlobFetcherRanges).
func TestFetchRanges(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data.bin")
	require.NoError(t, os.WriteFile(path, make([]byte, 64), 0o644))
	for _, r := range []struct {
		off, n int64
		want   error
	}{
		{60, 8, ErrBadRef}, {65, 0, ErrBadRef}, {1, math.MaxInt64, ErrBadRef}, {0, 32, nil},
	} {
		refs := kerchunk.NewRefs(0)
		refs.SetText("v/.zarray", zarray("[4]", "[4]", "<f8", "null", "null", "null", ""))
		refs.Set("v/0", kerchunk.Range(path, r.off, r.n))
		s := NewStore(refs, blobio.NewBlobFetcher(&blobio.Opener{}, 0))
		a, err := s.Open("v")
		require.NoError(t, err)
		_, err = a.Read(ctx)
		if r.want == nil {
			assert.NoError(t, err)
		} else {
			assert.ErrorIs(t, err, r.want, "%+v", r)
		}
		require.NoError(t, s.Close())
	}
	too := &blobio.RangeError{URL: path, Offset: 0, Length: blobio.DefaultMaxFetch + 1, Size: 2 << 30}
	assert.ErrorIs(t, fetchError(too), ErrUnsupported)
}

// TestHugeChunks: a chunk shape whose element count overflows (or that
// could never decode) is refused before its index arithmetic runs.
func TestHugeChunks(t *testing.T) {
	for _, chunks := range []string{"[4294967296,4294967296]", "[1073741824,2]"} {
		refs := kerchunk.NewRefs(0)
		refs.SetText("v/.zarray", zarray("[2,2]", chunks, "<f8", "null", "null", "null", ""))
		refs.Set("v/0.0", kerchunk.Inline(make([]byte, 32)))
		a, err := NewStore(refs, nil).Open("v")
		require.NoError(t, err)
		_, err = a.Read(context.Background())
		assert.ErrorIs(t, err, ErrUnsupported, chunks)
	}
}
