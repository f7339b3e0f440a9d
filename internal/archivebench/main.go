// Command archivebench is the end-to-end benchmark of a daily archive of
// small netCDF-4 files (issue 15): it makes the archive
// (testdata/gen_archive.py), uploads it to Azurite when asked, runs
// `vzarr run` over its first N files (scan, validate, ref, combine,
// register) and prints one JSON line of figures: wall and CPU time, the
// worker's peak RSS, storage requests and bytes, catalog rows and queue
// messages per file, and each stage's time. scripts/bench-archive is its
// front end; nothing is asserted on time.
//
//	go run ./internal/archivebench -n 1000 [-azurite] [-catalog DSN] [-vzarr BIN]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/greensight/vzarr/blobio"
	_ "github.com/greensight/vzarr/blobio/azure" // abfs:// URLs
	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/internal/latency"
)

// The platform's Azurite accounts (scripts/azurite): sources and references.
const (
	sourceAccount = "rmhazuregeobronze"
	refsAccount   = "rmhazuregeosilver"
	benchDataset  = "archivebench"
)

// config is the command line.
type config struct {
	n        int
	work     string
	vzarr    string
	azurite  bool
	catalog  string
	queue    string
	workers  int
	profile  string
	delay    time.Duration
	noProxy  bool
	clean    bool
	gen      string
	keepOuts bool
	// container is the Azurite container (in both accounts) of the run.
	container string
	// breakdown prints the proxy's requests grouped by kind to stderr.
	breakdown bool
	// orchestrator runs the archive through examples/orchestrator
	// (orchestrator.go): orchBin is its binary, orchProcs its worker
	// processes (0: one process serving the API and the workers).
	orchestrator bool
	orchBin      string
	orchProcs    int
	// floor replays vzarr's request mix without vzarr (floor.go).
	floor bool
	mix   floorMix
	// azcost measures Azurite's CPU per request at these blob counts.
	azcost     string
	azuritePID int
}

// figures is the line archivebench prints.
type figures struct {
	Files           int              `json:"files"`
	Storage         string           `json:"storage"`
	DelayMS         float64          `json:"delay_ms"`
	Success         bool             `json:"success"`
	Error           string           `json:"error,omitempty"`
	WallS           float64          `json:"wall_s"`
	CPUS            float64          `json:"cpu_s"`
	PeakRSSMiB      float64          `json:"peak_rss_mib"`
	Requests        int64            `json:"storage_requests"`
	BytesRead       int64            `json:"bytes_read"`
	BytesWritten    int64            `json:"bytes_written"`
	RequestsPerFile float64          `json:"requests_per_file"`
	BytesPerFile    float64          `json:"bytes_read_per_file"`
	CatalogRows     int              `json:"catalog_rows"`
	RowsPerFile     float64          `json:"catalog_rows_per_file"`
	Messages        int              `json:"queue_messages"`
	MessagesPerFile float64          `json:"queue_messages_per_file"`
	StagesMS        map[string]int64 `json:"stages_ms"`
	UploadS         float64          `json:"upload_s,omitempty"`
	// HTTPRequests and HTTPBytes are what the latency proxy served
	// (-azurite only): every request, listing and writes included.
	HTTPRequests        int64   `json:"http_requests,omitempty"`
	HTTPBytes           int64   `json:"http_bytes,omitempty"`
	HTTPRequestsPerFile float64 `json:"http_requests_per_file,omitempty"`
	// AzuriteCPUS is the CPU Azurite spent during the run (-azurite, when
	// its pid is known), and per request the proxy served.
	AzuriteCPUS            float64 `json:"azurite_cpu_s,omitempty"`
	AzuriteCPUMSPerRequest float64 `json:"azurite_cpu_ms_per_request,omitempty"`
}

func main() {
	var c config
	flag.IntVar(&c.n, "n", 1000, "files in the archive run")
	flag.StringVar(&c.work, "work", filepath.Join(os.TempDir(), "vzarr-archive"), "working folder (archive, outputs)")
	flag.StringVar(&c.vzarr, "vzarr", "", "vzarr binary (default: built into the working folder)")
	flag.BoolVar(&c.azurite, "azurite", false, "read the archive from Azurite and write the references there (scripts/azurite env)")
	flag.StringVar(&c.catalog, "catalog", "", "PostgreSQL catalog DSN for vzarr run (default: in memory)")
	flag.StringVar(&c.queue, "queue", "", "queue URL for vzarr run (default: in process)")
	flag.IntVar(&c.workers, "j", 0, "vzarr run -j (default: vzarr's)")
	flag.StringVar(&c.profile, "cpuprofile", "", "write vzarr's CPU profile here")
	flag.DurationVar(&c.delay, "delay", 0, "with -azurite: latency the proxy (internal/latency) adds to every storage request")
	flag.BoolVar(&c.noProxy, "no-proxy", false, "with -azurite: reach Azurite directly (no latency proxy, no HTTP counts)")
	flag.BoolVar(&c.clean, "clean", false, "delete the benchmark's Azurite containers (archive and references) and exit")
	flag.StringVar(&c.container, "container", "archivebench", "with -azurite: the container (in both accounts) of the archive and references")
	flag.BoolVar(&c.breakdown, "breakdown", false, "with -azurite: print the proxy's requests grouped by method and kind to stderr")
	flag.StringVar(&c.gen, "gen", "testdata/gen_archive.py", "the archive generator")
	flag.BoolVar(&c.orchestrator, "orchestrator", false, "with -azurite: run the archive through examples/orchestrator (submit to its API) instead of vzarr run")
	flag.StringVar(&c.orchBin, "orchestrator-bin", "", "the orchestrator binary (default: built into the working folder)")
	flag.IntVar(&c.orchProcs, "orch-procs", 0, "with -orchestrator: worker processes beside an API process (0: one process does both; >0 needs -catalog and -queue rabbit://NAME)")
	flag.BoolVar(&c.floor, "floor", false, "with -azurite: replay vzarr's requests with the Azure SDK alone (the emulator's floor; see -floor-*)")
	floorFlags(&c.mix)
	flag.StringVar(&c.azcost, "azcost", "", "measure Azurite's CPU per request with the container filled to these blob counts (100,1000,10000) and exit")
	flag.IntVar(&c.azuritePID, "azurite-pid", 0, "Azurite's pid for its CPU figures (default: scripts/azurite's pid file)")
	flag.Parse()
	if err := run(context.Background(), c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "archivebench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config, stdout io.Writer) error {
	if c.clean {
		for _, a := range []string{sourceAccount, refsAccount} {
			if err := deleteContainer(ctx, a, c.container); err != nil {
				return err
			}
		}
		return nil
	}
	if c.azcost != "" {
		return runCost(ctx, c, stdout)
	}
	if c.n <= 0 {
		return errors.New("-n must be positive")
	}
	if c.delay > 0 && (!c.azurite || c.noProxy) {
		return errors.New("-delay needs -azurite (the latency proxy stands in front of Azurite)")
	}
	if c.floor {
		if !c.azurite || c.noProxy {
			return errors.New("-floor needs -azurite (it replays vzarr's requests through the latency proxy)")
		}
		return runFloor(ctx, c, stdout)
	}
	files, err := archiveFiles(ctx, c)
	if err != nil {
		return err
	}
	fig := figures{Files: c.n, Storage: "local", DelayMS: float64(c.delay) / 1e6}
	runName := fmt.Sprintf("n%d", c.n)
	var sourceURL, outURL string
	if c.azurite {
		fig.Storage = "azurite"
		start := time.Now()
		if sourceURL, err = upload(ctx, files, c.container, runName); err != nil {
			return err
		}
		fig.UploadS = time.Since(start).Seconds()
		outURL = fmt.Sprintf("abfs://%s/%s/%s-%d/", refsAccount, c.container, runName, time.Now().UnixNano())
		if err := ensureContainer(ctx, refsAccount, c.container); err != nil {
			return err
		}
	} else {
		// A folder of links to the first N files.
		sourceURL = filepath.Join(c.work, runName)
		if err := linkFirst(files, sourceURL); err != nil {
			return err
		}
		outURL = filepath.Join(c.work, "out-"+runName)
		if err := os.RemoveAll(outURL); err != nil {
			return err
		}
	}

	if c.orchestrator {
		return runOrchestrator(ctx, c, fig, sourceURL, outURL, stdout)
	}
	bin := c.vzarr
	if bin == "" {
		bin = filepath.Join(c.work, "vzarr")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/vzarr")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building vzarr: %w", err)
		}
	}

	args := []string{"run", "--dataset-id", benchDataset, "--resource-id", fmt.Sprintf("%s-%d", runName, time.Now().UnixNano()),
		"--progress", "never", "-o", outURL}
	if c.catalog != "" {
		args = append(args, "--catalog", c.catalog)
	}
	if c.queue != "" {
		args = append(args, "--queue", c.queue)
	}
	if c.workers > 0 {
		args = append(args, "-j", fmt.Sprint(c.workers))
	}
	args = append(args, sourceURL)
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	cmd.Env = os.Environ()
	var proxy *latency.Proxy
	if c.azurite && !c.noProxy {
		// Every storage request of vzarr goes through the latency proxy,
		// which adds the delay and counts requests and bytes.
		if proxy, cmd.Env, err = withProxy(cmd.Env, c.delay); err != nil {
			return err
		}
		defer proxy.Close()
	}
	if c.profile != "" {
		cmd.Env = append(cmd.Env, "VZARR_CPUPROFILE="+c.profile)
	}
	var az azuriteCPU
	if c.azurite {
		az = newAzuriteCPU(c.azuritePID)
	}
	start := time.Now()
	runErr := cmd.Run()
	fig.WallS = time.Since(start).Seconds()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		fig.PeakRSSMiB = float64(ru.Maxrss) / 1024 // KiB on Linux
		fig.CPUS = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	if proxy != nil {
		st := proxy.Stats()
		fig.HTTPRequests, fig.HTTPBytes = st.Requests, st.Bytes
		fig.HTTPRequestsPerFile = float64(st.Requests) / float64(c.n)
		az.report(&fig, st.Requests)
		if c.breakdown {
			printBreakdown(os.Stderr, st.Timeline, c.n)
		}
	}
	var env struct {
		Success bool   `json:"success"`
		Error   string `json:"error"`
		Result  struct {
			JobID           string `json:"job_id"`
			FileCount       int    `json:"file_count"`
			StorageRequests int64  `json:"storage_requests"`
			BytesRead       int64  `json:"bytes_read"`
			BytesWritten    int64  `json:"bytes_written"`
			Stages          []struct {
				Name       string `json:"name"`
				Tasks      int    `json:"tasks"`
				DurationMS int64  `json:"duration_ms"`
			} `json:"stages"`
		} `json:"result"`
	}
	if err := json.Unmarshal(out.Bytes(), &env); err != nil {
		return fmt.Errorf("vzarr run (%v) printed no summary: %w: %s", runErr, err, out.String())
	}
	r := env.Result
	fig.Success, fig.Error = env.Success, env.Error
	fig.Requests, fig.BytesRead, fig.BytesWritten = r.StorageRequests, r.BytesRead, r.BytesWritten
	fig.StagesMS = map[string]int64{}
	tasks := 0
	for _, s := range r.Stages {
		fig.StagesMS[s.Name] = s.DurationMS
		tasks += s.Tasks
	}
	// Rows: the asset, the release, the job, each task and each stage's
	// gate (counted in the catalog when it is PostgreSQL). Messages: the
	// job's and one per task (the engine publishes no others unless a
	// message is deferred or delivered again).
	fig.CatalogRows = 3 + tasks + len(r.Stages)
	if c.catalog != "" && r.JobID != "" {
		if n, err := countTasks(ctx, c.catalog, r.JobID); err == nil {
			fig.CatalogRows = 3 + n
		}
	}
	fig.Messages = 1 + tasks
	fig.RequestsPerFile = float64(fig.Requests) / float64(c.n)
	fig.BytesPerFile = float64(fig.BytesRead) / float64(c.n)
	fig.RowsPerFile = float64(fig.CatalogRows) / float64(c.n)
	fig.MessagesPerFile = float64(fig.Messages) / float64(c.n)
	if err := json.NewEncoder(stdout).Encode(fig); err != nil {
		return err
	}
	if !env.Success {
		return fmt.Errorf("vzarr run failed: %s", env.Error)
	}
	return nil
}

// archiveFiles makes the archive's first c.n files (the generator keeps
// the files that exist) and returns their paths, by date.
func archiveFiles(ctx context.Context, c config) ([]string, error) {
	src := filepath.Join(c.work, "src")
	gen := exec.CommandContext(ctx, "/usr/bin/python3", c.gen, src, fmt.Sprint(c.n))
	gen.Stderr = os.Stderr
	if err := gen.Run(); err != nil {
		return nil, fmt.Errorf("generating the archive: %w", err)
	}
	files, err := filepath.Glob(filepath.Join(src, "*.nc"))
	if err != nil {
		return nil, err
	}
	if len(files) < c.n {
		return nil, fmt.Errorf("%s holds %d files, want %d", src, len(files), c.n)
	}
	return files[:c.n], nil // names sort by date
}

// withProxy starts a latency proxy in front of the Azurite of
// VZARR_STORAGE_CONNECTION_STRINGS and returns env with those connection
// strings moved to it.
func withProxy(env []string, delay time.Duration) (*latency.Proxy, []string, error) {
	const key = "VZARR_STORAGE_CONNECTION_STRINGS"
	css := blobio.SplitList(os.Getenv(key), "|")
	if len(css) == 0 {
		return nil, nil, fmt.Errorf("%s is empty: eval \"$(scripts/azurite env)\"", key)
	}
	var target *url.URL
	for _, part := range strings.Split(css[0], ";") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.EqualFold(k, "BlobEndpoint") {
			target, _ = url.Parse(v)
		}
	}
	if target == nil || target.Host == "" {
		return nil, nil, fmt.Errorf("%s has no BlobEndpoint", key)
	}
	p, err := latency.NewProxy(target, latency.Config{Delay: delay})
	if err != nil {
		return nil, nil, err
	}
	for i, cs := range css {
		if css[i], err = p.ConnectionString(cs); err != nil {
			p.Close()
			return nil, nil, err
		}
	}
	return p, append(env, key+"="+strings.Join(css, "|")), nil
}

// linkFirst makes dir a folder of hard links (symbolic when those fail)
// to files, and nothing else.
func linkFirst(files []string, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		to := filepath.Join(dir, filepath.Base(f))
		if err := os.Link(f, to); err != nil {
			abs, _ := filepath.Abs(f)
			if err := os.Symlink(abs, to); err != nil {
				return err
			}
		}
	}
	return nil
}

// upload copies files to abfs://rmhazuregeobronze/CONTAINER/RUN/ unless
// a listing finds them there already, and returns that URL.
func upload(ctx context.Context, files []string, containerName, runName string) (string, error) {
	o := blobio.NewOpenerFromEnv()
	if err := ensureContainer(ctx, sourceAccount, containerName); err != nil {
		return "", err
	}
	prefix := fmt.Sprintf("abfs://%s/%s/%s/", sourceAccount, containerName, runName)
	if res, err := o.Scan(ctx, prefix, blobio.ScanOptions{}); err == nil && res.FileCount == len(files) {
		return prefix, nil
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	errs := make(chan error, len(files))
	for _, f := range files {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			data, err := os.ReadFile(f)
			if err == nil {
				err = o.WriteAtomic(ctx, prefix+filepath.Base(f), func(w io.Writer) error {
					_, err := w.Write(data)
					return err
				})
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return "", fmt.Errorf("uploading the archive: %w", err)
	}
	return prefix, nil
}

// ensureContainer creates a container of an Azurite account unless it
// exists.
func ensureContainer(ctx context.Context, account, name string) error {
	client, err := containerClient(account, name)
	if err != nil {
		return err
	}
	if _, err := client.Create(ctx, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return fmt.Errorf("creating container %s of %s: %w", name, account, err)
	}
	return nil
}

// deleteContainer deletes a container of an Azurite account, if it exists.
func deleteContainer(ctx context.Context, account, name string) error {
	client, err := containerClient(account, name)
	if err != nil {
		return err
	}
	if _, err := client.Delete(ctx, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerNotFound) {
		return fmt.Errorf("deleting container %s of %s: %w", name, account, err)
	}
	return nil
}

// containerClient is a client of an Azurite account's container, from
// VZARR_STORAGE_CONNECTION_STRINGS.
func containerClient(account, name string) (*container.Client, error) {
	var cs string
	for _, s := range blobio.SplitList(os.Getenv("VZARR_STORAGE_CONNECTION_STRINGS"), "|") {
		if strings.Contains(s, "AccountName="+account+";") {
			cs = s
		}
	}
	if cs == "" {
		return nil, fmt.Errorf("no connection string for %s in VZARR_STORAGE_CONNECTION_STRINGS: eval \"$(scripts/azurite env)\"", account)
	}
	return container.NewClientFromConnectionString(cs, name, nil)
}

// countTasks counts the catalog's task rows of a job (gates included).
func countTasks(ctx context.Context, dsn, jobID string) (int, error) {
	pg, err := catalog.OpenPostgres(ctx, dsn, catalog.PostgresOptions{})
	if err != nil {
		return 0, err
	}
	defer pg.Close()
	ts, err := pg.ListTasks(ctx, jobID)
	return len(ts), err
}
