package pipeline

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/semaphore"

	"github.com/greensight/vzarr/kerchunk"
)

// RemoteMemoryBudget is the default memory budget (Deps.MemoryBudget) of
// a process whose sources are in blob storage, where many tasks run at
// once (RemoteWorkers): `vzarr run` on blob sources and the orchestrator's
// workers.
const RemoteMemoryBudget = 1 << 30

// RemoteWorkers is the default number of tasks a process runs at once on
// sources in blob storage: a task of a small file is a few dependent round
// trips (tens of milliseconds each) and little CPU, so many run at once
// (at least 64; 4 per CPU on larger machines).
func RemoteWorkers() int { return max(64, 4*runtime.GOMAXPROCS(0)) }

// LocalWorkers is the default number of tasks a process runs at once on
// local sources: CPU-bound tasks, a few per core, so that a task waiting
// for its output to be made durable (local writes are synced in groups)
// leaves the core to another.
func LocalWorkers() int { return 4 * runtime.GOMAXPROCS(0) }

// Concurrency is the default tasks at once and memory budget
// (Deps.MemoryBudget) of a process whose sources are remote (in blob
// storage) or local: RemoteWorkers and RemoteMemoryBudget, or
// LocalWorkers and no budget. `vzarr run`, `vzarr ref` and the
// orchestrator's workers take these unless told otherwise.
func Concurrency(remote bool) (workers int, memoryBudget int64) {
	if remote {
		return RemoteWorkers(), RemoteMemoryBudget
	}
	return LocalWorkers(), 0
}

// memBudget bounds the memory that the ref tasks of a process hold at
// once: a weighted semaphore of Deps.MemoryBudget bytes, from which each
// task reserves its estimate once its file's header is read.
//
// A task whose estimate exceeds the whole budget reserves the whole budget:
// it waits until no other ref task runs and then runs alone, rather than
// failing (the Limits of the translation, not the budget, refuse files
// that are too large to translate at all).
type memBudget struct {
	size int64
	sem  *semaphore.Weighted
	mu   sync.Mutex
	held int64
	// onAcquire, for tests, sees the bytes held after each reservation.
	onAcquire func(held int64)
}

// budgetMu guards the lazy creation of Deps.budget (Deps is copied by
// value before use, so it cannot hold a mutex itself).
var budgetMu sync.Mutex

// memBudget returns the process's budget, or nil when there is none.
func (d *Deps) memBudget() *memBudget {
	if d.MemoryBudget <= 0 {
		return nil
	}
	budgetMu.Lock()
	defer budgetMu.Unlock()
	if d.budget == nil || d.budget.size != d.MemoryBudget {
		d.budget = &memBudget{size: d.MemoryBudget, sem: semaphore.NewWeighted(d.MemoryBudget)}
	}
	return d.budget
}

func (d *Deps) estimateMemory(h kerchunk.HeaderInfo) int64 {
	if d.EstimateMemory != nil {
		return d.EstimateMemory(h)
	}
	return kerchunk.EstimateMemory(h)
}

// acquire reserves est bytes (at most the whole budget), waiting until
// they are free or ctx ends, and returns the function that gives them back.
func (b *memBudget) acquire(ctx context.Context, est int64) (release func(), err error) {
	n := min(max(est, 1), b.size)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, fmt.Errorf("waiting for %d bytes of the %d-byte memory budget: %w", n, b.size, err)
	}
	b.mu.Lock()
	b.held += n
	held, hook := b.held, b.onAcquire
	b.mu.Unlock()
	if hook != nil {
		hook(held)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.held -= n
			b.mu.Unlock()
			b.sem.Release(n)
		})
	}, nil
}

// reserveOnHeader returns translation options whose OnHeader reserves the
// translation's estimated memory from the budget (none without a budget),
// and the function that releases it (call it once the references are
// written; it may be called more than once).
func (d *Deps) reserveOnHeader(ctx context.Context, opts kerchunk.Options) (kerchunk.Options, func()) {
	b := d.memBudget()
	if b == nil {
		return opts, func() {}
	}
	var release func()
	prev := opts.OnHeader
	opts.OnHeader = func(h kerchunk.HeaderInfo) error {
		if prev != nil {
			if err := prev(h); err != nil {
				return err
			}
		}
		est := d.estimateMemory(h)
		r, err := b.acquire(ctx, est)
		if err != nil {
			return err
		}
		d.logger().DebugContext(ctx, "pipeline: memory reserved", "nc_url", h.Name, "chunks", h.Chunks,
			"estimate_bytes", est, "budget_bytes", b.size)
		release = r
		return nil
	}
	return opts, func() {
		if release != nil {
			release()
		}
	}
}

// ParseBytes parses a size such as "3GiB", "512MiB", "1.5GB", "4096" or
// "0": a non-negative number followed by an optional unit, B, KiB, MiB,
// GiB or TiB (powers of 1024; Ki, Mi, Gi, Ti alike) or KB, MB, GB, TB
// (powers of 1000), case-insensitive.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("size %q: not a number followed by a unit such as GiB", s)
	}
	mult := map[string]float64{"": 1, "b": 1,
		"k": 1 << 10, "ki": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mi": 1 << 20, "mib": 1 << 20,
		"g": 1 << 30, "gi": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "ti": 1 << 40, "tib": 1 << 40,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)", s, unit)
	}
	b := v * mult
	if b >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(b), nil
}
