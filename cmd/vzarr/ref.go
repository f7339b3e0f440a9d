package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/kerchunk/codecs"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/netcdf3"
)

func init() {
	register(command{name: "ref",
		synopsis: "ref SRC -o OUT.json | ref --out-dir DIR SRC...   write kerchunk references (JSON or Parquet)",
		run:      runRef})
}

// refResult is the "result" of Contract 4.
type refResult struct {
	NCURL        string                       `json:"nc_url"`
	RefURL       string                       `json:"ref_url"`
	Format       string                       `json:"format"`
	Dimensions   map[string]uint64            `json:"dimensions"`
	Variables    map[string]*kerchunk.VarInfo `json:"variables"`
	RefSizeBytes int64                        `json:"ref_size_bytes"`
	Skipped      []kerchunk.Skipped           `json:"skipped,omitempty"`
	Warnings     []string                     `json:"warnings,omitempty"`
}

type refSuccess struct {
	Success bool       `json:"success"`
	Result  *refResult `json:"result"`
}

type refOptions struct {
	trans    kerchunk.Options
	format   string
	noTempl  bool
	opener   *blobio.Opener
	parallel int
}

func runRef(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ref", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output reference file (local path or blob URL); a directory with --format parquet")
	outDir := fs.String("out-dir", "", "write DIR/<source file name>.json for each SRC (one result line each)")
	var o refOptions
	fs.IntVar(&o.trans.InlineThreshold, "inline-threshold", kerchunk.DefaultInlineThreshold, "inline chunks stored in fewer bytes than this")
	fs.Int64Var(&o.trans.InlineVarMax, "inline-var-max", kerchunk.DefaultInlineVarMax, "decode and inline variables whose filters have no Zarr codec up to this many bytes")
	fs.BoolVar(&o.trans.SkipUnsupported, "skip-unsupported", false, "omit variables that cannot be translated (listed in the result) instead of failing")
	fs.StringVar(&o.format, "format", "json", "output format: json or parquet")
	fs.BoolVar(&o.noTempl, "no-templates", false, "write every chunk URL in full (no URL templates)")
	fs.IntVar(&o.parallel, "j", runtime.GOMAXPROCS(0), "with --out-dir: sources translated at once")
	storageFlags(fs)
	limitFlags := addLimitFlags(fs)
	if err := fs.Parse(interleaved(fs, args)); err != nil {
		return 2
	}
	var err error
	if o.trans.Limits, err = limitFlags.limits(); err != nil {
		return fail(stdout, err)
	}
	if o.format != "json" && o.format != "parquet" {
		return fail(stdout, usagef("--format must be json or parquet, not %q", o.format))
	}
	if o.trans.InlineThreshold <= 0 {
		o.trans.InlineThreshold = -1
	}
	o.opener = newOpener()
	ctx := context.Background()
	if *outDir != "" {
		if *out != "" || fs.NArg() == 0 {
			fs.Usage()
			return 2
		}
		return refMany(ctx, fs.Args(), *outDir, &o, stdout)
	}
	if fs.NArg() != 1 || *out == "" {
		fs.Usage()
		return 2
	}
	res, err := refOne(ctx, fs.Arg(0), *out, &o)
	if err != nil {
		return failRef(stdout, err)
	}
	if err := writeJSON(stdout, refSuccess{Success: true, Result: res}); err != nil {
		return fail(stdout, err)
	}
	return 0
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
	if o.format == "parquet" {
		ext = ".parquet" // a directory
	}
	for i, src := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res, err := refOne(ctx, src, joinURL(dir, baseName(src)+ext), o)
			results[i] <- outcome{res, err}
		}()
	}
	code := 0
	for i := range srcs {
		oc := <-results[i]
		if oc.err != nil {
			code = 1
			_ = encodeJSON(stdout, failureLine{Success: false, NCURL: srcs[i], Error: oc.err.Error(), ErrorType: refErrorType(oc.err)}, false)
			continue
		}
		_ = encodeJSON(stdout, refSuccess{Success: true, Result: oc.res}, false)
	}
	wg.Wait()
	return code
}

type failureLine struct {
	Success   bool   `json:"success"`
	NCURL     string `json:"nc_url"`
	Error     string `json:"error"`
	ErrorType string `json:"error_type"`
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

// refOne translates src and writes its references to out.
func refOne(ctx context.Context, src, out string, o *refOptions) (*refResult, error) {
	ncURL := src
	if l := localURL(src); l != "" {
		ncURL = l
	}
	obj, err := o.opener.OpenObject(ctx, ncURL, hdf5meta.DefaultReaderOptions()...)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	opts := o.trans
	opts.Name = src
	res, err := kerchunk.Translate(ctx, obj.Reader, obj.Size(), obj.RefURL, opts)
	if err != nil {
		return nil, err
	}
	refURL := out
	if l := localURL(out); l != "" {
		refURL = l
	}
	var n int64
	if o.format == "parquet" {
		n, err = writeParquetSet(ctx, o.opener, refURL, res.Refs)
	} else {
		err = o.opener.WriteAtomic(ctx, refURL, func(w io.Writer) error {
			cw := &countingWriter{w: w}
			err := kerchunk.WriteJSON(cw, res.Refs, &kerchunk.WriteOptions{NoTemplates: o.noTempl})
			n = cw.n
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", out, err)
	}
	return &refResult{NCURL: ncURL, RefURL: refURL, Format: res.Format, Dimensions: res.Dimensions,
		Variables: res.Variables, RefSizeBytes: n, Skipped: res.Skipped, Warnings: res.Warnings}, nil
}

// writeParquetSet writes a Parquet reference set into the directory (or
// blob prefix) dst and returns its total size. A local set is built in a
// temporary sibling directory and renamed into place, replacing an older
// set only once the new one is complete; on blob storage each file is
// written atomically, .zmetadata last.
func writeParquetSet(ctx context.Context, opener *blobio.Opener, dst string, refs *kerchunk.Refs) (int64, error) {
	var total int64
	if strings.Contains(dst, "://") && !strings.HasPrefix(dst, "file://") {
		err := kerchunk.WriteParquetSet(refs, func(name string, data []byte) error {
			total += int64(len(data))
			return opener.WriteAtomic(ctx, strings.TrimRight(dst, "/")+"/"+name, func(w io.Writer) error {
				_, err := w.Write(data)
				return err
			})
		}, nil)
		return total, err
	}
	dst = filepath.Clean(strings.TrimPrefix(dst, "file://"))
	parent := filepath.Dir(dst)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dst)+".tmp-")
	if err != nil {
		return 0, err
	}
	done := false
	defer func() {
		if !done {
			_ = os.RemoveAll(tmp)
		}
	}()
	err = kerchunk.WriteParquetSet(refs, func(name string, data []byte) error {
		p := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		total += int64(len(data))
		return os.WriteFile(p, data, 0o644)
	}, nil)
	if err != nil {
		return 0, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return 0, err
	}
	old := ""
	if _, err := os.Stat(dst); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dst, old); err != nil {
			return 0, err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		if old != "" {
			_ = os.Rename(old, dst)
		}
		return 0, err
	}
	done = true
	if old != "" {
		_ = os.RemoveAll(old)
	}
	return total, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// refErrorType classifies translation errors for the JSON result, then
// falls back on errorType.
func refErrorType(err error) string {
	var ve *kerchunk.VarError
	switch {
	case errors.Is(err, limits.ErrExceeded):
		return "limit_exceeded"
	case errors.Is(err, netcdf3.ErrTruncated) || errors.Is(err, hdf5meta.ErrTruncated):
		return "truncated_file"
	case errors.Is(err, kerchunk.ErrNotNetCDF):
		return "not_netcdf"
	case errors.Is(err, netcdf3.ErrFormat) || errors.Is(err, kerchunk.ErrBadRefs) || errors.Is(err, codecs.ErrCorrupt):
		return "format_error"
	case errors.As(err, &ve) && errors.Is(err, kerchunk.ErrUnsupported),
		errors.Is(err, kerchunk.ErrUnsupported), errors.Is(err, netcdf3.ErrUnsupported):
		return "unsupported_feature"
	}
	if t := blobio.ErrorType(err); t != "" && t != "error" {
		return t
	}
	return errorType(err)
}

// failRef prints the structured error with refErrorType.
func failRef(stdout io.Writer, err error) int {
	_ = writeJSON(stdout, failure{Success: false, Error: err.Error(), ErrorType: refErrorType(err)})
	return 1
}
