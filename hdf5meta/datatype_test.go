package hdf5meta_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/greensight/vzarr/hdf5meta"
)

func TestNumpyName(t *testing.T) {
	for dtype, want := range map[string]string{
		"<f4": "float32", ">f8": "float64", "<f2": "float16", ">i2": "int16", "|i1": "int8", "|u1": "uint8",
		">u8": "uint64", "<c16": "complex128", "|b1": "bool", "|S10": "S10", "<U3": "U3", "|O": "O",
		"|V8": "V8", "<M8[ns]": "M8[ns]", "f8": "float64", "=i4": "int32", "": "",
	} {
		assert.Equal(t, want, hdf5meta.NumpyName(dtype), dtype)
	}
}
