package icechunk

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/kerchunk"
)

// TestOfficialLibraryReadsAzuriteRepo: a NetCDF file uploaded to the bronze
// emulator account is translated from there and written as a repository in
// the silver account through BlobStorage (conditional Put Blob requests);
// the official library opens it with Storage.newAzureBlob, authorises the
// Azure virtual chunk container of the bronze account, and reads every key
// of main: every chunk equals the bytes its kerchunk reference names (the
// virtual ones fetched from Azurite with the ETag as If-Match). Then the
// source blob is rewritten with the same bytes (a new ETag): the library
// must refuse its virtual chunks.
func TestOfficialLibraryReadsAzuriteRepo(t *testing.T) {
	run := judge(t)
	o := testenv.AzuriteAccounts(t, testenv.BronzeAccount, testenv.SilverAccount)
	testenv.EnsureContainer(t, o, testenv.BronzeAccount, "icechunk-src")
	_, repoURL := azuriteRepoURL(t)
	ctx := context.Background()

	data, err := os.ReadFile(filepath.Join("..", "testdata", "sample", "tas_2020.nc"))
	require.NoError(t, err)
	dir := randomName()
	srcURL := fmt.Sprintf("abfs://%s/icechunk-src/%s/tas_2020.nc", testenv.BronzeAccount, dir)
	upload := func() {
		require.NoError(t, o.WriteAtomic(ctx, srcURL, func(w io.Writer) error { _, err := w.Write(data); return err }))
	}
	upload()
	obj, err := o.OpenObject(ctx, srcURL, blobio.MetadataReaderOptions(0)...)
	require.NoError(t, err)
	tr, err := kerchunk.Translate(ctx, obj.Reader, obj.Size(), obj.RefURL, kerchunk.Options{})
	require.NoError(t, obj.Close())
	require.NoError(t, err)

	src := &Sources{Opener: o}
	defer src.Close()
	containers, err := src.Containers(tr.Refs)
	require.NoError(t, err)
	st, err := OpenBlobStorage(ctx, o, repoURL)
	require.NoError(t, err)
	defer st.Close()
	repo, err := Create(ctx, st, RepoConfig{VirtualChunkContainers: containers})
	require.NoError(t, err)
	s, err := repo.NewSession(ctx, "main")
	require.NoError(t, err)
	require.NoError(t, src.FromRefs(ctx, s, tr.Refs))
	snapID, err := s.Commit(ctx, "azurite")
	require.NoError(t, err)

	t.Setenv("ICECHUNK_AZ_KEY", testenv.AccountKey(o, testenv.SilverAccount))
	t.Setenv("ICECHUNK_AZ_SRC_KEY", testenv.AccountKey(o, testenv.BronzeAccount))
	loc, err := o.Parse(repoURL)
	require.NoError(t, err)
	prefix := strings.TrimSuffix(loc.Key, "/")
	srcPrefix := "az://icechunk-src/" + dir + "/"
	args := []string{"read-azure", testenv.SilverAccount, loc.Container, prefix, testenv.BronzeAccount, srcPrefix}
	out := mustJudge(t, run, args...)
	var rep judgeReport
	require.NoError(t, json.Unmarshal(out, &rep), "%s", out)
	assert.Equal(t, snapID.String(), rep.Refs["main"])

	chunks, virtual := 0, 0
	tr.Refs.All(func(key string, r kerchunk.Ref) bool {
		node, chunk := splitKey(key)
		if strings.HasPrefix(chunk, ".") {
			return true
		}
		want := r.Data
		if !r.IsInline() {
			want = data[r.Offset : r.Offset+r.Length]
			virtual++
		}
		v3 := strings.ReplaceAll(chunk, ".", "/")
		if node != "" {
			v3 = node + "/c/" + v3
		}
		got, ok := rep.Keys[v3]
		if assert.True(t, ok && got != nil, "key %s (%s) read by the official library", v3, key) {
			b, err := base64.StdEncoding.DecodeString(*got)
			require.NoError(t, err)
			assert.Equal(t, want, b, "chunk %s", v3)
			chunks++
		}
		return true
	})
	assert.Positive(t, virtual)
	t.Logf("official library read %d keys from Azurite; %d chunks equal their references (%d virtual, ETag-checked)", len(rep.Keys), chunks, virtual)

	upload() // same bytes, new ETag
	_, err = run(args...)
	require.Error(t, err, "a rewritten source must fail its ETag checksum")
	t.Logf("after the source was rewritten: %v", firstLine(err.Error()))
}

// firstLine is the first line of s.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
