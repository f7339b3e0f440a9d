package kerchunk_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	. "github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/zarr"
)

// consolidatedOf parses the .zmetadata text of refs: its metadata members
// (raw, as written) and its format.
func consolidatedOf(t *testing.T, text []byte) (map[string]json.RawMessage, int) {
	t.Helper()
	var z struct {
		Metadata map[string]json.RawMessage `json:"metadata"`
		Format   int                        `json:"zarr_consolidated_format"`
	}
	require.NoError(t, json.Unmarshal(zarr.QuoteNonFinite(text), &z))
	return z.Metadata, z.Format
}

// requireInStep checks that the .zmetadata of refs holds every metadata
// key of refs (but .zmetadata itself) with identical text, and nothing else.
func requireInStep(t *testing.T, refs *Refs) {
	t.Helper()
	zm, ok := refs.Text(ConsolidatedKey)
	require.True(t, ok, "no %s", ConsolidatedKey)
	meta, format := consolidatedOf(t, []byte(zm))
	assert.Equal(t, 1, format)
	n := 0
	refs.All(func(k string, r Ref) bool {
		if !IsMetadataKey(k) || k == ConsolidatedKey {
			return true
		}
		n++
		got, ok := meta[k]
		if assert.True(t, ok, "%s missing from .zmetadata", k) {
			assert.Equal(t, string(zarr.QuoteNonFinite(r.Data)), string(got), k)
		}
		return true
	})
	assert.Len(t, meta, n, "keys in .zmetadata that are not metadata keys of the set")
}

// TestConsolidatedInStepFixtures: every fixture's references, as written
// in JSON and in Parquet and read back, carry a .zmetadata in step with
// their metadata keys.
func TestConsolidatedInStepFixtures(t *testing.T) {
	for _, path := range InteropInputs(t, t.TempDir()) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			res, err := TranslateFile(path, Options{SkipUnsupported: true})
			require.NoError(t, err)
			requireInStep(t, res.Refs)

			var buf bytes.Buffer
			require.NoError(t, WriteJSON(&buf, res.Refs, nil))
			fromJSON, err := ReadJSON(&buf)
			require.NoError(t, err)
			requireInStep(t, fromJSON)

			files := map[string][]byte{}
			require.NoError(t, WriteParquetSet(res.Refs, func(name string, d []byte) error { files[name] = d; return nil }, nil))
			// The set's own .zmetadata is the consolidated metadata fsspec
			// serves: no nested .zmetadata, the format marked.
			meta, format := consolidatedOf(t, files[ConsolidatedKey])
			assert.Equal(t, 1, format)
			assert.NotContains(t, meta, ConsolidatedKey)
			fromPq, err := ReadParquetSet(func(name string) ([]byte, error) {
				if d, ok := files[name]; ok {
					return d, nil
				}
				return nil, errors.New("absent")
			})
			require.NoError(t, err)
			requireInStep(t, fromPq)
			assert.Equal(t, res.Refs.Len(), fromPq.Len())
		})
	}
}

// TestConsolidate: a second call replaces .zmetadata in place, a group's
// .zmetadata and chunks stay out of it, chunk references are untouched,
// and metadata that is not JSON is an ErrBadRefs error.
func TestConsolidate(t *testing.T) {
	refs := NewRefs(0)
	refs.SetText(".zgroup", `{"zarr_format":2}`)
	refs.SetText("g/.zmetadata", `{"metadata":{}}`)
	refs.SetText("g/v/.zattrs", `{"n":NaN,"s":"é"}`)
	refs.Set("g/v/0", Range("file:///x.nc", 10, 20))
	require.NoError(t, refs.Consolidate())
	refs.SetText(".zattrs", `{"title":"t"}`)
	require.NoError(t, refs.Consolidate())
	assert.Equal(t, []string{".zgroup", "g/.zmetadata", "g/v/.zattrs", "g/v/0", ConsolidatedKey, ".zattrs"}, refs.Keys())
	zm, _ := refs.Text(ConsolidatedKey)
	meta, _ := consolidatedOf(t, []byte(zm))
	assert.Len(t, meta, 3)
	assert.Equal(t, `{"title":"t"}`, string(meta[".zattrs"]))
	assert.Equal(t, `{"n":"NaN","s":"\u00e9"}`, string(meta["g/v/.zattrs"]), "ASCII, NaN as zarr writes it")
	r, _ := refs.Get("g/v/0")
	assert.Equal(t, Range("file:///x.nc", 10, 20), r)

	bad := NewRefs(0)
	bad.SetText(".zgroup", `{"zarr_format":`)
	assert.ErrorIs(t, bad.Consolidate(), ErrBadRefs)
	bad = NewRefs(0)
	bad.Set("v/.zarray", Range("file:///x.nc", 0, 4))
	assert.ErrorIs(t, bad.Consolidate(), ErrBadRefs)
}
