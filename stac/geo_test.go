package stac_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/stac"
)

func TestNormalizeBBox(t *testing.T) {
	tests := []struct {
		name  string
		in    stac.BBox
		want  stac.BBox
		cross bool
	}{
		{"plain", stac.BBox{-10, 35, 30, 70}, stac.BBox{-10, 35, 30, 70}, false},
		{"global 0..360", stac.BBox{0, -90, 360, 90}, stac.BBox{-180, -90, 180, 90}, false},
		{"global -180..180", stac.BBox{-180, -90, 180, 90}, stac.BBox{-180, -90, 180, 90}, false},
		{"0..360 east half", stac.BBox{0, -10, 180, 10}, stac.BBox{0, -10, 180, 10}, false},
		{"0..360 west half", stac.BBox{180, -10, 359, 10}, stac.BBox{-180, -10, -1, 10}, false},
		{"0..360 across the dateline", stac.BBox{170, 10, 200, 20}, stac.BBox{170, 10, -160, 20}, true},
		{"already crossing", stac.BBox{170, 10, -160, 20}, stac.BBox{170, 10, -160, 20}, true},
		{"across Greenwich in 0..360", stac.BBox{350, 40, 10, 60}, stac.BBox{-10, 40, 10, 60}, false},
		{"more than 360", stac.BBox{-200, 0, 200, 1}, stac.BBox{-180, 0, 180, 1}, false},
		{"point", stac.BBox{13.25, 52.5, 13.25, 52.5}, stac.BBox{13.25, 52.5, 13.25, 52.5}, false},
		{"polar rounding", stac.BBox{0, -90.0000000001, 10, 90}, stac.BBox{0, -90, 10, 90}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := stac.NormalizeBBox(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.cross, got.CrossesAntimeridian())
		})
	}
	for _, bad := range []stac.BBox{{0, 10, 1, 5}, {0, -91, 1, 0}, {0, 0, 1, 95}, {math.NaN(), 0, 1, 1}, {0, 0, math.Inf(1), 1}} {
		_, err := stac.NormalizeBBox(bad)
		assert.Error(t, err, "%v", bad)
	}
}

func TestBBoxGeometry(t *testing.T) {
	g := stac.BBox{-10, 35, 30, 70}.Geometry()
	assert.Equal(t, "Polygon", g.Type)
	assert.Equal(t, [][][2]float64{{{-10, 35}, {30, 35}, {30, 70}, {-10, 70}, {-10, 35}}}, g.Coordinates,
		"counter-clockwise exterior ring, closed")
	ring := g.Coordinates.([][][2]float64)[0]
	area := 0.0
	for i := 0; i+1 < len(ring); i++ {
		area += ring[i][0]*ring[i+1][1] - ring[i+1][0]*ring[i][1]
	}
	assert.Positive(t, area, "right-hand rule (RFC 7946 §3.1.6)")

	g = stac.BBox{170, 10, -160, 20}.Geometry()
	assert.Equal(t, "MultiPolygon", g.Type)
	assert.Equal(t, [][][][2]float64{
		{{{170, 10}, {180, 10}, {180, 20}, {170, 20}, {170, 10}}},
		{{{-180, 10}, {-160, 10}, {-160, 20}, {-180, 20}, {-180, 10}}},
	}, g.Coordinates)

	g = stac.BBox{13.25, 52.5, 13.25, 52.5}.Geometry()
	assert.Equal(t, "Point", g.Type)
	assert.Equal(t, [2]float64{13.25, 52.5}, g.Coordinates)

	g = stac.BBox{0, 52.5, 10, 52.5}.Geometry()
	assert.Equal(t, "LineString", g.Type)
}
