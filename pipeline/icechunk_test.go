package pipeline_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/engine"
	"github.com/greensight/vzarr/icechunk"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/pipeline"
	"github.com/greensight/vzarr/refread"
	"github.com/greensight/vzarr/refstore"
)

// refBytes reads the bytes a kerchunk reference or an Icechunk chunk
// reference points at (inline, or a byte range of a local file).
func refBytes(t *testing.T, inline []byte, isInline bool, location string, off, n int64) []byte {
	t.Helper()
	if isInline {
		return inline
	}
	b, err := os.ReadFile(strings.TrimPrefix(location, "file://"))
	require.NoError(t, err)
	if n < 0 {
		return b
	}
	require.LessOrEqual(t, off+n, int64(len(b)), location)
	return b[off : off+n]
}

// wantChunks maps the Zarr v3 key ("tas/c/0/1/2") of every chunk of a
// combined kerchunk reference file to the bytes its reference gives.
func wantChunks(t *testing.T, combined string) map[string][]byte {
	t.Helper()
	refs, err := (&refstore.Store{}).Load(context.Background(), combined)
	require.NoError(t, err)
	out := map[string][]byte{}
	refs.All(func(key string, r kerchunk.Ref) bool {
		dir, base := path.Split(key)
		if dir == "" || strings.HasPrefix(base, ".") {
			return true // metadata
		}
		arr := strings.TrimSuffix(dir, "/")
		zarray, ok := refs.Text(arr + "/.zarray")
		require.True(t, ok, arr)
		a, err := refread.NewArray(arr, []byte(zarray), nil)
		require.NoError(t, err)
		v3 := arr + "/c"
		if len(a.Shape) > 0 {
			v3 += "/" + strings.ReplaceAll(base, a.Sep, "/")
		}
		out[v3] = refBytes(t, r.Data, r.IsInline(), r.URL, r.Offset, r.Length)
		return true
	})
	return out
}

// checkSnapshotChunks reads every chunk of want through snapshot id of
// repo (the Go reader: the snapshot's nodes, its manifests, the virtual
// chunks' sources) and requires the bytes of want; it returns how many
// chunks it compared.
func checkSnapshotChunks(t *testing.T, repo *icechunk.Repo, id icechunk.ObjectID, want map[string][]byte) int {
	t.Helper()
	ctx := context.Background()
	snap, err := repo.Snapshot(ctx, id)
	require.NoError(t, err)
	for key, b := range want {
		c, err := repo.ResolveChunk(ctx, snap, key)
		require.NoError(t, err, key)
		got := refBytes(t, c.Inline, c.Inline != nil, c.Location, int64(c.Offset), int64(c.Length))
		require.True(t, bytes.Equal(b, got), "chunk %s: the snapshot's bytes differ from the reference's", key)
	}
	return len(want)
}

// judgeRead is what the official library reports of a repository
// (icechunk/testdata/judge.cjs read): the ids of main and of every tag,
// and every key's bytes (base64) on main and on each tag.
type judgeRead struct {
	Tags    []string                     `json:"tags"`
	Refs    map[string]string            `json:"refs"`
	Keys    map[string]string            `json:"keys"`
	TagKeys map[string]map[string]string `json:"tagKeys"`
}

// checkJudged requires the official library's bytes of every key of want.
func checkJudged(t *testing.T, keys map[string]string, want map[string][]byte) {
	t.Helper()
	for k, b := range want {
		got, err := base64.StdEncoding.DecodeString(keys[k])
		require.NoError(t, err, k)
		require.True(t, bytes.Equal(b, got), "the official library reads other bytes for %s", k)
	}
}

// icechunkItem is what the tests read of an Icechunk item.
type icechunkItem struct {
	ID         string                    `json:"id"`
	Properties map[string]any            `json:"properties"`
	Assets     map[string]map[string]any `json:"assets"`
}

// TestIcechunkOutput runs the pipeline with output_format icechunk over
// the sample: a Release is a snapshot on main of the asset's repository,
// tagged with the Release id; a second run adds a commit while the first
// tag still reads the first data; failed runs (at combine, and at
// register) leave the repository as it was.
func TestIcechunkOutput(t *testing.T) {
	forEachStore(t, func(t *testing.T, store catalog.Store) {
		ctx := context.Background()
		r := startRefs(t, store)
		src, files := testenv.CopySample(t, "..")
		require.Len(t, files, 6)
		// The first Release sees four years; two more arrive later.
		held := t.TempDir()
		for _, f := range files[4:] {
			require.NoError(t, os.Rename(f, filepath.Join(held, filepath.Base(f))))
		}
		req := pipeline.SubmitRequest{DatasetID: "sample-tas", ResourceID: "monthly", SourceURL: src, DataType: "zarr",
			CollectionID: "samples", ProcessingOptions: pipeline.ProcessingOptions{ConcatDim: "time", OutputFormat: pipeline.OutputIcechunk}}
		j1 := r.run(t, req, 90*time.Second)
		require.Equal(t, catalog.StatusCompleted, j1.Status, j1.Error)

		repoDir := filepath.Join(r.out, "sample-tas", "monthly", pipeline.RepoName)
		rel1, err := store.GetRelease(ctx, j1.ReleaseID)
		require.NoError(t, err)
		assert.Equal(t, catalog.StatusCompleted, rel1.ProcessingStatus)
		assert.Equal(t, repoDir, rel1.BlobPath, "blob_path is the repository")

		repo, err := icechunk.Open(ctx, icechunk.DirStorage{Root: repoDir})
		require.NoError(t, err)
		snap1, ok := repo.Info().Tags[rel1.ID]
		require.True(t, ok, "the snapshot is tagged with the release id")
		assert.Equal(t, snap1, repo.Info().Branches["main"], "main is the release's snapshot")

		// The register result and the item name the snapshot.
		var sum engine.JobSummary
		require.NoError(t, json.Unmarshal(j1.Result, &sum))
		var res pipeline.RegisterResult
		require.NoError(t, json.Unmarshal(sum.Result, &res))
		assert.Equal(t, pipeline.RegisterResult{StacItemCached: true, ReleaseUpdated: true, BlobPath: repoDir, SnapshotID: snap1.String()}, res)
		var item icechunkItem
		require.NoError(t, json.Unmarshal(rel1.StacItemJSON, &item))
		assert.NotContains(t, item.Assets, "references")
		a := item.Assets["icechunk"]
		require.NotNil(t, a, "the item has an icechunk asset: %s", rel1.StacItemJSON)
		assert.Equal(t, repoDir, a["href"])
		assert.Equal(t, "application/vnd.zarr+icechunk", a["type"])
		assert.Equal(t, []any{"data", "references", "virtual"}, a["roles"])
		assert.Equal(t, snap1.String(), a["icechunk:snapshot_id"])
		assert.Equal(t, snap1.String(), a["version"], "xpystac opens the snapshot the version names")
		assert.Equal(t, rel1.ID, a["icechunk:tag"])
		assert.Equal(t, 3.0, a["zarr:zarr_format"])
		assert.Equal(t, map[string]any{"engine": "zarr", "zarr_format": 3.0, "consolidated": false, "chunks": map[string]any{}}, a["xarray:open_kwargs"])
		assert.Equal(t, []any{map[string]any{"key": "source", "href": "#/assets/source"}}, a["vrt:hrefs"])
		assert.Equal(t, "file://"+src+"/", item.Assets["source"]["href"], "the source asset is the virtual chunk container")
		assert.Equal(t, "2015-01-16T12:00:00Z", item.Properties["start_datetime"])
		assert.Equal(t, "2018-12-16T12:00:00Z", item.Properties["end_datetime"])

		want1 := wantChunks(t, filepath.Join(r.out, "sample-tas", "monthly", rel1.ID, pipeline.CombinedName))
		n1 := checkSnapshotChunks(t, repo, snap1, want1)
		assert.Greater(t, n1, 4, "chunks compared")

		// The output format is no part of the job's identity.
		for _, f := range []string{pipeline.OutputIcechunk, pipeline.OutputKerchunk} {
			again := req
			again.ProcessingOptions.OutputFormat = f
			resp, err := r.svc.Submit(ctx, again)
			require.NoError(t, err)
			assert.Equal(t, j1.ID, resp.JobID)
			assert.False(t, resp.Created)
		}

		// A register task run again (a retry) commits nothing new.
		tk, err := store.GetTask(ctx, engine.TaskID(j1.ID, pipeline.StageRegister, 0))
		require.NoError(t, err)
		env := pipeline.Run(ctx, r.svc.Deps, pipeline.StageRegister, tk.Params)
		require.True(t, env.Success, env.Error)
		repo, err = icechunk.Open(ctx, icechunk.DirStorage{Root: repoDir})
		require.NoError(t, err)
		assert.Len(t, repo.Info().Snapshots, 2, "the initial snapshot and the release's")
		assert.Equal(t, snap1, repo.Info().Branches["main"])

		// Two more files: a second Release, a second commit on main.
		for _, f := range files[4:] {
			require.NoError(t, os.Rename(filepath.Join(held, filepath.Base(f)), f))
		}
		req.ProcessingOptions.Overwrite = true
		j2 := r.run(t, req, 90*time.Second)
		require.Equal(t, catalog.StatusCompleted, j2.Status, j2.Error)
		rel2, err := store.GetRelease(ctx, j2.ReleaseID)
		require.NoError(t, err)
		assert.Equal(t, repoDir, rel2.BlobPath)
		repo, err = icechunk.Open(ctx, icechunk.DirStorage{Root: repoDir})
		require.NoError(t, err)
		snap2 := repo.Info().Tags[rel2.ID]
		assert.Equal(t, snap2, repo.Info().Branches["main"])
		assert.NotEqual(t, snap1, snap2)
		assert.Equal(t, snap1, repo.Info().Tags[rel1.ID], "the first release's tag is untouched")
		si, ok := repo.Info().SnapshotInfo(snap2)
		require.True(t, ok)
		require.NotNil(t, si.Parent)
		assert.Equal(t, snap1, *si.Parent, "the second release is a commit on top of the first")
		require.NoError(t, json.Unmarshal(rel2.StacItemJSON, &item))
		assert.Equal(t, snap2.String(), item.Assets["icechunk"]["icechunk:snapshot_id"])
		assert.Equal(t, "2020-12-16T12:00:00Z", item.Properties["end_datetime"])

		// Time travel: the first tag still reads the first four years.
		assert.Equal(t, n1, checkSnapshotChunks(t, repo, snap1, want1))
		combined2 := filepath.Join(r.out, "sample-tas", "monthly", rel2.ID, pipeline.CombinedName)
		want2 := wantChunks(t, combined2)
		assert.Greater(t, checkSnapshotChunks(t, repo, snap2, want2), n1)
		t.Logf("release 1: snapshot %s, %d chunks; release 2: snapshot %s, %d chunks", snap1, n1, snap2, len(want2))
		for id, want := range map[icechunk.ObjectID]uint64{snap1: 48, snap2: 72} {
			s, err := repo.Snapshot(ctx, id)
			require.NoError(t, err)
			node, ok := s.Node("/time")
			require.True(t, ok)
			assert.Equal(t, want, node.Array.Shape[0].Length)
		}
		testenv.CheckCombined(t, combined2, "time", files)

		// Failed runs leave every object of the repository as it was.
		before := hashTree(t, repoDir)
		// (a) at combine: the source gains an incompatible file.
		bad := filepath.Join(src, "tas_1870.nc")
		require.NoError(t, os.WriteFile(bad, must(os.ReadFile(filepath.Join("..", "testdata", "hdf5", "nc4_basic.nc"))), 0o644))
		j3 := r.run(t, req, 90*time.Second)
		require.Equal(t, catalog.StatusFailed, j3.Status)
		assert.Contains(t, j3.Error, "stage combine")
		waitCleanedUp(t, store, j3.ID)
		assert.Equal(t, before, hashTree(t, repoDir), "a run failed at combine commits nothing")
		require.NoError(t, os.Remove(bad))

		// (b) at register: two files are gone, so the new references
		// would leave the old chunks of those years showing through.
		for _, f := range files[4:] {
			require.NoError(t, os.Rename(f, filepath.Join(held, filepath.Base(f))))
		}
		j4 := r.run(t, req, 90*time.Second)
		require.Equal(t, catalog.StatusFailed, j4.Status)
		assert.Contains(t, j4.Error, "stage register")
		waitCleanedUp(t, store, j4.ID)
		st, err := engine.Status(ctx, store, j4.ID)
		require.NoError(t, err)
		require.NotNil(t, st.Failure)
		assert.Equal(t, pipeline.ErrTypeIncompatible, st.Failure.ErrorType)
		assert.Equal(t, before, hashTree(t, repoDir), "a run failed at register commits nothing")
		rel4, err := store.GetRelease(ctx, j4.ReleaseID)
		require.NoError(t, err)
		assert.Equal(t, catalog.StatusFailed, rel4.ProcessingStatus)
		repo, err = icechunk.Open(ctx, icechunk.DirStorage{Root: repoDir})
		require.NoError(t, err)
		assert.NotContains(t, repo.Info().Tags, rel4.ID)
		assert.Equal(t, snap2, repo.Info().Branches["main"])

		// The official library reads main and both tags the same way.
		// (Last: it skips the test when the library is missing.)
		for _, f := range files[4:] { // back, unchanged: their chunks' checksums hold
			require.NoError(t, os.Rename(filepath.Join(held, filepath.Base(f)), f))
		}
		{
			judge := testenv.IcechunkJudge(t)
			out, err := judge("read", repoDir, "file://"+src+"/")
			require.NoError(t, err)
			var rep judgeRead
			require.NoError(t, json.Unmarshal(out, &rep), "%s", out)
			assert.ElementsMatch(t, []string{rel1.ID, rel2.ID}, rep.Tags)
			assert.Equal(t, snap1.String(), rep.Refs[rel1.ID])
			assert.Equal(t, snap2.String(), rep.Refs[rel2.ID])
			assert.Equal(t, snap2.String(), rep.Refs["main"])
			checkJudged(t, rep.TagKeys[rel1.ID], want1)
			checkJudged(t, rep.TagKeys[rel2.ID], want2)
			checkJudged(t, rep.Keys, want2)
			assert.Contains(t, rep.TagKeys[rel1.ID], "tas/zarr.json")
		}
	})
}

// TestIcechunkRecursiveSources: sources in two subfolders get one virtual
// chunk container, their common folder, which a reader authorises (and
// which also covers a subfolder a later Release adds).
func TestIcechunkRecursiveSources(t *testing.T) {
	ctx := context.Background()
	r := startRefs(t, catalog.NewMemory())
	src, files := testenv.CopySample(t, "..")
	for i, f := range files {
		sub := filepath.Join(src, []string{"a", "b"}[i/3])
		require.NoError(t, os.MkdirAll(sub, 0o755))
		require.NoError(t, os.Rename(f, filepath.Join(sub, filepath.Base(f))))
	}
	j := r.run(t, pipeline.SubmitRequest{DatasetID: "rec", ResourceID: "monthly", SourceURL: src, DataType: "zarr",
		ProcessingOptions: pipeline.ProcessingOptions{ConcatDim: "time", Recursive: true, OutputFormat: pipeline.OutputIcechunk}}, 90*time.Second)
	require.Equal(t, catalog.StatusCompleted, j.Status, j.Error)
	rel, err := r.svc.Store.GetRelease(ctx, j.ReleaseID)
	require.NoError(t, err)
	var item icechunkItem
	require.NoError(t, json.Unmarshal(rel.StacItemJSON, &item))
	assert.Equal(t, "file://"+src+"/", item.Assets["source"]["href"])
	assert.NotContains(t, item.Assets, "source-2")

	judge := testenv.IcechunkJudge(t)
	out, err := judge("read", rel.BlobPath, "file://"+src+"/")
	require.NoError(t, err, "the official library reads every chunk with the common folder authorised")
	var rep judgeRead
	require.NoError(t, json.Unmarshal(out, &rep), "%s", out)
	checkJudged(t, rep.Keys, wantChunks(t, filepath.Join(r.out, "rec", "monthly", rel.ID, pipeline.CombinedName)))
}
