package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
)

// A run's outputs are recorded before they are written: the engine stores
// every task with its parameters before the task runs, and the parameters
// of the ref tasks name their reference (ref_url) and those of the combine
// task the combined reference (combined_ref_url). runOutputs reads them
// back, so the failure cleanup and Prune remove exactly what a run wrote —
// or began to write before its worker crashed — and nothing else.

// runOutputs lists the objects a job writes (or wrote), from its tasks'
// parameters. Only URLs inside the job's own folder (JobParams.OutURL)
// count, so a corrupt or foreign task can never point the cleanup at
// another folder; a completed job with a PublishURL also has the same
// names there.
func runOutputs(ctx context.Context, store catalog.Store, job *catalog.Job) ([]string, error) {
	jp, err := jobParams(job)
	if err != nil {
		return nil, err
	}
	tasks, err := store.ListTasks(ctx, job.ID)
	if err != nil {
		return nil, err
	}
	inside := strings.TrimRight(jp.OutURL, "/") + "/"
	seen := map[string]bool{}
	var urls []string
	add := func(u string) {
		if u != "" && jp.OutURL != "" && strings.HasPrefix(u, inside) && !seen[u] {
			seen[u] = true
			urls = append(urls, u)
		}
	}
	for _, t := range tasks {
		switch t.Type {
		case StageRef:
			var p RefParams
			if json.Unmarshal(t.Params, &p) == nil {
				add(p.RefURL)
			}
		case StageCombine:
			var p CombineParams
			if json.Unmarshal(t.Params, &p) == nil {
				add(p.CombinedRefURL)
			}
		}
	}
	if jp.PublishURL != "" && job.Status == catalog.StatusCompleted {
		// A completed run's set was (or is about to be) moved to
		// PublishURL: its objects are there, under the same names.
		pub := strings.TrimRight(jp.PublishURL, "/") + "/"
		for _, u := range urls {
			if p := pub + strings.TrimPrefix(u, inside); !seen[p] {
				seen[p] = true
				urls = append(urls, p)
			}
		}
	}
	return urls, nil
}

// releaseOutputs lists the objects of a Release's run (none when the
// Release names no job, or its job is gone).
func releaseOutputs(ctx context.Context, store catalog.Store, rel *catalog.Release) ([]string, error) {
	if rel.JobID == "" {
		return nil, nil
	}
	job, err := store.GetJob(ctx, rel.JobID)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return runOutputs(ctx, store, job)
}

// protectedOutputs lists the objects of the asset's Releases that keep
// their data, except the Release skip: COMPLETED ones not pruned, and
// runs still going. A cleanup never deletes these, even when two runs
// share a folder (vzarr run --out, or references written before
// run-scoped folders existed).
func protectedOutputs(ctx context.Context, store catalog.Store, assetID, skip string) (map[string]bool, error) {
	rels, err := store.ListReleases(ctx, assetID)
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, r := range rels {
		if r.ID == skip || r.ProcessingStatus == catalog.StatusFailed || r.PrunedAt != nil {
			continue
		}
		urls, err := releaseOutputs(ctx, store, r)
		if err != nil {
			return nil, err
		}
		for _, u := range urls {
			keep[u] = true
		}
	}
	return keep, nil
}

// removeLocalTemps deletes the temporary siblings a local atomic write
// of url leaves when its process is killed mid-write
// (".NAME.tmp-*", see blobio.WriteAtomic) and returns how many it deleted.
// Blob uploads leave nothing: uncommitted blocks are not objects.
func removeLocalTemps(url string) int {
	loc, err := blobio.ParseURL(url)
	if err != nil || !loc.IsLocal() {
		return 0
	}
	p := loc.Path()
	temps, _ := filepath.Glob(filepath.Join(filepath.Dir(p), "."+escapeGlob(filepath.Base(p))+".tmp-*"))
	n := 0
	for _, tmp := range temps {
		if os.Remove(tmp) == nil {
			n++
		}
	}
	return n
}

// escapeGlob quotes filepath.Match's special characters.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// removeOutputs deletes urls except the protected ones and returns how
// many objects it deleted; missing objects are not errors.
func removeOutputs(ctx context.Context, deps *Deps, urls []string, protected map[string]bool) (int, error) {
	removed := 0
	var errs []error
	for _, u := range urls {
		if protected[u] {
			continue
		}
		removed += removeLocalTemps(u)
		ok, err := removeObject(ctx, deps.opener(), u)
		if err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", u, err))
			continue
		}
		if ok {
			removed++
		}
	}
	return removed, errors.Join(errs...)
}
