package combine

import (
	"context"
	"errors"
	"math"
	"sort"
	"strings"

	"github.com/greensight/vzarr/internal/cf"
	"github.com/greensight/vzarr/internal/cftime"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/refread"
)

// summarize fills the dimensions, data variables, time range and spatial
// extent of res. Problems reading coordinates become warnings (the
// references themselves are complete), except a coordinate above a limit.
func (c *combiner) summarize(ctx context.Context, res *Result, plans map[string]*plan, shapes, chunks map[string][]int) error {
	res.Dimensions = map[string]uint64{}
	coords, bounds := map[string]bool{}, map[string]bool{}
	for _, p := range c.first.order {
		a := c.first.arrays[p]
		for j, d := range a.meta.Dims {
			res.Dimensions[d] = uint64(shapes[p][j])
		}
		if len(a.meta.Dims) == 1 && a.meta.Dims[0] == baseName(p) {
			coords[p] = true
		}
		if s, ok := a.meta.AttrString("coordinates"); ok {
			for _, name := range strings.Fields(s) {
				coords[siblingPath(p, name)] = true
			}
		}
		for _, attr := range []string{"bounds", "climatology", "grid_mapping"} {
			if s, ok := a.meta.AttrString(attr); ok {
				// grid_mapping may be "crs" or "crs: x y ..." (CF 1.7).
				for _, f := range strings.Fields(s) {
					if !strings.HasSuffix(f, ":") && attr == "grid_mapping" && strings.Contains(s, ":") {
						continue
					}
					bounds[siblingPath(p, strings.TrimSuffix(f, ":"))] = true
				}
			}
		}
	}
	res.Variables = map[string]*kerchunk.VarInfo{}
	for _, p := range c.first.order {
		if coords[p] || bounds[p] {
			continue
		}
		a := c.first.arrays[p]
		vi := &kerchunk.VarInfo{Dims: a.meta.Dims, Dtype: a.meta.DType.NumpyName()}
		if vi.Dims == nil {
			vi.Dims = []string{}
		}
		for j := range shapes[p] {
			vi.Shape = append(vi.Shape, uint64(shapes[p][j]))
			vi.Chunks = append(vi.Chunks, uint64(chunks[p][j]))
		}
		if vi.Shape == nil {
			vi.Shape, vi.Chunks = []uint64{}, []uint64{}
		}
		res.Variables[p] = vi
	}
	store := c.store(res.Refs)
	store.Parallel = max(c.opts.Parallel, refread.DefaultParallel)
	// A coordinate too large to read is an error, not a missing summary:
	// readers of the result would hit the same wall.
	if tr, err := c.timeRange(ctx, store, plans); errors.Is(err, limits.ErrExceeded) {
		return limits.Locate(err, c.first.name, c.opts.ConcatDim)
	} else if err != nil {
		c.warn("time_range: " + err.Error())
	} else {
		res.TimeRange = tr
	}
	if ext, err := c.spatialExtent(ctx, store); errors.Is(err, limits.ErrExceeded) {
		return limits.Locate(err, c.first.name, "")
	} else if err != nil {
		c.warn("spatial_extent: " + err.Error())
	} else {
		res.SpatialExtent = ext
	}
	res.Warnings = c.warnings
	return nil
}

func (c *combiner) warn(msg string) {
	c.warnings = append(c.warnings, msg)
	c.log.Warn("combine: " + msg)
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// timeRange returns the earliest and latest value of the concat
// coordinate, when it holds CF times.
func (c *combiner) timeRange(ctx context.Context, store *refread.Store, plans map[string]*plan) ([]string, error) {
	p := c.opts.ConcatDim
	a := c.first.arrays[p]
	if a == nil || len(a.meta.Dims) != 1 || c.timeLike[p] == nil {
		return nil, nil
	}
	var lo, hi cftime.Instant
	found := false
	consider := func(in cftime.Instant) {
		if !found || in.Before(lo) {
			lo = in
		}
		if !found || hi.Before(in) {
			hi = in
		}
		found = true
	}
	var cal cftime.Calendar
	if pl := plans[p]; pl != nil && pl.kind == planRewrite {
		cal = pl.rw.units.Calendar
		for k, in := range pl.rw.instants {
			if pl.rw.missing == nil || !pl.rw.missing[k] {
				consider(in)
			}
		}
	} else {
		pt := c.vars[p].parts[0]
		var err error
		if cal, err = cftime.ParseCalendar(pt.calendar); err != nil {
			return nil, err
		}
		u, err := cftime.ParseUnits(pt.units, cal)
		if err != nil {
			return nil, err
		}
		arr, err := store.Open(p)
		if err != nil {
			return nil, err
		}
		vals, err := arr.ReadFloat64s(ctx)
		if err != nil {
			return nil, err
		}
		// Written without a fill value: only NaN is missing. The range
		// is taken as the values are decoded (one Instant per value
		// would be several times the values' memory).
		scale, hasScale := a.meta.AttrFloat("scale_factor")
		offset, _ := a.meta.AttrFloat("add_offset")
		if !hasScale {
			scale = 1
		}
		for _, v := range vals {
			if math.IsNaN(v) {
				continue
			}
			in, err := u.Decode(v*scale + offset)
			if err != nil {
				return nil, err
			}
			consider(in)
		}
	}
	if !found {
		return nil, nil
	}
	return []string{cal.Date(lo).ISO(), cal.Date(hi).ISO()}, nil
}

// Spatial coordinates.

// geoScore rates how surely an array is a latitude (axis "Y") or
// longitude ("X") coordinate: 0 not at all.
func geoScore(a *refread.Array, axis string) int {
	sn, _ := a.AttrString("standard_name")
	units, _ := a.AttrString("units")
	units = strings.ToLower(units)
	ax, _ := a.AttrString("axis")
	name := strings.ToLower(baseName(a.Path))
	want, isUnits := "latitude", cf.IsLatUnits
	names := []string{"lat", "latitude", "nav_lat"}
	if axis == "X" {
		want, isUnits = "longitude", cf.IsLonUnits
		names = []string{"lon", "longitude", "nav_lon"}
	}
	switch {
	case sn == want:
		return 4
	case isUnits(units):
		return 3
	case strings.EqualFold(ax, axis) && strings.HasPrefix(units, "degree"):
		return 2
	case slicesContains(names, name) && (units == "" || strings.HasPrefix(units, "degree")):
		return 1
	}
	return 0
}

// spatialExtent finds the latitude and longitude coordinates (1-D or 2-D,
// or x/y marked as such) and returns [west, south, east, north], from
// their cell bounds when they have them.
func (c *combiner) spatialExtent(ctx context.Context, store *refread.Store) ([]float64, error) {
	var lat, lon *fileArray
	ls, os := 0, 0
	for _, p := range c.first.order {
		a := c.first.arrays[p]
		if s := geoScore(a.meta, "Y"); s > ls {
			lat, ls = a, s
		}
		if s := geoScore(a.meta, "X"); s > os {
			lon, os = a, s
		}
	}
	if lat == nil || lon == nil {
		return nil, nil
	}
	read := func(a *fileArray) ([]float64, bool, error) {
		path, isBounds := a.path, false
		if b, ok := a.meta.AttrString("bounds"); ok {
			if _, exists := c.first.arrays[siblingPath(a.path, b)]; exists {
				path, isBounds = siblingPath(a.path, b), true
			}
		}
		arr, err := store.Open(path)
		if err != nil {
			return nil, false, err
		}
		vals, err := arr.ReadFloat64s(ctx)
		if err != nil {
			return nil, false, err
		}
		f := effectiveFill(arr)
		scale, hasScale := arr.AttrFloat("scale_factor")
		offset, _ := arr.AttrFloat("add_offset")
		if !hasScale {
			scale = 1
		}
		out := vals[:0]
		for _, v := range vals {
			if math.IsNaN(v) || math.IsInf(v, 0) || (f.set && f.raw == "" && v == f.num) {
				continue
			}
			out = append(out, v*scale+offset)
		}
		return out, isBounds, nil
	}
	lats, _, err := read(lat)
	if err != nil {
		return nil, err
	}
	lons, lonBounds, err := read(lon)
	if err != nil {
		return nil, err
	}
	if len(lats) == 0 || len(lons) == 0 {
		return nil, nil
	}
	south, north := lats[0], lats[0]
	for _, v := range lats {
		south, north = math.Min(south, v), math.Max(north, v)
	}
	south, north = math.Max(south, -90), math.Min(north, 90)
	// The spacing of monotonic 1-D cell centres.
	step := 0.0
	if !lonBounds && len(lon.meta.Shape) == 1 && len(lons) > 1 {
		up, down := true, true
		for i := 1; i < len(lons); i++ {
			step = math.Max(step, math.Abs(lons[i]-lons[i-1]))
			up = up && lons[i] > lons[i-1]
			down = down && lons[i] < lons[i-1]
		}
		if !up && !down {
			step = 0
		}
	}
	west, east := lonExtent(lons, step)
	return []float64{west, south, east, north}, nil
}

// lonExtent returns the west and east edges of longitudes (any
// convention) in -180..180; west > east when the smallest arc holding them
// crosses the antimeridian. step, when positive, is the spacing of 1-D
// cell centres: a grid whose span plus one step covers 360 degrees is
// global.
func lonExtent(lons []float64, step float64) (float64, float64) {
	lo, hi := lons[0], lons[0]
	for _, v := range lons {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if hi-lo >= 360 || (step > 0 && hi-lo+step >= 360-1e-9) {
		return -180, 180
	}
	if lo >= -180 && hi <= 180 {
		return lo, hi
	}
	w := make([]float64, len(lons))
	for i, v := range lons {
		w[i] = math.Mod(math.Mod(v+180, 360)+360, 360) - 180
	}
	sort.Float64s(w)
	// The largest gap between neighbours on the circle is where the data
	// is not; prefer the gap across the antimeridian on ties.
	bestGap := w[0] + 360 - w[len(w)-1]
	west, east := w[0], w[len(w)-1]
	for i := 1; i < len(w); i++ {
		if g := w[i] - w[i-1]; g > bestGap {
			bestGap, west, east = g, w[i], w[i-1]
		}
	}
	return west, east
}
