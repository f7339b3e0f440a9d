package icechunk

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestContainerPrefixes: the container prefixes read back from the config
// vzarr writes; a damaged config is ErrCorrupt, never a panic.
func TestContainerPrefixes(t *testing.T) {
	cfg, err := RepoConfig{VirtualChunkContainers: []VirtualChunkContainer{
		{URLPrefix: "file:///data/b/", Store: StoreLocalFilesystem},
		{URLPrefix: "file:///data/a/", Store: StoreLocalFilesystem},
	}}.encode()
	require.NoError(t, err)
	got, err := (&RepoInfo{Config: cfg}).ContainerPrefixes()
	require.NoError(t, err)
	assert.Equal(t, []string{"file:///data/a/", "file:///data/b/"}, got)

	none, err := (&RepoInfo{}).ContainerPrefixes()
	require.NoError(t, err)
	assert.Empty(t, none)
	other := encodeFlex(flexMap{"inline_chunk_threshold_bytes": nil})
	none, err = (&RepoInfo{Config: other}).ContainerPrefixes()
	require.NoError(t, err)
	assert.Empty(t, none)

	for n := 1; n < len(cfg); n++ {
		_, err := (&RepoInfo{Config: cfg[:n]}).ContainerPrefixes()
		assert.ErrorIs(t, err, ErrCorrupt, "truncated to %d bytes", n)
	}
	bad := append([]byte(nil), cfg...)
	bad[len(bad)-3] = 0xff // the root offset
	_, err = (&RepoInfo{Config: bad}).ContainerPrefixes()
	assert.ErrorIs(t, err, ErrCorrupt)
}
