package refstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

// TestSaveIcechunkAzurite is the Azure round trip: a NetCDF file uploaded
// to the bronze emulator account is translated from there, saved as an
// Icechunk repository in the silver account (SaveIcechunk through
// IcechunkStorage: conditional Put Blob requests), opened again with the
// Go reader, and every virtual chunk resolves to az://CONTAINER/PATH under
// an Azure container of the bronze account, carries the source's ETag, and
// reads (through the container's SourceURL) the same bytes as the kerchunk
// reference of the same key reads from the local copy. LoadIcechunk gives
// references whose URL blobio opens (the container's SourceURL, not the
// az:// location), every range reading the source's bytes. A second save
// to the same prefix loses the create.
func TestSaveIcechunkAzurite(t *testing.T) {
	ctx := context.Background()
	o := testenv.AzuriteAccounts(t, testenv.BronzeAccount, testenv.SilverAccount)
	testenv.EnsureContainer(t, o, testenv.BronzeAccount, "icechunk-src")
	testenv.EnsureContainer(t, o, testenv.SilverAccount, "icechunk-test")
	rnd := make([]byte, 6)
	_, _ = rand.Read(rnd)
	run := hex.EncodeToString(rnd)

	local, err := filepath.Abs(filepath.Join("..", "testdata", "sample", "tas_2020.nc"))
	require.NoError(t, err)
	data, err := os.ReadFile(local)
	require.NoError(t, err)
	srcURL := fmt.Sprintf("abfs://%s/icechunk-src/%s/tas_2020.nc", testenv.BronzeAccount, run)
	require.NoError(t, o.WriteAtomic(ctx, srcURL, func(w io.Writer) error { _, err := w.Write(data); return err }))
	obj, err := o.OpenObject(ctx, srcURL, blobio.MetadataReaderOptions(0)...)
	require.NoError(t, err)
	tr, err := kerchunk.Translate(ctx, obj.Reader, obj.Size(), obj.RefURL, kerchunk.Options{})
	require.NoError(t, obj.Close())
	require.NoError(t, err)

	st := &refstore.Store{Opener: o}
	repoURL := fmt.Sprintf("abfs://%s/icechunk-test/%s/repo/", testenv.SilverAccount, run)
	c, err := st.SaveIcechunk(ctx, repoURL, tr.Refs, "azurite round trip")
	require.NoError(t, err)
	_, err = st.SaveIcechunk(ctx, repoURL, tr.Refs, "")
	assert.ErrorIs(t, err, icechunk.ErrConflict, "a repository exists there")

	storage, err := st.IcechunkStorage(ctx, repoURL)
	require.NoError(t, err)
	defer storage.(io.Closer).Close()
	repo, err := icechunk.Open(ctx, storage)
	require.NoError(t, err)
	require.Equal(t, c.SnapshotID, repo.Info().Branches["main"])
	snap, err := repo.Snapshot(ctx, c.SnapshotID)
	require.NoError(t, err)

	src := &icechunk.Sources{Opener: o}
	defer src.Close()
	containers, err := src.Containers(tr.Refs)
	require.NoError(t, err)
	require.Len(t, containers, 1)
	cont := containers[0]
	assert.Equal(t, icechunk.VirtualChunkContainer{URLPrefix: "az://icechunk-src/" + run + "/", Store: icechunk.StoreAzure,
		Options: map[string]string{"account": testenv.BronzeAccount}}, cont)
	objs, err := o.OpenObjects(ctx, fmt.Sprintf("abfs://%s/icechunk-src/", testenv.BronzeAccount))
	require.NoError(t, err)
	defer objs.Close()
	_, _, etag, err := objs.Stat(ctx, run+"/tas_2020.nc")
	require.NoError(t, err)
	require.NotEmpty(t, etag)

	virtual := 0
	tr.Refs.All(func(key string, r kerchunk.Ref) bool {
		if r.IsInline() || strings.Contains(key, "/.") || strings.HasPrefix(key, ".") {
			return true
		}
		dir, chunk, _ := strings.Cut(key, "/")
		ref, err := repo.ResolveChunk(ctx, snap, dir+"/c/"+strings.ReplaceAll(chunk, ".", "/"))
		if !assert.NoError(t, err, key) {
			return false
		}
		assert.Equal(t, "az://icechunk-src/"+run+"/tas_2020.nc", ref.Location)
		assert.Equal(t, etag, ref.ChecksumETag, "the source's ETag is the chunk's checksum")
		assert.Equal(t, [2]uint64{uint64(r.Offset), uint64(r.Length)}, [2]uint64{ref.Offset, ref.Length})
		u, err := cont.SourceURL(ref.Location)
		require.NoError(t, err)
		blob, err := o.OpenObject(ctx, u)
		require.NoError(t, err)
		got := make([]byte, ref.Length)
		_, err = blob.ReadAt(got, int64(ref.Offset))
		require.NoError(t, err)
		require.NoError(t, blob.Close())
		assert.True(t, bytes.Equal(data[r.Offset:r.Offset+r.Length], got), "chunk %s read through the repository equals the source", key)
		virtual++
		return true
	})
	assert.Positive(t, virtual)
	t.Logf("%d virtual chunks read back from Azurite through the repository", virtual)

	back, id, err := st.LoadIcechunk(ctx, repoURL, refstore.IcechunkVersion{})
	require.NoError(t, err)
	assert.Equal(t, c.SnapshotID, id)
	srcBack, err := cont.SourceURL("az://icechunk-src/" + run + "/tas_2020.nc")
	require.NoError(t, err)
	assert.Equal(t, []string{srcBack}, back.URLs())
	blob, err := o.OpenObject(ctx, srcBack)
	require.NoError(t, err)
	defer blob.Close()
	ranges := 0
	back.All(func(key string, r kerchunk.Ref) bool {
		if r.IsInline() {
			return true
		}
		want, ok := tr.Refs.Get(key)
		require.True(t, ok, key)
		got := make([]byte, r.Length)
		_, err := blob.ReadAt(got, r.Offset)
		require.NoError(t, err, key)
		assert.True(t, bytes.Equal(data[want.Offset:want.Offset+want.Length], got), "reference %s of the loaded set reads the source's bytes", key)
		ranges++
		return true
	})
	assert.Equal(t, virtual, ranges)
}
