package stac

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
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

// ParseRefURL parses the URL of a reference file or of a chunk: abfs://,
// abfss://, az:// (CONTAINER/PATH or CONTAINER@ACCOUNT.dfs.core.windows.net/PATH),
// azblob://CONTAINER/PATH?storage_account=ACCOUNT,
// https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH, file:// URLs and
// local paths. Other URLs are kept with their scheme as the protocol.
func ParseRefURL(s string) (RefLocation, error) {
	loc := RefLocation{Raw: s}
	if s == "" {
		return loc, fmt.Errorf("stac: empty URL")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		abs, err := filepath.Abs(s)
		if err != nil {
			return loc, fmt.Errorf("stac: %q: %v", s, err)
		}
		loc.Protocol, loc.Key = "file", strings.TrimPrefix(filepath.ToSlash(abs), "/")
		return loc, nil
	}
	switch strings.ToLower(scheme) {
	case "abfs", "abfss", "az":
		authority, key, _ := strings.Cut(rest, "/")
		loc.Protocol, loc.Container, loc.Key = "abfs", authority, strings.TrimLeft(key, "/")
		if c, host, ok := strings.Cut(authority, "@"); ok {
			loc.Container = c
			loc.Account, _, _ = strings.Cut(host, ".")
		}
	case "azblob":
		u, err := url.Parse(s)
		if err != nil {
			return loc, fmt.Errorf("stac: %q: %v", s, err)
		}
		loc.Protocol, loc.Container, loc.Key = "abfs", u.Host, strings.TrimLeft(u.Path, "/")
		loc.Account = u.Query().Get("storage_account")
	case "file":
		u, err := url.Parse(s)
		if err != nil {
			return loc, fmt.Errorf("stac: %q: %v", s, err)
		}
		loc.Protocol, loc.Key = "file", strings.TrimLeft(u.Path, "/")
	case "https", "http":
		u, err := url.Parse(s)
		if err != nil {
			return loc, fmt.Errorf("stac: %q: %v", s, err)
		}
		host := strings.ToLower(u.Hostname())
		if acct, domain, ok := strings.Cut(host, "."); ok && isAzureBlobDomain(domain) {
			c, key, _ := strings.Cut(strings.TrimLeft(u.Path, "/"), "/")
			loc.Protocol, loc.Account, loc.Container, loc.Key = "abfs", acct, c, key
		} else {
			loc.Protocol, loc.Key = strings.ToLower(scheme), strings.TrimLeft(u.Path, "/")
		}
	default:
		loc.Protocol = strings.ToLower(scheme)
		_, key, _ := strings.Cut(rest, "/")
		loc.Key = key
	}
	if loc.IsAzure() && loc.Container == "" {
		return loc, fmt.Errorf("stac: %q names no container", s)
	}
	return loc, nil
}

func isAzureBlobDomain(d string) bool {
	return strings.HasPrefix(d, "blob.core.") || strings.HasPrefix(d, "dfs.core.")
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
