package zarr

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestArrayV2OfRoundTrip: ArrayV2Of inverts ArrayV3Of (through the
// zarr.json text) for the encodings vzarr translates: the .zarray comes
// back the same.
func TestArrayV2OfRoundTrip(t *testing.T) {
	for name, zarray := range map[string]string{
		"zlib shuffle":   `{"chunks":[5,4],"compressor":null,"dtype":"<f4","fill_value":"NaN","filters":[{"elementsize":4,"id":"shuffle"},{"id":"zlib","level":4}],"order":"C","shape":[10,4],"zarr_format":2}`,
		"fletcher32":     `{"chunks":[3],"compressor":null,"dtype":"<i2","fill_value":-99,"filters":[{"id":"zlib","level":1},{"id":"fletcher32"}],"order":"C","shape":[7],"zarr_format":2}`,
		"zstd":           `{"chunks":[3],"compressor":null,"dtype":"<u8","fill_value":null,"filters":[{"id":"zstd","level":3}],"order":"C","shape":[7],"zarr_format":2}`,
		"blosc":          `{"chunks":[3],"compressor":null,"dtype":"<f8","fill_value":null,"filters":[{"blocksize":0,"clevel":5,"cname":"lz4","id":"blosc","shuffle":1}],"order":"C","shape":[7],"zarr_format":2}`,
		"big-endian F":   `{"chunks":[2,3],"compressor":null,"dtype":">f8","fill_value":null,"filters":null,"order":"F","shape":[4,6],"zarr_format":2}`,
		"vlen-utf8":      `{"chunks":[2],"compressor":null,"dtype":"|O","fill_value":null,"filters":[{"id":"vlen-utf8"}],"order":"C","shape":[3],"zarr_format":2}`,
		"scalar":         `{"chunks":[],"compressor":null,"dtype":"<f8","fill_value":null,"filters":null,"order":"C","shape":[],"zarr_format":2}`,
		"slash keys":     `{"chunks":[1,1],"compressor":null,"dimension_separator":"/","dtype":"|u1","fill_value":7,"filters":null,"order":"C","shape":[2,2],"zarr_format":2}`,
		"fixed strings":  `{"chunks":[2],"compressor":null,"dtype":"|S4","fill_value":null,"filters":null,"order":"C","shape":[2],"zarr_format":2}`,
		"datetime64[ns]": `{"chunks":[2],"compressor":null,"dtype":"<M8[ns]","fill_value":null,"filters":null,"order":"C","shape":[2],"zarr_format":2}`,
	} {
		t.Run(name, func(t *testing.T) {
			a, err := ParseArrayV2([]byte(zarray))
			require.NoError(t, err)
			want, err := a.MarshalJSON()
			require.NoError(t, err)
			v3, err := ArrayV3Of(a, nil, nil)
			require.NoError(t, err)
			if a.DimensionSeparator == "/" {
				v3.ChunkKeyEncoding.Separator = "/"
			}
			text, err := v3.MarshalJSON()
			require.NoError(t, err)
			parsed, err := ParseV3(text)
			require.NoError(t, err)
			back, err := ArrayV2Of(parsed.(*ArrayV3), a.FillValue != nil && string(a.FillValue) != "null")
			require.NoError(t, err)
			got, err := back.MarshalJSON()
			require.NoError(t, err)
			assert.JSONEq(t, string(want), string(got))
		})
	}
}

// TestArrayV2OfRejects: what has no Zarr v2 form is ErrUnsupported.
func TestArrayV2OfRejects(t *testing.T) {
	base := `{"zarr_format":3,"node_type":"array","shape":[4,2],"data_type":"float32","chunk_grid":{"name":"regular","configuration":{"chunk_shape":[2,2]}},"chunk_key_encoding":{"name":"default"},"fill_value":0,"codecs":`
	for name, codecs := range map[string]string{
		"sharding":       `[{"name":"sharding_indexed","configuration":{}}]`,
		"other codec":    `[{"name":"bytes"},{"name":"numcodecs.nosuch"}]`,
		"core lookalike": `[{"name":"bytes"},{"name":"numcodecs.gzip"}]`,
		"partial order":  `[{"name":"transpose","configuration":{"order":[0,1]}},{"name":"bytes"}]`,
	} {
		t.Run(name, func(t *testing.T) {
			v, err := ParseV3([]byte(base + codecs + `}`))
			require.NoError(t, err)
			_, err = ArrayV2Of(v.(*ArrayV3), true)
			assert.ErrorIs(t, err, ErrUnsupported)
		})
	}
	v, err := ParseV3([]byte(base + `[]}`))
	require.NoError(t, err)
	_, err = ArrayV2Of(v.(*ArrayV3), true)
	assert.ErrorIs(t, err, ErrInvalid)
}
