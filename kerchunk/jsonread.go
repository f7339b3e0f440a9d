package kerchunk

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unsafe"

	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/zarr"
)

// ErrBadRefs reports a reference file that cannot be read.
var ErrBadRefs = errors.New("kerchunk: invalid reference file")

func badRefs(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRefs, fmt.Sprintf(format, args...))
}

// ReadJSON reads a kerchunk reference file: version 1 ({"version": 1,
// "templates": ..., "refs": ..., "gen": ...}) or version 0 (the references
// object alone), as written by this package, by Python's kerchunk or by
// fsspec. Templates are expanded, so every Ref holds a full URL. "gen"
// entries are expanded when their templates are plain variable names or
// integer arithmetic on them ("{{ i * 1000 + 8 }}"). The default limits
// apply (see ReadJSONLimits).
func ReadJSON(r io.Reader) (*Refs, error) {
	return ReadJSONLimits(r, limits.Limits{})
}

// ReadJSONLimits is ReadJSON with limits: a reference set of more than
// lim.ChunksPerFile references (counting those "gen" entries would
// expand to, checked before expanding them) fails with a *limits.Error.
// Zero fields of lim take the defaults.
func ReadJSONLimits(r io.Reader, lim limits.Limits) (*Refs, error) {
	lim = lim.WithDefaults()
	data, err := readAll(r)
	if err != nil {
		return nil, err
	}
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		return nil, badRefs("%v", err)
	}
	// The top-level members this reader knows (the first of each name);
	// the references are read from data member by member, never held
	// as a list (a file may have tens of millions).
	top := map[string]json.RawMessage{}
	members := 0
	if err := eachMember(data, func(k, v []byte) error {
		members++
		key, err := jsonKey(k)
		if err != nil {
			return badRefs("object key: %v", err)
		}
		switch key {
		case "version", "templates", "refs", "gen":
			if _, ok := top[key]; !ok {
				top[key] = v
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	get := func(name string) (json.RawMessage, bool) {
		v, ok := top[name]
		return v, ok
	}
	v, ok := get("version")
	if !ok {
		// Version 0: the whole object is the references.
		if err := limits.Check(limits.ChunksPerFile, uint64(members), lim.ChunksPerFile); err != nil {
			return nil, err
		}
		refs := NewRefs(members)
		if err := readRefsObject(data, nil, refs); err != nil {
			return nil, err
		}
		return refs, nil
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil || n.String() != "1" {
		return nil, badRefs("unknown reference spec version %s", string(v))
	}
	templates := map[string]string{}
	if t, ok := get("templates"); ok && string(t) != "null" {
		if err := json.Unmarshal(t, &templates); err != nil {
			return nil, badRefs("templates: %v", err)
		}
		for k, v := range templates {
			if strings.Contains(v, "{{") {
				return nil, badRefs("template %q is itself a template, which is not supported", k)
			}
		}
	}
	refs := NewRefs(0)
	if raw, ok := get("refs"); ok && string(raw) != "null" {
		if err := readRefsObject(raw, templates, refs); err != nil {
			return nil, err
		}
	}
	if err := limits.Check(limits.ChunksPerFile, uint64(refs.Len()), lim.ChunksPerFile); err != nil {
		return nil, err
	}
	if raw, ok := get("gen"); ok && string(raw) != "null" {
		if err := expandGen(raw, templates, refs, lim); err != nil {
			return nil, err
		}
	}
	return refs, nil
}

type keyValue struct {
	key string
	val json.RawMessage
}

// readRefsObject reads a JSON object of references, keeping key order.
func readRefsObject(raw []byte, templates map[string]string, refs *Refs) error {
	var refErr error
	err := eachMember(raw, func(k, v []byte) error {
		key, err := jsonKey(k)
		if err != nil {
			return badRefs("object key: %v", err)
		}
		ref, err := parseRefValue(v, templates)
		if err != nil {
			refErr = badRefs("refs[%q]: %v", key, err)
			return refErr
		}
		refs.add(key, ref) // copies the key: it may be a view of raw
		return nil
	})
	if refErr != nil {
		return refErr
	}
	if err != nil {
		return badRefs("refs: %v", err)
	}
	refs.dedupeKeys()
	return nil
}

// eachMember calls fn with the key (a JSON string literal) and value of
// every member of a JSON object, in order (zarr.EachMember: bare NaN and
// Infinity pass through); structural errors wrap ErrBadRefs.
func eachMember(data []byte, fn func(key, val []byte) error) error {
	err := zarr.EachMember(data, fn)
	if errors.Is(err, zarr.ErrInvalid) {
		return badRefs("%v", err)
	}
	return err
}

// jsonKey decodes an object key: without escapes, a view of raw (no
// allocation; valid while raw is), else a new string.
func jsonKey(raw []byte) (string, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		if len(raw) == 2 {
			return "", nil
		}
		return unsafe.String(&raw[1], len(raw)-2), nil
	}
	return jsonString(raw)
}

// readAll reads r whole, into one buffer of the right size when r tells
// its size (an io.SectionReader does): io.ReadAll would grow it by
// copies, several times the file along the way.
func readAll(r io.Reader) ([]byte, error) {
	sz, ok := r.(interface{ Size() int64 })
	if !ok || sz.Size() <= 0 {
		return io.ReadAll(r)
	}
	var b bytes.Buffer
	b.Grow(int(min(sz.Size(), 256<<20)) + bytes.MinRead) // a hint: a larger file still reads, by growing
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

// jsonString decodes a JSON string literal (fast when it has no escapes).
func jsonString(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", errors.New("not a string")
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// parseInt parses a JSON integer.
func parseInt(raw []byte) (int64, error) {
	return strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
}

// parseRefValue interprets one reference value.
func parseRefValue(val json.RawMessage, templates map[string]string) (Ref, error) {
	val = bytes.TrimSpace(val)
	if len(val) == 0 {
		return Ref{}, errors.New("empty value")
	}
	switch val[0] {
	case '"':
		s, err := jsonString(val)
		if err != nil {
			return Ref{}, err
		}
		if strings.HasPrefix(s, "base64:") {
			b, err := base64.StdEncoding.DecodeString(s[7:])
			if err != nil {
				// fsspec uses Python's lenient decoder; accept missing padding.
				b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s[7:], "="))
				if err != nil {
					return Ref{}, fmt.Errorf("base64: %v", err)
				}
			}
			return Inline(b), nil
		}
		return Inline([]byte(s)), nil
	case '[':
		parts, err := zarr.SplitArray(val)
		if err != nil {
			return Ref{}, err
		}
		if len(parts) != 1 && len(parts) != 3 {
			return Ref{}, fmt.Errorf("a reference list has 1 or 3 items, not %d", len(parts))
		}
		url, err := jsonString(parts[0])
		if err != nil {
			return Ref{}, fmt.Errorf("url: %v", err)
		}
		if url, err = expandTemplates(url, templates, nil); err != nil {
			return Ref{}, err
		}
		if len(parts) == 1 {
			return Whole(url), nil
		}
		off, err := parseInt(parts[1])
		if err != nil {
			return Ref{}, fmt.Errorf("offset: %v", err)
		}
		n, err := parseInt(parts[2])
		if err != nil {
			return Ref{}, fmt.Errorf("length: %v", err)
		}
		if off < 0 || n < 0 {
			return Ref{}, fmt.Errorf("negative offset or length (%d, %d)", off, n)
		}
		return Range(url, off, n), nil
	case '{':
		// Some writers store metadata as JSON objects rather than text.
		var buf bytes.Buffer
		if err := json.Compact(&buf, val); err != nil {
			return Ref{}, err
		}
		return Inline(buf.Bytes()), nil
	}
	return Ref{}, fmt.Errorf("unexpected value %.40s", string(val))
}

// expandTemplates replaces "{{name}}" (and, with vars, "{{ expr }}") in s.
func expandTemplates(s string, templates map[string]string, vars map[string]int64) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return "", fmt.Errorf("unterminated template in %q", s)
		}
		b.WriteString(s[:i])
		expr := strings.TrimSpace(s[i+2 : i+j])
		if t, ok := templates[expr]; ok {
			b.WriteString(t)
		} else if vars != nil {
			v, err := evalExpr(expr, vars)
			if err != nil {
				return "", err
			}
			b.WriteString(strconv.FormatInt(v, 10))
		} else {
			return "", fmt.Errorf("unknown template %q", expr)
		}
		s = s[i+j+2:]
	}
}

type genEntry struct {
	Key        string                     `json:"key"`
	URL        string                     `json:"url"`
	Offset     json.RawMessage            `json:"offset"`
	Length     json.RawMessage            `json:"length"`
	Dimensions map[string]json.RawMessage `json:"dimensions"`
}

// expandGen expands version 1 "gen" entries.
func expandGen(raw []byte, templates map[string]string, refs *Refs, lim limits.Limits) error {
	var gens []genEntry
	if err := json.Unmarshal(raw, &gens); err != nil {
		return badRefs("gen: %v", err)
	}
	// Count the references before expanding any: a few bytes of "gen"
	// may stand for billions.
	total := uint64(refs.Len())
	for gi, g := range gens {
		n := uint64(1)
		for name, d := range g.Dimensions {
			c, err := genCount(d)
			if err != nil {
				return badRefs("gen[%d].dimensions[%q]: %v", gi, name, err)
			}
			// Each dimension's values are listed, even when another
			// dimension is empty.
			if err := limits.Check(limits.ChunksPerFile, c, lim.ChunksPerFile); err != nil {
				return err
			}
			n = limits.Mul(n, c)
		}
		if total += n; total < n {
			total = math.MaxUint64
		}
		if err := limits.Check(limits.ChunksPerFile, total, lim.ChunksPerFile); err != nil {
			return err
		}
	}
	for gi, g := range gens {
		names := make([]string, 0, len(g.Dimensions))
		var values [][]int64
		for name, d := range g.Dimensions {
			vals, err := genDimension(d)
			if err != nil {
				return badRefs("gen[%d].dimensions[%q]: %v", gi, name, err)
			}
			names = append(names, name)
			values = append(values, vals)
		}
		// Deterministic order: sort dimension names.
		for i := 1; i < len(names); i++ {
			for j := i; j > 0 && names[j] < names[j-1]; j-- {
				names[j], names[j-1] = names[j-1], names[j]
				values[j], values[j-1] = values[j-1], values[j]
			}
		}
		idx := make([]int, len(names))
		vars := map[string]int64{}
		for {
			for i, n := range names {
				if len(values[i]) == 0 {
					goto next
				}
				vars[n] = values[i][idx[i]]
			}
			{
				key, err := expandTemplates(g.Key, templates, vars)
				if err != nil {
					return badRefs("gen[%d].key: %v", gi, err)
				}
				url, err := expandTemplates(g.URL, templates, vars)
				if err != nil {
					return badRefs("gen[%d].url: %v", gi, err)
				}
				if (g.Offset == nil) != (g.Length == nil) {
					return badRefs("gen[%d]: offset and length go together", gi)
				}
				if g.Offset == nil {
					refs.Set(key, Whole(url))
				} else {
					off, err := genInt(g.Offset, templates, vars)
					if err != nil {
						return badRefs("gen[%d].offset: %v", gi, err)
					}
					n, err := genInt(g.Length, templates, vars)
					if err != nil {
						return badRefs("gen[%d].length: %v", gi, err)
					}
					refs.Set(key, Range(url, off, n))
				}
			}
			// Advance the odometer (last name fastest).
			for k := len(idx) - 1; ; k-- {
				if k < 0 {
					goto next
				}
				idx[k]++
				if idx[k] < len(values[k]) {
					break
				}
				idx[k] = 0
			}
		}
	next:
	}
	return nil
}

// genCount returns the number of values of a "gen" dimension without
// listing them (math.MaxUint64 when it does not fit).
func genCount(d json.RawMessage) (uint64, error) {
	var n int64
	if err := json.Unmarshal(d, &n); err == nil {
		return uint64(max(n, 0)), nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(d, &list); err == nil {
		return uint64(len(list)), nil
	}
	var r struct {
		Start int64  `json:"start"`
		Stop  *int64 `json:"stop"`
		Step  int64  `json:"step"`
	}
	if err := json.Unmarshal(d, &r); err != nil || r.Stop == nil {
		return 0, fmt.Errorf("not a count, list or {start, stop, step}")
	}
	if r.Step == 0 {
		r.Step = 1
	}
	lo, hi, step := new(big.Int).SetInt64(r.Start), new(big.Int).SetInt64(*r.Stop), new(big.Int).SetInt64(r.Step)
	if r.Step < 0 {
		lo, hi, step = hi, lo, step.Neg(step)
	}
	span := new(big.Int).Sub(hi, lo)
	if span.Sign() <= 0 {
		return 0, nil
	}
	// ceil(span / step)
	span.Add(span, step).Sub(span, big.NewInt(1)).Quo(span, step)
	if !span.IsUint64() {
		return math.MaxUint64, nil
	}
	return span.Uint64(), nil
}

func genDimension(d json.RawMessage) ([]int64, error) {
	var n int64
	if err := json.Unmarshal(d, &n); err == nil {
		out := make([]int64, 0, max(n, 0))
		for i := int64(0); i < n; i++ {
			out = append(out, i)
		}
		return out, nil
	}
	var list []int64
	if err := json.Unmarshal(d, &list); err == nil {
		return list, nil
	}
	var r struct {
		Start int64  `json:"start"`
		Stop  *int64 `json:"stop"`
		Step  int64  `json:"step"`
	}
	if err := json.Unmarshal(d, &r); err != nil || r.Stop == nil {
		return nil, fmt.Errorf("not a count, list or {start, stop, step}")
	}
	if r.Step == 0 {
		r.Step = 1
	}
	var out []int64
	for i := r.Start; (r.Step > 0 && i < *r.Stop) || (r.Step < 0 && i > *r.Stop); i += r.Step {
		out = append(out, i)
		if len(out) > 1<<26 {
			return nil, fmt.Errorf("range too long")
		}
		if r.Step > 0 && i > math.MaxInt64-r.Step || r.Step < 0 && i < math.MinInt64-r.Step {
			break // the next value would wrap around
		}
	}
	return out, nil
}

func genInt(raw json.RawMessage, templates map[string]string, vars map[string]int64) (int64, error) {
	var n int64
	if err := json.Unmarshal(raw, &n); err == nil {
		return n, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, err
	}
	s, err := expandTemplates(s, templates, vars)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(s), 10, 64)
}

// evalExpr evaluates integer arithmetic (+ - * // / %, parentheses) over
// variables, the subset of Jinja2 expressions reference generators use.
func evalExpr(s string, vars map[string]int64) (int64, error) {
	p := &exprParser{s: s, vars: vars}
	v, err := p.sum()
	if err != nil {
		return 0, err
	}
	p.space()
	if p.i != len(p.s) {
		return 0, fmt.Errorf("cannot evaluate template %q", s)
	}
	return v, nil
}

type exprParser struct {
	s    string
	i    int
	vars map[string]int64
}

func (p *exprParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *exprParser) sum() (int64, error) {
	v, err := p.product()
	if err != nil {
		return 0, err
	}
	for {
		p.space()
		if p.i >= len(p.s) || (p.s[p.i] != '+' && p.s[p.i] != '-') {
			return v, nil
		}
		op := p.s[p.i]
		p.i++
		w, err := p.product()
		if err != nil {
			return 0, err
		}
		if op == '+' {
			v += w
		} else {
			v -= w
		}
	}
}

func (p *exprParser) product() (int64, error) {
	v, err := p.atom()
	if err != nil {
		return 0, err
	}
	for {
		p.space()
		if p.i >= len(p.s) {
			return v, nil
		}
		var op string
		switch {
		case strings.HasPrefix(p.s[p.i:], "//"):
			op = "//"
		case p.s[p.i] == '*' || p.s[p.i] == '/' || p.s[p.i] == '%':
			op = p.s[p.i : p.i+1]
		default:
			return v, nil
		}
		p.i += len(op)
		w, err := p.atom()
		if err != nil {
			return 0, err
		}
		switch op {
		case "*":
			v *= w
		default:
			if w == 0 {
				return 0, errors.New("division by zero in template")
			}
			if op == "%" {
				v %= w
			} else {
				v /= w
			}
		}
	}
}

func (p *exprParser) atom() (int64, error) {
	p.space()
	if p.i >= len(p.s) {
		return 0, fmt.Errorf("cannot evaluate template %q", p.s)
	}
	c := p.s[p.i]
	switch {
	case c == '(':
		p.i++
		v, err := p.sum()
		if err != nil {
			return 0, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return 0, fmt.Errorf("unbalanced parentheses in %q", p.s)
		}
		p.i++
		return v, nil
	case c == '-':
		p.i++
		v, err := p.atom()
		return -v, err
	case c >= '0' && c <= '9':
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		v, err := strconv.ParseInt(p.s[p.i:j], 10, 64)
		p.i = j
		return v, err
	case c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z'):
		j := p.i
		for j < len(p.s) && (p.s[j] == '_' || (p.s[j]|0x20 >= 'a' && p.s[j]|0x20 <= 'z') || (p.s[j] >= '0' && p.s[j] <= '9')) {
			j++
		}
		name := p.s[p.i:j]
		p.i = j
		v, ok := p.vars[name]
		if !ok {
			return 0, fmt.Errorf("unknown variable %q in template", name)
		}
		return v, nil
	}
	return 0, fmt.Errorf("cannot evaluate template %q", p.s)
}
