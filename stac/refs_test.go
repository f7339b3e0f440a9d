package stac_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/kerchunk/codecs"
	"github.com/greensight/vzarr/stac"
)

// arr is an array to add to a test reference set.
type arr struct {
	name       string
	dims       []string
	shape      []int
	chunks     []int
	dtype      string
	attrs      map[string]any
	compressor any
	filters    any
	fill       any
	order      string
}

func addArray(t *testing.T, refs *kerchunk.Refs, a arr) {
	t.Helper()
	if a.order == "" {
		a.order = "C"
	}
	meta := map[string]any{"shape": a.shape, "chunks": a.chunks, "dtype": a.dtype, "compressor": a.compressor,
		"filters": a.filters, "fill_value": a.fill, "order": a.order, "zarr_format": 2}
	b, err := json.Marshal(meta)
	require.NoError(t, err)
	refs.SetText(a.name+"/.zarray", string(b))
	attrs := map[string]any{}
	for k, v := range a.attrs {
		attrs[k] = v
	}
	if a.dims != nil {
		attrs["_ARRAY_DIMENSIONS"] = a.dims
	}
	b, err = json.Marshal(attrs)
	require.NoError(t, err)
	refs.SetText(a.name+"/.zattrs", string(b))
}

func newRefs() *kerchunk.Refs {
	refs := kerchunk.NewRefs(0)
	refs.SetText(".zgroup", `{"zarr_format": 2}`)
	return refs
}

func le[T any](vals ...T) []byte {
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, vals); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func describe(t *testing.T, refs *kerchunk.Refs, opts stac.RefOptions) *stac.DatasetInfo {
	t.Helper()
	info, err := stac.FromReferences(context.Background(), refs, opts)
	require.NoError(t, err)
	return info
}

func TestFromReferencesChunkLayout(t *testing.T) {
	refs := newRefs()
	// Five latitudes in chunks of two: the third chunk is padded with junk,
	// and the second is missing (it reads as the fill value).
	addArray(t, refs, arr{name: "lat", dims: []string{"lat"}, shape: []int{5}, chunks: []int{2}, dtype: "<f8",
		attrs: map[string]any{"units": "degrees_north"}})
	refs.Set("lat/0", kerchunk.Inline(le(-20.0, -10.0)))
	refs.Set("lat/2", kerchunk.Inline(le(20.0, 999.0)))
	// A Fortran-ordered 2-D auxiliary array and a dimension without coordinates.
	addArray(t, refs, arr{name: "lon", dims: []string{"lon"}, shape: []int{3}, chunks: []int{3}, dtype: "<f4",
		attrs: map[string]any{"units": "degrees_east"}})
	refs.Set("lon/0", kerchunk.Inline(le[float32](0.1, 0.2, 0.3)))
	addArray(t, refs, arr{name: "v", dims: []string{"lat", "lon", "nv"}, shape: []int{5, 3, 4}, chunks: []int{5, 3, 4},
		dtype: "<i4", fill: -1, attrs: map[string]any{"long_name": "values"}})
	info := describe(t, refs, stac.RefOptions{})
	assert.Empty(t, info.Warnings)

	lat := info.Dimension("lat")
	require.NotNil(t, lat)
	assert.Equal(t, stac.AxisY, lat.Axis)
	assert.Equal(t, &[2]float64{-20, 20}, lat.Extent, "padding is dropped, missing chunks are no data")
	assert.Equal(t, stac.SpacingUnknown, lat.Spacing)
	lon := info.Dimension("lon")
	assert.Equal(t, stac.SpacingRegular, lon.Spacing)
	assert.Equal(t, 0.1, lon.Step, "float32 step written with float32 precision")
	assert.Equal(t, []float64{0.1, 0.2, 0.3}, lon.Values)
	assert.Equal(t, &stac.BBox{0.1, -20, 0.3, 20}, info.BBox)
	nv := info.Dimension("nv")
	assert.Equal(t, int64(4), nv.Size)
	assert.Equal(t, stac.AxisNone, nv.Axis)
	v := info.Variable("v")
	require.NotNil(t, v)
	assert.Equal(t, int64(-1), v.NoData)
	assert.Equal(t, "int32", v.DataType)
	assert.Equal(t, []string{"v"}, info.DataVariables())
	assert.Equal(t, []string{"lat", "lon", "nv"}, []string{info.Dimensions[0].Name, info.Dimensions[1].Name, info.Dimensions[2].Name})
}

func TestFromReferencesFortranAndCurvilinear(t *testing.T) {
	refs := newRefs()
	addArray(t, refs, arr{name: "x", dims: []string{"x"}, shape: []int{3}, chunks: []int{3}, dtype: "<f8",
		attrs: map[string]any{"units": "m", "standard_name": "projection_x_coordinate"}})
	refs.Set("x/0", kerchunk.Inline(le(0.0, 1000.0, 2000.0)))
	addArray(t, refs, arr{name: "y", dims: []string{"y"}, shape: []int{2}, chunks: []int{2}, dtype: "<f8",
		attrs: map[string]any{"units": "m", "standard_name": "projection_y_coordinate"}})
	refs.Set("y/0", kerchunk.Inline(le(5000.0, 4000.0)))
	// lat/lon (y, x), stored in Fortran order: the first index varies fastest.
	addArray(t, refs, arr{name: "lat", dims: []string{"y", "x"}, shape: []int{2, 3}, chunks: []int{2, 3}, dtype: "<f8", order: "F",
		attrs: map[string]any{"units": "degrees_north"}})
	refs.Set("lat/0.0", kerchunk.Inline(le(51.0, 50.0, 51.1, 50.1, 51.2, 50.2)))
	addArray(t, refs, arr{name: "lon", dims: []string{"y", "x"}, shape: []int{2, 3}, chunks: []int{1, 2}, dtype: "<f8",
		attrs: map[string]any{"units": "degrees_east"}})
	refs.Set("lon/0.0", kerchunk.Inline(le(-1.0, 0.0)))
	refs.Set("lon/0.1", kerchunk.Inline(le(1.0, 77.0))) // padding
	refs.Set("lon/1.0", kerchunk.Inline(le(-1.5, 0.0)))
	refs.Set("lon/1.1", kerchunk.Inline(le(1.5, 77.0)))
	addArray(t, refs, arr{name: "crs", dims: []string{}, shape: []int{}, chunks: []int{}, dtype: "<i4",
		attrs: map[string]any{"grid_mapping_name": "transverse_mercator", "epsg_code": "EPSG:27700"}})
	addArray(t, refs, arr{name: "tas", dims: []string{"y", "x"}, shape: []int{2, 3}, chunks: []int{2, 3}, dtype: "<f4",
		attrs: map[string]any{"coordinates": "lat lon", "grid_mapping": "crs", "units": "K"}})
	info := describe(t, refs, stac.RefOptions{})
	assert.Empty(t, info.Warnings)
	assert.Equal(t, &stac.BBox{-1.5, 50, 1.5, 51.2}, info.BBox)
	x := info.Dimension("x")
	assert.Equal(t, stac.AxisX, x.Axis)
	assert.Equal(t, 27700, x.ReferenceSystem)
	assert.Equal(t, -1000.0, info.Dimension("y").Step)
	for _, name := range []string{"lat", "lon", "crs"} {
		require.NotNil(t, info.Variable(name), name)
		assert.True(t, info.Variable(name).Auxiliary, name)
	}
	assert.Equal(t, []string{"tas"}, info.DataVariables())

	item, err := stac.Build(info, stac.Options{DatasetID: "uk", RefURL: "/refs/uk.json", Created: created})
	require.NoError(t, err)
	require.NoError(t, validateItem(t, encode(t, item)))
	assert.Equal(t, "spatial", item.Properties.CubeDimensions["x"].Type)
	assert.Equal(t, 27700, item.Properties.CubeDimensions["x"].ReferenceSystem)
}

func TestFromReferencesStrings(t *testing.T) {
	refs := newRefs()
	addArray(t, refs, arr{name: "model", dims: []string{"model"}, shape: []int{3}, chunks: []int{2}, dtype: "<U5"})
	u32 := func(s string, n int) []byte {
		out := make([]byte, 4*n)
		for i, r := range []rune(s) {
			binary.LittleEndian.PutUint32(out[4*i:], uint32(r))
		}
		return out
	}
	refs.Set("model/0", kerchunk.Inline(append(u32("GFDL", 5), u32("MPI-é", 5)...)))
	refs.Set("model/1", kerchunk.Inline(append(u32("CNRM", 5), u32("", 5)...)))
	addArray(t, refs, arr{name: "site", dims: []string{"site"}, shape: []int{2}, chunks: []int{2}, dtype: "|O",
		filters: []map[string]any{{"id": "vlen-utf8"}}, compressor: map[string]any{"id": "zlib", "level": 1}})
	z, err := codecs.ZlibEncode(codecs.VLenUTF8Encode([]string{"Zürich", "Oslo"}), 1)
	require.NoError(t, err)
	refs.Set("site/0", kerchunk.Inline(z))
	addArray(t, refs, arr{name: "v", dims: []string{"model", "site"}, shape: []int{3, 2}, chunks: []int{3, 2}, dtype: "<f8"})
	info := describe(t, refs, stac.RefOptions{})
	assert.Empty(t, info.Warnings)
	assert.Equal(t, []string{"GFDL", "MPI-é", "CNRM"}, info.Dimension("model").Labels)
	assert.Equal(t, []string{"Zürich", "Oslo"}, info.Dimension("site").Labels)
}

func TestFromReferencesTimeCoordinates(t *testing.T) {
	refs := newRefs()
	ns := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return tm.UnixNano()
	}
	addArray(t, refs, arr{name: "time", dims: []string{"time"}, shape: []int{3}, chunks: []int{3}, dtype: "<M8[ns]"})
	refs.Set("time/0", kerchunk.Inline(le(ns("2021-06-01T00:00:00Z"), ns("2021-06-01T01:00:00Z"), ns("2021-06-01T02:00:00Z"))))
	addArray(t, refs, arr{name: "v", dims: []string{"time"}, shape: []int{3}, chunks: []int{3}, dtype: "<f8"})
	info := describe(t, refs, stac.RefOptions{})
	tm := info.Dimension("time")
	assert.Equal(t, stac.AxisT, tm.Axis)
	assert.Equal(t, "PT1H", tm.TimeStep)
	require.NotNil(t, info.TimeRange)
	assert.Equal(t, "2021-06-01T02:00:00Z", info.TimeRange.End.Format(time.RFC3339))

	// A time axis in thousands of chunks is read at its ends only.
	refs = newRefs()
	addArray(t, refs, arr{name: "time", dims: []string{"time"}, shape: []int{3000}, chunks: []int{1}, dtype: "<f8",
		attrs: map[string]any{"units": "hours since 2000-01-01", "calendar": "gregorian"}})
	for i := range 3000 {
		refs.Set("time/"+itoa(i), kerchunk.Inline(le(float64(i))))
	}
	addArray(t, refs, arr{name: "v", dims: []string{"time"}, shape: []int{3000}, chunks: []int{1000}, dtype: "<f8"})
	info = describe(t, refs, stac.RefOptions{MaxCoordChunks: 100})
	tm = info.Dimension("time")
	assert.Equal(t, stac.SpacingUnknown, tm.Spacing)
	assert.Equal(t, "2000-01-01T00:00:00Z", tm.Start.Format(time.RFC3339))
	assert.Equal(t, "2000-05-04T23:00:00Z", tm.End.Format(time.RFC3339))
	info = describe(t, refs, stac.RefOptions{MaxCoordChunks: 5000})
	assert.Equal(t, "PT1H", info.Dimension("time").TimeStep)

	// Undecodable units: described as a number, with a warning.
	refs = newRefs()
	addArray(t, refs, arr{name: "time", dims: []string{"time"}, shape: []int{2}, chunks: []int{2}, dtype: "<f8",
		attrs: map[string]any{"units": "days since the flood", "axis": "T"}})
	refs.Set("time/0", kerchunk.Inline(le(1.0, 2.0)))
	info = describe(t, refs, stac.RefOptions{})
	assert.Equal(t, stac.AxisNone, info.Dimension("time").Axis)
	assert.Equal(t, &[2]float64{1, 2}, info.Dimension("time").Extent)
	assert.Nil(t, info.TimeRange)
	require.Len(t, info.Warnings, 1)
	assert.Contains(t, info.Warnings[0], "cannot decode CF time")
}

func itoa(i int) string { return string(json.Number(jsonInt(i))) }

func jsonInt(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestFromReferencesRangeReader(t *testing.T) {
	refs := newRefs()
	addArray(t, refs, arr{name: "lon", dims: []string{"lon"}, shape: []int{4}, chunks: []int{4}, dtype: "<f8",
		attrs: map[string]any{"units": "degrees_east"}})
	refs.Set("lon/0", kerchunk.Range("abfs://data/era5/a.nc", 100, 32))
	addArray(t, refs, arr{name: "lat", dims: []string{"lat"}, shape: []int{2}, chunks: []int{2}, dtype: "<f8",
		attrs: map[string]any{"units": "degrees_north"}})
	refs.Set("lat/0", kerchunk.Inline(le(-5.0, 5.0)))
	addArray(t, refs, arr{name: "v", dims: []string{"lat", "lon"}, shape: []int{2, 4}, chunks: []int{2, 4}, dtype: "<f4"})
	refs.Set("v/0.0", kerchunk.Range("abfs://data/era5/a.nc", 200, 32))

	// Without a range reader, a blob chunk cannot be read: no box, a warning.
	info := describe(t, refs, stac.RefOptions{})
	assert.Nil(t, info.BBox)
	require.Len(t, info.Warnings, 1)
	assert.Contains(t, info.Warnings[0], "not a local file")
	assert.Equal(t, "abfs", info.RemoteProtocol)

	var mu sync.Mutex
	var calls []string
	read := func(_ context.Context, url string, off, n int64) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, url)
		assert.Equal(t, int64(100), off)
		assert.Equal(t, int64(32), n)
		return le(10.0, 20.0, 30.0, 40.0), nil
	}
	info = describe(t, refs, stac.RefOptions{ReadRange: read})
	assert.Empty(t, info.Warnings)
	assert.Equal(t, []string{"abfs://data/era5/a.nc"}, calls, "only the coordinate chunk is read")
	assert.Equal(t, &stac.BBox{10, -5, 40, 5}, info.BBox)

	failing := func(context.Context, string, int64, int64) ([]byte, error) { return nil, errors.New("boom") }
	info = describe(t, refs, stac.RefOptions{ReadRange: failing})
	assert.Nil(t, info.BBox)
	assert.Contains(t, info.Warnings[0], "boom")
}

func TestFromReferencesStructure(t *testing.T) {
	_, err := stac.FromReferences(context.Background(), newRefs(), stac.RefOptions{})
	assert.ErrorIs(t, err, stac.ErrReferences, "no arrays")

	refs := newRefs()
	refs.SetText("v/.zarray", `{"shape": [2], "chunks": [2, 1]}`)
	_, err = stac.FromReferences(context.Background(), refs, stac.RefOptions{})
	assert.ErrorIs(t, err, stac.ErrReferences, "chunks do not match shape")

	refs = newRefs()
	refs.SetText("v/.zarray", `{"shape": [2], `)
	_, err = stac.FromReferences(context.Background(), refs, stac.RefOptions{})
	assert.ErrorIs(t, err, stac.ErrReferences, "broken JSON")

	refs = newRefs()
	addArray(t, refs, arr{name: "v", dims: []string{"x"}, shape: []int{2}, chunks: []int{2}, dtype: "<f8"})
	addArray(t, refs, arr{name: "nodims", shape: []int{2}, chunks: []int{2}, dtype: "<f8"})
	addArray(t, refs, arr{name: "g/w", dims: []string{"x"}, shape: []int{2}, chunks: []int{2}, dtype: "<f8"})
	addArray(t, refs, arr{name: "cplx", dims: []string{"x"}, shape: []int{2}, chunks: []int{2}, dtype: "<c16"})
	info := describe(t, refs, stac.RefOptions{})
	assert.Equal(t, []string{
		`array "nodims" has no valid _ARRAY_DIMENSIONS: left out`,
		"1 arrays in nested groups left out (xarray opens the root group)",
	}, info.Warnings)
	assert.Equal(t, []string{"v", "cplx"}, info.DataVariables())
	assert.Equal(t, "complex128", info.Variable("cplx").DataType)
	assert.Equal(t, int64(2), info.Dimension("x").Size)
}

func TestFromReferencesNoData(t *testing.T) {
	refs := newRefs()
	addArray(t, refs, arr{name: "a", dims: []string{"x"}, shape: []int{1}, chunks: []int{1}, dtype: "<f4", fill: "NaN"})
	addArray(t, refs, arr{name: "b", dims: []string{"x"}, shape: []int{1}, chunks: []int{1}, dtype: "<f4", fill: 1.0000000200408773e+20})
	addArray(t, refs, arr{name: "c", dims: []string{"x"}, shape: []int{1}, chunks: []int{1}, dtype: "<i2",
		attrs: map[string]any{"_FillValue": -999}, fill: -32768})
	addArray(t, refs, arr{name: "d", dims: []string{"x"}, shape: []int{1}, chunks: []int{1}, dtype: "<f8",
		attrs: map[string]any{"missing_value": []any{1e30}}})
	addArray(t, refs, arr{name: "e", dims: []string{"x"}, shape: []int{1}, chunks: []int{1}, dtype: "<u8", fill: uint64(math.MaxUint64)})
	addArray(t, refs, arr{name: "f", dims: []string{"x"}, shape: []int{1}, chunks: []int{1}, dtype: "<f8", fill: "-Infinity"})
	info := describe(t, refs, stac.RefOptions{})
	want := map[string]any{"a": math.NaN(), "b": 1e20, "c": int64(-999), "d": 1e30, "e": uint64(math.MaxUint64), "f": math.Inf(-1)}
	for name, w := range want {
		got := info.Variable(name).NoData
		if f, ok := w.(float64); ok && math.IsNaN(f) {
			assert.True(t, math.IsNaN(got.(float64)), name)
			continue
		}
		assert.Equal(t, w, got, name)
	}
	item, err := stac.Build(info, stac.Options{DatasetID: "nd", RefURL: "/r.json", Created: created})
	require.NoError(t, err)
	vars := item.Properties.CubeVariables
	assert.Equal(t, "nan", vars["a"].NoData)
	assert.Equal(t, "-inf", vars["f"].NoData)
	assert.Equal(t, 1e20, vars["b"].NoData)
	require.NoError(t, validateItem(t, encode(t, item)))
}
