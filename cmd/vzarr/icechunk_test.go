package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/icechunk"
	fx "github.com/greensight/vzarr/internal/fixture"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/pipeline"
	"github.com/greensight/vzarr/refread"
	"github.com/greensight/vzarr/refstore"
)

// seriesNetCDF3 writes files 0..n-1 of fx.TimeSeriesNetCDF3 to dir.
func seriesNetCDF3(t *testing.T, dir string, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("f%02d.nc", i))
		require.NoError(t, os.WriteFile(p, fx.TimeSeriesNetCDF3(i), 0o644))
		out = append(out, p)
	}
	return out
}

// icechunkResult is the result part of combine/ref/verify with icechunk.
type icechunkResult struct {
	SnapshotID  string         `json:"snapshot_id"`
	Tag         string         `json:"tag"`
	AppendedTo  string         `json:"appended_to"`
	SourceFiles []string       `json:"source_files"`
	Dimensions  map[string]int `json:"dimensions"`
	TimeRange   []string       `json:"time_range"`
	OK          bool           `json:"ok"`
	Chunks      int            `json:"chunks_checked"`
	Mismatches  []any          `json:"mismatches"`
}

// mustRun runs a vzarr command that must succeed and returns its result.
func mustRun(t *testing.T, args ...string) icechunkResult {
	t.Helper()
	code, stdout, stderr := runCmd(args...)
	require.Equal(t, 0, code, "%v\n%s\n%s", args, stdout, stderr)
	var env struct {
		Success bool           `json:"success"`
		Result  icechunkResult `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &env), stdout)
	require.True(t, env.Success)
	return env.Result
}

// readAll reads every array of refs through the Go reader (refread), as
// float64 values.
func readAll(t *testing.T, refs *kerchunk.Refs) map[string][]float64 {
	t.Helper()
	store := refread.NewStore(refs, nil)
	defer store.Close()
	out := map[string][]float64{}
	for _, k := range refs.Keys() {
		name, ok := strings.CutSuffix(k, "/.zarray")
		if !ok {
			continue
		}
		a, err := store.Open(name)
		require.NoError(t, err, name)
		v, err := a.ReadFloat64s(context.Background())
		require.NoError(t, err, name)
		out[name] = v
	}
	return out
}

// judgeKeys decodes the base64 key map of a judge report.
func judgeKeys(t *testing.T, m map[string]*string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for k, v := range m {
		require.NotNil(t, v, k)
		b, err := base64.StdEncoding.DecodeString(*v)
		require.NoError(t, err)
		out[k] = b
	}
	return out
}

type judgeRead struct {
	Refs     map[string]string             `json:"refs"`
	Keys     map[string]*string            `json:"keys"`
	TagKeys  map[string]map[string]*string `json:"tagKeys"`
	Ancestry []struct {
		ID      string `json:"id"`
		Message string `json:"message"`
	} `json:"ancestry"`
}

// TestIcechunkCombineAppend: 10 files combined into a repo (tag v1), 5 more
// appended (tag v2) → two commits; main equals the 15-file combine and v1 (and
// its snapshot id) the 10-file one, through the Go reader and through the
// official library, whose bytes xarray reads as the concatenated sources.
// The append commit holds only the new chunks and the grown arrays (and
// the re-encoded time coordinate, replaced).
func TestIcechunkCombineAppend(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	src := filepath.Join(base, "src")
	require.NoError(t, os.MkdirAll(src, 0o755))
	files := seriesNetCDF3(t, src, 15)
	repo := filepath.Join(base, "repo")
	c10, c15 := filepath.Join(base, "c10"), filepath.Join(base, "c15")

	first := mustRun(t, append([]string{"combine", "--format", "icechunk", "--tag", "v1", "--message", "ten files", "-o", repo}, files[:10]...)...)
	assert.Equal(t, "v1", first.Tag)
	assert.Equal(t, 20, first.Dimensions["time"])
	second := mustRun(t, append([]string{"combine", "--format", "icechunk", "--append", "--tag", "v2", "--message", "five more", "-o", repo}, files[10:]...)...)
	assert.Equal(t, first.SnapshotID, second.AppendedTo)
	assert.NotEqual(t, first.SnapshotID, second.SnapshotID)
	assert.Equal(t, 30, second.Dimensions["time"])
	assert.Equal(t, files[10:], second.SourceFiles)
	assert.Equal(t, []string{"2000-01-01T00:00:00Z", "2000-01-30T00:00:00Z"}, second.TimeRange)
	mustRun(t, append([]string{"combine", "--format", "icechunk", "-o", c15}, files...)...)
	mustRun(t, append([]string{"combine", "--format", "icechunk", "-o", c10}, files[:10]...)...)

	// The Go reader: every array of each version.
	store := &refstore.Store{}
	load := func(url string, v refstore.IcechunkVersion) map[string][]float64 {
		refs, _, err := store.LoadIcechunk(ctx, url, v)
		require.NoError(t, err)
		return readAll(t, refs)
	}
	main, want15 := load(repo, refstore.IcechunkVersion{}), load(c15, refstore.IcechunkVersion{})
	assert.Equal(t, want15, main)
	require.Len(t, main["time"], 30)
	for i, v := range main["time"] {
		assert.Equal(t, float64(i), v, "time %d re-encoded in the repo's days", i)
	}
	want10 := load(c10, refstore.IcechunkVersion{})
	assert.Equal(t, want10, load(repo, refstore.IcechunkVersion{Tag: "v1"}))
	assert.Equal(t, want10, load(repo, refstore.IcechunkVersion{Snapshot: first.SnapshotID}))
	assert.Len(t, want10["tas"], 20*200)

	// The append commit: the new chunks of tas at indices 10..14 along time.
	r, err := icechunk.Open(ctx, icechunk.DirStorage{Root: repo})
	require.NoError(t, err)
	id, err := icechunk.ParseObjectID(second.SnapshotID)
	require.NoError(t, err)
	tl, err := r.TransactionLog(ctx, id)
	require.NoError(t, err)
	snap, err := r.Snapshot(ctx, id)
	require.NoError(t, err)
	tas, ok := snap.Node("/tas")
	require.True(t, ok)
	assert.Equal(t, []icechunk.DimShape{{Length: 30, NumChunks: 15}, {Length: 10, NumChunks: 1}, {Length: 20, NumChunks: 1}}, tas.Array.Shape)
	lat, _ := snap.Node("/lat")
	var tasChunks [][]uint32
	for _, ac := range tl.UpdatedChunks {
		require.NotEqual(t, lat.ID, ac.Node, "lat did not change")
		if ac.Node == tas.ID {
			tasChunks = ac.Chunks
		}
	}
	assert.Equal(t, [][]uint32{{10, 0, 0}, {11, 0, 0}, {12, 0, 0}, {13, 0, 0}, {14, 0, 0}}, tasChunks)
	// time is re-encoded with another chunk shape: replaced by a new node;
	// tas and lat keep theirs.
	firstID, err := icechunk.ParseObjectID(first.SnapshotID)
	require.NoError(t, err)
	snap1, err := r.Snapshot(ctx, firstID)
	require.NoError(t, err)
	tas1, _ := snap1.Node("/tas")
	lat1, _ := snap1.Node("/lat")
	assert.Equal(t, tas1.ID, tas.ID)
	assert.Equal(t, lat1.ID, lat.ID)
	timeNode, _ := snap.Node("/time")
	assert.Equal(t, []icechunk.NodeID{timeNode.ID}, tl.NewArrays)

	// vzarr verify of a one-file version (time travel through the repo).
	one := filepath.Join(base, "one")
	mustRun(t, "combine", "--format", "icechunk", "--tag", "a", "-o", one, files[0])
	mustRun(t, "combine", "--format", "icechunk", "--append", "-o", one, files[1])
	v := mustRun(t, "verify", "--sample", "0", "--tag", "a", "--source", files[0], one)
	assert.True(t, v.OK)
	assert.Positive(t, v.Chunks)

	// The official library: main of the appended repo is the 15-file combine
	// byte for byte, v1 the 10-file one; xarray reads the sources from it.
	run := testenv.IcechunkJudge(t)
	prefix := "file://" + src + "/"
	read := func(dir string) judgeRead {
		out, err := run("read", dir, prefix)
		require.NoError(t, err)
		var rep judgeRead
		require.NoError(t, json.Unmarshal(out, &rep), "%s", out)
		return rep
	}
	got, r15, r10 := read(repo), read(c15), read(c10)
	keys15 := judgeKeys(t, r15.Keys)
	assert.Equal(t, keys15, judgeKeys(t, got.Keys), "main after the append = the 15-file combine")
	assert.Equal(t, judgeKeys(t, r10.Keys), judgeKeys(t, got.TagKeys["v1"]), "v1 = the 10-file combine")
	assert.Equal(t, second.SnapshotID, got.Refs["v2"])
	var msgs []string
	for _, a := range got.Ancestry {
		msgs = append(msgs, a.Message)
	}
	assert.Equal(t, []string{"five more", "ten files", "Repository initialized"}, msgs)
	assert.Equal(t, 15, countChunks(keys15, "tas/c/"))
	compared := xrCompareConcat(t, keys15, files, "time")
	assert.Contains(t, []int{0, 4}, compared, "time, lat, lon, tas")
}

func countChunks(keys map[string][]byte, prefix string) int {
	n := 0
	for k := range keys {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

// xrCompareConcat writes the keys the official library read as a plain Zarr
// v3 directory and has Debian 13's xarray compare it with the files
// concatenated along dim (icechunk/testdata/xrcompare.py --concat), and
// returns the number of variables compared (0 without the stack).
func xrCompareConcat(t *testing.T, keys map[string][]byte, files []string, dim string) int {
	t.Helper()
	zdir := filepath.Join(t.TempDir(), "plain.zarr")
	for k, b := range keys {
		p := filepath.Join(zdir, filepath.FromSlash(k))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, b, 0o644))
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "icechunk", "testdata", "xrcompare.py"))
	require.NoError(t, err)
	for _, stack := range testenv.Pythons(t, "xarray", "zarr") {
		if stack.Name != testenv.StackTrixie {
			continue // zarr-python 3 reads Zarr v3
		}
		out, err := stack.Command(script, "--concat="+dim, zdir, strings.Join(files, ",")).Output()
		require.NoError(t, err, "%s", out)
		var res struct {
			Compared int      `json:"compared"`
			Notes    []string `json:"notes"`
			Errors   []string `json:"errors"`
		}
		require.NoError(t, json.Unmarshal(out, &res), "%s", out)
		assert.Empty(t, res.Errors)
		assert.Positive(t, res.Compared)
		t.Logf("xarray (%s): %d variables equal to the concatenated sources; notes %v", stack.Name, res.Compared, res.Notes)
		return res.Compared
	}
	return 0
}

// TestVerifyOfficialRepo: a repository the official library wrote (from a
// plan: our repo's zarr.json documents and virtual refs of a NetCDF-4
// fixture) is read by vzarr verify, every chunk equal to the source.
func TestVerifyOfficialRepo(t *testing.T) {
	run := testenv.IcechunkJudge(t)
	ctx := context.Background()
	base := t.TempDir()
	src := filepath.Join(base, "tas.nc")
	data, err := os.ReadFile(fixture(t, "sample/tas_2020.nc"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(src, data, 0o644))
	ours := filepath.Join(base, "ours")
	mustRun(t, "ref", "--format", "icechunk", src, "-o", ours)

	r, err := icechunk.Open(ctx, icechunk.DirStorage{Root: ours})
	require.NoError(t, err)
	head, err := r.Ref("main")
	require.NoError(t, err)
	snap, err := r.Snapshot(ctx, head)
	require.NoError(t, err)
	type vref struct {
		Key      string `json:"key"`
		Location string `json:"location"`
		Offset   uint64 `json:"offset"`
		Length   uint64 `json:"length"`
	}
	plan := struct {
		Meta    map[string]string `json:"meta"`
		Virtual []vref            `json:"virtual"`
		Inline  map[string][]byte `json:"inline"`
	}{Meta: map[string]string{}, Inline: map[string][]byte{}}
	for i := range snap.Nodes {
		n := &snap.Nodes[i]
		p := strings.TrimPrefix(n.Path+"/", "/")
		plan.Meta[p+"zarr.json"] = string(n.UserData)
		if n.Array == nil {
			continue
		}
		refs, err := r.ArrayRefs(ctx, n)
		require.NoError(t, err)
		for _, c := range refs {
			key := p + "c"
			for _, i := range c.Index {
				key += fmt.Sprintf("/%d", i)
			}
			if c.Location != "" {
				plan.Virtual = append(plan.Virtual, vref{key, c.Location, c.Offset, c.Length})
			} else {
				plan.Inline[key] = c.Inline
			}
		}
	}
	require.NotEmpty(t, plan.Virtual)
	pf := filepath.Join(base, "plan.json")
	b, err := json.Marshal(plan)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(pf, b, 0o644))
	theirs := filepath.Join(base, "theirs")
	out, err := run("write-plan", theirs, "file://"+base+"/", pf)
	require.NoError(t, err, "%s", out)
	var wrote struct{ Snapshot string }
	require.NoError(t, json.Unmarshal(out, &wrote))
	official, err := icechunk.Open(ctx, icechunk.DirStorage{Root: theirs})
	require.NoError(t, err)
	prefixes, err := official.Info().ContainerPrefixes()
	require.NoError(t, err)
	assert.Equal(t, []string{"file://" + base + "/"}, prefixes, "the container in the official library's config")

	res := mustRun(t, "verify", "--sample", "0", theirs)
	assert.True(t, res.OK, "%v", res.Mismatches)
	assert.Equal(t, wrote.Snapshot, res.SnapshotID)
	assert.Positive(t, res.Chunks)
	t.Logf("official library's repo: %d virtual refs, %d inline chunks, %d chunks verified", len(plan.Virtual), len(plan.Inline), res.Chunks)
}

// TestIcechunkFlags: the icechunk flags' usage errors (exit 2) and results.
func TestIcechunkFlags(t *testing.T) {
	base := t.TempDir()
	src := fixture(t, "sample/tas_2015.nc")
	files := seriesNetCDF3(t, base, 2)
	repo := filepath.Join(base, "repo")
	mustRun(t, "combine", "--format", "icechunk", "-o", repo, files[0])
	elsewhere := filepath.Join(t.TempDir(), "f01.nc")
	require.NoError(t, os.WriteFile(elsewhere, fx.TimeSeriesNetCDF3(1), 0o644))
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in the error
	}{
		{"append without icechunk", []string{"combine", "--append", "-o", filepath.Join(base, "x.json"), files[1]}, 2, "--append needs --format icechunk"},
		{"tag without icechunk", []string{"combine", "--tag", "v1", "-o", filepath.Join(base, "x.json"), files[1]}, 2, "--tag needs --format icechunk"},
		{"message without icechunk", []string{"combine", "--message", "m", "-o", filepath.Join(base, "x.json"), files[1]}, 2, "--message needs --format icechunk"},
		{"ref tag without icechunk", []string{"ref", "--tag", "v1", "-o", filepath.Join(base, "x.json"), src}, 2, "--tag needs --format icechunk"},
		{"verify version of a reference file", []string{"verify", "--tag", "v1", filepath.Join(base, "nothing.json")}, 2, "need an Icechunk repository"},
		{"append to no repository", []string{"combine", "--format", "icechunk", "--append", "-o", filepath.Join(base, "none"), files[1]}, 1, "combine --append"},
		{"new repository over one", []string{"combine", "--format", "icechunk", "-o", repo, files[1]}, 1, "creating repository"},
		{"append from outside the containers", []string{"combine", "--format", "icechunk", "--append", "-o", repo, elsewhere}, 1, "outside the repository's virtual chunk containers"},
		{"verify unknown tag", []string{"verify", "--tag", "nope", repo}, 1, "no such branch or tag"},
		{"verify branch and tag", []string{"verify", "--tag", "a", "--branch", "main", repo}, 1, "not several"},
		{"verify bad snapshot id", []string{"verify", "--snapshot", "xyz", repo}, 1, "invalid id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, _ := runCmd(tc.args...)
			assert.Equal(t, tc.code, code, stdout)
			env := decodeEnvelope(t, stdout)
			assert.Equal(t, false, env["success"])
			assert.Contains(t, env["error"], tc.want)
			if tc.code == 2 {
				assert.Equal(t, pipeline.ErrTypeUsage, env["error_type"])
			}
		})
	}

	// Success: ref --tag and a second tag of the same name fails cleanly.
	out := filepath.Join(base, "tas")
	res := mustRun(t, "ref", "--format", "icechunk", "--tag", "v1", "--message", "m", src, "-o", out)
	assert.Equal(t, "v1", res.Tag)
	assert.NotEmpty(t, res.SnapshotID)
	for _, flags := range [][]string{{"--tag", "v1"}, {"--snapshot", res.SnapshotID}, {"--branch", "main"}, {}} {
		v := mustRun(t, append(append([]string{"verify"}, flags...), out)...)
		assert.Equal(t, res.SnapshotID, v.SnapshotID, "%v", flags)
		assert.True(t, v.OK, "%v", flags)
	}
	res = mustRun(t, "combine", "--format", "icechunk", "--append", "--tag", "v2", "-o", repo, files[1])
	assert.Equal(t, "v2", res.Tag)
	code, stdout, _ := runCmd("combine", "--format", "icechunk", "--append", "--tag", "v2", "-o", repo, files[1])
	assert.Equal(t, 1, code, stdout)
	assert.Contains(t, stdout, "tag exists")
	// An incompatible input is refused by combine's checks, nothing committed.
	r, err := icechunk.Open(context.Background(), icechunk.DirStorage{Root: repo})
	require.NoError(t, err)
	before := slices.Clone(r.Info().Snapshots)
	code, stdout, _ = runCmd("combine", "--format", "icechunk", "--append", "-o", repo, src)
	assert.Equal(t, 1, code, stdout)
	assert.Contains(t, stdout, "incompatible")
	r, err = icechunk.Open(context.Background(), icechunk.DirStorage{Root: repo})
	require.NoError(t, err)
	assert.Len(t, r.Info().Snapshots, len(before))
}

// TestIcechunkSeries: every combine series of testdata/series as an Icechunk
// repository built by an append: the first file, then the others appended.
// For the series combine accepts, main equals the repository of one combine
// of all the files byte for byte through the official library, and xarray
// reads the concatenated sources from it; for the others the append fails
// with combine's error (the same checks).
func TestIcechunkSeries(t *testing.T) {
	run := testenv.IcechunkJudge(t)
	judged := 0
	for _, s := range testenv.CombineSeries(t) {
		t.Run(s.Name, func(t *testing.T) {
			base := t.TempDir()
			src := filepath.Join(base, "src")
			require.NoError(t, os.MkdirAll(src, 0o755))
			var files []string
			for _, f := range s.Files {
				data, err := os.ReadFile(filepath.Join(s.Dir, f))
				require.NoError(t, err)
				p := filepath.Join(src, f)
				require.NoError(t, os.WriteFile(p, data, 0o644))
				files = append(files, p)
			}
			repo, all := filepath.Join(base, "repo"), filepath.Join(base, "all")
			mustRun(t, "combine", "--format", "icechunk", "--concat-dim", s.ConcatDim, "-o", repo, files[0])
			args := append([]string{"combine", "--format", "icechunk", "--append", "--concat-dim", s.ConcatDim, "-o", repo}, files[1:]...)
			if s.Expect != "ok" {
				code, stdout, _ := runCmd(args...)
				require.Equal(t, 1, code, stdout)
				for _, want := range s.ErrorContains {
					assert.Contains(t, stdout, want)
				}
				return
			}
			mustRun(t, args...)
			mustRun(t, append([]string{"combine", "--format", "icechunk", "--concat-dim", s.ConcatDim, "-o", all}, files...)...)
			read := func(dir string) map[string][]byte {
				out, err := run("read", dir, "file://"+src+"/")
				require.NoError(t, err)
				var rep judgeRead
				require.NoError(t, json.Unmarshal(out, &rep), "%s", out)
				return judgeKeys(t, rep.Keys)
			}
			keys := read(all)
			assert.Equal(t, keys, read(repo), "appended = combined")
			xrCompareConcat(t, keys, files, s.ConcatDim)
			judged++
		})
	}
	t.Logf("%d series judged by the official library and xarray (the others refused by combine's checks)", judged)
}
