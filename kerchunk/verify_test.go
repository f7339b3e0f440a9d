package kerchunk_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	. "github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/refread"
)

func verifyFile(t *testing.T, path string, refs *Refs, sample int) *refread.VerifyReport {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	rep, err := refread.Verify(context.Background(), refs, f, st.Size(), refread.VerifyOptions{Sample: sample, Fetcher: refread.FetcherFunc(LocalFetch)})
	require.NoError(t, err)
	return rep
}

// TestVerifyFixtures checks every chunk of every fixture's references
// against the source, without Python.
func TestVerifyFixtures(t *testing.T) {
	files := InteropInputs(t, t.TempDir())
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			res, err := TranslateFile(path, Options{SkipUnsupported: true})
			require.NoError(t, err)
			// Round trip through JSON, as a reader would see them.
			var buf bytes.Buffer
			require.NoError(t, WriteJSON(&buf, res.Refs, nil))
			refs, err := ReadJSON(&buf)
			require.NoError(t, err)
			rep := verifyFile(t, path, refs, 0)
			for _, m := range rep.Mismatches {
				if strings.Contains(m.Reason, "external file") {
					continue // external raw storage is read through the references only
				}
				t.Errorf("%s %s: %s", m.Array, m.Chunk, m.Reason)
			}
			assert.Equal(t, len(res.Variables), rep.Arrays)
		})
	}
}

// TestVerifyDetectsDamage: a reference to the wrong bytes, a wrong codec
// and a missing chunk are all reported.
func TestVerifyDetectsDamage(t *testing.T) {
	path := "../testdata/hdf5/nc4_basic.nc"
	if _, err := os.Stat(path); err != nil {
		t.Skip("fixture missing")
	}
	abs, _ := filepath.Abs(path)
	res, err := TranslateFile(abs, Options{})
	require.NoError(t, err)
	refs := res.Refs
	rep := verifyFile(t, abs, refs, 0)
	require.True(t, rep.OK(), rep.Mismatches)

	// Shift one chunk reference by a byte.
	var key string
	for _, k := range refs.Keys() {
		if r, _ := refs.Get(k); !r.IsInline() && strings.HasPrefix(k, "tas/") {
			key = k
			break
		}
	}
	require.NotEmpty(t, key)
	orig, _ := refs.Get(key)
	bad := orig
	bad.Offset++
	refs.Set(key, bad)
	rep = verifyFile(t, abs, refs, 0)
	require.False(t, rep.OK())
	assert.Equal(t, "tas", rep.Mismatches[0].Array)

	// Drop it: fill_value is the netCDF _FillValue, which differs from data.
	refs.Delete(key)
	rep = verifyFile(t, abs, refs, 0)
	require.False(t, rep.OK())
	refs.Set(key, orig)
	rep = verifyFile(t, abs, refs, 0)
	assert.True(t, rep.OK(), rep.Mismatches)
}

// TestFillBudgetFallback: past the fill budget, never-written chunks are
// left to fill_value (raw reads stay exact) and a warning says so.
func TestFillBudgetFallback(t *testing.T) {
	abs, err := filepath.Abs("testdata/nc4_edge.nc")
	require.NoError(t, err)
	res, err := TranslateFile(abs, Options{FillBudget: 1})
	require.NoError(t, err)
	require.NotEmpty(t, res.Warnings)
	assert.Contains(t, strings.Join(res.Warnings, "\n"), "zlib_nofill: ")
	txt, _ := res.Refs.Text("zlib_nofill/.zarray")
	assert.Contains(t, txt, `"fill_value":9.969209968386869e+36`)
	_, ok := res.Refs.Get("zlib_nofill/3.2")
	assert.False(t, ok)
	rep := verifyFile(t, abs, res.Refs, 0)
	assert.True(t, rep.OK(), "%v", rep.Mismatches)

	// With the default budget the chunks are written out and fill_value
	// stays null: no mask for xarray.
	res, err = TranslateFile(abs, Options{})
	require.NoError(t, err)
	txt, _ = res.Refs.Text("zlib_nofill/.zarray")
	assert.Contains(t, txt, `"fill_value":null`)
	_, ok = res.Refs.Get("zlib_nofill/3.2")
	assert.True(t, ok)
	txt, _ = res.Refs.Text("raw_int_nofill/.zarray")
	assert.Contains(t, txt, `"fill_value":null`)
	txt, _ = res.Refs.Text("zlib_fill/.zarray")
	assert.Contains(t, txt, `"fill_value":-1.0`)
	_, ok = res.Refs.Get("zlib_fill/3.2") // never written, reads as fill_value
	assert.False(t, ok)
}
