package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/combine"
	"github.com/greensight/vzarr/icechunk"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/refread"
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

// maxCommitAttempts bounds how often commitRelease starts over after
// another writer moved main under it.
const maxCommitAttempts = 5

// commitRelease commits refs to the Icechunk repository at repoURL (created
// when absent, with a virtual chunk container per source folder) as one
// snapshot on main with message, tags it tag, and returns its id. A tag
// already there (the same Release committed by an earlier attempt of the
// task) is the answer, and nothing is written. It is the one place a
// Release is written into its repository.
//
// Each snapshot holds the whole dataset: refs replace main's content.
// Until the icechunk package can delete chunks and nodes, refs must cover
// every node and chunk of main's snapshot (as a run over the same
// sources, or over more of them, does); otherwise the old chunk would
// show through, so the commit is refused with combine.ErrIncompatible.
func commitRelease(ctx context.Context, st *refstore.Store, repoURL string, refs *kerchunk.Refs, tag, message string) (icechunk.ObjectID, error) {
	storage, err := st.IcechunkStorage(ctx, repoURL)
	if err != nil {
		return icechunk.ObjectID{}, err
	}
	repo, err := openOrCreateRepo(ctx, storage, refs)
	if err != nil {
		return icechunk.ObjectID{}, fmt.Errorf("repository %s: %w", repoURL, err)
	}
	for attempt := 1; ; attempt++ {
		if id, ok := repo.Info().Tags[tag]; ok {
			return id, nil
		}
		id, err := commitMain(ctx, repo, refs, message)
		if errors.Is(err, icechunk.ErrConflict) && attempt < maxCommitAttempts {
			// Another run committed first: start again from its snapshot.
			if repo, err = icechunk.Open(ctx, storage); err != nil {
				return icechunk.ObjectID{}, fmt.Errorf("repository %s: %w", repoURL, err)
			}
			continue
		}
		if err != nil {
			return icechunk.ObjectID{}, fmt.Errorf("committing to %s: %w", repoURL, err)
		}
		err = repo.CreateTag(ctx, tag, id)
		if errors.Is(err, icechunk.ErrTagExists) {
			// A concurrent attempt of the same task tagged its own commit.
			if repo, err = icechunk.Open(ctx, storage); err == nil {
				if t, ok := repo.Info().Tags[tag]; ok {
					return t, nil
				}
			}
		}
		if err != nil {
			return icechunk.ObjectID{}, fmt.Errorf("tagging %s in %s: %w", tag, repoURL, err)
		}
		return id, nil
	}
}

// openOrCreateRepo opens the repository in storage, or creates it with the
// virtual chunk containers refs needs.
func openOrCreateRepo(ctx context.Context, storage icechunk.Storage, refs *kerchunk.Refs) (*icechunk.Repo, error) {
	repo, err := icechunk.Open(ctx, storage)
	if !errors.Is(err, blobio.ErrNotFound) {
		return repo, err
	}
	containers, err := repoContainers(refs)
	if err != nil {
		return nil, err
	}
	repo, err = icechunk.Create(ctx, storage, icechunk.RepoConfig{VirtualChunkContainers: containers})
	if errors.Is(err, icechunk.ErrConflict) {
		return icechunk.Open(ctx, storage) // a concurrent run created it
	}
	return repo, err
}

// repoContainers are the virtual chunk containers of a new repository for
// refs: those icechunk.RefsContainers gives (one per source folder),
// merged into their deepest common folder when they share a store and it
// is below the URL's root (a recursive scan's subfolders: a later Release
// with a new subfolder is then covered too, since a repository's
// containers are set when it is created).
func repoContainers(refs *kerchunk.Refs) ([]icechunk.VirtualChunkContainer, error) {
	cs, err := icechunk.RefsContainers(refs)
	if err != nil || len(cs) < 2 {
		return cs, err
	}
	common := cs[0].URLPrefix
	for _, c := range cs[1:] {
		if c.Store != cs[0].Store || !maps.Equal(c.Options, cs[0].Options) {
			return cs, nil
		}
		for !strings.HasPrefix(c.URLPrefix, common) {
			common = common[:strings.LastIndexByte(strings.TrimSuffix(common, "/"), '/')+1]
		}
	}
	if _, rest, ok := strings.Cut(common, "://"); !ok || strings.Trim(rest, "/") == "" {
		return cs, nil // nothing below the root in common
	}
	merged := cs[0]
	merged.URLPrefix = common
	return []icechunk.VirtualChunkContainer{merged}, nil
}

// commitMain writes refs as a new snapshot on main.
func commitMain(ctx context.Context, repo *icechunk.Repo, refs *kerchunk.Refs, message string) (icechunk.ObjectID, error) {
	head, err := repo.Ref("main")
	if err != nil {
		return icechunk.ObjectID{}, err
	}
	if err := checkCovers(ctx, repo, head, refs); err != nil {
		return icechunk.ObjectID{}, err
	}
	sess, err := repo.NewSession(ctx, "main")
	if err != nil {
		return icechunk.ObjectID{}, err
	}
	if err := icechunk.FromRefs(ctx, sess, refs); err != nil {
		return icechunk.ObjectID{}, err
	}
	return sess.Commit(ctx, message)
}

// checkCovers refuses refs that leave out a node or a chunk of snapshot
// head: a commit keeps what it does not replace.
func checkCovers(ctx context.Context, repo *icechunk.Repo, head icechunk.ObjectID, refs *kerchunk.Refs) error {
	snap, err := repo.Snapshot(ctx, head)
	if err != nil {
		return err
	}
	for i := range snap.Nodes {
		n := &snap.Nodes[i]
		p := strings.TrimPrefix(n.Path, "/")
		if p == "" {
			continue
		}
		if n.Array == nil {
			if _, ok := refs.Get(p + "/.zgroup"); !ok {
				return fmt.Errorf("%w: the group %s of the repository's last snapshot is not in the new references (a snapshot cannot drop nodes yet)",
					combine.ErrIncompatible, n.Path)
			}
			continue
		}
		zarray, ok := refs.Text(p + "/.zarray")
		if !ok {
			return fmt.Errorf("%w: the array %s of the repository's last snapshot is not in the new references (a snapshot cannot drop nodes yet)",
				combine.ErrIncompatible, n.Path)
		}
		zattrs, _ := refs.Text(p + "/.zattrs")
		a, err := refread.NewArray(p, []byte(zarray), []byte(zattrs))
		if err != nil {
			return err
		}
		old, err := repo.ArrayRefs(ctx, n)
		if err != nil {
			return err
		}
		idx := make([]int, 0, 4)
		for _, c := range old {
			idx = idx[:0]
			for _, x := range c.Index {
				idx = append(idx, int(x))
			}
			if _, ok := refs.Get(a.ChunkKey(idx)); !ok {
				return fmt.Errorf("%w: chunk %v of %s is in the repository's last snapshot but not in the new references (a snapshot cannot drop chunks yet)",
					combine.ErrIncompatible, c.Index, n.Path)
			}
		}
	}
	return nil
}
