// Package limits holds the bounds vzarr applies to numbers read from
// untrusted files and references before it allocates memory sized by them.
//
// A file may declare anything: a dimension of 2^40 steps, a billion chunks,
// an attribute of a gigabyte. Every parser and reader checks such numbers
// against a Limits value first and fails with an *Error (errors.Is(err,
// ErrExceeded)) instead of allocating. The zero value of Limits, and every
// zero field, means the default below; a negative field means "no limit".
//
// One Limits value is configured per process (cmd/vzarr flags and
// VZARR_LIMIT_* variables, see FromEnv) and passed to each package through
// its options: hdf5meta, netcdf3, kerchunk, refread, combine, stac and the
// pipeline workers.
package limits

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"strconv"
	"strings"
)

// Defaults. They are far above what real climate archives need (a daily
// time axis of 10 000 years is 3.7 M steps) and far below what would
// exhaust a worker's memory.
const (
	DefaultCoordElements     = 50_000_000
	DefaultChunksPerVariable = 20_000_000
	DefaultChunksPerFile     = 20_000_000
	DefaultCombinedRefs      = 100_000_000
	DefaultAttrBytes         = 16 << 20
	DefaultStringBytes       = 16 << 20
	DefaultDepth             = 256
)

// ErrExceeded is wrapped by every *Error.
var ErrExceeded = errors.New("limit exceeded")

// Limits bounds what a file or reference set may make vzarr allocate.
// Zero fields take the defaults; negative fields disable the bound.
type Limits struct {
	// CoordElements is the most elements read and decoded from one array
	// (a coordinate such as time, lat/lon, or a variable whose values are
	// compared), and the longest axis combine re-encodes.
	CoordElements int64
	// ChunksPerVariable is the most chunks one variable may have (its
	// declared chunk grid, or the chunk references listed for it).
	ChunksPerVariable int64
	// ChunksPerFile is the most chunk references one file's references
	// may hold (all variables together).
	ChunksPerFile int64
	// CombinedRefs is the most references a combined dataset may hold.
	CombinedRefs int64
	// AttrBytes is the largest attribute value, in bytes.
	AttrBytes int64
	// StringBytes is the longest string element (fixed-length string
	// dtypes, variable-length strings).
	StringBytes int64
	// Depth is the deepest nesting of groups, datatypes or JSON values.
	Depth int64
}

// Default returns the default limits.
func Default() Limits { return Limits{}.WithDefaults() }

// WithDefaults returns l with its zero fields set to the defaults.
func (l Limits) WithDefaults() Limits {
	def := func(p *int64, d int64) {
		if *p == 0 {
			*p = d
		}
	}
	def(&l.CoordElements, DefaultCoordElements)
	def(&l.ChunksPerVariable, DefaultChunksPerVariable)
	def(&l.ChunksPerFile, DefaultChunksPerFile)
	def(&l.CombinedRefs, DefaultCombinedRefs)
	def(&l.AttrBytes, DefaultAttrBytes)
	def(&l.StringBytes, DefaultStringBytes)
	def(&l.Depth, DefaultDepth)
	return l
}

// Names of the limits, as Error.What and in flags and variables.
const (
	CoordElements     = "coord-elements"
	ChunksPerVariable = "chunks-per-variable"
	ChunksPerFile     = "chunks-per-file"
	CombinedRefs      = "combined-refs"
	AttrBytes         = "attr-bytes"
	StringBytes       = "string-bytes"
	Depth             = "depth"
)

// descriptions say what each limit bounds, for messages and flag usage.
var descriptions = map[string]string{
	CoordElements:     "elements read for one array",
	ChunksPerVariable: "chunks of one variable",
	ChunksPerFile:     "chunk references of one file",
	CombinedRefs:      "references of a combined dataset",
	AttrBytes:         "bytes of one attribute",
	StringBytes:       "bytes of one string",
	Depth:             "nesting depth",
}

// Field returns a pointer to the field of l named name (one of the
// constants above), or nil.
func (l *Limits) Field(name string) *int64 {
	switch name {
	case CoordElements:
		return &l.CoordElements
	case ChunksPerVariable:
		return &l.ChunksPerVariable
	case ChunksPerFile:
		return &l.ChunksPerFile
	case CombinedRefs:
		return &l.CombinedRefs
	case AttrBytes:
		return &l.AttrBytes
	case StringBytes:
		return &l.StringBytes
	case Depth:
		return &l.Depth
	}
	return nil
}

// Names lists the limit names in a fixed order.
func Names() []string {
	return []string{CoordElements, ChunksPerVariable, ChunksPerFile, CombinedRefs, AttrBytes, StringBytes, Depth}
}

// Describe returns what the limit named name bounds.
func Describe(name string) string { return descriptions[name] }

// EnvName returns the environment variable of the limit named name:
// VZARR_LIMIT_COORD_ELEMENTS for "coord-elements".
func EnvName(name string) string {
	return "VZARR_LIMIT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// FromEnv returns l with the fields set by VZARR_LIMIT_* variables of
// getenv (nil: os.Getenv). A value is an integer; -1 disables the limit.
func (l Limits) FromEnv(getenv func(string) string) (Limits, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	for _, name := range Names() {
		env := EnvName(name)
		s := strings.TrimSpace(getenv(env))
		if s == "" {
			continue
		}
		v, err := ParseValue(s)
		if err != nil {
			return l, fmt.Errorf("%s: %w", env, err)
		}
		*l.Field(name) = v
	}
	return l, nil
}

// ParseValue parses a limit value: an integer, optionally with a k, M or G
// suffix (powers of 1000; "50M") or written as a float ("5e7"); -1 (any
// negative value) means no limit.
func ParseValue(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1_000, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1_000_000, s[:len(s)-1]
	case strings.HasSuffix(s, "G"):
		mult, s = 1_000_000_000, s[:len(s)-1]
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		if v < 0 {
			return -1, nil
		}
		if v > math.MaxInt64/mult {
			return 0, fmt.Errorf("limit %q is too large", s)
		}
		return v * mult, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f != math.Trunc(f) || f*float64(mult) >= math.MaxInt64 {
		return 0, fmt.Errorf("limit %q is not an integer", s)
	}
	if f < 0 {
		return -1, nil
	}
	return int64(f) * mult, nil
}

// Error reports a number from a file or reference set above a limit.
type Error struct {
	// What is the limit's name (CoordElements, ...).
	What string
	// File and Variable locate the number, when known.
	File     string
	Variable string
	// Value is the number found (math.MaxInt64 when it overflows), Limit
	// the bound it exceeds.
	Value uint64
	Limit int64
}

// Error names the file and variable (when known), the limit, the value
// and the limit's value.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("limit exceeded: ")
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Variable != "" {
		fmt.Fprintf(&b, "variable %q: ", e.Variable)
	}
	val := strconv.FormatUint(e.Value, 10)
	if e.Value == math.MaxUint64 {
		val = "more than 2^64"
	}
	desc := descriptions[e.What]
	if desc == "" {
		desc = e.What
	}
	fmt.Fprintf(&b, "%s %s, above the limit of %d (%s; raise it with --limit-%s or %s)",
		val, desc, e.Limit, e.What, e.What, EnvName(e.What))
	return b.String()
}

// Unwrap returns ErrExceeded.
func (e *Error) Unwrap() error { return ErrExceeded }

// Check returns an *Error when value is above limit (a limit of zero or
// less never fails: give it a Limits field after WithDefaults).
func Check(what string, value uint64, limit int64) error {
	if limit <= 0 || value <= uint64(limit) {
		return nil
	}
	return &Error{What: what, Value: value, Limit: limit}
}

// CheckVar is Check with the file and variable named.
func CheckVar(what, file, variable string, value uint64, limit int64) error {
	if err := Check(what, value, limit); err != nil {
		e := err.(*Error)
		e.File, e.Variable = file, variable
		return e
	}
	return nil
}

// Locate fills in the File and Variable of an *Error in err's chain that
// has none; other errors are returned unchanged.
func Locate(err error, file, variable string) error {
	var e *Error
	if !errors.As(err, &e) || (e.File != "" || file == "") && (e.Variable != "" || variable == "") {
		return err
	}
	if e.File == "" {
		e.File = file
	}
	if e.Variable == "" {
		e.Variable = variable
	}
	return err
}

// Product returns the product of dims, saturating at math.MaxUint64 (any
// negative dimension also gives math.MaxUint64). An empty list gives 1.
func Product[T ~int | ~int64 | ~uint64 | ~int32 | ~uint32](dims []T) uint64 {
	p := uint64(1)
	for _, d := range dims {
		if d < 0 {
			return math.MaxUint64
		}
		hi, lo := bits.Mul64(p, uint64(d))
		if hi != 0 {
			return math.MaxUint64
		}
		p = lo
	}
	return p
}

// Mul returns a*b, saturating at math.MaxUint64.
func Mul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}
