package cpuprofile_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/cpuprofile"
)

func TestStart(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		path     string
		wantFile bool
		wantErr  bool
	}{
		{"no variable", "", false, false},
		{"a file", filepath.Join(dir, "cpu.pprof"), true, false},
		{"a missing folder", filepath.Join(dir, "missing", "cpu.pprof"), false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			stop := cpuprofile.Start(func(k string) string {
				if k == cpuprofile.EnvVar {
					return tc.path
				}
				return ""
			}, &stderr)
			stop()
			assert.Equal(t, tc.wantErr, stderr.Len() > 0, stderr.String())
			if tc.path == "" {
				return
			}
			fi, err := os.Stat(tc.path)
			if !tc.wantFile {
				assert.True(t, os.IsNotExist(err))
				return
			}
			require.NoError(t, err)
			assert.Positive(t, fi.Size(), "a profile was written")
		})
	}
}
