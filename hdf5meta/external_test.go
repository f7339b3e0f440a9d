package hdf5meta_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/limits"
)

// TestExternalFiles reads the External Data Files messages of
// kerchunk/testdata/h5_external.h5 (gen_h5feat.py writes it with h5py;
// the segments below are those it asks for).
func TestExternalFiles(t *testing.T) {
	f, fh := openFile(t, "../kerchunk/testdata/h5_external.h5")
	tests := []struct {
		path string
		want []hdf5meta.ExternalFile
	}{
		{"/one_file", []hdf5meta.ExternalFile{{"ext/a.bin", 0, 32}, {"ext/a.bin", 64, 32}, {"ext/a.bin", 128, 32}}},
		{"/two_files", []hdf5meta.ExternalFile{{"ext/a.bin", 200, 80}, {"ext/b.bin", 0, 80}}},
		{"/adjacent", []hdf5meta.ExternalFile{{"ext/b.bin", 300, 4}, {"ext/b.bin", 304, 100}}},
		{"/in_subdir", []hdf5meta.ExternalFile{{"ext/sub/c.bin", 16, 12}}},
	}
	for _, tt := range tests {
		o, err := f.Object(tt.path)
		require.NoError(t, err, tt.path)
		ds, ok := o.(*hdf5meta.Dataset)
		require.True(t, ok, tt.path)
		assert.Equal(t, tt.want, ds.External, tt.path)
		assert.Equal(t, hdf5meta.LayoutContiguous, ds.Layout.Class, tt.path)
	}

	// A name longer than the string limit is refused with a limit error.
	st, err := fh.Stat()
	require.NoError(t, err)
	f, err = hdf5meta.Open(fh, st.Size(), hdf5meta.WithLimits(limits.Limits{StringBytes: 4}))
	if err == nil {
		_, err = f.Object("/one_file")
	}
	require.ErrorIs(t, err, limits.ErrExceeded)
}
