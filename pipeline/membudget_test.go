package pipeline

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/kerchunk"
)

// TestMemoryBudgetBoundsRefTasks runs the sample files' ref tasks at once
// with a fake estimator and checks that the bytes reserved never exceed
// the budget, that every task reserved its estimate (capped at the budget)
// from its file's header, and that all complete.
func TestMemoryBudgetBoundsRefTasks(t *testing.T) {
	srcs, err := filepath.Glob("../testdata/sample/*.nc")
	require.NoError(t, err)
	require.NotEmpty(t, srcs, "testdata/sample is empty: run testdata/gen_sample.py")
	tests := []struct {
		name     string
		budget   int64
		estimate int64
		wantMax  int64 // the most that may be held at once
	}{
		{"two fit at once", 100, 40, 80},
		{"one fits at once", 100, 60, 60},
		{"above the budget runs alone", 100, 500, 100},
		{"all fit", 1000, 10, 60},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var maxHeld int64
			var headers []kerchunk.HeaderInfo
			deps := &Deps{Opener: &blobio.Opener{}, Logger: slog.New(slog.DiscardHandler), MemoryBudget: tc.budget, EstimateMemory: func(h kerchunk.HeaderInfo) int64 {
				mu.Lock()
				headers = append(headers, h)
				mu.Unlock()
				return tc.estimate
			}}
			deps.memBudget().onAcquire = func(held int64) {
				mu.Lock()
				maxHeld = max(maxHeld, held)
				mu.Unlock()
				time.Sleep(5 * time.Millisecond) // let the others pile up at the budget
			}
			out := t.TempDir()
			var wg sync.WaitGroup
			errs := make([]error, len(srcs))
			for i, src := range srcs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = GenerateRef(context.Background(), deps, RefParams{NCURL: src, RefURL: filepath.Join(out, filepath.Base(src)+".json")})
				}()
			}
			wg.Wait()
			for i, err := range errs {
				require.NoError(t, err, srcs[i])
			}
			assert.LessOrEqual(t, maxHeld, tc.wantMax)
			assert.Positive(t, maxHeld)
			assert.Len(t, headers, len(srcs))
			for _, h := range headers {
				assert.Positive(t, h.Chunks, h.Name)
				assert.Positive(t, h.Variables, h.Name)
			}
			assert.Zero(t, deps.memBudget().held, "everything given back")
		})
	}
}

// TestMemoryBudgetWaitEndsWithContext: a task waiting for memory gives up
// when its context ends, with the context's error.
func TestMemoryBudgetWaitEndsWithContext(t *testing.T) {
	deps := &Deps{MemoryBudget: 10}
	b := deps.memBudget()
	release, err := b.acquire(context.Background(), 10)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.acquire(ctx, 5)
	require.ErrorIs(t, err, context.Canceled)
	release()
	release() // idempotent
	r2, err := b.acquire(context.Background(), 10)
	require.NoError(t, err)
	r2()
	assert.Zero(t, b.held)
}

// TestEstimateMemory checks the estimate's formula and its saturation.
func TestEstimateMemory(t *testing.T) {
	tests := []struct {
		chunks int64
		want   int64
	}{
		{0, kerchunk.MemoryOverhead},
		{5_000_000, kerchunk.MemoryOverhead + 5_000_000*kerchunk.MemoryPerChunk},
		{1 << 62, 1<<63 - 1},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, kerchunk.EstimateMemory(kerchunk.HeaderInfo{Chunks: tc.chunks}))
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"3GiB", 3 << 30, false},
		{"3gib", 3 << 30, false},
		{"512MiB", 512 << 20, false},
		{"1.5GiB", 3 << 29, false},
		{"2GB", 2e9, false},
		{"4096", 4096, false},
		{"0", 0, false},
		{" 10 KiB ", 10 << 10, false},
		{"", 0, true},
		{"GiB", 0, true},
		{"3 parsecs", 0, true},
		{"-1GiB", 0, true},
		{"1e30TiB", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseBytes(tc.in)
		if tc.wantErr {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

// TestConcurrency: remote sources get many tasks and a memory budget,
// local ones a few tasks per core and none.
func TestConcurrency(t *testing.T) {
	w, b := Concurrency(true)
	assert.Equal(t, RemoteWorkers(), w)
	assert.GreaterOrEqual(t, w, 64)
	assert.Equal(t, int64(RemoteMemoryBudget), b)
	w, b = Concurrency(false)
	assert.Equal(t, LocalWorkers(), w)
	assert.Less(t, w, RemoteWorkers()+1)
	assert.Zero(t, b)
}
