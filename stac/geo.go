package stac

import (
	"fmt"
	"math"
)

// wrapLon maps a longitude to [-180, 180], keeping 180 as 180.
func wrapLon(x float64) float64 {
	if x >= -180 && x <= 180 {
		return x
	}
	y := math.Mod(x+180, 360)
	if y < 0 {
		y += 360
	}
	return y - 180
}

// NormalizeBBox checks a [west, south, east, north] box and brings its
// longitudes to -180..180, the form STAC and GeoJSON want.
//
// Longitudes may be given in 0..360 or -180..180; west > east means the
// box runs east from west across 180° (or 360°) to east. A box spanning
// 360° or more becomes [-180, south, 180, north]. A box whose west lies
// east of its east after wrapping (170..200 becomes 170..-160) crosses the
// antimeridian, and stays written so, as RFC 7946 §5.2 does. Latitudes must lie in
// -90..90 with south <= north.
func NormalizeBBox(b BBox) (BBox, error) {
	w, s, e, n := b[0], b[1], b[2], b[3]
	for _, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return BBox{}, fmt.Errorf("stac: bbox %v: not finite", b)
		}
	}
	const eps = 1e-9
	if s < -90-eps || n > 90+eps || s > n {
		return BBox{}, fmt.Errorf("stac: bbox %v: latitudes must satisfy -90 <= south <= north <= 90", b)
	}
	s, n = math.Max(s, -90), math.Min(n, 90)
	if w > e {
		e += 360 // the box goes east from w through the antimeridian (or 360°)
	}
	if e-w >= 360-eps {
		return BBox{-180, s, 180, n}, nil
	}
	w2, e2 := wrapLon(w), wrapLon(e)
	if w2 == 180 && w != e {
		w2 = -180 // a box starting at the antimeridian
	}
	if e2 == -180 && w != e {
		e2 = 180
	}
	return BBox{w2, s, e2, n}, nil
}

// CrossesAntimeridian reports whether a normalized box crosses 180°.
func (b BBox) CrossesAntimeridian() bool { return b[0] > b[2] }

// Geometry returns the GeoJSON geometry of a normalized box: a Polygon
// (counter-clockwise, as RFC 7946 wants), a MultiPolygon of the two parts
// of a box crossing the antimeridian (RFC 7946 §3.1.9), a Point for a box
// of no size and a LineString for a box of no width or no height.
func (b BBox) Geometry() *Geometry {
	w, s, e, n := b[0], b[1], b[2], b[3]
	ring := func(w, e float64) [][][2]float64 {
		return [][][2]float64{{{w, s}, {e, s}, {e, n}, {w, n}, {w, s}}}
	}
	switch {
	case w == e && s == n:
		return &Geometry{Type: "Point", Coordinates: [2]float64{w, s}}
	case w == e || s == n:
		return &Geometry{Type: "LineString", Coordinates: [][2]float64{{w, s}, {e, n}}}
	case b.CrossesAntimeridian():
		return &Geometry{Type: "MultiPolygon", Coordinates: [][][][2]float64{ring(w, 180), ring(-180, e)}}
	}
	return &Geometry{Type: "Polygon", Coordinates: ring(w, e)}
}

// lonLatBBox derives the box of longitude and latitude coordinate extents.
// step is the longitude spacing (0 when unknown): coordinates covering
// 360° once cell widths are counted (0, 2.5, ..., 357.5) are global.
func lonLatBBox(lon, lat [2]float64, step float64) (BBox, error) {
	w, e := lon[0], lon[1]
	if e-w+math.Abs(step) >= 360-1e-6 {
		w, e = -180, 180
	}
	return NormalizeBBox(BBox{w, lat[0], e, lat[1]})
}
