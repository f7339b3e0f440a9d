package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"gocloud.dev/gcerrors"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/engine"
	"github.com/greensight/vzarr/refstore"
)

// JobType is the catalog Job type of a virtualization run.
const JobType = "virtualize"

// CombinedName is the file name of the combined reference in a job's
// output folder.
const CombinedName = "combined.json"

// JobParams are a virtualize job's parameters, kept on the catalog Job.
type JobParams struct {
	DatasetID              string `json:"dataset_id"`
	ResourceID             string `json:"resource_id"`
	CollectionID           string `json:"collection_id,omitempty"`
	SourceURL              string `json:"source_url"`
	ConcatDim              string `json:"concat_dim"`
	FilePattern            string `json:"file_pattern,omitempty"`
	Recursive              bool   `json:"recursive,omitempty"`
	FailOnChunkingWarnings bool   `json:"fail_on_chunking_warnings,omitempty"`
	Overwrite              bool   `json:"overwrite,omitempty"`
	// OutURL is the folder the job writes to, its own (run-scoped): one
	// reference per source (<name>.json) and combined.json.
	OutURL string `json:"out_url"`
	// PublishURL, when set, is the folder the set is moved to after the
	// job (vzarr run --overwrite writes to a staging folder and swaps it
	// into its --out): the STAC item and blob_path name it.
	PublishURL string `json:"publish_url,omitempty"`
	// ReleaseID is the Release the job produces.
	ReleaseID string `json:"release_id"`
	// OutputFormat is OutputIcechunk, or empty for kerchunk (the
	// default).
	OutputFormat string `json:"output_format,omitempty"`
	// RepoURL is the Icechunk repository the register stage commits the
	// combined references to (OutputIcechunk only).
	RepoURL string `json:"repo_url,omitempty"`
}

// CombinedRefURL is where the job writes its combined reference.
func (p *JobParams) CombinedRefURL() string { return joinURL(p.OutURL, CombinedName) }

func joinURL(dir, name string) string { return strings.TrimRight(dir, "/") + "/" + name }

func jobParams(job *catalog.Job) (*JobParams, error) {
	var p JobParams
	if err := json.Unmarshal(job.Params, &p); err != nil {
		return nil, fmt.Errorf("job %s: params: %w", job.ID, err)
	}
	return &p, nil
}

// NewDefinition returns the virtualize job type for the engine: Scan →
// Validate (a task per file) → Ref (a task per file) → Combine →
// Register, with the Release moved to PROCESSING when the job starts and
// to FAILED, with the error, when it fails. deps.Store must be the
// engine's catalog. It gives deps the HeadCache its stages share (see
// Deps.HeadCacheBytes) unless it has one.
func NewDefinition(deps *Deps) *engine.Definition {
	if deps.heads == nil && deps.HeadCacheBytes >= 0 {
		deps.heads = blobio.NewHeadCache(deps.HeadCacheBytes, 0)
	}
	one := func(v any) ([]json.RawMessage, error) {
		b, err := json.Marshal(v)
		return []json.RawMessage{b}, err
	}
	return &engine.Definition{
		Type: JobType,
		Stages: []engine.Stage{
			{Name: StageScan,
				Plan: func(_ context.Context, job *catalog.Job, _ map[string][]*catalog.Task) ([]json.RawMessage, error) {
					jp, err := jobParams(job)
					if err != nil {
						return nil, err
					}
					return one(ScanParams{SourceURL: jp.SourceURL, FilePattern: jp.FilePattern, Recursive: jp.Recursive})
				},
				Run: runWith(func(ctx context.Context, _ *catalog.Job, p ScanParams) (any, error) { return Scan(ctx, deps, p) })},
			{Name: StageValidate,
				Plan: func(_ context.Context, job *catalog.Job, done map[string][]*catalog.Task) ([]json.RawMessage, error) {
					jp, scan, err := scanOf(job, done)
					if err != nil {
						return nil, err
					}
					out := make([]json.RawMessage, len(scan.Files))
					for i, f := range scan.Files {
						out[i], _ = json.Marshal(ValidateParams{NCURL: f.URL, FailOnChunkingWarnings: jp.FailOnChunkingWarnings, SizeBytes: f.SizeBytes})
					}
					return out, nil
				},
				Run: runWith(func(ctx context.Context, _ *catalog.Job, p ValidateParams) (any, error) {
					return Validate(ctx, deps, p)
				})},
			{Name: StageRef,
				Plan: func(_ context.Context, job *catalog.Job, done map[string][]*catalog.Task) ([]json.RawMessage, error) {
					jp, scan, err := scanOf(job, done)
					if err != nil {
						return nil, err
					}
					out := make([]json.RawMessage, len(scan.Files))
					seen := map[string]string{}
					for i, f := range scan.Files {
						name := refName(jp.SourceURL, f.URL)
						if prev, dup := seen[name]; dup {
							return nil, invalidParams("%s and %s would both be referenced as %s", prev, f.URL, name)
						}
						seen[name] = f.URL
						out[i], _ = json.Marshal(RefParams{NCURL: f.URL, RefURL: joinURL(jp.OutURL, name), SizeBytes: f.SizeBytes})
					}
					return out, nil
				},
				Run: runWith(func(ctx context.Context, _ *catalog.Job, p RefParams) (any, error) { return GenerateRef(ctx, deps, p) })},
			{Name: StageCombine,
				Plan: func(_ context.Context, job *catalog.Job, done map[string][]*catalog.Task) ([]json.RawMessage, error) {
					jp, err := jobParams(job)
					if err != nil {
						return nil, err
					}
					urls := make([]string, len(done[StageRef]))
					for i, t := range done[StageRef] {
						var r RefResult
						if err := engine.Decode(t, &r); err != nil {
							return nil, err
						}
						urls[i] = r.RefURL
					}
					return one(CombineParams{DatasetID: jp.DatasetID, RefURLs: urls, ConcatDim: jp.ConcatDim, CombinedRefURL: jp.CombinedRefURL()})
				},
				Run: runWith(func(ctx context.Context, _ *catalog.Job, p CombineParams) (any, error) {
					return CombineRefs(ctx, deps, p)
				})},
			{Name: StageRegister,
				Plan: func(_ context.Context, job *catalog.Job, done map[string][]*catalog.Task) ([]json.RawMessage, error) {
					jp, err := jobParams(job)
					if err != nil {
						return nil, err
					}
					if len(done[StageCombine]) != 1 {
						return nil, fmt.Errorf("job %s: no combine result", job.ID)
					}
					var c CombineResult
					if err := engine.Decode(done[StageCombine][0], &c); err != nil {
						return nil, err
					}
					rp := RegisterParamsFrom(&c, jp.ReleaseID, jp.DatasetID, jp.ResourceID, jp.CollectionID)
					if jp.OutputFormat == OutputIcechunk {
						if jp.RepoURL == "" {
							return nil, fmt.Errorf("job %s: output_format icechunk without a repo_url", job.ID)
						}
						rp.RepoURL = jp.RepoURL
					} else if jp.PublishURL != "" {
						rp.PublishRefURL = joinURL(jp.PublishURL, CombinedName)
					}
					return one(rp)
				},
				Run: runWith(func(ctx context.Context, _ *catalog.Job, p RegisterParams) (any, error) {
					env := RegisterZarrSTAC(ctx, deps.registerDeps(), p)
					if !env.Success {
						return nil, &StageError{Type: env.ErrorType, Err: errors.New(env.Error)}
					}
					return env.Result, nil
				})},
		},
		OnStart: func(ctx context.Context, job *catalog.Job) error {
			jp, err := jobParams(job)
			if err != nil {
				return err
			}
			rel, err := deps.Store.GetRelease(ctx, jp.ReleaseID)
			if err != nil {
				return err
			}
			if rel.ProcessingStatus == catalog.StatusProcessing {
				return nil
			}
			_, err = deps.Store.TransitionRelease(ctx, rel.ID, catalog.Transition{To: catalog.StatusProcessing, IfRevision: rel.Revision})
			if errors.Is(err, catalog.ErrConflict) {
				return nil // another worker moved it first
			}
			return err
		},
		OnFailure: func(ctx context.Context, job *catalog.Job, f *engine.Failure) error {
			return onFailure(ctx, deps, job, f)
		},
	}
}

// runWith adapts a typed stage function to engine.Stage.Run.
func runWith[P any](f func(ctx context.Context, job *catalog.Job, p P) (any, error)) func(context.Context, *catalog.Job, *catalog.Task) (json.RawMessage, error) {
	return func(ctx context.Context, job *catalog.Job, task *catalog.Task) (json.RawMessage, error) {
		res, err := callWith(task.Params, "task "+task.ID, func(p P) (any, error) { return f(ctx, job, p) })
		if err != nil {
			return nil, err
		}
		return json.Marshal(res)
	}
}

// scanOf returns the job's params and its scan result, refusing an empty
// one.
func scanOf(job *catalog.Job, done map[string][]*catalog.Task) (*JobParams, *blobio.ScanResult, error) {
	jp, err := jobParams(job)
	if err != nil {
		return nil, nil, err
	}
	if len(done[StageScan]) != 1 {
		return nil, nil, fmt.Errorf("job %s: no scan result", job.ID)
	}
	var scan blobio.ScanResult
	if err := engine.Decode(done[StageScan][0], &scan); err != nil {
		return nil, nil, err
	}
	if len(scan.Files) == 0 {
		pattern := jp.FilePattern
		if pattern == "" {
			pattern = blobio.DefaultPattern
		}
		return nil, nil, &StageError{Type: ErrTypeNoFiles, Err: fmt.Errorf("no files match %s under %s", pattern, jp.SourceURL)}
	}
	return jp, &scan, nil
}

// onFailure marks the Release FAILED with the job's error, takes back its
// Icechunk commit (undoRelease) and removes the references the job wrote,
// so that a failed run leaves no partial result behind.
func onFailure(ctx context.Context, deps *Deps, job *catalog.Job, f *engine.Failure) error {
	jp, err := jobParams(job)
	if err != nil {
		return err
	}
	log := deps.logger().With("job_id", job.ID, "release_id", jp.ReleaseID)
	rel, err := deps.Store.GetRelease(ctx, jp.ReleaseID)
	if err != nil {
		return err
	}
	switch rel.ProcessingStatus {
	case catalog.StatusFailed:
	case catalog.StatusCompleted:
		log.WarnContext(ctx, "pipeline: job failed after its release completed; the release stays COMPLETED", "error", f.Message())
	default:
		if _, err := deps.Store.TransitionRelease(ctx, rel.ID, catalog.Transition{To: catalog.StatusFailed, Error: f.Message()}); err != nil &&
			!errors.Is(err, catalog.ErrIllegalTransition) {
			return err
		}
		log.ErrorContext(ctx, "pipeline: release failed", "stage", f.Stage, "error", f.Error, "error_type", f.ErrorType)
	}
	if rel.ProcessingStatus == catalog.StatusCompleted {
		return nil
	}
	// Take back an Icechunk commit the register stage made before the
	// catalog update failed.
	if jp.OutputFormat == OutputIcechunk && jp.RepoURL != "" {
		if err := undoRelease(ctx, &refstore.Store{Opener: deps.opener(), Limits: deps.Limits}, log, jp); err != nil {
			return err
		}
	}
	// Remove what the job wrote, or began to write: the objects its
	// tasks' parameters name (recorded before each task ran), inside its
	// own folder, except any object another Release keeps.
	urls, err := runOutputs(ctx, deps.Store, job)
	if err != nil {
		return err
	}
	protected, err := protectedOutputs(ctx, deps.Store, rel.AssetID, rel.ID)
	if err != nil {
		return err
	}
	removed, err := removeOutputs(ctx, deps, urls, protected)
	if removed > 0 {
		log.InfoContext(ctx, "pipeline: removed the references of the failed job", "objects", removed, "out_url", jp.OutURL)
	}
	return err
}

// removeObject deletes the object at url; a missing one is not an error.
func removeObject(ctx context.Context, o *blobio.Opener, url string) (bool, error) {
	b, key, err := o.Open(ctx, url)
	if err != nil {
		return false, err
	}
	defer b.Close()
	if err := b.Delete(ctx, key); err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return false, nil
		}
		return false, err
	}
	return true, nil
}
