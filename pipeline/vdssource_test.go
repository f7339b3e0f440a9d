package pipeline

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/kerchunk"
)

// TestSiblingOpener: the files a virtual dataset reads are opened by the
// same path below the source's directory; URLs elsewhere are refused.
func TestSiblingOpener(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("..", "kerchunk", "testdata"))
	require.NoError(t, err)
	nc := filepath.Join(dir, "h5_vds_files.h5")
	open := siblingOpener(&blobio.Opener{}, nc, "file://"+nc)

	r, size, closeFn, err := open(context.Background(), "file://"+filepath.Join(dir, "h5_vds.h5"))
	require.NoError(t, err)
	defer closeFn()
	assert.Positive(t, size)
	b := make([]byte, 8)
	_, err = r.ReadAt(b, 0)
	require.NoError(t, err)
	assert.Equal(t, "\x89HDF\r\n\x1a\n", string(b))

	_, _, _, err = open(context.Background(), "file:///etc/passwd")
	require.ErrorIs(t, err, kerchunk.ErrExternalPath)

	// Through the ref stage: the VDS's chunks are referenced in h5_vds.h5.
	res, err := GenerateRef(context.Background(), &Deps{}, RefParams{NCURL: nc, RefURL: filepath.Join(t.TempDir(), "r.json")})
	require.NoError(t, err)
	assert.Empty(t, res.Skipped)
	assert.Contains(t, res.Variables, "swapped")
}
