package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
)

// Pipelines a submit request may name in processing_options.pipeline.
const (
	// PipelineVirtualZarr is the platform's name of this pipeline
	// (Contract 1), the canonical one.
	PipelineVirtualZarr = "virtualzarr"
	// PipelineKerchunk is an alias of PipelineVirtualZarr.
	PipelineKerchunk = "kerchunk"
)

// Output formats a submit request may name in
// processing_options.output_format.
const (
	// OutputKerchunk writes a combined kerchunk reference file per run
	// (the default).
	OutputKerchunk = "kerchunk"
	// OutputIcechunk commits each run's combined references to the
	// Icechunk repository of its dataset and resource (RepoName in the
	// asset folder), as one snapshot on main tagged with the Release id.
	OutputIcechunk = "icechunk"
)

// RepoName is the name of the Icechunk repository in an asset's folder
// (Submitter.OutFolder): REFS_URL/<dataset_id>/<resource_id>/repo.icechunk.
const RepoName = "repo.icechunk"

// SubmitRequest is the body of POST /api/platform/submit (Contract 1).
type SubmitRequest struct {
	DatasetID         string            `json:"dataset_id"`
	ResourceID        string            `json:"resource_id"`
	SourceURL         string            `json:"source_url"`
	DataType          string            `json:"data_type"`
	CollectionID      string            `json:"collection_id,omitempty"`
	ProcessingOptions ProcessingOptions `json:"processing_options"`
	// SubmittedBy is the authenticated caller, set by the server (never
	// read from the body: a "submitted_by" field is refused as unknown).
	// It is recorded on the Job and the Release.
	SubmittedBy string `json:"-"`
}

// ProcessingOptions of a submit request.
type ProcessingOptions struct {
	// Pipeline: "virtualzarr" (the default when empty) or its alias
	// "kerchunk"; Normalize sets the canonical "virtualzarr".
	Pipeline string `json:"pipeline,omitempty"`
	// ConcatDim is the dimension the files are concatenated along;
	// default "time".
	ConcatDim string `json:"concat_dim,omitempty"`
	// FilePattern is a glob of file base names; default "*.nc".
	FilePattern string `json:"file_pattern,omitempty"`
	// FailOnChunkingWarnings refuses files whose chunking report has
	// warnings.
	FailOnChunkingWarnings bool `json:"fail_on_chunking_warnings,omitempty"`
	// Overwrite starts a new run (a new job and Release, in its own
	// folder), instead of returning the earlier run of the same request.
	// The earlier runs' references stay until pruned (Prune).
	Overwrite bool `json:"overwrite,omitempty"`
	// Recursive also lists files in subfolders of source_url.
	Recursive bool `json:"recursive,omitempty"`
	// OutputFormat is what a run publishes: OutputKerchunk (the default
	// when empty; Normalize sets it) or OutputIcechunk. It is not part of
	// the job's identity (JobID): the same request with another format
	// answers with the earlier job, unless Overwrite.
	OutputFormat string `json:"output_format,omitempty"`
}

// SubmitResponse is the answer to a submit (Contract 1).
type SubmitResponse struct {
	Success   bool   `json:"success"`
	JobID     string `json:"job_id"`
	ReleaseID string `json:"release_id"`
	AssetID   string `json:"asset_id"`
	// Status is "queued" for a new job; for a request already submitted,
	// the status of its job: queued, processing, completed or failed.
	Status string `json:"status"`
	// Created is false when the request had been submitted before and no
	// new work was queued.
	Created bool `json:"-"`
	// OutURL is the run folder of a new job.
	OutURL string `json:"-"`
}

// ErrInvalidRequest reports a submit request that breaks Contract 1; the
// message names the field. errors.Is works on it.
var ErrInvalidRequest = errors.New("invalid request")

// RequestError is an invalid submit request.
type RequestError struct {
	Field  string
	Reason string
}

// Error says which field of the request is wrong and why.
func (e *RequestError) Error() string {
	if e.Field == "" {
		return "invalid request: " + e.Reason
	}
	return "invalid request: " + e.Field + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidRequest) true.
func (e *RequestError) Is(target error) bool { return target == ErrInvalidRequest }

func badField(field, format string, args ...any) error {
	return &RequestError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// DecodeSubmitRequest reads a JSON submit request. Unknown fields, a
// second JSON value, and wrong types are refused with a *RequestError; a
// body cut by http.MaxBytesReader gives its *http.MaxBytesError.
func DecodeSubmitRequest(r io.Reader) (SubmitRequest, error) {
	var req SubmitRequest
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return req, badField(te.Field, "want a %s", te.Type)
		case errors.Is(err, io.EOF):
			return req, &RequestError{Reason: "empty body"}
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return req, err
		}
		return req, &RequestError{Reason: strings.TrimPrefix(err.Error(), "json: ")}
	}
	if dec.More() {
		return req, &RequestError{Reason: "more than one JSON value"}
	}
	return req, nil
}

// validID reports whether s may be a dataset or resource id, which become
// folder names of the references: 1-128 ASCII letters, digits, '.', '_'
// or '-', not starting with '.', '_' or '-'. (A hand-written check: the
// regular expression ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ compiled at
// start-up cost every vzarr command about 9 million instructions.)
func validID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// controlChar reports the first control character in s: C0 (NUL, ...),
// DEL, C1, and the line and paragraph separators U+2028/U+2029; or -1.
func controlChar(s string) rune {
	for _, c := range s {
		if c < 0x20 || c >= 0x7f && c <= 0x9f || c == '\u2028' || c == '\u2029' {
			return c
		}
	}
	return -1
}

// checkControl refuses control characters in every string field of the
// request (they are never meaningful in ids, URLs, names or patterns, and
// a NUL cannot be stored by the catalog).
func (r *SubmitRequest) checkControl() error {
	po := &r.ProcessingOptions
	for _, f := range []struct{ name, value string }{
		{"dataset_id", r.DatasetID}, {"resource_id", r.ResourceID}, {"source_url", r.SourceURL},
		{"data_type", r.DataType}, {"collection_id", r.CollectionID},
		{"processing_options.pipeline", po.Pipeline}, {"processing_options.concat_dim", po.ConcatDim},
		{"processing_options.file_pattern", po.FilePattern}, {"processing_options.output_format", po.OutputFormat},
		{"submitted_by", r.SubmittedBy},
	} {
		if c := controlChar(f.value); c >= 0 {
			return badField(f.name, "holds the control character %U", c)
		}
	}
	return nil
}

// Normalize checks a request against Contract 1 and fills the defaults.
// allowed lists the URL schemes source_url may use (the platform: abfs
// only). Errors are *RequestError, except a source_url naming a host that
// is no Azure storage endpoint: that matches blobio.ErrSourceNotAllowed.
func (r *SubmitRequest) Normalize(allowed ...string) error {
	if len(allowed) == 0 {
		allowed = []string{blobio.SchemeABFS}
	}
	// Checked in a fixed order, so the same bad request always names the
	// same field.
	if err := r.checkControl(); err != nil {
		return err
	}
	for _, f := range []struct{ name, value string }{{"dataset_id", r.DatasetID}, {"resource_id", r.ResourceID}} {
		if !validID(f.value) {
			return badField(f.name, "want 1-128 letters, digits, '.', '_' or '-' (not starting with '.', '_' or '-'), got %q", f.value)
		}
	}
	if r.CollectionID != "" && !validID(r.CollectionID) {
		return badField("collection_id", "want 1-128 letters, digits, '.', '_' or '-', got %q", r.CollectionID)
	}
	if r.DataType != catalog.DataTypeZarr {
		return badField("data_type", "must be %q, got %q", catalog.DataTypeZarr, r.DataType)
	}
	if strings.TrimSpace(r.SourceURL) == "" {
		return badField("source_url", "is required")
	}
	loc, err := blobio.ParseURL(r.SourceURL)
	if errors.Is(err, blobio.ErrSourceNotAllowed) {
		return fmt.Errorf("source_url: %w", err)
	}
	if err != nil {
		return badField("source_url", "%v", err)
	}
	scheme := loc.Scheme
	if loc.IsLocal() {
		scheme = "file"
	}
	ok := false
	for _, s := range allowed {
		ok = ok || s == scheme || (s == blobio.SchemeABFS && scheme == blobio.SchemeABFSS)
	}
	if !ok {
		return badField("source_url", "must be an %s:// URL (abfs://CONTAINER/PATH), got %q", strings.Join(allowed, ":// or "), r.SourceURL)
	}
	if !loc.IsLocal() && loc.Container == "" {
		return badField("source_url", "names no container: %q", r.SourceURL)
	}
	po := &r.ProcessingOptions
	switch po.Pipeline {
	case "", PipelineVirtualZarr, PipelineKerchunk:
		po.Pipeline = PipelineVirtualZarr
	default:
		return badField("processing_options.pipeline", "must be %q (or its alias %q), got %q",
			PipelineVirtualZarr, PipelineKerchunk, po.Pipeline)
	}
	switch po.OutputFormat {
	case "":
		po.OutputFormat = OutputKerchunk
	case OutputKerchunk, OutputIcechunk:
	default:
		return badField("processing_options.output_format", "must be %q or %q, got %q", OutputKerchunk, OutputIcechunk, po.OutputFormat)
	}
	if po.ConcatDim == "" {
		po.ConcatDim = "time"
	}
	if strings.ContainsAny(po.ConcatDim, "/ \t") {
		return badField("processing_options.concat_dim", "not a dimension name: %q", po.ConcatDim)
	}
	if po.FilePattern == "" {
		po.FilePattern = blobio.DefaultPattern
	}
	if _, err := path.Match(po.FilePattern, ""); err != nil || strings.Contains(po.FilePattern, "/") {
		return badField("processing_options.file_pattern", "want a glob of file names such as *.nc, got %q", po.FilePattern)
	}
	return nil
}

// JobID is the deterministic id of the job of a request: the same
// dataset, resource and source give the same job. Runs with overwrite get
// the id with "-rN" appended (N = 2, 3, ...).
func JobID(datasetID, resourceID, sourceURL string) string {
	h := sha256.Sum256([]byte(datasetID + "\x00" + resourceID + "\x00" + sourceURL))
	return "vz-" + hex.EncodeToString(h[:12])
}

// Publisher queues a job (engine.Engine.Enqueue).
type Publisher interface {
	Enqueue(ctx context.Context, jobID string) error
}

// Submitter carries out Contract 1: it validates the request, creates or
// gets the Asset and the Release, creates the job and queues it.
type Submitter struct {
	Store catalog.Store
	Queue Publisher
	// RefsURL is the folder under which jobs write their references: each
	// run (Release) in its own folder,
	// RefsURL/<dataset_id>/<resource_id>/<release_id>/, so that no run
	// ever overwrites or deletes another's. Default: the folder "refs" of
	// the source's container (abfs://CONTAINER/refs).
	RefsURL string
	// OutURL, when set, is the output folder of every job (the CLI's
	// --out: the run folder itself), instead of the RefsURL layout.
	OutURL string
	// PublishURL, with OutURL, is where the caller moves OutURL's set
	// after the job (JobParams.PublishURL).
	PublishURL string
	// AllowedSchemes of source_url; default abfs only ("file" allows
	// local paths).
	AllowedSchemes []string
	// Sources, when set, confines source_url to an allow-list of URL
	// prefixes, checked before any storage call or record: a source
	// outside it is refused with an error matching
	// blobio.ErrSourceNotAllowed (error_type "source_not_allowed"). Nil
	// checks nothing (the CLI's `vzarr run`, which runs its own source).
	Sources *blobio.AllowList
	Logger  *slog.Logger
	// Ready, when set, is asked before a new job's records are created
	// (NewService sets the queue's Ready): while the broker is away a
	// submit fails with its error and creates nothing. (Should the broker
	// go away between this check and the publish, the job stays PENDING
	// and the same submit queues it again.)
	Ready func(ctx context.Context) error
}

// checkSource checks source_url against the allow-list: a malformed URL
// is a *RequestError; a URL the list or the storage configuration does not
// allow matches blobio.ErrSourceNotAllowed.
func (s *Submitter) checkSource(req *SubmitRequest) error {
	if s.Sources == nil {
		return nil
	}
	_, err := s.Sources.Check(req.SourceURL)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, blobio.ErrSourceNotAllowed):
		return fmt.Errorf("source_url: %w", err)
	case errors.Is(err, blobio.ErrInvalidURL):
		return badField("source_url", "%v", err)
	}
	// Anything else (no account configured for the URL): not a source
	// this service may read.
	return fmt.Errorf("source_url: %w: %v", blobio.ErrSourceNotAllowed, err)
}

// OutFolder is the folder of req's asset: the run folders of its
// Releases are inside it (RunFolder). With OutURL set, it is OutURL, which
// is also the run folder.
func (s *Submitter) OutFolder(req *SubmitRequest) (string, error) {
	if s.OutURL != "" {
		return s.OutURL, nil
	}
	base := s.RefsURL
	if base == "" {
		loc, err := blobio.ParseURL(req.SourceURL)
		if err != nil {
			return "", badField("source_url", "%v", err)
		}
		if loc.IsLocal() {
			return "", &RequestError{Reason: "no output folder configured for local sources"}
		}
		base = loc.WithKey("refs").String()
	}
	return joinURL(joinURL(base, url.PathEscape(req.DatasetID)), url.PathEscape(req.ResourceID)), nil
}

// RepoURL is the Icechunk repository of req's asset (output_format
// icechunk): RepoName in the asset folder (OutFolder), shared by all its
// Releases. With OutURL set it is in PublishURL when set (where the run's
// set ends up), else in OutURL.
func (s *Submitter) RepoURL(req *SubmitRequest) (string, error) {
	if s.OutURL != "" && s.PublishURL != "" {
		return joinURL(s.PublishURL, RepoName), nil
	}
	out, err := s.OutFolder(req)
	if err != nil {
		return "", err
	}
	return joinURL(out, RepoName), nil
}

// RunFolder is the folder a run writes to: the asset folder (OutFolder)
// joined with the Release id.
func RunFolder(assetFolder, releaseID string) string {
	return joinURL(assetFolder, url.PathEscape(releaseID))
}

// statusWord is how a submit response names a job's status.
func statusWord(s catalog.Status) string {
	switch s {
	case catalog.StatusPending:
		return "queued"
	case catalog.StatusProcessing:
		return "processing"
	case catalog.StatusCompleted:
		return "completed"
	case catalog.StatusFailed:
		return "failed"
	}
	return strings.ToLower(string(s))
}

// maxRuns bounds the overwrite runs of one request.
const maxRuns = 10000

// Submit validates req and queues its job. A request submitted before
// (same dataset_id, resource_id and source_url) returns the same job and
// queues no new work, unless processing_options.overwrite asks for a new
// run. The Asset and the Release exist before the job is queued.
func (s *Submitter) Submit(ctx context.Context, req SubmitRequest) (*SubmitResponse, error) {
	log := s.logger()
	if err := req.Normalize(s.AllowedSchemes...); err != nil {
		return nil, err
	}
	if err := s.checkSource(&req); err != nil {
		return nil, err
	}
	out, err := s.OutFolder(&req)
	if err != nil {
		return nil, err
	}
	repo := ""
	if req.ProcessingOptions.OutputFormat == OutputIcechunk {
		if repo, err = s.RepoURL(&req); err != nil {
			return nil, err
		}
	}
	base := JobID(req.DatasetID, req.ResourceID, req.SourceURL)
	for run := 1; run <= maxRuns; run++ {
		id := base
		if run > 1 {
			id = fmt.Sprintf("%s-r%d", base, run)
		}
		job, err := s.Store.GetJob(ctx, id)
		switch {
		case err == nil && !req.ProcessingOptions.Overwrite:
			return s.existing(ctx, job)
		case err == nil:
			continue // overwrite: the next run number
		case !errors.Is(err, catalog.ErrNotFound):
			return nil, err
		}
		resp, err := s.create(ctx, &req, id, out, repo)
		if errors.Is(err, catalog.ErrConflict) {
			// A concurrent submit created this job first.
			if req.ProcessingOptions.Overwrite {
				continue
			}
			job, err := s.Store.GetJob(ctx, id)
			if err != nil {
				return nil, err
			}
			return s.existing(ctx, job)
		}
		if err != nil {
			return nil, err
		}
		log.InfoContext(ctx, "pipeline: submitted", "job_id", resp.JobID, "release_id", resp.ReleaseID,
			"asset_id", resp.AssetID, "dataset_id", req.DatasetID, "resource_id", req.ResourceID,
			"source_url", req.SourceURL, "overwrite", req.ProcessingOptions.Overwrite, "out_url", resp.OutURL,
			"output_format", req.ProcessingOptions.OutputFormat,
			"submitted_by", req.SubmittedBy)
		return resp, nil
	}
	return nil, fmt.Errorf("%w: more than %d runs of one request", catalog.ErrConflict, maxRuns)
}

// existing answers a request submitted before. A job still PENDING is
// queued again (its first message may have been lost); that is harmless.
// If that fails, the answer is the same: the job stays PENDING for the
// engine's sweeper.
func (s *Submitter) existing(ctx context.Context, job *catalog.Job) (*SubmitResponse, error) {
	rel, err := s.Store.GetRelease(ctx, job.ReleaseID)
	if err != nil {
		return nil, err
	}
	if job.Status == catalog.StatusPending {
		if err := s.Queue.Enqueue(ctx, job.ID); err != nil {
			s.logger().WarnContext(ctx, "pipeline: queueing a PENDING job again failed; it stays PENDING",
				"job_id", job.ID, "error", err)
		}
	}
	return &SubmitResponse{Success: true, JobID: job.ID, ReleaseID: rel.ID, AssetID: rel.AssetID, Status: statusWord(job.Status)}, nil
}

// create stores the Asset, the Release and the Job in one catalog
// transaction (catalog.Store.CreateRun: a failure leaves no record), then
// queues the job. A failed publish is not the caller's failure: the job is
// committed PENDING and the engine's sweeper re-publishes PENDING jobs
// whose message was lost (an outbox); a submit of the same request queues
// it again too. So the answer is still 202 "queued", with a warning logged.
func (s *Submitter) create(ctx context.Context, req *SubmitRequest, id, out, repo string) (*SubmitResponse, error) {
	if s.Ready != nil {
		if err := s.Ready(ctx); err != nil {
			return nil, fmt.Errorf("not queueing job %s: %w", id, err)
		}
	}
	po := req.ProcessingOptions
	format := po.OutputFormat
	if format == OutputKerchunk {
		format = "" // the default: kerchunk jobs' params stay as they were
	}
	runOut := out
	ens, job, err := s.Store.CreateRun(ctx, catalog.ReleaseKey{DatasetID: req.DatasetID, ResourceID: req.ResourceID,
		JobID: id, DataType: req.DataType, SubmittedBy: req.SubmittedBy},
		func(ens *catalog.EnsureResult) (catalog.NewJob, error) {
			runOut = out
			if s.OutURL == "" {
				// Each run writes to its own folder, named by its Release.
				runOut = RunFolder(out, ens.Release.ID)
			}
			params, err := json.Marshal(JobParams{DatasetID: req.DatasetID, ResourceID: req.ResourceID, CollectionID: req.CollectionID,
				SourceURL: req.SourceURL, ConcatDim: po.ConcatDim, FilePattern: po.FilePattern, Recursive: po.Recursive,
				FailOnChunkingWarnings: po.FailOnChunkingWarnings, Overwrite: po.Overwrite, OutURL: runOut, ReleaseID: ens.Release.ID,
				PublishURL: s.PublishURL, OutputFormat: format, RepoURL: repo})
			if err != nil {
				return catalog.NewJob{}, err
			}
			return catalog.NewJob{ID: id, Type: JobType, Stage: StageScan, SubmittedBy: req.SubmittedBy, Params: params}, nil
		})
	if err != nil {
		return nil, err
	}
	if err := s.Queue.Enqueue(ctx, job.ID); err != nil {
		s.logger().WarnContext(ctx, "pipeline: queueing a new job failed; it stays PENDING for the engine's sweeper",
			"job_id", job.ID, "error", err)
	}
	return &SubmitResponse{Success: true, JobID: job.ID, ReleaseID: ens.Release.ID, AssetID: ens.Asset.ID,
		Status: "queued", Created: true, OutURL: runOut}, nil
}

func (s *Submitter) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
