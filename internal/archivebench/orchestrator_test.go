package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/auth"
)

func TestPollInterval(t *testing.T) {
	for _, tc := range []struct{ elapsed, want time.Duration }{
		{0, 100 * time.Millisecond},
		{time.Second, 100 * time.Millisecond},
		{10 * time.Second, 500 * time.Millisecond},
		{time.Hour, time.Second},
	} {
		assert.Equal(t, tc.want, pollInterval(tc.elapsed), tc.elapsed)
	}
}

func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	token, path, err := tokenFile(dir)
	require.NoError(t, err)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "archivebench:"+auth.HashToken(token)+":submit,read\n", string(data))
	assert.NotContains(t, string(data), token, "the file holds the token's hash only")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	other, _, err := tokenFile(dir)
	require.NoError(t, err)
	assert.NotEqual(t, token, other)
}

func TestReadTotals(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, log string
		want      totalsLine
		err       string
	}{
		{"the last totals line", `{"msg":"orchestrator: starting"}
not json
{"msg":"orchestrator: totals","queue":{"published":1,"received":2},"catalog_calls":{"gets":3}}
{"msg":"orchestrator: totals","queue":{"published":4,"received":5},"catalog_calls":{"gets":6,"lists":7,"transitions":8,"creates":9,"other":10}}
`, totalsLine{Msg: totalsMessage}, ""},
		{"none", `{"msg":"orchestrator: starting"}` + "\n", totalsLine{}, "holds no"},
	}
	tests[0].want.Queue.Published, tests[0].want.Queue.Received = 4, 5
	tests[0].want.Calls.Gets, tests[0].want.Calls.Lists, tests[0].want.Calls.Transitions = 6, 7, 8
	tests[0].want.Calls.Creates, tests[0].want.Calls.Other = 9, 10
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			require.NoError(t, os.WriteFile(path, []byte(tc.log), 0o644))
			got, err := readTotals(path)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
