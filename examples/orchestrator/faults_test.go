//go:build faults

package main

// The fault suite (scripts/faults; issue 11): the orchestrator built once
// and run as separate OS processes, an API and two workers, on the
// suite's own RabbitMQ and PostgreSQL, which the tests stop and restart
// mid-run. Each case submits one job over a series of small netCDF files
// (local folders: sources and references) and interrupts it at a
// deterministic point: once the status API shows the ref stage
// PROCESSING with most of its tasks still to run, the workers are frozen
// (SIGSTOP), the fault is applied, and they are let go (SIGCONT). Each
// case then checks, within a bounded time, that the job completed exactly
// once: the job and its Release COMPLETED, one combined.json, one
// reference per file, every stage gate advanced once (revision 3:
// created, PROCESSING, COMPLETED), every stage holding as many tasks as it
// planned, all COMPLETED; and that no process was restarted.
//
// scripts/faults starts the instances and sets VZARR_FAULTS_RABBIT_URL,
// VZARR_FAULTS_PG_DSN and the settings scripts/rabbitmq and
// scripts/postgres need to stop and start them (VZARR_FAULTS_RABBIT_DIR,
// ...). Run alone, the suite skips (or fails with VZARR_REQUIRE_TOOLS=1):
// it must never stop the shared instances.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
)

// faultFiles is the size of the series: enough that the ref stage lasts
// long enough to be caught PROCESSING.
const faultFiles = 60

// faultEnv is what the cases share: the binary, the instances, the data.
type faultEnv struct {
	bin       string
	extraArgs []string // flags every process gets (-auth none, -allowed-sources)
	rabbitURL string
	dsn       string
	scripts   string
	source    string // the series
	work      string
}

func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	e := &faultEnv{rabbitURL: os.Getenv("VZARR_FAULTS_RABBIT_URL"), dsn: os.Getenv("VZARR_FAULTS_PG_DSN"),
		scripts: os.Getenv("VZARR_FAULTS_SCRIPTS")}
	if e.rabbitURL == "" || e.dsn == "" || e.scripts == "" || os.Getenv("VZARR_FAULTS_RABBIT_DIR") == "" ||
		os.Getenv("VZARR_FAULTS_PG_DIR") == "" {
		testenv.SkipOrFail(t, "the fault suite runs through scripts/faults (it starts its own RabbitMQ and PostgreSQL)")
	}
	for _, shared := range []string{"/tmp/vzarr-rabbitmq", "/tmp/vzarr-pg"} {
		for _, v := range []string{"VZARR_FAULTS_RABBIT_DIR", "VZARR_FAULTS_PG_DIR"} {
			require.NotEqual(t, shared, filepath.Clean(os.Getenv(v)), "the suite must not stop the shared instances")
		}
	}
	// The processes' logs and data stay in VZARR_FAULTS_WORK when it is
	// set (scripts/faults keeps it with VZARR_FAULTS_KEEP=1).
	e.work = os.Getenv("VZARR_FAULTS_WORK")
	if e.work == "" {
		e.work = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(e.work, 0o755))
	e.bin = filepath.Join(e.work, "orchestrator")
	out, err := exec.Command("go", "build", "-o", e.bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	py := testenv.Python(t, "netCDF4", "numpy")
	e.source = filepath.Join(e.work, "series")
	out, err = exec.Command(py, filepath.Join("..", "..", "testdata", "gen_sample.py"), "--out", e.source,
		"--count", fmt.Sprint(faultFiles), "--start-year", "1901").CombinedOutput()
	require.NoError(t, err, "gen_sample.py: %s", out)
	// The API listens on loopback only, so it may run without
	// authentication; sources are confined to the generated series.
	e.extraArgs = append(e.extraArgs, "-auth", "none", "-allowed-sources", "file://"+e.source+"/")
	return e
}

// service runs scripts/rabbitmq or scripts/postgres on the suite's own
// instance.
func (e *faultEnv) service(t *testing.T, which, verb string) time.Duration {
	t.Helper()
	var env []string
	switch which {
	case "rabbitmq":
		env = []string{"VZARR_RABBIT_DIR=" + os.Getenv("VZARR_FAULTS_RABBIT_DIR"), "VZARR_RABBIT_PORT=" + os.Getenv("VZARR_FAULTS_RABBIT_PORT"),
			"VZARR_RABBIT_NODE=" + os.Getenv("VZARR_FAULTS_RABBIT_NODE")}
	case "postgres":
		env = []string{"VZARR_PG_DIR=" + os.Getenv("VZARR_FAULTS_PG_DIR"), "VZARR_PG_PORT=" + os.Getenv("VZARR_FAULTS_PG_PORT"),
			"VZARR_PG_DB=" + os.Getenv("VZARR_FAULTS_PG_DB")}
	}
	if verb == "stop" {
		// A case that fails while the service is down must not take the
		// next cases with it.
		t.Cleanup(func() {
			cmd := exec.Command(filepath.Join(e.scripts, which), "start")
			cmd.Env = append(os.Environ(), env...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("restarting %s: %v: %s", which, err, out)
			}
		})
	}
	start := time.Now()
	cmd := exec.Command(filepath.Join(e.scripts, which), verb)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s: %s", which, verb, out)
	if verb == "start" {
		// The clients reconnect to the same address.
		cmd := exec.Command(filepath.Join(e.scripts, which), map[string]string{"rabbitmq": "url", "postgres": "dsn"}[which])
		cmd.Env = append(os.Environ(), env...)
		addr, err := cmd.Output()
		require.NoError(t, err)
		want := map[string]string{"rabbitmq": e.rabbitURL, "postgres": e.dsn}[which]
		require.Equal(t, want, strings.TrimSpace(string(addr)), "%s came back on another port", which)
	}
	return time.Since(start)
}

// proc is one orchestrator process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig), "%s: %v", p.name, sig)
}

// logLines returns the process's log lines at level (JSON: "level":"ERROR").
func (p *proc) logLines(t *testing.T, level string) []string {
	t.Helper()
	f, err := os.Open(p.log)
	require.NoError(t, err)
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"level":"`+level+`"`) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// startedTask reports whether the process's log says it started task id.
func (p *proc) startedTask(t *testing.T, id string) bool {
	t.Helper()
	for _, l := range p.logLines(t, "DEBUG") {
		if strings.Contains(l, `"msg":"engine: task started"`) && strings.Contains(l, `"task_id":"`+id+`"`) {
			return true
		}
	}
	return false
}

// cluster is one case's API and workers, on their own schema and queue.
type cluster struct {
	env    *faultEnv
	name   string
	schema string
	queue  string
	refs   string
	lease  time.Duration
	// concurrency is each worker's -workers.
	concurrency int
	api         *proc
	base        string
	workers     []*proc
}

// cluster starts an API and two workers, each running concurrency tasks
// at once and holding up to 2×concurrency unacknowledged messages.
func (e *faultEnv) cluster(t *testing.T, name string, lease time.Duration, concurrency int) *cluster {
	t.Helper()
	c := &cluster{env: e, name: name, schema: "faults_" + name + "_" + testenv.RandomSuffix(),
		queue: fmt.Sprintf("rabbit://vzarr-faults-%s-%s?prefetch_count=%d", name, testenv.RandomSuffix(), 2*concurrency),
		refs:  filepath.Join(e.work, name, "refs"), lease: lease, concurrency: concurrency}
	require.NoError(t, os.MkdirAll(c.refs, 0o755))
	// The API first: it creates the schema; then the workers.
	c.api = c.start(t, "api", "api")
	c.base = "http://" + c.waitListening(t, c.api)
	for i := range 2 {
		c.workers = append(c.workers, c.start(t, fmt.Sprintf("worker%d", i+1), "worker"))
	}
	return c
}

// start runs one orchestrator process: every flag is set here.
func (c *cluster) start(t *testing.T, name, mode string) *proc {
	t.Helper()
	args := []string{"-mode", mode, "-addr", "127.0.0.1:0", "-queue", c.queue, "-catalog", c.env.dsn,
		"-catalog-schema", c.schema, "-refs-url", c.refs, "-allow-local", "-workers", fmt.Sprint(c.concurrency),
		"-lease-timeout", c.lease.String(), "-shutdown-timeout", "5s", "-log-level", "debug"}
	args = append(args, c.env.extraArgs...)
	p := &proc{name: name, log: filepath.Join(c.env.work, c.name, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	require.NoError(t, err)
	p.cmd = exec.Command(c.env.bin, args...)
	p.cmd.Env = append(os.Environ(), "RABBIT_SERVER_URL="+c.env.rabbitURL)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	require.NoError(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.alive() {
			return
		}
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("%s log (last 4 KB):\n%s", p.name, tail(b, 4096))
		}
	})
	return p
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// waitListening returns the API's address from its log.
func (c *cluster) waitListening(t *testing.T, p *proc) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(p.log)
		for _, l := range strings.Split(string(b), "\n") {
			var m struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(l), &m) == nil && m.Msg == "orchestrator: API listening" {
				return m.Addr
			}
		}
		if !p.alive() {
			t.Fatalf("%s exited: %v\n%s", p.name, p.err, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s is not listening after 60 s", p.name)
	return ""
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func (c *cluster) get(t *testing.T, path string) (int, map[string]any) {
	t.Helper()
	resp, err := httpClient.Get(c.base + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), "%s", b)
	return resp.StatusCode, m
}

func (c *cluster) submit(t *testing.T) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"dataset_id": "faults", "resource_id": c.name, "source_url": c.env.source,
		"data_type": "zarr", "collection_id": "faults", "processing_options": map[string]any{"pipeline": "kerchunk",
			"concat_dim": "time", "file_pattern": "tas_*.nc", "fail_on_chunking_warnings": false, "overwrite": false}})
	var resp *http.Response
	var err error
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err = httpClient.Post(c.base+"/api/platform/submit", "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
		resp.Body.Close() // the workers are still declaring the queue
		time.Sleep(100 * time.Millisecond)
	}
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	require.Equal(t, http.StatusAccepted, resp.StatusCode, m)
	return m["job_id"].(string)
}

// stage returns a stage's summary from the status API.
func stage(st map[string]any, name string) map[string]any {
	stages, _ := st["stages"].([]any)
	for _, s := range stages {
		if m, ok := s.(map[string]any); ok && m["name"] == name {
			return m
		}
	}
	return nil
}

// stageCount is a task count of a stage summary.
func stageCount(s map[string]any, status string) int {
	counts, _ := s["counts"].(map[string]any)
	n, _ := counts[status].(float64)
	return int(n)
}

// freezeMidRef waits until the ref stage is PROCESSING with at most
// maxDone of its tasks COMPLETED, and freezes the workers (SIGSTOP) there. It
// returns the status at the freeze.
func (c *cluster) freezeMidRef(t *testing.T, jobID string, maxDone int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		_, st := c.get(t, "/api/jobs/status/"+jobID)
		ref := stage(st, "ref")
		if ref != nil && ref["status"] == "PROCESSING" && stageCount(ref, "COMPLETED") <= maxDone {
			for _, w := range c.workers {
				w.signal(t, syscall.SIGSTOP)
			}
			_, st = c.get(t, "/api/jobs/status/"+jobID)
			ref = stage(st, "ref")
			require.Equal(t, "PROCESSING", ref["status"], "frozen mid-ref")
			require.Less(t, stageCount(ref, "COMPLETED"), faultFiles, "frozen mid-ref")
			return st
		}
		require.NotEqual(t, "COMPLETED", st["status"], "the job ended before it could be interrupted")
		require.NotEqual(t, "FAILED", st["status"], st["error"])
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the ref stage never showed PROCESSING")
	return nil
}

func (c *cluster) thaw(t *testing.T) {
	t.Helper()
	for _, w := range c.workers {
		if w.alive() {
			w.signal(t, syscall.SIGCONT)
		}
	}
}

// waitJob polls the status API until the job ends (bounded).
func (c *cluster) waitJob(t *testing.T, jobID string, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, st := c.get(t, "/api/jobs/status/"+jobID)
		if code == http.StatusOK && (st["status"] == "COMPLETED" || st["status"] == "FAILED") {
			return st
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(st, "", " ")
			t.Fatalf("job %s not done after %s:\n%s", jobID, timeout, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitReady polls /readyz until it answers want; it returns the last body.
func (c *cluster) waitReady(t *testing.T, want int, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, m := c.get(t, "/readyz")
		if code == want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d (%v) after %s, want %d", code, m, timeout, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertExactlyOnce checks a completed job's records and outputs.
func (c *cluster) assertExactlyOnce(t *testing.T, jobID string, st map[string]any) {
	t.Helper()
	require.Equal(t, "COMPLETED", st["status"], "job: %v", st["error"])
	rel, _ := st["release"].(map[string]any)
	require.NotNil(t, rel)
	assert.Equal(t, "COMPLETED", rel["processing_status"])
	assert.EqualValues(t, 1, rel["version"], "one Release")

	_, tasks := c.get(t, "/api/dbadmin/tasks/"+jobID+"?limit=1000")
	gates, _ := tasks["stage_gates"].([]any)
	planned := map[string]int{}
	require.Len(t, gates, 5)
	for _, g := range gates {
		g := g.(map[string]any)
		assert.Equal(t, "COMPLETED", g["status"], g["id"])
		assert.EqualValues(t, 3, g["revision"], "gate %s advanced once (created, PROCESSING, COMPLETED)", g["id"])
		var res struct {
			Tasks int `json:"tasks"`
		}
		b, _ := json.Marshal(g["result"])
		require.NoError(t, json.Unmarshal(b, &res), "%s", b)
		planned[g["stage"].(string)] = res.Tasks
	}
	assert.Equal(t, map[string]int{"scan": 1, "validate": faultFiles, "ref": faultFiles, "combine": 1, "register": 1}, planned)
	got := map[string]int{}
	list, _ := tasks["tasks"].([]any)
	for _, tk := range list {
		tk := tk.(map[string]any)
		got[tk["stage"].(string)]++
		assert.Equal(t, "COMPLETED", tk["status"], tk["id"])
	}
	assert.Equal(t, planned, got, "as many task records as planned")

	var combined, refs int
	require.NoError(t, filepath.WalkDir(c.refs, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch {
		case d.Name() == "combined.json":
			combined++
		case strings.HasSuffix(d.Name(), ".json"):
			refs++
		}
		return nil
	}))
	assert.Equal(t, 1, combined, "one combined.json")
	assert.Equal(t, faultFiles, refs, "one reference per file")
}

func (c *cluster) assertNoRestart(t *testing.T, procs ...*proc) {
	t.Helper()
	for _, p := range procs {
		assert.True(t, p.alive(), "%s is still the same process (exited: %v)", p.name, p.err)
	}
}

// figures collects the measurements the suite reports at the end.
var figures struct {
	sync.Mutex
	lines []string
}

func report(t *testing.T, format string, args ...any) {
	t.Helper()
	s := fmt.Sprintf(format, args...)
	t.Log(s)
	figures.Lock()
	figures.lines = append(figures.lines, t.Name()+": "+s)
	figures.Unlock()
}

// outageLines counts a process's WARN and ERROR lines.
func outageLines(t *testing.T, p *proc) (warn, errs int) {
	return len(p.logLines(t, "WARN")), len(p.logLines(t, "ERROR"))
}

// maxOutageLines bounds the WARN+ERROR lines a process may log for one
// outage: a few state changes, never one per attempt or per message.
const maxOutageLines = 12

func TestFaults(t *testing.T) {
	start := time.Now()
	e := newFaultEnv(t)
	t.Cleanup(func() {
		figures.Lock()
		defer figures.Unlock()
		t.Logf("fault suite figures (%s in all):\n  %s", time.Since(start).Round(time.Second), strings.Join(figures.lines, "\n  "))
	})

	t.Run("RabbitMQRestart", func(t *testing.T) {
		c := e.cluster(t, "rabbit", 30*time.Second, 1)
		job := c.submit(t)
		c.freezeMidRef(t, job, faultFiles/2)
		stopTook := e.service(t, "rabbitmq", "stop")
		c.thaw(t)
		body := c.waitReady(t, http.StatusServiceUnavailable, 30*time.Second)
		assert.Equal(t, "queue_unavailable", body["error_type"])
		assert.NotContains(t, fmt.Sprint(body["error"]), "127.0.0.1", "no host in the body")
		// The broker stays away for a while: the workers try to reconnect.
		time.Sleep(2 * time.Second)
		_, st := c.get(t, "/api/jobs/status/"+job)
		assert.Equal(t, "PROCESSING", st["status"])
		startTook := e.service(t, "rabbitmq", "start")
		back := time.Now()
		c.waitReady(t, http.StatusOK, 60*time.Second)
		readyAfter := time.Since(back)
		st = c.waitJob(t, job, 90*time.Second)
		doneAfter := time.Since(back)
		c.assertExactlyOnce(t, job, st)
		c.assertNoRestart(t, append([]*proc{c.api}, c.workers...)...)
		report(t, "broker stop took %s, start took %s; /readyz 200 %s after the broker was back; job completed %s after",
			stopTook.Round(time.Millisecond), startTook.Round(time.Millisecond), readyAfter.Round(time.Millisecond), doneAfter.Round(time.Millisecond))
		for _, p := range append([]*proc{c.api}, c.workers...) {
			// A worker the job did not need may still be between two
			// attempts: wait (bounded: the backoff is capped at 5 s).
			require.Eventually(t, func() bool {
				for _, l := range p.logLines(t, "INFO") {
					if strings.Contains(l, `"msg":"queue: broker reachable again"`) {
						return true
					}
				}
				return false
			}, 30*time.Second, 50*time.Millisecond, "%s reconnected", p.name)
			warn, errs := outageLines(t, p)
			var downFor []string
			for _, l := range p.logLines(t, "INFO") {
				var m struct {
					Time    time.Time     `json:"time"`
					Msg     string        `json:"msg"`
					DownFor time.Duration `json:"down_for"`
				}
				if json.Unmarshal([]byte(l), &m) == nil && m.Msg == "queue: broker reachable again" {
					downFor = append(downFor, fmt.Sprintf("down for %s, back %s after scripts/rabbitmq start returned",
						m.DownFor.Round(time.Millisecond), m.Time.Sub(back).Round(time.Millisecond)))
				}
			}
			report(t, "%s: %d WARN, %d ERROR lines; reconnected: %v", p.name, warn, errs, downFor)
			assert.LessOrEqual(t, warn+errs, maxOutageLines, "%s logs the outage, not each attempt", p.name)
			assert.NotEmpty(t, downFor, "%s logged its reconnection", p.name)
		}
	})

	t.Run("WorkerKill9", func(t *testing.T) {
		c := e.cluster(t, "kill", 2*time.Second, 1)
		job := c.submit(t)
		// Freeze until a worker is seen holding a ref task (its log
		// says it started a task the catalog shows PROCESSING): the
		// killed worker then certainly dies mid-task.
		var victim, survivor *proc
		var held string
		for try := 0; victim == nil; try++ {
			require.Less(t, try, 200, "no worker caught holding a ref task")
			if try > 0 {
				c.thaw(t)
				time.Sleep(time.Duration(try%7) * time.Millisecond)
			}
			c.freezeMidRef(t, job, faultFiles-4)
			_, tasks := c.get(t, "/api/dbadmin/tasks/"+job+"?stage=ref&status=PROCESSING")
			for _, tk := range tasks["tasks"].([]any) {
				id := tk.(map[string]any)["id"].(string)
				for i, w := range c.workers {
					if w.startedTask(t, id) {
						victim, survivor, held = w, c.workers[1-i], id
					}
				}
			}
		}
		victim.signal(t, syscall.SIGKILL)
		<-victim.done
		killed := time.Now()
		c.thaw(t)
		st := c.waitJob(t, job, 90*time.Second)
		c.assertExactlyOnce(t, job, st)
		c.assertNoRestart(t, c.api, survivor)
		_, tasks := c.get(t, "/api/dbadmin/tasks/"+job+"?stage=ref&limit=1000")
		retried := 0
		for _, tk := range tasks["tasks"].([]any) {
			tk := tk.(map[string]any)
			if tk["attempts"].(float64) > 1 {
				retried++
			}
			if tk["id"] == held {
				assert.EqualValues(t, 2, tk["attempts"], "the killed worker's task was taken over once")
			}
		}
		assert.True(t, survivor.startedTask(t, held), "the survivor ran the killed worker's task")
		report(t, "killed %s holding %s; %d task(s) run again; job completed %s after the kill (lease 2s)",
			victim.name, held, retried, time.Since(killed).Round(time.Millisecond))
	})

	t.Run("PostgresRestart", func(t *testing.T) {
		// Several messages in flight per worker, as in production: a
		// retry loop that logs each failure would show here.
		c := e.cluster(t, "pg", 30*time.Second, 4)
		job := c.submit(t)
		c.freezeMidRef(t, job, faultFiles/2)
		stopTook := e.service(t, "postgres", "stop")
		c.thaw(t)
		body := c.waitReady(t, http.StatusServiceUnavailable, 30*time.Second)
		assert.Equal(t, "catalog_unavailable", body["error_type"])
		assert.NotContains(t, fmt.Sprint(body["error"]), "postgres://", "no DSN in the body")
		// The database stays away for a while: the workers retry.
		time.Sleep(4 * time.Second)
		startTook := e.service(t, "postgres", "start")
		back := time.Now()
		c.waitReady(t, http.StatusOK, 60*time.Second)
		st := c.waitJob(t, job, 90*time.Second)
		doneAfter := time.Since(back)
		c.assertExactlyOnce(t, job, st)
		c.assertNoRestart(t, append([]*proc{c.api}, c.workers...)...)
		report(t, "database stop took %s, start took %s; job completed %s after the database was back",
			stopTook.Round(time.Millisecond), startTook.Round(time.Millisecond), doneAfter.Round(time.Millisecond))
		for _, w := range c.workers {
			warn, errs := outageLines(t, w)
			failed := 0
			for _, l := range w.logLines(t, "DEBUG") {
				if strings.Contains(l, "engine: handling failed") {
					failed++
				}
			}
			report(t, "%s: %d WARN, %d ERROR lines for the outage (%d more failed deliveries at debug level)", w.name, warn, errs, failed)
			assert.LessOrEqual(t, warn+errs, maxOutageLines, "%s logs the outage, not each retry", w.name)
		}
	})
}
