// Command orchestrator is the reference deployment of the vzarr pipeline:
// an HTTP API that accepts submits (Contract 1) and reports on jobs, and
// workers that carry jobs through Scan → Validate → Ref → Combine →
// Register over a message queue. It is thin on purpose: everything it does
// is a call into the pipeline, engine, queue and catalog packages.
//
// Modes (-mode or VZARR_MODE):
//
//	api     the HTTP API only; it queues jobs and reads the catalog
//	worker  workers only; they take messages from the queue
//	all     both in one process (the default)
//
// Configuration, by flag or environment variable (flags win):
//
//	-addr             VZARR_ADDR            listen address (default 127.0.0.1:8080)
//	-auth             VZARR_AUTH            authentication of the API (required): entra (OAuth2 bearer JWTs of
//	                                        Entra ID: VZARR_AUTH_ISSUER or VZARR_AUTH_JWKS_URL, VZARR_AUTH_AUDIENCE,
//	                                        VZARR_AUTH_SUBMIT_ROLE (Vzarr.Submit), VZARR_AUTH_READ_ROLE (Vzarr.Read)),
//	                                        token (static bearer tokens, -auth-tokens-file), or none (no
//	                                        authentication: logged as a warning, loopback addresses only)
//	-auth-tokens-file VZARR_AUTH_TOKENS_FILE token mode: NAME:SHA256-HEX-OF-TOKEN:ROLES lines (ROLES: submit,read)
//	-allowed-sources  VZARR_ALLOWED_SOURCES the source_url prefixes the API accepts (required): comma-separated
//	                                        abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PREFIX/, abfs://CONTAINER/PREFIX/,
//	                                        abfs://ACCOUNT/CONTAINER/PREFIX/ (VZARR_STORAGE_ACCOUNTS), file:///DIR/
//	                                        (with -allow-local); or '*' (every source of the configured accounts,
//	                                        logged as a warning)
//	-submit-rate      VZARR_SUBMIT_RATE     submits per second one caller may sustain (default 1; 0: no limit)
//	-submit-burst     VZARR_SUBMIT_BURST    submits one caller may make at once (default 20)
//	-queue            VZARR_QUEUE_URL       mem://NAME (default mem://vzarr-tasks, in process),
//	                                        rabbit://NAME (RABBIT_SERVER_URL=amqp://...),
//	                                        azuresb://TOPIC?subscription=SUB (SERVICEBUS_CONNECTION_STRING,
//	                                        or AZURE_SERVICEBUS_HOSTNAME with DefaultAzureCredential)
//	-catalog          VZARR_CATALOG_DSN     PostgreSQL DSN (also DATABASE_URL); empty: in memory (mode all only).
//	                                        A -catalog DSN holding a password is refused (the command line is
//	                                        visible to every user): give it in VZARR_CATALOG_DSN, or the password
//	                                        in a PGPASSFILE
//	-catalog-schema   VZARR_CATALOG_SCHEMA  schema of the catalog tables (default app)
//	-migrate          VZARR_MIGRATE         create or update the catalog tables at start (default true)
//	-refs-url         VZARR_REFS_URL        folder of the references: REFS_URL/<dataset_id>/<resource_id>/<release_id>/
//	                                        (default abfs://<source container>/refs)
//	-workers          VZARR_WORKERS         tasks a worker process runs at once (default pipeline.RemoteWorkers:
//	                                        64, or 4 x CPUs when more; a task of a blob waits on round trips)
//	-memory-budget    VZARR_MEMORY_BUDGET   memory the ref tasks of a worker process hold at once, e.g. 3GiB;
//	                                        each reserves its file's estimate (from its chunk count) and
//	                                        waits until it fits; 0: no bound (default 1GiB,
//	                                        pipeline.RemoteMemoryBudget)
//	-allow-local      VZARR_ALLOW_LOCAL     accept local folders as source_url (development only)
//	-max-body         VZARR_MAX_BODY_BYTES  largest request body (default 65536)
//	-lease-timeout    VZARR_LEASE_TIMEOUT   a task held longer is taken over (default 10m)
//	-sweep-interval   VZARR_SWEEP_INTERVAL  how often each worker sweeps for expired leases, unqueued
//	                                        PENDING jobs and stuck stages (default 30s)
//	-stage-deadline   VZARR_STAGE_DEADLINE  a stage open longer fails its job with error_type
//	                                        "timeout" (default 6h; negative: none)
//	-shutdown-timeout VZARR_SHUTDOWN_TIMEOUT time given to requests and tasks at shutdown (default 30s)
//	-log-level        VZARR_LOG_LEVEL       debug, info, warn, error (default info)
//	                  VZARR_CPUPROFILE      write a CPU profile of the process to this file (benchmarks)
//	                  VZARR_LIMIT_*         limits on what a file may make a worker allocate
//	                                        (VZARR_LIMIT_COORD_ELEMENTS, ...; see package limits)
//
// The API refuses to start without -auth, with -auth none on an address
// that is not loopback, and without -allowed-sources. Workers (-mode
// worker) serve no API and need neither.
//
// Blob storage is reached as blobio describes: AZURE_STORAGE_ACCOUNT_NAME
// for abfs://CONTAINER/PATH URLs, VZARR_STORAGE_ACCOUNTS for
// abfs://ACCOUNT/CONTAINER/PATH URLs, DefaultAzureCredential (Managed
// Identity), or AZURE_STORAGE_CONNECTION_STRING when given (Azurite). The
// credential is sent only to the configured accounts' endpoints.
//
// Endpoints (all but /healthz and /readyz need a bearer token):
//
//	POST /api/platform/submit            Contract 1; role submit; Content-Type: application/json (else 415);
//	                                     rate-limited per caller (429 rate_limited, Retry-After)
//	GET  /api/jobs/status/{job_id}       role read: the job, its stage, task counts, its Release
//	GET  /api/dbadmin/tasks/{job_id}     role read: the job's task records (?stage=, ?status=, ?limit= (default
//	                                     100, at most 1000, larger is 400), ?offset=; total, next_offset)
//	GET  /healthz                        liveness (open)
//	GET  /readyz                         the queue is connected and the catalog answers (open; else 503
//	                                     queue_unavailable or catalog_unavailable, "not ready"; the detail is logged)
//
// Errors are {"success": false, "error", "error_type"}: 400 invalid_request
// (a malformed or invalid request; a control character in any string
// field), 400 source_not_allowed, 401 unauthorized (with WWW-Authenticate:
// Bearer), 403 forbidden, 404 not_found, 413 request_too_large, 415
// unsupported_media_type, 429 rate_limited, 503 catalog_unavailable (the
// catalog database cannot be reached), 503 unavailable, 500 internal_error;
// the last three with a generic message (the detail is logged).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/greensight/vzarr/auth"
	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/engine"
	"github.com/greensight/vzarr/internal/cpuprofile"
	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/pipeline"
	"github.com/greensight/vzarr/queue"
)

// Config is the orchestrator's configuration.
type Config struct {
	Mode            string
	Addr            string
	QueueURL        string
	CatalogDSN      string
	CatalogSchema   string
	Migrate         bool
	RefsURL         string
	Workers         int
	AllowLocal      bool
	MaxBodyBytes    int64
	LeaseTimeout    time.Duration
	SweepInterval   time.Duration
	StageDeadline   time.Duration
	ShutdownTimeout time.Duration
	LogLevel        string
	// AllowedSources is the allow-list of source_url prefixes
	// (blobio.ParseAllowList); "*" allows every source of the configured
	// accounts. Required by the API.
	AllowedSources string
	// SubmitRate is the submits per second one caller may sustain (0: no
	// limit); SubmitBurst how many it may make at once.
	SubmitRate  float64
	SubmitBurst int
	// Auth is the API's authentication mode: entra, token or none
	// (auth.Config.Mode; the rest of auth.Config comes from the
	// environment, auth.ConfigFromEnv). Required by the API.
	Auth string
	// AuthTokensFile is token mode's client file.
	AuthTokensFile string
	MemoryBudget   int64 // bytes; 0: no bound
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func envBool(name string, def bool) bool {
	if v, ok := os.LookupEnv(name); ok {
		b, err := strconv.ParseBool(v)
		if err == nil {
			return b
		}
	}
	return def
}

func envInt(name string, def int64) int64 {
	if v, ok := os.LookupEnv(name); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return def
}

func envFloat(name string, def float64) float64 {
	if v, ok := os.LookupEnv(name); ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv(name); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// parseConfig reads flags over environment defaults.
func parseConfig(args []string) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("orchestrator", flag.ContinueOnError)
	fs.StringVar(&c.Mode, "mode", env("VZARR_MODE", "all"), "api, worker or all")
	fs.StringVar(&c.Addr, "addr", env("VZARR_ADDR", "127.0.0.1:8080"), "HTTP listen address")
	fs.StringVar(&c.QueueURL, "queue", env("VZARR_QUEUE_URL", queue.DefaultURL), "queue URL: mem://, rabbit://, azuresb://")
	// The DSN's default is not shown by -h: it may hold a password.
	fs.StringVar(&c.CatalogDSN, "catalog", "", "PostgreSQL DSN without a password (default VZARR_CATALOG_DSN or DATABASE_URL; empty: in memory)")
	fs.StringVar(&c.CatalogSchema, "catalog-schema", env("VZARR_CATALOG_SCHEMA", catalog.DefaultSchema), "catalog schema")
	fs.BoolVar(&c.Migrate, "migrate", envBool("VZARR_MIGRATE", true), "create or update the catalog tables at start")
	fs.StringVar(&c.RefsURL, "refs-url", env("VZARR_REFS_URL", ""), "folder of the references (default abfs://<source container>/refs)")
	fs.IntVar(&c.Workers, "workers", int(envInt("VZARR_WORKERS", int64(pipeline.RemoteWorkers()))), "tasks run at once per process")
	fs.BoolVar(&c.AllowLocal, "allow-local", envBool("VZARR_ALLOW_LOCAL", false), "accept local folders as source_url")
	fs.Int64Var(&c.MaxBodyBytes, "max-body", envInt("VZARR_MAX_BODY_BYTES", 64<<10), "largest request body in bytes")
	fs.DurationVar(&c.LeaseTimeout, "lease-timeout", envDuration("VZARR_LEASE_TIMEOUT", engine.DefaultLeaseTimeout), "task lease")
	fs.DurationVar(&c.SweepInterval, "sweep-interval", envDuration("VZARR_SWEEP_INTERVAL", engine.DefaultSweepInterval),
		"how often each worker looks for expired leases, unqueued PENDING jobs and stuck stages")
	fs.DurationVar(&c.StageDeadline, "stage-deadline", envDuration("VZARR_STAGE_DEADLINE", engine.DefaultStageDeadline),
		"a stage open longer fails its job with error_type timeout (negative: no deadline)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", envDuration("VZARR_SHUTDOWN_TIMEOUT", 30*time.Second), "graceful shutdown")
	fs.StringVar(&c.LogLevel, "log-level", env("VZARR_LOG_LEVEL", "info"), "debug, info, warn or error")
	fs.StringVar(&c.AllowedSources, "allowed-sources", env("VZARR_ALLOWED_SOURCES", ""),
		"comma-separated source_url prefixes the API accepts (abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PREFIX/, abfs://CONTAINER/PREFIX/,\nabfs://ACCOUNT/CONTAINER/PREFIX/, file:///DIR/ with -allow-local), or '*' for every source of the configured accounts")
	fs.Float64Var(&c.SubmitRate, "submit-rate", envFloat("VZARR_SUBMIT_RATE", DefaultSubmitRate), "submits per second one caller may sustain (0: no limit)")
	fs.IntVar(&c.SubmitBurst, "submit-burst", int(envInt("VZARR_SUBMIT_BURST", DefaultSubmitBurst)), "submits one caller may make at once")
	fs.StringVar(&c.Auth, "auth", env("VZARR_AUTH", ""), "authentication of the API: entra, token or none (loopback only); required")
	fs.StringVar(&c.AuthTokensFile, "auth-tokens-file", env("VZARR_AUTH_TOKENS_FILE", ""), "token mode: file of NAME:SHA256-HEX-OF-TOKEN:ROLES lines")
	budget := fs.String("memory-budget", env("VZARR_MEMORY_BUDGET", strconv.FormatInt(pipeline.RemoteMemoryBudget, 10)), "memory the ref tasks of a worker hold at once, e.g. 3GiB (0: no bound)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var err error
	if c.MemoryBudget, err = pipeline.ParseBytes(*budget); err != nil {
		return nil, fmt.Errorf("-memory-budget: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	flagSet := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { flagSet[f.Name] = true })
	if flagSet["catalog"] && catalog.DSNHasPassword(c.CatalogDSN) {
		// Command lines are visible to every user of the machine (ps).
		return nil, errors.New("-catalog holds a password, which the command line shows to every user: " +
			"give the DSN in VZARR_CATALOG_DSN, or the password in a PGPASSFILE (~/.pgpass)")
	}
	if !flagSet["catalog"] {
		c.CatalogDSN = env("VZARR_CATALOG_DSN", os.Getenv("DATABASE_URL"))
	}
	switch c.Mode {
	case "api", "worker", "all":
	default:
		return nil, fmt.Errorf("-mode must be api, worker or all, not %q", c.Mode)
	}
	if c.CatalogDSN == "" && c.Mode != "all" {
		return nil, fmt.Errorf("-mode %s needs a shared catalog: set -catalog (VZARR_CATALOG_DSN)", c.Mode)
	}
	if strings.HasPrefix(c.QueueURL, "mem://") && c.Mode != "all" {
		return nil, fmt.Errorf("-mode %s needs a shared queue: mem:// works within one process only", c.Mode)
	}
	if c.MaxBodyBytes <= 0 || c.Workers <= 0 {
		return nil, errors.New("-max-body and -workers must be positive")
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// check refuses configurations that would run the API unprotected: no
// authentication mode, -auth none on a non-loopback address, no
// allow-list of sources.
func (c *Config) check() error {
	if c.SubmitRate < 0 || c.SubmitBurst < 1 {
		return errors.New("-submit-rate must be 0 (no limit) or positive, -submit-burst at least 1")
	}
	if c.Mode == "worker" {
		return nil
	}
	switch strings.ToLower(strings.TrimSpace(c.Auth)) {
	case auth.ModeEntra, auth.ModeToken, auth.ModeNone:
	case "":
		return errors.New("the API needs an authentication mode: set -auth (VZARR_AUTH) to entra (with VZARR_AUTH_ISSUER and " +
			"VZARR_AUTH_AUDIENCE), token (with -auth-tokens-file or VZARR_AUTH_TOKENS_FILE: NAME:SHA256-HEX-OF-TOKEN:ROLES lines) " +
			"or none (no authentication; loopback listen addresses only)")
	default:
		return fmt.Errorf("-auth must be entra, token or none, not %q", c.Auth)
	}
	if err := auth.CheckListenAddr(c.Auth, c.Addr); err != nil {
		return fmt.Errorf("-auth none with -addr %s: %w", c.Addr, err)
	}
	if strings.TrimSpace(c.AllowedSources) == "" {
		return errors.New("the API needs an allow-list of sources: set -allowed-sources (VZARR_ALLOWED_SOURCES) to " +
			"comma-separated URL prefixes, such as abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PREFIX/ " +
			"(or '*' to allow every source of the configured storage accounts)")
	}
	return nil
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func main() {
	cfg, err := parseConfig(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "orchestrator:", err)
		os.Exit(2)
	}
	log, err := newLogger(cfg.LogLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "orchestrator:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProfile := cpuprofile.Start(os.Getenv, os.Stderr)
	err = run(ctx, cfg, log, nil)
	stopProfile()
	if err != nil {
		log.Error("orchestrator stopped", "error", err)
		os.Exit(1)
	}
}

// Options are the run-time hooks tests use.
type Options struct {
	// Opener replaces the blob opener from the environment.
	Opener *blobio.Opener
	// Store replaces the catalog the DSN names (it is not closed).
	Store catalog.Store
	// Listening is called with the API's address once it listens.
	Listening func(addr string)
	// Metrics counts the stages' storage traffic.
	Metrics *pipeline.Metrics
}

// run runs the orchestrator until ctx ends, then shuts down gracefully:
// the HTTP server stops accepting and finishes its requests, the workers
// stop taking messages and finish their tasks (both within
// ShutdownTimeout).
func run(ctx context.Context, cfg *Config, log *slog.Logger, opts *Options) error {
	if opts == nil {
		opts = &Options{}
	}
	if err := cfg.check(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	apiOpts := apiOptions{MaxBody: cfg.MaxBodyBytes, Limiter: newRateLimiter(cfg.SubmitRate, cfg.SubmitBurst)}
	if cfg.Mode != "worker" {
		ac := auth.ConfigFromEnv(os.Getenv)
		ac.Mode, ac.TokensFile, ac.Logger = cfg.Auth, cfg.AuthTokensFile, log
		authn, err := auth.New(ctx, ac)
		if err != nil {
			return err
		}
		apiOpts.RequireSubmit = auth.Require(authn, auth.RoleSubmit, log)
		apiOpts.RequireRead = auth.Require(authn, auth.RoleRead, log)
	}
	store := opts.Store
	if store == nil {
		if cfg.CatalogDSN == "" {
			log.Warn("orchestrator: in-memory catalog: jobs are lost when the process ends")
			store = catalog.NewMemory()
		} else {
			pg, err := catalog.OpenPostgres(ctx, cfg.CatalogDSN, catalog.PostgresOptions{Schema: cfg.CatalogSchema, Logger: log})
			if err != nil {
				return err
			}
			if cfg.Migrate {
				if _, err := pg.Migrate(ctx); err != nil {
					pg.Close()
					return err
				}
			}
			store = pg
		}
		defer store.Close()
	}
	// The engine's catalog calls are counted and logged at shutdown
	// (with the queue's messages), for benchmarks.
	counted := &countingStore{Store: store}
	store = counted
	opener := opts.Opener
	if opener == nil {
		opener = blobio.NewOpenerFromEnv()
		opener.Logger = log
	}
	// Limits on what hostile files may make a worker allocate: the
	// VZARR_LIMIT_* variables, else limits.Default().
	lim, err := limits.Default().FromEnv(nil)
	if err != nil {
		return err
	}
	schemes := []string{blobio.SchemeABFS}
	if cfg.AllowLocal {
		schemes = append(schemes, "file")
	}
	var sources *blobio.AllowList
	if cfg.AllowedSources != "" {
		var err error
		if sources, err = blobio.ParseAllowList(cfg.AllowedSources, opener, cfg.AllowLocal); err != nil {
			return fmt.Errorf("-allowed-sources: %w", err)
		}
		if sources.All() {
			log.Warn("orchestrator: -allowed-sources '*': every source of the configured storage accounts may be submitted")
		}
	}
	svc, err := pipeline.NewService(ctx, pipeline.ServiceConfig{
		Store:        store,
		QueueURL:     cfg.QueueURL,
		QueueOptions: queue.Options{NoSubscription: cfg.Mode == "api", Logger: log},
		Deps:         pipeline.Deps{Sources: sources, Opener: opener, Logger: log, Metrics: opts.Metrics, Limits: lim, MemoryBudget: cfg.MemoryBudget},
		Engine: engine.Options{Concurrency: cfg.Workers, LeaseTimeout: cfg.LeaseTimeout, ShutdownGrace: cfg.ShutdownTimeout,
			SweepInterval: cfg.SweepInterval, StageDeadline: cfg.StageDeadline},
		Submit: pipeline.Submitter{RefsURL: cfg.RefsURL, AllowedSchemes: schemes, Sources: sources},
	})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := svc.Close(cctx); err != nil {
			log.Warn("orchestrator: closing the queue", "error", err)
		}
		log.Info(totalsMessage, "queue", svc.Queue.Counts(), "catalog_calls", counted.calls(), "catalog_pool", poolStats(store))
	}()
	log.Info("orchestrator: starting", "mode", cfg.Mode, "queue", svc.Queue.URL(), "catalog", catalogKind(cfg),
		"workers", cfg.Workers, "addr", cfg.Addr, "allowed_sources", cfg.AllowedSources,
		"submit_rate", cfg.SubmitRate, "submit_burst", cfg.SubmitBurst, "auth", cfg.Auth)

	var wg sync.WaitGroup
	errc := make(chan error, 2)
	if cfg.Mode != "api" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := svc.Work(ctx); err != nil {
				errc <- fmt.Errorf("workers: %w", err)
			}
		}()
	}
	if cfg.Mode != "worker" {
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return err
		}
		srv := &http.Server{
			Handler:           newAPI(svc, apiOpts, log).routes(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		}
		log.Info("orchestrator: API listening", "addr", ln.Addr().String())
		if opts.Listening != nil {
			opts.Listening(ln.Addr().String())
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("http: %w", err)
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				log.Warn("orchestrator: HTTP shutdown", "error", err)
			}
		}()
	}
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	log.Info("orchestrator: shutting down")
	cancel()
	wg.Wait()
	close(errc)
	for err := range errc {
		first = errors.Join(first, err)
	}
	return first
}

// totalsMessage is the message of the log line a process writes when it
// stops: its queue messages (queue.Counts) and the engine's catalog calls
// (scripts/bench-archive reads them).
const totalsMessage = "orchestrator: totals"

func catalogKind(cfg *Config) string {
	if cfg.CatalogDSN == "" {
		return "memory"
	}
	return "postgres"
}
