// Package azure is blobio's Azure Blob Storage driver: the code that needs
// the Azure SDK (clients from connection strings or token credentials,
// retries, conditional reads, the SDK's errors). Importing it registers it
// with blobio, as gocloud.dev's drivers register with their URL muxes:
//
//	import _ "github.com/greensight/vzarr/blobio/azure"
//
// Which hosts may be reached and with which credential stays blobio's
// decision (Opener.AzureContainer, Opener.CheckRequestHost): the driver asks
// before it creates a client, and again before every request.
package azure

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"

	"github.com/greensight/vzarr/blobio"
)

func init() { blobio.RegisterAzure(&driver{}) }

// driver implements blobio.AzureDriver.
type driver struct {
	// transport, when set, replaces the SDK's HTTP transport (tests count
	// connection attempts and requests with it).
	transport policy.Transporter
}

// defaultCredential is DefaultAzureCredential, created once per process on
// first use.
var defaultCredential = sync.OnceValues(func() (azcore.TokenCredential, error) {
	return azidentity.NewDefaultAzureCredential(nil)
})

// OpenContainer implements blobio.AzureDriver.
func (d *driver) OpenContainer(ctx context.Context, o *blobio.Opener, account, containerName string, serviceURL func(string) string) (*blob.Bucket, error) {
	client, err := d.containerClient(o, account, containerName, serviceURL)
	if err != nil {
		return nil, err
	}
	return azureblob.OpenBucket(ctx, client, nil)
}

// OpenAZBlob implements blobio.AzureDriver with gocloud.dev's URL opener
// (its query parameters and service URL rules) and blobio's credentials.
func (d *driver) OpenAZBlob(ctx context.Context, o *blobio.Opener, account, containerName string, query url.Values) (*blob.Bucket, error) {
	opener := &azureblob.URLOpener{
		ServiceURLOptions: azureblob.ServiceURLOptions{AccountName: account},
		MakeClient: func(svcURL azureblob.ServiceURL, containerName azureblob.ContainerName) (*container.Client, error) {
			return d.containerClient(o, account, string(containerName), func(string) string { return string(svcURL) })
		},
	}
	if account == "" {
		// Let a connection string supply the endpoint; gocloud.dev wants
		// an account name for the service URL it would not use.
		opener.ServiceURLOptions.AccountName = "unused"
	}
	return opener.OpenBucketURL(ctx, &url.URL{Scheme: blobio.SchemeAZBlob, Host: containerName, RawQuery: query.Encode()})
}

// containerClient returns a client for a container that o allows: the one
// o cached for the same container, connection string or URL, and driver
// (Opener.CachedClient), else a new one. Whether o allows the container
// is decided on every call.
func (d *driver) containerClient(o *blobio.Opener, account, containerName string, serviceURL func(string) string) (*container.Client, error) {
	c, err := o.AzureContainer(account, containerName, serviceURL)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("azure\x00%p\x00%s\x00%s\x00%s", d, c.Name, c.ConnectionString, c.URL)
	client, err := o.CachedClient(key, func() (any, error) { return d.newContainerClient(o, c) })
	if err != nil {
		return nil, err
	}
	return client.(*container.Client), nil
}

// newContainerClient makes a client for a container o allowed.
func (d *driver) newContainerClient(o *blobio.Opener, c blobio.AzureContainer) (*container.Client, error) {
	containerName := c.Name
	opts := &container.ClientOptions{ClientOptions: d.clientOptions(o)}
	if c.ConnectionString != "" {
		client, err := container.NewClientFromConnectionString(c.ConnectionString, containerName, opts)
		if err != nil {
			return nil, c.ConfigError(err)
		}
		return client, nil
	}
	cred, err := credential(o)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", blobio.ErrPermission, err)
	}
	return container.NewClient(c.URL, cred, opts)
}

// credential is o.Credential, else the process's DefaultAzureCredential.
func credential(o *blobio.Opener) (azcore.TokenCredential, error) {
	if o.Credential == nil {
		return defaultCredential()
	}
	cred, ok := o.Credential.(azcore.TokenCredential)
	if !ok {
		return nil, fmt.Errorf("%w: Opener.Credential is a %T, not an azcore.TokenCredential", blobio.ErrConfig, o.Credential)
	}
	return cred, nil
}

// clientOptions returns the Azure SDK options: bounded retries with a
// per-try timeout, vzarr's application id, and the host guard.
func (d *driver) clientOptions(o *blobio.Opener) azcore.ClientOptions {
	r := o.RetryPolicy()
	opts := azcore.ClientOptions{
		Retry: policy.RetryOptions{MaxRetries: r.MaxRetries, TryTimeout: r.TryTimeout,
			RetryDelay: r.RetryDelay, MaxRetryDelay: r.MaxRetryDelay},
		Telemetry:       policy.TelemetryOptions{ApplicationID: "vzarr"},
		PerCallPolicies: []policy.Policy{hostGuard{o}, endpointLimit{o}},
	}
	opts.Transport = httpClient
	if d.transport != nil {
		opts.Transport = noRedirects(d.transport)
	}
	return opts
}

// httpClient sends the requests of every client the driver makes: the
// Azure SDK's default transport settings (bounded dials and handshakes,
// TLS 1.2 or later, proxies from the environment), and no redirects
// followed. The SDK's own default client follows up to ten, to whatever
// host the Location header names, after the host guard has run and with
// the request's SAS query or bearer token; refusing them keeps credentials
// to the hosts blobio allowed.
var httpClient = &http.Client{Transport: newTransport(), CheckRedirect: refuseRedirect}

// newTransport returns an HTTP transport with the settings of the Azure
// SDK's default one.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.ForceAttemptHTTP2 = true
	t.MaxIdleConns = 100
	t.MaxIdleConnsPerHost = 10
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ExpectContinueTimeout = time.Second
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, Renegotiation: tls.RenegotiateFreelyAsClient}
	return t
}

// noRedirects returns t, an HTTP client (tests set their own), refusing
// redirects; other transporters are used as they are.
func noRedirects(t policy.Transporter) policy.Transporter {
	c, ok := t.(*http.Client)
	if !ok {
		return t
	}
	cc := *c
	cc.CheckRedirect = refuseRedirect
	return &cc
}

// refuseRedirect is the CheckRedirect of the driver's HTTP clients: no
// redirect is followed.
func refuseRedirect(req *http.Request, via []*http.Request) error {
	from := ""
	if len(via) > 0 {
		from = via[len(via)-1].URL.Host
	}
	return &redirectError{from: from, to: req.URL.Host}
}

// redirectError is a refused redirect: blobio.ErrRedirect, and not
// retried by the SDK (a storage that redirects once will again).
type redirectError struct{ from, to string }

func (e *redirectError) Error() string {
	return fmt.Sprintf("%s answered with a redirect to %s, which is not followed", e.from, e.to)
}

func (e *redirectError) Unwrap() error { return blobio.ErrRedirect }

// NonRetriable tells the SDK's retry policy not to retry.
func (e *redirectError) NonRetriable() {}

// hostGuard refuses requests to hosts the Opener may not reach, before
// the credential is attached and before any connection: the last line of
// defence behind Opener.AzureContainer.
type hostGuard struct{ o *blobio.Opener }

func (g hostGuard) Do(req *policy.Request) (*http.Response, error) {
	if err := g.o.CheckRequestHost(req.Raw().URL.Host); err != nil {
		return nil, err
	}
	return req.Next()
}

// endpointLimit bounds the requests in flight to a storage endpoint
// (Opener.EndpointLimiter). It runs once per call, before the retry
// policy: a request waits for its slot with the caller's context, not
// within a per-try timeout, and keeps the slot through its retries until
// its response is read: at once when the SDK has read the body (every
// operation but downloads), else when the download's body ends (an error
// or io.EOF) or is closed, whichever comes first. Callers close the
// bodies they open, as the SDK requires (it cancels the try's context on
// Close); blobio reads each body to its end before it makes another
// request.
type endpointLimit struct{ o *blobio.Opener }

func (p endpointLimit) Do(req *policy.Request) (*http.Response, error) {
	l := p.o.EndpointLimiter(req.Raw().URL.Host)
	if l == nil {
		return req.Next()
	}
	if err := l.Acquire(req.Raw().Context()); err != nil {
		return nil, err
	}
	resp, err := req.Next()
	if err != nil || resp == nil || resp.Body == nil || resp.Body == http.NoBody || downloaded(resp.Body) {
		l.Release()
		return resp, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: l.Release}
	return resp, nil
}

// downloaded reports whether a response body is one the SDK has read
// already (its in-memory body, with Bytes and Set).
func downloaded(body io.ReadCloser) bool {
	_, ok := body.(interface {
		Bytes() []byte
		Set([]byte)
	})
	return ok
}

// releasingBody gives back an endpoint slot when the body ends or is
// closed, once.
type releasingBody struct {
	io.ReadCloser
	release func()
	once    sync.Once
}

func (b *releasingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.once.Do(b.release)
	}
	return n, err
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// Classify implements blobio.AzureDriver.
func (d *driver) Classify(err error) (error, bool) {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		switch {
		case re.StatusCode == http.StatusNotFound:
			return blobio.ErrNotFound, true
		case re.StatusCode == http.StatusPreconditionFailed:
			return blobio.ErrChanged, true
		case re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden:
			return blobio.ErrPermission, true
		case re.StatusCode == http.StatusRequestTimeout || re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 500:
			return blobio.ErrUnavailable, true
		}
		return nil, true
	}
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) {
		return blobio.ErrPermission, true
	}
	return nil, false
}

// Compact implements blobio.AzureDriver: the SDK's response errors span
// many lines with the response body; the request URL loses its query
// (which can hold a SAS token).
func (d *driver) Compact(err error) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return nil
	}
	msg := fmt.Sprintf("HTTP %d", re.StatusCode)
	if re.ErrorCode != "" {
		msg += " " + re.ErrorCode
	}
	if r := re.RawResponse; r != nil && r.Request != nil && r.Request.URL != nil {
		msg += fmt.Sprintf(" (%s %s)", r.Request.Method, blobio.StripQuery(r.Request.URL))
	}
	return blobio.CompactError(msg, err)
}

// Version implements blobio.AzureDriver: the ETag of a download or of the
// blob's properties.
func (d *driver) Version(as func(any) bool) any {
	var resp azblobblob.DownloadStreamResponse
	if as(&resp) && resp.ETag != nil {
		return resp.ETag
	}
	var props azblobblob.GetPropertiesResponse
	if as(&props) && props.ETag != nil {
		return props.ETag
	}
	return nil
}

// ReaderOptions implements blobio.AzureDriver: reads carry If-Match.
func (d *driver) ReaderOptions(version any) *blob.ReaderOptions {
	etag, ok := version.(*azcore.ETag)
	if !ok || etag == nil {
		return nil
	}
	return &blob.ReaderOptions{BeforeRead: func(as func(any) bool) error {
		var opts *azblobblob.DownloadStreamOptions
		if as(&opts) {
			opts.AccessConditions = &azblobblob.AccessConditions{
				ModifiedAccessConditions: &azblobblob.ModifiedAccessConditions{IfMatch: etag},
			}
		}
		return nil
	}}
}

// InvalidRange implements blobio.AzureDriver: Azure answers 416 to a
// range read of an empty blob.
func (d *driver) InvalidRange(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusRequestedRangeNotSatisfiable
}

// PutIf implements blobio.AzureDriver: one Put Blob request (a block
// blob) with the access conditions, whose response carries the new ETag.
// Azure answers 409 BlobAlreadyExists to If-None-Match: * on an existing
// blob and 412 ConditionNotMet to an If-Match that no longer holds.
func (d *driver) PutIf(ctx context.Context, b *blob.Bucket, key string, data []byte, cond blobio.Condition) (string, error) {
	var client *container.Client
	if !b.As(&client) {
		return "", fmt.Errorf("%w: the bucket is no Azure container", blobio.ErrInvalidArgument)
	}
	mac := &azblobblob.ModifiedAccessConditions{}
	switch {
	case cond.IfNoneMatch:
		etagAny := azcore.ETagAny
		mac.IfNoneMatch = &etagAny
	case cond.IfMatch != "":
		etag := azcore.ETag(cond.IfMatch)
		mac.IfMatch = &etag
	}
	ct := "application/octet-stream"
	resp, err := client.NewBlockBlobClient(key).Upload(ctx, streaming.NopCloser(bytes.NewReader(data)), &blockblob.UploadOptions{
		HTTPHeaders:      &azblobblob.HTTPHeaders{BlobContentType: &ct},
		AccessConditions: &azblobblob.AccessConditions{ModifiedAccessConditions: mac},
	})
	if err != nil {
		if bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet) {
			return "", fmt.Errorf("%w: %w", blobio.ErrPrecondition, err)
		}
		return "", err
	}
	if resp.ETag == nil {
		return "", errors.New("azure: Put Blob answered without an ETag")
	}
	return string(*resp.ETag), nil
}
