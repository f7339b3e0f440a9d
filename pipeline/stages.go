package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/combine"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/refstore"
	"github.com/greensight/vzarr/validate"
)

// Stage names, in the order a virtualize job runs them. They are also the
// task types of the job's tasks.
const (
	StageScan     = "scan"
	StageValidate = "validate"
	StageRef      = "ref"
	StageCombine  = "combine"
	StageRegister = "register"
)

// Deps are what the stage handlers work with. The zero value works for
// local files (an Opener from the environment, default options).
type Deps struct {
	// Opener reads sources and writes references; nil means
	// blobio.NewOpenerFromEnv().
	Opener *blobio.Opener
	// Store is the catalog, for the register stage.
	Store catalog.Store
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Translate configures the references (inline threshold, ...).
	Translate kerchunk.Options
	// Validate holds the chunking report's thresholds; the zero value
	// means validate.DefaultOptions().
	Validate *validate.Options
	// RefWrite are the options of the JSON reference files the ref and
	// combine stages write (nil: the defaults, with URL templates).
	RefWrite *kerchunk.WriteOptions
	// CombineParallel bounds the references the combine stage loads at
	// once (0: GOMAXPROCS for local inputs, RemoteCombineParallel when
	// they are in blob storage, where each load waits on round trips).
	CombineParallel int
	// STAC configures the register stage's items.
	STAC STACConfig
	// Metrics, when set, counts the stages' storage traffic.
	Metrics *Metrics
	// Sources, when set, confines the scan stage's source_url to an
	// allow-list (the worker's own check, behind the Submitter's): a job
	// whose params were written by another process still reads only
	// allowed sources.
	Sources *blobio.AllowList

	// Limits bound what hostile files and references may make the stages
	// allocate (see package limits); the zero value means
	// limits.Default(). They apply to Translate too unless it sets its own.
	Limits limits.Limits

	// MemoryBudget bounds, in bytes, the memory the ref tasks of this
	// process hold at once (0: no bound besides the task count). Each
	// GenerateRef reserves its file's estimate (EstimateMemory) once the
	// file's header is read, before reading its chunk indexes, waits until
	// it fits, and gives it back once the references are written. A file
	// estimated above the whole budget waits for the whole budget and
	// runs alone.
	MemoryBudget int64
	// EstimateMemory estimates a translation's memory from its header
	// (nil: kerchunk.EstimateMemory).
	EstimateMemory func(kerchunk.HeaderInfo) int64

	// HeadCacheBytes bounds the blobio.HeadCache of a job's stages
	// (NewDefinition): the validate stage keeps the first read of each
	// source it validated, the ref stage opens the source from it and keeps
	// the reference it writes, and the combine stage reads the reference
	// from it, so that a small file in blob storage costs one GET and one
	// PUT instead of two GETs, a PUT and a GET. A stage in another process,
	// or a head that did not fit or expired, reads storage as without it;
	// local files are not kept. 0: blobio.DefaultHeadCacheBytes; < 0: no
	// cache. Stages called alone (Validate, GenerateRef, ...) keep nothing.
	HeadCacheBytes int64

	budget *memBudget        // created on first use
	heads  *blobio.HeadCache // NewDefinition's; nil: none
}

// translateOptions returns Translate with Limits when it has none.
func (d *Deps) translateOptions() kerchunk.Options {
	o := d.Translate
	if o.Limits == (limits.Limits{}) {
		o.Limits = d.Limits
	}
	return o
}

// opener returns d.Opener, or else one Opener from the environment shared
// by the process. It never writes to d: one Deps serves concurrent stages.
func (d *Deps) opener() *blobio.Opener {
	if d.Opener != nil {
		return d.Opener
	}
	return envOpener()
}

// envOpener is the process's Opener from the environment, made once.
var envOpener = sync.OnceValue(blobio.NewOpenerFromEnv)

func (d *Deps) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

// Metrics counts the storage traffic of the stages: read requests made by
// the readers (each a ranged GET, the first read that opens an object
// included), bytes read, objects opened and objects written. Safe for
// concurrent use.
type Metrics struct {
	ReadRequests  atomic.Int64
	BytesRead     atomic.Int64
	ObjectsOpened atomic.Int64
	ObjectsWriten atomic.Int64
	BytesWritten  atomic.Int64
}

// Requests is the storage requests counted: reads and writes. An open
// costs no request of its own: its first read (MetadataReaderOptions)
// tells the object's size and is counted in ReadRequests.
func (m *Metrics) Requests() int64 {
	return m.ReadRequests.Load() + m.ObjectsWriten.Load()
}

func (m *Metrics) read(obj *blobio.Object) {
	if m == nil || obj == nil {
		return
	}
	st := obj.Stats()
	m.ObjectsOpened.Add(1)
	m.ReadRequests.Add(st.Requests)
	m.BytesRead.Add(st.Bytes)
}

func (m *Metrics) wrote(n int64) {
	if m == nil {
		return
	}
	m.ObjectsWriten.Add(1)
	m.BytesWritten.Add(n)
}

// IsRetryable reports errors that may go away by themselves: storage or a
// catalog database that did not answer, a timeout.
func IsRetryable(err error) bool {
	return errors.Is(err, blobio.ErrUnavailable) || errors.Is(err, catalog.ErrUnavailable) ||
		errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// ScanParams are the scan stage's parameters (Contract 2).
type ScanParams struct {
	SourceURL   string `json:"source_url"`
	FilePattern string `json:"file_pattern,omitempty"`
	Recursive   bool   `json:"recursive,omitempty"`
}

// Scan lists the files of a source (Contract 2): {"nc_files", "files",
// "file_count", "total_size_bytes"}.
func Scan(ctx context.Context, deps *Deps, p ScanParams) (*blobio.ScanResult, error) {
	start := time.Now()
	log := deps.logger().With("stage", StageScan, "source_url", p.SourceURL, "file_pattern", p.FilePattern, "recursive", p.Recursive)
	if strings.TrimSpace(p.SourceURL) == "" {
		return nil, invalidParams("source_url is required")
	}
	if deps.Sources != nil {
		if _, err := deps.Sources.Check(p.SourceURL); err != nil {
			log.ErrorContext(ctx, "pipeline: source refused", "error", err)
			return nil, fmt.Errorf("scan: %w", err)
		}
	}
	res, err := deps.opener().Scan(ctx, p.SourceURL, blobio.ScanOptions{Pattern: p.FilePattern, Recursive: p.Recursive})
	if err != nil {
		log.ErrorContext(ctx, "pipeline: scan failed", "error", err, "duration", time.Since(start))
		return nil, fmt.Errorf("scan %s: %w", p.SourceURL, err)
	}
	log.InfoContext(ctx, "pipeline: scanned", "file_count", res.FileCount, "total_size_bytes", res.TotalSizeBytes,
		"duration", time.Since(start))
	return res, nil
}

// ValidateParams are the validate stage's parameters (Contract 3), one
// file each.
type ValidateParams struct {
	NCURL                  string `json:"nc_url"`
	FailOnChunkingWarnings bool   `json:"fail_on_chunking_warnings,omitempty"`
	// FailOnWarnings is Contract 3's name of FailOnChunkingWarnings; either
	// one set refuses files with warnings.
	FailOnWarnings bool `json:"fail_on_warnings,omitempty"`
	// SizeBytes is the file's size from the scan (for progress reports).
	SizeBytes int64 `json:"size_bytes,omitempty"`
}

// ValidationError is a file the validate stage refuses: its report has
// errors, or warnings while fail_on_chunking_warnings is set.
type ValidationError struct {
	Report *validate.Report
	// Warnings is true when only warnings made it fail.
	Warnings bool
}

// Error summarises the validation report's errors.
func (e *ValidationError) Error() string {
	findings := e.Report.Errors
	what := "not suitable for virtualization"
	if e.Warnings {
		findings = e.Report.Warnings
		what = "has chunking warnings (fail_on_chunking_warnings)"
	}
	msgs := make([]string, 0, len(findings))
	for _, f := range findings {
		m := f.Code + ": " + f.Message
		if f.Variable != "" {
			m = f.Variable + ": " + m
		}
		msgs = append(msgs, m)
	}
	return fmt.Sprintf("%s %s: %s", e.Report.NCURL, what, strings.Join(msgs, "; "))
}

// Validate inspects one file (Contract 3) and returns its chunking report.
// A report with errors, or with warnings when FailOnChunkingWarnings is
// set, is a *ValidationError (error_type "validation_failed").
func Validate(ctx context.Context, deps *Deps, p ValidateParams) (*validate.Report, error) {
	start := time.Now()
	log := deps.logger().With("stage", StageValidate, "nc_url", p.NCURL)
	rep, err := inspect(ctx, deps, p)
	if err != nil {
		log.ErrorContext(ctx, "pipeline: validate failed", "error", err, "duration", time.Since(start))
		return nil, err
	}
	log.InfoContext(ctx, "pipeline: validated", "status", rep.Status, "variables", len(rep.Variables),
		"warnings", len(rep.Warnings), "errors", len(rep.Errors), "duration", time.Since(start))
	if err := refusal(rep, p); err != nil {
		return rep, err
	}
	return rep, nil
}

// refusal is the error of a report that refuses its file: errors, or
// warnings while FailOnChunkingWarnings is set; nil when it passes.
func refusal(rep *validate.Report, p ValidateParams) error {
	if rep.Status == validate.StatusError || len(rep.Errors) > 0 {
		return &StageError{Type: ErrTypeValidation, Err: &ValidationError{Report: rep}}
	}
	if (p.FailOnChunkingWarnings || p.FailOnWarnings) && len(rep.Warnings) > 0 {
		return &StageError{Type: ErrTypeValidation, Err: &ValidationError{Report: rep, Warnings: true}}
	}
	return nil
}

func inspect(ctx context.Context, deps *Deps, p ValidateParams) (*validate.Report, error) {
	if strings.TrimSpace(p.NCURL) == "" {
		return nil, invalidParams("nc_url is required")
	}
	obj, err := deps.opener().OpenObject(ctx, p.NCURL, blobio.MetadataReaderOptions(p.SizeBytes)...)
	if err != nil {
		return nil, fmt.Errorf("validate %s: %w", p.NCURL, err)
	}
	defer obj.Close()
	defer deps.Metrics.read(obj)
	rep, err := inspectObject(ctx, deps, obj, p)
	if err == nil && refusal(rep, p) == nil {
		// The ref stage reads the same bytes: it opens the source from
		// this read (one GET per source, and the version validated is the
		// version referenced).
		deps.heads.Keep(obj)
	}
	return rep, err
}

func inspectObject(ctx context.Context, deps *Deps, obj *blobio.Object, p ValidateParams) (*validate.Report, error) {
	opts := validate.DefaultOptions()
	if deps.Validate != nil {
		opts = *deps.Validate
	}
	opts.Chunks = false
	if opts.Limits == (limits.Limits{}) {
		opts.Limits = deps.Limits
	}
	rep, err := validate.Inspect(ctx, obj.Reader, obj.Size(), p.NCURL, opts)
	if err != nil {
		return nil, fmt.Errorf("validate %s: %w", p.NCURL, err)
	}
	return rep, nil
}

// RefParams are the ref stage's parameters (Contract 4): the source and
// where to write its references.
type RefParams struct {
	NCURL  string `json:"nc_url"`
	RefURL string `json:"ref_url"`
	// SizeBytes is the file's size from the scan (for progress reports).
	SizeBytes int64 `json:"size_bytes,omitempty"`
	// RefFormat is the layout written to RefURL: "json" or "parquet"
	// (default: by RefURL's name, see refstore.FormatOf).
	RefFormat refstore.Format `json:"ref_format,omitempty"`
	// Message is the commit message of an Icechunk RefFormat (default:
	// refstore.DefaultCommitMessage).
	Message string `json:"message,omitempty"`
}

// RefResult is the ref stage's result (Contract 4).
type RefResult struct {
	NCURL  string `json:"nc_url"`
	RefURL string `json:"ref_url"`
	// Format is the source file's format (kerchunk.Result.Format).
	Format       string                       `json:"format,omitempty"`
	Dimensions   map[string]uint64            `json:"dimensions"`
	Variables    map[string]*kerchunk.VarInfo `json:"variables"`
	RefSizeBytes int64                        `json:"ref_size_bytes"`
	Skipped      []kerchunk.Skipped           `json:"skipped,omitempty"`
	Warnings     []string                     `json:"warnings,omitempty"`
	// SnapshotID is the Icechunk snapshot committed (Icechunk RefFormat).
	SnapshotID string `json:"snapshot_id,omitempty"`
}

// GenerateRef translates one source file into kerchunk references and
// writes them, atomically, to p.RefURL (Contract 4).
func GenerateRef(ctx context.Context, deps *Deps, p RefParams) (*RefResult, error) {
	start := time.Now()
	log := deps.logger().With("stage", StageRef, "nc_url", p.NCURL, "ref_url", p.RefURL)
	res, err := generateRef(ctx, deps, p)
	if err != nil {
		log.ErrorContext(ctx, "pipeline: ref failed", "error", err, "duration", time.Since(start))
		return nil, err
	}
	for _, s := range res.Skipped {
		log.WarnContext(ctx, "pipeline: variable left out of the references", "variable", s.Variable, "reason", s.Reason)
	}
	log.InfoContext(ctx, "pipeline: referenced", "variables", len(res.Variables), "ref_size_bytes", res.RefSizeBytes,
		"duration", time.Since(start))
	return res, nil
}

func generateRef(ctx context.Context, deps *Deps, p RefParams) (*RefResult, error) {
	if strings.TrimSpace(p.NCURL) == "" || strings.TrimSpace(p.RefURL) == "" {
		return nil, invalidParams("nc_url and ref_url are required")
	}
	if _, err := refstore.ParseFormat(string(p.RefFormat)); err != nil {
		return nil, invalidParams("ref_format: %v", err)
	}
	o := deps.opener()
	// From the first read the validate stage kept, when this process
	// validated the file (no request for it), else as without the cache.
	obj, err := deps.heads.Open(ctx, o, p.NCURL, blobio.MetadataReaderOptions(p.SizeBytes)...)
	if err != nil {
		return nil, fmt.Errorf("ref %s: %w", p.NCURL, err)
	}
	defer obj.Close()
	defer deps.Metrics.read(obj)
	opts, release := deps.reserveOnHeader(ctx, deps.translateOptions())
	defer release()
	opts.Name = p.NCURL
	opts.OpenSource = siblingOpener(o, p.NCURL, obj.RefURL)
	tr, err := kerchunk.Translate(ctx, obj.Reader, obj.Size(), obj.RefURL, opts)
	if err != nil {
		return nil, fmt.Errorf("ref %s: %w", p.NCURL, err)
	}
	var n int64
	var snap string
	if p.RefFormat == refstore.Icechunk {
		st := &refstore.Store{Opener: o, Limits: deps.Limits}
		var c *refstore.Commit
		if c, err = st.SaveIcechunk(ctx, p.RefURL, tr.Refs, p.Message); err == nil {
			n, snap = c.Bytes, c.SnapshotID.String()
		}
	} else {
		// The combine stage reads the reference back: keep it.
		n, err = deps.saveRefs(ctx, p.RefURL, tr.Refs, p.RefFormat, deps.heads)
	}
	if err != nil {
		return nil, fmt.Errorf("ref %s: writing %s: %w", p.NCURL, p.RefURL, err)
	}
	deps.Metrics.wrote(n)
	return &RefResult{NCURL: p.NCURL, RefURL: p.RefURL, Format: tr.Format, Dimensions: tr.Dimensions, Variables: tr.Variables,
		RefSizeBytes: n, Skipped: tr.Skipped, Warnings: tr.Warnings, SnapshotID: snap}, nil
}

// siblingOpener opens the files a virtual dataset of ncURL reads, which
// kerchunk names by their reference URL in the directory of refURL (or
// below): the same path below ncURL's directory.
func siblingOpener(o *blobio.Opener, ncURL, refURL string) func(context.Context, string) (io.ReaderAt, int64, func(), error) {
	refDir := refURL[:strings.LastIndexByte(refURL, '/')+1]
	ncDir := ncURL[:strings.LastIndexByte(ncURL, '/')+1]
	return func(ctx context.Context, url string) (io.ReaderAt, int64, func(), error) {
		rel, ok := strings.CutPrefix(url, refDir)
		if !ok || refDir == "" {
			return nil, 0, nil, fmt.Errorf("%w: %s", kerchunk.ErrExternalPath, url)
		}
		obj, err := o.OpenObject(ctx, ncDir+rel, blobio.MetadataReaderOptions(0)...)
		if err != nil {
			return nil, 0, nil, err
		}
		return obj.Reader, obj.Size(), func() { obj.Close() }, nil
	}
}

// saveRefs writes references, atomically, in format f (Auto: the URL's,
// see refstore.FormatOf) and returns their size. A JSON file is kept in
// heads (nil: not kept) for a later read in this process.
func (d *Deps) saveRefs(ctx context.Context, url string, refs *kerchunk.Refs, f refstore.Format, heads *blobio.HeadCache) (int64, error) {
	st := &refstore.Store{Opener: d.opener(), Limits: d.Limits, JSON: d.RefWrite, Heads: heads}
	return st.Save(ctx, url, refs, f)
}

// CombineParams are the combine stage's parameters (Contract 5): the
// references to concatenate, in order, and where to write the result.
// The inputs are RefURLs (reference files), or NCURLs (source files,
// translated on the fly; Contract 5's example names them so), not both.
type CombineParams struct {
	DatasetID      string   `json:"dataset_id"`
	RefURLs        []string `json:"ref_urls,omitempty"`
	NCURLs         []string `json:"nc_urls,omitempty"`
	ConcatDim      string   `json:"concat_dim"`
	CombinedRefURL string   `json:"combined_ref_url"`
	// Identical names variables without ConcatDim whose values must match
	// in every input.
	Identical []string `json:"identical,omitempty"`
	// RefFormat is the layout written to CombinedRefURL: "json" or
	// "parquet" (default: by CombinedRefURL's name, see refstore.FormatOf).
	RefFormat refstore.Format `json:"ref_format,omitempty"`
}

// CombineResult is the combine stage's result (Contract 5).
type CombineResult struct {
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

// RemoteCombineParallel is how many references in blob storage the
// combine stage loads at once by default: loading is round trips, not CPU.
const RemoteCombineParallel = 32

// combineParallel is Deps.CombineParallel, or its default for inputs.
func (d *Deps) combineParallel(inputs []string) int {
	if d.CombineParallel > 0 {
		return d.CombineParallel
	}
	for _, u := range inputs {
		if loc, err := d.opener().Parse(u); err == nil && !loc.IsLocal() {
			return max(RemoteCombineParallel, runtime.GOMAXPROCS(0))
		}
	}
	return 0 // combine's default
}

// CombineRefs concatenates references along p.ConcatDim and writes the
// combined reference, atomically, to p.CombinedRefURL (Contract 5).
func CombineRefs(ctx context.Context, deps *Deps, p CombineParams) (*CombineResult, error) {
	start := time.Now()
	log := deps.logger().With("stage", StageCombine, "dataset_id", p.DatasetID, "concat_dim", p.ConcatDim,
		"inputs", len(p.RefURLs)+len(p.NCURLs), "combined_ref_url", p.CombinedRefURL)
	res, err := combineRefs(ctx, deps, p)
	if err != nil {
		log.ErrorContext(ctx, "pipeline: combine failed", "error", err, "duration", time.Since(start))
		return nil, err
	}
	log.InfoContext(ctx, "pipeline: combined", "file_count", len(res.SourceFiles), "variables", len(res.Variables),
		"ref_size_bytes", res.RefSizeBytes, "time_range", res.TimeRange, "duration", time.Since(start))
	return res, nil
}

func combineRefs(ctx context.Context, deps *Deps, p CombineParams) (*CombineResult, error) {
	switch {
	case strings.TrimSpace(p.DatasetID) == "":
		return nil, invalidParams("dataset_id is required")
	case len(p.RefURLs) > 0 && len(p.NCURLs) > 0:
		return nil, invalidParams("give ref_urls or nc_urls, not both")
	case len(p.RefURLs) == 0 && len(p.NCURLs) == 0:
		return nil, invalidParams("ref_urls (or nc_urls) is empty")
	case p.ConcatDim == "":
		return nil, invalidParams("concat_dim is required")
	case p.CombinedRefURL == "":
		return nil, invalidParams("combined_ref_url is required")
	}
	if _, err := refstore.ParseFormat(string(p.RefFormat)); err != nil {
		return nil, invalidParams("ref_format: %v", err)
	}
	o := deps.opener()
	inputs := p.RefURLs
	if len(inputs) == 0 {
		inputs = p.NCURLs // combine.URLSource translates source files
	}
	sources := make([]combine.Source, len(inputs))
	for i, u := range inputs {
		sources[i] = &combine.URLSource{URL: u, Opener: o, Translate: deps.translateOptions(), Read: deps.Metrics.read, Heads: deps.heads}
	}
	res, err := combine.Combine(ctx, sources, combine.Options{ConcatDim: p.ConcatDim, Identical: p.Identical,
		Opener: o, Parallel: deps.combineParallel(inputs), Logger: deps.Logger, Limits: deps.Limits})
	if err != nil {
		return nil, fmt.Errorf("combine: %w", err)
	}
	n, err := deps.saveRefs(ctx, p.CombinedRefURL, res.Refs, p.RefFormat, nil)
	if err != nil {
		return nil, fmt.Errorf("combine: writing %s: %w", p.CombinedRefURL, err)
	}
	deps.Metrics.wrote(n)
	out := &CombineResult{DatasetID: p.DatasetID, CombinedRefURL: p.CombinedRefURL, SourceFiles: res.SourceFiles,
		Dimensions: res.Dimensions, Variables: res.Variables, TimeRange: res.TimeRange,
		SpatialExtent: res.SpatialExtent, RefSizeBytes: n, Warnings: res.Warnings}
	if out.TimeRange == nil {
		out.TimeRange = []string{}
	}
	if out.SpatialExtent == nil {
		out.SpatialExtent = []float64{}
	}
	return out, nil
}

// RegisterParamsFrom builds the register stage's parameters (Contract 6)
// from a combine result.
func RegisterParamsFrom(c *CombineResult, releaseID, datasetID, resourceID, collectionID string) RegisterParams {
	dims := make(map[string]int64, len(c.Dimensions))
	for k, v := range c.Dimensions {
		dims[k] = int64(v)
	}
	vars := make([]string, 0, len(c.Variables))
	for k := range c.Variables {
		vars = append(vars, k)
	}
	sort.Strings(vars)
	return RegisterParams{ReleaseID: releaseID, DatasetID: datasetID, ResourceID: resourceID, CollectionID: collectionID,
		CombinedRefURL: c.CombinedRefURL, Dimensions: dims, Variables: vars, TimeRange: c.TimeRange, SpatialExtent: c.SpatialExtent}
}

// Run runs one stage on JSON parameters and returns its envelope: the one
// entry point for transports that carry stage requests as JSON. stage is
// one of the Stage* names; register needs deps.Store.
func Run(ctx context.Context, deps *Deps, stage string, params json.RawMessage) Envelope {
	res, err := runJSON(ctx, deps, stage, params)
	if err != nil {
		return Fail(err)
	}
	return OK(res)
}

func runJSON(ctx context.Context, deps *Deps, stage string, params json.RawMessage) (any, error) {
	switch stage {
	case StageScan:
		return callWith(params, stage, func(p ScanParams) (any, error) { return Scan(ctx, deps, p) })
	case StageValidate:
		return callWith(params, stage, func(p ValidateParams) (any, error) { return Validate(ctx, deps, p) })
	case StageRef:
		return callWith(params, stage, func(p RefParams) (any, error) { return GenerateRef(ctx, deps, p) })
	case StageCombine:
		return callWith(params, stage, func(p CombineParams) (any, error) { return CombineRefs(ctx, deps, p) })
	case StageRegister:
		return callWith(params, stage, func(p RegisterParams) (any, error) {
			env := RegisterZarrSTAC(ctx, deps.registerDeps(), p)
			if !env.Success {
				return nil, &StageError{Type: env.ErrorType, Err: errors.New(env.Error)}
			}
			return env.Result, nil
		})
	}
	return nil, invalidParams("unknown stage %q", stage)
}

// callWith decodes a stage's JSON parameters strictly (what names them in
// the ErrInvalidParams error) and calls f with them: the one way both
// Run and the engine's tasks (runWith) turn parameters into a stage call.
func callWith[P any](params json.RawMessage, what string, f func(P) (any, error)) (any, error) {
	var p P
	if err := strictJSON(params, &p); err != nil {
		return nil, invalidParams("%s: %v", what, err)
	}
	return f(p)
}

func (d *Deps) registerDeps() RegisterDeps {
	o := d.opener()
	sc := d.STAC
	if sc.Account == "" && o.AccountName == "" {
		// An Opener configured by a connection string alone (Azurite):
		// the item names the connection string's account.
		sc.Account = connStringAccount(o.ConnectionString)
	}
	return RegisterDeps{Store: d.Store, Opener: o, STAC: sc, Logger: d.Logger, Limits: d.Limits}
}

// connStringAccount is the AccountName of an Azure Storage connection
// string ("" when none).
func connStringAccount(cs string) string {
	for _, part := range strings.Split(cs, ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && strings.EqualFold(k, "AccountName") {
			return v
		}
	}
	return ""
}

// strictJSON decodes one JSON value, refusing unknown fields.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// refName is the name of a source's reference file: its path below the
// scanned prefix (its base name for a flat scan) with the extension
// replaced by ".json": tas_2020.nc gives tas_2020.json, as in the spec's
// refs/<dataset>/tas_2020.json.
func refName(prefix, ncURL string) string {
	rel := ncURL
	if p := strings.TrimRight(prefix, "/") + "/"; strings.HasPrefix(ncURL, p) {
		rel = strings.TrimPrefix(ncURL, p)
	} else {
		rel = path.Base(ncURL)
	}
	if i := strings.IndexAny(rel, "?#"); i >= 0 {
		rel = rel[:i]
	}
	rel = strings.TrimLeft(rel, "/")
	return strings.TrimSuffix(rel, path.Ext(rel)) + ".json"
}
