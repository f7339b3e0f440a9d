package stac

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/greensight/vzarr/internal/cf"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/refread"
	"github.com/greensight/vzarr/zarr"
)

// ErrReferences reports a reference set FromReferences cannot describe.
var ErrReferences = errors.New("stac: cannot describe references")

// Defaults of RefOptions.
const (
	DefaultMaxValues      = 50
	DefaultMaxCoordChunks = 1000
	DefaultMaxCoordBytes  = 64 << 20
)

// RangeReader reads n bytes at off of the object at url (n < 0: the whole
// object). FromReferences uses it, as a refread.Fetcher, for coordinate
// chunks that the reference set does not hold inline; it may be called
// from several goroutines at once.
type RangeReader func(ctx context.Context, url string, off, n int64) ([]byte, error)

// RefOptions configures FromReferences.
type RefOptions struct {
	// ReadRange reads coordinate chunks stored outside the reference set.
	// Nil reads local files only (absolute paths and file:// URLs); other
	// chunks are then left unread and a warning says so.
	ReadRange RangeReader
	// MaxValues: dimensions with at most this many coordinate values list
	// them (default DefaultMaxValues; negative: never).
	MaxValues int
	// MaxCoordChunks: a one-dimensional coordinate stored in more chunks
	// is read at its first and last chunk only, which gives the extent of
	// a monotonic coordinate but no step (default DefaultMaxCoordChunks).
	MaxCoordChunks int
	// MaxCoordBytes bounds the decoded size of a coordinate that is read
	// (default DefaultMaxCoordBytes): a description reads less than
	// Limits allow.
	MaxCoordBytes int64
	// Limits bound what reading the references may allocate (refread's
	// checks, the reference file's size); zero fields take the defaults.
	Limits limits.Limits
}

func (o *RefOptions) norm() {
	if o.MaxValues == 0 {
		o.MaxValues = DefaultMaxValues
	}
	if o.MaxCoordChunks <= 0 {
		o.MaxCoordChunks = DefaultMaxCoordChunks
	}
	if o.MaxCoordBytes <= 0 {
		o.MaxCoordBytes = DefaultMaxCoordBytes
	}
	if o.ReadRange == nil {
		o.ReadRange = ReadLocalRange
	}
}

// zvar is one root-level array of the reference set.
type zvar struct {
	name          string
	meta          *zarr.ArrayV2
	shape, chunks []int64
	attrs         map[string]any
	dims          []string
	dt            zarr.DType
}

func (v *zvar) attr(name string) string { return attrString(v.attrs, name) }

// describer holds the state of one FromReferences call.
type describer struct {
	ctx   context.Context
	refs  *kerchunk.Refs
	store *refread.Store // reads coordinates
	opts  RefOptions
	info  *DatasetInfo
	vars  map[string]*zvar
	order []string        // array names in reference order
	aux   map[string]bool // names of auxiliary variables
}

func (d *describer) warnf(format string, args ...any) {
	d.info.Warnings = append(d.info.Warnings, fmt.Sprintf(format, args...))
}

// FromReferences describes the dataset that a kerchunk reference set
// presents as Zarr v2: the root group's arrays, their dimensions
// (_ARRAY_DIMENSIONS), attributes (units, long_name, _FillValue,
// coordinates, bounds, grid_mapping) and chunks, and the values of the
// coordinates. Coordinates are read with package refread, from inline
// chunks (raw, or through the .zarray's codecs: zlib, gzip, shuffle, zstd,
// ...) and from byte ranges read with opts.ReadRange. Numeric time
// coordinates are decoded with their CF units and calendar (package
// internal/cftime); longitude/latitude coordinates give the bounding box.
//
// Nested groups are left out, as xarray opens the root group. What cannot
// be read or decoded is left out of the description with a warning; an
// error means the references themselves are unusable.
func FromReferences(ctx context.Context, refs *kerchunk.Refs, opts RefOptions) (*DatasetInfo, error) {
	opts.norm()
	store := refread.NewStore(refs, refread.FetcherFunc(opts.ReadRange))
	store.Limits = opts.Limits
	d := &describer{ctx: ctx, refs: refs, store: store,
		opts: opts, info: &DatasetInfo{}, vars: map[string]*zvar{}, aux: map[string]bool{}}
	if err := d.load(); err != nil {
		return nil, err
	}
	d.remote()
	_, d.info.Consolidated = refs.Text(kerchunk.ConsolidatedKey)
	if err := d.describe(); err != nil {
		return nil, err
	}
	return d.info, nil
}

// load parses the metadata of the root group and its arrays.
func (d *describer) load() error {
	if text, ok := d.refs.Text(".zattrs"); ok {
		attrs, err := parseAttrs(text)
		if err != nil {
			return fmt.Errorf("%w: .zattrs: %v", ErrReferences, err)
		}
		d.info.Title = attrString(attrs, "title")
		d.info.Description = attrString(attrs, "summary")
		if d.info.Description == "" {
			d.info.Description = attrString(attrs, "description")
		}
		// xarray lists coordinates used by no variable here.
		for _, name := range strings.Fields(attrString(attrs, "coordinates")) {
			d.aux[name] = true
		}
	}
	nested := 0
	for _, key := range d.refs.Keys() {
		name, ok := strings.CutSuffix(key, "/.zarray")
		if !ok {
			continue
		}
		if strings.Contains(name, "/") {
			nested++
			continue
		}
		text, ok := d.refs.Text(key)
		if !ok {
			return fmt.Errorf("%w: %s is not inline metadata", ErrReferences, key)
		}
		v := &zvar{name: name, attrs: map[string]any{}}
		meta, err := zarr.ParseArrayV2([]byte(text))
		if errors.Is(err, zarr.ErrUnsupported) {
			d.warnf("array %q: %v: left out", name, err)
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrReferences, key, err)
		}
		v.meta, v.dt = meta, meta.DType
		for i := range meta.Shape {
			if meta.Shape[i] > math.MaxInt64 || meta.Chunks[i] > math.MaxInt64 {
				return fmt.Errorf("%w: %s: bad shape %v or chunks %v", ErrReferences, key, meta.Shape, meta.Chunks)
			}
			v.shape = append(v.shape, int64(meta.Shape[i]))
			v.chunks = append(v.chunks, int64(meta.Chunks[i]))
		}
		if text, ok := d.refs.Text(name + "/.zattrs"); ok {
			attrs, err := parseAttrs(text)
			if err != nil {
				return fmt.Errorf("%w: %s/.zattrs: %v", ErrReferences, name, err)
			}
			v.attrs = attrs
		}
		dims, ok := attrStrings(v.attrs, "_ARRAY_DIMENSIONS")
		if !ok || len(dims) != len(v.shape) {
			d.warnf("array %q has no valid _ARRAY_DIMENSIONS: left out", name)
			continue
		}
		v.dims = dims
		d.vars[name] = v
		d.order = append(d.order, name)
	}
	if nested > 0 {
		d.warnf("%d arrays in nested groups left out (xarray opens the root group)", nested)
	}
	if len(d.order) == 0 {
		return fmt.Errorf("%w: no arrays in the root group", ErrReferences)
	}
	return nil
}

// remote records the protocol and account of the chunk URLs.
func (d *describer) remote() {
	urls := d.refs.URLs()
	protos := map[string]bool{}
	for _, u := range urls {
		loc, err := ParseRefURL(u)
		if err != nil {
			continue
		}
		// fsspec resolves chunk URLs with the protocol of their own
		// scheme: https://ACCOUNT.blob.core.windows.net/... is "https".
		proto := loc.Protocol
		if scheme, _, ok := strings.Cut(u, "://"); ok && (strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "http")) {
			proto = strings.ToLower(scheme)
		}
		protos[proto] = true
		if d.info.RemoteProtocol == "" {
			d.info.RemoteProtocol = proto
			if proto == "abfs" {
				d.info.RemoteAccount = loc.Account
			}
		}
	}
	if len(protos) > 1 {
		keys := make([]string, 0, len(protos))
		for k := range protos {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		d.warnf("chunk URLs use several protocols (%s); remote_protocol is %q", strings.Join(keys, ", "), d.info.RemoteProtocol)
	}
}

// isDimCoord reports whether v is the coordinate variable of a dimension.
func isDimCoord(v *zvar) bool { return len(v.dims) == 1 && v.dims[0] == v.name }

// describe fills the info's dimensions, variables, time range and box.
func (d *describer) describe() error {
	// Auxiliary variables: named by coordinates, bounds, climatology or
	// grid_mapping attributes.
	for _, name := range d.order {
		v := d.vars[name]
		for _, c := range strings.Fields(v.attr("coordinates")) {
			d.aux[c] = true
		}
		for _, a := range []string{"bounds", "climatology"} {
			if b := v.attr(a); b != "" {
				d.aux[b] = true
			}
		}
		for _, g := range gridMappingNames(v.attr("grid_mapping")) {
			d.aux[g] = true
		}
	}

	// Dimensions, in order of use by data variables, then by the others.
	sizes := map[string]int64{}
	var dimOrder []string
	addDims := func(v *zvar) {
		for i, dim := range v.dims {
			n := v.shape[i]
			if old, ok := sizes[dim]; ok {
				if old != n {
					d.warnf("dimension %q has length %d in %q but %d elsewhere", dim, n, v.name, old)
				}
				continue
			}
			sizes[dim] = n
			dimOrder = append(dimOrder, dim)
		}
	}
	for _, pass := range []bool{false, true} {
		for _, name := range d.order {
			v := d.vars[name]
			if (d.aux[name] || isDimCoord(v)) == pass {
				addDims(v)
			}
		}
	}

	for _, dim := range dimOrder {
		dd := Dimension{Name: dim, Size: sizes[dim]}
		if cv, ok := d.vars[dim]; ok && isDimCoord(cv) {
			d.describeDim(&dd, cv)
		}
		d.info.Dimensions = append(d.info.Dimensions, dd)
	}

	for _, name := range d.order {
		v := d.vars[name]
		if isDimCoord(v) {
			continue
		}
		d.info.Variables = append(d.info.Variables, d.variable(v))
	}

	// The time range is the first time dimension's extent.
	for _, dim := range d.info.Dimensions {
		if dim.Axis == AxisT && dim.Start != nil && dim.End != nil {
			d.info.TimeRange = &TimeRange{Start: *dim.Start, End: *dim.End}
			break
		}
	}
	d.bbox()
	return nil
}

// variable describes a non-dimension-coordinate array.
func (d *describer) variable(v *zvar) Variable {
	out := Variable{
		Name:        v.name,
		Dims:        slices.Clone(v.dims),
		Shape:       slices.Clone(v.shape),
		Chunks:      slices.Clone(v.chunks),
		DataType:    v.dt.NumpyName(),
		Unit:        v.attr("units"),
		Description: v.attr("long_name"),
		Auxiliary:   d.aux[v.name],
	}
	if out.Description == "" {
		out.Description = v.attr("description")
	}
	if v.dt.Kind == 'i' && strings.EqualFold(v.attr("_Unsigned"), "true") {
		out.DataType = "u" + out.DataType // netCDF-3's unsigned bytes
	}
	// The no-data value xarray masks: _FillValue, else the Zarr
	// fill_value (xarray's _FillValue for Zarr), else missing_value.
	if fv, ok := v.attrs["_FillValue"]; ok {
		out.NoData = numberValue(fv)
	}
	if out.NoData == nil {
		out.NoData = fillValue(v.meta.FillValue, v.dt)
	}
	if out.NoData == nil {
		if mv, ok := v.attrs["missing_value"]; ok {
			out.NoData = numberValue(mv)
		}
	}
	if f, ok := out.NoData.(float64); ok {
		out.NoData = roundTo(v.dt, f) // float32's 1e20, not 1.0000000200408773e+20
	}
	return out
}

// gridMappingNames returns the grid mapping variables a grid_mapping
// attribute names: "crs", or "crs_a: x y crs_b: lat lon".
func gridMappingNames(s string) []string {
	f := strings.Fields(s)
	if len(f) == 1 {
		return f
	}
	var out []string
	for _, w := range f {
		if name, ok := strings.CutSuffix(w, ":"); ok && name != "" {
			out = append(out, name)
		}
	}
	return out
}

// describeDim fills a dimension from its coordinate variable.
func (d *describer) describeDim(dd *Dimension, cv *zvar) {
	dd.Unit = cv.attr("units")
	dd.Description = cv.attr("long_name")
	dd.Axis = detectAxis(cv)
	if !numeric(cv.dt) && !cv.dt.IsString() {
		d.warnf("coordinate %q: dtype %s is neither numeric nor text", cv.name, cv.dt.NumpyName())
		return
	}
	if dd.Axis == AxisT && cv.dt.Kind != 'M' && !strings.Contains(dd.Unit, " since ") {
		d.warnf("time coordinate %q has units %q, not \"<unit> since <date>\": described as a number", cv.name, dd.Unit)
		dd.Axis = AxisNone
	}
	if cv.dt.IsString() {
		if dd.Axis != AxisNone {
			dd.Axis = AxisNone
		}
		labels, err := d.readStrings(cv)
		if err != nil {
			d.warnf("coordinate %q: %v", cv.name, err)
			return
		}
		if d.opts.MaxValues < 0 || len(labels) > d.opts.MaxValues {
			return
		}
		dd.Labels = labels
		return
	}
	vals, complete, err := d.readNumbers(cv)
	if err != nil {
		d.warnf("coordinate %q: %v", cv.name, err)
		return
	}
	if dd.Axis == AxisT {
		ct, err := cv.timeUnits()
		if err == nil {
			var ax *timeAxis
			if ax, err = summarizeTimes(ct, vals, complete); err == nil {
				dd.Start, dd.End = &ax.start, &ax.end
				dd.Spacing, dd.TimeStep = ax.spacing, ax.step
				dd.Unit = ""
				return
			}
		}
		d.warnf("time coordinate %q: %v: described as a number", cv.name, err)
		dd.Axis = AxisNone
	}
	summarizeNumbers(dd, vals, complete, cv.dt, d.opts.MaxValues)
	if dd.Axis == AxisX || dd.Axis == AxisY {
		if !isGeographic(cv) {
			dd.ReferenceSystem = d.crsOf(cv.name)
			if dd.ReferenceSystem == nil {
				d.warnf("projected coordinate %q: no grid mapping with crs_wkt, spatial_ref or epsg_code", cv.name)
			}
		}
	}
}

// crsOf finds the CRS of the grid mapping of a variable that uses dim.
func (d *describer) crsOf(dim string) any {
	for _, name := range d.order {
		v := d.vars[name]
		if !slices.Contains(v.dims, dim) {
			continue
		}
		for _, g := range gridMappingNames(v.attr("grid_mapping")) {
			gm := d.vars[g]
			if gm == nil {
				continue
			}
			if w := gm.attr("crs_wkt"); w != "" {
				return w
			}
			if w := gm.attr("spatial_ref"); w != "" {
				return w
			}
			if e := gm.attr("epsg_code"); e != "" {
				if n, err := strconv.Atoi(strings.TrimPrefix(strings.ToUpper(e), "EPSG:")); err == nil {
					return n
				}
			}
		}
	}
	return nil
}

// summarizeNumbers fills a dimension's extent, spacing and values.
func summarizeNumbers(dd *Dimension, vals []float64, complete bool, dt zarr.DType, maxValues int) {
	lo, hi := math.Inf(1), math.Inf(-1)
	finite := 0
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
		finite++
	}
	if finite == 0 {
		return
	}
	dd.Extent = &[2]float64{lo, hi}
	if !complete || finite != len(vals) {
		return
	}
	if len(vals) <= maxValues {
		dd.Values = vals
	}
	if len(vals) < 2 {
		return
	}
	d0 := vals[1] - vals[0]
	maxAbs := math.Max(math.Abs(lo), math.Abs(hi))
	tol := 1e-6*math.Abs(d0) + 4*epsilon(dt)*maxAbs
	regular := d0 != 0
	for i := 2; i < len(vals) && regular; i++ {
		regular = math.Abs(vals[i]-vals[i-1]-d0) <= tol
	}
	if !regular {
		dd.Spacing = SpacingIrregular
		return
	}
	dd.Spacing = SpacingRegular
	dd.Step = roundTo(dt, (vals[len(vals)-1]-vals[0])/float64(len(vals)-1))
}

// bbox derives the info's box from geographic x/y dimensions, or from
// auxiliary longitude/latitude arrays.
func (d *describer) bbox() {
	var lon, lat *Dimension
	for i := range d.info.Dimensions {
		dd := &d.info.Dimensions[i]
		cv := d.vars[dd.Name]
		if cv == nil || dd.Extent == nil || !isGeographic(cv) {
			continue
		}
		switch {
		case dd.Axis == AxisX && lon == nil:
			lon = dd
		case dd.Axis == AxisY && lat == nil:
			lat = dd
		}
	}
	if lon != nil && lat != nil {
		step := 0.0
		if lon.Spacing == SpacingRegular {
			step = lon.Step
		}
		b, err := lonLatBBox(*lon.Extent, *lat.Extent, step)
		if err != nil {
			d.warnf("bounding box: %v", err)
			return
		}
		d.info.BBox = &b
		return
	}
	// Curvilinear grids: 2-D longitude and latitude arrays.
	var lonV, latV *zvar
	for _, name := range d.order {
		v := d.vars[name]
		if !d.aux[name] || len(v.dims) < 1 || !isGeographic(v) {
			continue
		}
		switch detectAxis(v) {
		case AxisX:
			if lonV == nil {
				lonV = v
			}
		case AxisY:
			if latV == nil {
				latV = v
			}
		}
	}
	if lonV == nil || latV == nil {
		return
	}
	var ext [2][2]float64
	for i, v := range []*zvar{lonV, latV} {
		vals, complete, err := d.readNumbers(v)
		if err != nil || !complete {
			if err == nil {
				err = errors.New("too many chunks")
			}
			d.warnf("auxiliary coordinate %q: %v: no bounding box", v.name, err)
			return
		}
		var dd Dimension
		summarizeNumbers(&dd, vals, true, v.dt, -1)
		if dd.Extent == nil {
			return
		}
		ext[i] = *dd.Extent
	}
	b, err := lonLatBBox(ext[0], ext[1], 0)
	if err != nil {
		d.warnf("bounding box: %v", err)
		return
	}
	d.info.BBox = &b
}

// isGeographic reports whether a coordinate holds longitudes or latitudes.
func isGeographic(v *zvar) bool {
	u := strings.ToLower(v.attr("units"))
	if cf.IsLonUnits(u) || cf.IsLatUnits(u) {
		return true
	}
	switch strings.ToLower(v.attr("standard_name")) {
	case "longitude", "latitude":
		return true
	}
	if u == "" || strings.HasPrefix(u, "degree") {
		switch strings.ToLower(v.name) {
		case "lon", "longitude", "lat", "latitude", "nav_lon", "nav_lat":
			return true
		}
	}
	return false
}

// detectAxis classifies a coordinate variable as CF does: its axis
// attribute, standard_name and units, then its name.
func detectAxis(v *zvar) Axis {
	axis := strings.ToUpper(v.attr("axis"))
	sn := strings.ToLower(v.attr("standard_name"))
	units := strings.ToLower(v.attr("units"))
	name := strings.ToLower(v.name)
	switch {
	case axis == "X", sn == "longitude", sn == "grid_longitude", sn == "projection_x_coordinate",
		cf.IsLonUnits(units):
		return AxisX
	case axis == "Y", sn == "latitude", sn == "grid_latitude", sn == "projection_y_coordinate",
		cf.IsLatUnits(units):
		return AxisY
	case axis == "T", sn == "time", strings.Contains(units, " since "), v.dt.Kind == 'M':
		return AxisT
	case axis == "Z", v.attr("positive") != "",
		slices.Contains([]string{"air_pressure", "height", "depth", "altitude", "model_level_number",
			"atmosphere_hybrid_sigma_pressure_coordinate", "atmosphere_sigma_coordinate", "ocean_sigma_coordinate"}, sn):
		return AxisZ
	}
	switch name {
	case "lon", "longitude":
		return AxisX
	case "lat", "latitude":
		return AxisY
	case "time":
		return AxisT
	case "lev", "level", "plev", "depth", "height", "altitude", "z":
		return AxisZ
	case "x":
		if units != "" {
			return AxisX
		}
	case "y":
		if units != "" {
			return AxisY
		}
	}
	return AxisNone
}

// timeUnits returns the decoder of a time coordinate's values.
func (v *zvar) timeUnits() (*cfTime, error) {
	if v.dt.Kind == 'M' {
		// datetime64: readNumbers returns its units since the epoch.
		unit, ok := numpyTimeUnits[v.dt.TimeUnit()]
		if !ok {
			return nil, fmt.Errorf("%w: dtype %s", ErrTimeUnits, v.dt.Str)
		}
		return parseCFTime(unit+" since 1970-01-01", "proleptic_gregorian")
	}
	return parseCFTime(v.attr("units"), v.attr("calendar"))
}

var numpyTimeUnits = map[string]string{
	"ns": "nanoseconds", "us": "microseconds", "ms": "milliseconds", "s": "seconds",
	"m": "minutes", "h": "hours", "D": "days", "W": "weeks",
}

// fillValue reads a .zarray fill_value as a no-data value: float64 for
// float dtypes, int64 or uint64 for integers, nil for the others.
func fillValue(raw json.RawMessage, dt zarr.DType) any {
	b, err := dt.DecodeFill(raw)
	if err != nil || b == nil {
		return nil
	}
	switch dt.Kind {
	case 'f':
		return dt.Float64At(b)
	case 'i':
		return dt.Int64At(b)
	case 'u':
		return uint64(dt.Int64At(b))
	}
	return nil
}

// numberValue converts an attribute value to a no-data number: int64,
// uint64 or float64 (also "NaN" strings); nil for others.
func numberValue(v any) any {
	switch x := v.(type) {
	case []any:
		if len(x) == 1 {
			return numberValue(x[0])
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return u
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
	case float64:
		return x
	case string:
		switch strings.ToLower(x) {
		case "nan":
			return math.NaN()
		case "inf", "infinity":
			return math.Inf(1)
		case "-inf", "-infinity":
			return math.Inf(-1)
		}
	}
	return nil
}

// parseAttrs parses a .zattrs document (zarr.ParseAttrs: numbers as
// json.Number, bare NaN and Infinity as float64).
func parseAttrs(text string) (map[string]any, error) {
	return zarr.ParseAttrs([]byte(text))
}

// attrString returns a string attribute (or the first of a list).
func attrString(attrs map[string]any, name string) string {
	switch x := attrs[name].(type) {
	case string:
		return strings.TrimSpace(x)
	case []any:
		if len(x) > 0 {
			if s, ok := x[0].(string); ok {
				return strings.TrimSpace(s)
			}
		}
	}
	return ""
}

// attrStrings returns a list-of-strings attribute.
func attrStrings(attrs map[string]any, name string) ([]string, bool) {
	l, ok := attrs[name].([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, ok := x.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
