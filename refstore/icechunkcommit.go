package refstore

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

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

// IcechunkCommit says how CommitIcechunk commits.
type IcechunkCommit struct {
	// Message is the commit message (DefaultCommitMessage when empty).
	Message string
	// Tag, when set, names a new tag on the snapshot committed.
	Tag string
	// Append commits to IcechunkBranch of an existing repository, on top of
	// its head, what differs from it (icechunk.UpdateFromRefs), instead of
	// creating the repository. The sources must lie under the virtual chunk
	// containers the repository declares.
	Append bool
	// Parent is, with Append, the snapshot the references were derived
	// from (LoadIcechunk): when the branch has moved since, the commit
	// fails with icechunk.ErrConflict instead of dropping the other
	// commit's changes. The zero id commits on whatever the head is.
	Parent icechunk.ObjectID
}

// CommitIcechunk commits refs to the Icechunk repository at url as one
// snapshot on IcechunkBranch: a new repository (SaveIcechunk) or, with
// c.Append, a commit on an existing one; then tags it (c.Tag). Appending
// keeps the repository's virtual chunk containers: new sources must lie
// under them.
func (s *Store) CommitIcechunk(ctx context.Context, url string, refs *kerchunk.Refs, c IcechunkCommit) (*Commit, error) {
	var out *Commit
	var repo *icechunk.Repo
	if !c.Append {
		cm, err := s.SaveIcechunk(ctx, url, refs, c.Message)
		if err != nil {
			return nil, err
		}
		out = cm
	} else {
		base, err := s.IcechunkStorage(ctx, url)
		if err != nil {
			return nil, err
		}
		defer closeStorage(base)
		st := &countingStorage{Storage: base}
		if repo, err = icechunk.Open(ctx, st); err != nil {
			return nil, fmt.Errorf("opening repository %s: %w", url, err)
		}
		sess, err := repo.NewSession(ctx, IcechunkBranch)
		if err != nil {
			return nil, err
		}
		if _, ok := repo.Info().Tags[c.Tag]; ok && c.Tag != "" {
			return nil, fmt.Errorf("%s: %w: %q", url, icechunk.ErrTagExists, c.Tag) // before committing anything
		}
		if c.Parent != (icechunk.ObjectID{}) && sess.BaseID() != c.Parent {
			return nil, fmt.Errorf("%w: branch %q of %s moved from %s to %s while the commit was prepared",
				icechunk.ErrConflict, IcechunkBranch, url, c.Parent, sess.BaseID())
		}
		if err := checkContainers(repo, refs); err != nil {
			return nil, fmt.Errorf("%s: %w", url, err)
		}
		if err := icechunk.UpdateFromRefs(ctx, sess, refs); err != nil {
			return nil, err
		}
		msg := c.Message
		if msg == "" {
			msg = DefaultCommitMessage
		}
		id, err := sess.Commit(ctx, msg)
		if err != nil {
			return nil, fmt.Errorf("committing to %s: %w", url, err)
		}
		out = &Commit{SnapshotID: id, Bytes: st.n}
	}
	if c.Tag != "" {
		if err := s.TagIcechunk(ctx, url, c.Tag, out.SnapshotID); err != nil {
			return out, err
		}
	}
	return out, nil
}

// checkContainers refuses references to sources outside the virtual chunk
// containers the repository declares: readers would refuse their chunks.
// A repository that declares none (its readers bring their own) is not
// checked.
func checkContainers(repo *icechunk.Repo, refs *kerchunk.Refs) error {
	have, err := repo.Info().ContainerPrefixes()
	if err != nil || len(have) == 0 {
		return err
	}
	need, err := icechunk.RefsContainers(refs)
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
