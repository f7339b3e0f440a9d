package azure

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
)

// useDriver registers d as blobio's Azure driver for the test.
func useDriver(t testing.TB, d *driver) {
	blobio.RegisterAzure(d)
	t.Cleanup(func() { blobio.RegisterAzure(&driver{}) })
}

// recordingCredential counts token requests.
type recordingCredential struct{ calls *int64 }

func (c recordingCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	*c.calls++
	return azcore.AccessToken{Token: "secret-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// dialRecorder counts the TCP connections an blobio.Opener attempts; each fails.
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

// transport is an HTTP transport that dials through d.
func (d *dialRecorder) transport() policy.Transporter {
	return &http.Client{Transport: &http.Transport{DialContext: d.dial}}
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
	o := &blobio.Opener{AccountName: "myacct", Accounts: []string{"bronzeacct"},
		Credential: recordingCredential{&tokens}, Retry: blobio.RetryOptions{MaxRetries: -1}}
	useDriver(t, &driver{transport: rec.transport()})
	ctx := context.Background()

	for _, tc := range []struct {
		url  string
		want error
	}{
		{"abfs://c@attacker.evil.example/x", blobio.ErrSourceNotAllowed},
		{"abfs://cnt@attacker.evil.example/x", blobio.ErrSourceNotAllowed},
		{"abfs://cnt@ATTACKER.EVIL.EXAMPLE/x", blobio.ErrSourceNotAllowed},
		{"ABFS://cnt@Attacker.Evil.Example/x", blobio.ErrSourceNotAllowed},
		{"abfs://cnt%40attacker.evil.example/x", blobio.ErrSourceNotAllowed},
		{"abfs://cnt%2540attacker.evil.example/x", blobio.ErrInvalidURL},
		{"abfs://cnt@attacker.evil.example/../x", blobio.ErrSourceNotAllowed},
		{"abfs://cnt/../x", blobio.ErrInvalidURL},
		{"abfs://../x", blobio.ErrInvalidURL},
		{"abfs://cnt@myacct.dfs.core.windows.net./x", blobio.ErrSourceNotAllowed},
		{"abfs://cnt@attacker.evil.example./x", blobio.ErrSourceNotAllowed},
		{"abfs://cnt@10.0.0.1/x", blobio.ErrSourceNotAllowed},
		{"abfs://cnt@127.0.0.1:10000/x", blobio.ErrSourceNotAllowed},
		{"abfs://cnt@[::1]/x", blobio.ErrSourceNotAllowed},
		{"abfs://cnt@169.254.169.254/x", blobio.ErrSourceNotAllowed},
		{"abfs://cnt@myacct.dfs.core.windows.net.evil.example/x", blobio.ErrSourceNotAllowed},
		{"abfs://cnt@MYACCT.DFS.CORE.WINDOWS.NET.EVIL.EXAMPLE/x", blobio.ErrSourceNotAllowed},
		{"abfs://cnt@otheracct.dfs.core.windows.net/x", blobio.ErrSourceNotAllowed}, // a real Azure host, not configured
		{"abfs://cnt@otheracct.blob.core.chinacloudapi.cn/x", blobio.ErrSourceNotAllowed},
		{"abfs://u:p@cnt@myacct.dfs.core.windows.net/x", blobio.ErrInvalidURL},
		{"abfs://cnt@myacct.dfs.core.windows.net@attacker.evil.example/x", blobio.ErrInvalidURL},
		{"abfs://cnt/x\x00.nc", blobio.ErrInvalidURL},
		{"abfs://cnt\x00@attacker.evil.example/x", blobio.ErrInvalidURL},
		{"abfs://cnt/x%00.nc", blobio.ErrInvalidURL},
		{"abfs://cnt\\@attacker.evil.example/x", blobio.ErrInvalidURL},
		{"abfs://cnt@attacker.evil.example\\@myacct.dfs.core.windows.net/x", blobio.ErrInvalidURL},
		{"azblob://cnt/x?storage_account=myacct&domain=attacker.evil.example", blobio.ErrSourceNotAllowed},
		{"azblob://cnt/x?storage_account=otheracct", blobio.ErrSourceNotAllowed},
		{"azblob://cnt/x?storage_account=myacct&localemu=true", blobio.ErrSourceNotAllowed},
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, err := o.Scan(ctx, tc.url, blobio.ScanOptions{})
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
		_, err := o.Scan(ctx, u, blobio.ScanOptions{})
		assert.ErrorIs(t, err, blobio.ErrUnavailable, u)
	}
	assert.Equal(t, []string{"myacct.blob.core.windows.net:443", "myacct.blob.core.windows.net:443", "bronzeacct.blob.core.windows.net:443"}, rec.dialed())
}

// TestHostGuardPolicy: the per-request guard refuses a host that an
// (otherwise checked) client would reach, before the transport.
func TestHostGuardPolicy(t *testing.T) {
	rec := &dialRecorder{}
	o := &blobio.Opener{AccountName: "myacct", Credential: fakeCredential{}, Retry: blobio.RetryOptions{MaxRetries: -1}}
	d := &driver{transport: rec.transport()}
	allowed := func(host string) bool { return o.CheckRequestHost(host) == nil }
	assert.True(t, allowed("myacct.blob.core.windows.net"))
	assert.True(t, allowed("MYACCT.dfs.core.windows.net"))
	assert.False(t, allowed("attacker.evil.example"))
	assert.False(t, allowed("myacct.blob.core.windows.net.evil.example"))
	o.ConnectionString = devstoreConn("http://127.0.0.1:10000")
	assert.True(t, allowed("127.0.0.1:10000"))
	assert.False(t, allowed("127.0.0.1:10001"))
	o.AllowedHosts = []string{"127.0.0.1:10001"}
	assert.True(t, allowed("127.0.0.1:10001"))
	// A client built around the checks is still refused by the guard.
	client, err := d.containerClient(o, "myacct", "cnt", func(string) string { return "https://myacct.blob.core.windows.net" })
	require.NoError(t, err)
	o.AccountName, o.ConnectionString, o.AllowedHosts = "someone", "", nil
	_, err = client.GetProperties(context.Background(), nil)
	assert.ErrorIs(t, err, blobio.ErrSourceNotAllowed)
	assert.Empty(t, rec.dialed())
	assert.True(t, strings.Contains(err.Error(), "myacct.blob.core.windows.net"))
}

// fakeCredential stands in for DefaultAzureCredential; these tests make no
// request with it.
type fakeCredential struct{}

func (fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("fake credential")
}

// TestAccountSelection: which endpoint and authentication each URL gets
// (clients are built without any request).
func TestAccountSelection(t *testing.T) {
	conn := devstoreConn("http://127.0.0.1:10000")
	for _, tc := range []struct {
		name string
		o    *blobio.Opener
		url  string
		want string // container client URL, or an error kind
	}{
		{"conn string, no account in URL", &blobio.Opener{ConnectionString: conn}, "abfs://cnt/x.nc", "http://127.0.0.1:10000/devstoreaccount1/cnt"},
		{"conn string, its account in URL", &blobio.Opener{ConnectionString: conn}, "az://cnt@devstoreaccount1.dfs.core.windows.net/x.nc", "http://127.0.0.1:10000/devstoreaccount1/cnt"},
		{"conn string, another account in URL", &blobio.Opener{ConnectionString: conn, Credential: fakeCredential{}}, "abfs://cnt@other.dfs.core.windows.net/x.nc", "source_not_allowed"},
		{"another account in URL, configured", &blobio.Opener{ConnectionString: conn, Accounts: []string{"other"}, Credential: fakeCredential{}}, "abfs://cnt@other.dfs.core.windows.net/x.nc", "https://other.blob.core.windows.net/cnt"},
		{"another account in URL, allowed host", &blobio.Opener{ConnectionString: conn, AllowedHosts: []string{"other.blob.core.windows.net"}, Credential: fakeCredential{}}, "abfs://cnt@OTHER.dfs.core.windows.net/x.nc", "https://other.blob.core.windows.net/cnt"},
		{"conn string, configured account differs", &blobio.Opener{ConnectionString: conn, AccountName: "mine", Credential: fakeCredential{}}, "abfs://cnt/x.nc", "https://mine.blob.core.windows.net/cnt"},
		{"conn string, configured account same", &blobio.Opener{ConnectionString: conn, AccountName: "devstoreaccount1"}, "abfs://cnt/x.nc", "http://127.0.0.1:10000/devstoreaccount1/cnt"},
		{"account from config", &blobio.Opener{AccountName: "acct", Credential: fakeCredential{}}, "abfs://cnt/x.nc", "https://acct.blob.core.windows.net/cnt"},
		{"account in URL wins", &blobio.Opener{AccountName: "acct", Accounts: []string{"urlacct"}, Credential: fakeCredential{}}, "abfss://cnt@urlacct.dfs.core.usgovcloudapi.net/x.nc", "https://urlacct.blob.core.usgovcloudapi.net/cnt"},
		{"account in URL, not configured", &blobio.Opener{AccountName: "acct", Credential: fakeCredential{}}, "abfss://cnt@urlacct.dfs.core.usgovcloudapi.net/x.nc", "source_not_allowed"},
		{"account path form", &blobio.Opener{AccountName: "acct", Accounts: []string{"bronze"}, Credential: fakeCredential{}}, "abfs://bronze/cnt/x.nc", "https://bronze.blob.core.windows.net/cnt"},
		{"account path form, conn strings", &blobio.Opener{ConnectionString: conn, Accounts: []string{"bronze"}, ConnectionStrings: []string{devstoreConnFor("silver", "http://127.0.0.1:10000"), devstoreConnFor("bronze", "http://127.0.0.1:10000")}}, "abfs://bronze/cnt/x.nc", "http://127.0.0.1:10000/bronze/cnt"},
		{"azblob with storage_account", &blobio.Opener{Accounts: []string{"qacct"}, Credential: fakeCredential{}}, "azblob://cnt/x.nc?storage_account=qacct", "https://qacct.blob.core.windows.net/cnt"},
		{"azblob, unconfigured storage_account", &blobio.Opener{Credential: fakeCredential{}}, "azblob://cnt/x.nc?storage_account=qacct", "source_not_allowed"},
		{"azblob, Azurite by query", &blobio.Opener{AllowedHosts: []string{"127.0.0.1:10000"}, Credential: fakeCredential{}}, "azblob://cnt/x.nc?storage_account=devstoreaccount1&domain=127.0.0.1:10000&protocol=https", "https://127.0.0.1:10000/devstoreaccount1/cnt"},
		{"azblob, other host by query", &blobio.Opener{AccountName: "devstoreaccount1", Credential: fakeCredential{}}, "azblob://cnt/x.nc?storage_account=devstoreaccount1&domain=evil.example&protocol=https", "source_not_allowed"},
		{"azblob via conn string", &blobio.Opener{ConnectionString: conn}, "azblob://cnt/x.nc", "http://127.0.0.1:10000/devstoreaccount1/cnt"},
		{"no account", &blobio.Opener{Credential: fakeCredential{}}, "abfs://cnt/x.nc", "config_error"},
		{"azblob, no account", &blobio.Opener{Credential: fakeCredential{}}, "azblob://cnt/x.nc", "config_error"},
		{"azblob, bad query", &blobio.Opener{Credential: fakeCredential{}}, "azblob://cnt/x.nc?storage_account=a&nonsense=1", "invalid_url"},
		{"azblob, bad protocol", &blobio.Opener{Credential: fakeCredential{}}, "azblob://cnt/x.nc?storage_account=a&protocol=ftp", "invalid_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _, err := tc.o.Open(context.Background(), tc.url)
			if !strings.Contains(tc.want, "://") {
				require.Error(t, err)
				assert.ErrorIs(t, err, errorKinds[tc.want])
				return
			}
			require.NoError(t, err)
			defer b.Close()
			var client *container.Client
			require.True(t, b.As(&client))
			assert.Equal(t, tc.want, client.URL())
		})
	}
}

func TestClientOptionsDefaults(t *testing.T) {
	o := &blobio.Opener{}
	d := &driver{}
	r := d.clientOptions(o).Retry
	assert.Equal(t, policy.RetryOptions{MaxRetries: 3, TryTimeout: 60 * time.Second, RetryDelay: 500 * time.Millisecond, MaxRetryDelay: 8 * time.Second}, r)
	o.Retry = blobio.RetryOptions{MaxRetries: -1, TryTimeout: time.Second}
	r = d.clientOptions(o).Retry
	assert.Equal(t, int32(-1), r.MaxRetries)
	assert.Equal(t, time.Second, r.TryTimeout)
}

// devstoreConn is Azurite's well-known development connection string (a
// public key that works only against the emulator) for an endpoint.
func devstoreConn(endpoint string) string {
	return "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=" + endpoint + "/devstoreaccount1;"
}

// devstoreConnFor is a connection string of another emulator account (the
// devstoreaccount1 key, which no request uses here).
func devstoreConnFor(account, endpoint string) string {
	return "DefaultEndpointsProtocol=http;AccountName=" + account + ";AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=" + endpoint + "/" + account + ";"
}

// scanUnavailable scans abfs://cnt/dir with o, which cannot reach its
// storage, and checks that the bounded retries ended the call with
// ErrUnavailable, not the test's own deadline (a minute); it logs the
// error as what and returns its text.
func scanUnavailable(t *testing.T, o *blobio.Opener, what string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := o.Scan(ctx, "abfs://cnt/dir", blobio.ScanOptions{})
	require.Error(t, err)
	t.Logf("%s: %v", what, err)
	assert.ErrorIs(t, err, blobio.ErrUnavailable)
	assert.NoError(t, ctx.Err(), "the retries ended before the test's deadline")
	return err.Error()
}

// TestStorageDownClosedPort: with nothing listening, the error comes after
// the bounded retries, quickly, and says what happened.
func TestStorageDownClosedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	o := &blobio.Opener{
		ConnectionString: devstoreConn("http://" + addr),
		Retry:            blobio.RetryOptions{MaxRetries: 2, RetryDelay: 50 * time.Millisecond, TryTimeout: time.Second},
	}
	msg := scanUnavailable(t, o, "closed port")
	assert.Contains(t, msg, "connection refused")
	assert.Contains(t, msg, "abfs://cnt/dir")
	assert.Contains(t, msg, "gave up after 3 tries, each with a 1s timeout")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = o.OpenObject(ctx, "abfs://cnt/x.nc")
	assert.ErrorIs(t, err, blobio.ErrUnavailable)
	assert.NoError(t, ctx.Err(), "the retries ended before the test's deadline")
}

// TestStorageDownHang: a server that accepts connections and never answers;
// the per-try timeout and bounded retries end the wait.
func TestStorageDownHang(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	var conns []net.Conn
	var accepted atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conns = append(conns, c) // hold it open, say nothing
		}
	}()
	defer func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	}()

	o := &blobio.Opener{
		ConnectionString: devstoreConn("http://" + l.Addr().String()),
		Retry:            blobio.RetryOptions{MaxRetries: 1, RetryDelay: 50 * time.Millisecond, TryTimeout: 300 * time.Millisecond},
	}
	// The per-try timeout and the bounded retries end the call: two
	// tries, two connections left unanswered.
	assert.Contains(t, scanUnavailable(t, o, "hanging server"), "gave up after 2 tries, each with a 300ms timeout")
	assert.Equal(t, int32(2), accepted.Load(), "two tries")

	// The caller's own deadline is reported as such.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = o.Scan(ctx, "abfs://cnt/dir", blobio.ScanOptions{})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

// errorKinds names the error kinds of the table tests.
var errorKinds = map[string]error{"config_error": blobio.ErrConfig, "invalid_url": blobio.ErrInvalidURL, "source_not_allowed": blobio.ErrSourceNotAllowed}

// TestContainerClientCached: opening a container again reuses the client
// of the first open (the same connection string, URL and driver); another
// container, another Opener or another driver gets its own; a container
// the Opener may not reach is refused on every open, cached client or not.
func TestContainerClientCached(t *testing.T) {
	ctx := context.Background()
	newOpener := func() *blobio.Opener {
		return &blobio.Opener{ConnectionString: devstoreConn("http://127.0.0.1:1"), Accounts: []string{"other"},
			ConnectionStrings: []string{devstoreConnFor("other", "http://127.0.0.1:1")}}
	}
	o := newOpener()
	d := &driver{}
	useDriver(t, d)
	client := func(o *blobio.Opener, url string) *container.Client {
		t.Helper()
		b, _, err := o.Open(ctx, url)
		require.NoError(t, err, url)
		defer b.Close()
		var c *container.Client
		require.True(t, b.As(&c))
		return c
	}
	first := client(o, "abfs://cnt/a.nc")
	for _, tc := range []struct {
		name string
		o    *blobio.Opener
		url  string
		same bool
	}{
		{"same container", o, "abfs://cnt/dir/b.nc", true},
		{"same container, other form", o, "az://cnt/c.nc", true},
		{"other container", o, "abfs://cnt2/a.nc", false},
		{"other account", o, "abfs://other/cnt/a.nc", false},
		{"other opener", newOpener(), "abfs://cnt/a.nc", false},
	} {
		got := client(tc.o, tc.url)
		if tc.same {
			assert.Same(t, first, got, tc.name)
		} else {
			assert.NotSame(t, first, got, tc.name)
		}
	}
	useDriver(t, &driver{})
	assert.NotSame(t, first, client(o, "abfs://cnt/a.nc"), "another driver")

	_, _, err := o.Open(ctx, "abfs://cnt@stranger.dfs.core.windows.net/a.nc")
	assert.ErrorIs(t, err, blobio.ErrSourceNotAllowed, "the allow-list is checked on every open")
}
