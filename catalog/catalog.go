package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Errors of the catalog; test them with errors.Is.
var (
	// ErrNotFound: no record with that id (or key).
	ErrNotFound = errors.New("catalog: not found")
	// ErrIllegalTransition: the record's state forbids the change (a
	// status move such as COMPLETED → PROCESSING, or a change to a
	// release whose approval was decided). errors.As gives a
	// *TransitionError.
	ErrIllegalTransition = errors.New("catalog: illegal transition")
	// ErrConflict: an optimistic lock failed (Transition.IfRevision no
	// longer matches) or a record with the same id or key exists with
	// different contents.
	ErrConflict = errors.New("catalog: conflict")
	// ErrInvalid: invalid input (empty key, unknown status, invalid JSON,
	// invalid schema name, a NUL character in a string).
	ErrInvalid = errors.New("catalog: invalid input")
	// ErrUnavailable: the database cannot be reached (connection refused
	// or lost, server shutting down or not accepting connections). The
	// error's message may name the host, port, user and database: log it,
	// never show it to a client. errors.As gives an *UnavailableError.
	ErrUnavailable = errors.New("catalog: database unavailable")
)

// UnavailableError is a failure to reach the database. It matches
// ErrUnavailable with errors.Is and unwraps to the driver's error.
type UnavailableError struct {
	Op  string
	Err error
}

// Error names the operation and the database error, never the DSN.
func (e *UnavailableError) Error() string {
	return "catalog: " + e.Op + ": database unavailable: " + e.Err.Error()
}

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unwrap returns the driver's error.
func (e *UnavailableError) Unwrap() error { return e.Err }

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func notFound(kind, id string) error { return fmt.Errorf("%w: %s %q", ErrNotFound, kind, id) }

func conflictf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConflict, fmt.Sprintf(format, args...))
}

// TransitionError describes a refused change. It matches
// ErrIllegalTransition with errors.Is.
type TransitionError struct {
	Kind string // "release", "job" or "task"
	ID   string
	From string // current state
	To   string // requested state
	// Reason says why, when the status move itself is not the problem
	// ("approval already decided").
	Reason string
}

// Error names the record, both statuses and the reason.
func (e *TransitionError) Error() string {
	msg := fmt.Sprintf("catalog: illegal transition of %s %q from %s to %s", e.Kind, e.ID, e.From, e.To)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Is makes errors.Is(err, ErrIllegalTransition) true.
func (e *TransitionError) Is(target error) bool { return target == ErrIllegalTransition }

// Status is the processing status of a Release, Job or Task.
type Status string

// Processing statuses.
const (
	StatusPending    Status = "PENDING"
	StatusProcessing Status = "PROCESSING"
	StatusCompleted  Status = "COMPLETED"
	StatusFailed     Status = "FAILED"
)

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusProcessing, StatusCompleted, StatusFailed:
		return true
	}
	return false
}

// Terminal reports whether s is COMPLETED or FAILED.
func (s Status) Terminal() bool { return s == StatusCompleted || s == StatusFailed }

// transitions lists the legal status moves. COMPLETED is final; FAILED
// may be retried (back to PENDING, or straight to PROCESSING).
var transitions = map[Status][]Status{
	StatusPending:    {StatusProcessing, StatusFailed},
	StatusProcessing: {StatusCompleted, StatusFailed},
	StatusFailed:     {StatusPending, StatusProcessing},
	StatusCompleted:  nil,
}

// CanTransition reports whether a record may move from one status to
// another. Staying in the same status is not a transition.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// ApprovalState is the approval state of a Release.
type ApprovalState string

// Approval states. A Release starts PENDING; the platform's approval flow
// decides it once processing is COMPLETED.
const (
	ApprovalPending  ApprovalState = "PENDING"
	ApprovalApproved ApprovalState = "APPROVED"
	ApprovalRejected ApprovalState = "REJECTED"
)

// Valid reports whether a is one of the three approval states.
func (a ApprovalState) Valid() bool {
	switch a {
	case ApprovalPending, ApprovalApproved, ApprovalRejected:
		return true
	}
	return false
}

// DataTypeZarr is the data type of the Assets of virtual Zarr datasets.
const DataTypeZarr = "zarr"

// Asset is a published dataset resource: one per (DatasetID, ResourceID).
type Asset struct {
	ID         string    `json:"id"`
	DatasetID  string    `json:"dataset_id"`
	ResourceID string    `json:"resource_id"`
	DataType   string    `json:"data_type"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Release is one version of an Asset, produced by one Job.
type Release struct {
	ID      string `json:"id"`
	AssetID string `json:"asset_id"`
	// JobID is the job that produces the release ("" when none was named).
	// An Asset has at most one Release per JobID.
	JobID string `json:"job_id"`
	// Version is the release's ordinal within its Asset: 1, 2, ...
	Version          int           `json:"version"`
	ProcessingStatus Status        `json:"processing_status"`
	ApprovalState    ApprovalState `json:"approval_state"`
	// SubmittedBy is the identity of the caller whose submit created the
	// release ("" when unknown).
	SubmittedBy string `json:"submitted_by,omitempty"`
	// BlobPath is the path of the release's data in its container (for a
	// virtual dataset: the combined reference file, "refs/...").
	BlobPath string `json:"blob_path"`
	// StacItemJSON is the cached STAC item (nil until the register stage).
	StacItemJSON json.RawMessage `json:"stac_item_json,omitempty"`
	// Error is the failure message of a FAILED release.
	Error string `json:"error,omitempty"`
	// Revision grows by one with every change (optimistic locking).
	Revision    int64      `json:"revision"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	// ApprovalAt is when the approval state was last set.
	ApprovalAt *time.Time `json:"approval_at,omitempty"`
	// PrunedAt is when the release's data was deleted (pipeline.Prune);
	// its BlobPath is then empty. A pruned release changes no more.
	PrunedAt *time.Time `json:"pruned_at,omitempty"`
}

// Job is one pipeline run (for example: virtualize one dataset resource).
type Job struct {
	ID string `json:"id"`
	// Type names the kind of job ("virtualize").
	Type string `json:"type"`
	// Stage is the stage the job is in ("ref", "combine", "register").
	Stage     string `json:"stage"`
	Status    Status `json:"status"`
	ReleaseID string `json:"release_id,omitempty"`
	// SubmittedBy is the identity of the caller who submitted the job
	// ("" when unknown).
	SubmittedBy string `json:"submitted_by,omitempty"`
	RunState
}

// Task is one unit of work of a Job (for example: one stage run).
type Task struct {
	ID     string `json:"id"`
	JobID  string `json:"job_id"`
	Type   string `json:"type"`
	Stage  string `json:"stage"`
	Status Status `json:"status"`
	RunState
}

// RunState is what a Job and a Task record of their runs: the parameters,
// the outcome, the attempts and when things happened. Transitions change
// it (with the Status and Stage beside it).
type RunState struct {
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
	// Attempts counts the moves to PROCESSING.
	Attempts int `json:"attempts"`
	// Revision grows by one with every change (optimistic locking).
	Revision   int64      `json:"revision"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// newID returns a new random record id (a UUID).
func newID() string { return uuid.NewString() }

// now returns the current time as both stores keep it: UTC, microseconds.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// normJSON checks a JSON document and returns it, or def when it is empty.
func normJSON(what string, raw json.RawMessage, def string) (json.RawMessage, error) {
	if len(raw) == 0 {
		if def == "" {
			return nil, nil
		}
		return json.RawMessage(def), nil
	}
	if !json.Valid(raw) {
		return nil, invalidf("%s is not valid JSON", what)
	}
	if bytes.Contains(raw, []byte(`\u0000`)) && jsonHasNUL(raw) {
		return nil, invalidf("%s holds a NUL character", what)
	}
	return append(json.RawMessage(nil), raw...), nil
}

// jsonHasNUL reports whether a valid JSON document has a NUL character in
// a string (PostgreSQL's jsonb cannot store one).
func jsonHasNUL(raw json.RawMessage) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if s, ok := tok.(string); ok && strings.ContainsRune(s, 0) {
			return true
		}
	}
}

// checkText refuses NUL characters in text fields (PostgreSQL's text
// cannot store one; both stores refuse them alike).
func checkText(fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if strings.ContainsRune(fields[i+1], 0) {
			return invalidf("%s holds a NUL character", fields[i])
		}
	}
	return nil
}
