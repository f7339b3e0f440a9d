package kerchunk

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSkipUnusable: a variable no Zarr reader can use (region references)
// is left out by default, listed with its reason and warned about; Strict
// refuses the file; the other variables are translated either way.
func TestSkipUnusable(t *testing.T) {
	path, err := filepath.Abs("testdata/h5_regionref.h5")
	require.NoError(t, err)

	res, err := translateFile(path, Options{})
	require.NoError(t, err)
	require.Len(t, res.Skipped, 1)
	assert.Equal(t, "regions", res.Skipped[0].Variable)
	assert.Contains(t, res.Skipped[0].Reason, "region references")
	require.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0], "regions")
	assert.ElementsMatch(t, []string{"grid", "count"}, res.VarOrder)
	for _, k := range res.Refs.Keys() {
		assert.NotContains(t, k, "regions", "no key of the skipped variable")
	}

	_, err = translateFile(path, Options{Strict: true})
	require.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), "regions")

	// Strict overrides SkipUnsupported.
	_, err = translateFile(path, Options{Strict: true, SkipUnsupported: true})
	require.ErrorIs(t, err, ErrUnsupported)
}

// TestUnwrittenKeepsCodecs: a variable none of whose chunks was written
// keeps its file's codec chain (shuffle, zlib 4), as in the file of the
// same series where it was written, so that combine accepts the pair.
func TestUnwrittenKeepsCodecs(t *testing.T) {
	zarray := func(name string) map[string]any {
		path, err := filepath.Abs(filepath.Join("testdata", name))
		require.NoError(t, err)
		res, err := translateFile(path, Options{})
		require.NoError(t, err)
		r, ok := res.Refs.Get("precip/.zarray")
		require.True(t, ok)
		var za map[string]any
		require.NoError(t, json.Unmarshal(r.Data, &za))
		return za
	}
	a, b := zarray("nc4_unwritten_a.nc"), zarray("nc4_unwritten_b.nc")
	require.NotNil(t, b["filters"])
	assert.Equal(t, b["filters"], a["filters"])
	assert.Equal(t, b["compressor"], a["compressor"])
	assert.Equal(t, b["fill_value"], a["fill_value"])
}
