package icechunk

import (
	"os"
	"path/filepath"
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

// TestContainers: the containers decoded from the config vzarr writes (a
// local one, Azure ones with their options), sorted by prefix; a config
// without containers gives none; damaged or hostile bytes are ErrCorrupt,
// never a panic.
func TestContainers(t *testing.T) {
	want := []VirtualChunkContainer{
		{URLPrefix: "az://bronze/x/", Store: StoreAzure, Options: map[string]string{"account": "acct", "use_emulator": "true"}},
		{URLPrefix: "file:///data/", Store: StoreLocalFilesystem},
	}
	cfg, err := RepoConfig{VirtualChunkContainers: []VirtualChunkContainer{want[1], want[0]}}.encode()
	require.NoError(t, err)
	got, err := (&RepoInfo{Config: cfg}).Containers()
	require.NoError(t, err)
	assert.Equal(t, want, got)

	tests := []struct {
		name string
		cfg  []byte
		want []VirtualChunkContainer
		err  error
	}{
		{"no config", nil, nil, nil},
		{"no containers", encodeFlex(flexMap{"inline_chunk_threshold_bytes": nil}), nil, nil},
		{"null containers", encodeFlex(flexMap{"virtual_chunk_containers": nil}), nil, nil},
		{"other store kind", encodeFlex(flexMap{"virtual_chunk_containers": flexMap{"s3://b/": flexMap{"url_prefix": "s3://b/", "store": flexMap{"s3": flexMap{}}}}}),
			[]VirtualChunkContainer{{URLPrefix: "s3://b/", Store: "s3"}}, nil},
		{"containers not a map", encodeFlex(flexMap{"virtual_chunk_containers": "x"}), nil, ErrCorrupt},
		{"url_prefix not a string", encodeFlex(flexMap{"virtual_chunk_containers": flexMap{"a/": flexMap{"url_prefix": flexMap{}}}}), nil, ErrCorrupt},
		{"two store variants", encodeFlex(flexMap{"virtual_chunk_containers": flexMap{"a/": flexMap{"store": flexMap{"azure": nil, "s3": nil}}}}), nil, ErrCorrupt},
		{"azure option not a string", encodeFlex(flexMap{"virtual_chunk_containers": flexMap{"a/": flexMap{"store": flexMap{"azure": flexMap{"account": flexMap{}}}}}}), nil, ErrCorrupt},
		{"root not a map", encodeFlex("x"), nil, ErrCorrupt},
		{"garbage", []byte{0xff, 0xff, 0xff, 0x24, 0x04}, nil, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := (&RepoInfo{Config: tt.cfg}).Containers()
			if tt.err != nil {
				assert.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	for n := 1; n < len(cfg); n++ {
		_, err := (&RepoInfo{Config: cfg[:n]}).Containers()
		assert.ErrorIs(t, err, ErrCorrupt, "truncated to %d bytes", n)
	}
	for i := range cfg { // every byte flipped: an error or containers, never a panic
		bad := append([]byte(nil), cfg...)
		bad[i] ^= 0xff
		if _, err := (&RepoInfo{Config: bad}).Containers(); err != nil {
			assert.ErrorIs(t, err, ErrCorrupt, "byte %d flipped", i)
		}
	}
}

// TestContainersOfficialConfig: the config @earthmover/icechunk 2.2.2
// stored in a repository it created (testdata/official-config.flexbuffers,
// from judge.cjs write with the container file:///tmp/iceunify-official/;
// its storage, compression, caching and manifest settings in integers,
// booleans and nested maps of other widths) decodes to that container, and
// every prefix of it and every byte flipped in it is an error of its own
// kind or a result, never a panic.
func TestContainersOfficialConfig(t *testing.T) {
	cfg, err := os.ReadFile(filepath.Join("testdata", "official-config.flexbuffers"))
	require.NoError(t, err)
	got, err := (&RepoInfo{Config: cfg}).Containers()
	require.NoError(t, err)
	assert.Equal(t, []VirtualChunkContainer{{URLPrefix: "file:///tmp/iceunify-official/", Store: StoreLocalFilesystem}}, got)
	for n := range len(cfg) {
		_, err := (&RepoInfo{Config: cfg[:n]}).Containers()
		if n > 0 {
			assert.ErrorIs(t, err, ErrCorrupt, "truncated to %d bytes", n)
		}
	}
	for i := range cfg {
		bad := append([]byte(nil), cfg...)
		bad[i] ^= 0xa5
		if _, err := (&RepoInfo{Config: bad}).Containers(); err != nil {
			assert.ErrorIs(t, err, ErrCorrupt, "byte %d changed", i)
		}
	}
}
