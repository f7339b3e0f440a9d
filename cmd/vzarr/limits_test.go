package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/greensight/vzarr/pipeline"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
)

// TestCombineLimits: vzarr combine reports limit_exceeded for a file
// declaring 2^40 time steps, and --limit-* flags and VZARR_LIMIT_*
// variables set the limits.
func TestCombineLimits(t *testing.T) {
	py := testenv.Python(t, "netCDF4", "h5py", "numpy")
	dir := t.TempDir()
	huge := filepath.Join(dir, "huge.nc")
	out, err := exec.Command(py, filepath.Join("..", "..", "testdata", "gen_huge_time.py"), huge, fmt.Sprint(1<<40)).CombinedOutput()
	require.NoError(t, err, "%s", out)
	sample := filepath.Join("..", "..", "testdata", "sample", "tas_2015.nc")

	cases := []struct {
		name     string
		env      map[string]string
		args     []string
		code     int
		typ      string
		contains string
	}{
		{"2^40 steps", nil, []string{huge}, 1, "limit_exceeded", "1099511627776 elements"},
		{"flag lowers the limit", nil, []string{"--limit-coord-elements", "10", sample}, 1, "limit_exceeded", "above the limit of 10 "},
		{"variable lowers the limit", map[string]string{"VZARR_LIMIT_COORD_ELEMENTS": "10"}, []string{sample}, 1, "limit_exceeded", "above the limit of 10 "},
		{"flag wins over variable", map[string]string{"VZARR_LIMIT_COORD_ELEMENTS": "10"}, []string{"--limit-coord-elements", "1k", sample}, 0, "", ""},
		{"bad variable", map[string]string{"VZARR_LIMIT_DEPTH": "deep"}, []string{sample}, 2, "usage_error", "VZARR_LIMIT_DEPTH"},
		{"bad flag", nil, []string{"--limit-chunks-per-file", "many", sample}, 2, "usage_error", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			args := append([]string{"combine", "--concat-dim", "time", "-o", filepath.Join(t.TempDir(), "c.json")}, c.args...)
			code := run(args, &stdout, &stderr)
			require.Equal(t, c.code, code, "%s\n%s", stdout.String(), stderr.String())
			if c.code == 0 {
				return
			}
			var res pipeline.Envelope
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &res), stdout.String())
			assert.Equal(t, c.typ, res.ErrorType, res.Error)
			assert.Contains(t, res.Error, c.contains)
		})
	}
}

// TestRefLimits: vzarr ref checks --limit-chunks-per-file.
func TestRefLimits(t *testing.T) {
	sample := filepath.Join("..", "..", "testdata", "sample", "tas_2015.nc")
	var stdout, stderr bytes.Buffer
	code := run([]string{"ref", "--limit-chunks-per-file", "1", sample, "-o", filepath.Join(t.TempDir(), "r.json")}, &stdout, &stderr)
	require.Equal(t, 1, code, "%s\n%s", stdout.String(), stderr.String())
	var res pipeline.Envelope
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res), stdout.String())
	assert.Equal(t, "limit_exceeded", res.ErrorType, res.Error)
	assert.Contains(t, res.Error, "chunk references of one file")
}

// TestInspectLimits: vzarr inspect takes the --limit-* flags too.
func TestInspectLimits(t *testing.T) {
	sample := filepath.Join("..", "..", "testdata", "sample", "tas_2015.nc")
	var stdout, stderr bytes.Buffer
	code := run([]string{"inspect", "--limit-attr-bytes", "4", sample}, &stdout, &stderr)
	require.Equal(t, 1, code, "%s\n%s", stdout.String(), stderr.String())
	var res pipeline.Envelope
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res), stdout.String())
	assert.Equal(t, "limit_exceeded", res.ErrorType, res.Error)
}
