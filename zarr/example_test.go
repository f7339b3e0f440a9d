package zarr_test

import (
	"fmt"

	"github.com/greensight/vzarr/zarr"
)

// Parse a .zarray as Python writes it (a bare NaN fill value), name its
// dtype, decode its fill value and write its Zarr v3 zarr.json.
func Example() {
	a, err := zarr.ParseArrayV2([]byte(`{"chunks":[1,90,180],"compressor":{"id":"zlib","level":4},
		"dtype":"<f4","fill_value":NaN,"filters":[{"elementsize":4,"id":"shuffle"}],
		"order":"C","shape":[12,180,360],"zarr_format":2}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fill, _ := a.DType.DecodeFill(a.FillValue)
	fmt.Println(a.DType.NumpyName(), a.Grid(), a.DType.Float64At(fill))
	v3, err := zarr.ArrayV3Of(a, []string{"time", "lat", "lon"}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	text, _ := v3.MarshalJSON()
	fmt.Println(string(text))
	// Output:
	// float32 [12 2 2] NaN
	// {"zarr_format":3,"node_type":"array","shape":[12,180,360],"data_type":"float32","chunk_grid":{"name":"regular","configuration":{"chunk_shape":[1,90,180]}},"chunk_key_encoding":{"name":"v2"},"fill_value":"NaN","codecs":[{"name":"bytes","configuration":{"endian":"little"}},{"name":"numcodecs.shuffle","configuration":{"elementsize":4}},{"name":"numcodecs.zlib","configuration":{"level":4}}],"attributes":{},"dimension_names":["time","lat","lon"]}
}
