package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/greensight/vzarr/auth"
	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/engine"
	"github.com/greensight/vzarr/pipeline"
	"github.com/greensight/vzarr/queue"
)

// api serves the orchestrator's HTTP endpoints.
type api struct {
	svc *pipeline.Service
	apiOptions
	log *slog.Logger
}

// apiOptions configure the API.
type apiOptions struct {
	// MaxBody is the largest request body.
	MaxBody int64
	// Limiter limits submits per caller (nil: no limit).
	Limiter *rateLimiter
	// RequireSubmit and RequireRead wrap the handlers that need the
	// submit and the read role (auth.Require; nil: open).
	RequireSubmit, RequireRead func(http.Handler) http.Handler
}

func newAPI(svc *pipeline.Service, o apiOptions, log *slog.Logger) *api {
	open := func(h http.Handler) http.Handler { return h }
	if o.RequireSubmit == nil {
		o.RequireSubmit = open
	}
	if o.RequireRead == nil {
		o.RequireRead = open
	}
	return &api{svc: svc, apiOptions: o, log: log}
}

// routes: every endpoint but /healthz and /readyz needs credentials;
// /readyz is open for probes and says only ready or not (see opaque).
func (a *api) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /api/platform/submit", a.RequireSubmit(a.Limiter.limited(a.rateKey, http.HandlerFunc(a.submit))))
	mux.Handle("GET /api/jobs/status/{job_id}", a.RequireRead(http.HandlerFunc(a.status)))
	mux.Handle("GET /api/dbadmin/tasks/{job_id}", a.RequireRead(http.HandlerFunc(a.tasks)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"success": true, "status": "ok"})
	})
	mux.Handle("GET /readyz", a.opaque(http.HandlerFunc(a.ready)))
	return a.logged(mux)
}

// caller is the authenticated caller of a request, recorded as
// submitted_by ("" when none).
func caller(r *http.Request) string {
	if id, ok := auth.FromContext(r.Context()); ok {
		return id.Subject
	}
	return ""
}

// rateKey is the rate limit's key of a request: the authenticated caller,
// else (-auth none, where everyone is "anonymous") the client's address.
func (a *api) rateKey(r *http.Request) string {
	if id, ok := auth.FromContext(r.Context()); ok && id.Method != auth.ModeNone {
		return "caller:" + id.Method + ":" + id.Subject
	}
	return "addr:" + clientAddr(r)
}

// opaque keeps the details of a failed /readyz (which is open to anyone)
// in the log, at debug level (probes poll it all through an outage): the
// client gets the handler's status and error_type (what is down, such as
// "catalog_unavailable") with the message "not ready", never a host,
// port, user or DSN.
func (a *api) opaque(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &bufferedWriter{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if rec.status < 400 {
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
			_, _ = w.Write(rec.body.Bytes())
			return
		}
		a.log.DebugContext(r.Context(), "orchestrator: not ready", "status", rec.status, "detail", rec.body.String())
		var body apiError
		if json.Unmarshal(rec.body.Bytes(), &body) != nil || body.ErrorType == "" {
			body.ErrorType = "unavailable"
		}
		writeError(w, rec.status, body.ErrorType, errors.New("not ready"))
	})
}

// bufferedWriter holds a response until the handler is done.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header         { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedWriter) WriteHeader(code int)        { b.status = code }

// logged logs every request at INFO with its status and duration.
func (a *api) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rw, r)
		a.log.InfoContext(r.Context(), "orchestrator: request", "method", r.Method, "path", r.URL.Path,
			"status", rw.status, "duration", time.Since(start))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

type apiError struct {
	Success   bool   `json:"success"`
	Error     string `json:"error"`
	ErrorType string `json:"error_type"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, typ string, err error) {
	writeJSON(w, code, apiError{Success: false, Error: err.Error(), ErrorType: typ})
}

// fail answers an error from the pipeline or the catalog with the right
// status. Errors of the server's dependencies (the catalog, the queue) and
// internal errors are logged in full and answered with a generic message:
// theirs may name hosts, ports, users or databases.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, "request_too_large",
			errors.New("request body larger than "+strconv.FormatInt(mbe.Limit, 10)+" bytes"))
	case errors.Is(err, pipeline.ErrInvalidRequest):
		writeError(w, http.StatusBadRequest, "invalid_request", err)
	case errors.Is(err, blobio.ErrSourceNotAllowed):
		writeError(w, http.StatusBadRequest, pipeline.ErrTypeSourceNotAllowed, err)
	case errors.Is(err, catalog.ErrNotFound):
		writeError(w, http.StatusNotFound, pipeline.ErrTypeNotFound, err)
	case errors.Is(err, catalog.ErrConflict):
		writeError(w, http.StatusConflict, pipeline.ErrTypeConflict, err)
	case errors.Is(err, catalog.ErrUnavailable):
		a.log.ErrorContext(r.Context(), "orchestrator: catalog unavailable", "path", r.URL.Path, "error", err)
		writeError(w, http.StatusServiceUnavailable, pipeline.ErrTypeCatalogUnavailable,
			errors.New("the catalog database is unavailable; try again later"))
	case errors.Is(err, queue.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		a.log.ErrorContext(r.Context(), "orchestrator: dependency unavailable", "path", r.URL.Path, "error", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable",
			errors.New("a service the API depends on did not answer; try again later"))
	default:
		a.log.ErrorContext(r.Context(), "orchestrator: request failed", "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, pipeline.ErrTypeInternal, errors.New("internal error (logged by the server)"))
	}
}

// submit is POST /api/platform/submit (Contract 1). A new job answers 202
// Accepted; a request submitted before answers 200 with the same job. The
// body must be declared application/json (415 otherwise, also when the
// header is missing: a browser's sendBeacon or form cannot submit).
func (a *api) submit(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", errors.New("Content-Type must be application/json"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, a.MaxBody)
	req, err := pipeline.DecodeSubmitRequest(r.Body)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	req.SubmittedBy = caller(r)
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	resp, err := a.svc.Submit(ctx, req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	code := http.StatusOK
	if resp.Created {
		code = http.StatusAccepted
	}
	writeJSON(w, code, resp)
}

// releaseView is a Release without its (large) STAC item.
type releaseView struct {
	*catalog.Release
	StacItemJSON json.RawMessage `json:"stac_item_json,omitempty"`
	HasStacItem  bool            `json:"has_stac_item"`
}

type statusResponse struct {
	Success bool   `json:"success"`
	JobID   string `json:"job_id"`
	Type    string `json:"job_type"`
	// Status is the job's: PENDING, PROCESSING, COMPLETED or FAILED.
	Status catalog.Status `json:"status"`
	Stage  string         `json:"stage"`
	// Note says what a PROCESSING job waits for (engine.JobStatus.Note),
	// e.g. "waiting for lease of task X until T", or "failing: cleaning up
	// after ..." while its failure hook runs.
	Note       string                 `json:"note,omitempty"`
	Error      string                 `json:"error,omitempty"`
	Failure    *engine.Failure        `json:"failure,omitempty"`
	Stages     []engine.StageSummary  `json:"stages"`
	TaskCounts map[catalog.Status]int `json:"task_counts"`
	CreatedAt  time.Time              `json:"created_at"`
	StartedAt  *time.Time             `json:"started_at,omitempty"`
	FinishedAt *time.Time             `json:"finished_at,omitempty"`
	Params     json.RawMessage        `json:"params"`
	Result     json.RawMessage        `json:"result,omitempty"`
	Release    *releaseView           `json:"release,omitempty"`
}

// status is GET /api/jobs/status/{job_id}: ?stac_item=true includes the
// Release's cached STAC item.
func (a *api) status(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st, err := a.svc.Engine.Status(ctx, r.PathValue("job_id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	j := st.Job
	resp := statusResponse{Success: true, JobID: j.ID, Type: j.Type, Status: j.Status, Stage: st.Stage, Note: st.Note,
		Error: j.Error, Failure: st.Failure, Stages: st.Stages, TaskCounts: st.Tasks, CreatedAt: j.CreatedAt,
		StartedAt: j.StartedAt, FinishedAt: j.FinishedAt, Params: j.Params, Result: j.Result}
	if resp.Stage == "" {
		resp.Stage = j.Stage
	}
	if j.ReleaseID != "" {
		rel, err := a.svc.Store.GetRelease(ctx, j.ReleaseID)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		rv := &releaseView{Release: rel, HasStacItem: len(rel.StacItemJSON) > 0}
		if r.URL.Query().Get("stac_item") == "true" {
			rv.StacItemJSON = rel.StacItemJSON
		}
		resp.Release = rv
	}
	writeJSON(w, http.StatusOK, resp)
}

// Page sizes of /api/dbadmin/tasks.
const (
	defaultTasksLimit = 100
	maxTasksLimit     = 1000
)

type tasksResponse struct {
	Success bool   `json:"success"`
	JobID   string `json:"job_id"`
	// Total is the number of tasks matching the filters.
	Total  int `json:"total"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
	// NextOffset is the offset of the next page; absent on the last one.
	NextOffset *int            `json:"next_offset,omitempty"`
	Tasks      []*catalog.Task `json:"tasks"`
	// Gates are the engine's stage records.
	Gates []*catalog.Task `json:"stage_gates"`
}

// tasks is GET /api/dbadmin/tasks/{job_id}: the job's task records with
// their params and result envelopes, filtered by ?stage= and ?status=,
// paged by ?limit= (default 100, at most 1000: a larger one is 400) and
// ?offset=; total counts the matching tasks, next_offset is the next
// page's offset.
func (a *api) tasks(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("job_id")
	if _, err := a.svc.Store.GetJob(ctx, id); err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	limit, offset := defaultTasksLimit, 0
	for name, dst := range map[string]*int{"limit": &limit, "offset": &offset} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				a.fail(w, r, &pipeline.RequestError{Field: name, Reason: "want a non-negative integer"})
				return
			}
			*dst = n
		}
	}
	if limit > maxTasksLimit {
		a.fail(w, r, &pipeline.RequestError{Field: "limit", Reason: "at most " + strconv.Itoa(maxTasksLimit)})
		return
	}
	status := catalog.Status(q.Get("status"))
	if status != "" && !status.Valid() {
		a.fail(w, r, &pipeline.RequestError{Field: "status", Reason: "want PENDING, PROCESSING, COMPLETED or FAILED"})
		return
	}
	all, err := a.svc.Store.ListTasks(ctx, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	resp := tasksResponse{Success: true, JobID: id, Offset: offset, Limit: limit, Tasks: []*catalog.Task{}, Gates: []*catalog.Task{}}
	var match []*catalog.Task
	for _, t := range all {
		if engine.IsInternal(t) {
			resp.Gates = append(resp.Gates, t)
			continue
		}
		if (q.Get("stage") == "" || t.Stage == q.Get("stage")) && (status == "" || t.Status == status) {
			match = append(match, t)
		}
	}
	resp.Total = len(match)
	if offset < len(match) {
		resp.Tasks = match[offset:min(len(match), offset+limit)]
	}
	if next := offset + limit; next < len(match) && limit > 0 {
		resp.NextOffset = &next
	}
	writeJSON(w, http.StatusOK, resp)
}

// ready is GET /readyz: the queue is connected and the catalog answers.
// A 503 names what is down ("queue_unavailable", "catalog_unavailable")
// but not where (no host, no DSN); the log has the details.
func (a *api) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := a.svc.Queue.Ready(ctx); err != nil {
		a.log.DebugContext(ctx, "orchestrator: not ready", "error", err)
		writeError(w, http.StatusServiceUnavailable, "queue_unavailable", errors.New("the "+a.svc.Queue.Scheme()+" queue is not connected to its broker"))
		return
	}
	if _, err := a.svc.Store.GetJob(ctx, "readyz-probe"); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		a.log.DebugContext(ctx, "orchestrator: not ready", "error", err)
		writeError(w, http.StatusServiceUnavailable, pipeline.ErrTypeCatalogUnavailable, errors.New("the catalog does not answer"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "status": "ready"})
}
