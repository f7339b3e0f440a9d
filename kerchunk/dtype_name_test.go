package kerchunk

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/hdf5meta"
)

// Contract 4 names dtypes by zarr.DType.NumpyName; variable-length data
// ("|O") is "str" for strings and "object" otherwise, never the raw "|O".
func TestNumpyNameInResult(t *testing.T) {
	for _, c := range []struct {
		typ  *hdf5meta.Datatype
		want string
	}{
		{hdf5meta.NewIEEEFloat(4, false), "float32"},
		{&hdf5meta.Datatype{Class: hdf5meta.ClassFixedPoint, Size: 8, Signed: true, BigEndian: true}, "int64"},
		{&hdf5meta.Datatype{Class: hdf5meta.ClassFixedPoint, Size: 1}, "uint8"},
		{&hdf5meta.Datatype{Class: hdf5meta.ClassString, Size: 1}, "S1"},
		{&hdf5meta.Datatype{Class: hdf5meta.ClassVarLen, VarLenString: true, Size: 16, Base: &hdf5meta.Datatype{Class: hdf5meta.ClassString, Size: 1}}, "str"},
		{&hdf5meta.Datatype{Class: hdf5meta.ClassVarLen, Size: 16, Base: &hdf5meta.Datatype{Class: hdf5meta.ClassFixedPoint, Size: 4, Signed: true}}, "object"},
		{&hdf5meta.Datatype{Class: hdf5meta.ClassCompound, Size: 4, Members: []hdf5meta.Member{{Name: "a", Type: &hdf5meta.Datatype{Class: hdf5meta.ClassFixedPoint, Size: 4, Signed: true}}}}, "compound"},
	} {
		z, err := zarrType(c.typ)
		require.NoError(t, err, c.want)
		assert.Equal(t, c.want, z.dtype.NumpyName(), c.want)
	}
}
