package stac

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/greensight/vzarr/blobio"
)

// RefLocation is a parsed reference-file (or chunk) URL.
type RefLocation struct {
	// Protocol is the fsspec protocol: "abfs" for Azure Blob Storage
	// (abfs, abfss, az, azblob URLs and https://ACCOUNT.blob.core.windows.net),
	// "file" for local paths, else the URL's scheme ("https", "s3", ...).
	Protocol string
	// Container and Key locate an Azure blob; Key is also the path of
	// other URLs (without the leading "/") and the absolute path of a
	// local file.
	Container string
	Key       string
	// Account is the storage account the URL names, if any.
	Account string
	// Raw is the URL as given.
	Raw string
}

// IsAzure reports whether the location is in Azure Blob Storage.
func (l RefLocation) IsAzure() bool { return l.Protocol == "abfs" }

// IsLocal reports whether the location is a local file.
func (l RefLocation) IsLocal() bool { return l.Protocol == "file" }

// BlobPath returns the path of the object in its container ("refs/x.json")
// for Azure, the absolute path for a local file, and the path of other
// URLs.
func (l RefLocation) BlobPath() string {
	if l.IsLocal() {
		return "/" + l.Key
	}
	return l.Key
}

// ParseRefURL parses the URL of a reference file or of a chunk with
// blobio's parser (blobio.ParseURL): abfs://, abfss://, az://
// (CONTAINER/PATH or CONTAINER@ACCOUNT.dfs.core.windows.net/PATH),
// azblob://CONTAINER/PATH?storage_account=ACCOUNT, file:// URLs, local
// paths and mem://; https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH
// is an Azure blob too (blobio.ParseEndpointURL). Other URLs (another web
// server, s3://, gs://, ...) are kept with their scheme as the protocol.
// A malformed blobio URL is an error (errors.Is blobio.ErrInvalidURL).
func ParseRefURL(s string) (RefLocation, error) {
	scheme, rest, hasScheme := strings.Cut(s, "://")
	scheme = strings.ToLower(scheme)
	var l *blobio.Location
	var err error
	switch {
	case !hasScheme:
		l, err = blobio.ParseURL(s)
	case scheme == "https" || scheme == "http":
		l, err = blobio.ParseEndpointURL(s)
		if errors.Is(err, blobio.ErrSourceNotAllowed) {
			// Another web server: fsspec's http(s) protocol.
			_, path, _ := strings.Cut(rest, "/")
			path, _, _ = strings.Cut(path, "?")
			return RefLocation{Protocol: scheme, Key: path, Raw: s}, nil
		}
	case scheme == blobio.SchemeABFS, scheme == blobio.SchemeABFSS, scheme == blobio.SchemeAZ,
		scheme == blobio.SchemeAZBlob, scheme == blobio.SchemeFile, scheme == blobio.SchemeMem:
		l, err = blobio.ParseURL(s)
	default:
		_, key, _ := strings.Cut(rest, "/")
		return RefLocation{Protocol: scheme, Key: key, Raw: s}, nil
	}
	if err != nil {
		return RefLocation{Raw: s}, fmt.Errorf("stac: %w", err)
	}
	return refLocationOf(l, s), nil
}

// refLocationOf returns the RefLocation of a URL raw that blobio parsed
// into l.
func refLocationOf(l *blobio.Location, raw string) RefLocation {
	loc := RefLocation{Raw: raw, Container: l.Container, Key: l.Key, Account: l.Account}
	switch {
	case l.IsLocal():
		loc.Protocol, loc.Container = "file", ""
		loc.Key = strings.TrimSuffix(l.Key, "/")
	case l.IsAzure():
		loc.Protocol = "abfs"
		if l.Scheme == blobio.SchemeAZBlob {
			loc.Account = l.Query.Get("storage_account")
		}
	default:
		loc.Protocol = l.Scheme
	}
	return loc
}

// HrefStyle selects how Azure hrefs are written.
type HrefStyle string

// Href styles.
const (
	// HrefABFS writes abfs://CONTAINER/PATH (fsspec/adlfs; the account is
	// in the open kwargs).
	HrefABFS HrefStyle = "abfs"
	// HrefHTTPS writes https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH.
	HrefHTTPS HrefStyle = "https"
)

// DefaultBlobDomain is the endpoint suffix of HrefHTTPS hrefs.
const DefaultBlobDomain = "blob.core.windows.net"

// href writes the location in the requested style.
func (l RefLocation) href(style HrefStyle, account, domain string) (string, error) {
	switch {
	case l.IsLocal():
		return "/" + l.Key, nil
	case !l.IsAzure():
		return l.Raw, nil
	}
	switch style {
	case HrefABFS, "":
		return "abfs://" + l.Container + "/" + l.Key, nil
	case HrefHTTPS:
		if account == "" {
			return "", fmt.Errorf("stac: https hrefs need the storage account (Options.Account)")
		}
		if domain == "" {
			domain = DefaultBlobDomain
		}
		u := url.URL{Scheme: "https", Host: account + "." + domain, Path: "/" + l.Container + "/" + l.Key}
		return u.String(), nil
	}
	return "", fmt.Errorf("stac: unknown href style %q (want abfs or https)", style)
}
