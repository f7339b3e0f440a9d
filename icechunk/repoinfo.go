package icechunk

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"time"

	flatbuffers "github.com/google/flatbuffers/go"
)

// UpdateKind is the type of an ops-log entry (the UpdateType union tag of repo.fbs).
type UpdateKind uint8

// The ops-log entry kinds, numbered as in the UpdateType union.
const (
	UpdateRepoInitialized     UpdateKind = 1
	UpdateRepoMigrated        UpdateKind = 2
	UpdateConfigChanged       UpdateKind = 3
	UpdateMetadataChanged     UpdateKind = 4
	UpdateTagCreated          UpdateKind = 5
	UpdateTagDeleted          UpdateKind = 6
	UpdateBranchCreated       UpdateKind = 7
	UpdateBranchDeleted       UpdateKind = 8
	UpdateBranchReset         UpdateKind = 9
	UpdateNewCommit           UpdateKind = 10
	UpdateCommitAmended       UpdateKind = 11
	UpdateNewDetachedSnapshot UpdateKind = 12
	UpdateGCRan               UpdateKind = 13
	UpdateExpirationRan       UpdateKind = 14
	UpdateFeatureFlagChanged  UpdateKind = 15
	UpdateRepoStatusChanged   UpdateKind = 16
	maxUpdateKind                        = UpdateRepoStatusChanged
)

// Update is one ops-log entry. Name is the branch or tag name; Previous and New
// are the snapshot ids the kind carries. The fields of kinds 2, 15 and 16 are not
// kept (they are re-written as empty tables).
type Update struct {
	Kind          UpdateKind
	Name          string
	Previous, New ObjectID
	At            time.Time
	BackupPath    string
}

// SnapshotInfo summarises a snapshot in the repo info file.
type SnapshotInfo struct {
	ID        ObjectID
	Parent    *ObjectID // nil for the initial snapshot
	FlushedAt time.Time
	Message   string
}

// RepoInfo is the repo info file ($ROOT/repo): refs, snapshots, ops log, config.
type RepoInfo struct {
	Branches          map[string]ObjectID
	Tags              map[string]ObjectID
	DeletedTags       []string
	Snapshots         []SnapshotInfo
	StatusSetAt       time.Time
	Updates           []Update // newest first
	RepoBeforeUpdates string
	Config            []byte // FlexBuffers-encoded repository config, passed through
}

// SnapshotInfo returns the summary of snapshot id.
func (r *RepoInfo) SnapshotInfo(id ObjectID) (SnapshotInfo, bool) {
	for _, s := range r.Snapshots {
		if s.ID == id {
			return s, true
		}
	}
	return SnapshotInfo{}, false
}

// Schema slots (declaration order in repo.fbs).
const (
	refName, refSnapshotIndex                                            = 0, 1
	siID, siParentOffset, siFlushedAt, siMessage, siMetadata             = 0, 1, 2, 3, 4
	rsAvailability, rsSetAt                                              = 0, 1
	upTypeType, upType, upUpdatedAt, upBackupPath                        = 0, 1, 2, 3
	rpSpecVersion, rpTags, rpBranches, rpDeletedTags, rpSnapshots        = 0, 1, 2, 3, 4
	rpStatus, rpMetadata, rpLatestUpdates, rpRepoBeforeUpdates, rpConfig = 5, 6, 7, 8, 9
)

// updateFields says which fields a kind's table has: name, previous id, new id
// (in that slot order).
func updateFields(k UpdateKind) (name, prev, next bool) {
	switch k {
	case UpdateTagCreated, UpdateBranchCreated:
		return true, false, false
	case UpdateTagDeleted, UpdateBranchDeleted, UpdateBranchReset:
		return true, true, false
	case UpdateNewCommit:
		return true, false, true
	case UpdateCommitAmended:
		return true, true, true
	case UpdateNewDetachedSnapshot:
		return false, false, true
	}
	return false, false, false
}

// EncodeRepoInfo returns the payload of r; snapshots are sorted by id in place.
func EncodeRepoInfo(r *RepoInfo) ([]byte, error) {
	if _, ok := r.Branches["main"]; !ok {
		return nil, fmt.Errorf("%w: repo info without a main branch", ErrInvalidArgument)
	}
	slices.SortFunc(r.Snapshots, func(a, b SnapshotInfo) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	index := make(map[ObjectID]int, len(r.Snapshots))
	for i, s := range r.Snapshots {
		index[s.ID] = i
	}
	b := flatbuffers.NewBuilder(4096)
	refs := func(m map[string]ObjectID) (flatbuffers.UOffsetT, error) {
		names := slices.Sorted(maps.Keys(m))
		offs := make([]flatbuffers.UOffsetT, len(names))
		for i, name := range names {
			ix, ok := index[m[name]]
			if !ok {
				return 0, fmt.Errorf("%w: ref %q points at unknown snapshot %s", ErrInvalidArgument, name, m[name])
			}
			s := b.CreateString(name)
			b.StartObject(2)
			b.PrependUOffsetTSlot(refName, s, 0)
			b.PrependUint32Slot(refSnapshotIndex, uint32(ix), 0)
			offs[i] = b.EndObject()
		}
		return offsetVector(b, offs), nil
	}
	tags, err := refs(r.Tags)
	if err != nil {
		return nil, err
	}
	branches, err := refs(r.Branches)
	if err != nil {
		return nil, err
	}
	deleted := slices.Sorted(slices.Values(r.DeletedTags))
	doffs := make([]flatbuffers.UOffsetT, len(deleted))
	for i, d := range deleted {
		doffs[i] = b.CreateString(d)
	}
	deletedTags := offsetVector(b, doffs)

	snaps := make([]flatbuffers.UOffsetT, len(r.Snapshots))
	for i, s := range r.Snapshots {
		parent := int32(-1)
		if s.Parent != nil {
			ix, ok := index[*s.Parent]
			if !ok {
				return nil, fmt.Errorf("%w: snapshot %s has unknown parent %s", ErrInvalidArgument, s.ID, *s.Parent)
			}
			parent = int32(ix)
		}
		msg := b.CreateString(s.Message)
		b.StartVector(4, 0, 4)
		md := b.EndVector(0)
		b.StartObject(6)
		b.PrependUint64Slot(siFlushedAt, micros(s.FlushedAt), 0)
		b.PrependStructSlot(siID, prependID(b, s.ID[:]), 0)
		b.PrependInt32Slot(siParentOffset, parent, 0)
		b.PrependUOffsetTSlot(siMessage, msg, 0)
		b.PrependUOffsetTSlot(siMetadata, md, 0)
		snaps[i] = b.EndObject()
	}
	snapshots := offsetVector(b, snaps)

	b.StartObject(3)
	b.PrependUint64Slot(rsSetAt, micros(r.StatusSetAt), 0)
	b.PrependByteSlot(rsAvailability, 0, 0)
	status := b.EndObject()

	ups := make([]flatbuffers.UOffsetT, len(r.Updates))
	for i, u := range r.Updates {
		if u.Kind == 0 || u.Kind > maxUpdateKind {
			return nil, fmt.Errorf("%w: update kind %d", ErrInvalidArgument, u.Kind)
		}
		hasName, hasPrev, hasNew := updateFields(u.Kind)
		var name flatbuffers.UOffsetT
		if hasName {
			name = b.CreateString(u.Name)
		}
		// Every kind with fields puts the name first, then previous, then new.
		b.StartObject(3)
		slot := 0
		if hasName {
			b.PrependUOffsetTSlot(slot, name, 0)
			slot++
		}
		if hasPrev {
			b.PrependStructSlot(slot, prependID(b, u.Previous[:]), 0)
			slot++
		}
		if hasNew {
			b.PrependStructSlot(slot, prependID(b, u.New[:]), 0)
		}
		body := b.EndObject()
		var backup flatbuffers.UOffsetT
		if u.BackupPath != "" {
			backup = b.CreateString(u.BackupPath)
		}
		b.StartObject(4)
		b.PrependUint64Slot(upUpdatedAt, micros(u.At), 0)
		b.PrependUOffsetTSlot(upType, body, 0)
		b.PrependUOffsetTSlot(upBackupPath, backup, 0)
		b.PrependByteSlot(upTypeType, byte(u.Kind), 0)
		ups[i] = b.EndObject()
	}
	updates := offsetVector(b, ups)
	var before, config flatbuffers.UOffsetT
	if r.RepoBeforeUpdates != "" {
		before = b.CreateString(r.RepoBeforeUpdates)
	}
	if r.Config != nil {
		config = b.CreateByteVector(r.Config)
	}
	b.StartVector(4, 0, 4)
	metadata := b.EndVector(0)

	b.StartObject(13)
	b.PrependByteSlot(rpSpecVersion, SpecVersion, 0)
	b.PrependUOffsetTSlot(rpTags, tags, 0)
	b.PrependUOffsetTSlot(rpBranches, branches, 0)
	b.PrependUOffsetTSlot(rpDeletedTags, deletedTags, 0)
	b.PrependUOffsetTSlot(rpSnapshots, snapshots, 0)
	b.PrependUOffsetTSlot(rpStatus, status, 0)
	b.PrependUOffsetTSlot(rpMetadata, metadata, 0)
	b.PrependUOffsetTSlot(rpLatestUpdates, updates, 0)
	b.PrependUOffsetTSlot(rpRepoBeforeUpdates, before, 0)
	b.PrependUOffsetTSlot(rpConfig, config, 0)
	return finish(b, b.EndObject()), nil
}

// DecodeRepoInfo parses a repo info payload.
func DecodeRepoInfo(buf []byte) (*RepoInfo, error) {
	root, err := rootTable(buf)
	if err != nil {
		return nil, err
	}
	r := &RepoInfo{Branches: map[string]ObjectID{}, Tags: map[string]ObjectID{}}
	snaps, err := root.tables(rpSnapshots)
	if err != nil {
		return nil, err
	}
	parents := make([]int32, len(snaps))
	for i, st := range snaps {
		var s SnapshotInfo
		if s.ID, err = st.objectID(siID, "snapshot info id"); err != nil {
			return nil, err
		}
		if parents[i], err = st.i32(siParentOffset, 0); err != nil {
			return nil, err
		}
		fa, err := st.u64(siFlushedAt, 0)
		if err != nil {
			return nil, err
		}
		s.FlushedAt = fromMicros(fa)
		if s.Message, err = st.str(siMessage); err != nil {
			return nil, err
		}
		r.Snapshots = append(r.Snapshots, s)
	}
	for i, p := range parents {
		if p < -1 || int(p) >= len(snaps) {
			return nil, corruptf("snapshot %d has parent offset %d", i, p)
		}
		if p >= 0 {
			id := r.Snapshots[p].ID
			r.Snapshots[i].Parent = &id
		}
	}
	readRefs := func(slot int, into map[string]ObjectID) error {
		ts, err := root.tables(slot)
		if err != nil {
			return err
		}
		for _, t := range ts {
			name, err := t.str(refName)
			if err != nil {
				return err
			}
			ix, err := t.u32(refSnapshotIndex, 0)
			if err != nil {
				return err
			}
			if int(ix) >= len(r.Snapshots) {
				return corruptf("ref %q has snapshot index %d", name, ix)
			}
			into[name] = r.Snapshots[ix].ID
		}
		return nil
	}
	if err := readRefs(rpTags, r.Tags); err != nil {
		return nil, err
	}
	if err := readRefs(rpBranches, r.Branches); err != nil {
		return nil, err
	}
	if r.DeletedTags, err = root.strs(rpDeletedTags); err != nil {
		return nil, err
	}
	if st, ok, err := root.table(rpStatus); err != nil {
		return nil, err
	} else if ok {
		v, err := st.u64(rsSetAt, 0)
		if err != nil {
			return nil, err
		}
		r.StatusSetAt = fromMicros(v)
	}
	ups, err := root.tables(rpLatestUpdates)
	if err != nil {
		return nil, err
	}
	for _, ut := range ups {
		var u Update
		k, err := ut.u8(upTypeType, 0)
		if err != nil {
			return nil, err
		}
		u.Kind = UpdateKind(k)
		if u.Kind == 0 || u.Kind > maxUpdateKind {
			return nil, corruptf("update kind %d", k)
		}
		at, err := ut.u64(upUpdatedAt, 0)
		if err != nil {
			return nil, err
		}
		u.At = fromMicros(at)
		if u.BackupPath, err = ut.str(upBackupPath); err != nil {
			return nil, err
		}
		body, ok, err := ut.table(upType)
		if err != nil {
			return nil, err
		}
		if ok {
			hasName, hasPrev, hasNew := updateFields(u.Kind)
			slot := 0
			if hasName {
				if u.Name, err = body.str(slot); err != nil {
					return nil, err
				}
				slot++
			}
			if hasPrev {
				if u.Previous, err = body.objectID(slot, "update previous id"); err != nil {
					return nil, err
				}
				slot++
			}
			if hasNew {
				if u.New, err = body.objectID(slot, "update new id"); err != nil {
					return nil, err
				}
			}
		}
		r.Updates = append(r.Updates, u)
	}
	if r.RepoBeforeUpdates, err = root.str(rpRepoBeforeUpdates); err != nil {
		return nil, err
	}
	cfg, err := root.bytesField(rpConfig)
	if err != nil {
		return nil, err
	}
	r.Config = bytes.Clone(cfg)
	return r, nil
}
