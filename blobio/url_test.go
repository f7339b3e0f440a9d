package blobio

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// assertLocation checks a parsed URL: its fields, its String (in when
// str is empty) and its RefURL.
func assertLocation(t *testing.T, got *Location, want Location, in, str, ref string) {
	t.Helper()
	assert.Equal(t, want, *got)
	if str == "" {
		str = in
	}
	assert.Equal(t, str, got.String())
	assert.Equal(t, ref, got.RefURL())
}

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
			assertLocation(t, got, tc.want, tc.in, tc.str, tc.ref)
			ref, err := RefURL(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.ref, ref)
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, in := range []string{"", "s3://bucket/x.nc", "abfs:///x.nc", "abfs://@acct.dfs.core.windows.net/x", "abfs://cnt@/x",
		"azblob:///x.nc", "file://otherhost/x.nc", "mem:///x"} {
		_, err := ParseURL(in)
		assert.ErrorIs(t, err, ErrInvalidURL, in)
	}
}

func TestWithKeyAndBlobDomain(t *testing.T) {
	l, err := ParseURL("abfs://cnt@acct.dfs.core.chinacloudapi.cn/dir/")
	require.NoError(t, err)
	assert.Equal(t, "abfs://cnt@acct.dfs.core.chinacloudapi.cn/dir/x.nc", l.WithKey("dir/x.nc").String())
	assert.Equal(t, "blob.core.chinacloudapi.cn", l.blobDomain())
	l, _ = ParseURL("abfs://cnt/dir")
	assert.Equal(t, "blob.core.windows.net", l.blobDomain())
	assert.True(t, l.IsAzure())
	assert.False(t, l.IsLocal())
}

// TestParseURLStrict: every spelling that could get around a check is
// refused with a typed error; valid spellings are canonicalised.
func TestParseURLStrict(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"abfs://c@attacker.evil.example/x", ErrSourceNotAllowed},
		{"abfs://cnt@attacker.evil.example/x", ErrSourceNotAllowed},
		{"abfs://cnt@ATTACKER.EVIL.EXAMPLE/x", ErrSourceNotAllowed},
		{"abfs://cnt%40attacker.evil.example/x", ErrSourceNotAllowed},
		{"abfs://cnt%2540attacker.evil.example/x", ErrInvalidURL}, // decoded once: "cnt%40attacker..." is no container name
		{"abfs://cnt@acct.dfs.core.windows.net.evil.example/x", ErrSourceNotAllowed},
		{"abfs://cnt@acct.dfs.core.windows.net./x", ErrSourceNotAllowed},
		{"abfs://cnt@acct.dfs.core.windows.net:443/x", ErrSourceNotAllowed},
		{"abfs://cnt@acct.evil.core.windows.net/x", ErrSourceNotAllowed},
		{"abfs://cnt@10.0.0.1/x", ErrSourceNotAllowed},
		{"abfs://cnt@[::1]/x", ErrSourceNotAllowed},
		{"abfs://cnt@169.254.169.254/metadata", ErrSourceNotAllowed},
		{"abfs://u:p@cnt@acct.dfs.core.windows.net/x", ErrInvalidURL},
		{"abfs://cnt@acct@acct.dfs.core.windows.net/x", ErrInvalidURL},
		{"abfs://cnt@a_c.dfs.core.windows.net/x", ErrInvalidURL},
		{"abfs://cnt@ab.dfs.core.windows.net/x", ErrInvalidURL},
		{"abfs://cnt@abcdefghijklmnopqrstuvwxy.dfs.core.windows.net/x", ErrInvalidURL},
		{"abfs://../x", ErrInvalidURL},
		{"abfs://cnt/../other/x", ErrInvalidURL},
		{"abfs://cnt/era5/../../x", ErrInvalidURL},
		{"abfs://cnt/era5/%2e%2e/x", ErrInvalidURL},
		{"abfs://cnt/era5/%2E./x", ErrInvalidURL},
		{"abfs://cnt/./x", ErrInvalidURL},
		{"abfs://cnt/era5%2fx", ErrInvalidURL},
		{"abfs://cnt/a//b", ErrInvalidURL},
		{"abfs://cnt/a%zz", ErrInvalidURL},
		{"abfs://cnt/a\x00b", ErrInvalidURL},
		{"abfs://cnt/a%00b", ErrInvalidURL},
		{"abfs://cnt\x00@acct.dfs.core.windows.net/x", ErrInvalidURL},
		{"abfs://cnt/a\nb", ErrInvalidURL},
		{"abfs://cnt/a\x7fb", ErrInvalidURL},
		{"abfs://cnt\\@evil.example/x", ErrInvalidURL},
		{"abfs://cnt/a\\..\\b", ErrInvalidURL},
		{"abfs://cnt/a%5cb", ErrInvalidURL},
		{"abfs://C?x#y", ErrInvalidURL},
		{"abfs://cnt/x?y", ErrInvalidURL},
		{"abfs://cnt/x#y", ErrInvalidURL},
		{"abfs://CNT/x", ErrInvalidURL},
		{"abfs://ab/x", ErrInvalidURL},
		{"abfs://a--b/x", ErrInvalidURL},
		{"abfs://-ab/x", ErrInvalidURL},
		{"abfs://ab-/x", ErrInvalidURL},
		{"abfs://a_b/x", ErrInvalidURL},
		{"abfs://" + strings.Repeat("a", 64) + "/x", ErrInvalidURL},
		{"azblob://cnt/a/../b", ErrInvalidURL},
		{"azblob://cnt/a%00b", ErrInvalidURL},
		{"azblob://Cnt/x", ErrInvalidURL},
		{"azblob://cnt/x?storage_account=Bad_Name", ErrInvalidURL},
		{"azblob://u@cnt/x", ErrInvalidURL},
		{"file:///data/x%00.nc", ErrInvalidURL},
		{"/data/x\x00.nc", ErrInvalidURL},
		{"mem://b/../x", ErrInvalidURL},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseURL(tc.in)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want)
			if tc.want == ErrSourceNotAllowed {
				assert.ErrorIs(t, err, ErrSourceNotAllowed)
			} else {
				assert.ErrorIs(t, err, ErrInvalidURL)
			}
		})
	}
}

func TestParseURLCanonical(t *testing.T) {
	for _, tc := range []struct{ in, str string }{
		{"ABFS://cnt@MyAcct.DFS.Core.Windows.Net/Dir/X.nc", "abfs://cnt@myacct.dfs.core.windows.net/Dir/X.nc"},
		{"abfs://cnt%40myacct.blob.core.windows.net/x", "abfs://cnt@myacct.blob.core.windows.net/x"},
		{"abfs://%63nt/x%20y.nc", "abfs://cnt/x%20y.nc"},
		{"abfs://a-b-c/x", "abfs://a-b-c/x"},
		{"abfs://" + strings.Repeat("a", 63) + "/x", "abfs://" + strings.Repeat("a", 63) + "/x"},
		{"abfs://cnt@abcdefghijklmnopqrstuvwx.dfs.core.windows.net/x", "abfs://cnt@abcdefghijklmnopqrstuvwx.dfs.core.windows.net/x"},
		{"/data/a/../b.nc", "/data/b.nc"},
	} {
		l, err := ParseURL(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.str, l.String(), tc.in)
	}
}

// TestOpenerParse: abfs://ACCOUNT/CONTAINER/PATH for the Opener's Accounts,
// the old form for anything else, and AllowedHosts after @.
func TestOpenerParse(t *testing.T) {
	o := &Opener{AccountName: "defacct", Accounts: []string{"rmhazuregeobronze", "rmhazuregeosilver"},
		AllowedHosts: []string{"priv.privatelink.blob.core.windows.net"}}
	for _, tc := range []struct {
		in   string
		want Location
		str  string // "" means the input
		ref  string
	}{
		{in: "abfs://rmhazuregeobronze/netcdf/era5/",
			want: Location{Scheme: "abfs", Account: "rmhazuregeobronze", Container: "netcdf", Key: "era5/", PathStyle: true},
			ref:  "abfs://netcdf@rmhazuregeobronze.dfs.core.windows.net/era5/"},
		{in: "abfs://rmhazuregeosilver/refs/era5-temperature/tas_2020.json",
			want: Location{Scheme: "abfs", Account: "rmhazuregeosilver", Container: "refs", Key: "era5-temperature/tas_2020.json", PathStyle: true},
			ref:  "abfs://refs@rmhazuregeosilver.dfs.core.windows.net/era5-temperature/tas_2020.json"},
		{in: "az://RMHAZUREGEOBRONZE/netcdf",
			want: Location{Scheme: "az", Account: "rmhazuregeobronze", Container: "netcdf", PathStyle: true},
			str:  "az://rmhazuregeobronze/netcdf/",
			ref:  "abfs://netcdf@rmhazuregeobronze.dfs.core.windows.net/"},
		{in: "abfs://netcdf/era5/x.nc",
			want: Location{Scheme: "abfs", Container: "netcdf", Key: "era5/x.nc"},
			ref:  "abfs://netcdf/era5/x.nc"},
		{in: "abfs://defacct/era5/x.nc", // not in Accounts: a container named like the default account
			want: Location{Scheme: "abfs", Container: "defacct", Key: "era5/x.nc"},
			ref:  "abfs://defacct/era5/x.nc"},
		{in: "abfs://netcdf@priv.privatelink.blob.core.windows.net/x.nc",
			want: Location{Scheme: "abfs", Container: "netcdf", Account: "priv", Domain: "privatelink.blob.core.windows.net", Key: "x.nc"},
			ref:  "abfs://netcdf@priv.privatelink.blob.core.windows.net/x.nc"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := o.Parse(tc.in)
			require.NoError(t, err)
			assertLocation(t, got, tc.want, tc.in, tc.str, tc.ref)
			again, err := o.Parse(got.String())
			require.NoError(t, err)
			assert.Equal(t, got, again, "String round-trips")
			fromRef, err := o.Parse(got.RefURL())
			require.NoError(t, err)
			assert.Equal(t, got.Container, fromRef.Container)
			assert.Equal(t, got.Key, fromRef.Key)
			assert.Equal(t, got.Account, fromRef.Account)
		})
	}
	for _, in := range []string{"abfs://rmhazuregeobronze", "abfs://rmhazuregeobronze/", "abfs://rmhazuregeobronze//netcdf/x", "abfs://rmhazuregeobronze/../x",
		"abfs://rmhazuregeobronze/UPPER/x"} {
		_, err := o.Parse(in)
		assert.ErrorIs(t, err, ErrInvalidURL, in)
	}
	// Without the Opener, the same URL is a container of the default account.
	l, err := ParseURL("abfs://rmhazuregeobronze/netcdf/era5/")
	require.NoError(t, err)
	assert.Equal(t, Location{Scheme: "abfs", Container: "rmhazuregeobronze", Key: "netcdf/era5/"}, *l)
	// A host is allowed after @ only when listed.
	_, err = ParseURL("abfs://netcdf@priv.privatelink.blob.core.windows.net/x.nc")
	assert.ErrorIs(t, err, ErrSourceNotAllowed)
}

func TestNewOpenerFromEnvAccounts(t *testing.T) {
	t.Setenv("AZURE_STORAGE_ACCOUNT_NAME", "")
	t.Setenv("AZURE_STORAGE_ACCOUNT", "")
	t.Setenv("VZARR_STORAGE_ACCOUNTS", " RmhAzureGeoBronze, rmhazuregeosilver ,,")
	t.Setenv("VZARR_STORAGE_CONNECTION_STRINGS", "AccountName=a1;BlobEndpoint=http://127.0.0.1:1/a1 | AccountName=a2;BlobEndpoint=http://127.0.0.1:1/a2|")
	t.Setenv("VZARR_STORAGE_ALLOWED_HOSTS", "Host.Example:10000")
	o := NewOpenerFromEnv()
	assert.Equal(t, []string{"rmhazuregeobronze", "rmhazuregeosilver"}, o.Accounts)
	assert.Equal(t, []string{"AccountName=a1;BlobEndpoint=http://127.0.0.1:1/a1", "AccountName=a2;BlobEndpoint=http://127.0.0.1:1/a2"}, o.ConnectionStrings)
	assert.Equal(t, []string{"host.example:10000"}, o.AllowedHosts)
	t.Setenv("VZARR_STORAGE_ACCOUNTS", "")
	t.Setenv("VZARR_STORAGE_CONNECTION_STRINGS", "")
	t.Setenv("VZARR_STORAGE_ALLOWED_HOSTS", "")
	o = NewOpenerFromEnv()
	assert.Empty(t, o.Accounts)
	assert.Empty(t, o.ConnectionStrings)
	assert.Empty(t, o.AllowedHosts)
}

// TestParseEndpointURL: a blob's URL at its Azure endpoint is the abfs
// Location of the blob; other hosts are not Azure (ErrSourceNotAllowed),
// malformed containers and paths are refused (ErrInvalidURL).
func TestParseEndpointURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want *Location
		err  error
	}{
		{url: "https://acct.blob.core.windows.net/refs/a/x.json", want: &Location{Scheme: SchemeABFS, Container: "refs", Account: "acct", Domain: "blob.core.windows.net", Key: "a/x.json"}},
		{url: "HTTP://ACCT.dfs.core.usgovcloudapi.net/refs/a%20b.nc?sv=1&sig=secret", want: &Location{Scheme: SchemeABFS, Container: "refs", Account: "acct", Domain: "dfs.core.usgovcloudapi.net", Key: "a b.nc"}},
		{url: "https://acct.blob.core.windows.net/refs/", want: &Location{Scheme: SchemeABFS, Container: "refs", Account: "acct", Domain: "blob.core.windows.net", Key: ""}},
		{url: "https://example.org/refs/x.json", err: ErrSourceNotAllowed},
		{url: "https://acct.blob.core.windows.net.evil.example/refs/x.json", err: ErrSourceNotAllowed},
		{url: "https://acct.blob.core.windows.net:8443/refs/x.json", err: ErrSourceNotAllowed},
		{url: "https://u:p@acct.blob.core.windows.net/refs/x.json", err: ErrSourceNotAllowed},
		{url: "https://a.blob.core.windows.net/refs/x.json", err: ErrInvalidURL},
		{url: "https://acct.blob.core.windows.net/Refs/x.json", err: ErrInvalidURL},
		{url: "https://acct.blob.core.windows.net/refs/a/../x.json", err: ErrInvalidURL},
		{url: "https://acct.blob.core.windows.net/refs/x%00.json", err: ErrInvalidURL},
		{url: "abfs://refs/x.json", err: ErrInvalidURL},
	} {
		t.Run(tc.url, func(t *testing.T) {
			got, err := ParseEndpointURL(tc.url)
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
