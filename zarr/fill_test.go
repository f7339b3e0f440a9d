package zarr

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFillValueAttr: the _FillValue attribute xarray masks Zarr v3 data
// with, for each kind of fill.
func TestFillValueAttr(t *testing.T) {
	for _, tt := range []struct {
		dtype, fill, want string
	}{
		{"<f4", "-9999.0", `"AAAAAICHw8A="`},
		{"<f8", `"NaN"`, "NaN"}, // a NaN float64, whatever its payload
		{"<i2", "-1", "-1"},
		{"|u1", "255", "255"},
		{"|b1", "true", "true"},
		{"<f4", "null", ""},
		{"|S3", `"YWJj"`, ""},
	} {
		t.Run(tt.dtype+" "+tt.fill, func(t *testing.T) {
			d, err := ParseDTypeString(tt.dtype)
			require.NoError(t, err)
			got, err := d.FillValueAttr(json.RawMessage(tt.fill))
			require.NoError(t, err)
			if tt.want == "NaN" {
				var text string
				require.NoError(t, json.Unmarshal(got, &text))
				raw, err := base64.StdEncoding.DecodeString(text)
				require.NoError(t, err)
				require.Len(t, raw, 8)
				assert.True(t, math.IsNaN(math.Float64frombits(binary.LittleEndian.Uint64(raw))))
				return
			}
			assert.Equal(t, tt.want, string(got))
		})
	}
}
