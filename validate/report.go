package validate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/netcdf4"
)

// Status values of a Report.
const (
	StatusSuccess = "success"
	StatusWarning = "warning"
	StatusError   = "error"
)

// Recommendation values of a Report.
const (
	RecommendSuitable     = "suitable_for_virtualization"
	RecommendWithWarnings = "suitable_with_warnings"
	RecommendNotSuitable  = "not_suitable_for_virtualization"
)

// Report is the chunking validation report (Contract 3).
type Report struct {
	NCURL      string               `json:"nc_url"`
	Format     string               `json:"format"`
	Status     string               `json:"status"`
	Variables  map[string]*Variable `json:"variables"`
	Dimensions map[string]uint64    `json:"dimensions"`
	Warnings   []Finding            `json:"warnings"`
	Errors     []Finding            `json:"errors,omitempty"`
	// Notes are facts a publisher should know that neither change Status
	// nor fail a run with fail_on_warnings (e.g. "packed_float32_attrs").
	Notes          []Finding `json:"notes,omitempty"`
	Recommendation string    `json:"recommendation"`
	// Datasets lists every HDF5 dataset's storage (Options.Chunks).
	Datasets map[string]*DatasetStorage `json:"datasets,omitempty"`
}

// Variable describes one netCDF variable.
type Variable struct {
	Shape       []uint64     `json:"shape"`
	Dims        []string     `json:"dims"`
	Dtype       string       `json:"dtype"`
	Chunks      []uint64     `json:"chunks"`
	Compression *string      `json:"compression"`
	Filters     []FilterInfo `json:"filters"`
	Layout      string       `json:"layout"`
	ChunkIndex  string       `json:"chunk_index,omitempty"`
	NumChunks   int          `json:"num_chunks"`
	StoredBytes uint64       `json:"stored_bytes"`
}

// FilterInfo is one filter of a variable's pipeline.
type FilterInfo struct {
	ID     uint16   `json:"id"`
	Name   string   `json:"name"`
	Params []uint32 `json:"params"`
}

// Finding is a warning or error with a one-line reason.
type Finding struct {
	Variable string `json:"variable,omitempty"`
	Code     string `json:"code"`
	Message  string `json:"message"`
}

// DatasetStorage is where one HDF5 dataset's data is stored.
type DatasetStorage struct {
	Layout    string      `json:"layout"`
	Addr      *int64      `json:"addr,omitempty"` // contiguous: absolute file offset
	Size      *uint64     `json:"size,omitempty"` // contiguous/compact: bytes
	ChunkList []ChunkInfo `json:"chunk_list,omitempty"`

	// With Options.StreamChunks, ChunkList stays empty: walk reads the
	// listing's numChunks chunks again for Report.WriteJSON.
	walk      func(fn func(ChunkInfo) error) error
	numChunks int
}

// ChunkInfo is one allocated chunk.
type ChunkInfo struct {
	Offset     []uint64 `json:"offset"`
	Addr       int64    `json:"addr"` // absolute file offset
	Size       uint64   `json:"size"`
	FilterMask uint32   `json:"filter_mask"`
}

// Options tunes the checks. The zero value is not useful; start from
// DefaultOptions.
type Options struct {
	// Chunks adds the per-dataset storage listing.
	Chunks bool
	// StreamChunks, with Chunks, leaves the listing's chunks out of
	// DatasetStorage.ChunkList: Report.WriteJSON reads them again as it
	// writes them, so that a listing of millions of chunks is never held
	// in memory. Each chunk index is still read whole while the report is
	// built: its errors and limits are in the report (or stop it) before
	// anything is written. Such a report must be written by WriteJSON
	// (encoding/json would leave the chunk lists out).
	StreamChunks bool
	// ContiguousMaxBytes: contiguous variables larger than this get a
	// warning (one request must read the whole variable, or clients must
	// guess sub-ranges).
	ContiguousMaxBytes uint64
	// TinyChunkBytes / HugeChunkBytes bound the median uncompressed chunk size.
	TinyChunkBytes uint64
	HugeChunkBytes uint64
	// TimeSeriesChunkSteps: a chunk holding more than this many steps of a
	// time dimension while its spatial extent is a fraction of the map makes
	// one map tile read many time steps.
	TimeSeriesChunkSteps uint64
	// Limits bound what the file may make the report allocate (see
	// package limits); zero fields take the defaults.
	Limits limits.Limits
}

// DefaultOptions returns the default thresholds.
func DefaultOptions() Options {
	return Options{
		ContiguousMaxBytes:   256 << 20,
		TinyChunkBytes:       16 << 10,
		HugeChunkBytes:       256 << 20,
		TimeSeriesChunkSteps: 32,
	}
}

// zarrCodecFilters are HDF5 filters that have an exact Zarr/numcodecs codec.
var zarrCodecFilters = map[uint16]bool{
	hdf5meta.FilterDeflate: true, hdf5meta.FilterShuffle: true, hdf5meta.FilterFletcher32: true,
	hdf5meta.FilterLZF: true, hdf5meta.FilterBlosc: true, hdf5meta.FilterZstd: true,
	hdf5meta.FilterLZ4: true, hdf5meta.FilterBitshuffle: true,
}

// ErrNotNetCDF reports a file that is neither HDF5 nor netCDF-3.
var ErrNotNetCDF = errors.New("validate: not an HDF5 or netCDF file")

// InspectHDF5 builds the report for an HDF5/netCDF-4 file. Variables and
// dimensions are named by the netCDF-4 view (package netcdf4), as kerchunk
// translation names them. With Options.Chunks, every dataset's storage is
// listed, whatever its datatype and filters; a dataset whose chunk index
// cannot be read gets a "chunk_index" error in the report instead of a
// listing. It stops with ctx's error when ctx is done.
func InspectHDF5(ctx context.Context, r io.ReaderAt, size int64, url string, opts Options) (*Report, error) {
	f, err := hdf5meta.Open(r, size, hdf5meta.WithLimits(opts.Limits))
	if err != nil {
		return nil, err
	}
	view, err := netcdf4.New(ctx, f)
	if err != nil {
		return nil, err
	}
	rep := &Report{NCURL: url, Format: "hdf5", Variables: map[string]*Variable{}, Dimensions: map[string]uint64{}, Warnings: []Finding{}}
	for _, d := range view.Dims {
		rep.Dimensions[d.Key()] = d.Size
	}
	counts := map[uint64]chunkCount{} // chunk indexes describe counted, by object header address
	dsets := make([]*hdf5meta.Dataset, len(view.Vars))
	for i, v := range view.Vars {
		dsets[i] = v.Dataset
	}
	f.PrefetchChunkIndexes(dsets)
	for _, v := range view.Vars {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		info, chunkSizes, err := describe(v, counts)
		if err != nil {
			if !isFileFinding(err) {
				return nil, err
			}
			rep.Errors = append(rep.Errors, Finding{Variable: v.Key(), Code: "chunk_index", Message: err.Error()})
		}
		rep.Variables[v.Key()] = info
		check(rep, v, info, chunkSizes, opts)
	}
	if opts.Chunks {
		rep.Datasets = map[string]*DatasetStorage{}
		err := f.Walk(func(p string, o hdf5meta.Object) error {
			ds, ok := o.(*hdf5meta.Dataset)
			if !ok {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			key := strings.TrimPrefix(p, "/")
			st, err := storage(ctx, f, ds, opts.Limits, opts.StreamChunks, counts)
			if err != nil {
				if !isFileFinding(err) {
					return err
				}
				f := Finding{Variable: key, Code: "chunk_index", Message: err.Error()}
				if !slices.Contains(rep.Errors, f) {
					rep.Errors = append(rep.Errors, f)
				}
			}
			rep.Datasets[key] = st
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	finish(rep)
	return rep, nil
}

// isFileFinding reports an error about one dataset's storage that the
// report states (a chunk index it cannot read) rather than one that stops
// it (a limit, cancellation).
func isFileFinding(err error) bool {
	return !errors.Is(err, limits.ErrExceeded) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// describe summarises a variable; chunkSizes are the uncompressed chunk
// size (one value per chunked variable, for the median checks). On an
// error the summary lacks the chunk count.
func describe(nv *netcdf4.Var, counts map[uint64]chunkCount) (*Variable, uint64, error) {
	ds := nv.Dataset
	v := &Variable{
		Shape:   nv.Shape(),
		Dims:    nv.DimNames(),
		Dtype:   ds.Type.Name(),
		Layout:  ds.Layout.Class.String(),
		Filters: []FilterInfo{},
	}
	if v.Shape == nil {
		v.Shape = []uint64{}
	}
	for _, flt := range ds.Filters {
		v.Filters = append(v.Filters, FilterInfo{ID: flt.ID, Name: flt.Name, Params: append([]uint32{}, flt.Params...)})
		if c := compressionName(flt.ID); c != "" && v.Compression == nil {
			v.Compression = &c
		}
	}
	var chunkBytes uint64
	switch ds.Layout.Class {
	case hdf5meta.LayoutChunked:
		v.Chunks = append([]uint64{}, ds.Layout.ChunkDims...)
		v.ChunkIndex = ds.Layout.ChunkIndex.String()
		n, stored, err := ds.NumChunks()
		counts[ds.Addr] = chunkCount{n: uint64(n), err: err}
		if err != nil {
			return v, 0, err
		}
		v.NumChunks, v.StoredBytes = n, stored
		chunkBytes = uint64(ds.Type.Size)
		for _, c := range ds.Layout.ChunkDims {
			chunkBytes *= c
		}
	case hdf5meta.LayoutContiguous:
		if ds.Layout.Address != hdf5meta.UndefinedAddress {
			v.NumChunks, v.StoredBytes = 1, ds.Layout.Size
		}
	case hdf5meta.LayoutCompact:
		v.NumChunks, v.StoredBytes = 1, uint64(len(ds.Layout.CompactData))
	}
	return v, chunkBytes, nil
}

func compressionName(id uint16) string {
	switch id {
	case hdf5meta.FilterDeflate:
		return "gzip"
	case hdf5meta.FilterSzip:
		return "szip"
	case hdf5meta.FilterLZF:
		return "lzf"
	case hdf5meta.FilterBlosc:
		return "blosc"
	case hdf5meta.FilterZstd:
		return "zstd"
	case hdf5meta.FilterLZ4:
		return "lz4"
	case hdf5meta.FilterScaleOffset:
		return "scaleoffset"
	case hdf5meta.FilterNbit:
		return "nbit"
	}
	return ""
}

// chunkCount is what counting a chunk index found: its chunks, and the
// error that ended the count.
type chunkCount struct {
	n   uint64
	err error
}

// storage lists where a dataset's data is stored. On an error the listing
// holds the chunks read before it. With stream the chunks are counted,
// not kept (DatasetStorage.walk reads them again), and an index counted
// already (counts, by object header address) is not read again here.
func storage(ctx context.Context, f *hdf5meta.File, ds *hdf5meta.Dataset, lim limits.Limits, stream bool, counts map[uint64]chunkCount) (*DatasetStorage, error) {
	st := &DatasetStorage{Layout: ds.Layout.Class.String()}
	switch ds.Layout.Class {
	case hdf5meta.LayoutContiguous:
		size := uint64(0)
		if ds.Layout.Address != hdf5meta.UndefinedAddress {
			a := f.AbsOffset(ds.Layout.Address)
			st.Addr = &a
			size = ds.Layout.Size
		}
		st.Size = &size
	case hdf5meta.LayoutCompact:
		size := uint64(len(ds.Layout.CompactData))
		st.Size = &size
	case hdf5meta.LayoutChunked:
		st.ChunkList = []ChunkInfo{}
		lim := lim.WithDefaults()
		info := func(c hdf5meta.Chunk) ChunkInfo {
			return ChunkInfo{Offset: c.Offset, Addr: f.AbsOffset(c.Addr), Size: c.Size, FilterMask: c.FilterMask}
		}
		n := uint64(0)
		var err error
		if c, ok := counts[ds.Addr]; ok && stream {
			// describe counted this index: the count checked as
			// the walk below checks it, chunk by chunk.
			n, err = c.n, c.err
			if lerr := limits.Check(limits.ChunksPerVariable, n, lim.ChunksPerVariable); lerr != nil {
				return st, lerr
			}
		} else {
			err = ds.ForEachChunk(func(c hdf5meta.Chunk) error {
				n++
				if err := limits.Check(limits.ChunksPerVariable, n, lim.ChunksPerVariable); err != nil {
					return err
				}
				if n%4096 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				if !stream {
					st.ChunkList = append(st.ChunkList, info(c))
				}
				return nil
			})
		}
		if stream && (err == nil || isFileFinding(err)) {
			// A file finding comes from the index, not from fn: the n
			// chunks before it were all listed.
			st.numChunks = int(n)
			st.walk = func(fn func(ChunkInfo) error) error {
				return ds.ForEachChunk(func(c hdf5meta.Chunk) error { return fn(info(c)) })
			}
		}
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

func check(rep *Report, v *netcdf4.Var, info *Variable, chunkBytes uint64, opts Options) {
	ds := v.Dataset
	key := v.Key()
	for _, flt := range ds.Filters {
		if !zarrCodecFilters[flt.ID] {
			rep.Errors = append(rep.Errors, Finding{Variable: key, Code: "unsupported_filter",
				Message: fmt.Sprintf("filter %d (%s) has no Zarr codec: the chunks cannot be decoded by Zarr readers", flt.ID, nameOr(flt.Name, "unknown"))})
		}
	}
	if why := kerchunk.UnusableType(ds.Type); why != "" {
		rep.Warnings = append(rep.Warnings, Finding{Variable: key, Code: "skipped_variable",
			Message: why + ": references leave the variable out (listed as skipped; strict mode refuses the file)"})
	}
	if t := ds.Type; t.Class == hdf5meta.ClassFloat && !t.IsIEEEFloat() {
		if size, err := t.FloatTarget(); err == nil {
			rep.Warnings = append(rep.Warnings, Finding{Variable: key, Code: "non_ieee_float",
				Message: fmt.Sprintf("%d-byte floats with %d exponent and %d mantissa bits (bias %d) are not IEEE 754, which no Zarr reader decodes: references hold them decoded to float%d and inlined, up to the --inline-var-max limit (larger variables are unsupported)",
					t.Size, t.ExpSize, t.MantSize, t.ExpBias, 8*size)})
		}
	}
	if ds.Type.HasVarLen() && !v.IsCoord && len(ds.Space.Dims) > 0 {
		rep.Warnings = append(rep.Warnings, Finding{Variable: key, Code: "vlen_data",
			Message: "variable-length data lives in the HDF5 global heap, not in chunks: it must be embedded in the reference"})
	}
	var packed []string
	for _, a := range v.Attrs {
		if isPackingAttr(a.Name) && a.Type.Class == hdf5meta.ClassFloat && a.Type.Size == 4 {
			packed = append(packed, a.Name)
		}
	}
	addPackedFloat32(rep, key, packed)
	total := ds.Space.NumElements() * uint64(ds.Type.Size)
	if ds.Layout.Class == hdf5meta.LayoutContiguous && total > opts.ContiguousMaxBytes {
		rep.Warnings = append(rep.Warnings, Finding{Variable: key, Code: "large_contiguous",
			Message: fmt.Sprintf("contiguous variable of %s: every read fetches it as one %s chunk", human(total), human(total))})
	}
	if ds.Layout.Class != hdf5meta.LayoutChunked || info.NumChunks == 0 {
		return
	}
	if chunkBytes < opts.TinyChunkBytes && info.NumChunks > 1 {
		rep.Warnings = append(rep.Warnings, Finding{Variable: key, Code: "tiny_chunks",
			Message: fmt.Sprintf("chunks of %s (%d chunks): reading a map takes many small requests", human(chunkBytes), info.NumChunks)})
	}
	if chunkBytes > opts.HugeChunkBytes {
		rep.Warnings = append(rep.Warnings, Finding{Variable: key, Code: "huge_chunks",
			Message: fmt.Sprintf("chunks of %s: each read holds a whole chunk in memory", human(chunkBytes))})
	}
	// Time-series chunking: many time steps per chunk while a chunk covers
	// only part of the map means one map tile reads many steps.
	for i, d := range v.Dims {
		if !isTimeDim(d.Name) || i >= len(ds.Layout.ChunkDims) {
			continue
		}
		steps := ds.Layout.ChunkDims[i]
		if steps > opts.TimeSeriesChunkSteps && d.Size > 1 {
			rep.Warnings = append(rep.Warnings, Finding{Variable: key, Code: "time_series_chunking",
				Message: fmt.Sprintf("each chunk holds %d steps of %q: a map of one time step reads %d times the data it shows", steps, d.Name, steps)})
		}
	}
}

// isPackingAttr reports the CF packing attributes.
func isPackingAttr(name string) bool { return name == "scale_factor" || name == "add_offset" }

// addPackedFloat32 adds the "packed_float32_attrs" note for a variable
// whose packing attributes (names) are float32: xarray >= 2024 unpacks
// with the attribute's type, and a Zarr attribute is a JSON number, read
// as float64, so the unpacked values are float64 through any Zarr store
// while the file gives float32 (equal within one float32 rounding).
func addPackedFloat32(rep *Report, key string, names []string) {
	if len(names) == 0 {
		return
	}
	verb := "are"
	if len(names) == 1 {
		verb = "is"
	}
	rep.Notes = append(rep.Notes, Finding{Variable: key, Code: "packed_float32_attrs",
		Message: fmt.Sprintf("%s %s float32: through Zarr (JSON attributes) xarray unpacks to float64, not float32 as from the file (values equal within one float32 rounding)", strings.Join(names, " and "), verb)})
}

func isTimeDim(name string) bool {
	n := strings.ToLower(name)
	return n == "time" || n == "t" || strings.HasPrefix(n, "time_") || n == "valid_time" || n == "date"
}

func nameOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func human(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

// finish sets status and recommendation, sorting findings for stable output.
func finish(rep *Report) {
	sortFindings := func(fs []Finding) {
		sort.SliceStable(fs, func(i, j int) bool {
			if fs[i].Variable != fs[j].Variable {
				return fs[i].Variable < fs[j].Variable
			}
			return fs[i].Code < fs[j].Code
		})
	}
	sortFindings(rep.Warnings)
	sortFindings(rep.Errors)
	rep.Warnings = slices.Clip(rep.Warnings)
	switch {
	case len(rep.Errors) > 0:
		rep.Status, rep.Recommendation = StatusError, RecommendNotSuitable
	case len(rep.Warnings) > 0:
		rep.Status, rep.Recommendation = StatusWarning, RecommendWithWarnings
	default:
		rep.Status, rep.Recommendation = StatusSuccess, RecommendSuitable
	}
}
