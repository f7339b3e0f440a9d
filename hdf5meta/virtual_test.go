package hdf5meta_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/hdf5meta"
)

// TestVirtualMappings reads the mappings of the virtual datasets of
// kerchunk/testdata/h5_vds.h5 (gen_h5feat.py writes them with h5py's
// VirtualLayout; the selections below are those it asks for).
func TestVirtualMappings(t *testing.T) {
	f, _ := openFile(t, "../kerchunk/testdata/h5_vds.h5")
	o, err := f.Object("/stack")
	require.NoError(t, err)
	ds := o.(*hdf5meta.Dataset)
	require.Equal(t, hdf5meta.LayoutVirtual, ds.Layout.Class)
	ms, err := ds.VirtualMappings()
	require.NoError(t, err)
	require.Len(t, ms, 2)
	for i, src := range []string{"src/a", "src/b"} {
		m := ms[i]
		assert.Equal(t, ".", m.SourceFile)
		assert.Equal(t, src, m.SourceDataset)
		assert.Equal(t, hdf5meta.SelectAll, m.Source.Kind)
		require.Equal(t, hdf5meta.SelectHyperslab, m.Virtual.Kind)
		require.True(t, m.Virtual.Regular, "%+v", m)
		assert.Equal(t, []uint64{uint64(4 * i), 0}, m.Virtual.Start)
		assert.Equal(t, []uint64{1, 1}, m.Virtual.Count)
		assert.Equal(t, []uint64{4, 6}, m.Virtual.Block)
	}

	f, _ = openFile(t, "../kerchunk/testdata/h5_vds_refused.hdf5")
	o, err = f.Object("/part")
	require.NoError(t, err)
	ms, err = o.(*hdf5meta.Dataset).VirtualMappings()
	require.NoError(t, err)
	require.Len(t, ms, 1)
	require.Equal(t, hdf5meta.SelectHyperslab, ms[0].Source.Kind)
	assert.Equal(t, []uint64{3}, ms[0].Source.Start)
	assert.Equal(t, []uint64{4}, ms[0].Source.Block)
	assert.Equal(t, []uint64{1}, ms[0].Source.Count)
}
