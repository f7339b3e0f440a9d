package refstore_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/icechunk"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/refstore"
)

// translate returns the references of a testdata file.
func translate(t *testing.T, name string) *kerchunk.Refs {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "testdata", filepath.FromSlash(name)))
	require.NoError(t, err)
	obj, err := (&blobio.Opener{}).OpenObject(context.Background(), path, blobio.MetadataReaderOptions(0)...)
	require.NoError(t, err)
	defer obj.Close()
	res, err := kerchunk.Translate(context.Background(), obj.Reader, obj.Size(), obj.RefURL, kerchunk.Options{Name: path})
	require.NoError(t, err)
	return res.Refs
}

// entries lists a reference set as a map, for comparisons.
func entries(refs *kerchunk.Refs) map[string]kerchunk.Ref {
	m := map[string]kerchunk.Ref{}
	refs.All(func(k string, r kerchunk.Ref) bool {
		m[k] = r
		return true
	})
	return m
}

// memStore is a Store over a fresh in-memory bucket "b".
func memStore() (*refstore.Store, *blobio.MemBuckets) {
	mem := &blobio.MemBuckets{}
	mem.Create("b")
	return &refstore.Store{Opener: &blobio.Opener{Mem: mem}}, mem
}

// list returns the object URLs under url, sorted.
func list(t *testing.T, o *blobio.Opener, url string) []string {
	t.Helper()
	res, err := o.Scan(context.Background(), url, blobio.ScanOptions{Pattern: "*", Recursive: true})
	require.NoError(t, err)
	sort.Strings(res.NCFiles)
	return res.NCFiles
}

func TestParseFormatAndFormatOf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want refstore.Format
		ok   bool
	}{
		{"", refstore.Auto, true}, {"auto", refstore.Auto, true}, {"JSON", refstore.JSON, true},
		{"parquet", refstore.Parquet, true}, {"parq", refstore.Parquet, true}, {"icechunk", refstore.Icechunk, true}, {"xml", refstore.Auto, false},
	} {
		got, err := refstore.ParseFormat(tc.in)
		if !tc.ok {
			assert.ErrorIs(t, err, refstore.ErrFormat, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	for url, want := range map[string]refstore.Format{
		"refs/a.json": refstore.JSON, "refs/a.parq": refstore.Parquet, "abfs://c/refs/a.parquet/": refstore.Parquet,
		"refs/a": refstore.JSON, "mem://b/x.PARQ?v=1": refstore.Parquet, "refs.parq/a.json": refstore.JSON,
	} {
		assert.Equal(t, want, refstore.FormatOf(url), url)
	}
}

// TestSaveLoadRoundTrip: every format, local and in blob storage, reads
// back the references it wrote; Auto takes the format from the name.
func TestSaveLoadRoundTrip(t *testing.T) {
	refs := translate(t, "sample/tas_2015.nc")
	want := entries(refs)
	ctx := context.Background()
	dir := t.TempDir()
	mstore, _ := memStore()
	for _, tc := range []struct {
		name   string
		store  *refstore.Store
		url    string
		format refstore.Format
		isSet  bool
	}{
		{"local json", &refstore.Store{}, filepath.Join(dir, "a.json"), refstore.JSON, false},
		{"local parquet", &refstore.Store{}, filepath.Join(dir, "a.parq"), refstore.Parquet, true},
		{"local auto parquet", &refstore.Store{}, "file://" + filepath.Join(dir, "b.parquet"), refstore.Auto, true},
		{"local auto json", &refstore.Store{}, filepath.Join(dir, "sub", "c.json"), refstore.Auto, false},
		{"blob json", mstore, "mem://b/refs/a.json", refstore.JSON, false},
		{"blob parquet", mstore, "mem://b/refs/a.parq", refstore.Parquet, true},
		{"blob auto parquet", mstore, "mem://b/refs/b.parq/", refstore.Auto, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := tc.store.Save(ctx, tc.url, refs, tc.format)
			require.NoError(t, err)
			assert.Positive(t, n)
			back, err := tc.store.Load(ctx, tc.url)
			require.NoError(t, err)
			assert.Equal(t, want, entries(back))
			o := tc.store.Opener
			if o == nil {
				o = &blobio.Opener{}
			}
			_, err = o.OpenObject(ctx, strings.TrimRight(tc.url, "/")+"/.zmetadata")
			if tc.isSet {
				assert.NoError(t, err, "a Parquet set has .zmetadata")
			} else {
				assert.Error(t, err, "a JSON file is no set")
			}
		})
	}
	// No staging prefix or temporary file is left anywhere.
	for _, u := range append(list(t, mstore.Opener, "mem://b/"), list(t, &blobio.Opener{}, dir)...) {
		assert.NotContains(t, u, "staging", u)
		assert.NotContains(t, u, ".tmp", u)
	}
}

// TestSaveAzurite: both formats round-trip through Azurite (skipped when
// it is not configured), a replaced Parquet set keeps only the new files
// and no staging object is left.
func TestSaveAzurite(t *testing.T) {
	o, container := testenv.Azurite(t)
	st := &refstore.Store{Opener: o}
	ctx := context.Background()
	root := "abfs://" + container
	small, big := translate(t, "sample/tas_2015.nc"), translate(t, "hdf5/nc4_groups.nc")
	for _, url := range []string{root + "/refs/a.json", root + "/refs/a.parq"} {
		for _, refs := range []*kerchunk.Refs{big, small} {
			_, err := st.Save(ctx, url, refs, refstore.Auto)
			require.NoError(t, err, url)
			back, err := st.Load(ctx, url)
			require.NoError(t, err, url)
			assert.Equal(t, entries(refs), entries(back), url)
		}
	}
	_, err := st.Save(ctx, root+"/fresh.parq", small, refstore.Parquet)
	require.NoError(t, err)
	rel := func(urls []string, prefix string) []string {
		var out []string
		for _, u := range urls {
			out = append(out, strings.TrimPrefix(u, prefix))
		}
		return out
	}
	assert.Equal(t, rel(list(t, o, root+"/fresh.parq"), root+"/fresh.parq"), rel(list(t, o, root+"/refs/a.parq"), root+"/refs/a.parq"))
	for _, u := range list(t, o, root+"/") {
		assert.NotContains(t, u, "staging")
	}
}

// TestSaveParquetReplaces: a second set written over a first leaves only
// the second's files (a stale variable's records go), locally and in blob
// storage.
func TestSaveParquetReplaces(t *testing.T) {
	big := translate(t, "hdf5/nc4_groups.nc")
	small := translate(t, "sample/tas_2015.nc")
	ctx := context.Background()
	mstore, _ := memStore()
	for _, tc := range []struct {
		name  string
		store *refstore.Store
		url   string
	}{
		{"local", &refstore.Store{}, filepath.Join(t.TempDir(), "set.parq")},
		{"blob", mstore, "mem://b/refs/set.parq"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.store.Opener
			if o == nil {
				o = &blobio.Opener{}
			}
			_, err := tc.store.Save(ctx, tc.url, big, refstore.Parquet)
			require.NoError(t, err)
			first := list(t, o, tc.url)
			_, err = tc.store.Save(ctx, tc.url, small, refstore.Parquet)
			require.NoError(t, err)
			second := list(t, o, tc.url)

			// What a set written alone holds.
			fresh := "mem://b/fresh-" + tc.name + ".parq"
			if tc.store.Opener == nil {
				fresh = filepath.Join(t.TempDir(), "fresh.parq")
			}
			_, err = tc.store.Save(ctx, fresh, small, refstore.Parquet)
			require.NoError(t, err)
			var alone, now []string
			for _, u := range list(t, o, fresh) {
				alone = append(alone, strings.TrimPrefix(u, fresh))
			}
			for _, u := range second {
				now = append(now, strings.TrimPrefix(u, tc.url))
			}
			assert.Equal(t, alone, now, "the replaced set holds the new set's files only")
			assert.NotEqual(t, first, second)
			back, err := tc.store.Load(ctx, tc.url)
			require.NoError(t, err)
			assert.Equal(t, entries(small), entries(back))
		})
	}
}

// TestSaveFailureKeepsOld: a set that cannot be written leaves the older
// one readable and no staging objects behind.
func TestSaveFailureKeepsOld(t *testing.T) {
	ctx := context.Background()
	st, _ := memStore()
	refs := translate(t, "sample/tas_2015.nc")
	const url = "mem://b/refs/set.parq"
	_, err := st.Save(ctx, url, refs, refstore.Parquet)
	require.NoError(t, err)
	before := list(t, st.Opener, "mem://b/")

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = st.Save(canceled, url, translate(t, "hdf5/nc4_basic.nc"), refstore.Parquet)
	require.Error(t, err)
	assert.Equal(t, before, list(t, st.Opener, "mem://b/"))
	back, err := st.Load(ctx, url)
	require.NoError(t, err)
	assert.Equal(t, entries(refs), entries(back))
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, err := (&refstore.Store{}).Load(ctx, filepath.Join(dir, "missing.json"))
	assert.ErrorIs(t, err, blobio.ErrNotFound, "neither a file nor a set")
	_, err = (&refstore.Store{}).Load(ctx, dir)
	assert.ErrorIs(t, err, blobio.ErrNotFound, "a folder without .zmetadata")

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`[1, 2]`), 0o644))
	_, err = (&refstore.Store{}).Load(ctx, bad)
	assert.ErrorIs(t, err, kerchunk.ErrBadRefs)

	_, err = (&refstore.Store{}).Save(ctx, filepath.Join(dir, "x"), kerchunk.NewRefs(0), refstore.Format("xml"))
	assert.ErrorIs(t, err, refstore.ErrFormat)
}

func TestPublishPrefixRefuses(t *testing.T) {
	st, mem := memStore()
	mem.Create("other")
	ctx := context.Background()
	for _, tc := range [][2]string{
		{"mem://b/a.stage/", "mem://other/a/"},
		{"mem://b/a/", "mem://b/a/sub/"},
		{"mem://b/a/", "mem://b/"},
		{t.TempDir(), "mem://b/a/"},
	} {
		err := refstore.PublishPrefix(ctx, st.Opener, tc[0], tc[1])
		assert.ErrorIs(t, err, blobio.ErrInvalidArgument, "%v", tc)
	}
}

// TestIcechunkStorage: a local path or file:// URL is a DirStorage, a
// mem:// (or Azure) prefix a BlobStorage through the Store's Opener;
// SaveIcechunk writes a repository to either, and a second save to the same
// place loses the create (icechunk.ErrConflict).
func TestIcechunkStorage(t *testing.T) {
	ctx := context.Background()
	mem := &blobio.MemBuckets{}
	mem.Create("bucket")
	st := &refstore.Store{Opener: &blobio.Opener{Mem: mem}}
	dir := filepath.Join(t.TempDir(), "repo")
	tests := []struct {
		url  string
		want any
	}{
		{dir, icechunk.DirStorage{}},
		{"file://" + dir + "2", icechunk.DirStorage{}},
		{"mem://bucket/repo/", &icechunk.BlobStorage{}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			s, err := st.IcechunkStorage(ctx, tt.url)
			require.NoError(t, err)
			assert.IsType(t, tt.want, s)
			c, err := st.SaveIcechunk(ctx, tt.url, kerchunk.NewRefs(0), "")
			require.NoError(t, err)
			assert.Positive(t, c.Bytes)
			assert.NotEqual(t, icechunk.InitialSnapshotID, c.SnapshotID, "a commit on top of the initial snapshot")
			r, err := icechunk.Open(ctx, s)
			require.NoError(t, err)
			assert.Equal(t, c.SnapshotID, r.Info().Branches["main"])
			_, err = st.SaveIcechunk(ctx, tt.url, kerchunk.NewRefs(0), "")
			assert.ErrorIs(t, err, icechunk.ErrConflict)
		})
	}
	_, err := st.IcechunkStorage(ctx, "mem://nobucket/repo/")
	assert.ErrorIs(t, err, blobio.ErrNotFound)
	_, err = (&refstore.Store{}).IcechunkStorage(ctx, "https://example.com/repo")
	assert.ErrorIs(t, err, blobio.ErrInvalidURL)
}

// TestLoadObject: an open JSON object loads the references Save wrote,
// through the object's own reads (its cache), and a bad one gives
// ErrBadRefs.
func TestLoadObject(t *testing.T) {
	ctx := context.Background()
	refs := translate(t, "sample/tas_2015.nc")
	store, _ := memStore()
	_, err := store.Save(ctx, "mem://b/refs/a.json", refs, refstore.JSON)
	require.NoError(t, err)
	require.NoError(t, store.Opener.WriteAtomic(ctx, "mem://b/refs/bad.json", func(w io.Writer) error {
		_, err := w.Write([]byte(`{"version": 1, "refs": [1]}`))
		return err
	}))
	for _, tc := range []struct {
		url string
		bad bool
	}{{"mem://b/refs/a.json", false}, {"mem://b/refs/bad.json", true}} {
		obj, err := store.Opener.OpenObject(ctx, tc.url, blobio.MetadataReaderOptions(0)...)
		require.NoError(t, err, tc.url)
		got, err := store.LoadObject(obj)
		reqs := obj.Stats().Requests
		require.NoError(t, obj.Close())
		if tc.bad {
			assert.ErrorIs(t, err, kerchunk.ErrBadRefs, tc.url)
			continue
		}
		require.NoError(t, err, tc.url)
		assert.Equal(t, entries(refs), entries(got), tc.url)
		assert.EqualValues(t, 1, reqs, "a small reference file is read by the open's request alone")
	}
}

// TestStoreHeads: with Heads, a JSON file Save writes to blob storage is
// kept (if it fits) and Load reads it from the cache, taking it; a file
// larger than the cache's room, a Parquet set and a local file are not
// kept, and a failed write drops an older head of its URL.
func TestStoreHeads(t *testing.T) {
	ctx := context.Background()
	refs := translate(t, "sample/tas_2015.nc")
	st, _ := memStore()
	st.Heads = blobio.NewHeadCache(1<<20, 0)

	n, err := st.Save(ctx, "mem://b/r.json", refs, refstore.Auto)
	require.NoError(t, err)
	assert.Equal(t, blobio.HeadCacheStats{Kept: 1, Entries: 1, Bytes: n}, st.Heads.Stats())
	got, err := st.Load(ctx, "mem://b/r.json")
	require.NoError(t, err)
	assert.Equal(t, entries(refs), entries(got))
	assert.Equal(t, blobio.HeadCacheStats{Kept: 1, Hits: 1}, st.Heads.Stats(), "read from the cache and taken")
	got, err = st.Load(ctx, "mem://b/r.json")
	require.NoError(t, err)
	assert.Equal(t, entries(refs), entries(got), "a miss reads the object")
	assert.Equal(t, int64(1), st.Heads.Stats().Misses)

	// Not kept: no room, Parquet, local.
	small := &refstore.Store{Opener: st.Opener, Heads: blobio.NewHeadCache(n-1, 0)}
	_, err = small.Save(ctx, "mem://b/big.json", refs, refstore.Auto)
	require.NoError(t, err)
	_, err = st.Save(ctx, "mem://b/set.parq", refs, refstore.Auto)
	require.NoError(t, err)
	_, err = st.Save(ctx, filepath.Join(t.TempDir(), "r.json"), refs, refstore.Auto)
	require.NoError(t, err)
	assert.Zero(t, small.Heads.Stats().Entries)
	assert.Zero(t, st.Heads.Stats().Entries)

	// A failed write forgets the older head of its URL.
	require.True(t, st.Heads.KeepWritten(st.Opener, "mem://gone/r.json", []byte(`{"version": 1, "refs": {}}`)))
	_, err = st.Save(ctx, "mem://gone/r.json", refs, refstore.Auto)
	require.ErrorIs(t, err, blobio.ErrNotFound)
	assert.Zero(t, st.Heads.Stats().Entries)
}
