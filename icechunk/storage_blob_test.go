package icechunk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/internal/testenv"
)

// azuriteRepoContainer is the container of the silver emulator account the
// Azurite tests write repositories to, each under a prefix of its own.
const azuriteRepoContainer = "icechunk-test"

// randomName is a fresh name for a repository prefix.
func randomName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// azuriteRepoURL returns an Opener for Azurite and the URL of a fresh
// repository prefix in it, or skips.
func azuriteRepoURL(t *testing.T) (*blobio.Opener, string) {
	t.Helper()
	o := testenv.AzuriteAccounts(t, testenv.SilverAccount)
	testenv.EnsureContainer(t, o, testenv.SilverAccount, azuriteRepoContainer)
	return o, fmt.Sprintf("abfs://%s/%s/%s/", testenv.SilverAccount, azuriteRepoContainer, randomName())
}

// storageKinds returns, per kind, a function making a fresh empty storage.
// Azurite is included when it is configured (else that case skips).
func storageKinds(t *testing.T) map[string]func(t *testing.T) Storage {
	return map[string]func(t *testing.T) Storage{
		"dir": func(t *testing.T) Storage { return DirStorage{Root: t.TempDir()} },
		"mem": func(t *testing.T) Storage {
			o := &blobio.Opener{Mem: &blobio.MemBuckets{}}
			o.Mem.Create("b")
			st, err := OpenBlobStorage(context.Background(), o, "mem://b/repo/")
			require.NoError(t, err)
			t.Cleanup(func() { _ = st.Close() })
			return st
		},
		"azurite": func(t *testing.T) Storage {
			o, u := azuriteRepoURL(t)
			st, err := OpenBlobStorage(context.Background(), o, u)
			require.NoError(t, err)
			t.Cleanup(func() { _ = st.Close() })
			return st
		},
	}
}

// TestStorageConditions: create-if-absent and compare-and-swap, the
// versions Get and Put return, paths and listings, on every storage.
func TestStorageConditions(t *testing.T) {
	for name, mk := range storageKinds(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := mk(t)
			_, _, err := st.Get(ctx, "repo")
			require.ErrorIs(t, err, blobio.ErrNotFound)

			v1, err := st.Put(ctx, "repo", []byte("one"), PutCondition{IfNoneMatch: true})
			require.NoError(t, err)
			require.NotEmpty(t, v1)
			_, err = st.Put(ctx, "repo", []byte("two"), PutCondition{IfNoneMatch: true})
			require.ErrorIs(t, err, ErrConflict, "create-if-absent on an existing object")
			_, v, err := st.Get(ctx, "repo")
			require.NoError(t, err)
			assert.Equal(t, v1, v, "Get returns the version Put returned")

			v2, err := st.Put(ctx, "repo", []byte("two"), PutCondition{IfMatch: v1})
			require.NoError(t, err)
			assert.NotEqual(t, v1, v2)
			_, err = st.Put(ctx, "repo", []byte("three"), PutCondition{IfMatch: v1})
			require.ErrorIs(t, err, ErrConflict, "stale version loses")
			_, err = st.Put(ctx, "absent", []byte("x"), PutCondition{IfMatch: v2})
			require.ErrorIs(t, err, ErrConflict, "compare-and-swap of a missing object")
			b, v, err := st.Get(ctx, "repo")
			require.NoError(t, err)
			assert.Equal(t, "two", string(b))
			assert.Equal(t, v2, v)

			_, err = st.Put(ctx, "../escape", []byte("x"), PutCondition{})
			require.ErrorIs(t, err, ErrInvalidArgument)
			_, err = st.Put(ctx, "snapshots/A", []byte("a"), PutCondition{IfNoneMatch: true})
			require.NoError(t, err)
			got, err := st.List(ctx, "snapshots/")
			require.NoError(t, err)
			assert.Equal(t, []string{"snapshots/A"}, got)
		})
	}
}

// TestStorageRace: of many concurrent compare-and-swaps from the same
// version, exactly one wins, on every storage.
func TestStorageRace(t *testing.T) {
	for name, mk := range storageKinds(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := mk(t)
			v, err := st.Put(ctx, "repo", []byte("base"), PutCondition{IfNoneMatch: true})
			require.NoError(t, err)
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = st.Put(ctx, "repo", []byte{byte(i)}, PutCondition{IfMatch: v})
				}()
			}
			wg.Wait()
			wins := 0
			for _, err := range errs {
				if err == nil {
					wins++
				} else {
					assert.ErrorIs(t, err, ErrConflict)
				}
			}
			assert.Equal(t, 1, wins)
		})
	}
}

// TestBlobStorageRefusesLocal: a file:// prefix reads but refuses
// conditional writes (blobio.ErrUnsupported): DirStorage is for local
// repositories.
func TestBlobStorageRefusesLocal(t *testing.T) {
	ctx := context.Background()
	st, err := OpenBlobStorage(ctx, &blobio.Opener{}, "file://"+filepath.ToSlash(t.TempDir())+"/repo/")
	require.NoError(t, err)
	defer st.Close()
	_, err = st.Put(ctx, "repo", []byte("x"), PutCondition{IfNoneMatch: true})
	require.ErrorIs(t, err, blobio.ErrUnsupported)
	_, err = Create(ctx, st, RepoConfig{})
	require.ErrorIs(t, err, blobio.ErrUnsupported)
}

// TestConcurrentCommitters: two writers, each with its own Repo, commit to
// main from the same head, round after round, on every storage. When their
// changes are disjoint (each sets a chunk of its own array) both commits
// land: the one that loses the compare-and-swap rebases onto the winner, so
// history stays linear and the head has both chunks. When both set the same
// chunk, exactly one wins and the other fails with a *ConflictError naming
// the array; the branch keeps the winner's chunk.
func TestConcurrentCommitters(t *testing.T) {
	for name, mk := range storageKinds(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := mk(t)
			repo, err := Create(ctx, st, RepoConfig{})
			require.NoError(t, err)
			s, err := repo.NewSession(ctx, "main")
			require.NoError(t, err)
			require.NoError(t, s.AddGroup("/", []byte(`{}`)))
			const rounds = 3
			for _, p := range []string{"/a0", "/a1", "/x"} {
				require.NoError(t, s.AddArray(p, []byte(`{}`), []DimShape{{Length: rounds, NumChunks: rounds}}, nil))
			}
			_, err = s.Commit(ctx, "base")
			require.NoError(t, err)

			race := func(set func(i int, s *Session) error) ([2]ObjectID, [2]error, ObjectID) {
				var sessions [2]*Session
				for i := range sessions {
					r, err := Open(ctx, st)
					require.NoError(t, err)
					sessions[i], err = r.NewSession(ctx, "main")
					require.NoError(t, err)
					require.NoError(t, set(i, sessions[i]))
				}
				base := sessions[0].base.ID
				var ids [2]ObjectID
				var errs [2]error
				var wg sync.WaitGroup
				for i := range sessions {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ids[i], errs[i] = sessions[i].Commit(ctx, fmt.Sprintf("writer %d", i))
					}()
				}
				wg.Wait()
				return ids, errs, base
			}

			for round := range rounds {
				idx := []uint32{uint32(round)}
				ids, errs, base := race(func(i int, s *Session) error {
					return s.SetChunk(fmt.Sprintf("/a%d", i), ChunkRef{Index: idx, Inline: []byte{byte(round), byte(i)}})
				})
				require.NoError(t, errs[0], "round %d", round)
				require.NoError(t, errs[1], "round %d", round)
				r, err := Open(ctx, st)
				require.NoError(t, err)
				head := r.Info().Branches["main"]
				require.Contains(t, ids, head)
				winner, loser := ids[0], ids[1]
				if head == winner {
					winner, loser = loser, winner
				}
				// loser is the head: it lost the race and was rebased onto winner.
				li, _ := r.Info().SnapshotInfo(loser)
				wi, _ := r.Info().SnapshotInfo(winner)
				require.NotNil(t, li.Parent)
				require.NotNil(t, wi.Parent)
				assert.Equal(t, winner, *li.Parent, "round %d: the rebased commit's parent is the winner", round)
				assert.Equal(t, base, *wi.Parent, "round %d: the winner's parent is the old head", round)
				snap, err := r.Snapshot(ctx, head)
				require.NoError(t, err)
				for i := range 2 {
					for rr := 0; rr <= round; rr++ {
						ref, err := r.ResolveChunk(ctx, snap, fmt.Sprintf("a%d/c/%d", i, rr))
						require.NoError(t, err, "round %d: chunk %d of a%d", round, rr, i)
						assert.Equal(t, []byte{byte(rr), byte(i)}, ref.Inline)
					}
				}

				ids, errs, _ = race(func(i int, s *Session) error {
					return s.SetChunk("/x", ChunkRef{Index: idx, Inline: []byte{byte(i)}})
				})
				won := -1
				for i, err := range errs {
					if err == nil {
						assert.Equal(t, -1, won, "round %d: two commits of the same chunk won", round)
						won = i
						continue
					}
					var ce *ConflictError
					require.ErrorAs(t, err, &ce)
					assert.ErrorIs(t, err, ErrConflict)
					assert.Equal(t, []string{"/x"}, ce.Paths)
				}
				require.NotEqual(t, -1, won, "round %d: one commit of the same chunk wins", round)
				r, err = Open(ctx, st)
				require.NoError(t, err)
				assert.Equal(t, ids[won], r.Info().Branches["main"])
				snap, err = r.Snapshot(ctx, ids[won])
				require.NoError(t, err)
				ref, err := r.ResolveChunk(ctx, snap, fmt.Sprintf("x/c/%d", round))
				require.NoError(t, err)
				assert.Equal(t, []byte{byte(won)}, ref.Inline)
			}
			final, err := Open(ctx, st)
			require.NoError(t, err)
			assert.Len(t, final.Info().Snapshots, 2+3*rounds, "initial, base, and per round two disjoint commits and one winner")
		})
	}
}

// TestRebaseConflicts: what a commit that lost the race cannot be rebased
// over.
func TestRebaseConflicts(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		mine, other func(s *Session) error
		paths       []string
	}{
		{"same group metadata",
			func(s *Session) error { return s.AddGroup("/g", []byte(`{"a":1}`)) },
			func(s *Session) error { return s.AddGroup("/g", []byte(`{"a":2}`)) },
			[]string{"/g"}},
		{"both create a node at one path",
			func(s *Session) error { return s.AddGroup("/new", []byte(`{}`)) },
			func(s *Session) error { return s.AddGroup("/new", []byte(`{}`)) },
			[]string{"/new"}},
		{"metadata of an array whose chunks the other set",
			func(s *Session) error {
				return s.AddArray("/g/v", []byte(`{"b":1}`), []DimShape{{Length: 2, NumChunks: 2}}, nil)
			},
			func(s *Session) error { return s.SetChunk("/g/v", ChunkRef{Index: []uint32{1}, Inline: []byte{1}}) },
			[]string{"/g/v"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := DirStorage{Root: t.TempDir()}
			repo, err := Create(ctx, st, RepoConfig{})
			require.NoError(t, err)
			s, err := repo.NewSession(ctx, "main")
			require.NoError(t, err)
			require.NoError(t, s.AddGroup("/", []byte(`{}`)))
			require.NoError(t, s.AddGroup("/g", []byte(`{}`)))
			require.NoError(t, s.AddArray("/g/v", []byte(`{}`), []DimShape{{Length: 2, NumChunks: 2}}, nil))
			_, err = s.Commit(ctx, "base")
			require.NoError(t, err)

			mine, err := repo.NewSession(ctx, "main")
			require.NoError(t, err)
			require.NoError(t, tt.mine(mine))
			r2, err := Open(ctx, st)
			require.NoError(t, err)
			other, err := r2.NewSession(ctx, "main")
			require.NoError(t, err)
			require.NoError(t, tt.other(other))
			won, err := other.Commit(ctx, "other")
			require.NoError(t, err)

			_, err = mine.Commit(ctx, "mine")
			var ce *ConflictError
			require.ErrorAs(t, err, &ce)
			assert.True(t, errors.Is(err, ErrConflict))
			assert.Equal(t, tt.paths, ce.Paths)
			assert.Equal(t, won, ce.Head)
			r3, err := Open(ctx, st)
			require.NoError(t, err)
			assert.Equal(t, won, r3.Info().Branches["main"], "the branch keeps the other commit")
		})
	}
}

// TestBlobStorageRetriedCreate: a create that finds the very bytes it
// writes succeeds (what a retried request whose first try landed finds);
// other bytes are a conflict.
func TestBlobStorageRetriedCreate(t *testing.T) {
	ctx := context.Background()
	st := storageKinds(t)["mem"](t)
	v1, err := st.Put(ctx, "snapshots/A", []byte("a"), PutCondition{IfNoneMatch: true})
	require.NoError(t, err)
	v2, err := st.Put(ctx, "snapshots/A", []byte("a"), PutCondition{IfNoneMatch: true})
	require.NoError(t, err)
	assert.Equal(t, v1, v2)
	_, err = st.Put(ctx, "snapshots/A", []byte("b"), PutCondition{IfNoneMatch: true})
	require.ErrorIs(t, err, ErrConflict)
}

// lostAnswer is a Storage whose first compare-and-swap of the repo info
// is applied but answered with ErrConflict, as a retried request whose
// first try had succeeded is.
type lostAnswer struct {
	Storage
	mu   sync.Mutex
	lost bool
}

func (l *lostAnswer) Put(ctx context.Context, path string, data []byte, cond PutCondition) (Version, error) {
	v, err := l.Storage.Put(ctx, path, data, cond)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil && path == RepoInfoPath && cond.IfMatch != "" && !l.lost {
		l.lost = true
		return "", fmt.Errorf("%w: the retry found the ETag changed", ErrConflict)
	}
	return v, err
}

// TestCommitLostAnswer: a commit whose repo info write landed but was
// answered with a conflict finds the branch at its own snapshot and
// succeeds, instead of failing against itself.
func TestCommitLostAnswer(t *testing.T) {
	ctx := context.Background()
	st := &lostAnswer{Storage: DirStorage{Root: t.TempDir()}}
	repo, err := Create(ctx, st, RepoConfig{})
	require.NoError(t, err)
	s, err := repo.NewSession(ctx, "main")
	require.NoError(t, err)
	require.NoError(t, s.AddGroup("/", []byte(`{}`)))
	id, err := s.Commit(ctx, "m")
	require.NoError(t, err)
	require.True(t, st.lost, "the answer was lost")
	r, err := Open(ctx, st)
	require.NoError(t, err)
	assert.Equal(t, id, r.Info().Branches["main"])
	assert.Len(t, r.Info().Snapshots, 2, "one commit, not two")
}
