package stac

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/greensight/vzarr/kerchunk/codecs"
)

// dtype is a parsed Zarr v2 simple dtype ("<f8", ">i4", "|S8", "<M8[ns]").
type dtype struct {
	raw      string
	order    binary.ByteOrder
	kind     byte // f, i, u, b, S, U, O, M, m, c
	size     int
	timeUnit string // for M and m: "seconds", "days", ...
}

var numpyTimeUnits = map[string]string{
	"ns": "nanoseconds", "us": "microseconds", "ms": "milliseconds", "s": "seconds",
	"m": "minutes", "h": "hours", "D": "days", "W": "weeks",
}

// parseDtype parses a simple dtype; structured dtypes are an error.
func parseDtype(raw json.RawMessage) (dtype, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return dtype{raw: "compound", kind: 'V'}, fmt.Errorf("structured dtype %s is not supported", string(raw))
	}
	dt := dtype{raw: s}
	if len(s) == 2 && s[1] == 'O' {
		dt.order, dt.kind, dt.size = binary.LittleEndian, 'O', 8
		return dt, nil
	}
	if len(s) < 3 {
		return dt, fmt.Errorf("dtype %q is not supported", s)
	}
	switch s[0] {
	case '<', '|':
		dt.order = binary.LittleEndian
	case '>':
		dt.order = binary.BigEndian
	default:
		return dt, fmt.Errorf("dtype %q is not supported", s)
	}
	dt.kind = s[1]
	rest := s[2:]
	if dt.kind == 'M' || dt.kind == 'm' {
		num, unit, ok := strings.Cut(rest, "[")
		unit = strings.TrimSuffix(unit, "]")
		if !ok || num != "8" || numpyTimeUnits[unit] == "" {
			return dt, fmt.Errorf("dtype %q is not supported", s)
		}
		dt.size, dt.timeUnit = 8, numpyTimeUnits[unit]
		return dt, nil
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n <= 0 {
		return dt, fmt.Errorf("dtype %q is not supported", s)
	}
	dt.size = n
	switch dt.kind {
	case 'f':
		if n != 2 && n != 4 && n != 8 {
			return dt, fmt.Errorf("dtype %q is not supported", s)
		}
	case 'i', 'u':
		if n != 1 && n != 2 && n != 4 && n != 8 {
			return dt, fmt.Errorf("dtype %q is not supported", s)
		}
	case 'b', 'S', 'O', 'c':
	case 'U':
		dt.size = 4 * n // n UTF-32 characters
	default:
		return dt, fmt.Errorf("dtype %q is not supported", s)
	}
	return dt, nil
}

// numpyName returns numpy's name of the type.
func (dt dtype) numpyName() string {
	bits := strconv.Itoa(dt.size * 8)
	switch dt.kind {
	case 'f':
		return "float" + bits
	case 'i':
		return "int" + bits
	case 'u':
		return "uint" + bits
	case 'c':
		return "complex" + bits
	case 'b':
		return "bool"
	case 'O':
		return "object"
	case 'M':
		return "datetime64"
	case 'm':
		return "timedelta64"
	case 'S', 'U':
		return dt.raw[1:]
	}
	return dt.raw
}

func (dt dtype) isString() bool { return dt.kind == 'S' || dt.kind == 'U' || dt.kind == 'O' }

func (dt dtype) numeric() bool {
	switch dt.kind {
	case 'f', 'i', 'u', 'b', 'M', 'm':
		return true
	}
	return false
}

// epsilon is the relative precision of the type's values.
func (dt dtype) epsilon() float64 {
	switch {
	case dt.kind == 'f' && dt.size == 2:
		return 1e-3
	case dt.kind == 'f' && dt.size == 4:
		return 1.2e-7
	case dt.kind == 'f':
		return 2.3e-16
	}
	return 0
}

// round gives a computed value the precision of the type, so that a
// float32 step of 0.1 is written 0.1, not 0.10000000149011612.
func (dt dtype) round(f float64) float64 {
	if dt.kind == 'f' && dt.size <= 4 {
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
	if n < 0 {
		return io.ReadAll(f)
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("read %s [%d, %d): %w", u, off, off+n, err)
	}
	return buf, nil
}

// chain returns the codec chain of an array; vlen-utf8 is left to the
// caller (it reports whether the filters had it).
func (v *zvar) chain() (*codecs.Chain, bool, error) {
	var filters []codecs.Config
	vlen := false
	for _, f := range v.meta.Filters {
		if id, _ := f["id"].(string); id == "vlen-utf8" {
			vlen = true
			continue
		}
		filters = append(filters, f)
	}
	c, err := codecs.NewChain(filters, v.meta.Compressor)
	return c, vlen, err
}

// chunkKey returns the key of the chunk at grid position idx.
func (v *zvar) chunkKey(idx []int64) string {
	if len(idx) == 0 {
		return v.name + "/0"
	}
	sep := v.meta.DimSep
	if sep == "" {
		sep = "."
	}
	parts := make([]string, len(idx))
	for i, x := range idx {
		parts[i] = strconv.FormatInt(x, 10)
	}
	return v.name + "/" + strings.Join(parts, sep)
}

// chunkBytes returns the stored bytes of a chunk; ok is false when the
// reference set has no such chunk (it reads as the fill value).
func (d *describer) chunkBytes(v *zvar, idx []int64) ([]byte, bool, error) {
	ref, ok := d.refs.Get(v.chunkKey(idx))
	if !ok {
		return nil, false, nil
	}
	if ref.IsInline() {
		return ref.Data, true, nil
	}
	b, err := d.opts.ReadRange(d.ctx, ref.URL, ref.Offset, ref.Length)
	if err != nil {
		return nil, false, fmt.Errorf("chunk %s: %w", v.chunkKey(idx), err)
	}
	return b, true, nil
}

// grid returns the number of chunks along each dimension.
func (v *zvar) grid() []int64 {
	g := make([]int64, len(v.meta.Shape))
	for i, n := range v.meta.Shape {
		g[i] = (n + v.meta.Chunks[i] - 1) / v.meta.Chunks[i]
	}
	return g
}

func product(xs []int64) int64 {
	p := int64(1)
	for _, x := range xs {
		p *= x
	}
	return p
}

// readNumbers decodes a numeric array into float64 values in C order.
// Missing chunks and fill values read as NaN. complete is false when a
// one-dimensional array in more than MaxCoordChunks chunks was read at its
// ends only (the values between are NaN).
func (d *describer) readNumbers(v *zvar) ([]float64, bool, error) {
	if !v.dt.numeric() {
		return nil, false, fmt.Errorf("dtype %s is not numeric", v.dt.raw)
	}
	total := product(v.meta.Shape)
	if total*8 > d.opts.MaxCoordBytes {
		return nil, false, fmt.Errorf("%d values exceed the coordinate size limit", total)
	}
	chain, _, err := v.chain()
	if err != nil {
		return nil, false, err
	}
	out := make([]float64, total)
	for i := range out {
		out[i] = math.NaN()
	}
	grid := v.grid()
	nchunks := product(grid)
	complete := true
	visit := func(idx []int64) error {
		raw, ok, err := d.chunkBytes(v, idx)
		if err != nil || !ok {
			return err
		}
		dec, err := chain.Decode(raw)
		if err != nil {
			return fmt.Errorf("chunk %s: %w", v.chunkKey(idx), err)
		}
		vals, err := v.dt.numbers(dec)
		if err != nil {
			return fmt.Errorf("chunk %s: %w", v.chunkKey(idx), err)
		}
		v.place(out, vals, idx)
		return nil
	}
	if len(grid) == 1 && nchunks > int64(d.opts.MaxCoordChunks) {
		complete = false
		for _, i := range []int64{0, nchunks - 1} {
			if err := visit([]int64{i}); err != nil {
				return nil, false, err
			}
		}
	} else {
		idx := make([]int64, len(grid))
		for c := int64(0); c < nchunks; c++ {
			if err := d.ctx.Err(); err != nil {
				return nil, false, err
			}
			if err := visit(idx); err != nil {
				return nil, false, err
			}
			for k := len(idx) - 1; k >= 0; k-- {
				if idx[k]++; idx[k] < grid[k] {
					break
				}
				idx[k] = 0
			}
		}
	}
	v.mask(out)
	return out, complete, nil
}

// place copies a decoded chunk's values into the array, dropping the
// padding of edge chunks.
func (v *zvar) place(out, vals []float64, idx []int64) {
	shape, chunks := v.meta.Shape, v.meta.Chunks
	nd := len(shape)
	if nd == 0 {
		if len(vals) > 0 && len(out) > 0 {
			out[0] = vals[0]
		}
		return
	}
	fortran := v.meta.Order == "F"
	pos := make([]int64, nd) // position within the chunk
	for k := 0; k < len(vals) && int64(k) < product(chunks); k++ {
		// pos of element k in the chunk's layout
		rem := int64(k)
		if fortran {
			for i := 0; i < nd; i++ {
				pos[i] = rem % chunks[i]
				rem /= chunks[i]
			}
		} else {
			for i := nd - 1; i >= 0; i-- {
				pos[i] = rem % chunks[i]
				rem /= chunks[i]
			}
		}
		g, inside := int64(0), true
		for i := 0; i < nd; i++ {
			x := idx[i]*chunks[i] + pos[i]
			if x >= shape[i] {
				inside = false
				break
			}
			g = g*shape[i] + x
		}
		if inside {
			out[g] = vals[k]
		}
	}
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
	if f, ok := toFloat(fillValue(v.meta.FillValue, v.dt)); ok && v.dt.kind != 'M' {
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

// numbers decodes raw chunk bytes of a numeric type.
func (dt dtype) numbers(b []byte) ([]float64, error) {
	if len(b)%dt.size != 0 {
		return nil, fmt.Errorf("%d bytes are not a whole number of %s values", len(b), dt.raw)
	}
	n := len(b) / dt.size
	out := make([]float64, n)
	o := dt.order
	for i := range n {
		e := b[i*dt.size : (i+1)*dt.size]
		var x float64
		switch dt.kind {
		case 'f':
			switch dt.size {
			case 2:
				x = float64(halfFloat(o.Uint16(e)))
			case 4:
				x = dt.round(float64(math.Float32frombits(o.Uint32(e))))
			case 8:
				x = math.Float64frombits(o.Uint64(e))
			}
		case 'i', 'M', 'm':
			var iv int64
			switch dt.size {
			case 1:
				iv = int64(int8(e[0]))
			case 2:
				iv = int64(int16(o.Uint16(e)))
			case 4:
				iv = int64(int32(o.Uint32(e)))
			case 8:
				iv = int64(o.Uint64(e))
			}
			x = float64(iv)
			if dt.kind != 'i' && iv == math.MinInt64 { // NaT
				x = math.NaN()
			}
		case 'u':
			switch dt.size {
			case 1:
				x = float64(e[0])
			case 2:
				x = float64(o.Uint16(e))
			case 4:
				x = float64(o.Uint32(e))
			case 8:
				x = float64(o.Uint64(e))
			}
		case 'b':
			if e[0] != 0 {
				x = 1
			}
		}
		out[i] = x
	}
	return out, nil
}

// halfFloat converts an IEEE 754 half-precision value.
func halfFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0:
		f := float32(mant) / 1024 * float32(math.Pow(2, -14))
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 31:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// readStrings decodes a one-dimensional string array.
func (d *describer) readStrings(v *zvar) ([]string, error) {
	if len(v.meta.Shape) != 1 {
		return nil, errors.New("not one-dimensional")
	}
	n := v.meta.Shape[0]
	if n*int64(max(v.dt.size, 8)) > d.opts.MaxCoordBytes || v.grid()[0] > int64(d.opts.MaxCoordChunks) {
		return nil, fmt.Errorf("%d values exceed the coordinate size limit", n)
	}
	chain, vlen, err := v.chain()
	if err != nil {
		return nil, err
	}
	out := make([]string, n)
	c := v.meta.Chunks[0]
	for i := int64(0); i < v.grid()[0]; i++ {
		raw, ok, err := d.chunkBytes(v, []int64{i})
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		dec, err := chain.Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("chunk %s: %w", v.chunkKey([]int64{i}), err)
		}
		var items []string
		switch {
		case v.dt.kind == 'O' && vlen:
			if items, err = codecs.VLenUTF8Decode(dec); err != nil {
				return nil, err
			}
		case v.dt.kind == 'S':
			for k := 0; k+v.dt.size <= len(dec); k += v.dt.size {
				items = append(items, strings.TrimRight(string(dec[k:k+v.dt.size]), "\x00"))
			}
		case v.dt.kind == 'U':
			for k := 0; k+v.dt.size <= len(dec); k += v.dt.size {
				var sb strings.Builder
				for j := k; j < k+v.dt.size; j += 4 {
					r := rune(v.dt.order.Uint32(dec[j:]))
					if r == 0 {
						break
					}
					if !utf8.ValidRune(r) {
						r = utf8.RuneError
					}
					sb.WriteRune(r)
				}
				items = append(items, sb.String())
			}
		default:
			return nil, fmt.Errorf("dtype %s without vlen-utf8 is not supported", v.dt.raw)
		}
		for k, s := range items {
			if g := i*c + int64(k); g < n && int64(k) < c {
				out[g] = s
			}
		}
	}
	return out, nil
}
