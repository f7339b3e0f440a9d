package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/refstore"
)

// TestIcechunkAzureSources: repositories in Azurite whose virtual chunks
// are Azure blobs read back as references whose URLs blobio opens, so
// vzarr verify (the source found from the references) and combine
// --append work on them: a one-file repository verifies chunk for chunk,
// a second file appended to a repository gives what the two-file combine
// of local copies gives, and its first tag still verifies.
func TestIcechunkAzureSources(t *testing.T) {
	ctx := context.Background()
	o := testenv.AzuriteAccounts(t, testenv.BronzeAccount, testenv.SilverAccount)
	testenv.EnsureContainer(t, o, testenv.BronzeAccount, "icechunk-src")
	testenv.EnsureContainer(t, o, testenv.SilverAccount, "icechunk-test")
	run := testenv.RandomSuffix()
	local := t.TempDir()
	files := seriesNetCDF3(t, local, 2)
	var blobs []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		u := fmt.Sprintf("abfs://%s/icechunk-src/%s/%s", testenv.BronzeAccount, run, filepath.Base(f))
		require.NoError(t, o.WriteAtomic(ctx, u, func(w io.Writer) error { _, err := w.Write(data); return err }))
		blobs = append(blobs, u)
	}
	repoURL := func(name string) string {
		return fmt.Sprintf("abfs://%s/icechunk-test/%s/%s", testenv.SilverAccount, run, name)
	}

	// vzarr ref into a repository, then verify it with no --source.
	one := repoURL("one")
	mustRun(t, "ref", "--format", "icechunk", "-o", one, blobs[0])
	store := &refstore.Store{Opener: o}
	refs, _, err := store.LoadIcechunk(ctx, one, refstore.IcechunkVersion{})
	require.NoError(t, err)
	require.Len(t, refs.URLs(), 1)
	u := refs.URLs()[0]
	assert.True(t, strings.HasPrefix(u, "abfs://icechunk-src@"+testenv.BronzeAccount+"."), "a URL blobio opens, not an az:// location: %s", u)
	obj, err := o.OpenObject(ctx, u)
	require.NoError(t, err)
	require.NoError(t, obj.Close())
	v := mustRun(t, "verify", "--sample", "0", one)
	assert.True(t, v.OK)
	assert.Positive(t, v.Chunks)

	// combine, then --append the second blob.
	two := repoURL("two")
	mustRun(t, "combine", "--format", "icechunk", "--tag", "a", "-o", two, blobs[0])
	second := mustRun(t, "combine", "--format", "icechunk", "--append", "-o", two, blobs[1])
	assert.NotEmpty(t, second.AppendedTo)
	v = mustRun(t, "verify", "--sample", "0", "--tag", "a", two)
	assert.True(t, v.OK)
	assert.Positive(t, v.Chunks)

	want := filepath.Join(local, "want")
	mustRun(t, append([]string{"combine", "--format", "icechunk", "-o", want}, files...)...)
	wantRefs, _, err := store.LoadIcechunk(ctx, want, refstore.IcechunkVersion{})
	require.NoError(t, err)
	got, _, err := store.LoadIcechunk(ctx, two, refstore.IcechunkVersion{})
	require.NoError(t, err)
	assert.Equal(t, readAll(t, wantRefs), readAll(t, got), "the appended repository reads as the combine of both files")
	assert.Equal(t, 2, len(got.URLs()))
}
