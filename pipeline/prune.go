package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/greensight/vzarr/catalog"
)

// Retention. Every run writes its own folder and a Release's references
// stay until Prune removes them. A Release is prunable when it is
// COMPLETED, not pruned yet, not among the KeepLast newest COMPLETED
// Releases of its asset (the newest is always kept), and
//   - REJECTED by the approval flow (the catalog's "revoked": there is no
//     separate REVOKED status), or
//   - superseded: a newer COMPLETED, not REJECTED Release of the same
//     asset exists, and, when the Release is APPROVED (published), a newer
//     APPROVED one — published data is only superseded by newer published
//     data;
//
// and, with OlderThan, it completed longer ago than that. Pruning deletes
// the objects its run recorded (the ref and combine tasks' outputs, inside
// its own folder; never an object another live Release records) and then
// marks it pruned (catalog: pruned_at set, blob_path cleared). PENDING,
// PROCESSING and FAILED Releases are never touched (a failed run cleans up
// after itself).

// PruneOptions select what Prune removes.
type PruneOptions struct {
	DatasetID  string
	ResourceID string
	// KeepLast keeps the newest KeepLast COMPLETED Releases whatever
	// their state; values below 1 mean 1.
	KeepLast int
	// OlderThan, when positive, prunes only Releases completed longer ago.
	OlderThan time.Duration
	// DryRun reports what would be pruned and changes nothing.
	DryRun bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Prune reasons.
const (
	PruneRejected   = "rejected"
	PruneSuperseded = "superseded"
)

// PrunedRelease is one Release Prune removed (or would remove).
type PrunedRelease struct {
	ReleaseID string `json:"release_id"`
	Version   int    `json:"version"`
	// Reason is PruneRejected or PruneSuperseded.
	Reason   string `json:"reason"`
	BlobPath string `json:"blob_path"`
	// Objects is how many objects were deleted (with DryRun: how many the
	// run recorded).
	Objects int `json:"objects"`
}

// PruneResult is what Prune did.
type PruneResult struct {
	DatasetID  string          `json:"dataset_id"`
	ResourceID string          `json:"resource_id"`
	DryRun     bool            `json:"dry_run,omitempty"`
	Pruned     []PrunedRelease `json:"pruned"`
	// Kept lists the COMPLETED, unpruned Releases left, by version.
	Kept []string `json:"kept"`
}

// Prune applies the retention rules above to one asset's Releases. deps
// needs Store and an Opener for the objects. An error after some Releases
// were pruned returns them with the error; running Prune again finishes
// (deleting is idempotent, and a Release is marked only after all its
// objects are gone).
func Prune(ctx context.Context, deps *Deps, opts PruneOptions) (*PruneResult, error) {
	if deps.Store == nil {
		return nil, &StageError{Type: ErrTypeConfig, Err: errors.New("prune: no catalog store")}
	}
	if opts.DatasetID == "" || opts.ResourceID == "" {
		return nil, invalidParams("prune: dataset_id and resource_id are required")
	}
	keepLast := max(opts.KeepLast, 1)
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	log := deps.logger().With("dataset_id", opts.DatasetID, "resource_id", opts.ResourceID)
	res := &PruneResult{DatasetID: opts.DatasetID, ResourceID: opts.ResourceID, DryRun: opts.DryRun,
		Pruned: []PrunedRelease{}, Kept: []string{}}
	asset, err := deps.Store.FindAsset(ctx, opts.DatasetID, opts.ResourceID)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	rels, err := deps.Store.ListReleases(ctx, asset.ID)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	var completed []*catalog.Release // newest first
	for _, r := range rels {
		if r.ProcessingStatus == catalog.StatusCompleted && r.PrunedAt == nil {
			completed = append(completed, r)
		}
	}
	sort.Slice(completed, func(i, j int) bool { return completed[i].Version > completed[j].Version })
	for i, r := range completed {
		reason := pruneReason(r, completed[:i])
		if i < keepLast || reason == "" || opts.OlderThan > 0 && !completedBefore(r, now().Add(-opts.OlderThan)) {
			res.Kept = append(res.Kept, r.ID)
			continue
		}
		pr := PrunedRelease{ReleaseID: r.ID, Version: r.Version, Reason: reason, BlobPath: r.BlobPath}
		urls, err := releaseOutputs(ctx, deps.Store, r)
		if err != nil {
			return res, fmt.Errorf("prune: release %s: %w", r.ID, err)
		}
		if opts.DryRun {
			pr.Objects = len(urls)
			res.Pruned = append(res.Pruned, pr)
			continue
		}
		protected, err := protectedOutputs(ctx, deps.Store, asset.ID, r.ID)
		if err != nil {
			return res, fmt.Errorf("prune: %w", err)
		}
		pr.Objects, err = removeOutputs(ctx, deps, urls, protected)
		if err != nil {
			return res, fmt.Errorf("prune: release %s: %w", r.ID, err)
		}
		if _, err := deps.Store.MarkReleasePruned(ctx, r.ID, 0); err != nil {
			return res, fmt.Errorf("prune: release %s: %w", r.ID, err)
		}
		log.InfoContext(ctx, "pipeline: pruned a release", "release_id", r.ID, "version", r.Version, "reason", reason,
			"objects", pr.Objects, "blob_path", r.BlobPath)
		res.Pruned = append(res.Pruned, pr)
	}
	sort.Slice(res.Pruned, func(i, j int) bool { return res.Pruned[i].Version < res.Pruned[j].Version })
	return res, nil
}

// pruneReason says why r may be pruned ("" when it may not); newer are the
// asset's COMPLETED, unpruned Releases newer than r.
func pruneReason(r *catalog.Release, newer []*catalog.Release) string {
	if r.ApprovalState == catalog.ApprovalRejected {
		return PruneRejected
	}
	for _, n := range newer {
		if n.ApprovalState == catalog.ApprovalRejected {
			continue
		}
		if r.ApprovalState != catalog.ApprovalApproved || n.ApprovalState == catalog.ApprovalApproved {
			return PruneSuperseded
		}
	}
	return ""
}

func completedBefore(r *catalog.Release, t time.Time) bool {
	at := r.CreatedAt
	if r.CompletedAt != nil {
		at = *r.CompletedAt
	}
	return at.Before(t)
}
