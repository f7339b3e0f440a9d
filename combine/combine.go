package combine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/internal/cftime"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/kerchunk/codecs"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/refread"
	"github.com/greensight/vzarr/zarr"
)

// Options configures Combine.
type Options struct {
	// ConcatDim is the dimension to concatenate along ("time"). Required.
	ConcatDim string
	// Identical names variables without ConcatDim whose values must be
	// the same in every input (they are read from each one and
	// compared). Other such variables are taken from the first input
	// after checking their shape and dtype only.
	Identical []string
	// Fetcher reads the chunk bytes of the coordinates combine needs
	// (time values, lat/lon for the extent, Identical variables). Nil: a
	// blobio.BlobFetcher over Opener.
	Fetcher refread.Fetcher
	// Opener opens URLs for the default Fetcher (nil: from the
	// environment, see blobio.NewOpenerFromEnv).
	Opener *blobio.Opener
	// Parallel is how many inputs are loaded (read or translated) at
	// once; it also bounds how many loaded inputs wait in memory
	// (0: GOMAXPROCS).
	Parallel int
	// Logger receives progress and decisions (nil: slog.Default()).
	Logger *slog.Logger
	// Limits bound what the inputs may make Combine allocate: the values
	// it reads (coordinates, Identical variables, re-encoded times), the
	// chunks of a variable and the references of the result. The zero
	// value means limits.Default(). Exceeding one fails with a
	// *limits.Error naming the file and variable.
	Limits limits.Limits
}

// Result is a combined dataset: its references and a summary (the
// "result" of Contract 5, without the output's URL and size).
type Result struct {
	Refs *kerchunk.Refs
	// SourceFiles are the input names, in order.
	SourceFiles []string
	// Dimensions maps dimension names to lengths.
	Dimensions map[string]uint64
	// Variables describes the data variables: arrays that are neither
	// coordinates (dimension coordinates, or listed in a "coordinates"
	// attribute), cell bounds nor grid mappings.
	Variables map[string]*kerchunk.VarInfo
	// TimeRange is [start, end] of the concat coordinate in ISO 8601
	// (its earliest and latest values), or nil when it holds no CF times.
	TimeRange []string
	// SpatialExtent is [west, south, east, north] in degrees, longitudes
	// in -180..180 (west > east when the extent crosses the antimeridian),
	// or nil when there are no latitude/longitude coordinates.
	SpatialExtent []float64
	// Warnings lists decisions a user should know about.
	Warnings []string
}

// combiner is the state of one Combine call.
type combiner struct {
	opts      Options
	log       *slog.Logger
	fetch     refread.Fetcher
	identical map[string]bool

	first    *fileModel
	files    []string
	vars     map[string]*concatVar // arrays along the concat dimension
	timeLike map[string]*timeInfo  // arrays holding CF times, by path
	warnings []string
	// lastUse is, for every input, the last array written whose chunks
	// it holds (see planReleases).
	lastUse []string
}

// concatVar is an array along the concat dimension: each input's part.
type concatVar struct {
	path  string
	first *fileArray
	parts []*part
	// encDiffers: some input encodes this time-like array differently
	// (units, calendar, dtype, fill value, packing, codecs) than the
	// first (firstEnc).
	encDiffers bool
	firstEnc   string
}

// part is one input's share of a concatVar.
type part struct {
	file   string
	length int // along the concat axis
	chunk  int // chunk length along the concat axis
	chunks chunkList
	// Time-like arrays: the input's metadata, and the units and calendar
	// that apply (a bounds variable's coordinate's when it has none).
	fa       *fileArray
	units    string
	calendar string
}

// Combine concatenates the inputs along opts.ConcatDim into one reference
// set; see the package documentation for the rules.
func Combine(ctx context.Context, sources []Source, opts Options) (*Result, error) {
	if opts.ConcatDim == "" {
		return nil, invalid("no concat dimension")
	}
	if len(sources) == 0 {
		return nil, invalid("no inputs")
	}
	if opts.Parallel <= 0 {
		opts.Parallel = runtime.GOMAXPROCS(0)
	}
	opts.Limits = opts.Limits.WithDefaults()
	c := &combiner{opts: opts, log: opts.Logger, fetch: opts.Fetcher, identical: map[string]bool{},
		vars: map[string]*concatVar{}, timeLike: map[string]*timeInfo{}}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.fetch == nil {
		bf := blobio.NewBlobFetcher(opts.Opener, 0)
		defer bf.Close()
		c.fetch = bf
	}
	for _, v := range opts.Identical {
		if v = strings.TrimSpace(v); v != "" {
			c.identical[v] = true
		}
	}
	start := time.Now()
	if err := c.loadAll(ctx, sources); err != nil {
		return nil, err
	}
	c.log.Debug("combine: inputs read", "files", len(sources), "elapsed", time.Since(start))
	res, err := c.finish(ctx)
	if err != nil {
		return nil, err
	}
	c.log.Info("combine: combined", "files", len(sources), "concat_dim", opts.ConcatDim,
		"keys", res.Refs.Len(), "elapsed", time.Since(start))
	return res, nil
}

// loadAll loads the inputs, opts.Parallel at a time, and adds them in
// order. At most opts.Parallel loaded inputs wait to be added.
func (c *combiner) loadAll(ctx context.Context, sources []Source) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type outcome struct {
		fm   *fileModel
		err  error
		slot bool // holds a slot, released when added
	}
	results := make([]chan outcome, len(sources))
	for i := range results {
		results[i] = make(chan outcome, 1)
	}
	// The first input is read alone: the others are parsed knowing it.
	if err := ctx.Err(); err != nil {
		return err
	}
	refs, err := sources[0].Load(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", sources[0].Name(), err)
	}
	fm, err := c.parseFile(ctx, 0, sources[0].Name(), refs)
	if err != nil {
		return err
	}
	c.files = append(c.files, fm.name)
	if err := c.add(fm); err != nil {
		return err
	}
	slots := make(chan struct{}, c.opts.Parallel)
	// No goroutine outlives the call: on return, cancel and wait.
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i < len(sources); i++ {
			src := sources[i]
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				for j := i; j < len(sources); j++ {
					results[j] <- outcome{err: ctx.Err()}
				}
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				refs, err := src.Load(ctx)
				if err != nil {
					results[i] <- outcome{err: fmt.Errorf("%s: %w", src.Name(), err), slot: true}
					return
				}
				fm, err := c.parseFile(ctx, i, src.Name(), refs)
				results[i] <- outcome{fm, err, true}
			}()
		}
	}()
	for i := 1; i < len(sources); i++ {
		oc := <-results[i]
		if oc.slot {
			<-slots
		}
		if oc.err != nil {
			return oc.err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		c.files = append(c.files, oc.fm.name)
		if err := c.add(oc.fm); err != nil {
			return err
		}
	}
	return nil
}

// add checks an input against the first and appends its parts.
func (c *combiner) add(fm *fileModel) error {
	if c.first == nil {
		return c.addFirst(fm)
	}
	f0 := c.first
	for _, p := range f0.order {
		if _, ok := fm.arrays[p]; !ok {
			return incompatible(fm.name, p, "missing (%s has it); every input must have the same variables", f0.name)
		}
	}
	for _, p := range fm.order {
		if _, ok := f0.arrays[p]; !ok {
			return incompatible(fm.name, p, "not in %s (the first input); every input must have the same variables", f0.name)
		}
	}
	for _, p := range f0.order {
		a0, a := f0.arrays[p], fm.arrays[p]
		if err := c.compare(fm.name, a0, a); err != nil {
			return err
		}
		if a.axis < 0 {
			continue
		}
		v := c.vars[p]
		pt := &part{file: fm.name, length: a.length(), chunk: a.chunk(), chunks: a.chunks}
		if ti := c.timeLike[p]; ti != nil {
			pt.fa = a
			pt.units, pt.calendar = c.timeUnits(fm, a)
			if v.firstEnc == "" {
				v.firstEnc = c.timeEncoding(f0, a0)
			}
			if !v.encDiffers && (a.meta != a0.meta || pt.units != v.parts[0].units) {
				if enc := c.timeEncoding(fm, a); enc != v.firstEnc {
					v.encDiffers = true
					c.log.Debug("combine: time encoding differs; re-encoding", "file", fm.name, "variable", p,
						"encoding", enc, "first", v.firstEnc)
				}
			}
		}
		v.parts = append(v.parts, pt)
	}
	return nil
}

func (c *combiner) addFirst(fm *fileModel) error {
	c.first = fm
	found := false
	for _, p := range fm.order {
		a := fm.arrays[p]
		if a.axis >= 0 {
			found = true
			c.vars[p] = &concatVar{path: p, first: a,
				parts: []*part{{file: fm.name, length: a.length(), chunk: a.chunk(), chunks: a.chunks, fa: a}}}
		}
	}
	if !found {
		return invalid("no variable of %s has the dimension %q", fm.name, c.opts.ConcatDim)
	}
	for p := range c.identical {
		a, ok := fm.arrays[p]
		if !ok {
			return invalid("identical variables: %s has no variable %q", fm.name, p)
		}
		if a.axis >= 0 {
			return invalid("identical variables: %q has the concat dimension %q", p, c.opts.ConcatDim)
		}
	}
	// Arrays holding CF times along the concat dimension, and the cell
	// bounds that take their units from them.
	for _, p := range fm.order {
		a := fm.arrays[p]
		if a.axis < 0 {
			continue
		}
		if u, ok := a.meta.AttrString("units"); ok && cftime.IsTimeUnits(u) {
			c.timeLike[p] = &timeInfo{}
		}
	}
	for _, p := range fm.order {
		if c.timeLike[p] == nil || c.timeLike[p].parent != "" {
			continue
		}
		a := fm.arrays[p]
		for _, attr := range []string{"bounds", "climatology"} {
			b, _ := a.meta.AttrString(attr)
			b = siblingPath(p, b)
			ba, ok := fm.arrays[b]
			if b == "" || !ok || ba.axis < 0 || c.timeLike[b] != nil {
				continue
			}
			if _, has := ba.meta.AttrString("units"); !has {
				c.timeLike[b] = &timeInfo{parent: p}
			}
		}
	}
	for p, ti := range c.timeLike {
		if ti == nil {
			continue
		}
		pt := c.vars[p].parts[0]
		pt.units, pt.calendar = c.timeUnits(fm, fm.arrays[p])
	}
	return nil
}

// siblingPath resolves a variable name given in an attribute of the array
// at path (same group).
func siblingPath(path, name string) string {
	if name == "" {
		return ""
	}
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i+1] + name
	}
	return name
}

// scalarStrings reports two scalar fixed-width byte strings: kerchunk
// writes a scalar variable-length string as |S<its length>, so the same
// variable has a width per file; the first file's metadata and chunk
// stand together, as for any variable off the concatenation axis.
func scalarStrings(m0, m *refread.Array) bool {
	return len(m0.Shape) == 0 && len(m.Shape) == 0 && m0.DType.Kind == 'S' && m.DType.Kind == 'S'
}

// compare checks array a of input file against a0 of the first input.
func (c *combiner) compare(file string, a0, a *fileArray) error {
	p := a0.path
	m0, m := a0.meta, a.meta
	if m0 == m {
		// The same metadata text: only values can differ.
		if a0.axis < 0 && c.identical[p] {
			return c.compareValues(file, a0, a)
		}
		return nil
	}
	if !slices.Equal(m0.Dims, m.Dims) {
		return incompatible(file, p, "dimensions %v differ from %v in %s", m.Dims, m0.Dims, c.first.name)
	}
	for j := range m0.Shape {
		if j == a0.axis {
			continue
		}
		if m.Shape[j] != m0.Shape[j] {
			return incompatible(file, p, "dimension %q has length %d, not %d as in %s", m.Dims[j], m.Shape[j], m0.Shape[j], c.first.name)
		}
		if a0.axis >= 0 && c.timeLike[p] == nil && m.Chunks[j] != m0.Chunks[j] {
			return incompatible(file, p, "chunk shape %v differs from %v in %s off the %q axis", m.Chunks, m0.Chunks, c.first.name, c.opts.ConcatDim)
		}
	}
	if c.timeLike[p] != nil {
		return nil // decoded and re-encoded when its encoding differs
	}
	if m.DType.Str != m0.DType.Str && !scalarStrings(m0, m) {
		return incompatible(file, p, "dtype %s differs from %s in %s", m.DType.Str, m0.DType.Str, c.first.name)
	}
	if a0.axis < 0 {
		if c.identical[p] {
			return c.compareValues(file, a0, a)
		}
		return nil // taken from the first input
	}
	if m.Order != m0.Order {
		return incompatible(file, p, "order %c differs from %c in %s", m.Order, m0.Order, c.first.name)
	}
	if !reflect.DeepEqual(map[string]any(m.Compressor), map[string]any(m0.Compressor)) || !sameFilters(m.Filters, m0.Filters) {
		return incompatible(file, p, "codecs (%s) differ from those of %s (%s); Zarr has one codec chain per array",
			codecJSON(m), c.first.name, codecJSON(m0))
	}
	// CF packing: the first input's attributes will describe every
	// input's stored values.
	f0, f := effectiveFill(m0), effectiveFill(m)
	if !sameFill(f0, f, m.DType) {
		return incompatible(file, p, "_FillValue %s differs from %s in %s: the combined variable would mask the wrong values in one of them",
			fillString(f), fillString(f0), c.first.name)
	}
	for _, name := range []string{"scale_factor", "add_offset", "missing_value", "units"} {
		v0, ok0 := m0.Attrs[name]
		v, ok := m.Attrs[name]
		if ok0 != ok || !sameAttr(v0, v) {
			why := "the combined variable would unpack one input's values wrongly"
			if name == "units" {
				why = "the combined variable would label one input's values wrongly"
			} else if name == "missing_value" {
				why = "the combined variable would mask the wrong values in one of them"
			}
			return incompatible(file, p, "%s %s differs from %s in %s: %s", name, attrString(v, ok), attrString(v0, ok0), c.first.name, why)
		}
	}
	return nil
}

func sameFilters(a, b []codecs.Config) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !reflect.DeepEqual(map[string]any(a[i]), map[string]any(b[i])) {
			return false
		}
	}
	return true
}

func codecJSON(a *refread.Array) string {
	type chain struct {
		Filters    []map[string]any `json:"filters"`
		Compressor map[string]any   `json:"compressor"`
	}
	f := make([]map[string]any, len(a.Filters))
	for i := range a.Filters {
		f[i] = a.Filters[i]
	}
	b, _ := json.Marshal(chain{f, a.Compressor})
	return string(b)
}

// fill is an effective CF fill value: the _FillValue attribute when there
// is one (Python kerchunk keeps it), else the .zarray fill_value.
type fill struct {
	set bool
	num float64
	raw string // JSON, for non-numeric fills
}

func effectiveFill(a *refread.Array) fill {
	if v, ok := a.Attrs["_FillValue"]; ok {
		if f, ok := zarr.AsFloat(v); ok {
			return fill{set: true, num: f}
		}
		b, _ := json.Marshal(v)
		return fill{set: true, raw: string(b)}
	}
	raw := strings.TrimSpace(string(a.Fill))
	if raw == "" || raw == "null" {
		return fill{}
	}
	var v any
	if err := json.Unmarshal(a.Fill, &v); err == nil {
		if b, ok := v.(bool); ok {
			if b {
				return fill{set: true, num: 1}
			}
			return fill{set: true}
		}
		if f, ok := zarr.AsFloat(v); ok {
			return fill{set: true, num: f}
		}
	}
	return fill{set: true, raw: raw}
}

// sameFill compares fills; for floats no fill and NaN are the same mask.
func sameFill(a, b fill, dt zarr.DType) bool {
	if dt.IsFloat() {
		if !a.set {
			a = fill{set: true, num: math.NaN()}
		}
		if !b.set {
			b = fill{set: true, num: math.NaN()}
		}
	}
	if a.set != b.set || a.raw != b.raw {
		return false
	}
	return a.num == b.num || (math.IsNaN(a.num) && math.IsNaN(b.num))
}

func fillString(f fill) string {
	switch {
	case !f.set:
		return "(none)"
	case f.raw != "":
		return f.raw
	}
	return formatFloat(f.num)
}

// sameAttr compares attribute values, NaN-aware and ignoring one-element
// list wrapping.
func sameAttr(a, b any) bool {
	fa, oka := zarr.AsFloat(a)
	fb, okb := zarr.AsFloat(b)
	if oka && okb {
		return fa == fb || (math.IsNaN(fa) && math.IsNaN(fb))
	}
	la, oka := a.([]any)
	lb, okb := b.([]any)
	if oka && okb {
		if len(la) != len(lb) {
			return false
		}
		for i := range la {
			if !sameAttr(la[i], lb[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func attrString(v any, ok bool) string {
	if !ok {
		return "(none)"
	}
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	if f, ok := zarr.AsFloat(v); ok {
		return formatFloat(f)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// formatFloat prints float32 attribute values (stored widened to float64)
// as their float32 digits: 0.02, not 0.019999999552965164.
func formatFloat(f float64) string {
	if float64(float32(f)) == f {
		return strconv.FormatFloat(f, 'g', -1, 32)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// compareValues checks an Identical variable's values.
func (c *combiner) compareValues(file string, a0, a *fileArray) error {
	d0, d := a0.values, a.values
	if d0 == nil || d == nil {
		return nil
	}
	n := d0.Len()
	for i := 0; i < n; i++ {
		var same bool
		var x0, x any
		switch {
		case d0.Float != nil:
			x0, x = d0.Float[i], d.Float[i]
			same = d0.Float[i] == d.Float[i] || (math.IsNaN(d0.Float[i]) && math.IsNaN(d.Float[i]))
		case d0.Int != nil:
			x0, x = d0.Int[i], d.Int[i]
			same = d0.Int[i] == d.Int[i]
		default:
			x0, x = d0.Str[i], d.Str[i]
			same = d0.Str[i] == d.Str[i]
		}
		if !same {
			return incompatible(file, a0.path, "values differ from %s (first at flat index %d: %v, not %v), and it must be identical in every input",
				c.first.name, i, x, x0)
		}
	}
	return nil
}

// timeEncoding describes how an input encodes a time-like array: inputs
// with the same description can share the first input's metadata.
func (c *combiner) timeEncoding(fm *fileModel, a *fileArray) string {
	units, cal := c.timeUnits(fm, a)
	f := effectiveFill(a.meta)
	var b strings.Builder
	fmt.Fprintf(&b, "units=%q calendar=%s dtype=%s codecs=%s fill=%s order=%c", units, cal, a.meta.DType.Str, codecJSON(a.meta), fillString(f), a.meta.Order)
	for _, name := range []string{"scale_factor", "add_offset", "missing_value"} {
		v, ok := a.meta.Attrs[name]
		fmt.Fprintf(&b, " %s=%s", name, attrString(v, ok))
	}
	return b.String()
}

// timeUnits returns the units and (normalized) calendar that apply to a
// time-like array of an input: its own, or for cell bounds without units
// its coordinate's.
func (c *combiner) timeUnits(fm *fileModel, a *fileArray) (string, string) {
	src := a
	if ti := c.timeLike[a.path]; ti != nil && ti.parent != "" {
		if _, own := a.meta.AttrString("units"); !own {
			if pa, ok := fm.arrays[ti.parent]; ok {
				src = pa
			}
		}
	}
	units, _ := src.meta.AttrString("units")
	calName, ok := a.meta.AttrString("calendar")
	if !ok {
		calName, _ = src.meta.AttrString("calendar")
	}
	cal, err := cftime.ParseCalendar(calName)
	if err != nil {
		return units, "?" + calName
	}
	return units, cal.String()
}
