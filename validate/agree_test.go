package validate_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/validate"
)

// TestInspectAndRefAgree checks that the validation report (vzarr inspect)
// and the kerchunk translation (vzarr ref) describe the same dataset on
// every file: the same variables (translated or listed as skipped) and the
// same dimension names and shape for each translated one, and the same
// dimensions.
func TestInspectAndRefAgree(t *testing.T) {
	ctx := context.Background()
	for _, p := range testenv.SourceFiles(t, "..") {
		t.Run(filepath.Base(p), func(t *testing.T) {
			data := testenv.ReadFixture(t, p)
			rep, err := validate.Inspect(ctx, bytes.NewReader(data), int64(len(data)), p, validate.DefaultOptions())
			require.NoError(t, err)
			abs, err := filepath.Abs(p)
			require.NoError(t, err)
			res, err := kerchunk.Translate(ctx, bytes.NewReader(data), int64(len(data)), abs, kerchunk.Options{SkipUnsupported: true})
			require.NoError(t, err)

			refVars := map[string]bool{}
			for name, v := range res.Variables {
				refVars[name] = true
				if assert.Contains(t, rep.Variables, name, "ref translates %s, inspect does not report it", name) {
					assert.Equal(t, v.Dims, rep.Variables[name].Dims, "dimensions of %s", name)
					assert.Equal(t, v.Shape, rep.Variables[name].Shape, "shape of %s", name)
				}
			}
			for _, s := range res.Skipped {
				refVars[s.Variable] = true
			}
			for name := range rep.Variables {
				assert.True(t, refVars[name], "inspect reports %s, ref neither translates nor skips it", name)
			}
			assert.Equal(t, rep.Dimensions, res.Dimensions, "dimensions")
		})
	}
}
