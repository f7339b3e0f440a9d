package kerchunk

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVirtualDataset: the chunks of a virtual dataset whose mappings place
// whole sources of the same file on their chunk grid are the sources'
// chunks (testdata/h5_vds.h5, gen_h5feat.py); positions no mapping covers
// read as the VDS's fill value.
func TestVirtualDataset(t *testing.T) {
	path, err := filepath.Abs("testdata/h5_vds.h5")
	require.NoError(t, err)
	res, err := translateFile(path, Options{})
	require.NoError(t, err)
	require.Empty(t, res.Skipped)
	same := map[string]string{
		"stack/0.0": "src/a/0.0", "stack/1.1": "src/a/1.1", "stack/2.0": "src/b/0.0", "stack/3.1": "src/b/1.1",
		"tiles/0.0": "src/a/0.0", "tiles/1.1": "src/a/1.1", "tiles/0.2": "src/b/0.0", "tiles/1.3": "src/b/1.1",
		"joined/0": "src/c/0", "joined/1": "src/d/0",
	}
	for vk, sk := range same {
		v, ok := res.Refs.Get(vk)
		require.True(t, ok, vk)
		s, ok := res.Refs.Get(sk)
		require.True(t, ok, sk)
		assert.Equal(t, s, v, "%s is %s", vk, sk)
	}
	assert.Equal(t, []uint64{2, 3}, res.Variables["stack"].Chunks)
	assert.Equal(t, []uint64{4, 14}, res.Variables["tiles"].Shape)
	// tiles' last chunk column is unmapped: the VDS's fill value 7, written
	// out since fill_value is null; joined's last chunk reads as NaN, its
	// fill_value.
	_, ok := res.Refs.Get("tiles/0.4")
	assert.True(t, ok, "unmapped chunk written as the VDS's fill value")
	_, ok = res.Refs.Get("joined/2")
	assert.False(t, ok, "unmapped chunk left to fill_value NaN")
}

// TestVirtualStack: sources of lower rank placed as rows of a VDS (h5py's
// VirtualLayout stacking 1-D datasets; testdata/hdf5/h5_latest_layouts.h5)
// are chunks of one row.
func TestVirtualStack(t *testing.T) {
	path, err := filepath.Abs("../testdata/hdf5/h5_latest_layouts.h5")
	require.NoError(t, err)
	res, err := translateFile(path, Options{})
	require.NoError(t, err)
	require.NotNil(t, res.Variables["layout/virtual"])
	assert.Equal(t, []uint64{1, 5}, res.Variables["layout/virtual"].Chunks)
	for vk, sk := range map[string]string{"layout/virtual/0.0": "layout/vds_src_a/0", "layout/virtual/1.0": "layout/vds_src_b/0"} {
		v, ok := res.Refs.Get(vk)
		require.True(t, ok, vk)
		s, ok := res.Refs.Get(sk)
		require.True(t, ok, sk)
		assert.Equal(t, s, v, "%s is %s", vk, sk)
	}
}

// TestVirtualRefused: mappings of part of a source, or of a source in
// another file, are ErrUnsupported naming the reason.
func TestVirtualRefused(t *testing.T) {
	path, err := filepath.Abs("testdata/h5_vds_refused.hdf5")
	require.NoError(t, err)
	_, err = translateFile(path, Options{})
	require.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), "selects part of the source")
	res, err := translateFile(path, Options{SkipUnsupported: true})
	require.NoError(t, err)
	reasons := map[string]string{}
	for _, s := range res.Skipped {
		reasons[s.Variable] = s.Reason
	}
	assert.Contains(t, reasons["part"], "selects part of the source")
	assert.Contains(t, reasons["other_file"], "the source is in another file")
}

// TestVirtualOtherFile: with Options.OpenSource, the sources of a VDS in
// another file (testdata/h5_vds_files.h5 reads h5_vds.h5) are referenced
// in that file; without it, the mapping is ErrUnsupported.
func TestVirtualOtherFile(t *testing.T) {
	path, err := filepath.Abs("testdata/h5_vds_files.h5")
	require.NoError(t, err)
	_, err = translateFile(path, Options{})
	require.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), "another file")

	var opened []string
	open := func(ctx context.Context, url string) (io.ReaderAt, int64, func(), error) {
		opened = append(opened, url)
		return localOpenSource(ctx, url)
	}
	res, err := translateFile(path, Options{OpenSource: open})
	require.NoError(t, err)
	src := filepath.Join(filepath.Dir(path), "h5_vds.h5")
	assert.Equal(t, []string{src}, opened, "the source file is opened once")
	srcRes, err := translateFile(src, Options{})
	require.NoError(t, err)
	for vk, sk := range map[string]string{"swapped/0.0": "src/b/0.0", "swapped/1.1": "src/b/1.1", "swapped/0.2": "src/a/0.0", "swapped/1.3": "src/a/1.1"} {
		v, ok := res.Refs.Get(vk)
		require.True(t, ok, vk)
		s, ok := srcRes.Refs.Get(sk)
		require.True(t, ok, sk)
		if !s.IsInline() {
			assert.Equal(t, s, v, "%s is %s", vk, sk)
			continue
		}
		// Small chunks of another file are referenced, never copied.
		require.Equal(t, src, v.URL, vk)
		b, err := localFetch(context.Background(), v.URL, v.Offset, v.Length)
		require.NoError(t, err)
		assert.Equal(t, s.Data, b, "%s holds the bytes of %s", vk, sk)
	}

	// A source outside the directory is refused before anything is opened.
	tr := &h5translator{url: path, opts: Options{OpenSource: open}}
	_, err = tr.sourceFile("../elsewhere.h5")
	require.ErrorIs(t, err, ErrExternalPath)
}

// localOpenSource is an Options.OpenSource for local files.
func localOpenSource(_ context.Context, url string) (io.ReaderAt, int64, func(), error) {
	f, err := os.Open(url)
	if err != nil {
		return nil, 0, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	return f, st.Size(), func() { f.Close() }, nil
}
