// Package blobio turns URLs into gocloud.dev buckets and gives NetCDF/HDF5
// readers what they need from them: a caching io.ReaderAt with few round
// trips (NewReaderAt, over rangeio), listings of an archive (Scan), atomic
// writes of results (WriteAtomic), whole-object reads and conditional writes
// (If-None-Match / If-Match) of small object databases such as Icechunk
// repositories (OpenObjects), the URLs fsspec resolves for chunk
// references (RefURL), and a cache of the heads of objects read or written
// once, for one later open in the same process to use instead of a
// request (HeadCache).
//
// # URLs
//
//   - abfs://CONTAINER/PATH, abfss://..., az://CONTAINER/PATH: as adlfs/fsspec
//     read them; the storage account comes from the Opener (AccountName, or
//     the account of its connection string).
//   - abfs://ACCOUNT/CONTAINER/PATH (also abfss, az) when ACCOUNT is one of
//     Opener.Accounts (VZARR_STORAGE_ACCOUNTS), as the platform writes
//     them (abfs://rmhazuregeobronze/netcdf/era5/). Anything else keeps the
//     form above. Such locations print in the same form (Location.String,
//     scan results); their RefURL is
//     abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH, which adlfs reads.
//   - abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH (also abfss, az,
//     ACCOUNT.blob.core.windows.net and the China and US Government clouds'
//     core.chinacloudapi.cn and core.usgovcloudapi.net): the account is in
//     the URL.
//   - azblob://CONTAINER/PATH?storage_account=A&domain=D&protocol=P&localemu=B:
//     gocloud.dev's form, with its query parameters.
//   - file:///ABS/PATH, file://./REL/PATH, and plain paths (absolute or
//     relative): local files.
//   - mem://NAME/PATH: an in-memory bucket of the Opener's MemBuckets (tests).
//
// Parsing (ParseURL, Opener.Parse) is strict, so that no spelling of a URL
// gets around a check: no control character (NUL, newline, DEL) anywhere;
// for Azure URLs no backslash, query or fragment (but azblob's parameters),
// no "." or ".." path segment and no empty one but a trailing "/", however
// percent-encoded (the container and host are percent-decoded exactly once
// and then checked; the blob name is kept as written, as adlfs does, and
// decoded once only for the checks, so "%2e%2e" and "%2F" are refused);
// container names by Azure's rules (3-63 lower-case letters, digits and
// single hyphens, starting and ending with a letter or digit); account
// names 3-24 lower-case letters and digits; and after "@" only
// ACCOUNT.dfs.SUFFIX or ACCOUNT.blob.SUFFIX of an Azure cloud, or a host
// of Opener.AllowedHosts: no user information, port, IP literal, trailing
// dot or extra label. Host names are lower-cased. Malformed URLs give
// ErrInvalidURL, other hosts ErrSourceNotAllowed.
//
// # Allowed sources and hosts
//
// The Azure credential is sent only to the storage endpoints of the
// accounts the process was configured for: AccountName, Accounts, the
// accounts of the connection strings, the accounts named in an AllowList
// of the Opener, and Opener.AllowedHosts (vzarr's --allow-host,
// VZARR_STORAGE_ALLOWED_HOSTS; an emulator's endpoint comes with its
// connection string). A URL naming any other host is refused with
// ErrSourceNotAllowed before any connection is opened; each request is
// checked again before the credential is attached. HTTP redirects are not
// followed (the Azure driver's client refuses them with ErrRedirect), so
// no request, and no SharedKey signature, SAS query or bearer token, goes
// to the host a 3xx answer names.
//
// A service that takes URLs from callers confines them with an AllowList
// (ParseAllowList): URL prefixes such as
// abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PREFIX/,
// abfs://CONTAINER/PREFIX/ (the configured account),
// abfs://ACCOUNT/CONTAINER/PREFIX/ (Accounts) and, when local files are
// allowed, file:///DIR/, or "*" for everything. AllowList.Check parses a
// URL strictly and matches its canonical account, container and key on
// whole path segments (.../era5/ does not allow .../era5-evil/).
//
// # Credentials
//
// Azure is reached with a connection string only when one is given
// explicitly (Opener.ConnectionString and Opener.ConnectionStrings;
// NewOpenerFromEnv reads AZURE_STORAGE_CONNECTION_STRING and
// VZARR_STORAGE_CONNECTION_STRINGS, several separated by "|") and it is for
// the URL's account; that is how tests reach Azurite, with one connection
// string per emulator account. Otherwise blobio uses Opener.Credential, by
// default azidentity's DefaultAzureCredential (Managed Identity in Azure,
// the Azure CLI login on a workstation, workload identity, environment
// service principals). blobio never reads an account key by itself (no
// AZURE_STORAGE_KEY): a key arrives only inside a connection string that was
// given explicitly.
//
// Every request goes through the Azure SDK pipeline with bounded retries
// and a per-try timeout (Opener.Retry); failures come back as *Error values
// whose kind (ErrNotFound, ErrUnavailable, ...) errors.Is can test. At most
// Opener.MaxRequestsPerEndpoint requests (DefaultMaxRequestsPerEndpoint)
// are in flight to one storage endpoint at once; the others wait in the
// process, outside the per-try timeout (EndpointLimiter).
package blobio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
)

// Default retry policy for Azure requests (see Opener.Retry).
const (
	DefaultMaxRetries    = 3
	DefaultTryTimeout    = 60 * time.Second
	DefaultRetryDelay    = 500 * time.Millisecond
	DefaultMaxRetryDelay = 8 * time.Second
)

// RetryOptions is the retry policy of Azure requests (the Azure SDK's
// policy.RetryOptions, as far as blobio sets it).
type RetryOptions struct {
	// MaxRetries is the number of retries after the first try; < 0 means
	// none.
	MaxRetries int32
	// TryTimeout bounds one try.
	TryTimeout time.Duration
	// RetryDelay is the first delay between tries; it doubles up to
	// MaxRetryDelay.
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
}

// Opener opens blobio URLs with one configuration. The zero value is usable
// (DefaultAzureCredential, default retries, no account, no mem:// buckets;
// with no account configured it reaches no Azure host, only local files).
// An Opener is safe for concurrent use; do not copy it after first use, and
// do not change its fields while it is in use.
type Opener struct {
	// AccountName is the storage account of abfs://CONTAINER/PATH and
	// az://CONTAINER/PATH URLs (and the default of azblob:// URLs).
	AccountName string

	// Accounts are further storage accounts the process works with. An
	// abfs:// (abfss://, az://) URL whose first segment is one of them is
	// read as abfs://ACCOUNT/CONTAINER/PATH. Names are lower case.
	Accounts []string

	// ConnectionString, when set, is used for URLs of its account, and for
	// URLs that name no account when AccountName is empty or the same.
	// Set it explicitly: blobio never reads a key from elsewhere.
	ConnectionString string

	// ConnectionStrings are connection strings of further accounts (an
	// emulator with several accounts): each is used for the URLs of the
	// account it names (its AccountName field).
	ConnectionStrings []string

	// AllowedHosts are hosts (HOST, or HOST:PORT when the URL has a port)
	// that may be reached although they are no storage endpoint of a
	// configured account, such as a private endpoint or an emulator named
	// in an azblob:// URL. Lower case. The credential is sent only to the
	// endpoints of AccountName, Accounts, the connection strings' accounts,
	// accounts named in an AllowList of this Opener, and these hosts; any
	// other host is refused (ErrSourceNotAllowed) before a connection is
	// opened.
	AllowedHosts []string

	// Credential is used for Azure accounts not reached through
	// ConnectionString: an azcore.TokenCredential (blobio's core does not
	// link the Azure SDK; the Azure driver, blobio/azure, uses it). Nil
	// means azidentity's DefaultAzureCredential, created once per process
	// on first use.
	Credential any

	// Retry configures the Azure SDK retry policy. Zero fields take the
	// Default* values above (MaxRetries < 0 means no retries).
	Retry RetryOptions

	// MaxRequestsPerEndpoint bounds the requests in flight from this
	// Opener to one storage endpoint (see EndpointLimiter): 0 means
	// DefaultMaxRequestsPerEndpoint, < 0 no bound.
	// NewOpenerFromEnv reads it from VZARR_STORAGE_MAX_REQUESTS.
	MaxRequestsPerEndpoint int

	// Mem holds the buckets of mem:// URLs; nil rejects mem:// URLs.
	Mem *MemBuckets

	// Logger receives debug logs of opens, scans and writes; nil means
	// slog.Default().
	Logger *slog.Logger

	mu           sync.Mutex
	listAccounts map[string]bool  // accounts named in AllowLists of this Opener
	clients      clientCache      // see CachedClient
	endpoints    endpointLimiters // see EndpointLimiter
	local        struct {         // the bucket OpenObject shares for local files
		once   sync.Once
		bucket *blob.Bucket
		err    error
	}
}

// openLocalBucket opens a bucket of local files: the file system root, so
// that keys are absolute paths and a scan of any directory is a prefix
// listing.
func openLocalBucket() (*blob.Bucket, error) {
	return fileblob.OpenBucket("/", &fileblob.Options{NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
}

// localBucket is the Opener's bucket of local files, opened once and never
// closed (a file system bucket holds no resources), which the objects of
// local files share.
func (o *Opener) localBucket() (*blob.Bucket, error) {
	o.local.once.Do(func() { o.local.bucket, o.local.err = openLocalBucket() })
	return o.local.bucket, o.local.err
}

// NewOpenerFromEnv returns an Opener configured from the environment:
//
//   - AccountName from AZURE_STORAGE_ACCOUNT_NAME (or AZURE_STORAGE_ACCOUNT);
//   - Accounts from VZARR_STORAGE_ACCOUNTS, a comma-separated list;
//   - ConnectionString from AZURE_STORAGE_CONNECTION_STRING;
//   - ConnectionStrings from VZARR_STORAGE_CONNECTION_STRINGS, connection
//     strings separated by "|" (for an emulator with several accounts);
//   - AllowedHosts from VZARR_STORAGE_ALLOWED_HOSTS, a comma-separated list;
//   - MaxRequestsPerEndpoint from VZARR_STORAGE_MAX_REQUESTS, an integer
//     (a value that is no integer is ignored).
func NewOpenerFromEnv() *Opener {
	acct := os.Getenv("AZURE_STORAGE_ACCOUNT_NAME")
	if acct == "" {
		acct = os.Getenv("AZURE_STORAGE_ACCOUNT")
	}
	maxReqs, _ := strconv.Atoi(strings.TrimSpace(os.Getenv("VZARR_STORAGE_MAX_REQUESTS")))
	return &Opener{AccountName: acct, ConnectionString: os.Getenv("AZURE_STORAGE_CONNECTION_STRING"),
		Accounts:               SplitList(os.Getenv("VZARR_STORAGE_ACCOUNTS"), ","),
		ConnectionStrings:      SplitList(os.Getenv("VZARR_STORAGE_CONNECTION_STRINGS"), "|"),
		AllowedHosts:           SplitList(os.Getenv("VZARR_STORAGE_ALLOWED_HOSTS"), ","),
		MaxRequestsPerEndpoint: maxReqs,
	}
}

// SplitList splits s at sep and returns the non-empty items, trimmed of
// spaces; with sep "," (lists of names) they are also lower-cased.
func SplitList(s, sep string) []string {
	var out []string
	for _, item := range strings.Split(s, sep) {
		item = strings.TrimSpace(item)
		if sep == "," {
			item = strings.ToLower(item)
		}
		if item != "" {
			out = append(out, item)
		}
	}
	return out
}

func (o *Opener) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// Open returns the bucket holding the object (or prefix) that rawURL names
// and its key in the bucket. The caller must Close the bucket. Open makes no
// request: a missing container shows up on the first operation.
func (o *Opener) Open(ctx context.Context, rawURL string) (*blob.Bucket, string, error) {
	loc, err := o.Parse(rawURL)
	if err != nil {
		return nil, "", wrap(ctx, "open", rawURL, err)
	}
	b, err := o.OpenLocation(ctx, loc)
	if err != nil {
		return nil, "", wrap(ctx, "open", rawURL, err)
	}
	return b, loc.Key, nil
}

// OpenLocation returns the bucket of a parsed location; the key is loc.Key.
func (o *Opener) OpenLocation(ctx context.Context, loc *Location) (*blob.Bucket, error) {
	switch {
	case loc.IsLocal():
		return openLocalBucket()
	case loc.Scheme == SchemeMem:
		if o.Mem == nil {
			return nil, fmt.Errorf("%w: mem:// URLs need Opener.Mem", ErrConfig)
		}
		b, ok := o.Mem.open(loc.Container)
		if !ok {
			return nil, fmt.Errorf("%w: no mem bucket %q", ErrNotFound, loc.Container)
		}
		return b, nil
	case loc.IsAzure():
		d := registeredAzure()
		serviceURL := func(account string) string { return "https://" + account + "." + loc.blobDomain() }
		if d == nil {
			if loc.Scheme != SchemeAZBlob {
				// The same checks as with the driver, the same errors.
				if _, err := o.AzureContainer(loc.Account, loc.Container, serviceURL); err != nil {
					return nil, err
				}
			}
			return nil, fmt.Errorf("%w: %s:// URLs need the Azure driver: import _ %q", ErrConfig, loc.Scheme, "github.com/greensight/vzarr/blobio/azure")
		}
		if loc.Scheme != SchemeAZBlob {
			return d.OpenContainer(ctx, o, loc.Account, loc.Container, serviceURL)
		}
		account := loc.Query.Get("storage_account")
		if account == "" {
			account = o.accountName()
		}
		b, err := d.OpenAZBlob(ctx, o, account, loc.Container, loc.Query)
		if err != nil && classify(ctx, err) == nil {
			// gocloud.dev's own checks of the query parameters.
			err = fmt.Errorf("%w: %v", ErrInvalidURL, err)
		}
		return b, err
	}
	return nil, fmt.Errorf("%w: unknown scheme %q", ErrInvalidURL, loc.Scheme)
}

// AccountOf returns the storage account of an Azure location: the one
// its URL names (abfs://CONTAINER@ACCOUNT..., abfs://ACCOUNT/CONTAINER/...,
// azblob://...?storage_account=ACCOUNT), else the configured one
// (AccountName, else the account of ConnectionString); "" when none is
// known or loc is not in Azure.
func (o *Opener) AccountOf(loc *Location) string {
	switch {
	case !loc.IsAzure():
		return ""
	case loc.Account != "":
		return loc.Account
	case loc.Scheme == SchemeAZBlob && loc.Query.Get("storage_account") != "":
		return loc.Query.Get("storage_account")
	}
	return strings.ToLower(o.accountName())
}

// accountName is the configured default account: AccountName, else the
// account of the connection string.
func (o *Opener) accountName() string {
	if o.AccountName != "" {
		return o.AccountName
	}
	return connStringField(o.ConnectionString, "AccountName")
}

// AzureContainer is how an Azure container is reached, as the Opener's
// configuration decides (see Opener.AzureContainer): with
// ConnectionString when it is set, else at URL with the Opener's
// Credential.
type AzureContainer struct {
	Account          string // the storage account, as configured or named
	Name             string // the container
	ConnectionString string // for the container's account (it may hold a key)
	URL              string // https://HOST/CONTAINER, when ConnectionString is empty
}

// ConfigError reports a connection string the Azure SDK refused, without
// echoing its key: an error wrapping ErrConfig.
func (c AzureContainer) ConfigError(err error) error {
	return fmt.Errorf("%w: bad connection string: %v", ErrConfig, redact(err.Error(), c.ConnectionString))
}

// AzureContainer decides how the Azure driver reaches containerName of
// account ("" for the configured one): through the connection string of
// the account when one is configured, else at serviceURL(account) with
// the credential, when its host is one the Opener may reach (a storage
// endpoint of a configured account or an allowed host), else
// ErrSourceNotAllowed; ErrConfig when no account is known. It is the
// check a driver makes before it creates a client.
func (o *Opener) AzureContainer(account, containerName string, serviceURL func(account string) string) (AzureContainer, error) {
	if account == "" {
		account = strings.ToLower(o.AccountName)
	}
	if cs := o.connStringFor(account); cs != "" {
		connAccount := connStringField(cs, "AccountName")
		o.logger().Debug("blobio: azure container", "container", containerName, "account", connAccount, "auth", "connection-string")
		return AzureContainer{Account: connAccount, Name: containerName, ConnectionString: cs}, nil
	}
	if account == "" {
		return AzureContainer{}, fmt.Errorf("%w: no storage account for container %q: set AZURE_STORAGE_ACCOUNT_NAME (Opener.AccountName) or name it in the URL (abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH)", ErrConfig, containerName)
	}
	u := strings.TrimSuffix(serviceURL(account), "/") + "/" + containerName
	if pu, err := url.Parse(u); err != nil || !o.hostAllowed(pu.Host) {
		host := u
		if err == nil {
			host = pu.Host
		}
		return AzureContainer{}, fmt.Errorf("%w: %s is no storage endpoint of a configured account (AZURE_STORAGE_ACCOUNT_NAME, VZARR_STORAGE_ACCOUNTS) nor an allowed host (--allow-host); nothing was sent to it", ErrSourceNotAllowed, host)
	}
	o.logger().Debug("blobio: azure container", "container", containerName, "account", account, "auth", "token-credential", "endpoint", u)
	return AzureContainer{Account: account, Name: containerName, URL: u}, nil
}

// RetryPolicy returns Retry with the defaults filled in.
func (o *Opener) RetryPolicy() RetryOptions {
	r := o.Retry
	if r.MaxRetries == 0 {
		r.MaxRetries = DefaultMaxRetries
	}
	if r.TryTimeout == 0 {
		r.TryTimeout = DefaultTryTimeout
	}
	if r.RetryDelay == 0 {
		r.RetryDelay = DefaultRetryDelay
	}
	if r.MaxRetryDelay == 0 {
		r.MaxRetryDelay = DefaultMaxRetryDelay
	}
	return r
}

// CheckRequestHost is the last line of defence of the Azure driver, run
// for every request before the credential is attached and before any
// connection: nil when the Opener may reach host (see AzureContainer, and
// the endpoints of the configured connection strings, such as an
// emulator's), else an error wrapping ErrSourceNotAllowed.
func (o *Opener) CheckRequestHost(host string) error {
	if !o.requestHostAllowed(host) {
		return fmt.Errorf("%w: request to %s refused: no storage endpoint of a configured account nor an allowed host", ErrSourceNotAllowed, host)
	}
	return nil
}

// connStringFor returns the connection string for the URLs of account
// ("" for URLs that name none): the one of ConnectionStrings that names
// the account, else ConnectionString when it is for that account (or names
// none, or the URL names none).
func (o *Opener) connStringFor(account string) string {
	for _, cs := range o.ConnectionStrings {
		if a := connStringField(cs, "AccountName"); a != "" && strings.EqualFold(a, account) {
			return cs
		}
	}
	connAccount := connStringField(o.ConnectionString, "AccountName")
	if o.ConnectionString != "" && (account == "" || connAccount == "" || strings.EqualFold(account, connAccount)) {
		return o.ConnectionString
	}
	return ""
}

// isPathAccount reports whether a (lower case) is one of o.Accounts, so
// that abfs://a/... is abfs://ACCOUNT/CONTAINER/PATH.
func (o *Opener) isPathAccount(a string) bool {
	if o == nil {
		return false
	}
	for _, x := range o.Accounts {
		if strings.EqualFold(x, a) {
			return true
		}
	}
	return false
}

// hostListed reports whether host (lower case) is one of o.AllowedHosts.
func (o *Opener) hostListed(host string) bool {
	if o == nil {
		return false
	}
	for _, h := range o.AllowedHosts {
		if strings.EqualFold(strings.TrimSpace(h), host) {
			return true
		}
	}
	return false
}

// configuredAccount reports whether the Opener was configured for account
// a: AccountName, Accounts, the account of a connection string, or one
// named in an AllowList of this Opener.
func (o *Opener) configuredAccount(a string) bool {
	if a == "" {
		return false
	}
	if strings.EqualFold(a, o.AccountName) || o.isPathAccount(a) ||
		strings.EqualFold(a, connStringField(o.ConnectionString, "AccountName")) {
		return true
	}
	for _, cs := range o.ConnectionStrings {
		if strings.EqualFold(a, connStringField(cs, "AccountName")) {
			return true
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.listAccounts[strings.ToLower(a)]
}

// allowAccount adds an account named in an AllowList to the configured ones.
func (o *Opener) allowAccount(a string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.listAccounts == nil {
		o.listAccounts = map[string]bool{}
	}
	o.listAccounts[strings.ToLower(a)] = true
}

// hostAllowed reports whether the credential may be sent to host: a
// storage endpoint (ACCOUNT.blob.SUFFIX or ACCOUNT.dfs.SUFFIX of an Azure
// cloud) of a configured account, or one of AllowedHosts.
func (o *Opener) hostAllowed(host string) bool {
	h := strings.ToLower(host)
	if o.hostListed(h) {
		return true
	}
	acct, domain, _ := strings.Cut(h, ".")
	return isAzureDomain(domain) && o.configuredAccount(acct)
}

// requestHostAllowed is hostAllowed, or the endpoint of a configured
// connection string (an emulator's).
func (o *Opener) requestHostAllowed(host string) bool {
	if o.hostAllowed(host) {
		return true
	}
	for _, cs := range append([]string{o.ConnectionString}, o.ConnectionStrings...) {
		if ep := connStringField(cs, "BlobEndpoint"); ep != "" {
			if u, err := url.Parse(ep); err == nil && u.Host != "" && strings.EqualFold(u.Host, host) {
				return true
			}
		}
	}
	return false
}

// explain adds the retry policy to an ErrUnavailable error of an Azure
// location, so that the message says how long blobio tried.
func (o *Opener) explain(loc *Location, err error) error {
	var be *Error
	if loc == nil || !loc.IsAzure() || !errors.Is(err, ErrUnavailable) || !errors.As(err, &be) {
		return err
	}
	r := o.RetryPolicy()
	tries := max(r.MaxRetries, 0) + 1
	c := *be
	c.Err = fmt.Errorf("%w (gave up after %d tries, each with a %v timeout)", be.Err, tries, r.TryTimeout)
	return &c
}

// connStringField returns a field of an Azure connection string.
func connStringField(cs, name string) string {
	for _, part := range strings.Split(cs, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// redact removes the account key of a connection string from a message.
func redact(msg, cs string) string {
	if key := connStringField(cs, "AccountKey"); key != "" {
		msg = strings.ReplaceAll(msg, key, "REDACTED")
	}
	return msg
}
