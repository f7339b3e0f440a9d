package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/pipeline"
)

func runStage(t *testing.T, deps *pipeline.Deps, stage string, params any) pipeline.Envelope {
	t.Helper()
	b, err := json.Marshal(params)
	require.NoError(t, err)
	return pipeline.Run(context.Background(), deps, stage, b)
}

// TestCombineStageLimits: the combine stage (CombineRefs) fails with
// error_type limit_exceeded on references declaring 2^40 time steps, and
// Deps.Limits reach the stages.
func TestCombineStageLimits(t *testing.T) {
	py := testenv.Python(t, "netCDF4", "h5py", "numpy")
	dir := t.TempDir()
	nc := filepath.Join(dir, "huge.nc")
	out, err := exec.Command(py, filepath.Join("..", "testdata", "gen_huge_time.py"), nc, fmt.Sprint(1<<40)).CombinedOutput()
	require.NoError(t, err, "%s", out)

	deps := &pipeline.Deps{Opener: &blobio.Opener{}}
	ref := filepath.Join(dir, "huge.json")
	env := runStage(t, deps, pipeline.StageRef, pipeline.RefParams{NCURL: nc, RefURL: ref})
	require.True(t, env.Success, env.Error)

	combined := filepath.Join(dir, "combined.json")
	env = runStage(t, deps, pipeline.StageCombine, pipeline.CombineParams{DatasetID: "d", RefURLs: []string{ref, ref},
		ConcatDim: "time", CombinedRefURL: combined})
	require.False(t, env.Success)
	assert.Equal(t, pipeline.ErrTypeLimitExceeded, env.ErrorType)
	for _, want := range []string{ref, `"time"`, "2199023255552", "50000000"} {
		assert.Contains(t, env.Error, want)
	}
	_, err = os.Stat(combined)
	assert.True(t, os.IsNotExist(err), "nothing written")

	// Deps.Limits reach the stages: a file of the sample translates under
	// a limit of 10 elements per coordinate (translation reads none), but
	// combine reads its 12 monthly times; a limit of 2 chunks per file
	// stops the translation itself.
	small := &pipeline.Deps{Opener: &blobio.Opener{}, Limits: limits.Limits{CoordElements: 10}}
	src := filepath.Join("..", "testdata", "sample", "tas_2015.nc")
	sref := filepath.Join(dir, "tas_2015.json")
	env = runStage(t, small, pipeline.StageRef, pipeline.RefParams{NCURL: src, RefURL: sref})
	require.True(t, env.Success, env.Error)
	env = runStage(t, small, pipeline.StageCombine, pipeline.CombineParams{DatasetID: "d", RefURLs: []string{sref},
		ConcatDim: "time", CombinedRefURL: combined})
	require.False(t, env.Success)
	assert.Equal(t, pipeline.ErrTypeLimitExceeded, env.ErrorType, env.Error)
	assert.Contains(t, env.Error, "above the limit of 10")

	tiny := &pipeline.Deps{Opener: &blobio.Opener{}, Limits: limits.Limits{ChunksPerFile: 2}}
	env = runStage(t, tiny, pipeline.StageRef, pipeline.RefParams{NCURL: src, RefURL: filepath.Join(dir, "x.json")})
	require.False(t, env.Success)
	assert.Equal(t, pipeline.ErrTypeLimitExceeded, env.ErrorType, env.Error)
	assert.Contains(t, env.Error, src)
}

// TestTruncatedNetCDF3: a truncated netCDF-3 file is truncated_file in
// the ref stage (it was internal_error).
func TestTruncatedNetCDF3(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "netcdf3", "classic.nc"))
	require.NoError(t, err)
	dir := t.TempDir()
	nc := filepath.Join(dir, "cut.nc")
	require.NoError(t, os.WriteFile(nc, b[:len(b)-8], 0o644))
	env := runStage(t, &pipeline.Deps{Opener: &blobio.Opener{}}, pipeline.StageRef,
		pipeline.RefParams{NCURL: nc, RefURL: filepath.Join(dir, "cut.json")})
	require.False(t, env.Success)
	assert.Equal(t, pipeline.ErrTypeTruncated, env.ErrorType, env.Error)
}
