package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/internal/backoff"
)

// GateType is the task type of stage gates (see the package documentation).
const GateType = "engine.stage"

// Defaults of Options.
const (
	DefaultLeaseTimeout  = 10 * time.Minute
	DefaultFanoutTimeout = 2 * time.Minute
	DefaultMaxAttempts   = 3
	// DefaultFailureHookAttempts is the default of
	// Options.FailureHookAttempts.
	DefaultFailureHookAttempts = 5
	DefaultRetryBackoff        = 2 * time.Second
	DefaultMaxRetryDelay       = 30 * time.Second
	DefaultShutdownGrace       = 30 * time.Second
	DefaultSweepInterval       = 30 * time.Second
	DefaultPendingAfter        = 2 * time.Minute
	DefaultStageDeadline       = 6 * time.Hour
)

// Error types the engine itself gives failures (Failure.ErrorType and the
// task envelopes).
const (
	// ErrTypeWorkerLost: the task's last attempt lost its lease (its
	// worker died or hung) and it had no attempts left.
	ErrTypeWorkerLost = "worker_lost"
	// ErrTypeTimeout: a stage stayed open longer than
	// Options.StageDeadline.
	ErrTypeTimeout = "timeout"
)

// retryMarker starts the Error of a task that failed in a way that will be
// retried (a lost worker, a retryable error). Such a task is not a failure
// of its job: the next delivery claims it again.
const retryMarker = "retrying: "

// Errors of the engine.
var (
	// ErrUnknownJobType: a job whose type has no Definition.
	ErrUnknownJobType = errors.New("engine: unknown job type")
	// ErrInvalidDefinition: a Definition that cannot run.
	ErrInvalidDefinition = errors.New("engine: invalid definition")
)

// Store is what the engine needs of a catalog: its jobs and tasks
// (catalog.Store has these methods, with the same contracts).
type Store interface {
	GetJob(ctx context.Context, id string) (*catalog.Job, error)
	TransitionJob(ctx context.Context, id string, t catalog.Transition) (*catalog.Job, error)
	ListJobs(ctx context.Context, f catalog.JobFilter) ([]*catalog.Job, error)
	TouchJob(ctx context.Context, id string, ifRevision int64) (*catalog.Job, error)
	CreateTask(ctx context.Context, t catalog.NewTask) (*catalog.Task, error)
	GetTask(ctx context.Context, id string) (*catalog.Task, error)
	ListTasks(ctx context.Context, jobID string) ([]*catalog.Task, error)
	FindTasks(ctx context.Context, f catalog.TaskFilter) ([]*catalog.Task, error)
	TransitionTask(ctx context.Context, id string, t catalog.Transition) (*catalog.Task, error)
}

// The catalog's stores are engine stores.
var _ Store = catalog.Store(nil)

// Definition describes a job type.
type Definition struct {
	// Type is the catalog.Job Type of the jobs it runs.
	Type string
	// Stages run in order; each starts when every task of the one before
	// has completed.
	Stages []Stage
	// OnStart runs when the job starts its first stage. It must be
	// idempotent (it may run more than once); an error fails the job.
	OnStart func(ctx context.Context, job *catalog.Job) error
	// OnFailure runs when the job fails, at least once, before the job
	// becomes FAILED (job is still PROCESSING when it is called); it must
	// be idempotent. Its error is logged and the hook is tried again on
	// the next delivery of the job's message, after a delay that doubles
	// from Options.RetryBackoff; the job becomes FAILED once the hook has
	// returned nil, or, after Options.FailureHookAttempts runs that
	// failed (or lost their worker), anyway, with the hook's last error
	// in Failure.HookError.
	OnFailure func(ctx context.Context, job *catalog.Job, f *Failure) error
	// OnComplete runs once the job has completed, in the worker that
	// completed it (best effort: it is not run again if that worker dies
	// first; put what must happen in the last stage).
	OnComplete func(ctx context.Context, job *catalog.Job) error
}

// Stage is one step of a job.
type Stage struct {
	// Name of the stage ("scan", "validate", ...), unique in its
	// Definition; it names the gate and the tasks.
	Name string
	// TaskType is the Type of the stage's tasks; default Name.
	TaskType string
	// Plan returns the params of the stage's tasks, one per task (none is
	// allowed: the stage then completes at once). done holds the
	// COMPLETED tasks of the earlier stages by stage name, in creation
	// order; Result(task) gives a task's result. An error fails the job.
	// Plan must be deterministic: after a crash it may run again.
	Plan func(ctx context.Context, job *catalog.Job, done map[string][]*catalog.Task) ([]json.RawMessage, error)
	// Run executes one task and returns its result (the "result" of its
	// envelope). Errors for which Options.IsRetryable is true are retried
	// up to Options.MaxAttempts; other errors fail the job.
	Run func(ctx context.Context, job *catalog.Job, task *catalog.Task) (json.RawMessage, error)
}

func (s *Stage) taskType() string {
	if s.TaskType != "" {
		return s.TaskType
	}
	return s.Name
}

// Failure says why a job failed.
type Failure struct {
	Stage  string `json:"stage"`
	TaskID string `json:"task_id,omitempty"`
	// Error is the failing task's (or plan's) error message.
	Error string `json:"error"`
	// ErrorType classifies it (Options.ErrorType).
	ErrorType string `json:"error_type"`
	// HookError is the last error of the OnFailure hook when it was given
	// up (Options.FailureHookAttempts): the job failed without the hook's
	// work done (what it should have cleaned up may remain).
	HookError string `json:"hook_error,omitempty"`
}

// Message is the Job.Error of the failure: "stage NAME: ERROR".
func (f *Failure) Message() string { return "stage " + f.Stage + ": " + f.Error }

// TaskEvent reports a finished task run to an Observer.
type TaskEvent struct {
	Job      *catalog.Job
	Task     *catalog.Task
	Stage    string
	Err      error // nil on success
	Duration time.Duration
}

// StageEvent reports a stage whose tasks were published. A stage's
// StageStarted comes after every TaskDone of the stage before it
// finished, but TaskDone events of one stage may arrive after the next
// stage started.
type StageEvent struct {
	Job   *catalog.Job
	Stage string
	Index int
	Tasks int
	// Params are the tasks' params, in plan order.
	Params []json.RawMessage
}

// Observer receives the engine's progress events, from the workers'
// goroutines (it must be safe for concurrent use). Any field may be nil.
type Observer struct {
	TaskDone     func(TaskEvent)
	StageStarted func(StageEvent)
	JobDone      func(job *catalog.Job)
}

// Options tunes an Engine. Zero fields take the defaults.
type Options struct {
	Logger *slog.Logger
	// LeaseTimeout: a task PROCESSING for longer than this is considered
	// abandoned by its worker and is taken over by the next delivery of
	// its message or by the sweeper (default DefaultLeaseTimeout, 10
	// minutes). Tasks must finish within it.
	LeaseTimeout time.Duration
	// FanoutTimeout: a stage gate left PENDING (its tasks being created
	// and published) for longer than this is planned and published again.
	FanoutTimeout time.Duration
	// MaxAttempts bounds the runs of a task (retryable errors, lost
	// workers); a task that used them fails its job.
	MaxAttempts int
	// RetryBackoff is the delay before the first retry of a task; it
	// doubles with each attempt, up to MaxRetryDelay. The retries of
	// receiving and of messages that failed on the catalog or the broker
	// grow the same way per consecutive failure, with jitter.
	RetryBackoff  time.Duration
	MaxRetryDelay time.Duration
	// FailureHookAttempts bounds the runs of a failing job's OnFailure
	// hook (those that returned an error or lost their worker): then the
	// hook is given up, the job becomes FAILED anyway with the hook's
	// last error in Failure.HookError, and an ERROR is logged. Between
	// runs the delay doubles from RetryBackoff up to MaxRetryDelay.
	// Default DefaultFailureHookAttempts.
	FailureHookAttempts int
	// Concurrency is the number of messages Work handles at once;
	// default 4 × GOMAXPROCS (tasks mostly wait for storage).
	Concurrency int
	// ShutdownGrace is how long Work lets running tasks finish after its
	// context ends; then their contexts are canceled.
	ShutdownGrace time.Duration
	// IsRetryable says whether a task error may go away on its own
	// (storage briefly unavailable); default: never.
	IsRetryable func(error) bool
	// ErrorType classifies task errors for their envelopes and the
	// Failure; default "error".
	ErrorType func(error) string
	// Observer receives progress events.
	Observer Observer
	// PublishConcurrency bounds concurrent publishes of a fan-out;
	// default 16.
	PublishConcurrency int
	// SweepInterval is how often Work runs Sweep (with up to 10% jitter);
	// default DefaultSweepInterval, negative: never.
	SweepInterval time.Duration
	// PendingAfter: a job still PENDING (never started) this long after
	// its last change lost its message; Sweep enqueues it again. Default
	// DefaultPendingAfter.
	PendingAfter time.Duration
	// StageDeadline: a job whose current stage has been open for longer
	// fails with error_type "timeout". Default DefaultStageDeadline;
	// negative: no deadline.
	StageDeadline time.Duration
	// Now is the engine's clock (tests move it); default time.Now.
	Now func() time.Time
}

// Engine runs jobs of its Definitions.
type Engine struct {
	store Store
	pub   Publisher
	defs  map[string]*Definition
	opts  Options
	log   *slog.Logger

	hintMu sync.Mutex
	hints  map[string]string // job/stage → a task id known not to be COMPLETED
	// done holds gates seen COMPLETED, by ID: COMPLETED is final, so a
	// task's advance reads only the gates of the stages still open.
	done map[string]*catalog.Task

	// retry spaces the retries of the receive loop and of failed
	// messages; the outages log one line per state change.
	retry                    backoff.Backoff
	recvOutage, handleOutage *outage
	sweepOutage              *outage
}

// New returns an Engine over store that publishes with pub.
func New(store Store, pub Publisher, opts Options, defs ...*Definition) (*Engine, error) {
	if store == nil || pub == nil {
		return nil, fmt.Errorf("%w: a store and a publisher are required", ErrInvalidDefinition)
	}
	e := &Engine{store: store, pub: pub, defs: map[string]*Definition{}, opts: opts, hints: map[string]string{},
		done: map[string]*catalog.Task{}}
	if e.opts.LeaseTimeout <= 0 {
		e.opts.LeaseTimeout = DefaultLeaseTimeout
	}
	if e.opts.FanoutTimeout <= 0 {
		e.opts.FanoutTimeout = DefaultFanoutTimeout
	}
	if e.opts.MaxAttempts <= 0 {
		e.opts.MaxAttempts = DefaultMaxAttempts
	}
	if e.opts.FailureHookAttempts <= 0 {
		e.opts.FailureHookAttempts = DefaultFailureHookAttempts
	}
	if e.opts.RetryBackoff <= 0 {
		e.opts.RetryBackoff = DefaultRetryBackoff
	}
	if e.opts.MaxRetryDelay <= 0 {
		e.opts.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if e.opts.Concurrency <= 0 {
		e.opts.Concurrency = 4 * runtime.GOMAXPROCS(0)
	}
	if e.opts.ShutdownGrace <= 0 {
		e.opts.ShutdownGrace = DefaultShutdownGrace
	}
	if e.opts.PublishConcurrency <= 0 {
		e.opts.PublishConcurrency = 16
	}
	if e.opts.IsRetryable == nil {
		e.opts.IsRetryable = func(error) bool { return false }
	}
	if e.opts.ErrorType == nil {
		e.opts.ErrorType = func(error) string { return "error" }
	}
	if e.opts.SweepInterval == 0 {
		e.opts.SweepInterval = DefaultSweepInterval
	}
	if e.opts.PendingAfter <= 0 {
		e.opts.PendingAfter = DefaultPendingAfter
	}
	if e.opts.StageDeadline == 0 {
		e.opts.StageDeadline = DefaultStageDeadline
	}
	if e.opts.Now == nil {
		e.opts.Now = time.Now
	}
	e.log = e.opts.Logger
	if e.log == nil {
		e.log = slog.Default()
	}
	e.retry = backoff.Backoff{Initial: e.opts.RetryBackoff, Max: e.opts.MaxRetryDelay, Jitter: 0.5}
	e.recvOutage = &outage{what: "receiving messages", log: e.log, now: e.opts.Now}
	e.handleOutage = &outage{what: "handling messages", log: e.log, now: e.opts.Now, step: e.backoff}
	e.sweepOutage = &outage{what: "sweeping", log: e.log, now: e.opts.Now}
	for _, d := range defs {
		if err := d.check(); err != nil {
			return nil, err
		}
		if _, dup := e.defs[d.Type]; dup {
			return nil, fmt.Errorf("%w: job type %q defined twice", ErrInvalidDefinition, d.Type)
		}
		e.defs[d.Type] = d
	}
	return e, nil
}

func (d *Definition) check() error {
	if d.Type == "" || len(d.Stages) == 0 {
		return fmt.Errorf("%w: a type and stages are required", ErrInvalidDefinition)
	}
	seen := map[string]bool{}
	for _, s := range d.Stages {
		switch {
		case s.Name == "" || strings.Contains(s.Name, "/"):
			return fmt.Errorf("%w: %s: stage name %q (non-empty, no '/')", ErrInvalidDefinition, d.Type, s.Name)
		case seen[s.Name]:
			return fmt.Errorf("%w: %s: stage %q defined twice", ErrInvalidDefinition, d.Type, s.Name)
		case s.Plan == nil || s.Run == nil:
			return fmt.Errorf("%w: %s: stage %q needs Plan and Run", ErrInvalidDefinition, d.Type, s.Name)
		case s.taskType() == GateType:
			return fmt.Errorf("%w: %s: task type %q is reserved", ErrInvalidDefinition, d.Type, GateType)
		}
		seen[s.Name] = true
	}
	return nil
}

// Store returns the engine's catalog.
func (e *Engine) Store() Store { return e.store }

// Definition returns the definition of a job type, or nil.
func (e *Engine) Definition(jobType string) *Definition { return e.defs[jobType] }

// GateID is the id of stage stage's gate in job jobID.
func GateID(jobID, stage string) string { return jobID + "/" + stage }

// TaskID is the id of the i-th task of stage stage in job jobID.
func TaskID(jobID, stage string, i int) string { return fmt.Sprintf("%s/%s/%05d", jobID, stage, i) }

// Enqueue publishes the message that starts (or resumes) job jobID. It may
// be sent any number of times.
func (e *Engine) Enqueue(ctx context.Context, jobID string) error {
	return e.pub.Publish(ctx, Message{JobID: jobID})
}

// envelope is the stored form of a task result.
type envelope struct {
	Success   bool            `json:"success"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     string          `json:"error,omitempty"`
	ErrorType string          `json:"error_type,omitempty"`
	// LeasesLost counts the task's attempts whose lease expired.
	LeasesLost int `json:"leases_lost,omitempty"`
}

// Result returns the "result" of a completed task's envelope (nil when
// there is none).
func Result(t *catalog.Task) json.RawMessage {
	var env envelope
	if len(t.Result) == 0 || json.Unmarshal(t.Result, &env) != nil {
		return nil
	}
	return env.Result
}

// Decode unmarshals the result of a completed task into v.
func Decode(t *catalog.Task, v any) error {
	r := Result(t)
	if r == nil {
		return fmt.Errorf("engine: task %s has no result", t.ID)
	}
	if err := json.Unmarshal(r, v); err != nil {
		return fmt.Errorf("engine: task %s: result: %w", t.ID, err)
	}
	return nil
}

func successEnvelope(result json.RawMessage) json.RawMessage {
	if len(result) == 0 {
		result = json.RawMessage("null")
	}
	b, _ := json.Marshal(envelope{Success: true, Result: result})
	return b
}

func failureEnvelope(msg, typ string, leasesLost int) json.RawMessage {
	b, _ := json.Marshal(envelope{Success: false, Error: msg, ErrorType: typ, LeasesLost: leasesLost})
	return b
}

// leasesLost reads how many attempts of a task lost their lease.
func leasesLost(t *catalog.Task) int {
	var env envelope
	if len(t.Result) == 0 || json.Unmarshal(t.Result, &env) != nil {
		return 0
	}
	return env.LeasesLost
}

// RetryError asks the transport to deliver the message again after a
// delay (the task is held by another worker, or will be retried).
type RetryError struct {
	After  time.Duration
	Reason string
}

// Error gives the delay and the reason.
func (e *RetryError) Error() string {
	return fmt.Sprintf("engine: deliver again in %s: %s", e.After.Round(time.Millisecond), e.Reason)
}

func retryLater(after time.Duration, format string, args ...any) error {
	return &RetryError{After: after, Reason: fmt.Sprintf(format, args...)}
}

// isRace reports errors that mean another worker changed the record first.
func isRace(err error) bool {
	return errors.Is(err, catalog.ErrConflict) || errors.Is(err, catalog.ErrIllegalTransition)
}

// now reads the engine's clock.
func (e *Engine) now() time.Time { return e.opts.Now() }

// backoff is the retry delay of a task's attempt, without jitter.
func (e *Engine) backoff(attempt int) time.Duration {
	return backoff.Backoff{Initial: e.opts.RetryBackoff, Max: e.opts.MaxRetryDelay, Jitter: -1}.Delay(attempt)
}
