package icechunk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StoreKind names the object store of a virtual chunk container, as the
// reference implementation's ObjectStoreConfig variants are named in its config.
type StoreKind string

// The store kinds vzarr writes.
const (
	StoreLocalFilesystem StoreKind = "local_file_system" // file:// locations
	StoreAzure           StoreKind = "azure"             // az:// / abfs:// locations
)

// VirtualChunkContainer declares where virtual chunks may live: every location
// under URLPrefix is read with the given store. A local-filesystem container's
// root is the path of its file:// prefix; Options are the Azure settings
// ("account", ...). Readers must still authorise each container.
type VirtualChunkContainer struct {
	URLPrefix string
	Store     StoreKind
	Options   map[string]string
}

// RepoConfig is the repository configuration stored in the repo info file.
type RepoConfig struct {
	VirtualChunkContainers []VirtualChunkContainer
}

// encode returns the FlexBuffers config, nil when there is nothing to store.
func (c RepoConfig) encode() ([]byte, error) {
	if len(c.VirtualChunkContainers) == 0 {
		return nil, nil
	}
	vccs := flexMap{}
	for _, v := range c.VirtualChunkContainers {
		var store flexValue
		switch v.Store {
		case StoreLocalFilesystem:
			u, err := url.Parse(v.URLPrefix)
			if err != nil || u.Scheme != "file" || u.Path == "" {
				return nil, fmt.Errorf("%w: local container prefix %q is not a file:// URL", ErrInvalidArgument, v.URLPrefix)
			}
			store = u.Path
		case StoreAzure:
			opts := flexMap{}
			for k, o := range v.Options {
				opts[k] = o
			}
			store = opts
		default:
			return nil, fmt.Errorf("%w: store kind %q", ErrInvalidArgument, v.Store)
		}
		if !strings.HasSuffix(v.URLPrefix, "/") {
			return nil, fmt.Errorf("%w: container prefix %q must end with /", ErrInvalidArgument, v.URLPrefix)
		}
		vccs[v.URLPrefix] = flexMap{"name": nil, "url_prefix": v.URLPrefix, "store": flexMap{string(v.Store): store}}
	}
	return encodeFlex(flexMap{"virtual_chunk_containers": vccs}), nil
}

// Repo is an open repository: its storage and the repo info last read. A Repo
// and its Sessions are not safe for concurrent use; concurrent writers each open
// their own and the conditional writes on the repo info decide between them.
type Repo struct {
	st      Storage
	info    *RepoInfo
	version Version
	now     func() time.Time
}

// MaxCommitRetries bounds how often Commit and CreateTag re-read the repo info
// after losing a conditional write.
const MaxCommitRetries = 10

// Create initialises an empty repository: the initial snapshot, its transaction
// log, and the repo info file with branch main and cfg (created only if absent,
// so of two concurrent creators exactly one wins; the other gets ErrConflict).
func Create(ctx context.Context, st Storage, cfg RepoConfig) (*Repo, error) {
	config, err := cfg.encode()
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	snap := &Snapshot{ID: InitialSnapshotID, FlushedAt: now, Message: "Repository initialized"}
	if err := putMeta(ctx, st, SnapshotPath(snap.ID), FileSnapshot, EncodeSnapshot(snap)); err != nil {
		return nil, err
	}
	tl := &TransactionLog{ID: snap.ID}
	if err := putMeta(ctx, st, TransactionLogPath(snap.ID), FileTransactionLog, EncodeTransactionLog(tl)); err != nil {
		return nil, err
	}
	info := &RepoInfo{
		Branches:    map[string]ObjectID{"main": snap.ID},
		Tags:        map[string]ObjectID{},
		Snapshots:   []SnapshotInfo{{ID: snap.ID, FlushedAt: now, Message: snap.Message}},
		StatusSetAt: now,
		Updates:     []Update{{Kind: UpdateRepoInitialized, At: now}},
		Config:      config,
	}
	payload, err := EncodeRepoInfo(info)
	if err != nil {
		return nil, err
	}
	v, err := st.Put(ctx, RepoInfoPath, EncodeFile(FileRepoInfo, payload), PutCondition{IfNoneMatch: true})
	if err != nil {
		return nil, err
	}
	return &Repo{st: st, info: info, version: v, now: time.Now}, nil
}

// putMeta writes a new immutable metadata file (create-if-absent; an existing
// identical-path object means an id collision and is an error).
func putMeta(ctx context.Context, st Storage, path string, typ FileType, payload []byte) error {
	_, err := st.Put(ctx, path, EncodeFile(typ, payload), PutCondition{IfNoneMatch: true})
	if errors.Is(err, ErrConflict) && path == SnapshotPath(InitialSnapshotID) {
		return nil // the well-known initial snapshot may already exist
	}
	return err
}

// Open reads the repo info of an existing repository.
func Open(ctx context.Context, st Storage) (*Repo, error) {
	r := &Repo{st: st, now: time.Now}
	return r, r.refresh(ctx)
}

func (r *Repo) refresh(ctx context.Context) error {
	b, v, err := r.st.Get(ctx, RepoInfoPath)
	if err != nil {
		return err
	}
	payload, _, err := DecodeFile(FileRepoInfo, b)
	if err != nil {
		return err
	}
	info, err := DecodeRepoInfo(payload)
	if err != nil {
		return err
	}
	r.info, r.version = info, v
	return nil
}

// Info returns the repo info last read or written.
func (r *Repo) Info() *RepoInfo { return r.info }

// Ref returns the snapshot id a branch (or, failing that, a tag) points at.
func (r *Repo) Ref(name string) (ObjectID, error) {
	if id, ok := r.info.Branches[name]; ok {
		return id, nil
	}
	if id, ok := r.info.Tags[name]; ok {
		return id, nil
	}
	return ObjectID{}, fmt.Errorf("%w: %q", ErrNoRef, name)
}

// readMeta reads a metadata file and returns its decompressed payload.
func (r *Repo) readMeta(ctx context.Context, path string, typ FileType) ([]byte, error) {
	b, _, err := r.st.Get(ctx, path)
	if err != nil {
		return nil, err
	}
	payload, _, err := DecodeFile(typ, b)
	return payload, err
}

// Snapshot reads the snapshot file with the given id.
func (r *Repo) Snapshot(ctx context.Context, id ObjectID) (*Snapshot, error) {
	payload, err := r.readMeta(ctx, SnapshotPath(id), FileSnapshot)
	if err != nil {
		return nil, err
	}
	return DecodeSnapshot(payload)
}

// Manifest reads the manifest file with the given id.
func (r *Repo) Manifest(ctx context.Context, id ObjectID) (*Manifest, error) {
	payload, err := r.readMeta(ctx, ManifestPath(id), FileManifest)
	if err != nil {
		return nil, err
	}
	return DecodeManifest(payload)
}

// TransactionLog reads the transaction log of the snapshot with the given id.
func (r *Repo) TransactionLog(ctx context.Context, id ObjectID) (*TransactionLog, error) {
	payload, err := r.readMeta(ctx, TransactionLogPath(id), FileTransactionLog)
	if err != nil {
		return nil, err
	}
	return DecodeTransactionLog(payload)
}

// ArrayRefs returns every chunk ref of the array node, from all its manifests.
func (r *Repo) ArrayRefs(ctx context.Context, n *Node) ([]ChunkRef, error) {
	if n.Array == nil {
		return nil, fmt.Errorf("%w: %s is a group", ErrInvalidArgument, n.Path)
	}
	var out []ChunkRef
	for _, mr := range n.Array.Manifests {
		m, err := r.Manifest(ctx, mr.ID)
		if err != nil {
			return nil, err
		}
		for _, a := range m.Arrays {
			if a.Node == n.ID {
				out = append(out, a.Refs...)
			}
		}
	}
	return out, nil
}

// ParseChunkKey splits a Zarr v3 store key ("a/b/c/0/1", default chunk key
// encoding with "/") into the node path ("/a/b") and chunk index, using the snapshot
// to find which prefix is an array.
func ParseChunkKey(s *Snapshot, key string) (string, []uint32, error) {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		if seg != "c" {
			continue
		}
		path := "/" + strings.Join(segs[:i], "/")
		n, ok := s.Node(path)
		if !ok || n.Array == nil {
			continue
		}
		idx := make([]uint32, 0, len(segs)-i-1)
		for _, c := range segs[i+1:] {
			v, err := strconv.ParseUint(c, 10, 32)
			if err != nil {
				return "", nil, fmt.Errorf("%w: chunk key %q", ErrInvalidArgument, key)
			}
			idx = append(idx, uint32(v))
		}
		if len(idx) != len(n.Array.Shape) {
			return "", nil, fmt.Errorf("%w: chunk key %q has %d indexes for a %d-d array", ErrInvalidArgument, key, len(idx), len(n.Array.Shape))
		}
		return path, idx, nil
	}
	return "", nil, fmt.Errorf("%w: %q is not a chunk key of an array", ErrNoNode, key)
}

// ResolveChunk returns the chunk ref for a Zarr v3 chunk key in snapshot s.
func (r *Repo) ResolveChunk(ctx context.Context, s *Snapshot, key string) (ChunkRef, error) {
	path, idx, err := ParseChunkKey(s, key)
	if err != nil {
		return ChunkRef{}, err
	}
	n, _ := s.Node(path)
	for _, mr := range n.Array.Manifests {
		if !covers(mr.Extents, idx) {
			continue
		}
		m, err := r.Manifest(ctx, mr.ID)
		if err != nil {
			return ChunkRef{}, err
		}
		for _, a := range m.Arrays {
			if a.Node != n.ID {
				continue
			}
			i, ok := slices.BinarySearchFunc(a.Refs, idx, func(c ChunkRef, t []uint32) int { return slices.Compare(c.Index, t) })
			if ok {
				return a.Refs[i], nil
			}
		}
	}
	return ChunkRef{}, fmt.Errorf("%w: %s", ErrNoChunk, key)
}

func covers(ext [][2]uint32, idx []uint32) bool {
	if len(ext) != len(idx) {
		return false
	}
	for d, e := range ext {
		if idx[d] < e[0] || idx[d] >= e[1] {
			return false
		}
	}
	return true
}

// DefaultMaxRefsPerManifest is the manifest split size a new Session uses.
const DefaultMaxRefsPerManifest = 1_000_000

// Session accumulates changes on top of a branch's head snapshot.
type Session struct {
	// MaxRefsPerManifest splits the chunk refs a commit writes into manifests of
	// at most this many refs (see packManifests); 0 or less means no limit.
	MaxRefsPerManifest int

	repo    *Repo
	branch  string
	base    *Snapshot
	nodes   map[string]*Node
	newNode map[NodeID]bool
	updated map[NodeID]bool
	chunks  map[NodeID]*arrayRefs // in the order set; the last ref for an index wins
	pool    refPool               // what the packed refs in chunks point at
}

// NewSession starts changes on branch.
func (r *Repo) NewSession(ctx context.Context, branch string) (*Session, error) {
	id, ok := r.info.Branches[branch]
	if !ok {
		return nil, fmt.Errorf("%w: branch %q", ErrNoRef, branch)
	}
	base, err := r.Snapshot(ctx, id)
	if err != nil {
		return nil, err
	}
	s := &Session{MaxRefsPerManifest: DefaultMaxRefsPerManifest, repo: r, branch: branch, base: base, nodes: map[string]*Node{},
		newNode: map[NodeID]bool{}, updated: map[NodeID]bool{}, chunks: map[NodeID]*arrayRefs{}}
	for i := range base.Nodes {
		n := base.Nodes[i]
		if n.Array != nil { // the session edits its own copy, never the base snapshot
			a := *n.Array
			n.Array = &a
		}
		s.nodes[n.Path] = &n
	}
	return s, nil
}

func validPath(p string) bool {
	if p == "/" {
		return true
	}
	if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return false
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

func (s *Session) put(path string, zarrJSON []byte, a *ArrayData) error {
	if !validPath(path) {
		return fmt.Errorf("%w: node path %q", ErrInvalidArgument, path)
	}
	if n, ok := s.nodes[path]; ok {
		if (n.Array == nil) != (a == nil) {
			return fmt.Errorf("%w: %s changes between group and array", ErrInvalidArgument, path)
		}
		n.UserData, n.Array = zarrJSON, a
		if !s.newNode[n.ID] {
			s.updated[n.ID] = true
		}
		return nil
	}
	n := &Node{ID: NewNodeID(), Path: path, UserData: zarrJSON, Array: a}
	s.nodes[path] = n
	s.newNode[n.ID] = true
	return nil
}

// AddGroup creates or updates the group at path with its zarr.json bytes.
func (s *Session) AddGroup(path string, zarrJSON []byte) error { return s.put(path, zarrJSON, nil) }

// AddArray creates or updates the array at path: its zarr.json bytes, shape (array
// length and chunk count per dimension) and optional dimension names. The
// array's existing chunk refs are kept; refs set in this session that fall
// outside a changed chunk grid are dropped.
func (s *Session) AddArray(path string, zarrJSON []byte, shape []DimShape, dimensionNames []string) error {
	if dimensionNames != nil && len(dimensionNames) != len(shape) {
		return fmt.Errorf("%w: %d dimension names for %d dimensions", ErrInvalidArgument, len(dimensionNames), len(shape))
	}
	a := &ArrayData{Shape: shape, DimensionNames: dimensionNames}
	old, ok := s.nodes[path]
	if ok && old.Array != nil {
		a.Manifests = old.Array.Manifests
		if refs := s.chunks[old.ID]; refs != nil {
			if err := refs.regrid(shape); err != nil {
				return err
			}
		}
	}
	return s.put(path, zarrJSON, a)
}

// SetChunk sets the chunk ref at ref.Index of the array at path. The session
// keeps its own compact copy of the ref (Inline bytes are kept, not copied):
// the caller may reuse ref.Index for the next call.
func (s *Session) SetChunk(path string, ref ChunkRef) error {
	n, ok := s.nodes[path]
	if !ok || n.Array == nil {
		return fmt.Errorf("%w: no array at %q", ErrNoNode, path)
	}
	return s.setChunk(n, ref)
}

// setChunk is SetChunk on array node n.
func (s *Session) setChunk(n *Node, ref ChunkRef) error {
	if len(ref.Index) != len(n.Array.Shape) {
		return fmt.Errorf("%w: index rank %d for a %d-d array", ErrInvalidArgument, len(ref.Index), len(n.Array.Shape))
	}
	for d, i := range ref.Index {
		if i >= n.Array.Shape[d].NumChunks {
			return fmt.Errorf("%w: chunk index %v outside the %d-chunk grid of dimension %d", ErrInvalidArgument, ref.Index, n.Array.Shape[d].NumChunks, d)
		}
	}
	kinds := 0
	if ref.Inline != nil {
		kinds++
	}
	if ref.ChunkID != nil {
		kinds++
	}
	if ref.Location != "" {
		kinds++
	}
	if kinds != 1 {
		return fmt.Errorf("%w: a chunk ref must be exactly one of inline, native or virtual", ErrInvalidArgument)
	}
	refs := s.chunks[n.ID]
	if refs == nil {
		refs = &arrayRefs{}
		if err := refs.regrid(n.Array.Shape); err != nil {
			return err
		}
		s.chunks[n.ID] = refs
	}
	if !refs.grid.fits {
		return fmt.Errorf("%w: a chunk grid of 2^64 chunks or more cannot hold chunk refs", ErrInvalidArgument)
	}
	pr, err := s.pool.pack(refs.grid.key(ref.Index), &ref)
	if err != nil {
		return err
	}
	refs.add(pr)
	return nil
}

// oldRefs returns the refs of array n in the base snapshot that are chunks of
// grid, sorted.
func (s *Session) oldRefs(ctx context.Context, n *Node, grid gridKeys) (*arrayRefs, error) {
	old := &arrayRefs{grid: grid}
	for _, mr := range n.Array.Manifests {
		m, err := s.repo.Manifest(ctx, mr.ID)
		if err != nil {
			return nil, err
		}
		for _, a := range m.Arrays {
			if a.Node != n.ID {
				continue
			}
			for i := range a.Refs {
				r := &a.Refs[i]
				if !grid.inGrid(r.Index) {
					continue
				}
				pr, err := s.pool.pack(grid.key(r.Index), r)
				if err != nil {
					return nil, err
				}
				old.add(pr)
			}
		}
	}
	old.sortLast()
	return old, nil
}

// packManifests distributes whole arrays' sorted refs (in node-id order) over
// manifests of at most maxRefs refs (no limit when maxRefs <= 0) and calls
// emit with each manifest's segments, in order. A manifest is cut only between
// runs of refs sharing their first index, so every manifest covers a
// contiguous range of the first dimension and the extents of one array never
// overlap. A single run larger than maxRefs gets a manifest of its own.
func packManifests(arrays []manifestSegment, maxRefs int, emit func([]manifestSegment) error) error {
	var cur []manifestSegment
	count := 0
	flush := func() error {
		if count == 0 {
			return nil
		}
		err := emit(cur)
		cur, count = nil, 0
		return err
	}
	for _, a := range arrays {
		for start := a.start; start < a.end; {
			first := a.refs.grid.first(a.refs.at(start).key)
			end := start + 1
			for end < a.end && a.refs.grid.first(a.refs.at(end).key) == first {
				end++
			}
			if maxRefs > 0 && count > 0 && count+end-start > maxRefs {
				if err := flush(); err != nil {
					return err
				}
			}
			if k := len(cur); k > 0 && cur[k-1].node == a.node {
				cur[k-1].end = end
			} else {
				cur = append(cur, manifestSegment{node: a.node, refs: a.refs, start: start, end: end})
			}
			count += end - start
			start = end
		}
	}
	return flush()
}

// writeChunks writes the manifests of the session's changed arrays (merged
// with their refs in the base snapshot), sets those arrays' manifest refs, and
// returns the manifest files written and a function that encodes the
// transaction log file (tl with the updated chunks) under a snapshot id, ready
// to store (Commit calls it again with a new id when it rebases). One manifest's payload is built at a time,
// in one reused builder; the transaction log is compressed as it is laid out.
func (s *Session) writeChunks(ctx context.Context, byID map[NodeID]*Node, tl *TransactionLog) ([]ManifestFileInfo, func(ObjectID) ([]byte, error), error) {
	r := s.repo
	ids := slices.SortedFunc(maps.Keys(s.chunks), func(a, b NodeID) int { return bytes.Compare(a[:], b[:]) })
	var arrays []manifestSegment
	lists := make([]chunkList, 0, len(ids))
	tlSize := 1024
	for _, id := range ids {
		n, refs := byID[id], s.chunks[id]
		refs.sortLast()
		rank := len(refs.grid.num)
		lists = append(lists, chunkList{node: id, rank: rank, n: refs.n, bytes: refs.n * chunkRecordLen(rank),
			at: func(i int, dst []uint32) []uint32 { return refs.grid.index(refs.at(i).key, dst) }})
		tlSize += refs.n * (4 + chunkRecordLen(rank))
		all := refs
		if !s.newNode[id] { // keep the refs of the previous snapshot that were not replaced
			old, err := s.oldRefs(ctx, n, refs.grid)
			if err != nil {
				return nil, nil, err
			}
			all = mergeRefs(old, refs)
		}
		arrays = append(arrays, manifestSegment{node: id, refs: all, end: all.n})
		n.Array.Manifests = nil
	}
	// Two writers take turns: while one manifest is compressed and stored
	// (on its own goroutine), the next one is built.
	var files []ManifestFileInfo
	writers := [2]*manifestWriter{newManifestWriter(&s.pool), newManifestWriter(&s.pool)}
	var stored chan error // the manifest being stored, nil when none
	wait := func() error {
		if stored == nil {
			return nil
		}
		err := <-stored
		stored = nil
		return err
	}
	err := packManifests(arrays, s.MaxRefsPerManifest, func(segs []manifestSegment) error {
		id := NewObjectID()
		payload, exts := writers[len(files)%2].encode(id, segs)
		if err := wait(); err != nil {
			return err
		}
		count := 0
		for k, seg := range segs {
			a := byID[seg.node].Array
			a.Manifests = append(a.Manifests, ManifestRef{ID: id, Extents: exts[k]})
			count += seg.end - seg.start
		}
		files = append(files, ManifestFileInfo{ID: id, NumChunkRefs: uint32(count)})
		info := &files[len(files)-1]
		done := make(chan error, 1)
		stored = done
		go func() {
			blob := EncodeFile(FileManifest, payload)
			info.SizeBytes = uint64(len(blob))
			_, err := r.st.Put(ctx, ManifestPath(id), blob, PutCondition{IfNoneMatch: true})
			done <- err
		}()
		return nil
	})
	if werr := wait(); err == nil {
		err = werr
	}
	if err != nil {
		return nil, nil, err
	}
	writers = [2]*manifestWriter{} // their builders can go before the log is compressed
	tlBlob := func(id ObjectID) ([]byte, error) {
		tl.ID = id
		return encodeFileStream(FileTransactionLog, tlSize/4, func(out io.Writer) error { return writeTransactionLog(out, tl, lists) })
	}
	return files, tlBlob, nil
}

// Commit writes the changed arrays' chunk refs to new manifests, the new
// snapshot and its transaction log, then moves the branch with a
// compare-and-swap of the repo info (other concurrent updates, such as a tag,
// are retried by update). If another writer moved the branch meanwhile,
// Commit reads the transaction logs of the commits in between: when none of
// them touched a node this session changed (nor created a node at a path
// this session creates, nor deleted a group it creates nodes under), the
// session's changed nodes are laid over the new head, written as a new
// snapshot and published again (at most MaxCommitRetries times); otherwise
// Commit fails with a *ConflictError (errors.Is ErrConflict) and the branch
// keeps the other writer's commit. Manifests are written once: a rebase
// reuses them, because the arrays they belong to were not touched.
func (s *Session) Commit(ctx context.Context, message string) (ObjectID, error) {
	r := s.repo
	snapID := NewObjectID()
	now := r.now().UTC()
	paths := slices.Sorted(maps.Keys(s.nodes))
	byID := map[NodeID]*Node{}
	for _, p := range paths {
		byID[s.nodes[p].ID] = s.nodes[p]
	}

	tl := &TransactionLog{ID: snapID}
	newFiles, tlBlob, err := s.writeChunks(ctx, byID, tl)
	if err != nil {
		return ObjectID{}, err
	}

	var changed []*Node
	for _, p := range paths {
		n := s.nodes[p]
		_, chunks := s.chunks[n.ID]
		switch {
		case s.newNode[n.ID] && n.Array == nil:
			tl.NewGroups = append(tl.NewGroups, n.ID)
		case s.newNode[n.ID]:
			tl.NewArrays = append(tl.NewArrays, n.ID)
		case s.updated[n.ID] && n.Array == nil:
			tl.UpdatedGroups = append(tl.UpdatedGroups, n.ID)
		case s.updated[n.ID]:
			tl.UpdatedArrays = append(tl.UpdatedArrays, n.ID)
		case !chunks:
			continue
		}
		changed = append(changed, n)
	}
	parent := s.base
	for attempt := 1; ; attempt++ {
		snap := overlay(parent, changed, newFiles)
		snap.ID, snap.FlushedAt, snap.Message = snapID, now, message
		tlFile, err := tlBlob(snapID)
		if err != nil {
			return ObjectID{}, err
		}
		if _, err := r.st.Put(ctx, TransactionLogPath(snapID), tlFile, PutCondition{IfNoneMatch: true}); err != nil {
			return ObjectID{}, err
		}
		if err := putMeta(ctx, r.st, SnapshotPath(snapID), FileSnapshot, EncodeSnapshot(snap)); err != nil {
			return ObjectID{}, err
		}
		var moved *branchMovedError
		err = r.update(ctx, func(info *RepoInfo, at time.Time) error {
			if head := info.Branches[s.branch]; head != parent.ID {
				return &branchMovedError{head: head}
			}
			p := parent.ID
			info.Snapshots = append(info.Snapshots, SnapshotInfo{ID: snapID, Parent: &p, FlushedAt: now, Message: message})
			info.Branches[s.branch] = snapID
			info.Updates = append([]Update{{Kind: UpdateNewCommit, Name: s.branch, New: snapID, At: at}}, info.Updates...)
			return nil
		})
		if !errors.As(err, &moved) {
			if err != nil {
				return ObjectID{}, err
			}
			return snapID, nil
		}
		if moved.head == snapID {
			// Our own write landed although its answer said otherwise (a
			// retried request whose first try had succeeded): the branch
			// already points at this commit.
			return snapID, nil
		}
		if attempt >= MaxCommitRetries {
			return ObjectID{}, &ConflictError{Branch: s.branch, Head: moved.head,
				Reason: fmt.Sprintf("the branch kept moving; gave up after %d attempts", attempt)}
		}
		head, err := s.rebaseOnto(ctx, parent, moved.head, changed)
		if err != nil {
			return ObjectID{}, err
		}
		parent, snapID = head, NewObjectID()
	}
}

// branchMovedError is what Commit's change of the repo info returns when
// the branch no longer points at the session's parent.
type branchMovedError struct{ head ObjectID }

func (e *branchMovedError) Error() string { return "icechunk: branch moved to " + e.head.String() }

// overlay returns the snapshot nodes and manifest files of parent with the
// changed nodes laid over it (by path), the manifest files of parent and
// newFiles that the nodes use.
func overlay(parent *Snapshot, changed []*Node, newFiles []ManifestFileInfo) *Snapshot {
	byPath := make(map[string]Node, len(parent.Nodes)+len(changed))
	for _, n := range parent.Nodes {
		byPath[n.Path] = n
	}
	for _, n := range changed {
		byPath[n.Path] = *n
	}
	snap := &Snapshot{}
	used := map[ObjectID]bool{}
	for _, p := range slices.Sorted(maps.Keys(byPath)) {
		n := byPath[p]
		snap.Nodes = append(snap.Nodes, n)
		if n.Array != nil {
			for _, m := range n.Array.Manifests {
				used[m.ID] = true
			}
		}
	}
	for _, f := range slices.Concat(parent.ManifestFiles, newFiles) {
		if used[f.ID] {
			snap.ManifestFiles = append(snap.ManifestFiles, f)
			used[f.ID] = false // once
		}
	}
	return snap
}

// rebaseOnto checks that the commits from parent (exclusive) to head
// (inclusive) touched none of the changed nodes and returns head's
// snapshot, else a *ConflictError.
func (s *Session) rebaseOnto(ctx context.Context, parent *Snapshot, headID ObjectID, changed []*Node) (*Snapshot, error) {
	r := s.repo
	conflict := func(reason string, paths ...string) error {
		return &ConflictError{Branch: s.branch, Head: headID, Paths: paths, Reason: reason}
	}
	touched := map[NodeID]bool{}
	for id := headID; id != parent.ID; {
		tl, err := r.TransactionLog(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, l := range [][]NodeID{tl.DeletedGroups, tl.DeletedArrays, tl.UpdatedArrays, tl.UpdatedGroups} {
			for _, n := range l {
				touched[n] = true
			}
		}
		for _, c := range tl.UpdatedChunks {
			touched[c.Node] = true
		}
		info, ok := r.info.SnapshotInfo(id)
		if !ok || info.Parent == nil {
			return nil, conflict(fmt.Sprintf("the branch was reset: %s does not descend from %s", headID, parent.ID))
		}
		id = *info.Parent
	}
	head, err := r.Snapshot(ctx, headID)
	if err != nil {
		return nil, err
	}
	var clash []string
	ours := map[string]bool{}
	for _, n := range changed {
		ours[n.Path] = true
	}
	for _, n := range changed {
		hn, inHead := head.Node(n.Path)
		switch {
		case s.newNode[n.ID] && inHead:
			clash = append(clash, n.Path) // both created a node at this path
		case !s.newNode[n.ID] && (!inHead || hn.ID != n.ID || touched[n.ID]):
			clash = append(clash, n.Path) // both changed it, or it was deleted or replaced
		case s.newNode[n.ID]:
			if p := parentPath(n.Path); p != "" && !ours[p] {
				if _, ok := head.Node(p); !ok {
					clash = append(clash, n.Path) // its group was deleted
				}
			}
		}
	}
	if len(clash) > 0 {
		return nil, conflict("another commit changed the same nodes", clash...)
	}
	return head, nil
}

// parentPath is the path of the group holding the node at p ("" for the root).
func parentPath(p string) string {
	if p == "/" {
		return ""
	}
	i := strings.LastIndexByte(p, '/')
	if i == 0 {
		return "/"
	}
	return p[:i]
}

// CreateTag points a new tag at snapshot id. Tags are never reused, so an
// existing or deleted tag name fails with ErrTagExists.
func (r *Repo) CreateTag(ctx context.Context, name string, id ObjectID) error {
	if name == "" {
		return fmt.Errorf("%w: empty tag name", ErrInvalidArgument)
	}
	return r.update(ctx, func(info *RepoInfo, at time.Time) error {
		if _, ok := info.Tags[name]; ok || slices.Contains(info.DeletedTags, name) {
			return fmt.Errorf("%w: %q", ErrTagExists, name)
		}
		if _, ok := info.SnapshotInfo(id); !ok {
			return fmt.Errorf("%w: snapshot %s", ErrNoRef, id)
		}
		info.Tags[name] = id
		info.Updates = append([]Update{{Kind: UpdateTagCreated, Name: name, At: at}}, info.Updates...)
		return nil
	})
}

// DeleteTag deletes the tag name, as the Icechunk spec 2 does: the name
// leaves the tags and joins the deleted tags of the repo info (so it is
// never reused: CreateTag refuses it), and the ops log records a tag
// deletion with the snapshot it pointed at. The snapshot stays (other
// refs may reach it; expiration and garbage collection are not
// implemented). A tag that does not exist fails with ErrNoRef.
func (r *Repo) DeleteTag(ctx context.Context, name string) error {
	return r.update(ctx, func(info *RepoInfo, at time.Time) error {
		id, ok := info.Tags[name]
		if !ok {
			return fmt.Errorf("%w: tag %q", ErrNoRef, name)
		}
		delete(info.Tags, name)
		info.DeletedTags = append(slices.Clone(info.DeletedTags), name)
		info.Updates = append([]Update{{Kind: UpdateTagDeleted, Name: name, Previous: id, At: at}}, info.Updates...)
		return nil
	})
}

// ResetBranch moves branch from snapshot from to snapshot to with a
// compare-and-swap of the repo info, the model of Commit: when the branch
// no longer points at from (another writer moved it), nothing changes and
// ResetBranch fails with a *ConflictError (errors.Is ErrConflict) whose
// Head is where the branch points. The ops log records a branch reset
// with the snapshot it pointed at; the snapshots stay. A missing branch,
// or a snapshot to the repository does not list, fails with ErrNoRef.
func (r *Repo) ResetBranch(ctx context.Context, branch string, to, from ObjectID) error {
	return r.update(ctx, func(info *RepoInfo, at time.Time) error {
		head, ok := info.Branches[branch]
		if !ok {
			return fmt.Errorf("%w: branch %q", ErrNoRef, branch)
		}
		if head != from {
			return &ConflictError{Branch: branch, Head: head, Reason: fmt.Sprintf("the branch moved from %s; it is not reset", from)}
		}
		if _, ok := info.SnapshotInfo(to); !ok {
			return fmt.Errorf("%w: snapshot %s", ErrNoRef, to)
		}
		info.Branches[branch] = to
		info.Updates = append([]Update{{Kind: UpdateBranchReset, Name: branch, Previous: from, At: at}}, info.Updates...)
		return nil
	})
}

// update applies change to the current repo info and writes it with a
// compare-and-swap, backing up the previous file under overwritten/ first. A lost
// race re-reads the repo info and retries; an error from change is returned as is.
func (r *Repo) update(ctx context.Context, change func(*RepoInfo, time.Time) error) error {
	for attempt := 0; attempt < MaxCommitRetries; attempt++ {
		if attempt > 0 {
			if err := r.refresh(ctx); err != nil {
				return err
			}
		}
		old, v, err := r.st.Get(ctx, RepoInfoPath)
		if err != nil {
			return err
		}
		if v != r.version {
			if err := r.refresh(ctx); err != nil {
				return err
			}
			continue
		}
		info := r.info
		next := *info
		next.Branches = maps.Clone(info.Branches)
		next.Tags = maps.Clone(info.Tags)
		next.Snapshots = slices.Clone(info.Snapshots)
		next.Updates = slices.Clone(info.Updates)
		at := r.now().UTC().Truncate(time.Microsecond)
		if len(next.Updates) > 0 && !at.After(next.Updates[0].At) {
			at = next.Updates[0].At.Add(time.Microsecond)
		}
		// Back up the file being replaced; the previous newest update points at it.
		backup := fmt.Sprintf("repo.%d.%s", backupStamp(at), NewObjectID())
		if _, err := r.st.Put(ctx, OverwrittenDir+backup, old, PutCondition{IfNoneMatch: true}); err != nil {
			return err
		}
		if len(next.Updates) > 0 {
			next.Updates[0].BackupPath = backup
		}
		if err := change(&next, at); err != nil {
			return err
		}
		payload, err := EncodeRepoInfo(&next)
		if err != nil {
			return err
		}
		nv, err := r.st.Put(ctx, RepoInfoPath, EncodeFile(FileRepoInfo, payload), PutCondition{IfMatch: v})
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		r.info, r.version = &next, nv
		return nil
	}
	return fmt.Errorf("%w: gave up after %d attempts", ErrConflict, MaxCommitRetries)
}

// backupStamp is milliseconds from t to 3000-01-01T00:00:00Z, so newer backups
// list first.
func backupStamp(t time.Time) int64 {
	return time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli() - t.UnixMilli()
}
