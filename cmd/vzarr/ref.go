package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/greensight/vzarr/icechunk"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/pipeline"
	"github.com/greensight/vzarr/refstore"
)

func init() {
	register(command{name: "ref",
		synopsis: "ref [flags] -o OUT SRC...",
		summary:  "write the kerchunk references of NetCDF/HDF5 files (JSON or Parquet; Contract 4)",
		help: `Translates SRC (a local path or blob URL) into kerchunk references and
writes them, atomically, to OUT: a JSON file, or with --format parquet (or
an OUT ending in .parq or .parquet) a Parquet set, fsspec's
LazyReferenceMapper folder, or with --format icechunk a new local Icechunk
repository whose one commit on main (--message, --tag) holds the chunks as
virtual references to SRC (the result gives its snapshot_id and tag). With several SRCs, OUT is a folder that gets
<source name>.json (or .parquet) for each, one result line each, in the
order given; the exit status is 1 if any failed.`,
		example: `vzarr ref data/tas_2020.nc -o refs/tas_2020.json
vzarr ref --format parquet abfs://bronze/era5/tas_2020.nc -o abfs://silver/refs/tas_2020.parq
vzarr ref --format icechunk --message "tas 2020" --tag v1 data/tas_2020.nc -o repos/tas_2020
vzarr ref -o refs/ data/*.nc`,
		run: runRef})
}

// refOptions are the settings of one vzarr ref.
type refOptions struct {
	deps     pipeline.Deps
	format   refstore.Format
	ice      icechunkFlags
	parallel int
}

func runRef(args []string, stdout, stderr io.Writer) int {
	f := newFlags("ref", stderr)
	var out, outDir, format string
	var o refOptions
	trans := &o.deps.Translate
	f.output(&out, "the reference file or Parquet set (local path or blob URL); with several SRCs, a folder")
	f.StringVar(&outDir, "out-dir", "", "a folder for the references of the SRCs, even one")
	f.hidden["out-dir"] = true
	f.IntVar(&trans.InlineThreshold, "inline-threshold", kerchunk.DefaultInlineThreshold, "inline chunks stored in fewer bytes than this")
	f.Int64Var(&trans.InlineVarMax, "inline-var-max", kerchunk.DefaultInlineVarMax, "decode and inline variables whose filters have no Zarr codec up to this many bytes")
	f.BoolVar(&trans.SkipUnsupported, "skip-unsupported", false, "omit variables that cannot be translated (listed in the result) instead of failing")
	f.BoolVar(&trans.Strict, "strict", false, "fail on variables no Zarr reader can use (region references...) instead of omitting them (listed in the result)")
	f.StringVar(&format, "format", "", "output format: json, parquet or icechunk (a new local Icechunk repository, one commit on main) (default: parquet for an OUT ending in .parq or .parquet, else json)")
	o.ice.register(f)
	noTempl := f.Bool("no-templates", false, "write every chunk URL in full (no URL templates)")
	f.IntVar(&o.parallel, "j", 0, fmt.Sprintf("with several SRCs: sources translated at once (default %d for local sources, %d for blob storage, as vzarr run)",
		pipeline.LocalWorkers(), pipeline.RemoteWorkers()))
	budget := f.String("memory-budget", "", "with several SRCs: memory the translations hold at once, e.g. 2GiB (default: none for local sources, 1GiB for blob storage; 0: none)")
	lim := f.addLimits()
	help, err := f.parse(args)
	if help {
		return 0
	}
	trans.Limits = *lim
	if err == nil {
		o.format, err = refstore.ParseFormat(format)
	}
	if err == nil {
		switch {
		case outDir != "" && out != "":
			err = usagef("give -o/--out or --out-dir, not both")
		case outDir == "" && out == "":
			err = usagef("ref needs -o OUT")
		case f.NArg() == 0:
			err = usagef("ref needs a SRC")
		case trans.Strict && trans.SkipUnsupported:
			err = usagef("give --strict or --skip-unsupported, not both")
		default:
			err = o.ice.check(o.format)
		}
	}
	if err != nil {
		return f.usageFail(stdout, err)
	}
	if trans.InlineThreshold <= 0 {
		trans.InlineThreshold = -1
	}
	o.deps.Opener = f.opener()
	o.deps.Logger = f.logger()
	remote := false
	for _, src := range f.Args() {
		if loc, err := o.deps.Opener.Parse(src); err == nil && !loc.IsLocal() {
			remote = true
		}
	}
	defWorkers, memBudget := pipeline.Concurrency(remote)
	if o.parallel <= 0 {
		o.parallel = defWorkers
	}
	if *budget != "" {
		if memBudget, err = pipeline.ParseBytes(*budget); err != nil {
			return f.usageFail(stdout, usagef("--memory-budget: %v", err))
		}
	}
	o.deps.MemoryBudget = memBudget
	o.deps.Limits = trans.Limits
	o.deps.RefWrite = &kerchunk.WriteOptions{NoTemplates: *noTempl}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if outDir == "" && (f.NArg() > 1 || strings.HasSuffix(out, "/")) {
		outDir = out
	}
	if outDir != "" {
		return refMany(ctx, f.Args(), outDir, &o, stdout)
	}
	res, err := refOne(ctx, f.Arg(0), out, o.format, &o)
	if err != nil {
		return fail(stdout, err)
	}
	return success(stdout, res)
}

// refMany translates many sources, in parallel, printing one JSON line per
// source in the order given. The exit code is 1 if any failed.
func refMany(ctx context.Context, srcs []string, dir string, o *refOptions, stdout io.Writer) int {
	type outcome struct {
		res *refResult
		err error
	}
	results := make([]chan outcome, len(srcs))
	for i := range results {
		results[i] = make(chan outcome, 1)
	}
	sem := make(chan struct{}, max(o.parallel, 1))
	var wg sync.WaitGroup
	ext := ".json"
	switch o.format {
	case refstore.Parquet:
		ext = ".parquet" // a folder
	case refstore.Icechunk:
		ext = ".icechunk" // a folder
	}
	for i, src := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res, err := refOne(ctx, src, joinURL(dir, baseName(src)+ext), o.format, o)
			results[i] <- outcome{res, err}
		}()
	}
	code := 0
	for i := range srcs {
		oc := <-results[i]
		if oc.err != nil {
			code = 1
			_ = encodeJSON(stdout, failureLine{Envelope: failure(oc.err), NCURL: srcs[i]}, false)
			continue
		}
		_ = encodeJSON(stdout, pipeline.OK(oc.res), false)
	}
	wg.Wait()
	return code
}

// failureLine is the failure envelope of one of several sources.
type failureLine struct {
	pipeline.Envelope
	NCURL string `json:"nc_url"`
}

func baseName(src string) string {
	s := strings.TrimRight(src, "/")
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	return path.Base(filepath.ToSlash(s))
}

func joinURL(dir, name string) string {
	if strings.Contains(dir, "://") {
		return strings.TrimRight(dir, "/") + "/" + name
	}
	return filepath.Join(dir, name)
}

// localURL returns the absolute path of a local source, or "" for a URL
// with a remote scheme.
func localURL(src string) string {
	if strings.HasPrefix(src, "file://") {
		return strings.TrimPrefix(src, "file://")
	}
	if strings.Contains(src, "://") {
		return ""
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return src
	}
	return abs
}

// absURL is localURL(u), or u itself for a remote URL.
func absURL(u string) string {
	if l := localURL(u); l != "" {
		return l
	}
	return u
}

// refResult is the ref stage's result, with the tag --tag created.
type refResult struct {
	*pipeline.RefResult
	Tag string `json:"tag,omitempty"`
}

// refOne runs the ref stage (pipeline.GenerateRef) on src, writing to out,
// and creates the --tag on the snapshot an Icechunk output committed.
func refOne(ctx context.Context, src, out string, format refstore.Format, o *refOptions) (*refResult, error) {
	res, err := pipeline.GenerateRef(ctx, &o.deps, pipeline.RefParams{NCURL: absURL(src), RefURL: absURL(out), RefFormat: format, Message: o.ice.message})
	if err != nil || o.ice.tag == "" {
		return &refResult{RefResult: res}, err
	}
	id, err := icechunk.ParseObjectID(res.SnapshotID)
	if err == nil {
		store := &refstore.Store{Opener: o.deps.Opener, Limits: o.deps.Limits}
		err = store.TagIcechunk(ctx, res.RefURL, o.ice.tag, id)
	}
	if err != nil {
		return nil, fmt.Errorf("ref %s: %w", src, err)
	}
	return &refResult{RefResult: res, Tag: o.ice.tag}, nil
}
