package blobio

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAllowList(t *testing.T) {
	o := &Opener{AccountName: "defacct", Accounts: []string{"rmhazuregeobronze", "rmhazuregeosilver"}, Credential: fakeCredential{}}
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

// recordingCredential counts token requests.
type recordingCredential struct{ calls *int64 }

func (c recordingCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	*c.calls++
	return azcore.AccessToken{Token: "secret-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// dialRecorder counts the TCP connections an Opener attempts; each fails.
type dialRecorder struct {
	mu    sync.Mutex
	addrs []string
}

var errNoDial = errors.New("test: no connections")

func (d *dialRecorder) dial(_ context.Context, _, addr string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.addrs = append(d.addrs, addr)
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errNoDial}
}

func (d *dialRecorder) dialed() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

// TestNoConnectionToOtherHosts: a URL naming a host the process was not
// configured for is refused before any connection is attempted and before
// a token is asked for; a configured account is dialled (the hook works).
func TestNoConnectionToOtherHosts(t *testing.T) {
	var tokens int64
	rec := &dialRecorder{}
	o := &Opener{AccountName: "myacct", Accounts: []string{"bronzeacct"},
		Credential: recordingCredential{&tokens}, Retry: policy.RetryOptions{MaxRetries: -1}, dial: rec.dial}
	ctx := context.Background()

	for _, tc := range []struct {
		url  string
		want error
	}{
		{"abfs://c@attacker.evil.example/x", ErrSourceNotAllowed},
		{"abfs://cnt@attacker.evil.example/x", ErrSourceNotAllowed},
		{"abfs://cnt@ATTACKER.EVIL.EXAMPLE/x", ErrSourceNotAllowed},
		{"ABFS://cnt@Attacker.Evil.Example/x", ErrSourceNotAllowed},
		{"abfs://cnt%40attacker.evil.example/x", ErrSourceNotAllowed},
		{"abfs://cnt%2540attacker.evil.example/x", ErrInvalidURL},
		{"abfs://cnt@attacker.evil.example/../x", ErrSourceNotAllowed},
		{"abfs://cnt/../x", ErrInvalidURL},
		{"abfs://../x", ErrInvalidURL},
		{"abfs://cnt@myacct.dfs.core.windows.net./x", ErrSourceNotAllowed},
		{"abfs://cnt@attacker.evil.example./x", ErrSourceNotAllowed},
		{"abfs://cnt@10.0.0.1/x", ErrSourceNotAllowed},
		{"abfs://cnt@127.0.0.1:10000/x", ErrSourceNotAllowed},
		{"abfs://cnt@[::1]/x", ErrSourceNotAllowed},
		{"abfs://cnt@169.254.169.254/x", ErrSourceNotAllowed},
		{"abfs://cnt@myacct.dfs.core.windows.net.evil.example/x", ErrSourceNotAllowed},
		{"abfs://cnt@MYACCT.DFS.CORE.WINDOWS.NET.EVIL.EXAMPLE/x", ErrSourceNotAllowed},
		{"abfs://cnt@otheracct.dfs.core.windows.net/x", ErrSourceNotAllowed}, // a real Azure host, not configured
		{"abfs://cnt@otheracct.blob.core.chinacloudapi.cn/x", ErrSourceNotAllowed},
		{"abfs://u:p@cnt@myacct.dfs.core.windows.net/x", ErrInvalidURL},
		{"abfs://cnt@myacct.dfs.core.windows.net@attacker.evil.example/x", ErrInvalidURL},
		{"abfs://cnt/x\x00.nc", ErrInvalidURL},
		{"abfs://cnt\x00@attacker.evil.example/x", ErrInvalidURL},
		{"abfs://cnt/x%00.nc", ErrInvalidURL},
		{"abfs://cnt\\@attacker.evil.example/x", ErrInvalidURL},
		{"abfs://cnt@attacker.evil.example\\@myacct.dfs.core.windows.net/x", ErrInvalidURL},
		{"azblob://cnt/x?storage_account=myacct&domain=attacker.evil.example", ErrSourceNotAllowed},
		{"azblob://cnt/x?storage_account=otheracct", ErrSourceNotAllowed},
		{"azblob://cnt/x?storage_account=myacct&localemu=true", ErrSourceNotAllowed},
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, err := o.Scan(ctx, tc.url, ScanOptions{})
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want)
			_, err = o.OpenObject(ctx, tc.url)
			assert.ErrorIs(t, err, tc.want)
			err = o.WriteAtomic(ctx, tc.url, func(w io.Writer) error { return nil })
			assert.ErrorIs(t, err, tc.want)
			assert.Empty(t, rec.dialed(), "no connection attempted")
			assert.Zero(t, tokens, "no token asked for")
		})
	}

	// The hook sees connections: configured accounts are dialled (and fail).
	for _, u := range []string{"abfs://cnt/x", "abfs://cnt@myacct.dfs.core.windows.net/x", "abfs://bronzeacct/cnt/x"} {
		_, err := o.Scan(ctx, u, ScanOptions{})
		assert.ErrorIs(t, err, ErrUnavailable, u)
	}
	assert.Equal(t, []string{"myacct.blob.core.windows.net:443", "myacct.blob.core.windows.net:443", "bronzeacct.blob.core.windows.net:443"}, rec.dialed())
}

// TestHostGuardPolicy: the per-request guard refuses a host that an
// (otherwise checked) client would reach, before the transport.
func TestHostGuardPolicy(t *testing.T) {
	rec := &dialRecorder{}
	o := &Opener{AccountName: "myacct", Credential: fakeCredential{}, Retry: policy.RetryOptions{MaxRetries: -1}, dial: rec.dial}
	assert.True(t, o.requestHostAllowed("myacct.blob.core.windows.net"))
	assert.True(t, o.requestHostAllowed("MYACCT.dfs.core.windows.net"))
	assert.False(t, o.requestHostAllowed("attacker.evil.example"))
	assert.False(t, o.requestHostAllowed("myacct.blob.core.windows.net.evil.example"))
	o.ConnectionString = devstoreConn("http://127.0.0.1:10000")
	assert.True(t, o.requestHostAllowed("127.0.0.1:10000"))
	assert.False(t, o.requestHostAllowed("127.0.0.1:10001"))
	o.AllowedHosts = []string{"127.0.0.1:10001"}
	assert.True(t, o.requestHostAllowed("127.0.0.1:10001"))
	// A client built around the checks is still refused by the guard.
	client, err := o.containerClient("myacct", "cnt", func(string) string { return "https://myacct.blob.core.windows.net" })
	require.NoError(t, err)
	o.AccountName, o.ConnectionString, o.AllowedHosts = "someone", "", nil
	_, err = client.GetProperties(context.Background(), nil)
	assert.ErrorIs(t, err, ErrSourceNotAllowed)
	assert.Empty(t, rec.dialed())
	assert.True(t, strings.Contains(err.Error(), "myacct.blob.core.windows.net"))
}
