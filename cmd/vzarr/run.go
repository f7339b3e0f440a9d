package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/engine"
	"github.com/greensight/vzarr/pipeline"
)

func init() {
	register(command{name: "run",
		synopsis: "run [flags] --dataset-id ID --resource-id ID -o OUT_URL SOURCE_URL",
		summary:  "the whole pipeline in one process: scan, validate, ref, combine, STAC item",
		help: `Runs the whole pipeline in this process: scan SOURCE_URL (a folder or blob
prefix), validate every file, write one kerchunk reference per file, combine
them along --concat-dim, and build the STAC item. Under OUT_URL (a folder or
blob prefix) it writes <file name>.json per source (tas_2020.nc gives
tas_2020.json), combined.json and stac-item.json.

OUT_URL is the run's folder. If it already holds the combined.json of
another run, run refuses (error_type "output_exists") unless --overwrite;
then the new set is written to a sibling staging folder,
OUT_URL.vzarr-staging-*, and replaces the old set only once the run has
completed (a failed run leaves OUT_URL as it was). Local folders are swapped
in one atomic rename (Linux); blob prefixes get the new objects copied over
and the stale ones deleted, so a reader of combined.json sees the old or the
new dataset, never a mix. --overwrite refuses a folder holding files other
than references (.json).

By default everything is embedded: an in-memory catalog and an in-process
queue. With --catalog the Asset/Release/Job records go to PostgreSQL (the
tables are created if missing); running the same command again then returns
the earlier run and does no work, unless --overwrite.

On a terminal, progress goes to stderr. The result is {"job_id",
"release_id", "asset_id", "status", "file_count", "total_size_bytes",
"combined_ref_url", "stac_item_url", "blob_path", "stages": [...],
"duration_ms", "storage_requests"}; a failed job's envelope carries it too.`,
		example: `vzarr run --concat-dim time --dataset-id era5 --resource-id daily-2020 -o refs/era5/ data/era5/
vzarr run --catalog postgres://vzarr@db/vzarr --collection-id era5 --dataset-id era5 --resource-id daily -o abfs://silver/refs/era5/ abfs://bronze/era5/`,
		run: runPipeline})
}

// runSummary is the "result" vzarr run prints.
type runSummary struct {
	JobID           string                `json:"job_id"`
	ReleaseID       string                `json:"release_id"`
	AssetID         string                `json:"asset_id"`
	Status          string                `json:"status"`
	Created         bool                  `json:"created"`
	FileCount       int                   `json:"file_count"`
	TotalSizeBytes  int64                 `json:"total_size_bytes"`
	RefsURL         string                `json:"refs_url"`
	CombinedRefURL  string                `json:"combined_ref_url,omitempty"`
	StacItemURL     string                `json:"stac_item_url,omitempty"`
	BlobPath        string                `json:"blob_path,omitempty"`
	Stages          []engine.StageSummary `json:"stages"`
	DurationMS      int64                 `json:"duration_ms"`
	StorageRequests int64                 `json:"storage_requests"`
	BytesRead       int64                 `json:"bytes_read"`
	BytesWritten    int64                 `json:"bytes_written"`
}

func runPipeline(args []string, stdout, stderr io.Writer) int {
	f := newFlags("run", stderr)
	fs := f.FlagSet
	var req pipeline.SubmitRequest
	req.DataType = catalog.DataTypeZarr
	po := &req.ProcessingOptions
	fs.StringVar(&po.ConcatDim, "concat-dim", "time", "dimension to concatenate along")
	fs.StringVar(&req.DatasetID, "dataset-id", "", "dataset id (required)")
	fs.StringVar(&req.ResourceID, "resource-id", "", "resource id (required)")
	fs.StringVar(&req.CollectionID, "collection-id", "", "STAC collection of the item")
	f.alias("collection", "collection-id")
	out := new(string)
	f.output(out, "the run's output folder or blob prefix (required)")
	dsn := fs.String("catalog", "", "PostgreSQL DSN of the catalog, without a password (PGPASSWORD or PGPASSFILE hold it; default: in memory)")
	schema := fs.String("catalog-schema", catalog.DefaultSchema, "schema of the catalog tables")
	fs.BoolVar(&po.FailOnChunkingWarnings, "fail-on-chunking-warnings", false, "refuse files whose chunking report has warnings")
	fs.BoolVar(&po.Overwrite, "overwrite", false, "replace the result of another run in --out (with --catalog: a new run even if this one ran before)")
	fs.StringVar(&po.FilePattern, "pattern", blobio.DefaultPattern, "glob of the file names to take")
	fs.BoolVar(&po.Recursive, "recursive", false, "also take files in subfolders")
	workers := fs.Int("j", 0, fmt.Sprintf("tasks run at once (default %d for local sources, %d for blob storage, where tasks wait on round trips)",
		pipeline.LocalWorkers(), pipeline.RemoteWorkers()))
	budget := fs.String("memory-budget", "", "memory the ref tasks hold at once, e.g. 2GiB (default: none for local sources, 1GiB for blob storage; 0: none)")
	queueURL := fs.String("queue", "", "work queue URL (default: in process)")
	progress := fs.String("progress", "auto", "progress on stderr: auto (on a terminal), always, never")
	lim := f.addLimits()
	help, err := f.parse(args)
	if help {
		return 0
	}
	if err == nil {
		switch {
		case fs.NArg() != 1:
			err = usagef("run wants exactly one SOURCE_URL, got %d arguments", fs.NArg())
		case *out == "":
			err = usagef("run needs -o OUT_URL")
		case catalog.DSNHasPassword(*dsn):
			err = usagef("--catalog holds a password, which the command line shows to every user: give it in PGPASSWORD or a PGPASSFILE")
		case req.DatasetID == "" || req.ResourceID == "":
			err = usagef("run needs --dataset-id and --resource-id")
		case *progress != "auto" && *progress != "always" && *progress != "never":
			err = usagef("--progress must be auto, always or never, not %q", *progress)
		}
	}
	if err != nil {
		return f.usageFail(stdout, err)
	}
	req.SourceURL = fs.Arg(0)
	if l := localURL(req.SourceURL); l != "" {
		req.SourceURL = l
	}
	outURL := *out
	if l := localURL(outURL); l != "" {
		outURL = l
	}
	remote := false
	if loc, err := f.opener().Parse(req.SourceURL); err == nil && !loc.IsLocal() {
		remote = true
	}
	defWorkers, memBudget := pipeline.Concurrency(remote)
	if *workers <= 0 {
		*workers = defWorkers
	}
	if *budget != "" {
		if memBudget, err = pipeline.ParseBytes(*budget); err != nil {
			return f.usageFail(stdout, usagef("--memory-budget: %v", err))
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The outcome, failures included, is the JSON on stdout; the logs
	// are for --verbose.
	logger := f.logger()

	var store catalog.Store
	if *dsn == "" {
		store = catalog.NewMemory()
	} else {
		pg, err := catalog.OpenPostgres(ctx, *dsn, catalog.PostgresOptions{Schema: *schema, Logger: logger})
		if err != nil {
			return fail(stdout, err)
		}
		if _, err := pg.Migrate(ctx); err != nil {
			pg.Close()
			return fail(stdout, err)
		}
		store = pg
	}
	defer store.Close()

	// --out is the run folder. One that holds another run's result is
	// refused, or, with --overwrite, replaced by a staging folder once the
	// job has completed.
	opener := f.opener()
	suffix := fmt.Sprint(os.Getpid(), "-", time.Now().UnixNano())
	publish := "" // where the staging folder goes; "" when none
	listing, err := listOut(ctx, opener, outURL)
	if err != nil {
		return fail(stdout, fmt.Errorf("--out %s: %w", outURL, err))
	}
	if listing.combined {
		sameRun := false
		if *dsn != "" && !po.Overwrite {
			// The same command again answers with its earlier run.
			_, err := store.GetJob(ctx, pipeline.JobID(req.DatasetID, req.ResourceID, req.SourceURL))
			sameRun = err == nil
		}
		switch {
		case sameRun:
		case !po.Overwrite:
			return fail(stdout, fmt.Errorf("%w: %s already holds the %s of another run; --overwrite replaces it", errOutputExists, outURL, pipeline.CombinedName))
		case len(listing.foreign) > 0:
			return fail(stdout, fmt.Errorf("%w: --overwrite replaces the whole folder %s, which holds files that are not references (%s); move them or choose another --out",
				errOutputExists, outURL, strings.Join(listing.foreign, ", ")))
		default:
			publish, outURL = outURL, stagingURL(outURL, suffix)
		}
	}
	final, staged := outURL, false
	if publish != "" {
		final = publish
		staging := outURL
		defer func() {
			if !staged { // the run failed: the staging folder goes, --out stays as it was
				removeStaging(context.Background(), opener, staging)
			}
		}()
	}

	showProgress := *progress == "always" || *progress == "auto" && isTerminal(stderr)
	prog := newProgress(stderr, showProgress)
	metrics := &pipeline.Metrics{}
	qurl := *queueURL
	if qurl == "" {
		qurl = "mem://vzarr-run-" + fmt.Sprint(os.Getpid(), "-", time.Now().UnixNano())
	}
	svc, err := pipeline.NewService(ctx, pipeline.ServiceConfig{
		Store:    store,
		QueueURL: qurl,
		Deps:     pipeline.Deps{Opener: opener, Logger: logger, Metrics: metrics, Limits: *lim, MemoryBudget: memBudget},
		Engine:   engine.Options{Concurrency: *workers, Observer: prog.observer()},
		Submit: pipeline.Submitter{OutURL: outURL, PublishURL: publish, AllowedSchemes: []string{"file", blobio.SchemeABFS, blobio.SchemeABFSS,
			blobio.SchemeAZ, blobio.SchemeAZBlob, blobio.SchemeMem}},
	})
	if err != nil {
		return fail(stdout, err)
	}
	defer svc.Close(context.Background())

	wctx, stopWorkers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := svc.Work(wctx); err != nil {
			logger.Error("vzarr run: workers stopped", "error", err)
		}
	}()
	defer func() { stopWorkers(); wg.Wait() }()

	start := time.Now()
	resp, err := svc.Submit(ctx, req)
	if err != nil {
		if errors.Is(err, pipeline.ErrInvalidRequest) {
			return f.usageFail(stdout, err)
		}
		return fail(stdout, err)
	}
	prog.start(start)
	job, err := svc.Wait(ctx, resp.JobID, 20*time.Millisecond)
	prog.finish()
	if err != nil {
		return fail(stdout, fmt.Errorf("job %s: %w", resp.JobID, err))
	}
	sum := &runSummary{JobID: job.ID, ReleaseID: resp.ReleaseID, AssetID: resp.AssetID, Created: resp.Created,
		Status: strings.ToLower(string(job.Status)), RefsURL: final}
	st, err := engine.Status(ctx, store, job.ID)
	if err == nil {
		sum.Stages = st.Stages
	}
	if job.StartedAt != nil && job.FinishedAt != nil {
		sum.DurationMS = job.FinishedAt.Sub(*job.StartedAt).Milliseconds()
	}
	if scan, err := store.GetTask(ctx, engine.TaskID(job.ID, pipeline.StageScan, 0)); err == nil {
		var r blobio.ScanResult
		if engine.Decode(scan, &r) == nil {
			sum.FileCount, sum.TotalSizeBytes = r.FileCount, r.TotalSizeBytes
		}
	}
	sum.StorageRequests = metrics.Requests()
	sum.BytesRead, sum.BytesWritten = metrics.BytesRead.Load(), metrics.BytesWritten.Load()

	if job.Status != catalog.StatusCompleted {
		typ := "job_failed"
		if st != nil && st.Failure != nil {
			typ = st.Failure.ErrorType
		}
		prog.summary(sum, job.Error)
		_ = writeJSON(stdout, pipeline.Envelope{Success: false, Error: job.Error, ErrorType: typ, Result: sum})
		return 1
	}
	rel, err := store.GetRelease(ctx, resp.ReleaseID)
	if err != nil {
		return fail(stdout, err)
	}
	sum.BlobPath = rel.BlobPath
	sum.CombinedRefURL = strings.TrimRight(final, "/") + "/" + pipeline.CombinedName
	sum.StacItemURL = strings.TrimRight(final, "/") + "/stac-item.json"
	// The item goes with the set (into the staging folder, when there is one).
	itemURL := strings.TrimRight(outURL, "/") + "/stac-item.json"
	if err := opener.WriteAtomic(ctx, itemURL, func(w io.Writer) error {
		_, err := w.Write(append(indentJSON(rel.StacItemJSON), '\n'))
		return err
	}); err != nil {
		return fail(stdout, fmt.Errorf("writing %s: %w", itemURL, err))
	}
	if publish != "" {
		if err := swapOut(ctx, opener, outURL, publish, suffix); err != nil {
			return fail(stdout, fmt.Errorf("replacing %s with %s: %w", publish, outURL, err))
		}
		staged = true
	}
	prog.summary(sum, "")
	return success(stdout, sum)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func indentJSON(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return b
	}
	return buf.Bytes()
}

// progress draws one status line per stage on a terminal: files done of
// the total, bytes done of the total, rate, time since the stage opened.
type progress struct {
	w       io.Writer
	on      bool
	mu      sync.Mutex
	stage   string
	total   int
	done    int
	failed  int
	bytes   int64
	size    int64
	began   time.Time
	stageAt time.Time
	firstAt time.Time // the first task of the stage finished
	last    time.Time
	ticker  *time.Ticker
	quit    chan struct{}
	wg      sync.WaitGroup
}

func newProgress(w io.Writer, on bool) *progress {
	return &progress{w: w, on: on, quit: make(chan struct{})}
}

// sizeOf reads the size_bytes of a task's params (0 when none).
func sizeOf(params json.RawMessage) int64 {
	var sz struct {
		SizeBytes int64 `json:"size_bytes"`
	}
	_ = json.Unmarshal(params, &sz)
	return sz.SizeBytes
}

func (p *progress) observer() engine.Observer {
	return engine.Observer{
		StageStarted: func(ev engine.StageEvent) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.stage != "" {
				// The stage before has completed, whatever events of it
				// are still on their way.
				p.done, p.bytes = p.total, p.size
				p.drawLocked(true)
			}
			p.stage, p.total, p.done, p.failed, p.bytes, p.size = ev.Stage, ev.Tasks, 0, 0, 0, 0
			for _, params := range ev.Params {
				p.size += sizeOf(params)
			}
			p.stageAt, p.firstAt = time.Now(), time.Time{}
			p.drawLocked(false)
		},
		TaskDone: func(ev engine.TaskEvent) {
			sz := sizeOf(ev.Task.Params)
			p.mu.Lock()
			defer p.mu.Unlock()
			if ev.Stage != p.stage {
				return
			}
			p.done++
			if ev.Err != nil {
				p.failed++
			}
			p.bytes += sz
			if p.firstAt.IsZero() {
				p.firstAt = time.Now().Add(-ev.Duration)
			}
			if time.Since(p.last) > 100*time.Millisecond || p.done == p.total {
				p.drawLocked(false)
			}
		},
	}
}

func (p *progress) start(t time.Time) {
	p.began = t
	if !p.on {
		return
	}
	p.ticker = time.NewTicker(250 * time.Millisecond)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			select {
			case <-p.quit:
				return
			case <-p.ticker.C:
				p.mu.Lock()
				if p.stage != "" {
					p.drawLocked(false)
				}
				p.mu.Unlock()
			}
		}
	}()
}

func (p *progress) finish() {
	if p.ticker != nil {
		p.ticker.Stop()
		close(p.quit)
		p.wg.Wait()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stage != "" && p.on {
		p.drawLocked(true)
	}
}

// drawLocked redraws the status line; final ends it with a newline.
func (p *progress) drawLocked(final bool) {
	if !p.on {
		return
	}
	p.last = time.Now()
	el := time.Since(p.stageAt)
	line := fmt.Sprintf("%-9s %d/%d", p.stage, p.done, p.total)
	if p.size > 0 {
		line += fmt.Sprintf(" files · %s of %s", humanBytes(p.bytes), humanBytes(p.size))
		// The rate counts from the first task's start, not from the
		// queue's delivery of it.
		if !p.firstAt.IsZero() && p.bytes > 0 {
			rate := float64(p.bytes) / max(time.Since(p.firstAt).Seconds(), 1e-3)
			line += fmt.Sprintf(" · %s/s", humanBytes(int64(rate)))
		}
	}
	if p.failed > 0 {
		line += fmt.Sprintf(" · %d failed", p.failed)
	}
	line += fmt.Sprintf(" · %s", el.Round(time.Millisecond))
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(p.w, "\r\033[K%s%s", line, end)
}

// summary prints the human summary on a terminal.
func (p *progress) summary(s *runSummary, errMsg string) {
	if !p.on {
		return
	}
	if errMsg != "" {
		fmt.Fprintf(p.w, "FAILED after %s: %s\n", time.Since(p.began).Round(time.Millisecond), errMsg)
		return
	}
	fmt.Fprintf(p.w, "done: %d files, %s, in %s (%d storage requests)\n", s.FileCount, humanBytes(s.TotalSizeBytes),
		time.Since(p.began).Round(time.Millisecond), s.StorageRequests)
	fmt.Fprintf(p.w, "  references: %s/<name>.json\n  combined:   %s\n  STAC item:  %s\n", s.RefsURL, s.CombinedRefURL, s.StacItemURL)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
