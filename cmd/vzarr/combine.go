package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"path"
	"runtime"
	"strings"

	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/pipeline"
	"github.com/greensight/vzarr/refstore"
)

func init() {
	register(command{name: "combine",
		synopsis: "combine [flags] --concat-dim DIM -o OUT INPUT...  |  combine --format icechunk [--append] [--tag NAME] -o REPO INPUT...",
		summary:  "one virtual dataset from many files or reference sets (Contract 5)",
		help: `Concatenates INPUTs along DIM into one kerchunk reference set OUT (a local
path or blob URL, written atomically): a JSON file, or with --format parquet
(or an OUT ending in .parq or .parquet) a Parquet set. An INPUT is a
reference set (JSON from "vzarr ref" or Python kerchunk, version 0 or 1, or
a Parquet set) or a NetCDF/HDF5 file, referenced on the fly; inputs are
concatenated in the order given. This is the pipeline's combine stage.

Inputs must agree on variables, dtypes, codecs, chunking and CF packing;
every input but the last must be a whole number of chunks along DIM. CF
times with per-file units or calendars are re-encoded in the first input's.
Errors name the input, the variable and the reason.

With --format icechunk, OUT is a new local Icechunk repository and the
combined dataset is its first commit on main (--message, --tag). With
--append, OUT is an existing repository and the INPUTs are appended along
DIM as one new commit on main: the repository's current arrays are the
first input of the combine (the same checks, CF times re-encoded in the
repository's units and calendar), the new files' chunks land after the
existing ones, and only what changed is written; earlier commits stay
readable (vzarr verify --snapshot, --tag).

The result is Contract 5's: {"dataset_id", "combined_ref_url",
"source_files", "dimensions", "variables", "time_range", "spatial_extent",
"ref_size_bytes"}; with icechunk also "snapshot_id" and "tag".`,
		example: `vzarr combine --concat-dim time -o refs/combined.json refs/tas_2020.json refs/tas_2021.json
vzarr combine --format parquet -o abfs://silver/refs/era5.parq abfs://bronze/era5/tas_2020.nc abfs://bronze/era5/tas_2021.nc
vzarr combine --format icechunk --tag v1 -o repos/tas data/tas_2015.nc data/tas_2016.nc
vzarr combine --format icechunk --append --tag v2 --message "2017" -o repos/tas data/tas_2017.nc`,
		run: runCombine})
}

func runCombine(args []string, stdout, stderr io.Writer) int {
	f := newFlags("combine", stderr)
	var p pipeline.CombineParams
	var out, format, identical string
	f.StringVar(&p.ConcatDim, "concat-dim", "time", "dimension to concatenate along")
	f.output(&out, "the combined reference file or Parquet set (local path or blob URL)")
	f.StringVar(&p.DatasetID, "dataset-id", "", "dataset id (default: the output's base name without extension)")
	f.StringVar(&identical, "identical", "", "comma-separated variables without DIM that must hold the same values in every input")
	f.StringVar(&format, "format", "", "output format: json, parquet or icechunk (a local Icechunk repository) (default: parquet for an OUT ending in .parq or .parquet, else json)")
	var ice icechunkFlags
	f.BoolVar(&ice.append, "append", false, "with --format icechunk: append the INPUTs to the existing repository OUT as a new commit")
	ice.register(f)
	noTempl := f.Bool("no-templates", false, "write every chunk URL in full (no URL templates)")
	parallel := f.Int("j", runtime.GOMAXPROCS(0), "inputs read or translated at once")
	lim := f.addLimits()
	help, err := f.parse(args)
	if help {
		return 0
	}
	deps := pipeline.Deps{CombineParallel: *parallel, Limits: *lim}
	if err == nil {
		p.RefFormat, err = refstore.ParseFormat(format)
	}
	if err == nil {
		switch {
		case out == "":
			err = usagef("combine needs -o OUT")
		case f.NArg() == 0:
			err = usagef("combine needs at least one INPUT")
		case p.ConcatDim == "":
			err = usagef("--concat-dim must not be empty")
		default:
			err = ice.check(p.RefFormat)
		}
	}
	if err != nil {
		return f.usageFail(stdout, err)
	}
	deps.Opener, deps.Logger = f.opener(), f.logger()
	deps.RefWrite = &kerchunk.WriteOptions{NoTemplates: *noTempl}
	p.CombinedRefURL = absURL(out)
	for _, in := range f.Args() {
		p.RefURLs = append(p.RefURLs, absURL(in)) // reference sets or source files alike
	}
	for _, v := range strings.Split(identical, ",") {
		if v = strings.TrimSpace(v); v != "" {
			p.Identical = append(p.Identical, v)
		}
	}
	if p.DatasetID == "" {
		base := path.Base(strings.ReplaceAll(strings.TrimRight(p.CombinedRefURL, "/"), "\\", "/"))
		p.DatasetID = strings.TrimSuffix(base, path.Ext(base))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if p.RefFormat == refstore.Icechunk {
		res, err := combineIcechunk(ctx, &deps, p, ice)
		if err != nil {
			return fail(stdout, err)
		}
		return success(stdout, res)
	}
	res, err := pipeline.CombineRefs(ctx, &deps, p)
	if err != nil {
		return fail(stdout, err)
	}
	return success(stdout, res)
}
