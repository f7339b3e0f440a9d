package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Store keeps Assets, Releases, Jobs and Tasks. Implementations are safe
// for concurrent use; returned records are copies the caller may keep.
type Store interface {
	// EnsureRelease returns the Asset of (DatasetID, ResourceID) and its
	// Release for JobID, creating either when missing. It is idempotent
	// and safe under races: concurrent calls with the same key get the
	// same rows. A new Release gets the next Version of its Asset and
	// starts PENDING with approval PENDING.
	EnsureRelease(ctx context.Context, key ReleaseKey) (*EnsureResult, error)

	// GetAsset reads an Asset by id.
	GetAsset(ctx context.Context, id string) (*Asset, error)
	// FindAsset reads the Asset of (datasetID, resourceID).
	FindAsset(ctx context.Context, datasetID, resourceID string) (*Asset, error)
	// GetRelease reads a Release by id.
	GetRelease(ctx context.Context, id string) (*Release, error)
	// ListReleases lists an Asset's Releases by Version.
	ListReleases(ctx context.Context, assetID string) ([]*Release, error)

	// UpdateStacItemJSON caches the STAC item on a Release. Refused
	// (ErrIllegalTransition) once the approval is decided.
	UpdateStacItemJSON(ctx context.Context, releaseID string, item json.RawMessage) (*Release, error)
	// SetBlobPath sets a Release's blob path. Refused once the approval
	// is decided.
	SetBlobPath(ctx context.Context, releaseID, blobPath string) (*Release, error)
	// TransitionRelease moves a Release's processing status (see
	// CanTransition). A FAILED transition records t.Error.
	TransitionRelease(ctx context.Context, releaseID string, t Transition) (*Release, error)
	// CompleteRelease is the register stage's write, in one transaction:
	// it caches the STAC item, sets the blob path and moves the Release to
	// COMPLETED. A PENDING release passes through PROCESSING; completing
	// a COMPLETED release again (a retried stage) replaces the item and
	// path. FAILED releases and releases whose approval is decided are
	// refused with ErrIllegalTransition.
	CompleteRelease(ctx context.Context, releaseID string, c Completion) (*Release, error)
	// SetApproval decides a COMPLETED Release's approval: PENDING →
	// APPROVED or REJECTED.
	SetApproval(ctx context.Context, releaseID string, state ApprovalState) (*Release, error)
	// MarkReleasePruned records that a COMPLETED Release's data was
	// deleted: it sets PrunedAt and clears BlobPath, whatever the
	// approval. Other releases are refused with ErrIllegalTransition; an
	// already pruned one is returned unchanged. ifRevision: as in
	// Transition.
	MarkReleasePruned(ctx context.Context, releaseID string, ifRevision int64) (*Release, error)

	// CreateRun creates, in one transaction, the Asset and Release of key
	// (as EnsureRelease does) and a new Job producing the Release: job is
	// called with the ensured records and returns the Job to create; the
	// Job's ReleaseID is set to the Release's. Either all of them are
	// stored or, on any error (a Job with the same ID exists: ErrConflict;
	// invalid input: ErrInvalid; the database is down: ErrUnavailable),
	// none is: no Asset or Release is left without its Job.
	CreateRun(ctx context.Context, key ReleaseKey, job func(*EnsureResult) (NewJob, error)) (*EnsureResult, *Job, error)

	// CreateJob stores a new Job (PENDING). An empty ID gets a new one.
	CreateJob(ctx context.Context, j NewJob) (*Job, error)
	// GetJob reads a Job by id.
	GetJob(ctx context.Context, id string) (*Job, error)
	// TransitionJob moves a Job's status; t.Stage, t.Result and t.Error
	// are recorded with it.
	TransitionJob(ctx context.Context, id string, t Transition) (*Job, error)
	// ListJobs lists the Jobs matching f, least recently updated first
	// (sweepers find the jobs left behind with it).
	ListJobs(ctx context.Context, f JobFilter) ([]*Job, error)
	// TouchJob bumps a Job's Revision and UpdatedAt without changing
	// anything else, when its Revision still equals ifRevision (else
	// ErrConflict): of racing workers that read the same revision, one
	// succeeds, so one of them acts on the job.
	TouchJob(ctx context.Context, id string, ifRevision int64) (*Job, error)

	// CreateTask stores a new Task (PENDING) of an existing Job.
	CreateTask(ctx context.Context, t NewTask) (*Task, error)
	// GetTask reads a Task by id.
	GetTask(ctx context.Context, id string) (*Task, error)
	// ListTasks lists a Job's Tasks in creation order.
	ListTasks(ctx context.Context, jobID string) ([]*Task, error)
	// FindTasks lists the Tasks of all Jobs matching f, least recently
	// started first (then in creation order).
	FindTasks(ctx context.Context, f TaskFilter) ([]*Task, error)
	// ClaimTask moves the oldest PENDING Task matching c to PROCESSING
	// and returns it; racing workers never claim the same Task. It
	// returns ErrNotFound when no Task is waiting.
	ClaimTask(ctx context.Context, c Claim) (*Task, error)
	// TransitionTask moves a Task's status; t.Result and t.Error are
	// recorded with it.
	TransitionTask(ctx context.Context, id string, t Transition) (*Task, error)

	// Close releases the store's resources.
	Close()
}

// TaskBatcher is a Store that creates many Tasks at once: the engine's
// fan-out of a stage of 10,000 files is one statement per
// MaxTaskBatch tasks instead of one transaction per task. Stores that
// wrap another may leave it out; callers then create the tasks one by
// one.
type TaskBatcher interface {
	// CreateTasks stores new Tasks (PENDING), all of the same existing
	// Job, skipping those whose ID exists, and returns how many it
	// created. Each batch of up to MaxTaskBatch tasks is stored whole
	// or not at all; on an error, the batches before it are stored.
	CreateTasks(ctx context.Context, ts []NewTask) (int, error)
}

// TaskMover is a Store that moves a task the caller holds in one round
// trip: the engine claims the task it has just read, and completes the
// task it has claimed. Stores that wrap another may leave it out; callers
// then use TransitionTask with IfRevision.
type TaskMover interface {
	// MoveTask is TransitionTask(ctx, t.ID, tr) with tr.IfRevision set to
	// t.Revision (a tr.IfRevision of its own must equal it), checked
	// against t as the caller read it: t's status must allow the move,
	// and the record must still be at t.Revision (else ErrConflict, also
	// when it no longer exists). t is not changed; the moved copy is
	// returned.
	MoveTask(ctx context.Context, t *Task, tr Transition) (*Task, error)
}

// BriefTaskLister is a Store that lists a job's tasks without the JSON a
// status report does not read: the status of a 10,000-file job then
// reads the tasks' states, not their 10,000 params and results. Stores
// that wrap another may leave it out; callers then use ListTasks.
type BriefTaskLister interface {
	// ListTasksBrief is ListTasks with the Params and Result of each task
	// left nil, except for the tasks whose Type is in fullTypes (both
	// kept) and the Result of FAILED tasks (kept).
	ListTasksBrief(ctx context.Context, jobID string, fullTypes []string) ([]*Task, error)
}

// MaxTaskBatch is the most tasks CreateTasks stores in one statement.
const MaxTaskBatch = 1000

// normTasks checks a CreateTasks batch: valid tasks, all of one job.
func normTasks(ts []NewTask) ([]json.RawMessage, error) {
	params := make([]json.RawMessage, len(ts))
	for i := range ts {
		p, err := ts[i].norm()
		if err != nil {
			return nil, err
		}
		if ts[i].JobID != ts[0].JobID {
			return nil, invalidf("CreateTasks: tasks of jobs %q and %q in one batch", ts[0].JobID, ts[i].JobID)
		}
		params[i] = p
	}
	return params, nil
}

// ReleaseKey names the Asset and Release EnsureRelease returns.
type ReleaseKey struct {
	DatasetID  string
	ResourceID string
	// JobID names the job producing the release; "" is a key too.
	JobID string
	// DataType of a new Asset; default DataTypeZarr. An existing Asset of
	// another data type is an ErrConflict.
	DataType string
	// SubmittedBy is recorded on a new Release (an existing one keeps
	// its own).
	SubmittedBy string
}

func (k *ReleaseKey) norm() error {
	if k.DatasetID == "" || k.ResourceID == "" {
		return invalidf("dataset_id and resource_id are required")
	}
	if err := checkText("dataset_id", k.DatasetID, "resource_id", k.ResourceID, "job_id", k.JobID,
		"data_type", k.DataType, "submitted_by", k.SubmittedBy); err != nil {
		return err
	}
	if k.DataType == "" {
		k.DataType = DataTypeZarr
	}
	return nil
}

// EnsureResult is what EnsureRelease returns.
type EnsureResult struct {
	Asset          *Asset
	Release        *Release
	AssetCreated   bool
	ReleaseCreated bool
}

// Transition is a status move.
type Transition struct {
	To Status
	// Error is recorded with a move to FAILED (and cleared otherwise).
	Error string
	// Result is recorded on Jobs and Tasks (nil keeps the current one).
	Result json.RawMessage
	// Stage, when set, is recorded on Jobs and Tasks.
	Stage string
	// IfRevision, when non-zero, applies the move only if the record's
	// Revision still equals it; otherwise the move fails with ErrConflict.
	IfRevision int64
}

// Completion is what CompleteRelease writes.
type Completion struct {
	BlobPath     string
	StacItemJSON json.RawMessage
	// IfRevision: as in Transition.
	IfRevision int64
}

// NewJob is a Job to create.
type NewJob struct {
	ID        string // "" for a new UUID
	Type      string
	Stage     string
	ReleaseID string
	// SubmittedBy is the identity of the caller who submitted the job.
	SubmittedBy string
	Params      json.RawMessage // nil for {}
}

// norm checks a new Job and returns its params (default {}).
func (nj *NewJob) norm() (json.RawMessage, error) {
	params, err := normJSON("params", nj.Params, "{}")
	if err != nil {
		return nil, err
	}
	if nj.Type == "" {
		return nil, invalidf("job type is required")
	}
	if err := checkText("job id", nj.ID, "job type", nj.Type, "stage", nj.Stage, "release_id", nj.ReleaseID,
		"submitted_by", nj.SubmittedBy); err != nil {
		return nil, err
	}
	if nj.ID == "" {
		nj.ID = newID()
	}
	return params, nil
}

// NewTask is a Task to create.
type NewTask struct {
	ID     string // "" for a new UUID
	JobID  string
	Type   string
	Stage  string
	Params json.RawMessage // nil for {}
}

// norm checks a new Task and returns its params (default {}).
func (nt *NewTask) norm() (json.RawMessage, error) {
	params, err := normJSON("params", nt.Params, "{}")
	if err != nil {
		return nil, err
	}
	if nt.Type == "" || nt.JobID == "" {
		return nil, invalidf("task type and job_id are required")
	}
	if nt.ID == "" {
		nt.ID = newID()
	}
	return params, nil
}

// DefaultListLimit is the row limit of ListJobs and FindTasks when the
// filter sets none.
const DefaultListLimit = 1000

// JobFilter selects the Jobs ListJobs returns. Zero fields match all.
type JobFilter struct {
	Status Status
	// UpdatedBefore keeps Jobs last changed before it.
	UpdatedBefore time.Time
	// Limit bounds the rows; <= 0 means DefaultListLimit.
	Limit int
}

// TaskFilter selects the Tasks FindTasks returns. Zero fields match all.
type TaskFilter struct {
	Status Status
	// Types keeps Tasks of these types.
	Types []string
	// StartedBefore keeps Tasks whose last attempt started before it
	// (Tasks never started do not match).
	StartedBefore time.Time
	// UpdatedBefore keeps Tasks last changed before it.
	UpdatedBefore time.Time
	// Limit bounds the rows; <= 0 means DefaultListLimit.
	Limit int
}

func listLimit(n int) int {
	if n <= 0 {
		return DefaultListLimit
	}
	return n
}

func (f *JobFilter) check() error {
	if f.Status != "" && !f.Status.Valid() {
		return invalidf("unknown status %q", f.Status)
	}
	return nil
}

func (f *TaskFilter) check() error {
	if f.Status != "" && !f.Status.Valid() {
		return invalidf("unknown status %q", f.Status)
	}
	return nil
}

// Claim selects the Task ClaimTask takes.
type Claim struct {
	// JobID, when set, restricts the claim to one Job's Tasks.
	JobID string
	// Types, when set, restricts the claim to Tasks of these types.
	Types []string
	// MaxAttempts, when positive, skips Tasks already attempted that many
	// times.
	MaxAttempts int
}

// checkTransition validates a status move of a record.
func checkTransition(kind, id string, from Status, t *Transition, rev int64) error {
	if !t.To.Valid() {
		return invalidf("unknown status %q", t.To)
	}
	if t.IfRevision != 0 && t.IfRevision != rev {
		return conflictf("%s %q is at revision %d, not %d", kind, id, rev, t.IfRevision)
	}
	if !CanTransition(from, t.To) {
		return &TransitionError{Kind: kind, ID: id, From: string(from), To: string(t.To)}
	}
	return nil
}

// checkCompletion validates CompleteRelease on r.
func checkCompletion(r *Release, c *Completion) error {
	if c.IfRevision != 0 && c.IfRevision != r.Revision {
		return conflictf("release %q is at revision %d, not %d", r.ID, r.Revision, c.IfRevision)
	}
	if r.PrunedAt != nil {
		return &TransitionError{Kind: "release", ID: r.ID, From: string(r.ProcessingStatus), To: string(StatusCompleted),
			Reason: "pruned"}
	}
	if r.ApprovalState != ApprovalPending {
		return &TransitionError{Kind: "release", ID: r.ID, From: string(r.ProcessingStatus), To: string(StatusCompleted),
			Reason: "approval already " + string(r.ApprovalState)}
	}
	switch r.ProcessingStatus {
	case StatusPending, StatusProcessing, StatusCompleted:
		return nil
	}
	return &TransitionError{Kind: "release", ID: r.ID, From: string(r.ProcessingStatus), To: string(StatusCompleted)}
}

// checkMutable refuses changes to a release whose approval is decided.
func checkMutable(r *Release, what string) error {
	if r.PrunedAt != nil {
		return &TransitionError{Kind: "release", ID: r.ID, From: string(r.ProcessingStatus), To: string(r.ProcessingStatus),
			Reason: what + ": pruned"}
	}
	if r.ApprovalState != ApprovalPending {
		return &TransitionError{Kind: "release", ID: r.ID, From: string(r.ProcessingStatus), To: string(r.ProcessingStatus),
			Reason: what + ": approval already " + string(r.ApprovalState)}
	}
	return nil
}

// checkApproval validates SetApproval on r.
func checkApproval(r *Release, state ApprovalState) error {
	if !state.Valid() || state == ApprovalPending {
		return invalidf("approval state must be APPROVED or REJECTED, not %q", state)
	}
	if r.ApprovalState != ApprovalPending {
		return &TransitionError{Kind: "release approval", ID: r.ID, From: string(r.ApprovalState), To: string(state)}
	}
	if r.ProcessingStatus != StatusCompleted {
		return &TransitionError{Kind: "release approval", ID: r.ID, From: string(r.ApprovalState), To: string(state),
			Reason: "processing is " + string(r.ProcessingStatus) + ", not COMPLETED"}
	}
	return nil
}

// Release changes shared by both stores: each checks the release's state
// and changes the copy it is given (the store then bumps Revision and
// UpdatedAt and writes it).

func setStacItem(item json.RawMessage) func(*Release, time.Time) error {
	return func(r *Release, _ time.Time) error {
		if err := checkMutable(r, "stac_item_json"); err != nil {
			return err
		}
		r.StacItemJSON = item
		return nil
	}
}

func setBlobPath(path string) func(*Release, time.Time) error {
	return func(r *Release, _ time.Time) error {
		if err := checkMutable(r, "blob_path"); err != nil {
			return err
		}
		r.BlobPath = path
		return nil
	}
}

func transitionRelease(tr Transition) func(*Release, time.Time) error {
	return func(r *Release, t time.Time) error {
		if err := checkTransition("release", r.ID, r.ProcessingStatus, &tr, r.Revision); err != nil {
			return err
		}
		r.ProcessingStatus = tr.To
		r.Error = ""
		switch tr.To {
		case StatusFailed:
			r.Error = tr.Error
		case StatusCompleted:
			r.CompletedAt = &t
		}
		return nil
	}
}

func completeRelease(c Completion, item json.RawMessage) func(*Release, time.Time) error {
	return func(r *Release, t time.Time) error {
		if err := checkCompletion(r, &c); err != nil {
			return err
		}
		r.BlobPath, r.StacItemJSON = c.BlobPath, item
		r.ProcessingStatus, r.Error = StatusCompleted, ""
		r.CompletedAt = &t
		return nil
	}
}

func setApproval(state ApprovalState) func(*Release, time.Time) error {
	return func(r *Release, t time.Time) error {
		if err := checkApproval(r, state); err != nil {
			return err
		}
		r.ApprovalState, r.ApprovalAt = state, &t
		return nil
	}
}

// errUnchanged tells a store's updateRelease to return the release as it
// is, without a new revision.
var errUnchanged = errors.New("catalog: unchanged")

func markPruned(ifRevision int64) func(*Release, time.Time) error {
	return func(r *Release, t time.Time) error {
		if ifRevision != 0 && ifRevision != r.Revision {
			return conflictf("release %q is at revision %d, not %d", r.ID, r.Revision, ifRevision)
		}
		if r.PrunedAt != nil {
			return errUnchanged
		}
		if r.ProcessingStatus != StatusCompleted {
			return &TransitionError{Kind: "release", ID: r.ID, From: string(r.ProcessingStatus), To: "pruned",
				Reason: "only COMPLETED releases are pruned"}
		}
		r.PrunedAt, r.BlobPath = &t, ""
		return nil
	}
}

// run is the part of a Job or Task that transitions change.
type run struct {
	Status *Status
	Stage  *string
	*RunState
}

func (j *Job) run() run { return run{&j.Status, &j.Stage, &j.RunState} }

func (t *Task) run() run { return run{&t.Status, &t.Stage, &t.RunState} }

// runRecord is a Job or a Task: a record with a run lifecycle, as either
// store keeps it.
type runRecord[T any] interface {
	*T
	run() run
	clone() *T
}

// apply records a checked transition on a run at time t, counting it as
// one change (Revision and UpdatedAt).
func (r run) apply(tr Transition, result json.RawMessage, t time.Time) {
	r.Revision++
	r.UpdatedAt = t
	*r.Status = tr.To
	if tr.Stage != "" {
		*r.Stage = tr.Stage
	}
	if result != nil {
		r.Result = result
	}
	r.Error = ""
	switch tr.To {
	case StatusProcessing:
		r.Attempts++
		st := t
		r.StartedAt = &st
		r.FinishedAt = nil
	case StatusCompleted:
		ft := t
		r.FinishedAt = &ft
	case StatusFailed:
		r.Error = tr.Error
		ft := t
		r.FinishedAt = &ft
	case StatusPending:
		r.FinishedAt = nil
	}
}
