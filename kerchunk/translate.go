package kerchunk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/netcdf3"
	"github.com/greensight/vzarr/zarr"
)

// Defaults of Options.
const (
	DefaultInlineThreshold = 500
	DefaultInlineVarMax    = 1 << 20
	DefaultFillBudget      = 16 << 20
)

// Options configures a translation.
type Options struct {
	// InlineThreshold: chunks whose stored size is below this many bytes
	// are copied into the references instead of referenced (0: the
	// default, 500; negative: never).
	InlineThreshold int
	// InlineVarMax bounds the decoded size of a variable whose filters
	// have no Zarr codec (szip, scale-offset, n-bit, unknown plugins): up
	// to this size it is decoded in Go and inlined, above it translation
	// fails (0: the default, 1 MiB; negative: never inline).
	InlineVarMax int64
	// FillBudget bounds the bytes of inline chunks written to make
	// never-written chunks read as the source's fill value when the Zarr
	// fill_value cannot say it (0: the default, 16 MiB). Past it, the
	// variable gets the fill value as its Zarr fill_value instead, and a
	// warning says so.
	FillBudget int64
	// SkipUnsupported omits every variable that cannot be translated
	// (ErrUnsupported), listed in Result.Skipped, instead of failing.
	SkipUnsupported bool
	// Strict fails on variables no Zarr reader can use (region
	// references, compounds with variable-length members: see
	// UnusableType), which are otherwise left out, listed in
	// Result.Skipped and Result.Warnings. It overrides SkipUnsupported.
	Strict bool
	// OpenSource, when set, opens another HDF5 file that a virtual
	// dataset's mappings name, by the URL its chunks are referenced at
	// (resolved like external storage: inside the directory of the file
	// translated, else ErrExternalPath); close is called when the
	// translation ends. Nil: such mappings are ErrUnsupported.
	OpenSource func(ctx context.Context, url string) (r io.ReaderAt, size int64, close func(), err error)
	// Name names the source in error messages (default: the URL).
	Name string
	// Limits bound what the file may make the translation allocate:
	// chunks per variable and per file, attribute and string sizes,
	// group depth. Zero fields take the defaults of package limits;
	// exceeding one fails with a *limits.Error naming the file and
	// variable.
	Limits limits.Limits

	// OnHeader, when set, is called once the file's header is read and
	// before any chunk index is, with what the translation will hold (for
	// a memory budget: see EstimateMemory). An error from it ends the
	// translation and is returned, wrapped.
	OnHeader func(HeaderInfo) error
}

// HeaderInfo is what a translation knows once it has read a file's header,
// before it reads the chunk indexes.
type HeaderInfo struct {
	// Name names the source (Options.Name, else the URL).
	Name string
	// Size is the file's size in bytes.
	Size int64
	// Variables counts the variables (datasets) to translate.
	Variables int
	// Chunks bounds the chunk references the translation may hold: the
	// chunks of every variable's grid, capped at the file size (a stored
	// chunk takes at least one byte of it).
	Chunks int64
}

// Memory a translation takes, as EstimateMemory counts it. Measured with
// scripts/bench-refmem on 5,000,000 one-byte chunks (README "Measured"):
// about 100 bytes of RSS per chunk writing JSON, 150 writing Parquet,
// besides a fixed part (the read cache of 64 MiB, buffers, the runtime).
const (
	MemoryPerChunk = 128
	MemoryOverhead = 96 << 20
)

// EstimateMemory estimates the memory a translation of the file h
// describes and the writing of its references take, in bytes:
// MemoryOverhead + h.Chunks × MemoryPerChunk.
func EstimateMemory(h HeaderInfo) int64 {
	if h.Chunks > (math.MaxInt64-MemoryOverhead)/MemoryPerChunk {
		return math.MaxInt64
	}
	return MemoryOverhead + max(h.Chunks, 0)*MemoryPerChunk
}

// onHeader calls o.OnHeader, if set.
func (o *Options) onHeader(h HeaderInfo) error {
	if o.OnHeader == nil {
		return nil
	}
	h.Chunks = min(h.Chunks, h.Size)
	return o.OnHeader(h)
}

func (o *Options) norm() Options {
	c := *o
	if c.InlineThreshold == 0 {
		c.InlineThreshold = DefaultInlineThreshold
	}
	if c.InlineVarMax == 0 {
		c.InlineVarMax = DefaultInlineVarMax
	}
	if c.FillBudget == 0 {
		c.FillBudget = DefaultFillBudget
	}
	c.Limits = c.Limits.WithDefaults()
	return c
}

// Skipped is a variable left out of the references: one no Zarr reader
// can use (unless Options.Strict), one that cannot be translated (with
// Options.SkipUnsupported), or one with nothing to translate.
type Skipped struct {
	Variable string `json:"variable"`
	Reason   string `json:"reason"`
}

// Result is a translation: the references and a summary.
type Result struct {
	Refs *Refs
	// Format is "hdf5", "netcdf4", "netcdf3_classic", "netcdf3_64bit_offset"
	// or "netcdf3_64bit_data".
	Format string
	// Dimensions maps dimension names to lengths: root dimensions by
	// name, group dimensions by path ("g1/x").
	Dimensions map[string]uint64
	// Variables describes the variables written, by Zarr path ("v",
	// "g1/v"); VarOrder lists the paths in the order written.
	Variables map[string]*VarInfo
	VarOrder  []string
	Skipped   []Skipped
	Warnings  []string
	// InlineBytes is the total size of inline chunk data.
	InlineBytes int64
}

// VarInfo describes one translated variable.
type VarInfo struct {
	Shape  []uint64 `json:"shape"`
	Dims   []string `json:"dims"`
	Dtype  string   `json:"dtype"` // zarr.DType.NumpyName: "float32", "S1", "str", ...
	Chunks []uint64 `json:"chunks"`
}

// ErrUnsupported reports a variable whose data the translator cannot
// represent (wrapped in a *VarError).
var ErrUnsupported = errors.New("kerchunk: unsupported")

// ErrNotNetCDF reports input that is neither HDF5 nor netCDF-3.
var ErrNotNetCDF = errors.New("kerchunk: not an HDF5 or netCDF file")

// VarError is a failure to translate one variable.
type VarError struct {
	File     string
	Variable string
	Err      error
}

// Error names the file and the variable the error is about.
func (e *VarError) Error() string {
	return fmt.Sprintf("%s: variable %q: %v", e.File, e.Variable, e.Err)
}

// Unwrap returns the cause, so errors.Is sees through a VarError.
func (e *VarError) Unwrap() error { return e.Err }

// fileErr wraps an error of reading the file named name; a limit error
// is returned as it is, with the file (and variable) named in it.
func fileErr(name, variable string, err error) error {
	if errors.Is(err, limits.ErrExceeded) {
		return limits.Locate(err, name, variable)
	}
	if variable != "" {
		return &VarError{File: name, Variable: variable, Err: err}
	}
	return fmt.Errorf("%s: %w", name, err)
}

// Translate writes the references of the NetCDF/HDF5 file in r (size bytes)
// whose data lives at url: the URL the chunk references name (an absolute
// path or file:// URL for local files, az://... or https://... for blobs).
// It stops with ctx's error when ctx is done.
func Translate(ctx context.Context, r io.ReaderAt, size int64, url string, opts Options) (*Result, error) {
	var head [8]byte
	n, _ := r.ReadAt(head[:], 0)
	if n >= 4 && netcdf3.IsNetCDF3(head[:n]) {
		return TranslateNetCDF3(ctx, r, size, url, opts)
	}
	if n >= 4 && bytes.Equal(head[:3], []byte("CDF")) {
		return nil, fmt.Errorf("%w: netCDF classic format version %d", ErrNotNetCDF, head[3])
	}
	res, err := TranslateHDF5(ctx, r, size, url, opts)
	if err != nil && errors.Is(err, hdf5meta.ErrFormat) && size >= 8 && !hasHDF5Signature(r, size) {
		return nil, fmt.Errorf("%w (%v)", ErrNotNetCDF, err)
	}
	return res, err
}

func hasHDF5Signature(r io.ReaderAt, size int64) bool {
	var b [8]byte
	for off := int64(0); off+8 <= size; off = max(512, off*2) {
		if n, _ := r.ReadAt(b[:], off); n == 8 && string(b[:]) == "\x89HDF\r\n\x1a\n" {
			return true
		}
		if off >= 1<<30 {
			break
		}
	}
	return false
}

// addSat adds without wrapping past math.MaxInt64.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// gridChunks counts the chunks of a grid of dims in chunks of cdims
// (saturating at math.MaxInt64); a contiguous variable is one chunk.
func gridChunks(dims, cdims []uint64) int64 {
	n := uint64(1)
	for i, d := range dims {
		c := uint64(1)
		if i < len(cdims) && cdims[i] > 0 {
			c = cdims[i]
		}
		hi, lo := bits.Mul64(n, (d+c-1)/c)
		if hi != 0 || lo > math.MaxInt64 {
			return math.MaxInt64
		}
		n = lo
	}
	return int64(n)
}

// zarrayText returns the .zarray text of a (zarr.ArrayV2.MarshalJSON).
func zarrayText(a *zarr.ArrayV2) ([]byte, error) { return a.MarshalJSON() }

// attrsJSON builds a .zattrs object from ordered members.
type attrsJSON struct {
	b []byte
	n int
}

func (a *attrsJSON) add(name string, value []byte) {
	if a.n == 0 {
		a.b = append(a.b, '{')
	} else {
		a.b = append(a.b, ',')
	}
	a.b = appendJSONString(a.b, name)
	a.b = append(a.b, ':')
	a.b = append(a.b, value...)
	a.n++
}

func (a *attrsJSON) text() string {
	if a.n == 0 {
		return "{}"
	}
	return string(append(a.b, '}'))
}

func dimNamesJSON(names []string) []byte {
	b := []byte{'['}
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, n)
	}
	return append(b, ']')
}

// chunkKey formats the key of the chunk with grid index idx.
func chunkKey(b []byte, prefix string, idx []uint64) []byte {
	b = append(b, prefix...)
	if len(idx) == 0 {
		return append(b, '0')
	}
	for i, x := range idx {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendUint(b, x, 10)
	}
	return b
}
