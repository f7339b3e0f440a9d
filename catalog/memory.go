package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"
)

// Memory is the in-process Store: one mutex over maps. The zero value is
// not usable; call NewMemory.
type Memory struct {
	mu       sync.Mutex
	assets   map[string]*Asset
	assetKey map[[2]string]string // (dataset_id, resource_id) → asset id
	releases map[string]*Release
	jobs     map[string]*Job
	tasks    map[string]*Task
	taskSeq  map[string]int64
	jobTasks map[string][]string // job id → its task ids in creation order
	seq      int64
	clock    func() time.Time
}

var (
	_ Store       = (*Memory)(nil)
	_ TaskBatcher = (*Memory)(nil)
)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{
		assets:   map[string]*Asset{},
		assetKey: map[[2]string]string{},
		releases: map[string]*Release{},
		jobs:     map[string]*Job{},
		tasks:    map[string]*Task{},
		taskSeq:  map[string]int64{},
		jobTasks: map[string][]string{},
	}
}

// Close does nothing.
func (m *Memory) Close() {}

// SetClock makes the store stamp records with clock's time instead of the
// system clock's (tests move time with it). Call it before using the
// store.
func (m *Memory) SetClock(clock func() time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.clock = clock
}

// now is the store's time, as now() keeps it.
func (m *Memory) now() time.Time {
	if m.clock == nil {
		return now()
	}
	return m.clock().UTC().Truncate(time.Microsecond)
}

func cloneJSON(b json.RawMessage) json.RawMessage {
	if b == nil {
		return nil
	}
	return append(json.RawMessage(nil), b...)
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

func (a *Asset) clone() *Asset { c := *a; return &c }

func (r *Release) clone() *Release {
	c := *r
	c.StacItemJSON = cloneJSON(r.StacItemJSON)
	c.CompletedAt = cloneTime(r.CompletedAt)
	c.ApprovalAt = cloneTime(r.ApprovalAt)
	c.PrunedAt = cloneTime(r.PrunedAt)
	return &c
}

func (j *Job) clone() *Job {
	c := *j
	c.RunState = j.RunState.clone()
	return &c
}

func (t *Task) clone() *Task {
	c := *t
	c.RunState = t.RunState.clone()
	return &c
}

// clone copies s deeply: the copy shares no JSON or time with s.
func (s RunState) clone() RunState {
	s.Params, s.Result = cloneJSON(s.Params), cloneJSON(s.Result)
	s.StartedAt, s.FinishedAt = cloneTime(s.StartedAt), cloneTime(s.FinishedAt)
	return s
}

// newRunState is the state of a new Job or Task: revision 1, created at t.
func newRunState(params json.RawMessage, t time.Time) RunState {
	return RunState{Params: params, Revision: 1, CreatedAt: t, UpdatedAt: t}
}

// EnsureRelease implements Store.
func (m *Memory) EnsureRelease(ctx context.Context, key ReleaseKey) (*EnsureResult, error) {
	if err := key.norm(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	res, commit, err := m.planEnsure(key)
	if err != nil {
		return nil, err
	}
	commit()
	return res, nil
}

// planEnsure works out EnsureRelease's result under the lock without
// storing anything; commit stores the records it would create.
func (m *Memory) planEnsure(key ReleaseKey) (*EnsureResult, func(), error) {
	res := &EnsureResult{}
	t := m.now()
	k := [2]string{key.DatasetID, key.ResourceID}
	var todo []func()
	commit := func() {
		for _, f := range todo {
			f()
		}
	}
	a, ok := m.assets[m.assetKey[k]]
	if !ok {
		a = &Asset{ID: newID(), DatasetID: key.DatasetID, ResourceID: key.ResourceID, DataType: key.DataType, CreatedAt: t, UpdatedAt: t}
		todo = append(todo, func() {
			m.assets[a.ID] = a
			m.assetKey[k] = a.ID
		})
		res.AssetCreated = true
	} else if a.DataType != key.DataType {
		return nil, nil, conflictf("asset %q has data type %q, not %q", a.ID, a.DataType, key.DataType)
	}
	res.Asset = a.clone()
	version := 0
	for _, r := range m.releases {
		if r.AssetID != a.ID {
			continue
		}
		if r.JobID == key.JobID {
			res.Release = r.clone()
			return res, commit, nil
		}
		version = max(version, r.Version)
	}
	r := &Release{ID: newID(), AssetID: a.ID, JobID: key.JobID, Version: version + 1, SubmittedBy: key.SubmittedBy,
		ProcessingStatus: StatusPending, ApprovalState: ApprovalPending, Revision: 1, CreatedAt: t, UpdatedAt: t}
	todo = append(todo, func() { m.releases[r.ID] = r })
	res.Release, res.ReleaseCreated = r.clone(), true
	return res, commit, nil
}

// CreateRun implements Store: nothing is stored until every check passed.
func (m *Memory) CreateRun(ctx context.Context, key ReleaseKey, job func(*EnsureResult) (NewJob, error)) (*EnsureResult, *Job, error) {
	if err := key.norm(); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	res, commit, err := m.planEnsure(key)
	if err != nil {
		return nil, nil, err
	}
	nj, err := job(res)
	if err != nil {
		return nil, nil, err
	}
	nj.ReleaseID = res.Release.ID
	j, err := m.newJobLocked(nj)
	if err != nil {
		return nil, nil, err
	}
	commit()
	m.jobs[j.ID] = j
	return res, j.clone(), nil
}

// newJobLocked checks a new Job under the lock and returns it, unstored.
func (m *Memory) newJobLocked(nj NewJob) (*Job, error) {
	params, err := nj.norm()
	if err != nil {
		return nil, err
	}
	if _, ok := m.jobs[nj.ID]; ok {
		return nil, conflictf("job %q exists", nj.ID)
	}
	t := m.now()
	return &Job{ID: nj.ID, Type: nj.Type, Stage: nj.Stage, Status: StatusPending, ReleaseID: nj.ReleaseID,
		SubmittedBy: nj.SubmittedBy, RunState: newRunState(params, t)}, nil
}

// memGet returns a copy of record id of kind from recs.
func memGet[T any, P interface {
	*T
	clone() *T
}](m *Memory, recs map[string]P, kind, id string) (*T, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := recs[id]
	if !ok {
		return nil, notFound(kind, id)
	}
	return rec.clone(), nil
}

// GetAsset implements Store.
func (m *Memory) GetAsset(_ context.Context, id string) (*Asset, error) {
	return memGet(m, m.assets, "asset", id)
}

// FindAsset implements Store.
func (m *Memory) FindAsset(_ context.Context, datasetID, resourceID string) (*Asset, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.assets[m.assetKey[[2]string{datasetID, resourceID}]]
	if !ok {
		return nil, notFound("asset", datasetID+"/"+resourceID)
	}
	return a.clone(), nil
}

// GetRelease implements Store.
func (m *Memory) GetRelease(_ context.Context, id string) (*Release, error) {
	return memGet(m, m.releases, "release", id)
}

// ListReleases implements Store.
func (m *Memory) ListReleases(_ context.Context, assetID string) ([]*Release, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []*Release{}
	for _, r := range m.releases {
		if r.AssetID == assetID {
			out = append(out, r.clone())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// updateRelease runs fn on release id under the lock and bumps its
// revision when fn succeeds.
func (m *Memory) updateRelease(id string, fn func(r *Release, t time.Time) error) (*Release, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.releases[id]
	if !ok {
		return nil, notFound("release", id)
	}
	c := r.clone()
	t := m.now()
	if err := fn(c, t); errors.Is(err, errUnchanged) {
		return r.clone(), nil
	} else if err != nil {
		return nil, err
	}
	c.Revision++
	c.UpdatedAt = t
	m.releases[id] = c
	return c.clone(), nil
}

// UpdateStacItemJSON implements Store.
func (m *Memory) UpdateStacItemJSON(_ context.Context, releaseID string, item json.RawMessage) (*Release, error) {
	item, err := normJSON("stac_item_json", item, "")
	if err != nil {
		return nil, err
	}
	return m.updateRelease(releaseID, setStacItem(item))
}

// SetBlobPath implements Store.
func (m *Memory) SetBlobPath(_ context.Context, releaseID, blobPath string) (*Release, error) {
	return m.updateRelease(releaseID, setBlobPath(blobPath))
}

// TransitionRelease implements Store.
func (m *Memory) TransitionRelease(_ context.Context, releaseID string, tr Transition) (*Release, error) {
	return m.updateRelease(releaseID, transitionRelease(tr))
}

// CompleteRelease implements Store.
func (m *Memory) CompleteRelease(_ context.Context, releaseID string, c Completion) (*Release, error) {
	item, err := normJSON("stac_item_json", c.StacItemJSON, "")
	if err != nil {
		return nil, err
	}
	return m.updateRelease(releaseID, completeRelease(c, item))
}

// SetApproval implements Store.
func (m *Memory) SetApproval(_ context.Context, releaseID string, state ApprovalState) (*Release, error) {
	return m.updateRelease(releaseID, setApproval(state))
}

// MarkReleasePruned implements Store.
func (m *Memory) MarkReleasePruned(_ context.Context, releaseID string, ifRevision int64) (*Release, error) {
	return m.updateRelease(releaseID, markPruned(ifRevision))
}

// CreateJob implements Store.
func (m *Memory) CreateJob(_ context.Context, nj NewJob) (*Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, err := m.newJobLocked(nj)
	if err != nil {
		return nil, err
	}
	if j.ReleaseID != "" {
		if _, ok := m.releases[j.ReleaseID]; !ok {
			return nil, notFound("release", j.ReleaseID)
		}
	}
	m.jobs[j.ID] = j
	return j.clone(), nil
}

// GetJob implements Store.
func (m *Memory) GetJob(_ context.Context, id string) (*Job, error) {
	return memGet(m, m.jobs, "job", id)
}

// TransitionJob implements Store.
func (m *Memory) TransitionJob(_ context.Context, id string, tr Transition) (*Job, error) {
	return memTransition(m, m.jobs, "job", id, tr)
}

// ListJobs implements Store.
func (m *Memory) ListJobs(_ context.Context, f JobFilter) ([]*Job, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []*Job{}
	for _, j := range m.jobs {
		if (f.Status == "" || j.Status == f.Status) && (f.UpdatedBefore.IsZero() || j.UpdatedAt.Before(f.UpdatedBefore)) {
			out = append(out, j.clone())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].UpdatedAt.Equal(out[j].UpdatedAt) {
			return out[i].UpdatedAt.Before(out[j].UpdatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out[:min(len(out), listLimit(f.Limit))], nil
}

// TouchJob implements Store.
func (m *Memory) TouchJob(_ context.Context, id string, ifRevision int64) (*Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok {
		return nil, notFound("job", id)
	}
	if j.Revision != ifRevision {
		return nil, conflictf("job %q is at revision %d, not %d", id, j.Revision, ifRevision)
	}
	c := j.clone()
	c.Revision++
	c.UpdatedAt = m.now()
	m.jobs[id] = c
	return c.clone(), nil
}

// CreateTask implements Store.
func (m *Memory) CreateTask(_ context.Context, nt NewTask) (*Task, error) {
	params, err := nt.norm()
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.jobs[nt.JobID]; !ok {
		return nil, notFound("job", nt.JobID)
	}
	if _, ok := m.tasks[nt.ID]; ok {
		return nil, conflictf("task %q exists", nt.ID)
	}
	t := m.now()
	tk := &Task{ID: nt.ID, JobID: nt.JobID, Type: nt.Type, Stage: nt.Stage, Status: StatusPending,
		RunState: newRunState(params, t)}
	m.tasks[tk.ID] = tk
	m.seq++
	m.taskSeq[tk.ID] = m.seq
	m.jobTasks[tk.JobID] = append(m.jobTasks[tk.JobID], tk.ID)
	return tk.clone(), nil
}

// CreateTasks implements TaskBatcher.
func (m *Memory) CreateTasks(_ context.Context, ts []NewTask) (int, error) {
	if len(ts) == 0 {
		return 0, nil
	}
	params, err := normTasks(ts)
	if err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.jobs[ts[0].JobID]; !ok {
		return 0, notFound("job", ts[0].JobID)
	}
	t := m.now()
	n := 0
	for i, nt := range ts {
		if _, ok := m.tasks[nt.ID]; ok {
			continue
		}
		m.tasks[nt.ID] = &Task{ID: nt.ID, JobID: nt.JobID, Type: nt.Type, Stage: nt.Stage, Status: StatusPending,
			RunState: newRunState(params[i], t)}
		m.seq++
		m.taskSeq[nt.ID] = m.seq
		m.jobTasks[nt.JobID] = append(m.jobTasks[nt.JobID], nt.ID)
		n++
	}
	return n, nil
}

// GetTask implements Store.
func (m *Memory) GetTask(_ context.Context, id string) (*Task, error) {
	return memGet(m, m.tasks, "task", id)
}

// sortedTasks returns the tasks matching keep in creation order.
func (m *Memory) sortedTasks(keep func(*Task) bool) []*Task {
	var out []*Task
	for _, tk := range m.tasks {
		if keep(tk) {
			out = append(out, tk)
		}
	}
	sort.Slice(out, func(i, j int) bool { return m.taskSeq[out[i].ID] < m.taskSeq[out[j].ID] })
	return out
}

// ListTasks implements Store.
func (m *Memory) ListTasks(_ context.Context, jobID string) ([]*Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := m.jobTasks[jobID]
	out := make([]*Task, 0, len(ids))
	for _, id := range ids {
		out = append(out, m.tasks[id].clone())
	}
	return out, nil
}

// ListTasksBrief implements BriefTaskLister.
func (m *Memory) ListTasksBrief(ctx context.Context, jobID string, fullTypes []string) ([]*Task, error) {
	ts, err := m.ListTasks(ctx, jobID)
	for _, t := range ts {
		if !slices.Contains(fullTypes, t.Type) {
			t.Params = nil
			if t.Status != StatusFailed {
				t.Result = nil
			}
		}
	}
	return ts, err
}

// FindTasks implements Store.
func (m *Memory) FindTasks(_ context.Context, f TaskFilter) ([]*Task, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	found := m.sortedTasks(func(tk *Task) bool {
		return (f.Status == "" || tk.Status == f.Status) &&
			(len(f.Types) == 0 || slices.Contains(f.Types, tk.Type)) &&
			(f.StartedBefore.IsZero() || tk.StartedAt != nil && tk.StartedAt.Before(f.StartedBefore)) &&
			(f.UpdatedBefore.IsZero() || tk.UpdatedAt.Before(f.UpdatedBefore))
	})
	sort.SliceStable(found, func(i, j int) bool {
		a, b := found[i].StartedAt, found[j].StartedAt
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		default:
			return a.Before(*b)
		}
	})
	out := make([]*Task, 0, min(len(found), listLimit(f.Limit)))
	for _, tk := range found[:min(len(found), listLimit(f.Limit))] {
		out = append(out, tk.clone())
	}
	return out, nil
}

// ClaimTask implements Store.
func (m *Memory) ClaimTask(ctx context.Context, c Claim) (*Task, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cands := m.sortedTasks(func(tk *Task) bool {
		return tk.Status == StatusPending && (c.JobID == "" || tk.JobID == c.JobID) &&
			(len(c.Types) == 0 || slices.Contains(c.Types, tk.Type)) &&
			(c.MaxAttempts <= 0 || tk.Attempts < c.MaxAttempts)
	})
	if len(cands) == 0 {
		return nil, notFound("task", "(none pending)")
	}
	tk := cands[0].clone()
	t := m.now()
	tk.run().apply(Transition{To: StatusProcessing}, nil, t)
	m.tasks[tk.ID] = tk
	return tk.clone(), nil
}

// TransitionTask implements Store.
func (m *Memory) TransitionTask(_ context.Context, id string, tr Transition) (*Task, error) {
	return memTransition(m, m.tasks, "task", id, tr)
}

// MoveTask implements TaskMover.
func (m *Memory) MoveTask(ctx context.Context, t *Task, tr Transition) (*Task, error) {
	if tr.IfRevision != 0 && tr.IfRevision != t.Revision {
		return nil, conflictf("task %q: move from revision %d with IfRevision %d", t.ID, t.Revision, tr.IfRevision)
	}
	tr.IfRevision = t.Revision
	moved, err := m.TransitionTask(ctx, t.ID, tr)
	if errors.Is(err, ErrNotFound) {
		return nil, conflictf("task %q is no longer at revision %d", t.ID, t.Revision)
	}
	return moved, err
}

// memTransition is TransitionJob and TransitionTask: recs holds m's
// records of kind.
func memTransition[T any, P runRecord[T]](m *Memory, recs map[string]P, kind, id string, tr Transition) (P, error) {
	result, err := normJSON("result", tr.Result, "")
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := recs[id]
	if !ok {
		return nil, notFound(kind, id)
	}
	r := rec.run()
	if err := checkTransition(kind, id, *r.Status, &tr, r.Revision); err != nil {
		return nil, err
	}
	c := P(rec.clone())
	c.run().apply(tr, result, m.now())
	recs[id] = c
	return c.clone(), nil
}
