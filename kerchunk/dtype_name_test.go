package kerchunk

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Contract 4 names dtypes as numpy does; variable-length data ("|O") is
// "str" for strings and "object" otherwise, never the raw "|O".
func TestNumpyNameInResult(t *testing.T) {
	for _, c := range []struct {
		dtype   string
		vlenStr bool
		want    string
	}{
		{`"<f4"`, false, "float32"},
		{`">i8"`, false, "int64"},
		{`"|u1"`, false, "uint8"},
		{`"|S1"`, false, "S1"},
		{`"|O"`, true, "str"},
		{`"|O"`, false, "object"},
		{`[["a", "<i4"]]`, false, "compound"},
	} {
		assert.Equal(t, c.want, numpyName(rawJSON(c.dtype), c.vlenStr), c.dtype)
	}
}
