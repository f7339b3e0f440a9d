package blobio

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAllowList(t *testing.T) {
	o := &Opener{AccountName: "defacct", Accounts: []string{"rmhazuregeobronze", "rmhazuregeosilver"}}
	dir := t.TempDir()
	spec := "abfs://netcdf@rmhazuregeobronze.dfs.core.windows.net/era5/, abfs://archive/cmip6, abfs://rmhazuregeosilver/refs/," +
		"abfs://whole@otheracct.blob.core.windows.net,file://" + dir + "/data/"
	a, err := ParseAllowList(spec, o, true)
	require.NoError(t, err)
	assert.False(t, a.All())
	assert.Contains(t, a.String(), "abfs://archive/cmip6")

	for _, tc := range []struct {
		url  string
		want error // nil: allowed
	}{
		{"abfs://netcdf@rmhazuregeobronze.dfs.core.windows.net/era5/tas_2020.nc", nil},
		{"abfs://netcdf@RMHAZUREGEOBRONZE.blob.core.windows.net/era5/tas_2020.nc", nil},
		{"abfss://netcdf%40rmhazuregeobronze.dfs.core.windows.net/era5/", nil},
		{"abfs://rmhazuregeobronze/netcdf/era5/", nil},
		{"abfs://rmhazuregeobronze/netcdf/era5", nil},
		{"az://rmhazuregeobronze/netcdf/era5/sub/x.nc", nil},
		{"abfs://archive/cmip6/x.nc", nil},
		{"abfs://archive@defacct.dfs.core.windows.net/cmip6/x.nc", nil},
		{"abfs://defacct/archive/cmip6/x.nc", ErrSourceNotAllowed}, // defacct is no path-form account: container "defacct"
		{"abfs://rmhazuregeosilver/refs/era5-temperature/tas_2020.json", nil},
		{"abfs://whole@otheracct.dfs.core.windows.net/any/thing.nc", nil},
		{"file://" + dir + "/data/x.nc", nil},
		{dir + "/data/sub/x.nc", nil},

		{"abfs://rmhazuregeobronze/netcdf/era5-evil/x.nc", ErrSourceNotAllowed},
		{"abfs://rmhazuregeobronze/netcdf/era/x.nc", ErrSourceNotAllowed},
		{"abfs://rmhazuregeobronze/netcdf/ERA5/x.nc", ErrSourceNotAllowed},
		{"abfs://rmhazuregeobronze/netcdf/", ErrSourceNotAllowed},
		{"abfs://rmhazuregeobronze/netcdf2/era5/x.nc", ErrSourceNotAllowed},
		{"abfs://rmhazuregeosilver/netcdf/era5/x.nc", ErrSourceNotAllowed},
		{"abfs://netcdf/era5/x.nc", ErrSourceNotAllowed}, // default account, not bronze
		{"abfs://netcdf@rmhazuregeobronze.dfs.core.chinacloudapi.cn/era5/x.nc", ErrSourceNotAllowed},
		{"abfs://archive/cmip6-evil/x.nc", ErrSourceNotAllowed},
		{"abfs://archive/cmip6x", ErrSourceNotAllowed},
		{"abfs://archive/%63mip6/x.nc", ErrSourceNotAllowed}, // another blob name, literally
		{"abfs://rmhazuregeobronze/netcdf/era5/%2e%2e/secret/x.nc", ErrInvalidURL},
		{"abfs://rmhazuregeobronze/netcdf/era5/../secret/x.nc", ErrInvalidURL},
		{"abfs://rmhazuregeobronze/netcdf/era5%2f..%2fsecret/x.nc", ErrInvalidURL},
		{"abfs://c@attacker.evil.example/x", ErrSourceNotAllowed},
		{"abfs://netcdf@rmhazuregeobronze.dfs.core.windows.net.evil.example/era5/x.nc", ErrSourceNotAllowed},
		{"abfs://netcdf@unknownacct.dfs.core.windows.net/era5/x.nc", ErrSourceNotAllowed},
		{"abfs://rmhazuregeobronze/netcdf/era5/x\x00.nc", ErrInvalidURL},
		{"file://" + dir + "/data-evil/x.nc", ErrSourceNotAllowed},
		{"file://" + dir + "/data/../x.nc", ErrSourceNotAllowed},
		{"/etc/passwd", ErrSourceNotAllowed},
		{"s3://bucket/x", ErrInvalidURL},
	} {
		t.Run(tc.url, func(t *testing.T) {
			loc, err := a.Check(tc.url)
			if tc.want == nil {
				require.NoError(t, err)
				require.NotNil(t, loc)
				return
			}
			assert.Nil(t, loc)
			assert.ErrorIs(t, err, tc.want)
			if tc.want == ErrSourceNotAllowed {
				assert.ErrorIs(t, err, ErrSourceNotAllowed)
			}
		})
	}

	// The canonical location of an allowed URL.
	loc, err := a.Check("ABFS://rmhazuregeobronze/netcdf/era5/x.nc")
	require.NoError(t, err)
	assert.Equal(t, "abfs://rmhazuregeobronze/netcdf/era5/x.nc", loc.String())
	assert.Equal(t, "abfs://netcdf@rmhazuregeobronze.dfs.core.windows.net/era5/x.nc", loc.RefURL())

	// Accounts named by the list may be reached by the Opener.
	assert.True(t, o.hostAllowed("otheracct.blob.core.windows.net"))
	assert.False(t, o.hostAllowed("unknownacct.blob.core.windows.net"))
}

func TestAllowListSymlink(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secret.nc"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data", "ok.nc"), []byte("x"), 0o644))
	require.NoError(t, os.Symlink(filepath.Join(dir, "secret.nc"), filepath.Join(dir, "data", "link.nc")))
	a, err := ParseAllowList("file://"+dir+"/data/", &Opener{}, true)
	require.NoError(t, err)
	_, err = a.Check(filepath.Join(dir, "data", "ok.nc"))
	assert.NoError(t, err)
	_, err = a.Check(filepath.Join(dir, "data", "link.nc"))
	assert.ErrorIs(t, err, ErrSourceNotAllowed)
}

func TestAllowListAll(t *testing.T) {
	o := &Opener{AccountName: "defacct"}
	a, err := ParseAllowList(" * ", o, false)
	require.NoError(t, err)
	assert.True(t, a.All())
	assert.Equal(t, "*", a.String())
	_, err = a.Check("abfs://anything/x.nc")
	assert.NoError(t, err)
	_, err = a.Check("abfs://anything@defacct.blob.core.windows.net/x.nc")
	assert.NoError(t, err)
	// Still strict, still only configured accounts, still no local files.
	for url, want := range map[string]error{
		"abfs://anything/../x.nc":                        ErrInvalidURL,
		"abfs://c@attacker.evil.example/x":               ErrSourceNotAllowed,
		"abfs://cnt@otheracct.dfs.core.windows.net/x.nc": ErrSourceNotAllowed,
		"file:///etc/passwd":                             ErrSourceNotAllowed,
		"/etc/passwd":                                    ErrSourceNotAllowed,
		"abfs://cnt@defacct.dfs.core.windows.net./x.nc":  ErrSourceNotAllowed,
		"abfs://cnt@defacct.dfs.core.windows.net\x00/x":  ErrInvalidURL,
	} {
		_, err := a.Check(url)
		assert.ErrorIs(t, err, want, url)
	}
}

func TestParseAllowListErrors(t *testing.T) {
	o := &Opener{AccountName: "defacct", Accounts: []string{"bronze1"}}
	for _, spec := range []string{
		"", " , ", "*,abfs://cnt/x/", "abfs://../x/", "abfs://c@attacker.evil.example/x/", "s3://b/x/",
		"file:///data/", // needs allowLocal
		"/data/",
		"abfs://bronze1/", // no container
	} {
		_, err := ParseAllowList(spec, o, false)
		assert.ErrorIs(t, err, ErrConfig, spec)
	}
	_, err := ParseAllowList("abfs://cnt/x/", &Opener{}, false)
	assert.ErrorIs(t, err, ErrConfig, "no account for abfs://CONTAINER/")
	_, err = ParseAllowList("abfs://cnt/x/", nil, false)
	assert.ErrorIs(t, err, ErrConfig)
	_, err = ParseAllowList("file:///data/", o, true)
	assert.NoError(t, err)
}
