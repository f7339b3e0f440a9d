package pipeline_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/engine"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/pipeline"
	"github.com/greensight/vzarr/queue"
)

// The crash test's settings: a short lease and sweep, so that three lost
// workers take seconds, not half an hour.
const (
	crashLease = time.Second
	crashSweep = 200 * time.Millisecond
)

// crashEnv is the helper worker's configuration, passed in its
// environment.
type crashEnv struct {
	Schema, QueueURL, Out, Poison string
}

const crashEnvVar = "VZARR_CRASH_WORKER"

// crashService builds the pipeline service the test and its helper
// workers share: PostgreSQL schema, RabbitMQ queue, local output.
func crashService(ctx context.Context, t *testing.T, store catalog.Store, ce crashEnv, rabbit string, worker bool, log *slog.Logger) *pipeline.Service {
	svc, err := pipeline.NewService(ctx, pipeline.ServiceConfig{
		Store:        store,
		QueueURL:     ce.QueueURL,
		QueueOptions: queue.Options{RabbitURL: rabbit, NoSubscription: !worker},
		Deps:         pipeline.Deps{Opener: &blobio.Opener{}, Logger: log, Metrics: &pipeline.Metrics{}},
		Engine: engine.Options{LeaseTimeout: crashLease, SweepInterval: crashSweep, RetryBackoff: 20 * time.Millisecond,
			MaxRetryDelay: 200 * time.Millisecond, Concurrency: 4},
		Submit: pipeline.Submitter{OutURL: ce.Out, AllowedSchemes: []string{"file"}},
	})
	require.NoError(t, err)
	return svc
}

// TestCrashWorkerHelper is the worker process of TestWorkerKilledThreeTimes
// (it does nothing in a normal run): a pipeline worker whose ref task of
// the poison file hangs until the test kills the process with SIGKILL.
func TestCrashWorkerHelper(t *testing.T) {
	raw := os.Getenv(crashEnvVar)
	if raw == "" {
		t.Skip("helper process of TestWorkerKilledThreeTimes")
	}
	var ce crashEnv
	require.NoError(t, json.Unmarshal([]byte(raw), &ce))
	ctx := context.Background()
	store, err := catalog.OpenPostgres(ctx, testenv.PostgresDSN(t), catalog.PostgresOptions{Schema: ce.Schema})
	require.NoError(t, err)
	defer store.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	svc := crashService(ctx, t, store, ce, os.Getenv("VZARR_RABBIT_URL"), true, log)
	def := svc.Engine.Definition(pipeline.JobType)
	for i := range def.Stages {
		st := &def.Stages[i]
		if st.Name != pipeline.StageRef {
			continue
		}
		run := st.Run
		st.Run = func(ctx context.Context, job *catalog.Job, task *catalog.Task) (json.RawMessage, error) {
			var p pipeline.RefParams
			if json.Unmarshal(task.Params, &p) == nil && strings.HasSuffix(p.NCURL, ce.Poison) {
				log.Warn("helper: poison file; hanging until killed", "task_id", task.ID, "attempt", task.Attempts)
				select {} // the process is killed here, mid-task
			}
			return run(ctx, job, task)
		}
	}
	_ = svc.Work(ctx) // until killed
}

// TestWorkerKilledThreeTimes is reproduction (3) of issue 11: a file on
// which its worker dies (kill -9) three times fails its job with
// worker_lost, the Release FAILED and nothing written left behind,
// instead of a job PROCESSING for ever.
func TestWorkerKilledThreeTimes(t *testing.T) {
	rabbit := testenv.RabbitURL(t)
	store := testenv.Postgres(t)
	ctx := context.Background()
	dir, files := testenv.CopySample(t, "..")
	require.GreaterOrEqual(t, len(files), 2)
	name := "vzarr-crash-test-" + testenv.RandomSuffix()
	ce := crashEnv{Schema: store.Schema(), QueueURL: "rabbit://" + name, Out: filepath.Join(t.TempDir(), "refs"),
		Poison: filepath.Base(files[1])}
	t.Cleanup(func() { deleteRabbit(t, rabbit, name) })
	env, err := json.Marshal(ce)
	require.NoError(t, err)

	svc := crashService(ctx, t, store, ce, rabbit, false, slog.New(slog.NewTextHandler(discardW{}, nil)))
	defer svc.Close(ctx)
	resp, err := svc.Submit(ctx, pipeline.SubmitRequest{DatasetID: "crash", ResourceID: "monthly", SourceURL: dir,
		DataType: "zarr", CollectionID: "samples", ProcessingOptions: pipeline.ProcessingOptions{ConcatDim: "time"}})
	require.NoError(t, err)

	var child *exec.Cmd
	logs := &testenv.SyncBuffer{}
	start := func() {
		child = exec.Command(os.Args[0], "-test.run=^TestCrashWorkerHelper$", "-test.count=1")
		child.Env = append(os.Environ(), crashEnvVar+"="+string(env))
		child.Stdout, child.Stderr = logs, logs
		require.NoError(t, child.Start())
	}
	stop := func() {
		if child != nil {
			_ = child.Process.Kill() // SIGKILL
			_ = child.Wait()
			child = nil
		}
	}
	defer stop()

	poisonTask := func() *catalog.Task {
		tasks, err := store.ListTasks(ctx, resp.JobID)
		require.NoError(t, err)
		for _, tk := range tasks {
			if tk.Type == pipeline.StageRef && strings.Contains(string(tk.Params), ce.Poison) {
				return tk
			}
		}
		return nil
	}
	kills := 0
	var firstStart, lastKill time.Time
	deadline := time.Now().Add(90 * time.Second)
	var job *catalog.Job
	for {
		job, err = store.GetJob(ctx, resp.JobID)
		require.NoError(t, err)
		if job.Status.Terminal() {
			break
		}
		if time.Now().After(deadline) {
			st, _ := engine.Status(ctx, store, resp.JobID)
			b, _ := json.MarshalIndent(st, "", " ")
			t.Fatalf("job still %s after %d kills:\n%s\nworker logs:\n%s", job.Status, kills, b, logs.String())
		}
		if child == nil {
			start()
		}
		// Kill the worker once it runs the poison file's attempt.
		if tk := poisonTask(); tk != nil && tk.Status == catalog.StatusProcessing && tk.Attempts > kills {
			if firstStart.IsZero() {
				firstStart = *tk.StartedAt
			}
			stop()
			kills++
			lastKill = time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
	failedAt := time.Now()
	stop()
	// The job is FAILED only once its failure hook has completed: the
	// Release is FAILED already.
	rel, err := store.GetRelease(ctx, resp.ReleaseID)
	require.NoError(t, err)
	require.Equal(t, catalog.StatusFailed, rel.ProcessingStatus, "the hook ran before the job became FAILED")
	t.Logf("lease %s, sweep %s: job FAILED %s after the first attempt on the poison file started, %s after the third kill",
		crashLease, crashSweep, failedAt.Sub(firstStart).Round(time.Millisecond), failedAt.Sub(lastKill).Round(time.Millisecond))

	require.Equal(t, catalog.StatusFailed, job.Status, job.Error)
	assert.Equal(t, 3, kills)
	st, err := engine.Status(ctx, store, job.ID)
	require.NoError(t, err)
	require.NotNil(t, st.Failure)
	assert.Equal(t, engine.ErrTypeWorkerLost, st.Failure.ErrorType)
	assert.Equal(t, pipeline.StageRef, st.Failure.Stage)
	assert.Contains(t, st.Failure.Error, ce.Poison, "the error names the file")
	assert.Contains(t, st.Failure.Error, "3 of 3 attempts lost their lease")
	tk := poisonTask()
	assert.Equal(t, catalog.StatusFailed, tk.Status)
	assert.Equal(t, 3, tk.Attempts)

	rel, err = store.GetRelease(ctx, resp.ReleaseID)
	require.NoError(t, err)
	assert.Equal(t, catalog.StatusFailed, rel.ProcessingStatus)
	assert.Contains(t, rel.Error, "worker lost")
	// No reference is left behind: the other files' references were
	// removed by the failure cleanup. (A worker killed while writing a
	// local file leaves its hidden ".NAME.tmp-*" file; it is no
	// reference, and object storage keeps no such parts.)
	var left, temps []string
	_ = filepath.WalkDir(ce.Out, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil || d.IsDir():
		case strings.HasPrefix(d.Name(), ".") && strings.Contains(d.Name(), ".tmp-"):
			temps = append(temps, p)
		default:
			left = append(left, p)
		}
		return nil
	})
	assert.Empty(t, left)
	if len(temps) > 0 {
		t.Logf("temporary files of killed writers: %v", temps)
	}
	assert.Contains(t, logs.String(), "lease expired; took over", "the take-overs are logged")

	// A resubmit is answered with the failed job, not "processing".
	again, err := svc.Submit(ctx, pipeline.SubmitRequest{DatasetID: "crash", ResourceID: "monthly", SourceURL: dir,
		DataType: "zarr", CollectionID: "samples", ProcessingOptions: pipeline.ProcessingOptions{ConcatDim: "time"}})
	require.NoError(t, err)
	assert.Equal(t, "failed", again.Status)
	assert.Equal(t, resp.JobID, again.JobID)
}

type discardW struct{}

func (discardW) Write(p []byte) (int, error) { return len(p), nil }

// deleteRabbit removes a test's exchange and queue from the shared broker.
func deleteRabbit(t *testing.T, url, name string) {
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Logf("deleting rabbit queue %s: %v", name, err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return
	}
	_, _ = ch.QueueDelete(name, false, false, false)
	_ = ch.ExchangeDelete(name, false, false)
}
