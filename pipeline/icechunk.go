package pipeline

import (
	"context"

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
// item) commits nothing, and no run ever moves or deletes an earlier
// Release's tag.

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
	containers []icechunk.VirtualChunkContainer, tag, message string) (icechunk.ObjectID, error) {
	c, err := st.CommitIcechunk(ctx, repoURL, refs, refstore.IcechunkCommit{Message: message, Tag: tag, ReuseTag: true,
		Append: true, Create: true, Containers: containers, Whole: true})
	if err != nil {
		return icechunk.ObjectID{}, err
	}
	return c.SnapshotID, nil
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
