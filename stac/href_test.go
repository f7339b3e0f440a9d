package stac_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/stac"
)

// TestParseRefURL: reference and chunk URLs are read by blobio's parser
// (one model of a storage URL): the same container, key and account, and
// the same refusals; an Azure blob endpoint URL is an Azure blob; other
// protocols are kept by name.
func TestParseRefURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want stac.RefLocation
	}{
		{"abfs://refs/a/x.json", stac.RefLocation{Protocol: "abfs", Container: "refs", Key: "a/x.json"}},
		{"az://refs@climatedata.dfs.core.windows.net/x.json", stac.RefLocation{Protocol: "abfs", Container: "refs", Key: "x.json", Account: "climatedata"}},
		{"ABFSS://refs@ClimateData.blob.core.windows.net/x.json", stac.RefLocation{Protocol: "abfs", Container: "refs", Key: "x.json", Account: "climatedata"}},
		{"azblob://refs/x.json?storage_account=acct", stac.RefLocation{Protocol: "abfs", Container: "refs", Key: "x.json", Account: "acct"}},
		{"https://acct.blob.core.windows.net/refs/a%20b/x.json?sv=1&sig=s", stac.RefLocation{Protocol: "abfs", Container: "refs", Key: "a b/x.json", Account: "acct"}},
		{"file:///data/refs/x.json", stac.RefLocation{Protocol: "file", Key: "data/refs/x.json"}},
		{"/data/refs/x.json", stac.RefLocation{Protocol: "file", Key: "data/refs/x.json"}},
		{"mem://bucket/r/x.json", stac.RefLocation{Protocol: "mem", Container: "bucket", Key: "r/x.json"}},
		{"https://example.org/data/x.nc?download=1", stac.RefLocation{Protocol: "https", Key: "data/x.nc"}},
		{"s3://bucket/x.nc", stac.RefLocation{Protocol: "s3", Key: "x.nc"}},
	} {
		t.Run(tc.url, func(t *testing.T) {
			got, err := stac.ParseRefURL(tc.url)
			require.NoError(t, err)
			tc.want.Raw = tc.url
			assert.Equal(t, tc.want, got)
		})
	}
	for _, tc := range []struct {
		url  string
		want error
	}{
		{"", blobio.ErrInvalidURL},
		{"abfs://refs/../x.json", blobio.ErrInvalidURL},
		{"abfs://refs/a%2F..%2Fx.json", blobio.ErrInvalidURL},
		{"abfs://c/x.json", blobio.ErrInvalidURL}, // no container name is one character
		{"abfs://refs@attacker.example/x.json", blobio.ErrSourceNotAllowed},
		{"azblob://refs/x.json?storage_account=NO!", blobio.ErrInvalidURL},
		{"https://acct.blob.core.windows.net/UPPER/x.json", blobio.ErrInvalidURL},
		{"file://host/x.json", blobio.ErrInvalidURL},
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, err := stac.ParseRefURL(tc.url)
			assert.ErrorIs(t, err, tc.want)
			if !strings.HasPrefix(tc.url, "https://") {
				_, berr := blobio.ParseURL(tc.url)
				assert.ErrorIs(t, berr, tc.want, "blobio refuses it the same way")
			}
		})
	}
}
