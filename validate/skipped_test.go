package validate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/kerchunk"
)

// TestInspectSkippedVariable: the report warns about the variables that
// kerchunk translation leaves out (the same ones, for the same reason).
func TestInspectSkippedVariable(t *testing.T) {
	path := filepath.Join("..", "kerchunk", "testdata", "h5_regionref.h5")
	rep := inspectFile(t, path, DefaultOptions())
	var got []Finding
	for _, f := range append(rep.Warnings, rep.Errors...) {
		if f.Code == "skipped_variable" {
			got = append(got, f)
		}
	}
	require.Len(t, got, 1)
	assert.Equal(t, "regions", got[0].Variable)

	res := translate(t, path)
	require.Len(t, res.Skipped, 1)
	assert.Equal(t, res.Skipped[0].Variable, got[0].Variable)
	assert.Contains(t, got[0].Message, res.Skipped[0].Reason)
}

func translate(t *testing.T, path string) *kerchunk.Result {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	res, err := kerchunk.Translate(context.Background(), bytes.NewReader(b), int64(len(b)), path, kerchunk.Options{})
	require.NoError(t, err)
	return res
}

// TestInspectNonIEEEFloat: bfloat16 and other float layouts are no longer
// left out (kerchunk decodes them), and the report says they are decoded
// and inlined.
func TestInspectNonIEEEFloat(t *testing.T) {
	path := filepath.Join("..", "kerchunk", "testdata", "h5_nbit_float.h5")
	rep := inspectFile(t, path, DefaultOptions())
	got := map[string]string{}
	for _, f := range append(rep.Warnings, rep.Errors...) {
		assert.NotEqual(t, "skipped_variable", f.Code, f.Variable)
		if f.Code == "non_ieee_float" {
			got[f.Variable] = f.Message
		}
	}
	assert.Len(t, got, 5)
	assert.Contains(t, got["bf16"], "2-byte floats with 8 exponent and 7 mantissa bits")
	assert.Contains(t, got["bf16"], "float32")
	res := translate(t, path)
	assert.Empty(t, res.Skipped)
}
