package main

// The orchestrator mode (-orchestrator): the archive goes through the
// reference service (examples/orchestrator) as the platform sends it: the
// service's processes are started with their configuration in the
// environment (token authentication from a file, the allow-list of
// sources, the queue, the catalog), the job is submitted to the
// authenticated HTTP API (Contract 1), the job's status is polled until
// it is COMPLETED or FAILED, the processes are stopped, and the figures
// line adds up every process's CPU time and peak RSS.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/greensight/vzarr/auth"
	"github.com/greensight/vzarr/internal/latency"
)

// orchFigures is the figures line of the orchestrator mode: the run
// mode's figures (wall is submit to COMPLETED; CPU and peak RSS are the
// sums over the processes) and the processes' detail.
type orchFigures struct {
	figures
	Mode string `json:"mode"`
	// Processes are the API and worker processes; Workers the tasks each
	// worker process runs at once.
	Processes int `json:"processes"`
	Workers   int `json:"workers,omitempty"`
	// StartS is the time from starting the processes to the API's
	// readiness (not in the wall time).
	StartS         float64 `json:"start_s"`
	MaxPeakRSSMiB  float64 `json:"max_peak_rss_mib"`
	MaxCPUS        float64 `json:"max_cpu_s"`
	QueueReceived  int64   `json:"queue_received"`
	CatalogCalls   int64   `json:"catalog_calls"`
	CallsPerFile   float64 `json:"catalog_calls_per_file"`
	CatalogGets    int64   `json:"catalog_gets"`
	CatalogUpdates int64   `json:"catalog_transitions"`
	CatalogMoves   int64   `json:"catalog_moves"`
	// PoolWaitS is the time the processes' catalog calls waited for a
	// connection of their pools (of PoolConns connections each), added
	// up; PoolWaits how many calls waited.
	PoolWaitS float64 `json:"catalog_pool_wait_s"`
	PoolWaits int64   `json:"catalog_pool_waits"`
	PoolConns int     `json:"catalog_pool_conns,omitempty"`
	// StagesWaitMS is each stage's time from opening to its first task's
	// start; StagesBusyMS its tasks' run times added up.
	StagesWaitMS map[string]int64 `json:"stages_wait_ms"`
	StagesBusyMS map[string]int64 `json:"stages_busy_ms"`
	JobID        string           `json:"job_id,omitempty"`
	// Each is one process's figures.
	Each []procFigures `json:"each"`
}

// procFigures are one process's CPU time and peak RSS.
type procFigures struct {
	Mode       string  `json:"mode"`
	CPUS       float64 `json:"cpu_s"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
}

// orchProcess is one process of the service.
type orchProcess struct {
	mode    string
	cmd     *exec.Cmd
	logPath string
	done    chan error
}

// totalsLine is the log line an orchestrator process writes when it stops
// (examples/orchestrator's totalsMessage).
type totalsLine struct {
	Msg   string `json:"msg"`
	Queue struct {
		Published int64 `json:"published"`
		Received  int64 `json:"received"`
	} `json:"queue"`
	Calls struct {
		Gets        int64 `json:"gets"`
		Lists       int64 `json:"lists"`
		Transitions int64 `json:"transitions"`
		Moves       int64 `json:"moves"`
		Creates     int64 `json:"creates"`
		Other       int64 `json:"other"`
	} `json:"catalog_calls"`
	Pool *struct {
		MaxConns      int     `json:"max_conns"`
		Acquires      int64   `json:"acquires"`
		EmptyAcquires int64   `json:"empty_acquires"`
		WaitMS        float64 `json:"wait_ms"`
	} `json:"catalog_pool"`
}

const totalsMessage = "orchestrator: totals"

// runOrchestrator runs the archive at sourceURL through the orchestrator,
// its references going to refsURL, and prints the figures line.
func runOrchestrator(ctx context.Context, c config, fig figures, sourceURL, refsURL string, stdout io.Writer) error {
	if !c.azurite {
		return errors.New("-orchestrator needs -azurite (the service takes abfs:// sources)")
	}
	if c.orchProcs > 0 && (c.catalog == "" || !strings.HasPrefix(c.queue, "rabbit://")) {
		return errors.New("-orch-procs needs -catalog (PostgreSQL) and -queue rabbit://NAME: the processes share them")
	}
	bin := c.orchBin
	if bin == "" {
		bin = filepath.Join(c.work, "orchestrator")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/orchestrator")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building the orchestrator: %w", err)
		}
	}
	of := orchFigures{figures: fig, Mode: "all", Processes: 1}
	suffix := fmt.Sprint(time.Now().UnixNano())

	// The platform's client: a random bearer token, given to the service
	// as its hash in a tokens file (never on a command line).
	token, tokens, err := tokenFile(c.work)
	if err != nil {
		return err
	}
	defer os.Remove(tokens)
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	env := append(os.Environ(),
		"VZARR_ADDR="+addr, "VZARR_AUTH=token", "VZARR_AUTH_TOKENS_FILE="+tokens,
		"VZARR_ALLOWED_SOURCES="+sourceURL, "VZARR_REFS_URL="+refsURL,
		"VZARR_SUBMIT_RATE=0", "VZARR_LOG_LEVEL=info")
	var proxy *latency.Proxy
	if !c.noProxy {
		if proxy, env, err = withProxy(env, c.delay); err != nil {
			return err
		}
		defer proxy.Close()
	}
	queueURL := c.queue
	if queueURL == "" {
		queueURL = "mem://archivebench"
	} else if strings.HasPrefix(queueURL, "rabbit://") {
		// A queue of this run only, deleted at the end.
		name := strings.TrimPrefix(queueURL, "rabbit://")
		name, query, _ := strings.Cut(name, "?")
		name += "-" + suffix
		queueURL = "rabbit://" + name
		if query != "" {
			queueURL += "?" + query
		}
		defer deleteRabbitQueue(name)
	}
	env = append(env, "VZARR_QUEUE_URL="+queueURL)
	schema := ""
	if c.catalog != "" {
		// The run's own schema, dropped at the end.
		schema = "archivebench_" + suffix
		env = append(env, "VZARR_CATALOG_DSN="+c.catalog, "VZARR_CATALOG_SCHEMA="+schema)
		defer dropSchema(c.catalog, schema)
	}
	if c.workers > 0 {
		env = append(env, fmt.Sprintf("VZARR_WORKERS=%d", c.workers))
		of.Workers = c.workers
	}

	var procs []*orchProcess
	start := func(mode string, i int) error {
		p := &orchProcess{mode: mode, logPath: filepath.Join(c.work, fmt.Sprintf("orchestrator-%s-%d.log", mode, i)), done: make(chan error, 1)}
		logf, err := os.Create(p.logPath)
		if err != nil {
			return err
		}
		p.cmd = exec.Command(bin)
		p.cmd.Env = append(env, "VZARR_MODE="+mode)
		if c.profile != "" {
			p.cmd.Env = append(p.cmd.Env, fmt.Sprintf("VZARR_CPUPROFILE=%s.%s-%d", c.profile, mode, i))
		}
		p.cmd.Stdout, p.cmd.Stderr = logf, logf
		if err := p.cmd.Start(); err != nil {
			logf.Close()
			return fmt.Errorf("starting the orchestrator (%s): %w", mode, err)
		}
		go func() { p.done <- p.cmd.Wait(); logf.Close() }()
		procs = append(procs, p)
		return nil
	}
	// stopAll stops the processes (SIGTERM: a graceful shutdown that logs
	// the totals) and returns the first error of one that failed.
	stopped := false
	stopAll := func() error {
		if stopped {
			return nil
		}
		stopped = true
		var first error
		for _, p := range procs {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range procs {
			select {
			case err := <-p.done:
				if err != nil && first == nil {
					first = fmt.Errorf("orchestrator %s: %w (log %s)", p.mode, err, p.logPath)
				}
			case <-time.After(60 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
				first = errors.Join(first, fmt.Errorf("orchestrator %s did not stop within 60 s", p.mode))
			}
		}
		return first
	}
	defer stopAll()

	t0 := time.Now()
	if c.orchProcs > 0 {
		// Workers first: they declare the queue the API publishes to.
		of.Mode, of.Processes = "api+workers", c.orchProcs+1
		for i := range c.orchProcs {
			if err := start("worker", i); err != nil {
				return err
			}
		}
		if err := start("api", 0); err != nil {
			return err
		}
	} else if err := start("all", 0); err != nil {
		return err
	}
	base := "http://" + addr
	if err := waitReady(ctx, base, procs, 2*time.Minute); err != nil {
		return err
	}
	of.StartS = time.Since(t0).Seconds()
	if proxy != nil {
		// Startup traffic (none expected) is not the job's.
		proxy.Reset()
	}

	body := map[string]any{"dataset_id": benchDataset, "resource_id": "n" + fmt.Sprint(c.n) + "-" + suffix,
		"data_type": "zarr", "source_url": sourceURL,
		"processing_options": map[string]any{"pipeline": "virtualzarr", "concat_dim": "time", "file_pattern": "*.nc",
			"fail_on_chunking_warnings": false, "overwrite": false}}
	client := &http.Client{Timeout: 60 * time.Second}
	tStart := time.Now()
	code, resp, err := apiCall(ctx, client, token, http.MethodPost, base+"/api/platform/submit", body)
	if err != nil {
		return err
	}
	if code != http.StatusAccepted {
		return fmt.Errorf("submit: HTTP %d: %v", code, resp)
	}
	jobID, _ := resp["job_id"].(string)
	of.JobID = jobID
	var st map[string]any
	for {
		code, st, err = apiCall(ctx, client, token, http.MethodGet, base+"/api/jobs/status/"+jobID, nil)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("status: HTTP %d: %v", code, st)
		}
		if s := st["status"]; s == "COMPLETED" || s == "FAILED" {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollInterval(time.Since(tStart))):
		}
		for _, p := range procs {
			select {
			case err := <-p.done:
				p.done <- err
				return fmt.Errorf("orchestrator %s stopped during the run: %v (log %s)", p.mode, err, p.logPath)
			default:
			}
		}
	}
	of.WallS = time.Since(tStart).Seconds()
	of.Success = st["status"] == "COMPLETED"
	if !of.Success {
		of.Error = fmt.Sprint(st["error"])
	}
	of.StagesMS, of.StagesWaitMS, of.StagesBusyMS = map[string]int64{}, map[string]int64{}, map[string]int64{}
	tasks := 0
	stages, _ := st["stages"].([]any)
	for _, s := range stages {
		sm, _ := s.(map[string]any)
		name, _ := sm["name"].(string)
		num := func(k string) int64 { f, _ := sm[k].(float64); return int64(f) }
		of.StagesMS[name], of.StagesWaitMS[name], of.StagesBusyMS[name] = num("duration_ms"), num("wait_ms"), num("busy_ms")
		tasks += int(num("tasks"))
	}
	if proxy != nil {
		st := proxy.Stats()
		of.HTTPRequests, of.HTTPBytes = st.Requests, st.Bytes
		of.HTTPRequestsPerFile = float64(st.Requests) / float64(c.n)
		// The service's storage traffic is what the proxy saw (listings
		// and writes included; the bytes both ways).
		of.Requests, of.BytesRead = st.Requests, st.Bytes
		if c.breakdown {
			printBreakdown(os.Stderr, st.Timeline, c.n)
		}
	}
	if err := stopAll(); err != nil {
		return err
	}
	for _, p := range procs {
		if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss := float64(ru.Maxrss) / 1024 // KiB on Linux
			cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
			of.PeakRSSMiB += rss
			of.CPUS += cpu
			of.MaxPeakRSSMiB = max(of.MaxPeakRSSMiB, rss)
			of.MaxCPUS = max(of.MaxCPUS, cpu)
			of.Each = append(of.Each, procFigures{Mode: p.mode, CPUS: cpu, PeakRSSMiB: rss})
		}
		tl, err := readTotals(p.logPath)
		if err != nil {
			return err
		}
		of.Messages += int(tl.Queue.Published)
		of.QueueReceived += tl.Queue.Received
		of.CatalogGets += tl.Calls.Gets
		of.CatalogUpdates += tl.Calls.Transitions
		of.CatalogMoves += tl.Calls.Moves
		if tl.Pool != nil {
			of.PoolWaitS += tl.Pool.WaitMS / 1000
			of.PoolWaits += tl.Pool.EmptyAcquires
			of.PoolConns = tl.Pool.MaxConns
		}
		of.CatalogCalls += tl.Calls.Gets + tl.Calls.Lists + tl.Calls.Transitions + tl.Calls.Moves + tl.Calls.Creates + tl.Calls.Other
	}
	// Rows: the asset, the release, the job and every task record (gates
	// included), counted in the catalog when it is PostgreSQL.
	of.CatalogRows = 3 + tasks + len(stages)
	if c.catalog != "" {
		if n, err := countRows(ctx, c.catalog, schema); err == nil {
			of.CatalogRows = n
		} else {
			fmt.Fprintln(os.Stderr, "archivebench: counting the catalog's rows:", err)
		}
	}
	of.RequestsPerFile = float64(of.Requests) / float64(c.n)
	of.BytesPerFile = float64(of.BytesRead) / float64(c.n)
	of.RowsPerFile = float64(of.CatalogRows) / float64(c.n)
	of.MessagesPerFile = float64(of.Messages) / float64(c.n)
	of.CallsPerFile = float64(of.CatalogCalls) / float64(c.n)
	if err := json.NewEncoder(stdout).Encode(of); err != nil {
		return err
	}
	if !of.Success {
		return fmt.Errorf("the job failed: %s", of.Error)
	}
	return nil
}

// pollInterval is the wait between two status requests after elapsed:
// a twentieth of the time so far (the wall time is known within 5%),
// between 100 ms and 1 s, so that the polling (each status lists the
// job's tasks) does not load the service it measures.
func pollInterval(elapsed time.Duration) time.Duration {
	return min(max(elapsed/20, 100*time.Millisecond), time.Second)
}

// tokenFile makes a random bearer token and a tokens file in dir that
// grants it submit and read (auth's token mode); the file holds only the
// token's hash.
func tokenFile(dir string) (token, path string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = hex.EncodeToString(b)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	f, err := os.CreateTemp(dir, "tokens-*")
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "archivebench:%s:submit,read\n", auth.HashToken(token)); err != nil {
		return "", "", err
	}
	return token, f.Name(), f.Close()
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls the API's /readyz until it answers 200.
func waitReady(ctx context.Context, base string, procs []*orchProcess, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		for _, p := range procs {
			select {
			case err := <-p.done:
				p.done <- err
				return fmt.Errorf("orchestrator %s stopped at start: %v (log %s)", p.mode, err, p.logPath)
			default:
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("the orchestrator's API at %s was not ready within %s", base, within)
}

// apiCall sends a request to the API with the bearer token and decodes
// its JSON answer.
func apiCall(ctx context.Context, client *http.Client, token, method, url string, body any) (int, map[string]any, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: HTTP %d, not JSON: %w", method, url, resp.StatusCode, err)
	}
	return resp.StatusCode, m, nil
}

// readTotals finds the totals line in a process's log.
func readTotals(path string) (totalsLine, error) {
	var tl totalsLine
	f, err := os.Open(path)
	if err != nil {
		return tl, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	found := false
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(totalsMessage)) {
			continue
		}
		var t totalsLine
		if json.Unmarshal(line, &t) == nil && t.Msg == totalsMessage {
			tl, found = t, true
		}
	}
	if err := sc.Err(); err != nil {
		return tl, err
	}
	if !found {
		return tl, fmt.Errorf("%s holds no %q line", path, totalsMessage)
	}
	return tl, nil
}

// countRows counts the rows of every table of a catalog schema. (A pool,
// not a connection, reads the DSN: it may set pool_max_conns.)
func countRows(ctx context.Context, dsn, schema string) (int, error) {
	conn, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'`, schema)
	if err != nil {
		return 0, err
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	total := 0
	for _, t := range tables {
		if t == "schema_migrations" {
			continue
		}
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{schema, t}.Sanitize()).Scan(&n); err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// dropSchema drops a catalog schema of the benchmark.
func dropSchema(dsn, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgxpool.New(ctx, dsn)
	if err == nil {
		_, err = conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
		conn.Close()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "archivebench: dropping schema %s: %v\n", schema, err)
	}
}

// deleteRabbitQueue deletes the run's RabbitMQ queue and exchange (both
// named name) from the broker of RABBIT_SERVER_URL.
func deleteRabbitQueue(name string) {
	conn, err := amqp.Dial(os.Getenv("RABBIT_SERVER_URL"))
	if err == nil {
		var ch *amqp.Channel
		if ch, err = conn.Channel(); err == nil {
			_, err = ch.QueueDelete(name, false, false, false)
			err = errors.Join(err, ch.ExchangeDelete(name, false, false))
		}
		conn.Close()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "archivebench: deleting queue %s: %v\n", name, err)
	}
}
