package combine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/kerchunk"
)

// checkRefsTool returns the path of ../shared/tools/check_refs.py and the
// reader stacks to run it on (testenv.Pythons), or skips: cleanly when
// ../shared is absent (a user's clone), and failing with
// VZARR_REQUIRE_TOOLS=1 when a stack or its packages are missing.
func checkRefsTool(t *testing.T) (string, []testenv.Stack) {
	t.Helper()
	tool, ok := testenv.SharedTool("check_refs.py")
	if !ok {
		t.Skip("../shared/tools/check_refs.py is absent: skipping the xarray comparison")
	}
	return tool, testenv.Pythons(t, "xarray", "zarr", "fsspec", "netCDF4")
}

// TestSeries combines every file series of testdata/series (written by
// netCDF4-python, see testdata/gen_series.py) straight from the netCDF
// files, and compares each combined reference with xarray's
// open_mfdataset of the files (shared/tools/check_refs.py --combined).
func TestSeries(t *testing.T) {
	opener := &blobio.Opener{}
	type combined struct{ dir, refs string }
	var ok []combined
	out := t.TempDir()
	for _, m := range testenv.CombineSeries(t) {
		dir := m.Dir
		t.Run(m.Name, func(t *testing.T) {
			var src []Source
			for _, f := range m.Files {
				src = append(src, &URLSource{URL: filepath.Join(dir, f), Opener: opener})
			}
			res, err := Combine(context.Background(), src, Options{ConcatDim: m.ConcatDim, Opener: opener, Logger: quiet})
			if m.Expect == "error" {
				require.Error(t, err)
				var ie *IncompatibleError
				require.ErrorAs(t, err, &ie, "%v", err)
				for _, s := range m.ErrorContains {
					assert.Contains(t, err.Error(), s)
				}
				t.Logf("error as expected: %v", err)
				return
			}
			require.NoError(t, err)
			path := filepath.Join(out, m.Name+".json")
			fh, err := os.Create(path)
			require.NoError(t, err)
			require.NoError(t, kerchunk.WriteJSON(fh, res.Refs, nil))
			require.NoError(t, fh.Close())
			assert.NotEmpty(t, res.TimeRange)
			assert.Len(t, res.SpatialExtent, 4)
			ok = append(ok, combined{dir, path})
			switch m.Name {
			case "same_units":
				assert.Equal(t, []string{"2000-01-01T00:00:00Z", "2000-01-30T00:00:00Z"}, res.TimeRange)
				assert.Equal(t, []float64{-180, -45, 180, 45}, res.SpatialExtent)
				assert.ElementsMatch(t, []string{"tas", "pr"}, keys(res.Variables))
			case "leap_years_raw":
				assert.Equal(t, []string{"1999-01-01T00:00:00Z", "2001-12-31T00:00:00Z"}, res.TimeRange)
				assert.Equal(t, uint64(365+366+365), res.Dimensions["time"])
				assert.NotEmpty(t, res.Warnings)
			case "calendar_noleap":
				assert.Equal(t, []float64{170, 50, -174.5, 55.5}, res.SpatialExtent)
			case "calendar_360":
				assert.Equal(t, []string{"2001-02-21T00:00:00Z", "2001-03-10T00:00:00Z"}, res.TimeRange)
			}
		})
	}
	t.Run("check_refs", func(t *testing.T) {
		tool, stacks := checkRefsTool(t)
		for _, stack := range stacks {
			t.Run(stack.Name, func(t *testing.T) {
				t.Parallel()
				pass := 0
				for _, c := range ok {
					b, err := stack.Command(tool, "--combined", "--refs", c.refs, "--series", c.dir, "-v").CombinedOutput()
					text := string(b)
					if assert.NoError(t, err, "%s: %s", filepath.Base(c.refs), text) && assert.Contains(t, text, "PASS ", text) {
						pass++
					}
					t.Logf("%s", strings.SplitN(text, "\n", 2)[0])
				}
				t.Logf("%s: %d series: %d pass, %d fail", stack.Name, len(ok), pass, len(ok)-pass)
			})
		}
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
