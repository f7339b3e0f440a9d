package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/greensight/vzarr/catalog"
)

// StageSummary is one stage of a job as its gate and tasks record it.
type StageSummary struct {
	Name   string         `json:"name"`
	Status catalog.Status `json:"status"`
	Tasks  int            `json:"tasks"`
	// Counts are the tasks by status.
	Counts     map[catalog.Status]int `json:"counts,omitempty"`
	StartedAt  *time.Time             `json:"started_at,omitempty"`
	FinishedAt *time.Time             `json:"finished_at,omitempty"`
	// DurationMS is the stage's span: from its opening (planning,
	// publishing) to its advance.
	DurationMS int64 `json:"duration_ms"`
	// WaitMS is the time from the opening to the first task's start
	// (planning, publishing, the queue's delivery latency).
	WaitMS int64 `json:"wait_ms"`
	// RunMS is the time from the first task's start to the last task's
	// end; BusyMS adds up the tasks' own run times.
	RunMS  int64 `json:"run_ms"`
	BusyMS int64 `json:"busy_ms"`
	// Waiting lists the running tasks an open stage waits for once it has
	// nothing else to start (at most maxWaiting, longest running first),
	// and any task whose lease has expired: if a task's worker was lost,
	// the task is taken over when its lease ends.
	Waiting []LeaseWait `json:"waiting,omitempty"`
}

// LeaseWait is a running task whose stage waits for it.
type LeaseWait struct {
	TaskID    string    `json:"task_id"`
	Attempt   int       `json:"attempt"`
	StartedAt time.Time `json:"started_at"`
	// Until is the end of the attempt's lease: a lost worker's task is
	// taken over then.
	Until time.Time `json:"until"`
	// Expired: the lease has ended; the next delivery of the task's
	// message, or the next sweep, takes it over.
	Expired bool `json:"expired,omitempty"`
}

// maxWaiting bounds StageSummary.Waiting.
const maxWaiting = 10

// JobSummary is the Result a completed job records.
type JobSummary struct {
	Stages     []StageSummary `json:"stages"`
	DurationMS int64          `json:"duration_ms"`
	// Result is the result of the last stage's task when it has one task.
	Result json.RawMessage `json:"result,omitempty"`
}

func stageSummary(gate *catalog.Task) StageSummary {
	s := StageSummary{Name: gate.Stage, Status: gate.Status, Tasks: gateTasks(gate)}
	s.StartedAt = &gate.CreatedAt
	if gate.Status.Terminal() && gate.FinishedAt != nil {
		s.FinishedAt = gate.FinishedAt
		s.DurationMS = gate.FinishedAt.Sub(gate.CreatedAt).Milliseconds()
	}
	return s
}

// addTask adds a task's times to its stage's summary.
func (s *StageSummary) addTask(t *catalog.Task, first, last *time.Time) {
	if s.Counts == nil {
		s.Counts = map[catalog.Status]int{}
	}
	s.Counts[t.Status]++
	if t.StartedAt == nil {
		return
	}
	if first.IsZero() || t.StartedAt.Before(*first) {
		*first = *t.StartedAt
	}
	if t.FinishedAt != nil {
		if t.FinishedAt.After(*last) {
			*last = *t.FinishedAt
		}
		s.BusyMS += t.FinishedAt.Sub(*t.StartedAt).Milliseconds()
	}
}

// summarize fills the stages' task counts and times from the tasks.
func summarize(stages []StageSummary, index map[string]int, tasks []*catalog.Task) map[catalog.Status]int {
	counts := map[catalog.Status]int{}
	first := make([]time.Time, len(stages))
	last := make([]time.Time, len(stages))
	for _, t := range tasks {
		if t.Type == GateType || t.Type == failureType {
			continue
		}
		counts[t.Status]++
		if i, ok := index[t.Stage]; ok {
			stages[i].addTask(t, &first[i], &last[i])
		}
	}
	for i := range stages {
		s := &stages[i]
		if !first[i].IsZero() && s.StartedAt != nil {
			s.WaitMS = first[i].Sub(*s.StartedAt).Milliseconds()
			if !last[i].IsZero() {
				s.RunMS = last[i].Sub(first[i]).Milliseconds()
			}
		}
	}
	return counts
}

func (e *Engine) summary(ctx context.Context, def *Definition, job *catalog.Job) (*JobSummary, error) {
	sum := &JobSummary{}
	tasks, err := listBrief(ctx, e.store, job.ID)
	if err != nil {
		return nil, err
	}
	gates := map[string]*catalog.Task{}
	for _, t := range tasks {
		if t.Type == GateType {
			gates[t.Stage] = t
		}
	}
	index := map[string]int{}
	for _, st := range def.Stages {
		g := gates[st.Name]
		if g == nil {
			return nil, fmt.Errorf("engine: job %s has no gate for stage %s", job.ID, st.Name)
		}
		index[st.Name] = len(sum.Stages)
		sum.Stages = append(sum.Stages, stageSummary(g))
	}
	summarize(sum.Stages, index, tasks)
	if job.StartedAt != nil {
		sum.DurationMS = time.Since(*job.StartedAt).Milliseconds()
	}
	last := def.Stages[len(def.Stages)-1]
	if sum.Stages[len(sum.Stages)-1].Tasks == 1 {
		t, err := e.store.GetTask(ctx, TaskID(job.ID, last.Name, 0))
		if err != nil {
			return nil, err
		}
		sum.Result = Result(t)
	}
	return sum, nil
}

// JobStatus is a job's state for status endpoints: the job, its current
// stage and its stages' task counts.
type JobStatus struct {
	Job *catalog.Job `json:"job"`
	// Stage is the latest opened stage ("" before the first).
	Stage  string         `json:"stage"`
	Stages []StageSummary `json:"stages"`
	// Tasks counts the job's tasks by status, all stages together.
	Tasks map[catalog.Status]int `json:"tasks"`
	// Failure is set for a FAILED job.
	Failure *Failure `json:"failure,omitempty"`
	// Note says what a PROCESSING job waits for: when it is failing (its
	// failure is recorded, its OnFailure hook pending or running; the job
	// becomes FAILED once the hook has completed), "failing: cleaning up
	// after stage S: ERROR"; when its current stage waits on a task whose
	// worker may be lost, "waiting for lease of task X until T".
	Note string `json:"note,omitempty"`
}

// Status reads a job's state with two catalog reads, judging leases by
// DefaultLeaseTimeout (Engine.Status uses the engine's).
func Status(ctx context.Context, store Store, jobID string) (*JobStatus, error) {
	return readStatus(ctx, store, jobID, DefaultLeaseTimeout, time.Now())
}

// Status reads a job's state with two catalog reads, judging leases by
// the engine's LeaseTimeout and clock.
func (e *Engine) Status(ctx context.Context, jobID string) (*JobStatus, error) {
	return readStatus(ctx, e.store, jobID, e.opts.LeaseTimeout, e.now())
}

func readStatus(ctx context.Context, store Store, jobID string, lease time.Duration, now time.Time) (*JobStatus, error) {
	job, err := store.GetJob(ctx, jobID)
	if err != nil {
		return nil, err
	}
	tasks, err := listBrief(ctx, store, jobID)
	if err != nil {
		return nil, err
	}
	st := statusOf(job, tasks)
	if job.Status == catalog.StatusProcessing {
		st.addWaiting(tasks, lease, now)
		st.addFailing(job, tasks)
	}
	return st, nil
}

// addFailing sets the Note of a failing job: its failure is recorded (on
// the failure marker, or on the FAILED gate alone before the marker is
// created) and its OnFailure hook has not completed.
func (st *JobStatus) addFailing(job *catalog.Job, tasks []*catalog.Task) {
	var f *Failure
	var marker *catalog.Task
	for _, t := range tasks {
		switch {
		case t.Type == failureType:
			marker = t
			f = markerFailure(t, job)
		case t.Type == GateType && t.Status == catalog.StatusFailed && f == nil:
			f = gateFailure(t)
		}
	}
	if f == nil {
		return
	}
	st.Note = "failing: cleaning up after " + f.Message()
	if marker != nil && marker.Status == catalog.StatusFailed && strings.HasPrefix(marker.Error, retryMarker) {
		st.Note += " (the cleanup failed and will be retried: " + strings.TrimPrefix(marker.Error, retryMarker) + ")"
	}
	if (marker == nil || marker.Status != catalog.StatusProcessing) && f.ErrorType != ErrTypeTimeout {
		running := 0
		for _, t := range tasks {
			if !IsInternal(t) && t.Status == catalog.StatusProcessing {
				running++
			}
		}
		if running > 0 {
			st.Note += fmt.Sprintf(" (once %d running task(s) end)", running)
		}
	}
}

// addWaiting fills the open stages' Waiting and the job's Note.
func (st *JobStatus) addWaiting(tasks []*catalog.Task, lease time.Duration, now time.Time) {
	for i := range st.Stages {
		s := &st.Stages[i]
		if s.Status.Terminal() {
			continue
		}
		var running []*catalog.Task
		for _, t := range tasks {
			if t.Stage == s.Name && !IsInternal(t) && t.Status == catalog.StatusProcessing && t.StartedAt != nil {
				running = append(running, t)
			}
		}
		sort.SliceStable(running, func(a, b int) bool { return running[a].StartedAt.Before(*running[b].StartedAt) })
		tail := s.Counts[catalog.StatusPending] == 0
		for _, t := range running {
			until := t.StartedAt.Add(lease)
			expired := !now.Before(until)
			if (tail || expired) && len(s.Waiting) < maxWaiting {
				s.Waiting = append(s.Waiting, LeaseWait{TaskID: t.ID, Attempt: t.Attempts, StartedAt: *t.StartedAt,
					Until: until, Expired: expired})
			}
		}
		if s.Name == st.Stage && len(s.Waiting) > 0 {
			w := s.Waiting[0]
			if w.Expired {
				st.Note = fmt.Sprintf("lease of task %s expired at %s; waiting for its take-over", w.TaskID, w.Until.Format(time.RFC3339))
			} else {
				st.Note = fmt.Sprintf("waiting for lease of task %s until %s", w.TaskID, w.Until.Format(time.RFC3339))
			}
		}
	}
}

func statusOf(job *catalog.Job, tasks []*catalog.Task) *JobStatus {
	st := &JobStatus{Job: job, Stages: []StageSummary{}, Tasks: map[catalog.Status]int{}}
	index := map[string]int{}
	for _, t := range tasks {
		if t.Type == GateType {
			index[t.Stage] = len(st.Stages)
			st.Stages = append(st.Stages, stageSummary(t))
			st.Stage = t.Stage
		}
	}
	st.Tasks = summarize(st.Stages, index, tasks)
	if job.Status == catalog.StatusFailed {
		st.Failure = jobFailure(job)
	}
	return st
}

// listBrief lists a job's tasks for a status, a summary or a stage check,
// which read the params and results of the gates and the failure marker
// and the results of FAILED tasks only: without the other tasks' JSON when
// the store can (catalog.BriefTaskLister).
func listBrief(ctx context.Context, store Store, jobID string) ([]*catalog.Task, error) {
	if l, ok := store.(catalog.BriefTaskLister); ok {
		return l.ListTasksBrief(ctx, jobID, []string{GateType, failureType})
	}
	return store.ListTasks(ctx, jobID)
}

// IsInternal reports engine bookkeeping records (stage gates, failure
// markers) among a job's tasks.
func IsInternal(t *catalog.Task) bool { return t.Type == GateType || t.Type == failureType }
