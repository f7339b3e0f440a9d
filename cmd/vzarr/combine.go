package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path"
	"runtime"
	"strings"

	"github.com/greensight/vzarr/combine"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/limits"
)

func init() {
	register(command{name: "combine",
		synopsis: "combine --concat-dim time -o OUT.json INPUT...   one virtual dataset from many files (Contract 5)",
		run:      runCombine})
}

const combineUsage = `Usage: vzarr combine --concat-dim DIM -o OUT.json [--dataset-id ID] [--identical V1,V2] INPUT...

Concatenates INPUTs along DIM into one kerchunk reference file OUT (a local
path or blob URL, written atomically). An INPUT is a reference file (JSON
from "vzarr ref" or Python kerchunk, version 0 or 1) or a NetCDF/HDF5 file,
referenced on the fly; inputs are concatenated in the order given.

Inputs must agree on variables, dtypes, codecs, chunking and CF packing;
every input but the last must be a whole number of chunks along DIM. CF
times with per-file units or calendars are re-encoded in the first input's.
Errors name the input, the variable and the reason.

Prints Contract 5 on stdout:

  {"success": true, "result": {"dataset_id", "combined_ref_url", "source_files",
   "dimensions", "variables", "time_range", "spatial_extent", "ref_size_bytes"}}

or {"success": false, "error": "...", "error_type": "..."} with exit status 1
(2 for usage errors).

Flags:
`

// combineResult is the "result" of Contract 5.
type combineResult struct {
	DatasetID      string                       `json:"dataset_id"`
	CombinedRefURL string                       `json:"combined_ref_url"`
	SourceFiles    []string                     `json:"source_files"`
	Dimensions     map[string]uint64            `json:"dimensions"`
	Variables      map[string]*kerchunk.VarInfo `json:"variables"`
	TimeRange      []string                     `json:"time_range"`
	SpatialExtent  []float64                    `json:"spatial_extent"`
	RefSizeBytes   int64                        `json:"ref_size_bytes"`
	Warnings       []string                     `json:"warnings,omitempty"`
}

type combineOutput struct {
	Success bool           `json:"success"`
	Result  *combineResult `json:"result"`
}

func runCombine(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("combine", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dim := fs.String("concat-dim", "time", "dimension to concatenate along")
	out := fs.String("o", "", "output reference file (local path or blob URL); a directory with --format parquet")
	id := fs.String("dataset-id", "", "dataset id (default: the output's base name without extension)")
	identical := fs.String("identical", "", "comma-separated variables without DIM that must hold the same values in every input")
	format := fs.String("format", "json", "output format: json, or parquet (fsspec's LazyReferenceMapper directory, for very large sets)")
	noTempl := fs.Bool("no-templates", false, "write every chunk URL in full (no URL templates)")
	parallel := fs.Int("j", runtime.GOMAXPROCS(0), "inputs read or translated at once")
	verbose := fs.Bool("verbose", false, "debug logs on stderr")
	limitFlags := addLimitFlags(fs)
	help, err := parseFlags(fs, args, combineUsage, stderr)
	if help {
		return 0
	}
	var lim limits.Limits
	if err == nil {
		lim, err = limitFlags.limits()
	}
	if err == nil {
		switch {
		case *out == "":
			err = usagef("combine needs -o OUT.json")
		case fs.NArg() == 0:
			err = usagef("combine needs at least one INPUT")
		case *dim == "":
			err = usagef("--concat-dim must not be empty")
		case *format != "json" && *format != "parquet":
			err = usagef("--format must be json or parquet, not %q", *format)
		}
		if err != nil {
			fs.Usage()
		}
	}
	if err != nil {
		_ = writeJSON(stdout, failure{Success: false, Error: err.Error(), ErrorType: "usage_error"})
		return 2
	}

	// Warnings are in the result; stderr gets errors, or everything
	// with --verbose.
	level := slog.LevelError
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	opener := newOpener()
	if *verbose {
		opener.Logger = logger
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	sources := make([]combine.Source, fs.NArg())
	for i, in := range fs.Args() {
		u := in
		if l := localURL(in); l != "" {
			u = l
		}
		sources[i] = &combine.URLSource{URL: u, Opener: opener, Translate: kerchunk.Options{Name: in, Limits: lim}}
	}
	var ids []string
	for _, v := range strings.Split(*identical, ",") {
		if v = strings.TrimSpace(v); v != "" {
			ids = append(ids, v)
		}
	}
	res, err := combine.Combine(ctx, sources, combine.Options{ConcatDim: *dim, Identical: ids,
		Opener: opener, Parallel: *parallel, Logger: logger, Limits: lim})
	if err != nil {
		return failCombine(stdout, err)
	}
	refURL := *out
	if l := localURL(*out); l != "" {
		refURL = l
	}
	var n int64
	if *format == "parquet" {
		n, err = writeParquetSet(ctx, opener, refURL, res.Refs)
	} else {
		err = opener.WriteAtomic(ctx, refURL, func(w io.Writer) error {
			cw := &countingWriter{w: w}
			err := kerchunk.WriteJSON(cw, res.Refs, &kerchunk.WriteOptions{NoTemplates: *noTempl})
			n = cw.n
			return err
		})
	}
	if err != nil {
		return failCombine(stdout, fmt.Errorf("writing %s: %w", *out, err))
	}
	datasetID := *id
	if datasetID == "" {
		base := path.Base(strings.ReplaceAll(refURL, "\\", "/"))
		datasetID = strings.TrimSuffix(base, path.Ext(base))
	}
	cr := &combineResult{DatasetID: datasetID, CombinedRefURL: refURL, SourceFiles: res.SourceFiles,
		Dimensions: res.Dimensions, Variables: res.Variables, TimeRange: res.TimeRange,
		SpatialExtent: res.SpatialExtent, RefSizeBytes: n, Warnings: res.Warnings}
	// As the pipeline's combine stage: empty lists, not null, when the
	// dataset has no time coordinate or no latitude/longitude.
	if cr.TimeRange == nil {
		cr.TimeRange = []string{}
	}
	if cr.SpatialExtent == nil {
		cr.SpatialExtent = []float64{}
	}
	if err := writeJSON(stdout, combineOutput{Success: true, Result: cr}); err != nil {
		return 1
	}
	return 0
}

// failCombine prints the structured error; incompatible inputs get their
// own error_type.
func failCombine(stdout io.Writer, err error) int {
	t := errorType(err)
	switch {
	case errors.Is(err, limits.ErrExceeded):
	case errors.Is(err, combine.ErrIncompatible):
		t = "incompatible_inputs"
	case errors.Is(err, combine.ErrInvalid):
		t = "usage_error"
	case errors.Is(err, kerchunk.ErrBadRefs):
		t = "format_error"
	case errors.Is(err, kerchunk.ErrNotNetCDF):
		t = "not_netcdf"
	case errors.Is(err, kerchunk.ErrUnsupported):
		t = "unsupported_feature"
	}
	_ = writeJSON(stdout, failure{Success: false, Error: err.Error(), ErrorType: t})
	return 1
}
