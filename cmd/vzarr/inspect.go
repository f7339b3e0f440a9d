package main

import (
	"context"
	"io"
	"os"
	"os/signal"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/pipeline"
	"github.com/greensight/vzarr/validate"
)

func init() {
	register(command{name: "inspect",
		synopsis: "inspect [flags] [--chunks] [--fail-on-warnings] URL",
		summary:  "the chunking validation report of a NetCDF/HDF5 file or blob (Contract 3)",
		help: `Reads the headers of URL (a local path or blob URL) and reports its
dimensions, variables, chunking and warnings (Contract 3's result: "status"
is success, warning or error). The exit status is 1 when the status is
error, or with --fail-on-warnings when there are warnings.`,
		example: `vzarr inspect data/tas_2020.nc
vzarr inspect --chunks --fail-on-warnings abfs://bronze/era5/tas_2020.nc`,
		run: runInspect})
}

func runInspect(args []string, stdout, stderr io.Writer) int {
	f := newFlags("inspect", stderr)
	fs := f.FlagSet
	opts := validate.DefaultOptions()
	fs.BoolVar(&opts.Chunks, "chunks", false, "list every dataset's storage (chunk offsets, addresses, sizes); the listing is a property of the file: the command then exits 0 whatever the report's errors")
	failOnWarnings := fs.Bool("fail-on-warnings", false, "exit with status 1 when the report has warnings")
	fs.Uint64Var(&opts.ContiguousMaxBytes, "contiguous-max-bytes", opts.ContiguousMaxBytes, "warn about contiguous variables larger than this")
	fs.Uint64Var(&opts.TinyChunkBytes, "tiny-chunk-bytes", opts.TinyChunkBytes, "warn when chunks are smaller than this (uncompressed)")
	fs.Uint64Var(&opts.HugeChunkBytes, "huge-chunk-bytes", opts.HugeChunkBytes, "warn when chunks are larger than this (uncompressed)")
	fs.Uint64Var(&opts.TimeSeriesChunkSteps, "time-series-chunk-steps", opts.TimeSeriesChunkSteps, "warn when a chunk holds more time steps than this")
	lim := f.addLimits()
	help, err := f.parse(args)
	if help {
		return 0
	}
	opts.Limits = *lim
	opts.StreamChunks = opts.Chunks // written by writeReportLine
	if err == nil && fs.NArg() != 1 {
		err = usagef("inspect wants one URL, got %d arguments", fs.NArg())
	}
	if err != nil {
		return f.usageFail(stdout, err)
	}
	src := fs.Arg(0)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	obj, err := f.opener().OpenObject(ctx, src, blobio.MetadataReaderOptions(0)...)
	if err != nil {
		return fail(stdout, err)
	}
	defer obj.Close()
	rep, err := validate.Inspect(ctx, obj.Reader, obj.Size(), src, opts)
	if err != nil {
		return fail(stdout, err)
	}
	// Chunk lists can hold millions of entries: keep those on one line,
	// written as they are encoded.
	if opts.Chunks {
		err = writeReportLine(stdout, rep)
	} else {
		err = writeJSON(stdout, pipeline.OK(rep))
	}
	if err != nil {
		return fail(stdout, err)
	}
	// With --chunks the listing is what was asked for: the report's
	// errors (filters without a Zarr codec, ...) are in it, not in the
	// exit status.
	if (rep.Status == validate.StatusError && !opts.Chunks) || (*failOnWarnings && len(rep.Warnings) > 0) {
		return 1
	}
	return 0
}
