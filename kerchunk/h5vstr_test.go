package kerchunk

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestScalarVlenString translates testdata/nc4_strings_vlen.nc
// (gen_types13.py): the scalar string is a UTF-8 |S<n> scalar with
// _Encoding utf-8 (zarr-python 3.0.6 cannot read a 0-d vlen-utf8 array
// as a string); strings with dimensions stay vlen-utf8 object arrays.
func TestScalarVlenString(t *testing.T) {
	path, err := filepath.Abs("testdata/nc4_strings_vlen.nc")
	require.NoError(t, err)
	res, err := translateFile(path, Options{})
	require.NoError(t, err)
	meta := func(key string) map[string]any {
		r, ok := res.Refs.Get(key)
		require.True(t, ok, key)
		var m map[string]any
		require.NoError(t, json.Unmarshal(r.Data, &m))
		return m
	}
	const comment = "a scalar vlen string, ünïcode"
	za := meta("comment/.zarray")
	assert.Equal(t, "|S31", za["dtype"], "UTF-8 length of %q", comment)
	assert.Equal(t, []any{}, za["shape"])
	assert.Nil(t, za["filters"])
	assert.Nil(t, za["compressor"])
	assert.Equal(t, "utf-8", meta("comment/.zattrs")["_Encoding"])
	r, ok := res.Refs.Get("comment/0")
	require.True(t, ok)
	require.True(t, r.IsInline())
	assert.Equal(t, comment, string(r.Data))
	assert.Equal(t, "str", res.Variables["comment"].Dtype, "the variable's type is still a string")

	for _, name := range []string{"names", "grid"} {
		za := meta(name + "/.zarray")
		assert.Equal(t, "|O", za["dtype"], name)
		assert.Equal(t, []any{map[string]any{"id": "vlen-utf8"}}, za["filters"], name)
		assert.NotContains(t, meta(name+"/.zattrs"), "_Encoding", name)
	}
}

func TestScalarStringChunk(t *testing.T) {
	tests := []struct {
		in, dtype, chunk string
	}{
		{"abc", "|S3", "abc"},
		{"", "|S1", "\x00"}, // numpy has no |S0; the NUL reads back as ""
		{"é", "|S2", "é"},
	}
	for _, tt := range tests {
		p := &varPlan{}
		b, err := scalarStringChunk(p, []byte(tt.in))
		require.NoError(t, err)
		assert.Equal(t, tt.chunk, string(b))
		assert.Equal(t, tt.dtype, p.za.DType.Str)
	}
}
