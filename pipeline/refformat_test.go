package pipeline_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/pipeline"
	"github.com/greensight/vzarr/refstore"
)

// TestRefFormats: the ref and combine stages write JSON or a Parquet set
// (ref_format, else by the URL's name), and read either back; an unknown
// ref_format is invalid_params.
func TestRefFormats(t *testing.T) {
	dir := t.TempDir()
	src, err := filepath.Abs(filepath.Join("..", "testdata", "sample", "tas_2015.nc"))
	require.NoError(t, err)
	deps := &pipeline.Deps{}
	run := func(stage string, params any) pipeline.Envelope {
		b, err := json.Marshal(params)
		require.NoError(t, err)
		return pipeline.Run(context.Background(), deps, stage, b)
	}
	for _, tc := range []struct {
		name, refURL, format string
		isSet                bool
	}{
		{"json", "a.json", "", false},
		{"parquet by name", "b.parq", "", true},
		{"parquet by format", "c", "parquet", true},
		{"json by format", "d.parq", "json", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refURL := filepath.Join(dir, tc.refURL)
			env := run(pipeline.StageRef, map[string]any{"nc_url": src, "ref_url": refURL, "ref_format": tc.format})
			require.True(t, env.Success, env.Error)
			fi, err := os.Stat(refURL)
			require.NoError(t, err)
			assert.Equal(t, tc.isSet, fi.IsDir())

			combined := refURL + ".combined"
			env = run(pipeline.StageCombine, map[string]any{"dataset_id": "d", "ref_urls": []string{refURL}, "concat_dim": "time",
				"combined_ref_url": combined, "ref_format": tc.format})
			require.True(t, env.Success, env.Error)
			back, err := (&refstore.Store{}).Load(context.Background(), combined)
			require.NoError(t, err)
			assert.Positive(t, back.Len())
		})
	}
	for _, stage := range []string{pipeline.StageRef, pipeline.StageCombine} {
		env := run(stage, map[string]any{"nc_url": src, "ref_url": filepath.Join(dir, "x"), "ref_format": "xml"})
		if stage == pipeline.StageCombine {
			env = run(stage, map[string]any{"dataset_id": "d", "ref_urls": []string{src}, "concat_dim": "time",
				"combined_ref_url": filepath.Join(dir, "x"), "ref_format": "xml"})
		}
		assert.False(t, env.Success, stage)
		assert.Equal(t, pipeline.ErrTypeInvalidParams, env.ErrorType, env.Error)
	}
}
