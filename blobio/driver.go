package blobio

import (
	"context"
	"net/url"
	"sync"

	"gocloud.dev/blob"
)

// AzureDriver is the part of blobio that needs the Azure SDK: opening
// containers and reading what the SDK's errors and responses say. blobio's
// core (URLs, allow-lists, credentials policy, local files, mem://) links
// no Azure SDK; the driver in blobio/azure registers itself when it is
// imported, as gocloud.dev's drivers do:
//
//	import _ "github.com/greensight/vzarr/blobio/azure"
//
// Without it, Azure URLs parse and are checked as usual, and opening one
// fails with ErrConfig.
type AzureDriver interface {
	// OpenContainer opens a container of account ("" for the configured
	// one) whose service URL is serviceURL(account), after
	// Opener.AzureContainer allowed it.
	OpenContainer(ctx context.Context, o *Opener, account, container string, serviceURL func(account string) string) (*blob.Bucket, error)
	// OpenAZBlob opens an azblob://CONTAINER URL with gocloud.dev's query
	// parameters, after Opener.AzureContainer allowed it.
	OpenAZBlob(ctx context.Context, o *Opener, account, container string, query url.Values) (*blob.Bucket, error)
	// Classify returns the kind (ErrNotFound, ErrPermission, ...; nil for
	// none) of an error of the SDK, and ok when err is one it knows.
	Classify(err error) (kind error, ok bool)
	// Compact returns a one-line message for an error of the SDK that
	// keeps err in its chain, or nil when err is none.
	Compact(err error) error
	// Version returns the version (ETag) of a blob, from the As function
	// of a range reader or of attributes; nil when unknown.
	Version(as func(any) bool) any
	// ReaderOptions makes later reads conditional on version (a blob
	// replaced meanwhile then fails with ErrChanged).
	ReaderOptions(version any) *blob.ReaderOptions
	// InvalidRange reports the error of a range read of an empty blob.
	InvalidRange(err error) bool
	// PutIf writes data to key of a bucket the driver opened in one Put
	// Blob request carrying cond (If-None-Match: *, If-Match: ETAG) and
	// returns the new ETag; a condition that does not hold gives an error
	// wrapping ErrPrecondition.
	PutIf(ctx context.Context, b *blob.Bucket, key string, data []byte, cond Condition) (string, error)
}

var azureDriver struct {
	sync.RWMutex
	d AzureDriver
}

// RegisterAzure sets the driver of Azure URLs (blobio/azure calls it in
// its init); the last call wins.
func RegisterAzure(d AzureDriver) {
	azureDriver.Lock()
	defer azureDriver.Unlock()
	azureDriver.d = d
}

func registeredAzure() AzureDriver {
	azureDriver.RLock()
	defer azureDriver.RUnlock()
	return azureDriver.d
}
