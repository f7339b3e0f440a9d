package pipeline

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/greensight/vzarr/icechunk"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/refstore"
)

// With output_format icechunk, the Releases of a dataset and resource
// are the snapshots of one Icechunk repository (JobParams.RepoURL): the
// register stage commits the run's combined references as one snapshot
// on main, tags it with the Release id, and only then completes the
// Release. The commit is the register stage's last step before the
// catalog update, so a run that fails earlier (any stage, or the STAC
// item) commits nothing; a run that fails after it (the catalog update
// kept failing) has its commit taken back by the job's failure hook
// (undoRelease): its tag deleted and main reset to the snapshot before
// it. No run ever moves or deletes an earlier Release's tag.

// commitRelease commits refs to the Icechunk repository at repoURL as one
// snapshot on main with message, tags it tag, and returns its id
// (refstore.Store.CommitIcechunk): the repository is created when absent,
// declaring containers; a tag already there (the same Release committed by
// an earlier attempt of the task) is the answer, and nothing is written;
// a commit that loses the race for main to another run starts over on its
// snapshot. It is the one place a Release is written into its repository.
//
// Each snapshot holds the whole dataset: refs replace main's content.
// Until the icechunk package can delete chunks and nodes, refs must cover
// every node and chunk of main's snapshot (as a run over the same
// sources, or over more of them, does); otherwise the old chunk would
// show through, so the commit is refused with icechunk.ErrIncomplete.
func commitRelease(ctx context.Context, st *refstore.Store, repoURL string, refs *kerchunk.Refs,
	containers []icechunk.VirtualChunkContainer, releaseID, datasetID, resourceID string) (icechunk.ObjectID, error) {
	c := releaseCommit(releaseID, datasetID, resourceID)
	c.Containers = containers
	res, err := st.CommitIcechunk(ctx, repoURL, refs, c)
	if err != nil {
		return icechunk.ObjectID{}, err
	}
	return res.SnapshotID, nil
}

// releaseCommit is the commit of a Release to its repository: on main,
// tagged with the Release id, with a message naming the Release (which
// identifies an attempt's commit that was not tagged yet).
func releaseCommit(releaseID, datasetID, resourceID string) refstore.IcechunkCommit {
	return refstore.IcechunkCommit{Message: fmt.Sprintf("vzarr: release %s of %s/%s", releaseID, datasetID, resourceID),
		Tag: releaseID, ReuseTag: true, Append: true, Create: true, Whole: true}
}

// undoRelease takes back the commit of a failed Release from its
// repository (refstore.Store.UndoIcechunkCommit): its tag is deleted and
// main, when it still points at the Release's snapshot, is reset to the
// snapshot before it; when another run committed on top meanwhile, main
// keeps that commit and the log says so. Nothing of another Release is
// touched. A run that committed nothing changes nothing.
func undoRelease(ctx context.Context, st *refstore.Store, log *slog.Logger, jp *JobParams) error {
	u, err := st.UndoIcechunkCommit(ctx, jp.RepoURL, releaseCommit(jp.ReleaseID, jp.DatasetID, jp.ResourceID))
	if err != nil {
		return fmt.Errorf("taking back the commit of release %s from %s: %w", jp.ReleaseID, jp.RepoURL, err)
	}
	attrs := []any{slog.String("repo_url", jp.RepoURL)}
	if u.TagDeleted {
		log.InfoContext(ctx, "pipeline: deleted the tag of the failed release", append(attrs, slog.String("snapshot_id", u.Tagged.String()))...)
	}
	if u.BranchReset {
		log.InfoContext(ctx, "pipeline: reset main to the snapshot before the failed release", append(attrs,
			slog.String("from", u.From.String()), slog.String("to", u.To.String()))...)
	}
	if u.BranchMoved {
		log.WarnContext(ctx, "pipeline: main holds another commit made after the failed release's; main is left as it is", append(attrs,
			slog.String("main", u.Head.String()))...)
	}
	return nil
}

// repoContainers are the virtual chunk containers of a new repository for
// refs: one per source folder, merged into their deepest common folder
// (icechunk.CommonContainers).
func repoContainers(st *refstore.Store, refs *kerchunk.Refs) ([]icechunk.VirtualChunkContainer, error) {
	src := &icechunk.Sources{Opener: st.Opener}
	defer src.Close()
	cs, err := src.Containers(refs)
	if err != nil {
		return nil, err
	}
	return icechunk.CommonContainers(cs), nil
}
