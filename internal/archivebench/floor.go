package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/greensight/vzarr/internal/latency"
)

// floorMix is the request mix the emulator floor (-floor) replays: per
// file, what `vzarr run` sends in each stage, as `archivebench -breakdown`
// shows it. The defaults are today's 2 requests per file: validate's
// ranged GET of the source (the whole small file), ref's PUT of the
// reference (ref opens the source from validate's read and combine loads
// the reference from what ref wrote, blobio.HeadCache); one listing of
// the sources, one of the references; the combined reference and the STAC
// item PUT at the end. -floor-ref-gets 1 -floor-combine-gets 1 give the
// 4-request mix of vzarr before the head cache. Change them with the
// -floor-* flags when vzarr's mix changes.
type floorMix struct {
	validateGets int // ranged GETs of the source per file in validate
	refGets      int // ranged GETs of the source per file in ref
	refPuts      int // PUTs of a reference per file in ref
	combineGets  int // ranged GETs of the reference per file in combine
	finalPuts    int // PUTs at the end (combined reference, STAC item)
	refBytes     int // bytes of a reference
	finalBytes   int // bytes of each final PUT (0: 280 per file)
	// combineConcurrency is how many references combine loads at once.
	combineConcurrency int
}

// firstRead is the range of vzarr's first read of an object
// (blobio.MetadataReaderOptions).
const firstRead = 256 << 10

// floorFlags registers the -floor-* flags.
func floorFlags(m *floorMix) {
	flag.IntVar(&m.validateGets, "floor-validate-gets", 1, "with -floor: ranged GETs of the source per file in validate")
	flag.IntVar(&m.refGets, "floor-ref-gets", 0, "with -floor: ranged GETs of the source per file in ref")
	flag.IntVar(&m.refPuts, "floor-ref-puts", 1, "with -floor: PUTs of a reference per file in ref")
	flag.IntVar(&m.combineGets, "floor-combine-gets", 0, "with -floor: ranged GETs of the reference per file in combine")
	flag.IntVar(&m.finalPuts, "floor-final-puts", 2, "with -floor: PUTs at the end (combined reference, STAC item)")
	flag.IntVar(&m.refBytes, "floor-ref-bytes", 3400, "with -floor: bytes of a reference")
	flag.IntVar(&m.finalBytes, "floor-final-bytes", 0, "with -floor: bytes of a final PUT (0: 280 per file)")
	flag.IntVar(&m.combineConcurrency, "floor-combine-j", 32, "with -floor: references combine loads at once")
}

// floorFigures is the line -floor prints: archivebench's figures, with
// the Azurite CPU the requests cost.
type floorFigures struct {
	figures
	Mix string `json:"mix"`
}

// runFloor is -floor: the requests `vzarr run` makes for the first c.n
// files of the archive (floorMix), sent with the Azure SDK alone (no vzarr
// code) to the same Azurite through the same latency proxy, with vzarr's
// concurrency (-j, default 64; combine's 32). Its wall time is what the
// emulator alone needs to serve those requests: the floor of vzarr's wall.
func runFloor(ctx context.Context, c config, stdout io.Writer) error {
	m := c.mix
	if m.finalBytes == 0 {
		m.finalBytes = 280 * c.n
	}
	j := c.workers
	if j <= 0 {
		j = 64
	}
	files, err := archiveFiles(ctx, c)
	if err != nil {
		return err
	}
	runName := fmt.Sprintf("n%d", c.n)
	fig := floorFigures{figures: figures{Files: c.n, Storage: "azurite-floor", DelayMS: float64(c.delay) / 1e6}}
	fig.Mix = fmt.Sprintf("validate %d GET, ref %d GET + %d PUT, combine %d GET (%d at once), %d final PUT; -j %d",
		m.validateGets, m.refGets, m.refPuts, m.combineGets, m.combineConcurrency, m.finalPuts, j)
	start := time.Now()
	if _, err := upload(ctx, files, c.container, runName); err != nil {
		return err
	}
	fig.UploadS = time.Since(start).Seconds()
	if err := ensureContainer(ctx, refsAccount, c.container); err != nil {
		return err
	}
	proxy, err := newAzuriteProxy(c.delay)
	if err != nil {
		return err
	}
	defer proxy.Close()
	src, err := proxiedContainer(proxy, sourceAccount, c.container)
	if err != nil {
		return err
	}
	refs, err := proxiedContainer(proxy, refsAccount, c.container)
	if err != nil {
		return err
	}
	outPrefix := fmt.Sprintf("floor-%s-%d/", runName, time.Now().UnixNano())
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(filepath.Base(f), ".nc")
	}
	refBody := bytes.Repeat([]byte{'r'}, m.refBytes)
	finalBody := bytes.Repeat([]byte{'f'}, m.finalBytes)

	az := newAzuriteCPU(c.azuritePID)
	cpu0 := selfCPU()
	fig.StagesMS = map[string]int64{}
	stage := func(name string, f func() error) error {
		t := time.Now()
		err := f()
		fig.StagesMS[name] = time.Since(t).Milliseconds()
		if err != nil {
			return fmt.Errorf("floor %s: %w", name, err)
		}
		return nil
	}
	start = time.Now()
	err = errors.Join(
		stage("scan", func() error { return listAll(ctx, src, runName+"/") }),
		stage("validate", func() error {
			return forEach(ctx, names, j, func(name string) error {
				return repeat(m.validateGets, func() error { return rangedGet(ctx, src, runName+"/"+name+".nc") })
			})
		}),
		stage("ref", func() error {
			return forEach(ctx, names, j, func(name string) error {
				if err := repeat(m.refGets, func() error { return rangedGet(ctx, src, runName+"/"+name+".nc") }); err != nil {
					return err
				}
				return repeat(m.refPuts, func() error { return put(ctx, refs, outPrefix+name+".json", refBody) })
			})
		}),
		stage("combine", func() error {
			if err := listAll(ctx, refs, outPrefix); err != nil {
				return err
			}
			if err := forEach(ctx, names, m.combineConcurrency, func(name string) error {
				return repeat(m.combineGets, func() error { return rangedGet(ctx, refs, outPrefix+name+".json") })
			}); err != nil {
				return err
			}
			for i := range m.finalPuts {
				if err := put(ctx, refs, fmt.Sprintf("%sfinal-%d.json", outPrefix, i), finalBody); err != nil {
					return err
				}
			}
			return nil
		}),
	)
	fig.WallS = time.Since(start).Seconds()
	fig.CPUS = (selfCPU() - cpu0).Seconds()
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		fig.PeakRSSMiB = float64(ru.Maxrss) / 1024
	}
	st := proxy.Stats()
	fig.Success = err == nil
	if err != nil {
		fig.Error = err.Error()
	}
	fig.Requests, fig.HTTPRequests, fig.HTTPBytes = st.Requests, st.Requests, st.Bytes
	fig.BytesRead = st.Bytes
	fig.BytesWritten = int64(m.refPuts*len(names)*m.refBytes + m.finalPuts*m.finalBytes)
	fig.RequestsPerFile = float64(st.Requests) / float64(c.n)
	fig.HTTPRequestsPerFile = fig.RequestsPerFile
	fig.BytesPerFile = float64(st.Bytes) / float64(c.n)
	az.report(&fig.figures, st.Requests)
	if c.breakdown {
		printBreakdown(os.Stderr, st.Timeline, c.n)
	}
	if encErr := json.NewEncoder(stdout).Encode(fig); encErr != nil {
		return encErr
	}
	return err
}

// repeat calls f n times, stopping at the first error.
func repeat(n int, f func() error) error {
	for range n {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// forEach calls f for every item, at most j at once, and returns the
// errors joined.
func forEach(ctx context.Context, items []string, j int, f func(string) error) error {
	sem := make(chan struct{}, max(j, 1))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(it); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 3 {
		errs = append(errs[:3], fmt.Errorf("and %d more errors", len(errs)-3))
	}
	return errors.Join(errs...)
}

// newAzuriteProxy starts a latency proxy in front of the Azurite of
// VZARR_STORAGE_CONNECTION_STRINGS.
func newAzuriteProxy(delay time.Duration) (*latency.Proxy, error) {
	p, _, err := withProxy(nil, delay)
	return p, err
}

// proxiedContainer is a client of an Azurite account's container whose
// requests go through p.
func proxiedContainer(p *latency.Proxy, account, name string) (*container.Client, error) {
	cs, err := connectionString(account)
	if err != nil {
		return nil, err
	}
	if cs, err = p.ConnectionString(cs); err != nil {
		return nil, err
	}
	return container.NewClientFromConnectionString(cs, name, nil)
}

// connectionString is an Azurite account's connection string, from
// VZARR_STORAGE_CONNECTION_STRINGS.
func connectionString(account string) (string, error) {
	for _, s := range strings.Split(os.Getenv("VZARR_STORAGE_CONNECTION_STRINGS"), "|") {
		if strings.Contains(s, "AccountName="+account+";") {
			return strings.TrimSpace(s), nil
		}
	}
	return "", fmt.Errorf("no connection string for %s in VZARR_STORAGE_CONNECTION_STRINGS: eval \"$(scripts/azurite env)\"", account)
}

// listAll lists every blob under prefix, a page of 5,000 at a time (as
// blobio's scan does).
func listAll(ctx context.Context, c *container.Client, prefix string) error {
	pager := c.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &prefix, MaxResults: ptr(int32(5000))})
	for pager.More() {
		if _, err := pager.NextPage(ctx); err != nil {
			return err
		}
	}
	return nil
}

// rangedGet reads the first 256 KiB of a blob (at most its size), as
// vzarr's first read of an object does.
func rangedGet(ctx context.Context, c *container.Client, name string) error {
	resp, err := c.NewBlobClient(name).DownloadStream(ctx, &blob.DownloadStreamOptions{Range: blob.HTTPRange{Count: firstRead}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// put writes a block blob with one request.
func put(ctx context.Context, c *container.Client, name string, data []byte) error {
	_, err := c.NewBlockBlobClient(name).Upload(ctx, streaming.NopCloser(bytes.NewReader(data)), &blockblob.UploadOptions{})
	return err
}

func ptr[T any](v T) *T { return &v }

// selfCPU is the CPU time this process used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time (user + system) process pid used so far, from
// /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it are
	// plain: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ut+st) * clockTick, nil
}

// azuritePID is the pid of the Azurite that scripts/azurite started (its
// pid file in VZARR_AZURITE_DIR, default ~/.cache/vzarr-azurite), or 0.
func azuritePID() int {
	dir := os.Getenv("VZARR_AZURITE_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "vzarr-azurite")
	}
	data, err := os.ReadFile(filepath.Join(dir, "azurite.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0
	}
	if _, err := procCPU(pid); err != nil {
		return 0
	}
	return pid
}

// azuriteCPU measures the CPU Azurite spends from its creation to report.
type azuriteCPU struct {
	pid   int
	start time.Duration
}

// newAzuriteCPU starts measuring Azurite's CPU (pid 0: azuritePID; none
// found: nothing is measured).
func newAzuriteCPU(pid int) azuriteCPU {
	if pid == 0 {
		pid = azuritePID()
	}
	a := azuriteCPU{pid: pid}
	if pid > 0 {
		a.start, _ = procCPU(pid)
	}
	return a
}

// spent is the CPU Azurite spent since the measure began (0 when unknown).
func (a azuriteCPU) spent() time.Duration {
	if a.pid <= 0 {
		return 0
	}
	now, err := procCPU(a.pid)
	if err != nil {
		return 0
	}
	return now - a.start
}

// report fills in Azurite's CPU figures for requests served.
func (a azuriteCPU) report(f *figures, requests int64) {
	d := a.spent()
	if d <= 0 {
		return
	}
	f.AzuriteCPUS = d.Seconds()
	if requests > 0 {
		f.AzuriteCPUMSPerRequest = float64(d.Microseconds()) / 1000 / float64(requests)
	}
}

// costFigures is one line of -azcost: Azurite's CPU per request of each
// kind with a given number of blobs in the container.
type costFigures struct {
	Blobs int `json:"blobs"`
	// Milliseconds of Azurite CPU per request: a PUT of a 5 KB block
	// blob, a ranged GET of the first 256 KiB of one, a listing page of up
	// to 5,000 blobs, and a container properties GET (the fixed cost of
	// a request).
	PutMS   float64 `json:"put_cpu_ms"`
	GetMS   float64 `json:"get_cpu_ms"`
	ListMS  float64 `json:"list_page_cpu_ms"`
	PropsMS float64 `json:"props_cpu_ms"`
	// The same, in wall milliseconds per request at the concurrency used.
	PutWallMS   float64 `json:"put_wall_ms"`
	GetWallMS   float64 `json:"get_wall_ms"`
	ListWallMS  float64 `json:"list_page_wall_ms"`
	PropsWallMS float64 `json:"props_wall_ms"`
	Concurrency int     `json:"concurrency"`
}

// runCost is -azcost COUNTS: with the container filled to each count of
// 5 KB blobs in turn, it measures Azurite's CPU (from /proc/PID/stat) per
// request of each kind, sent straight to Azurite with the Azure SDK. It
// deletes its container at the end.
func runCost(ctx context.Context, c config, stdout io.Writer) error {
	pid := c.azuritePID
	if pid == 0 {
		pid = azuritePID()
	}
	if pid == 0 {
		return errors.New("-azcost needs Azurite's pid (-azurite-pid, or scripts/azurite's pid file)")
	}
	var counts []int
	for _, s := range strings.Split(c.azcost, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("-azcost: %q is no positive count", s)
		}
		counts = append(counts, n)
	}
	name := c.container + "-cost"
	if err := ensureContainer(ctx, sourceAccount, name); err != nil {
		return err
	}
	defer func() { _ = deleteContainer(context.WithoutCancel(ctx), sourceAccount, name) }()
	cs, err := connectionString(sourceAccount)
	if err != nil {
		return err
	}
	cl, err := container.NewClientFromConnectionString(cs, name, nil)
	if err != nil {
		return err
	}
	const conc, probes = 8, 400
	body := bytes.Repeat([]byte{'x'}, 5000)
	key := func(i int) string { return fmt.Sprintf("fill/%07d.bin", i) }
	// measure runs n calls of f, conc at once, and returns Azurite's CPU
	// and the wall per call in milliseconds.
	measure := func(n int, f func(i int) error) (cpuMS, wallMS float64, err error) {
		c0, err := procCPU(pid)
		if err != nil {
			return 0, 0, err
		}
		t := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, conc)
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					if err := f(i); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return 0, 0, err
		}
		wall := time.Since(t)
		c1, err := procCPU(pid)
		if err != nil {
			return 0, 0, err
		}
		return float64((c1 - c0).Microseconds()) / 1000 / float64(n), float64(wall.Microseconds()) / 1000 / float64(n), nil
	}
	have := 0
	for _, n := range counts {
		if n <= have {
			return fmt.Errorf("-azcost: counts must grow (%d after %d)", n, have)
		}
		fig := costFigures{Blobs: n, Concurrency: conc}
		// Fill without measuring up to n-puts, then measure the last puts
		// PUTs.
		puts := min(probes, n-have)
		base := have
		if n-puts > base {
			if _, _, err := measure(n-puts-base, func(i int) error { return put(ctx, cl, key(base+i), body) }); err != nil {
				return fmt.Errorf("filling to %d blobs: %w", n, err)
			}
		}
		base = n - puts
		if fig.PutMS, fig.PutWallMS, err = measure(puts, func(i int) error { return put(ctx, cl, key(base+i), body) }); err != nil {
			return err
		}
		have = n
		rng := rand.New(rand.NewPCG(uint64(n), 1))
		picks := make([]int, probes)
		for i := range picks {
			picks[i] = rng.IntN(n)
		}
		if fig.GetMS, fig.GetWallMS, err = measure(probes, func(i int) error { return rangedGet(ctx, cl, key(picks[i])) }); err != nil {
			return err
		}
		pages := 16
		if fig.ListMS, fig.ListWallMS, err = measure(pages, func(int) error {
			pager := cl.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: ptr("fill/"), MaxResults: ptr(int32(5000))})
			_, err := pager.NextPage(ctx)
			return err
		}); err != nil {
			return err
		}
		if fig.PropsMS, fig.PropsWallMS, err = measure(probes, func(int) error {
			_, err := cl.GetProperties(ctx, nil)
			return err
		}); err != nil {
			return err
		}
		if err := json.NewEncoder(stdout).Encode(fig); err != nil {
			return err
		}
	}
	return nil
}
