// Package blobio turns URLs into gocloud.dev buckets and gives NetCDF/HDF5
// readers what they need from them: a caching io.ReaderAt with few round
// trips (NewReaderAt, over rangeio), listings of an archive (Scan), atomic
// writes of results (WriteAtomic), and the URLs fsspec resolves for chunk
// references (RefURL).
//
// # URLs
//
//   - abfs://CONTAINER/PATH, abfss://..., az://CONTAINER/PATH: as adlfs/fsspec
//     read them; the storage account comes from the Opener (AccountName, or
//     the account of its connection string).
//   - abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH (also abfss, az,
//     and ACCOUNT.blob.core.windows.net): the account is in the URL.
//   - azblob://CONTAINER/PATH?storage_account=A&domain=D&protocol=P&localemu=B:
//     gocloud.dev's form, with its query parameters.
//   - file:///ABS/PATH, file://./REL/PATH, and plain paths (absolute or
//     relative): local files.
//   - mem://NAME/PATH: an in-memory bucket of the Opener's MemBuckets (tests).
//
// # Credentials
//
// Azure is reached with a connection string only when one is given
// explicitly (Opener.ConnectionString; NewOpenerFromEnv reads
// AZURE_STORAGE_CONNECTION_STRING) and it is for the URL's account; that is
// how tests reach Azurite. Otherwise blobio uses Opener.Credential, by
// default azidentity's DefaultAzureCredential (Managed Identity in Azure,
// the Azure CLI login on a workstation, workload identity, environment
// service principals). blobio never reads an account key by itself (no
// AZURE_STORAGE_KEY): a key arrives only inside a connection string that was
// given explicitly.
//
// Every request goes through the Azure SDK pipeline with bounded retries
// and a per-try timeout (Opener.Retry); failures come back as *Error values
// whose kind (ErrNotFound, ErrUnavailable, ...) errors.Is can test.
package blobio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/fileblob"
)

// Default retry policy for Azure requests (see Opener.Retry).
const (
	DefaultMaxRetries    = 3
	DefaultTryTimeout    = 60 * time.Second
	DefaultRetryDelay    = 500 * time.Millisecond
	DefaultMaxRetryDelay = 8 * time.Second
)

// Opener opens blobio URLs with one configuration. The zero value is usable
// (DefaultAzureCredential, default retries, no account, no mem:// buckets).
// An Opener is safe for concurrent use; do not copy it after first use.
type Opener struct {
	// AccountName is the storage account of abfs://CONTAINER/PATH and
	// az://CONTAINER/PATH URLs (and the default of azblob:// URLs).
	AccountName string

	// ConnectionString, when set, is used for URLs of its account, and for
	// URLs that name no account when AccountName is empty or the same.
	// Set it explicitly: blobio never reads a key from elsewhere.
	ConnectionString string

	// Credential is used for Azure accounts not reached through
	// ConnectionString. Nil means azidentity.NewDefaultAzureCredential,
	// created once on first use.
	Credential azcore.TokenCredential

	// Retry configures the Azure SDK retry policy. Zero fields take the
	// Default* values above (MaxRetries < 0 means no retries).
	Retry policy.RetryOptions

	// Mem holds the buckets of mem:// URLs; nil rejects mem:// URLs.
	Mem *MemBuckets

	// Logger receives debug logs of opens, scans and writes; nil means
	// slog.Default().
	Logger *slog.Logger

	credOnce sync.Once
	cred     azcore.TokenCredential
	credErr  error
}

// NewOpenerFromEnv returns an Opener configured from the environment:
// AccountName from AZURE_STORAGE_ACCOUNT_NAME (or AZURE_STORAGE_ACCOUNT),
// ConnectionString from AZURE_STORAGE_CONNECTION_STRING.
func NewOpenerFromEnv() *Opener {
	acct := os.Getenv("AZURE_STORAGE_ACCOUNT_NAME")
	if acct == "" {
		acct = os.Getenv("AZURE_STORAGE_ACCOUNT")
	}
	return &Opener{AccountName: acct, ConnectionString: os.Getenv("AZURE_STORAGE_CONNECTION_STRING")}
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
	loc, err := ParseURL(rawURL)
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
		// The bucket is the file system root, so that keys are absolute
		// paths and a scan of any directory is a prefix listing.
		return fileblob.OpenBucket("/", &fileblob.Options{NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
	case loc.Scheme == SchemeMem:
		if o.Mem == nil {
			return nil, fmt.Errorf("%w: mem:// URLs need Opener.Mem", ErrConfig)
		}
		b, ok := o.Mem.open(loc.Container)
		if !ok {
			return nil, fmt.Errorf("%w: no mem bucket %q", ErrNotFound, loc.Container)
		}
		return b, nil
	case loc.Scheme == SchemeAZBlob:
		return o.openAZBlob(ctx, loc)
	case loc.IsAzure():
		client, err := o.containerClient(loc.Account, loc.Container, func(account string) string {
			return "https://" + account + "." + loc.blobDomain()
		})
		if err != nil {
			return nil, err
		}
		return azureblob.OpenBucket(ctx, client, nil)
	}
	return nil, fmt.Errorf("%w: unknown scheme %q", ErrInvalidURL, loc.Scheme)
}

// openAZBlob opens azblob:// URLs with gocloud.dev's URL opener (its query
// parameters and service URL rules) and blobio's credentials.
func (o *Opener) openAZBlob(ctx context.Context, loc *Location) (*blob.Bucket, error) {
	account := loc.Query.Get("storage_account")
	if account == "" {
		account = o.accountName()
	}
	opener := &azureblob.URLOpener{
		ServiceURLOptions: azureblob.ServiceURLOptions{AccountName: account},
		MakeClient: func(svcURL azureblob.ServiceURL, containerName azureblob.ContainerName) (*container.Client, error) {
			return o.containerClient(account, string(containerName), func(string) string { return string(svcURL) })
		},
	}
	if account == "" {
		// Let a connection string supply the endpoint; gocloud.dev wants
		// an account name for the service URL it would not use.
		opener.ServiceURLOptions.AccountName = "unused"
	}
	b, err := opener.OpenBucketURL(ctx, &url.URL{Scheme: SchemeAZBlob, Host: loc.Container, RawQuery: loc.Query.Encode()})
	if err != nil && classify(ctx, err) == nil {
		// gocloud.dev's own checks of the query parameters.
		err = fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	return b, err
}

// accountName is the configured default account: AccountName, else the
// account of the connection string.
func (o *Opener) accountName() string {
	if o.AccountName != "" {
		return o.AccountName
	}
	return connStringField(o.ConnectionString, "AccountName")
}

// containerClient returns a client for a container of account ("" for the
// configured one). serviceURL gives the service URL of an account for
// credential-based access.
func (o *Opener) containerClient(account, containerName string, serviceURL func(account string) string) (*container.Client, error) {
	opts := &container.ClientOptions{ClientOptions: o.clientOptions()}
	if account == "" {
		account = o.AccountName
	}
	connAccount := connStringField(o.ConnectionString, "AccountName")
	if o.ConnectionString != "" && (account == "" || connAccount == "" || strings.EqualFold(account, connAccount)) {
		client, err := container.NewClientFromConnectionString(o.ConnectionString, containerName, opts)
		if err != nil {
			// Do not echo the connection string: it may hold a key.
			return nil, fmt.Errorf("%w: bad connection string: %v", ErrConfig, redact(err.Error(), o.ConnectionString))
		}
		o.logger().Debug("blobio: azure container", "container", containerName, "account", connAccount, "auth", "connection-string", "endpoint", client.URL())
		return client, nil
	}
	if account == "" {
		return nil, fmt.Errorf("%w: no storage account for container %q: set AZURE_STORAGE_ACCOUNT_NAME (Opener.AccountName) or name it in the URL (abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH)", ErrConfig, containerName)
	}
	cred, err := o.credential()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPermission, err)
	}
	u := strings.TrimSuffix(serviceURL(account), "/") + "/" + containerName
	o.logger().Debug("blobio: azure container", "container", containerName, "account", account, "auth", "token-credential", "endpoint", u)
	return container.NewClient(u, cred, opts)
}

func (o *Opener) credential() (azcore.TokenCredential, error) {
	if o.Credential != nil {
		return o.Credential, nil
	}
	o.credOnce.Do(func() {
		o.cred, o.credErr = azidentity.NewDefaultAzureCredential(nil)
	})
	return o.cred, o.credErr
}

// clientOptions returns the Azure SDK options: bounded retries with a per-try
// timeout, and vzarr's application id.
func (o *Opener) clientOptions() azcore.ClientOptions {
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
	return azcore.ClientOptions{
		Retry:     r,
		Telemetry: policy.TelemetryOptions{ApplicationID: "vzarr"},
	}
}

// explain adds the retry policy to an ErrUnavailable error of an Azure
// location, so that the message says how long blobio tried.
func (o *Opener) explain(loc *Location, err error) error {
	var be *Error
	if loc == nil || !loc.IsAzure() || !errors.Is(err, ErrUnavailable) || !errors.As(err, &be) {
		return err
	}
	r := o.clientOptions().Retry
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
