// Command vzarr-remotebench measures how vzarr (and kerchunk, when
// /usr/bin/python3 has it) read the metadata of netCDF-4 files on blob
// storage far away (issue 15). It generates the benchmark files
// (internal/latency/testdata/gen_remote.py: the appended hourly file and a
// typical small file) unless given files, uploads them to Azurite, puts a
// latency.Proxy in front of it and translates each file to kerchunk
// references at every delay. Per file, tool and delay it prints the
// requests, the bytes read, the wall time and the dependent rounds, counted
// two ways: from the proxy's request timeline (the longest chain of
// requests each started after the previous one ended) and from the wall
// time (its growth per unit of added delay). The "limit" line is what the
// metadata itself needs: its distinct locations and bytes, read locally.
//
// Run it from the repository root, with Azurite running:
//
//	scripts/azurite start; eval "$(scripts/azurite env)"
//	go run ./internal/latency/cmd/vzarr-remotebench -steps 8760
//
// It asserts nothing: it prints figures (scripts/bench-remote runs it at a
// small size in CI).
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
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/greensight/vzarr/blobio"
	_ "github.com/greensight/vzarr/blobio/azure" // azblob:// URLs
	"github.com/greensight/vzarr/internal/latency"
	"github.com/greensight/vzarr/kerchunk"
)

const containerName = "vzarr-remotebench"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vzarr-remotebench:", err)
		os.Exit(1)
	}
}

type options struct {
	steps    int
	noise    float64
	dir      string
	files    []string
	delays   []time.Duration
	kerchunk bool
	python   string
	scripts  string
	verbose  bool
	connRTTs float64
}

func parseFlags() (options, error) {
	var o options
	var delays, files string
	flag.IntVar(&o.steps, "steps", 8760, "time steps of the generated hourly file (8760: one year, about 1.1 GB)")
	flag.Float64Var(&o.noise, "noise", 1, "noise of the generated hourly data (0: smooth data, small chunks, the same metadata)")
	flag.StringVar(&o.dir, "dir", filepath.Join(os.TempDir(), "vzarr-remotebench"), "where the generated files are kept (reused when present)")
	flag.StringVar(&files, "files", "", "comma-separated local netCDF files to measure instead of the generated ones")
	flag.StringVar(&delays, "delays", "0,20ms,100ms", "comma-separated delays added to every request")
	flag.BoolVar(&o.kerchunk, "kerchunk", true, "also measure kerchunk (skipped when python3 lacks it)")
	flag.StringVar(&o.python, "python", "/usr/bin/python3", "the Python with netCDF4 (and kerchunk)")
	flag.Float64Var(&o.connRTTs, "connect-rtts", 0, "delay of each new connection, in delays (2: TCP and TLS handshakes)")
	flag.BoolVar(&o.verbose, "v", false, "print, per run, the requests and bytes of each round")
	flag.StringVar(&o.scripts, "scripts", filepath.Join("internal", "latency", "testdata"), "folder of gen_remote.py and kerchunk_remote.py")
	flag.Parse()
	for _, d := range strings.Split(delays, ",") {
		if d = strings.TrimSpace(d); d == "0" {
			o.delays = append(o.delays, 0)
			continue
		}
		v, err := time.ParseDuration(d)
		if err != nil || v < 0 {
			return o, fmt.Errorf("-delays: %q is not a duration", d)
		}
		o.delays = append(o.delays, v)
	}
	if len(o.delays) == 0 || o.delays[0] != 0 {
		o.delays = append([]time.Duration{0}, o.delays...) // the base of the wall-time rounds
	}
	if files != "" {
		o.files = strings.Split(files, ",")
	}
	return o, nil
}

func run() error {
	o, err := parseFlags()
	if err != nil {
		return err
	}
	ctx := context.Background()
	if len(o.files) == 0 {
		if o.files, err = generate(o); err != nil {
			return err
		}
	}
	cs := os.Getenv("AZURE_STORAGE_CONNECTION_STRING")
	endpoint := connField(cs, "BlobEndpoint")
	target, err := url.Parse(endpoint)
	if err != nil || target.Host == "" {
		return errors.New(`AZURE_STORAGE_CONNECTION_STRING has no BlobEndpoint: run scripts/azurite start; eval "$(scripts/azurite env)"`)
	}
	keys, err := upload(ctx, cs, o.files)
	if err != nil {
		return err
	}
	px, err := latency.NewProxy(target, latency.Config{})
	if err != nil {
		return err
	}
	defer px.Close()
	pcs, err := px.ConnectionString(cs)
	if err != nil {
		return err
	}
	opener := &blobio.Opener{ConnectionString: pcs, Retry: blobio.RetryOptions{MaxRetries: 1, TryTimeout: time.Minute}}
	haveKerchunk := o.kerchunk && exec.Command(o.python, "-c", "import kerchunk.hdf, h5py").Run() == nil
	if o.kerchunk && !haveKerchunk {
		fmt.Fprintf(os.Stderr, "vzarr-remotebench: %s cannot import kerchunk and h5py: kerchunk not measured\n", o.python)
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "file\tsize\ttool\tdelay\trequests\tbytes\tconns\twall\trounds(timeline)\trounds(wall)\t")
	for i, file := range o.files {
		st, err := os.Stat(file)
		if err != nil {
			return err
		}
		name := filepath.Base(file)
		lim, err := limit(ctx, file)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(tw, "%s\t%s\tlimit\t-\t%d\t%s\t-\t-\t-\t-\t\n", name, mb(st.Size()), lim.Requests, mb(lim.Bytes))
		tools := []tool{{"vzarr", func() error { return vzarr(ctx, opener, keys[i], st.Size()) }}}
		if haveKerchunk {
			u := px.URL() + target.Path + "/" + containerName + "/" + keys[i]
			tools = append(tools, tool{"kerchunk", func() error { return kerchunkRun(o, u, st.Size()) }})
		}
		for _, t := range tools {
			// A first run at no delay warms connections and caches.
			if err := t.run(); err != nil {
				return fmt.Errorf("%s with %s: %w", name, t.name, err)
			}
			var base time.Duration
			for _, d := range o.delays {
				if err := px.SetConfig(latency.Config{Delay: d, ConnectDelay: time.Duration(o.connRTTs * float64(d))}); err != nil {
					return err
				}
				// At no delay the wall time is mostly CPU and noise of a
				// shared machine: the fastest of three runs is the base.
				runs := 1
				if d == 0 {
					runs = 3
				}
				var (
					wall time.Duration
					s    latency.Stats
				)
				for r := 0; r < runs; r++ {
					px.Reset()
					t0 := time.Now()
					if err := t.run(); err != nil {
						return fmt.Errorf("%s with %s at %v: %w", name, t.name, d, err)
					}
					if w := time.Since(t0); r == 0 || w < wall {
						wall, s = w, px.Stats()
					}
				}
				byWall := "-"
				if d == 0 {
					base = wall
				} else {
					byWall = fmt.Sprintf("%.1f", float64(wall-base)/float64(d))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%d\t%s\t%d\t%s\t%d\t%s\t\n", name, mb(st.Size()), t.name, d, s.Requests, mb(s.Bytes),
					s.Connections, wall.Round(time.Millisecond), s.Rounds(), byWall)
				if o.verbose && d > 0 {
					fmt.Fprintf(os.Stderr, "%s %s at %v: %s\n", name, t.name, d, roundSummary(s.Timeline))
				}
			}
		}
	}
	return tw.Flush()
}

// roundSummary says how many requests and bytes each round of the timeline
// had: "1:1/262144 2:3/9408 ...".
func roundSummary(rs []latency.Request) string {
	rounds := latency.RoundOf(rs)
	var reqs, bytes []int64
	for i, r := range rounds {
		for len(reqs) < r {
			reqs, bytes = append(reqs, 0), append(bytes, 0)
		}
		reqs[r-1]++
		bytes[r-1] += rs[i].Bytes
	}
	var b strings.Builder
	for i := range reqs {
		fmt.Fprintf(&b, "%d:%d/%d ", i+1, reqs[i], bytes[i])
	}
	return b.String()
}

type tool struct {
	name string
	run  func() error
}

func mb(n int64) string { return fmt.Sprintf("%.2f MB", float64(n)/1e6) }

// generate writes the hourly file of o.steps steps and the small file into
// o.dir, unless they are there already.
func generate(o options) ([]string, error) {
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return nil, err
	}
	script := filepath.Join(o.scripts, "gen_remote.py")
	files := []struct {
		path string
		args []string
	}{
		{filepath.Join(o.dir, fmt.Sprintf("hourly_%d_noise%g.nc", o.steps, o.noise)),
			[]string{"hourly", "--steps", strconv.Itoa(o.steps), "--noise", strconv.FormatFloat(o.noise, 'g', -1, 64)}},
		{filepath.Join(o.dir, "small.nc"), []string{"small"}},
	}
	var out []string
	for _, f := range files {
		if _, err := os.Stat(f.path); err != nil {
			tmp := f.path + ".tmp"
			args := append([]string{script, f.args[0], tmp}, f.args[1:]...)
			cmd := exec.Command(o.python, args...)
			cmd.Stderr = os.Stderr
			if err := cmd.Run(); err != nil {
				return nil, fmt.Errorf("generating %s: %w", f.path, err)
			}
			if err := os.Rename(tmp, f.path); err != nil {
				return nil, err
			}
		}
		out = append(out, f.path)
	}
	return out, nil
}

// upload puts the files into the benchmark's container (readable without a
// key, for kerchunk's plain HTTP reads), unless a blob of the same size is
// there, and returns their keys.
func upload(ctx context.Context, cs string, files []string) ([]string, error) {
	cc, err := container.NewClientFromConnectionString(cs, containerName, nil)
	if err != nil {
		return nil, err
	}
	_, err = cc.Create(ctx, &container.CreateOptions{Access: to.Ptr(container.PublicAccessTypeBlob)})
	if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return nil, fmt.Errorf("creating container %s: %w", containerName, err)
	}
	client, err := azblob.NewClientFromConnectionString(cs, nil)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		key := fmt.Sprintf("%d-%s", st.Size(), filepath.Base(f))
		keys = append(keys, key)
		props, err := cc.NewBlobClient(key).GetProperties(ctx, nil)
		if err == nil && props.ContentLength != nil && *props.ContentLength == st.Size() {
			continue
		}
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		_, err = client.UploadFile(ctx, containerName, key, fh, &azblob.UploadFileOptions{BlockSize: 8 << 20, Concurrency: 4})
		_ = fh.Close()
		if err != nil {
			return nil, fmt.Errorf("uploading %s: %w", f, err)
		}
	}
	return keys, nil
}

// vzarr translates the blob key of size bytes as the ref stage does: the
// size is known from the scan and sizes the first request.
func vzarr(ctx context.Context, o *blobio.Opener, key string, size int64) error {
	obj, err := o.OpenObject(ctx, "azblob://"+containerName+"/"+key, blobio.MetadataReaderOptions(size)...)
	if err != nil {
		return err
	}
	defer obj.Close()
	_, err = kerchunk.Translate(ctx, obj.Reader, obj.Size(), obj.RefURL, kerchunk.Options{})
	return err
}

func kerchunkRun(o options, u string, size int64) error {
	cmd := exec.Command(o.python, filepath.Join(o.scripts, "kerchunk_remote.py"), u, strconv.FormatInt(size, 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%w: %s", err, stderr.String())
	}
	var res struct{ Reads int }
	if err := json.Unmarshal(out, &res); err != nil || res.Reads == 0 {
		return fmt.Errorf("kerchunk_remote.py printed %q", out)
	}
	return nil
}

// recorder records the ranges read through it.
type recorder struct {
	r  io.ReaderAt
	mu sync.Mutex
	rs [][2]int64
}

func (c *recorder) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.mu.Lock()
	c.rs = append(c.rs, [2]int64{off, off + int64(n)})
	c.mu.Unlock()
	return n, err
}

// limitGap is the gap across which the limit merges two locations.
const limitGap = 4 << 10

// limit translates the local file through an uncached reader that records
// every range the parsers read, and returns the distinct locations (ranges
// closer than limitGap merged) and the bytes the parsers read (each byte
// once): about the requests and bytes no reader of the same metadata can go
// below.
func limit(ctx context.Context, file string) (latencyLimit, error) {
	fh, err := os.Open(file)
	if err != nil {
		return latencyLimit{}, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return latencyLimit{}, err
	}
	rec := &recorder{r: fh}
	if _, err := kerchunk.Translate(ctx, rec, st.Size(), file, kerchunk.Options{}); err != nil {
		return latencyLimit{}, err
	}
	sort.Slice(rec.rs, func(i, j int) bool { return rec.rs[i][0] < rec.rs[j][0] })
	var lim latencyLimit
	end := int64(-limitGap - 1)
	for _, r := range rec.rs {
		if r[0] > end+limitGap {
			lim.Requests++
		}
		if r[0] > end {
			lim.Bytes += r[1] - r[0]
			end = r[1]
			continue
		}
		if r[1] > end {
			lim.Bytes += r[1] - end
			end = r[1]
		}
	}
	return lim, nil
}

type latencyLimit struct{ Requests, Bytes int64 }

func connField(cs, key string) string {
	for _, part := range strings.Split(cs, ";") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.EqualFold(strings.TrimSpace(k), key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
