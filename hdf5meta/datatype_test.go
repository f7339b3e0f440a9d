package hdf5meta_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/greensight/vzarr/hdf5meta"
)

// Name follows zarr.DType.NumpyName for the types NumPy names.
func TestDatatypeName(t *testing.T) {
	str := &hdf5meta.Datatype{Class: hdf5meta.ClassString, Size: 1}
	for _, c := range []struct {
		t    *hdf5meta.Datatype
		want string
	}{
		{&hdf5meta.Datatype{Class: hdf5meta.ClassFloat, Size: 4}, "float32"},
		{&hdf5meta.Datatype{Class: hdf5meta.ClassFloat, Size: 2, BigEndian: true}, "float16"},
		{&hdf5meta.Datatype{Class: hdf5meta.ClassFixedPoint, Size: 2, Signed: true, BigEndian: true}, "int16"},
		{&hdf5meta.Datatype{Class: hdf5meta.ClassFixedPoint, Size: 8}, "uint64"},
		{&hdf5meta.Datatype{Class: hdf5meta.ClassString, Size: 10}, "S10"},
		{&hdf5meta.Datatype{Class: hdf5meta.ClassVarLen, VarLenString: true, Base: str}, "str"},
		{&hdf5meta.Datatype{Class: hdf5meta.ClassEnum, Size: 1, EnumNames: []string{"FALSE", "TRUE"},
			Base: &hdf5meta.Datatype{Class: hdf5meta.ClassFixedPoint, Size: 1, Signed: true}}, "bool"},
		{&hdf5meta.Datatype{Class: hdf5meta.ClassFixedPoint, Size: 3}, "fixed-point"},
	} {
		assert.Equal(t, c.want, c.t.Name(), c.want)
	}
}
