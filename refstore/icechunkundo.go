package refstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/icechunk"
)

// IcechunkUndo says what UndoIcechunkCommit changed, and what it left.
type IcechunkUndo struct {
	// Tagged is the snapshot the commit's tag pointed at (zero: no tag).
	Tagged icechunk.ObjectID
	// TagDeleted: the tag was deleted (icechunk.Repo.DeleteTag).
	TagDeleted bool
	// BranchReset: IcechunkBranch moved back From the commit's snapshot To
	// the newest snapshot before the commit's (icechunk.Repo.ResetBranch).
	BranchReset bool
	From, To    icechunk.ObjectID
	// BranchMoved: IcechunkBranch holds another writer's commit made on
	// top of the commit's snapshot (Head), so it was left as it is.
	BranchMoved bool
	Head        icechunk.ObjectID
}

// UndoIcechunkCommit takes back what CommitIcechunk(ctx, url, refs, c)
// published, when what the commit stood for failed afterwards (a pipeline
// Release whose catalog update kept failing): c.Tag is deleted, and
// IcechunkBranch, when it still points at the commit's snapshot, is reset
// to the snapshot before it. The commit's snapshots are the one c.Tag
// names and those whose message is c.Message (an attempt that committed
// but did not tag); with neither a tag nor a message nothing is the
// commit's. The reset is a compare-and-swap: when another writer moved
// the branch meanwhile, the branch keeps that commit (BranchMoved), and
// nothing but c.Tag is ever deleted, so an earlier commit's tag and data
// are never touched. A repository that does not exist, a tag already
// deleted and a branch already reset are no error (the undo may run more
// than once). The snapshot files stay (expiration is not implemented).
func (s *Store) UndoIcechunkCommit(ctx context.Context, url string, c IcechunkCommit) (*IcechunkUndo, error) {
	undo := &IcechunkUndo{}
	st, err := s.IcechunkStorage(ctx, url)
	if err != nil {
		return nil, err
	}
	defer closeStorage(st)
	repo, err := icechunk.Open(ctx, st)
	if errors.Is(err, blobio.ErrNotFound) {
		return undo, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening repository %s: %w", url, err)
	}
	info := repo.Info()
	if c.Tag != "" {
		undo.Tagged = info.Tags[c.Tag]
	}
	var none icechunk.ObjectID
	ours := func(id icechunk.ObjectID) bool {
		if undo.Tagged != none && id == undo.Tagged {
			return true
		}
		si, ok := info.SnapshotInfo(id)
		return ok && c.Message != "" && si.Message == c.Message
	}
	head, ok := info.Branches[IcechunkBranch]
	switch {
	case !ok:
	case ours(head):
		to := head
		for ours(to) {
			si, ok := info.SnapshotInfo(to)
			if !ok || si.Parent == nil {
				return nil, fmt.Errorf("%w: %s: snapshot %s of the commit has no parent to reset %q to", icechunk.ErrCorrupt, url, to, IcechunkBranch)
			}
			to = *si.Parent
		}
		var ce *icechunk.ConflictError
		err := repo.ResetBranch(ctx, IcechunkBranch, to, head)
		switch {
		case errors.As(err, &ce):
			undo.BranchMoved, undo.Head = true, ce.Head
		case err != nil:
			return nil, fmt.Errorf("resetting %q of %s: %w", IcechunkBranch, url, err)
		default:
			undo.BranchReset, undo.From, undo.To = true, head, to
		}
	default:
		// Another commit on top of ours: the branch is left as it is.
		for id := head; ; {
			si, ok := info.SnapshotInfo(id)
			if !ok || si.Parent == nil {
				break
			}
			if id = *si.Parent; ours(id) {
				undo.BranchMoved, undo.Head = true, head
				break
			}
		}
	}
	if undo.Tagged != none {
		err := repo.DeleteTag(ctx, c.Tag)
		switch {
		case errors.Is(err, icechunk.ErrNoRef): // deleted meanwhile
		case err != nil:
			return undo, fmt.Errorf("deleting tag %q of %s: %w", c.Tag, url, err)
		default:
			undo.TagDeleted = true
		}
	}
	return undo, nil
}
