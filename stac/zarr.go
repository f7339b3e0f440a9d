package stac

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/greensight/vzarr/kerchunk/codecs"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/zarr"
)

// numeric reports a dtype whose values readNumbers reads.
func numeric(dt zarr.DType) bool { return dt.IsFloat() || dt.IsInteger() }

// epsilon is the relative precision of the type's values.
func epsilon(dt zarr.DType) float64 {
	switch {
	case dt.Kind == 'f' && dt.Size == 2:
		return 1e-3
	case dt.Kind == 'f' && dt.Size == 4:
		return 1.2e-7
	case dt.Kind == 'f':
		return 2.3e-16
	}
	return 0
}

// roundTo gives a computed value the precision of the type, so that a
// float32 step of 0.1 is written 0.1, not 0.10000000149011612.
func roundTo(dt zarr.DType, f float64) float64 {
	if dt.Kind == 'f' && dt.Size <= 4 {
		r, err := strconv.ParseFloat(strconv.FormatFloat(f, 'g', -1, 32), 64)
		if err == nil {
			return r
		}
	}
	return f
}

// ReadLocalRange is the RangeReader of local files: absolute paths and
// file:// URLs. Other URLs are an error.
func ReadLocalRange(_ context.Context, u string, off, n int64) ([]byte, error) {
	path := u
	if strings.HasPrefix(u, "file://") {
		p, err := url.Parse(u)
		if err != nil {
			return nil, err
		}
		path = p.Path
	} else if strings.Contains(u, "://") {
		return nil, fmt.Errorf("%s is not a local file (no range reader for it)", u)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The range comes from the references: check it against the file
	// before allocating for it.
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		off, n = 0, st.Size()
	}
	if off < 0 || off > st.Size() || n > st.Size()-off {
		return nil, fmt.Errorf("%w: %s: range of %d bytes at %d past the end of the file (%d bytes)", ErrReferences, u, n, off, st.Size())
	}
	if n > codecs.MaxDecoded {
		return nil, fmt.Errorf("%w: %s: a chunk of %d bytes, larger than the %d bytes a chunk may hold", ErrReferences, u, n, int64(codecs.MaxDecoded))
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("read %s [%d, %d): %w", u, off, off+n, err)
	}
	return buf, nil
}

// readNumbers reads a numeric array through refread as float64 values in
// C order. Missing chunks and fill values read as NaN. complete is false
// when a one-dimensional array in more than MaxCoordChunks chunks was read
// at its ends only (the values between are NaN).
func (d *describer) readNumbers(v *zvar) ([]float64, bool, error) {
	if !numeric(v.dt) {
		return nil, false, fmt.Errorf("dtype %s is not numeric", v.dt.Str)
	}
	if total := limits.Product(v.shape); limits.Mul(total, 8) > uint64(d.opts.MaxCoordBytes) {
		return nil, false, fmt.Errorf("%d values exceed the coordinate size limit", total)
	}
	arr, err := d.store.Open(v.name)
	if err != nil {
		return nil, false, err
	}
	var want func(idx []int) bool
	if len(arr.Shape) == 1 {
		if n := (arr.Shape[0] + arr.Chunks[0] - 1) / arr.Chunks[0]; n > d.opts.MaxCoordChunks {
			want = func(idx []int) bool { return idx[0] == 0 || idx[0] == n-1 }
		}
	}
	data, err := arr.ReadChunks(d.ctx, want)
	if err != nil {
		return nil, false, err
	}
	out, err := data.Float64s()
	if err != nil {
		return nil, false, err
	}
	for i := range out {
		switch {
		case data.Missing != nil && data.Missing[i]:
			out[i] = math.NaN()
		case (v.dt.Kind == 'M' || v.dt.Kind == 'm') && data.Int[i] == math.MinInt64: // NaT
			out[i] = math.NaN()
		case v.dt.Kind == 'f' && v.dt.Size == 4:
			out[i] = roundTo(v.dt, out[i])
		}
	}
	v.mask(out)
	return out, want == nil, nil
}

// mask turns fill values, _FillValue and missing_value into NaN and
// applies scale_factor and add_offset.
func (v *zvar) mask(vals []float64) {
	var fills []float64
	for _, a := range []any{v.attrs["_FillValue"], v.attrs["missing_value"]} {
		if f, ok := toFloat(numberValue(a)); ok {
			fills = append(fills, f)
		}
	}
	if f, ok := toFloat(fillValue(v.meta.FillValue, v.dt)); ok && v.dt.Kind != 'M' {
		fills = append(fills, f)
	}
	scale, hasScale := toFloat(numberValue(v.attrs["scale_factor"]))
	offset, hasOffset := toFloat(numberValue(v.attrs["add_offset"]))
	for i, x := range vals {
		for _, f := range fills {
			if x == f {
				x = math.NaN()
			}
		}
		if hasScale {
			x *= scale
		}
		if hasOffset {
			x += offset
		}
		vals[i] = x
	}
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x)
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// ceilDiv returns ceil(a/b) for a >= 0, b > 0, without overflow.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 {
		q++
	}
	return q
}

// readStrings reads a one-dimensional string array through refread.
func (d *describer) readStrings(v *zvar) ([]string, error) {
	if len(v.shape) != 1 {
		return nil, errors.New("not one-dimensional")
	}
	n := v.shape[0]
	if limits.Mul(uint64(n), uint64(max(v.dt.Size, 8))) > uint64(d.opts.MaxCoordBytes) || ceilDiv(n, v.chunks[0]) > int64(d.opts.MaxCoordChunks) {
		return nil, fmt.Errorf("%d values exceed the coordinate size limit", n)
	}
	arr, err := d.store.Open(v.name)
	if err != nil {
		return nil, err
	}
	return arr.ReadStrings(d.ctx)
}
