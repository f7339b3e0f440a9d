package refstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/icechunk"
	"github.com/greensight/vzarr/kerchunk"
)

// IcechunkBranch is the branch vzarr commits to.
const IcechunkBranch = "main"

// IcechunkVersion selects a version of a repository: a branch, a tag or a
// snapshot id, at most one of them (none: the branch IcechunkBranch). An
// unknown one is an icechunk.ErrNoRef, a malformed snapshot id an
// icechunk.ErrInvalidID, several an icechunk.ErrInvalidArgument.
type IcechunkVersion struct {
	Branch, Tag, Snapshot string
}

// MaxCommitAttempts bounds how often CommitIcechunk starts over after
// another writer moved the branch under it (or created the repository).
const MaxCommitAttempts = 5

// IcechunkCommit says how CommitIcechunk commits.
type IcechunkCommit struct {
	// Message is the commit message (DefaultCommitMessage when empty).
	Message string
	// Tag, when set, names a new tag on the snapshot committed.
	Tag string
	// ReuseTag makes a Tag the repository already has the result: its
	// snapshot is returned and nothing is written (a retried task whose
	// first attempt committed and tagged). Without it an existing Tag is
	// icechunk.ErrTagExists, before anything is committed.
	ReuseTag bool
	// Append commits to IcechunkBranch of an existing repository, on top of
	// its head, what differs from it (icechunk.UpdateFromRefs), instead of
	// creating the repository. The sources must lie under the virtual chunk
	// containers the repository declares.
	Append bool
	// Create, with Append, creates the repository (as without Append)
	// when url holds none; one another writer creates meanwhile is
	// appended to.
	Create bool
	// Containers are the virtual chunk containers of a repository the
	// commit creates; nil: one per source folder (icechunk.Sources.Containers).
	Containers []icechunk.VirtualChunkContainer
	// Whole, with Append, says refs are the whole new content of the
	// branch (icechunk.ReplaceFromRefs): references lacking a node or a
	// chunk of the head are refused with icechunk.ErrIncomplete.
	Whole bool
	// Parent is, with Append, the snapshot the references were derived
	// from (LoadIcechunk): when the branch has moved since, the commit
	// fails with icechunk.ErrConflict instead of dropping the other
	// commit's changes. The zero id commits on whatever the head is: a
	// commit that loses the race for the branch and cannot be rebased
	// (icechunk.ErrConflict) starts over on the new head, at most
	// MaxCommitAttempts times in all.
	Parent icechunk.ObjectID
}

// CommitIcechunk commits refs to the Icechunk repository at url as one
// snapshot on IcechunkBranch: a new repository (SaveIcechunk) or, with
// c.Append, a commit on an existing one (c.Create: on one created when
// absent); then tags it (c.Tag). Appending keeps the repository's virtual
// chunk containers: new sources must lie under them. It is the one way
// references are committed to a repository (`vzarr ref|combine --format
// icechunk`, the pipeline's register stage).
func (s *Store) CommitIcechunk(ctx context.Context, url string, refs *kerchunk.Refs, c IcechunkCommit) (*Commit, error) {
	base, err := s.IcechunkStorage(ctx, url)
	if err != nil {
		return nil, err
	}
	defer closeStorage(base)
	st := &countingStorage{Storage: base}
	src := &icechunk.Sources{Opener: s.opener()}
	defer src.Close()
	msg := c.Message
	if msg == "" {
		msg = DefaultCommitMessage
	}
	var repo *icechunk.Repo
	var id icechunk.ObjectID
	for attempt := 1; ; attempt++ {
		if !c.Append {
			repo, id, err = createIcechunk(ctx, st, src, refs, c.Containers, msg)
			break
		}
		repo, err = icechunk.Open(ctx, st)
		if errors.Is(err, blobio.ErrNotFound) && c.Create {
			repo, id, err = createIcechunk(ctx, st, src, refs, c.Containers, msg)
			if errors.Is(err, icechunk.ErrConflict) && attempt < MaxCommitAttempts {
				continue // another writer created it (or committed) first
			}
			break
		}
		if err != nil {
			return nil, fmt.Errorf("opening repository %s: %w", url, err)
		}
		if t, ok := repo.Info().Tags[c.Tag]; ok && c.Tag != "" {
			if c.ReuseTag {
				return &Commit{SnapshotID: t}, nil
			}
			return nil, fmt.Errorf("%s: %w: %q", url, icechunk.ErrTagExists, c.Tag) // before committing anything
		}
		id, err = appendIcechunk(ctx, repo, src, refs, c, msg)
		if errors.Is(err, icechunk.ErrConflict) && c.Parent == (icechunk.ObjectID{}) && attempt < MaxCommitAttempts {
			continue // another writer moved the branch: start again from its head
		}
		break
	}
	if err != nil {
		return nil, fmt.Errorf("committing to %s: %w", url, err)
	}
	out := &Commit{SnapshotID: id, Bytes: st.n}
	if c.Tag == "" {
		return out, nil
	}
	err = repo.CreateTag(ctx, c.Tag, id)
	if errors.Is(err, icechunk.ErrTagExists) && c.ReuseTag {
		// A concurrent attempt of the same task tagged its own commit.
		if again, oerr := icechunk.Open(ctx, st); oerr == nil {
			if t, ok := again.Info().Tags[c.Tag]; ok {
				return &Commit{SnapshotID: t, Bytes: st.n}, nil
			}
		}
	}
	if err != nil {
		return out, fmt.Errorf("tagging %s in %s: %w", id, url, err)
	}
	return out, nil
}

// appendIcechunk commits refs on IcechunkBranch of repo as c says.
func appendIcechunk(ctx context.Context, repo *icechunk.Repo, src *icechunk.Sources, refs *kerchunk.Refs, c IcechunkCommit, msg string) (icechunk.ObjectID, error) {
	var none icechunk.ObjectID
	sess, err := repo.NewSession(ctx, IcechunkBranch)
	if err != nil {
		return none, err
	}
	if c.Parent != none && sess.BaseID() != c.Parent {
		return none, fmt.Errorf("%w: branch %q moved from %s to %s while the commit was prepared",
			icechunk.ErrConflict, IcechunkBranch, c.Parent, sess.BaseID())
	}
	if err := checkContainers(repo, src, refs); err != nil {
		return none, err
	}
	update := src.UpdateFromRefs
	if c.Whole {
		update = src.ReplaceFromRefs
	}
	if err := update(ctx, sess, refs); err != nil {
		return none, err
	}
	return sess.Commit(ctx, msg)
}

// checkContainers refuses references to sources outside the virtual chunk
// containers the repository declares: readers would refuse their chunks.
// A repository that declares none (its readers bring their own) is not
// checked.
func checkContainers(repo *icechunk.Repo, src *icechunk.Sources, refs *kerchunk.Refs) error {
	have, err := repo.Info().ContainerPrefixes()
	if err != nil || len(have) == 0 {
		return err
	}
	need, err := src.Containers(refs)
	if err != nil {
		return err
	}
	for _, c := range need {
		if !slices.ContainsFunc(have, func(p string) bool { return strings.HasPrefix(c.URLPrefix, p) }) {
			return fmt.Errorf("%w: sources in %s are outside the repository's virtual chunk containers %v, whose readers would refuse them",
				icechunk.ErrInvalidArgument, c.URLPrefix, have)
		}
	}
	return nil
}

// TagIcechunk creates tag name on snapshot id of the repository at url.
func (s *Store) TagIcechunk(ctx context.Context, url, name string, id icechunk.ObjectID) error {
	st, err := s.IcechunkStorage(ctx, url)
	if err != nil {
		return err
	}
	defer closeStorage(st)
	repo, err := icechunk.Open(ctx, st)
	if err != nil {
		return fmt.Errorf("opening repository %s: %w", url, err)
	}
	if err := repo.CreateTag(ctx, name, id); err != nil {
		return fmt.Errorf("tagging %s in %s: %w", id, url, err)
	}
	return nil
}

// LoadIcechunk reads version v of the repository at url as kerchunk
// references (icechunk.Repo.ToRefs) and returns them with the snapshot's
// id.
func (s *Store) LoadIcechunk(ctx context.Context, url string, v IcechunkVersion) (*kerchunk.Refs, icechunk.ObjectID, error) {
	var none icechunk.ObjectID
	st, err := s.IcechunkStorage(ctx, url)
	if err != nil {
		return nil, none, err
	}
	defer closeStorage(st)
	repo, err := icechunk.Open(ctx, st)
	if err != nil {
		return nil, none, fmt.Errorf("opening repository %s: %w", url, err)
	}
	id, err := v.resolve(repo)
	if err != nil {
		return nil, none, fmt.Errorf("%s: %w", url, err)
	}
	snap, err := repo.Snapshot(ctx, id)
	if err != nil {
		return nil, none, fmt.Errorf("%s: snapshot %s: %w", url, id, err)
	}
	refs, err := repo.ToRefs(ctx, snap)
	if err != nil {
		return nil, none, fmt.Errorf("%s: %w", url, err)
	}
	return refs, id, nil
}

func (v IcechunkVersion) resolve(repo *icechunk.Repo) (icechunk.ObjectID, error) {
	n := 0
	for _, s := range []string{v.Branch, v.Tag, v.Snapshot} {
		if s != "" {
			n++
		}
	}
	info := repo.Info()
	switch {
	case n > 1:
		return icechunk.ObjectID{}, fmt.Errorf("%w: give a branch, a tag or a snapshot, not several", icechunk.ErrInvalidArgument)
	case v.Tag != "":
		if id, ok := info.Tags[v.Tag]; ok {
			return id, nil
		}
		return icechunk.ObjectID{}, fmt.Errorf("%w: tag %q", icechunk.ErrNoRef, v.Tag)
	case v.Snapshot != "":
		id, err := icechunk.ParseObjectID(v.Snapshot)
		if err != nil {
			return id, fmt.Errorf("snapshot %q: %w", v.Snapshot, err)
		}
		if _, ok := info.SnapshotInfo(id); !ok {
			return id, fmt.Errorf("%w: snapshot %s", icechunk.ErrNoRef, id)
		}
		return id, nil
	}
	b := v.Branch
	if b == "" {
		b = IcechunkBranch
	}
	if id, ok := info.Branches[b]; ok {
		return id, nil
	}
	return icechunk.ObjectID{}, fmt.Errorf("%w: branch %q", icechunk.ErrNoRef, b)
}

// IsIcechunk reports whether url holds an Icechunk repository (its repo
// info file exists), for commands that take a reference set or a
// repository alike.
func (s *Store) IsIcechunk(ctx context.Context, url string) bool {
	st, err := s.IcechunkStorage(ctx, url)
	if err != nil {
		return false
	}
	defer closeStorage(st)
	_, _, err = st.Get(ctx, icechunk.RepoInfoPath)
	return err == nil
}

// closeStorage closes a storage that holds resources (a blob bucket).
func closeStorage(st icechunk.Storage) {
	if c, ok := st.(io.Closer); ok {
		_ = c.Close()
	}
}
