package blobio

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseURL(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	wdKey := filepath.ToSlash(wd)[1:]

	tests := []struct {
		in   string
		want Location
		str  string // String(); "" means the input
		ref  string
	}{
		{in: "abfs://archive/era5/2020/t2m.nc",
			want: Location{Scheme: "abfs", Container: "archive", Key: "era5/2020/t2m.nc"},
			ref:  "abfs://archive/era5/2020/t2m.nc"},
		{in: "az://archive/dir with space/x%20y.nc",
			want: Location{Scheme: "az", Container: "archive", Key: "dir with space/x%20y.nc"},
			ref:  "abfs://archive/dir with space/x%20y.nc"},
		{in: "abfss://archive@myacct.dfs.core.windows.net/a/b.nc",
			want: Location{Scheme: "abfss", Container: "archive", Account: "myacct", Domain: "dfs.core.windows.net", Key: "a/b.nc"},
			ref:  "abfs://archive@myacct.dfs.core.windows.net/a/b.nc"},
		{in: "abfs://archive@myacct.blob.core.windows.net/a/",
			want: Location{Scheme: "abfs", Container: "archive", Account: "myacct", Domain: "blob.core.windows.net", Key: "a/"},
			ref:  "abfs://archive@myacct.blob.core.windows.net/a/"},
		{in: "abfs://archive",
			want: Location{Scheme: "abfs", Container: "archive"}, str: "abfs://archive/", ref: "abfs://archive/"},
		{in: "ABFS://archive//x.nc",
			want: Location{Scheme: "abfs", Container: "archive", Key: "x.nc"}, str: "abfs://archive/x.nc", ref: "abfs://archive/x.nc"},
		{in: "azblob://archive/a/b.nc?storage_account=acct&localemu=true",
			want: Location{Scheme: "azblob", Container: "archive", Key: "a/b.nc", Query: url.Values{"storage_account": {"acct"}, "localemu": {"true"}}},
			str:  "azblob://archive/a/b.nc?localemu=true&storage_account=acct",
			ref:  "abfs://archive@acct.dfs.core.windows.net/a/b.nc"},
		{in: "azblob://archive/a/b.nc",
			want: Location{Scheme: "azblob", Container: "archive", Key: "a/b.nc", Query: url.Values{}},
			ref:  "abfs://archive/a/b.nc"},
		{in: "mem://bucket/k/x.nc",
			want: Location{Scheme: "mem", Container: "bucket", Key: "k/x.nc"}, ref: "mem://bucket/k/x.nc"},
		{in: "/data/archive/x.nc",
			want: Location{Key: "data/archive/x.nc"}, ref: "/data/archive/x.nc"},
		{in: "/data/archive/",
			want: Location{Key: "data/archive/"}, ref: "/data/archive"},
		{in: "/",
			want: Location{Key: ""}, ref: "/"},
		{in: "rel/x.nc",
			want: Location{Key: wdKey + "/rel/x.nc"}, str: wd + "/rel/x.nc", ref: wd + "/rel/x.nc"},
		{in: "file:///data/x.nc",
			want: Location{Scheme: "file", Key: "data/x.nc"}, ref: "/data/x.nc"},
		{in: "file://localhost/data/x%20y.nc",
			want: Location{Scheme: "file", Key: "data/x y.nc"}, str: "file:///data/x%20y.nc", ref: "/data/x y.nc"},
		{in: "file://./rel/x.nc",
			want: Location{Scheme: "file", Key: wdKey + "/rel/x.nc"}, str: "file://" + wd + "/rel/x.nc", ref: wd + "/rel/x.nc"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseURL(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, *got)
			str := tc.str
			if str == "" {
				str = tc.in
			}
			assert.Equal(t, str, got.String())
			assert.Equal(t, tc.ref, got.RefURL())
			ref, err := RefURL(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.ref, ref)
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, in := range []string{"", "s3://bucket/x.nc", "abfs:///x.nc", "abfs://@acct.dfs.core.windows.net/x", "abfs://c@/x",
		"azblob:///x.nc", "file://otherhost/x.nc", "mem:///x"} {
		_, err := ParseURL(in)
		assert.ErrorIs(t, err, ErrInvalidURL, in)
	}
}

func TestWithKeyAndBlobDomain(t *testing.T) {
	l, err := ParseURL("abfs://c@acct.dfs.core.chinacloudapi.cn/dir/")
	require.NoError(t, err)
	assert.Equal(t, "abfs://c@acct.dfs.core.chinacloudapi.cn/dir/x.nc", l.WithKey("dir/x.nc").String())
	assert.Equal(t, "blob.core.chinacloudapi.cn", l.blobDomain())
	l, _ = ParseURL("abfs://c/dir")
	assert.Equal(t, "blob.core.windows.net", l.blobDomain())
	assert.True(t, l.IsAzure())
	assert.False(t, l.IsLocal())
}
