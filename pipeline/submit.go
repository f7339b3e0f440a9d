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
	"regexp"
	"strings"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
)

// Pipelines a submit request may name in processing_options.pipeline.
const (
	PipelineKerchunk = "kerchunk"
)

// SubmitRequest is the body of POST /api/platform/submit (Contract 1).
type SubmitRequest struct {
	DatasetID         string            `json:"dataset_id"`
	ResourceID        string            `json:"resource_id"`
	SourceURL         string            `json:"source_url"`
	DataType          string            `json:"data_type"`
	CollectionID      string            `json:"collection_id,omitempty"`
	ProcessingOptions ProcessingOptions `json:"processing_options"`
}

// ProcessingOptions of a submit request.
type ProcessingOptions struct {
	// Pipeline: "kerchunk" (the default when empty).
	Pipeline string `json:"pipeline,omitempty"`
	// ConcatDim is the dimension the files are concatenated along;
	// default "time".
	ConcatDim string `json:"concat_dim,omitempty"`
	// FilePattern is a glob of file base names; default "*.nc".
	FilePattern string `json:"file_pattern,omitempty"`
	// FailOnChunkingWarnings refuses files whose chunking report has
	// warnings.
	FailOnChunkingWarnings bool `json:"fail_on_chunking_warnings,omitempty"`
	// Overwrite starts a new run (a new job and Release) that replaces
	// the references of earlier runs, instead of returning the earlier
	// run of the same request.
	Overwrite bool `json:"overwrite,omitempty"`
	// Recursive also lists files in subfolders of source_url.
	Recursive bool `json:"recursive,omitempty"`
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
}

// ErrInvalidRequest reports a submit request that breaks Contract 1; the
// message names the field. errors.Is works on it.
var ErrInvalidRequest = errors.New("invalid request")

// RequestError is an invalid submit request.
type RequestError struct {
	Field  string
	Reason string
}

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

// idPattern is what dataset and resource ids may look like: they become
// folder names of the references.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Normalize checks a request against Contract 1 and fills the defaults.
// allowed lists the URL schemes source_url may use (the platform: abfs
// only).
func (r *SubmitRequest) Normalize(allowed ...string) error {
	if len(allowed) == 0 {
		allowed = []string{blobio.SchemeABFS}
	}
	// Checked in a fixed order, so the same bad request always names the
	// same field.
	for _, f := range []struct{ name, value string }{{"dataset_id", r.DatasetID}, {"resource_id", r.ResourceID}} {
		if !idPattern.MatchString(f.value) {
			return badField(f.name, "want 1-128 letters, digits, '.', '_' or '-' (not starting with '.', '_' or '-'), got %q", f.value)
		}
	}
	if r.CollectionID != "" && !idPattern.MatchString(r.CollectionID) {
		return badField("collection_id", "want 1-128 letters, digits, '.', '_' or '-', got %q", r.CollectionID)
	}
	if r.DataType != catalog.DataTypeZarr {
		return badField("data_type", "must be %q, got %q", catalog.DataTypeZarr, r.DataType)
	}
	if strings.TrimSpace(r.SourceURL) == "" {
		return badField("source_url", "is required")
	}
	loc, err := blobio.ParseURL(r.SourceURL)
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
	case "":
		po.Pipeline = PipelineKerchunk
	case PipelineKerchunk:
	default:
		return badField("processing_options.pipeline", "must be %q, got %q", PipelineKerchunk, po.Pipeline)
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
	// RefsURL is the folder under which jobs write their references:
	// RefsURL/<dataset_id>/<resource_id>/. Default: the folder "refs" of
	// the source's container (abfs://CONTAINER/refs).
	RefsURL string
	// OutURL, when set, is the output folder of every job (the CLI's
	// --out), instead of the RefsURL layout.
	OutURL string
	// AllowedSchemes of source_url; default abfs only ("file" allows
	// local paths).
	AllowedSchemes []string
	Logger         *slog.Logger
	// Ready, when set, is asked before a new job's records are created
	// (NewService sets the queue's Ready): while the broker is away a
	// submit fails with its error and creates nothing. (Should the broker
	// go away between this check and the publish, the job stays PENDING
	// and the same submit queues it again.)
	Ready func(ctx context.Context) error
}

// OutFolder is where a job of req writes its references.
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
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := req.Normalize(s.AllowedSchemes...); err != nil {
		return nil, err
	}
	out, err := s.OutFolder(&req)
	if err != nil {
		return nil, err
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
		resp, err := s.create(ctx, &req, id, out)
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
			"source_url", req.SourceURL, "overwrite", req.ProcessingOptions.Overwrite, "out_url", out)
		return resp, nil
	}
	return nil, fmt.Errorf("%w: more than %d runs of one request", catalog.ErrConflict, maxRuns)
}

// existing answers a request submitted before. A job still PENDING is
// queued again (its first message may have been lost); that is harmless.
func (s *Submitter) existing(ctx context.Context, job *catalog.Job) (*SubmitResponse, error) {
	rel, err := s.Store.GetRelease(ctx, job.ReleaseID)
	if err != nil {
		return nil, err
	}
	if job.Status == catalog.StatusPending {
		if err := s.Queue.Enqueue(ctx, job.ID); err != nil {
			return nil, err
		}
	}
	return &SubmitResponse{Success: true, JobID: job.ID, ReleaseID: rel.ID, AssetID: rel.AssetID, Status: statusWord(job.Status)}, nil
}

func (s *Submitter) create(ctx context.Context, req *SubmitRequest, id, out string) (*SubmitResponse, error) {
	if s.Ready != nil {
		if err := s.Ready(ctx); err != nil {
			return nil, fmt.Errorf("not queueing job %s: %w", id, err)
		}
	}
	ens, err := s.Store.EnsureRelease(ctx, catalog.ReleaseKey{DatasetID: req.DatasetID, ResourceID: req.ResourceID,
		JobID: id, DataType: req.DataType})
	if err != nil {
		return nil, err
	}
	po := req.ProcessingOptions
	params, err := json.Marshal(JobParams{DatasetID: req.DatasetID, ResourceID: req.ResourceID, CollectionID: req.CollectionID,
		SourceURL: req.SourceURL, ConcatDim: po.ConcatDim, FilePattern: po.FilePattern, Recursive: po.Recursive,
		FailOnChunkingWarnings: po.FailOnChunkingWarnings, Overwrite: po.Overwrite, OutURL: out, ReleaseID: ens.Release.ID})
	if err != nil {
		return nil, err
	}
	job, err := s.Store.CreateJob(ctx, catalog.NewJob{ID: id, Type: JobType, Stage: StageScan, ReleaseID: ens.Release.ID, Params: params})
	if err != nil {
		return nil, err
	}
	if err := s.Queue.Enqueue(ctx, job.ID); err != nil {
		// The job stays PENDING; submitting again queues it.
		return nil, fmt.Errorf("queueing job %s: %w", job.ID, err)
	}
	return &SubmitResponse{Success: true, JobID: job.ID, ReleaseID: ens.Release.ID, AssetID: ens.Asset.ID,
		Status: "queued", Created: true}, nil
}
