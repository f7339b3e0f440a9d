package combine

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/kerchunk/codecs"
	"github.com/greensight/vzarr/refread"
	"github.com/greensight/vzarr/zarr"
)

// spec describes a small hand-made input: time(n) with chunk length
// chunk, time_bnds(time, nv), lat(2), lon(3) and tas(time, lat, lon)
// float32, whose values are 1000*file + 10*step + cell.
type spec struct {
	file     int
	start    float64 // first time value
	step     float64 // time step, default 1
	n, chunk int
	units    string
	calendar string
	tdtype   string // time dtype, default <f8
	compress bool   // tas through zlib
	tasAttrs string // extra .zattrs members of tas
	tasFill  string // tas fill_value, default -9999.0
	lons     []float64
	noBounds bool
	mutate   func(r *kerchunk.Refs)
}

const nlat, nlon = 2, 3

func tasValue(file, step, cell int) float32 { return float32(1000*file + 10*step + cell) }

func putF64(dtype string, vals []float64) []byte {
	var b []byte
	for _, v := range vals {
		switch dtype {
		case "<i4":
			b = binary.LittleEndian.AppendUint32(b, uint32(int32(v)))
		case "<i8":
			b = binary.LittleEndian.AppendUint64(b, uint64(int64(v)))
		default:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
	}
	return b
}

func (s spec) build() *kerchunk.Refs {
	if s.tdtype == "" {
		s.tdtype = "<f8"
	}
	if s.tasFill == "" {
		s.tasFill = "-9999.0"
	}
	if s.lons == nil {
		s.lons = []float64{0, 120, 240}
	}
	if s.calendar == "" {
		s.calendar = "standard"
	}
	if s.step == 0 {
		s.step = 1
	}
	r := kerchunk.NewRefs(0)
	r.SetText(".zgroup", `{"zarr_format":2}`)
	r.SetText(".zattrs", fmt.Sprintf(`{"title":"test","file":%d}`, s.file))
	zarr := func(path string, shape, chunks []int, dtype, fill, filters string) {
		r.SetText(path+"/.zarray", fmt.Sprintf(`{"chunks":%s,"compressor":null,"dtype":"%s","fill_value":%s,"filters":%s,"order":"C","shape":%s,"zarr_format":2}`,
			intsJSON(chunks), dtype, fill, filters, intsJSON(shape)))
	}
	zarr("time", []int{s.n}, []int{s.chunk}, s.tdtype, "null", "null")
	bounds := `,"bounds":"time_bnds"`
	if s.noBounds {
		bounds = ""
	}
	r.SetText("time/.zattrs", fmt.Sprintf(`{"_ARRAY_DIMENSIONS":["time"],"units":%q,"calendar":%q,"standard_name":"time"%s}`, s.units, s.calendar, bounds))
	for c := 0; c*s.chunk < s.n; c++ {
		vals := make([]float64, s.chunk)
		for k := range vals {
			vals[k] = s.start + s.step*float64(c*s.chunk+k)
		}
		r.Set(fmt.Sprintf("time/%d", c), kerchunk.Inline(putF64(s.tdtype, vals)))
	}
	if !s.noBounds {
		zarr("time_bnds", []int{s.n, 2}, []int{s.chunk, 2}, s.tdtype, "null", "null")
		r.SetText("time_bnds/.zattrs", `{"_ARRAY_DIMENSIONS":["time","nv"]}`)
		for c := 0; c*s.chunk < s.n; c++ {
			vals := make([]float64, 0, 2*s.chunk)
			for k := 0; k < s.chunk; k++ {
				t := s.start + s.step*float64(c*s.chunk+k)
				vals = append(vals, t-s.step/2, t+s.step/2)
			}
			if s.tdtype != "<f8" {
				for k := range vals {
					vals[k] = math.Floor(vals[k])
				}
			}
			r.Set(fmt.Sprintf("time_bnds/%d.0", c), kerchunk.Inline(putF64(s.tdtype, vals)))
		}
	}
	zarr("lat", []int{nlat}, []int{nlat}, "<f8", "null", "null")
	r.SetText("lat/.zattrs", `{"_ARRAY_DIMENSIONS":["lat"],"units":"degrees_north","standard_name":"latitude"}`)
	r.Set("lat/0", kerchunk.Inline(putF64("<f8", []float64{-10, 20})))
	zarr("lon", []int{nlon}, []int{nlon}, "<f8", "null", "null")
	r.SetText("lon/.zattrs", `{"_ARRAY_DIMENSIONS":["lon"],"units":"degrees_east","standard_name":"longitude"}`)
	r.Set("lon/0", kerchunk.Inline(putF64("<f8", s.lons)))
	filters := "null"
	if s.compress {
		filters = `[{"id":"zlib","level":1}]`
	}
	zarr("tas", []int{s.n, nlat, nlon}, []int{s.chunk, nlat, nlon}, "<f4", s.tasFill, filters)
	r.SetText("tas/.zattrs", `{"_ARRAY_DIMENSIONS":["time","lat","lon"],"units":"K"`+s.tasAttrs+`}`)
	for c := 0; c*s.chunk < s.n; c++ {
		var b []byte
		for k := 0; k < s.chunk; k++ {
			for cell := 0; cell < nlat*nlon; cell++ {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(tasValue(s.file, c*s.chunk+k, cell)))
			}
		}
		if s.compress {
			b, _ = codecs.ZlibEncode(b, 1)
		}
		r.Set(fmt.Sprintf("tas/%d.0.0", c), kerchunk.Inline(b))
	}
	if s.mutate != nil {
		s.mutate(r)
	}
	return r
}

func combineSpecs(t *testing.T, specs []spec, opts Options) (*Result, error) {
	t.Helper()
	var src []Source
	for i, s := range specs {
		s.file = i
		src = append(src, Refs(fmt.Sprintf("f%d.json", i), s.build()))
	}
	if opts.ConcatDim == "" {
		opts.ConcatDim = "time"
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	return Combine(context.Background(), src, opts)
}

func readVar(t *testing.T, refs *kerchunk.Refs, path string) (*refread.Array, *refread.Data) {
	t.Helper()
	s := refread.NewStore(refs, refread.FetcherFunc(func(context.Context, string, int64, int64) ([]byte, error) {
		return nil, errors.New("no fetching in this test")
	}))
	a, err := s.Open(path)
	require.NoError(t, err, path)
	d, err := a.Read(context.Background())
	require.NoError(t, err, path)
	return a, d
}

// checkTas verifies the combined tas against the inputs' values.
func checkTas(t *testing.T, refs *kerchunk.Refs, lengths []int) {
	t.Helper()
	_, d := readVar(t, refs, "tas")
	k := 0
	for f, n := range lengths {
		for step := 0; step < n; step++ {
			for cell := 0; cell < nlat*nlon; cell++ {
				require.Equal(t, float64(tasValue(f, step, cell)), d.Float[k], "file %d step %d cell %d", f, step, cell)
				k++
			}
		}
	}
	require.Equal(t, k, len(d.Float))
}

func TestCombineSameUnits(t *testing.T) {
	U := "days since 2000-01-01"
	res, err := combineSpecs(t, []spec{
		{start: 0, n: 4, chunk: 2, units: U},
		{start: 4, n: 4, chunk: 2, units: U},
		{start: 8, n: 3, chunk: 2, units: U}, // partial last chunk: fine
	}, Options{})
	require.NoError(t, err)
	out := res.Refs
	assert.Equal(t, []string{"f0.json", "f1.json", "f2.json"}, res.SourceFiles)
	assert.Equal(t, map[string]uint64{"time": 11, "nv": 2, "lat": 2, "lon": 3}, res.Dimensions)
	require.Contains(t, res.Variables, "tas")
	assert.Len(t, res.Variables, 1, "coordinates and bounds are not data variables")
	assert.Equal(t, []uint64{11, 2, 3}, res.Variables["tas"].Shape)
	assert.Equal(t, []uint64{2, 2, 3}, res.Variables["tas"].Chunks)
	assert.Equal(t, "float32", res.Variables["tas"].Dtype)
	assert.Equal(t, []string{"2000-01-01T00:00:00Z", "2000-01-11T00:00:00Z"}, res.TimeRange)
	assert.Equal(t, []float64{-180, -10, 180, 20}, res.SpatialExtent)
	assert.Empty(t, res.Warnings)

	assertConsolidated(t, out)

	// Group metadata comes from the first input, keys are renumbered.
	text, _ := out.Text(".zattrs")
	assert.JSONEq(t, `{"title":"test","file":0}`, text)
	for _, k := range []string{"tas/0.0.0", "tas/5.0.0", "time/5", "time_bnds/5.0"} {
		_, ok := out.Get(k)
		assert.True(t, ok, k)
	}
	_, ok := out.Get("tas/6.0.0")
	assert.False(t, ok)
	checkTas(t, out, []int{4, 4, 3})
	a, d := readVar(t, out, "time")
	assert.Equal(t, "null", string(a.Fill), "the concat coordinate has no fill value")
	want := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	assert.Equal(t, want, d.Float)

	// kerchunk's MultiZarrToZarr writes the combined time with fill value
	// 0, so that day 0 reads as NaT; inputs that say fill_value 0 (Python
	// kerchunk does for HDF5 files without a fill value) get none here.
	fill0 := func(r *kerchunk.Refs) {
		text, _ := r.Text("time/.zarray")
		r.SetText("time/.zarray", strings.Replace(text, `"fill_value":null`, `"fill_value":0`, 1))
		text, _ = r.Text("time/.zattrs")
		r.SetText("time/.zattrs", strings.Replace(text, `{`, `{"_FillValue":0,`, 1))
	}
	res0, err := combineSpecs(t, []spec{
		{start: 0, n: 2, chunk: 2, units: U, tdtype: "<i4", mutate: fill0},
		{start: 2, n: 2, chunk: 2, units: U, tdtype: "<i4", mutate: fill0},
	}, Options{})
	require.NoError(t, err)
	a, d = readVar(t, res0.Refs, "time")
	assert.Equal(t, "null", string(a.Fill))
	assert.NotContains(t, a.Attrs, "_FillValue")
	assert.Equal(t, "days since 2000-01-01", a.Attrs["units"])
	assert.Equal(t, []int64{0, 1, 2, 3}, d.Int)
	assert.Equal(t, "2000-01-01T00:00:00Z", res0.TimeRange[0])

	// Deterministic output.
	res2, err := combineSpecs(t, []spec{
		{start: 0, n: 4, chunk: 2, units: U}, {start: 4, n: 4, chunk: 2, units: U}, {start: 8, n: 3, chunk: 2, units: U},
	}, Options{})
	require.NoError(t, err)
	var b1, b2 bytes.Buffer
	require.NoError(t, kerchunk.WriteJSON(&b1, out, nil))
	require.NoError(t, kerchunk.WriteJSON(&b2, res2.Refs, nil))
	assert.Equal(t, b1.String(), b2.String())
}

func TestCombineIncompatible(t *testing.T) {
	U := "days since 2000-01-01"
	base := func(file int) spec { return spec{start: float64(4 * file), n: 4, chunk: 2, units: U} }
	set := func(key, text string) func(*kerchunk.Refs) {
		return func(r *kerchunk.Refs) { r.SetText(key, text) }
	}
	for _, c := range []struct {
		name     string
		second   spec
		variable string
		reason   []string
	}{
		{"missing variable", func() spec {
			s := base(1)
			s.mutate = func(r *kerchunk.Refs) { r.Delete("lat/.zarray") }
			return s
		}(), "lat", []string{"missing", "f0.json"}},
		{"extra variable", func() spec {
			s := base(1)
			s.mutate = func(r *kerchunk.Refs) {
				r.SetText("extra/.zarray", `{"chunks":[1],"compressor":null,"dtype":"<f8","fill_value":null,"filters":null,"order":"C","shape":[1],"zarr_format":2}`)
				r.SetText("extra/.zattrs", `{"_ARRAY_DIMENSIONS":["one"]}`)
			}
			return s
		}(), "extra", []string{"not in f0.json"}},
		{"scale_factor", func() spec { s := base(1); s.tasAttrs = `,"scale_factor":0.5`; return s }(), "tas", []string{"scale_factor 0.5", "(none)"}},
		{"add_offset", func() spec { s := base(1); s.tasAttrs = `,"add_offset":[273.15]`; return s }(), "tas", []string{"add_offset 273.15"}},
		{"missing_value", func() spec { s := base(1); s.tasAttrs = `,"missing_value":-1.0`; return s }(), "tas", []string{"missing_value"}},
		{"fill", func() spec { s := base(1); s.tasFill = "-999.0"; return s }(), "tas", []string{"_FillValue -999", "-9999"}},
		{"units", func() spec {
			s := base(1)
			s.mutate = set("tas/.zattrs", `{"_ARRAY_DIMENSIONS":["time","lat","lon"],"units":"degC"}`)
			return s
		}(), "tas", []string{`units "degC"`, `"K"`}},
		{"codecs", func() spec { s := base(1); s.compress = true; return s }(), "tas", []string{"codecs", "zlib"}},
		{"dtype", func() spec {
			s := base(1)
			s.mutate = func(r *kerchunk.Refs) {
				text, _ := r.Text("lat/.zarray")
				r.SetText("lat/.zarray", strings.Replace(text, "<f8", "<f4", 1))
			}
			return s
		}(), "lat", []string{"dtype <f4", "<f8"}},
		{"dims", func() spec {
			s := base(1)
			s.mutate = set("tas/.zattrs", `{"_ARRAY_DIMENSIONS":["time","lon","lat"],"units":"K"}`)
			return s
		}(), "tas", []string{"dimensions"}},
		{"off-axis shape", func() spec {
			s := base(1)
			s.mutate = set("lon/.zarray", `{"chunks":[4],"compressor":null,"dtype":"<f8","fill_value":null,"filters":null,"order":"C","shape":[4],"zarr_format":2}`)
			return s
		}(), "lon", []string{"length 4, not 3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := combineSpecs(t, []spec{base(0), c.second, base(2)}, Options{})
			require.Error(t, err)
			require.ErrorIs(t, err, ErrIncompatible)
			var ie *IncompatibleError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, "f1.json", ie.File)
			assert.Equal(t, c.variable, ie.Variable)
			for _, r := range c.reason {
				assert.Contains(t, ie.Reason, r)
			}
		})
	}

	// Requests that make no sense.
	_, err := combineSpecs(t, []spec{base(0)}, Options{ConcatDim: "depth"})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = Combine(context.Background(), nil, Options{ConcatDim: "time"})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = combineSpecs(t, []spec{base(0)}, Options{Identical: []string{"tas"}})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = combineSpecs(t, []spec{base(0)}, Options{Identical: []string{"nope"}})
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestCombineChunkRules(t *testing.T) {
	U := "days since 2000-01-01"
	// A partial chunk in the middle of compressed data: error.
	_, err := combineSpecs(t, []spec{
		{start: 0, n: 4, chunk: 2, units: U, compress: true},
		{start: 4, n: 3, chunk: 2, units: U, compress: true},
		{start: 7, n: 4, chunk: 2, units: U, compress: true},
	}, Options{})
	var ie *IncompatibleError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "f1.json", ie.File)
	assert.Equal(t, "tas", ie.Variable)
	for _, s := range []string{"3 steps", "chunks of 2", "only the last input", "zlib", "chunk length 1", "the last input"} {
		assert.Contains(t, ie.Reason, s)
	}

	// Years chunked by year, compressed: error naming the leap year.
	_, err = combineSpecs(t, []spec{
		{start: 0, n: 365, chunk: 365, units: U, compress: true},
		{start: 365, n: 366, chunk: 366, units: U, compress: true},
	}, Options{})
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "f1.json", ie.File)
	assert.Contains(t, ie.Reason, "chunk length 366")
	assert.Contains(t, ie.Reason, "365 in f0.json")

	// The same uncompressed: chunks split into byte ranges of one day
	// (inline data here; see TestSplitRanges for URLs), values exact.
	res, err := combineSpecs(t, []spec{
		{start: 0, n: 365, chunk: 365, units: U},
		{start: 365, n: 366, chunk: 366, units: U},
		{start: 731, n: 365, chunk: 365, units: U},
	}, Options{})
	require.NoError(t, err)
	assert.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0], "byte ranges of 1 step")
	assert.Equal(t, []uint64{1096, 2, 3}, res.Variables["tas"].Shape)
	assert.Equal(t, []uint64{1, 2, 3}, res.Variables["tas"].Chunks)
	checkTas(t, res.Refs, []int{365, 366, 365})
	_, d := readVar(t, res.Refs, "time")
	for k, v := range d.Float {
		require.Equal(t, float64(k), v)
	}
	_, d = readVar(t, res.Refs, "time_bnds")
	assert.Equal(t, []float64{-0.5, 0.5}, d.Float[:2])
	assert.Equal(t, []float64{1094.5, 1095.5}, d.Float[len(d.Float)-2:])
	assert.Equal(t, []string{"2000-01-01T00:00:00Z", "2002-12-31T00:00:00Z"}, res.TimeRange)

	// Uneven middle file with chunks of 4 and 6: split by gcd(4, 6, 10) = 2.
	res, err = combineSpecs(t, []spec{
		{start: 0, n: 8, chunk: 4, units: U},
		{start: 8, n: 10, chunk: 4, units: U},
		{start: 18, n: 5, chunk: 4, units: U},
	}, Options{})
	require.NoError(t, err)
	assert.Equal(t, []uint64{2, 2, 3}, res.Variables["tas"].Chunks)
	checkTas(t, res.Refs, []int{8, 10, 5})
}

// TestSplitRanges splits chunks referenced as byte ranges of a file.
func TestSplitRanges(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var specs []spec
	var src []Source
	for i, n := range []int{3, 2} {
		s := spec{file: i, start: float64(3 * i), n: n, chunk: n, units: "hours since 2000-01-01"}
		r := s.build()
		ref, _ := r.Get("tas/0.0.0")
		path := filepath.Join(dir, fmt.Sprintf("f%d.bin", i))
		require.NoError(t, os.WriteFile(path, append([]byte("pad"), ref.Data...), 0o644))
		r.Set("tas/0.0.0", kerchunk.Range(path, 3, int64(len(ref.Data))))
		src = append(src, Refs(path, r))
		specs = append(specs, s)
	}
	res, err := Combine(ctx, src, Options{ConcatDim: "time", Logger: quiet})
	require.NoError(t, err)
	r, ok := res.Refs.Get("tas/4.0.0")
	require.True(t, ok)
	assert.Equal(t, filepath.Join(dir, "f1.bin"), r.URL)
	assert.Equal(t, int64(3+4*nlat*nlon), r.Offset)
	assert.Equal(t, int64(4*nlat*nlon), r.Length)
	s := refread.NewStore(res.Refs, nil)
	defer s.Close()
	a, err := s.Open("tas")
	require.NoError(t, err)
	vals, err := a.ReadFloat64s(ctx)
	require.NoError(t, err)
	assert.Equal(t, float64(tasValue(1, 1, 5)), vals[len(vals)-1])
	assert.Equal(t, float64(tasValue(0, 2, 0)), vals[2*nlat*nlon])

	// A chunk whose stored size is not that of an uncompressed chunk
	// cannot be split.
	bad := specs[1].build()
	bad.Set("tas/0.0.0", kerchunk.Range(filepath.Join(dir, "f1.bin"), 3, 7))
	_, err = Combine(ctx, []Source{src[0], Refs("bad", bad)}, Options{ConcatDim: "time", Logger: quiet})
	var ie *IncompatibleError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "bad", ie.File)
	assert.Contains(t, ie.Reason, "holds 7 bytes")
}

func TestCombineTimes(t *testing.T) {
	// Per-file units, hours and days, and a time zone; bounds take the
	// coordinate's units.
	res, err := combineSpecs(t, []spec{
		{start: 0, n: 2, chunk: 2, units: "days since 2000-01-01"},
		{start: 0, n: 2, chunk: 1, units: "days since 2000-01-03"},
		{start: 48, step: 24, n: 2, chunk: 2, units: "hours since 2000-01-03 00:00:00"},
		{start: 0, n: 2, chunk: 2, units: "days since 2000-01-07T06:00:00+06:00"},
	}, Options{})
	require.NoError(t, err)
	a, d := readVar(t, res.Refs, "time")
	assert.Equal(t, []float64{0, 1, 2, 3, 4, 5, 6, 7}, d.Float)
	assert.Equal(t, "days since 2000-01-01", a.Attrs["units"])
	assert.Equal(t, "null", string(a.Fill))
	_, d = readVar(t, res.Refs, "time_bnds")
	assert.Equal(t, []float64{-0.5, 0.5, 0.5, 1.5}, d.Float[:4])
	assert.Equal(t, []float64{4.5, 5.5}, d.Float[10:12], "bounds re-encoded from hours")
	assert.Equal(t, []float64{5.5, 6.5}, d.Float[12:14], "from the +06:00 epoch")
	assert.Equal(t, []string{"2000-01-01T00:00:00Z", "2000-01-08T00:00:00Z"}, res.TimeRange)
	checkTas(t, res.Refs, []int{2, 2, 2, 2})

	// Calendar names that mean the same calendar; 360_day dates.
	res, err = combineSpecs(t, []spec{
		{start: 0, n: 2, chunk: 2, units: "days since 2001-02-28", calendar: "360_day"},
		{start: 0, n: 2, chunk: 2, units: "days since 2001-02-30", calendar: "360_day"},
	}, Options{})
	require.NoError(t, err)
	_, d = readVar(t, res.Refs, "time")
	assert.Equal(t, []float64{0, 1, 2, 3}, d.Float)
	assert.Equal(t, []string{"2001-02-28T00:00:00Z", "2001-03-01T00:00:00Z"}, res.TimeRange)
	res, err = combineSpecs(t, []spec{
		{start: 0, n: 2, chunk: 2, units: "days since 2001-02-27", calendar: "noleap"},
		{start: 24, step: 24, n: 2, chunk: 2, units: "hours since 2001-02-28", calendar: "365_day"},
	}, Options{})
	require.NoError(t, err)
	_, d = readVar(t, res.Refs, "time")
	assert.Equal(t, []float64{0, 1, 2, 3}, d.Float)
	assert.Equal(t, []string{"2001-02-27T00:00:00Z", "2001-03-02T00:00:00Z"}, res.TimeRange)

	// Integer times that the first file's units cannot hold exactly.
	_, err = combineSpecs(t, []spec{
		{start: 0, n: 2, chunk: 2, units: "days since 2000-01-01", tdtype: "<i4", noBounds: true},
		{start: 1, n: 2, chunk: 2, units: "hours since 2000-01-03", tdtype: "<i4", noBounds: true},
	}, Options{})
	var ie *IncompatibleError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "f1.json", ie.File)
	assert.Equal(t, "time", ie.Variable)
	assert.Contains(t, ie.Reason, "2000-01-03T01:00:00Z")
	assert.Contains(t, ie.Reason, "<i4")

	// Missing times (NaN, and a _FillValue in .zattrs as Python kerchunk
	// writes it) stay missing: NaN fill for floats.
	res, err = combineSpecs(t, []spec{
		{start: 0, n: 2, chunk: 2, units: "days since 2000-01-01", noBounds: true, mutate: func(r *kerchunk.Refs) {
			r.Set("time/0", kerchunk.Inline(putF64("<f8", []float64{0, math.NaN()})))
		}},
		{start: 0, n: 2, chunk: 2, units: "days since 2000-01-03", noBounds: true, mutate: func(r *kerchunk.Refs) {
			r.SetText("time/.zattrs", `{"_ARRAY_DIMENSIONS":["time"],"units":"days since 2000-01-03","_FillValue":-1.0}`)
			r.Set("time/0", kerchunk.Inline(putF64("<f8", []float64{-1, 1})))
		}},
	}, Options{})
	require.NoError(t, err)
	a, d = readVar(t, res.Refs, "time")
	assert.Equal(t, `"NaN"`, string(a.Fill))
	assert.Equal(t, 0.0, d.Float[0])
	assert.True(t, math.IsNaN(d.Float[1]) && math.IsNaN(d.Float[2]))
	assert.Equal(t, 3.0, d.Float[3])
	assert.NotContains(t, a.Attrs, "_FillValue")
	assert.Equal(t, []string{"2000-01-01T00:00:00Z", "2000-01-04T00:00:00Z"}, res.TimeRange)

	// Missing integer times get a fill value no real time uses.
	m := &refread.Array{DType: zarr.DType{Str: "<i4", Kind: 'i', Size: 4}, Fill: json.RawMessage("0")}
	f, v, err := chooseFill(m, []float64{0, 5, 0}, []bool{false, false, true})
	require.NoError(t, err)
	assert.Equal(t, "-2147483648", f)
	assert.Equal(t, -2147483648.0, v)
	f, _, err = chooseFill(m, []float64{1, 5, 0}, []bool{false, false, true})
	require.NoError(t, err)
	assert.Equal(t, "0", f)
}

func TestCombineIdentical(t *testing.T) {
	U := "days since 2000-01-01"
	specs := []spec{{start: 0, n: 2, chunk: 2, units: U}, {start: 2, n: 2, chunk: 2, units: U, lons: []float64{0, 120, 241}}}
	// Without the check, the first file's lon is taken.
	res, err := combineSpecs(t, specs, Options{})
	require.NoError(t, err)
	_, d := readVar(t, res.Refs, "lon")
	assert.Equal(t, []float64{0, 120, 240}, d.Float)
	// With it, the difference is an error.
	_, err = combineSpecs(t, specs, Options{Identical: []string{"lat", "lon"}})
	var ie *IncompatibleError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "lon", ie.Variable)
	assert.Contains(t, ie.Reason, "241")
	specs[1].lons = nil
	_, err = combineSpecs(t, specs, Options{Identical: []string{"lat", "lon"}})
	assert.NoError(t, err)
}

// TestPythonKerchunkInput reads version 0 JSON as Python's kerchunk
// writes it: metadata as JSON objects, _FillValue in .zattrs, "/" chunk
// separators, .zmetadata, base64 chunks.
func TestPythonKerchunkInput(t *testing.T) {
	mk := func(i int) []byte {
		tb := base64Of(putF64("<i8", []float64{float64(2 * i), float64(2*i + 1)}))
		vb := base64Of(putF64("<f8", []float64{float64(i), 1e20}))
		return []byte(fmt.Sprintf(`{
 ".zgroup": {"zarr_format": 2},
 ".zmetadata": {"metadata": {}, "zarr_consolidated_format": 1},
 ".zattrs": {"Conventions": "CF-1.8"},
 "time/.zarray": {"chunks": [2], "compressor": null, "dtype": "<i8", "fill_value": null, "filters": null, "order": "C", "shape": [2], "zarr_format": 2},
 "time/.zattrs": {"_ARRAY_DIMENSIONS": ["time"], "units": "days since 1990-01-01", "calendar": "gregorian"},
 "time/0": "base64:%s",
 "v/.zarray": {"chunks": [1, 2], "compressor": null, "dtype": "<f8", "fill_value": 1e20, "filters": null, "order": "C", "shape": [2, 2], "zarr_format": 2, "dimension_separator": "/"},
 "v/.zattrs": {"_ARRAY_DIMENSIONS": ["x", "time"], "_FillValue": 1e20, "units": "m"},
 "v/0/0": "base64:%s",
 "v/1/0": "base64:%s"
}`, tb, vb, vb))
	}
	var src []Source
	for i := 0; i < 3; i++ {
		src = append(src, jsonSource{fmt.Sprintf("k%d.json", i), mk(i)})
	}
	res, err := Combine(context.Background(), src, Options{ConcatDim: "time", Logger: quiet})
	require.NoError(t, err)
	for _, k := range []string{"v/0/2", "v/1/2", "time/2"} {
		_, ok := res.Refs.Get(k)
		assert.True(t, ok, k)
	}
	_, d := readVar(t, res.Refs, "time")
	assert.Equal(t, []int64{0, 1, 2, 3, 4, 5}, d.Int)
	_, d = readVar(t, res.Refs, "v")
	assert.Equal(t, []float64{0, 1e20, 1, 1e20, 2, 1e20, 0, 1e20, 1, 1e20, 2, 1e20}, d.Float)
	zm, ok := res.Refs.Text(".zmetadata")
	require.True(t, ok)
	var cons struct {
		Metadata map[string]map[string]any `json:"metadata"`
	}
	require.NoError(t, json.Unmarshal([]byte(zm), &cons))
	assert.Equal(t, []any{2.0, 6.0}, cons.Metadata["v/.zarray"]["shape"])
	assert.Equal(t, "gregorian", cons.Metadata["time/.zattrs"]["calendar"])
	assert.Equal(t, []string{"1990-01-01T00:00:00Z", "1990-01-06T00:00:00Z"}, res.TimeRange)
	assert.Nil(t, res.SpatialExtent)

	// Written, read back: the same references.
	var buf bytes.Buffer
	require.NoError(t, kerchunk.WriteJSON(&buf, res.Refs, nil))
	back, err := kerchunk.ReadJSON(&buf)
	require.NoError(t, err)
	assert.Equal(t, res.Refs.Keys(), back.Keys())
}

// assertConsolidated checks that refs carries a .zmetadata holding every
// metadata key of refs with its text, and nothing else (the inputs of
// combineSpecs have none: every combined set is consolidated).
func assertConsolidated(t *testing.T, refs *kerchunk.Refs) {
	t.Helper()
	zm, ok := refs.Text(kerchunk.ConsolidatedKey)
	require.True(t, ok)
	var cons struct {
		Metadata map[string]json.RawMessage `json:"metadata"`
		Format   int                        `json:"zarr_consolidated_format"`
	}
	require.NoError(t, json.Unmarshal([]byte(zm), &cons))
	assert.Equal(t, 1, cons.Format)
	n := 0
	refs.All(func(k string, r kerchunk.Ref) bool {
		if kerchunk.IsMetadataKey(k) && k != kerchunk.ConsolidatedKey {
			n++
			assert.Equal(t, string(r.Data), string(cons.Metadata[k]), k)
		}
		return true
	})
	assert.Len(t, cons.Metadata, n)
}

func base64Of(b []byte) string {
	var buf bytes.Buffer
	require := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	require(kerchunk.WriteJSON(&buf, func() *kerchunk.Refs { r := kerchunk.NewRefs(1); r.Set("x", kerchunk.Inline(b)); return r }(), nil))
	s := buf.String()
	i := strings.Index(s, "base64:")
	j := strings.Index(s[i:], `"`)
	return s[i+7 : i+j]
}

func TestLonExtent(t *testing.T) {
	for _, c := range []struct {
		lons       []float64
		step       float64
		west, east float64
	}{
		{[]float64{-10, 0, 10}, 10, -10, 10},
		{[]float64{0, 90, 180, 270}, 90, -180, 180},       // global grid, 0..360
		{[]float64{-45, 315}, 0, -180, 180},               // global bounds
		{[]float64{200, 300}, 0, -160, -60},               // western hemisphere in 0..360
		{[]float64{170, 185.5}, 0, 170, -174.5},           // crosses the antimeridian
		{[]float64{0.5, 1.5, 358.5, 359.5}, 0, -1.5, 1.5}, // around Greenwich in 0..360
		{[]float64{0, 359}, 1, -180, 180},                 // 1-degree global grid
		{[]float64{-180, 180}, 0, -180, 180},              // already in range
		{[]float64{10, 20, 200}, 0, -160, 20},             // largest gap wins
		{[]float64{-190, -170}, 0, 170, -170},             // below -180
		{[]float64{0, 180}, 180, -180, 180},               // two points 180 apart, step 180
		{[]float64{30, 60}, 30, 30, 60},                   // regional
		{[]float64{100, 359.9, 0.1}, 0, -0.1, 100},        // the gap across the antimeridian is the largest
	} {
		w, e := lonExtent(c.lons, c.step)
		assert.InDelta(t, c.west, w, 1e-9, "%v", c.lons)
		assert.InDelta(t, c.east, e, 1e-9, "%v", c.lons)
	}
}

func TestCurvilinearExtent(t *testing.T) {
	U := "days since 2000-01-01"
	res, err := combineSpecs(t, []spec{{start: 0, n: 2, chunk: 2, units: U, lons: []float64{350, 355, 5}}}, Options{})
	require.NoError(t, err)
	assert.Equal(t, []float64{-10, -10, 5, 20}, res.SpatialExtent)

	// Grid mappings are not data variables.
	res, err = combineSpecs(t, []spec{{start: 0, n: 2, chunk: 2, units: U, tasAttrs: `,"grid_mapping":"crs"`, mutate: func(r *kerchunk.Refs) {
		r.SetText("crs/.zarray", `{"chunks":[],"compressor":null,"dtype":"<i4","fill_value":null,"filters":null,"order":"C","shape":[],"zarr_format":2}`)
		r.SetText("crs/.zattrs", `{"_ARRAY_DIMENSIONS":[],"grid_mapping_name":"latitude_longitude"}`)
		r.Set("crs/0", kerchunk.Inline([]byte{0, 0, 0, 0}))
	}}}, Options{})
	require.NoError(t, err)
	assert.Equal(t, []string{"tas"}, keys(res.Variables))
}

type failSource struct{ name string }

func (s failSource) Name() string { return s.name }
func (s failSource) Load(context.Context) (*kerchunk.Refs, error) {
	return nil, errors.New("boom")
}

func TestLoadErrors(t *testing.T) {
	U := "days since 2000-01-01"
	var src []Source
	for i := 0; i < 20; i++ {
		s := spec{file: i, start: float64(2 * i), n: 2, chunk: 2, units: U}
		src = append(src, Refs(fmt.Sprintf("f%d", i), s.build()))
	}
	src[7] = failSource{"broken.json"}
	for _, par := range []int{1, 3, 64} {
		_, err := Combine(context.Background(), src, Options{ConcatDim: "time", Parallel: par, Logger: quiet})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "broken.json: boom")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Combine(ctx, src[8:], Options{ConcatDim: "time", Logger: quiet})
	assert.ErrorIs(t, err, context.Canceled)
}

func intsJSON(v []int) string {
	b := []byte{'['}
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(x), 10)
	}
	return string(append(b, ']'))
}

// dropMembers keeps the other attributes' text, Python's bare NaN
// included (encoding/json would refuse the whole object).
func TestDropMembersKeepsNaN(t *testing.T) {
	out, err := dropMembers(`{"_FillValue": NaN, "valid_max": Infinity, "units": "K", "missing_value": [1e20]}`, "_FillValue", "missing_value")
	require.NoError(t, err)
	assert.Equal(t, `{"valid_max":Infinity,"units":"K"}`, out)
	_, err = dropMembers(`[1]`, "x")
	assert.ErrorIs(t, err, zarr.ErrInvalid)
}

// TestCombineScalarStrings: kerchunk writes a scalar string as |S<its
// UTF-8 length>, so the same scalar has a width per file; off the
// concatenation axis the first file's is taken (an Identical check still
// reports different values). Other dtype differences stay incompatible.
func TestCombineScalarStrings(t *testing.T) {
	U := "days since 2000-01-01"
	comment := func(text string) func(r *kerchunk.Refs) {
		return func(r *kerchunk.Refs) {
			r.SetText("comment/.zarray", fmt.Sprintf(`{"chunks":[],"compressor":null,"dtype":"|S%d","fill_value":null,"filters":null,"order":"C","shape":[],"zarr_format":2}`, len(text)))
			r.SetText("comment/.zattrs", `{"_ARRAY_DIMENSIONS":[],"_Encoding":"utf-8"}`)
			r.Set("comment/0", kerchunk.Inline([]byte(text)))
		}
	}
	specs := []spec{{start: 0, n: 2, chunk: 2, units: U, mutate: comment("first file")}, {start: 2, n: 2, chunk: 2, units: U, mutate: comment("the second")}}
	specs[1].mutate = comment("second file, longer")
	res, err := combineSpecs(t, specs, Options{})
	require.NoError(t, err)
	a, _ := readVar(t, res.Refs, "comment")
	assert.Equal(t, "|S10", a.DType.Str)
	r, ok := res.Refs.Get("comment/0")
	require.True(t, ok)
	assert.Equal(t, "first file", string(r.Data))

	_, err = combineSpecs(t, specs, Options{Identical: []string{"comment"}})
	var ie *IncompatibleError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "comment", ie.Variable)

	// 1-d string variables of different widths are still refused.
	oneD := func(text string) func(r *kerchunk.Refs) {
		return func(r *kerchunk.Refs) {
			comment(text)(r)
			r.SetText("comment/.zarray", fmt.Sprintf(`{"chunks":[1],"compressor":null,"dtype":"|S%d","fill_value":null,"filters":null,"order":"C","shape":[1],"zarr_format":2}`, len(text)))
			r.SetText("comment/.zattrs", `{"_ARRAY_DIMENSIONS":["one"]}`)
		}
	}
	specs[0].mutate, specs[1].mutate = oneD("first file"), oneD("second file")
	_, err = combineSpecs(t, specs, Options{})
	require.ErrorAs(t, err, &ie)
	assert.Contains(t, ie.Reason, "dtype |S11 differs from |S10")
}
