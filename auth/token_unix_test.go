//go:build unix

package auth

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A FIFO as tokens file is refused without opening it (which would block).
func TestLoadTokensFileFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(p, 0o600))
	_, err := LoadTokensFile(p, discardLogger())
	assert.ErrorContains(t, err, "not a regular file")
}
