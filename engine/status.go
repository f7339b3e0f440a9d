package engine

import (
	"context"
	"encoding/json"
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
	DurationMS int64                  `json:"duration_ms,omitempty"`
}

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

func (e *Engine) summary(ctx context.Context, def *Definition, job *catalog.Job) (*JobSummary, error) {
	sum := &JobSummary{}
	for _, st := range def.Stages {
		g, err := e.store.GetTask(ctx, GateID(job.ID, st.Name))
		if err != nil {
			return nil, err
		}
		sum.Stages = append(sum.Stages, stageSummary(g))
	}
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
}

// Status reads a job's state with two catalog reads.
func Status(ctx context.Context, store catalog.Store, jobID string) (*JobStatus, error) {
	job, err := store.GetJob(ctx, jobID)
	if err != nil {
		return nil, err
	}
	tasks, err := store.ListTasks(ctx, jobID)
	if err != nil {
		return nil, err
	}
	return statusOf(job, tasks), nil
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
	for _, t := range tasks {
		if t.Type == GateType || t.Type == failureType {
			continue
		}
		st.Tasks[t.Status]++
		if i, ok := index[t.Stage]; ok {
			s := &st.Stages[i]
			if s.Counts == nil {
				s.Counts = map[catalog.Status]int{}
			}
			s.Counts[t.Status]++
		}
	}
	if job.Status == catalog.StatusFailed {
		st.Failure = jobFailure(job)
	}
	return st
}

// IsInternal reports engine bookkeeping records (stage gates, failure
// markers) among a job's tasks.
func IsInternal(t *catalog.Task) bool { return t.Type == GateType || t.Type == failureType }
