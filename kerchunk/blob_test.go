package kerchunk_test

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/refread"
)

// TestTranslateFromBlob translates a file in (emulated) Azure Blob
// Storage: chunk references name the abfs:// URL fsspec reads, the
// translation reads metadata in few requests, and the references verify.
func TestTranslateFromBlob(t *testing.T) {
	opener, container := testenv.Azurite(t)
	ctx := context.Background()
	for _, fixture := range []string{"../testdata/hdf5/nc4_basic.nc", "../testdata/netcdf3/classic.nc"} {
		data, err := os.ReadFile(fixture)
		if err != nil {
			t.Skipf("fixture %s missing", fixture)
		}
		url := "azblob://" + container + "/dir/" + fixture[strings.LastIndexByte(fixture, '/')+1:]
		require.NoError(t, opener.WriteAtomic(ctx, url, func(w io.Writer) error {
			_, err := w.Write(data)
			return err
		}))
		obj, err := opener.OpenObject(ctx, url, blobio.MetadataReaderOptions(0)...)
		require.NoError(t, err)
		res, err := kerchunk.Translate(context.Background(), obj.Reader, obj.Size(), obj.RefURL, kerchunk.Options{})
		require.NoError(t, err)
		stats := obj.Reader.Stats()
		assert.LessOrEqual(t, stats.Requests, int64(3), "requests to storage")
		for _, u := range res.Refs.URLs() {
			assert.True(t, strings.HasPrefix(u, "abfs://"+container+"/dir/"), u)
		}
		f := func(ctx context.Context, u string, off, n int64) ([]byte, error) {
			o, err := opener.OpenObject(ctx, strings.Replace(u, "abfs://", "azblob://", 1))
			if err != nil {
				return nil, err
			}
			defer o.Close()
			b := make([]byte, n)
			_, err = o.ReadAt(b, off)
			return b, err
		}
		rep, err := refread.Verify(ctx, res.Refs, obj.Reader, obj.Size(), refread.VerifyOptions{Fetcher: refread.FetcherFunc(f)})
		require.NoError(t, err)
		assert.True(t, rep.OK(), "%v", rep.Mismatches)
		require.NoError(t, obj.Close())
	}
}
