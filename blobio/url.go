package blobio

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// Schemes of the URLs that blobio understands.
const (
	SchemeABFS   = "abfs"   // abfs://CONTAINER/PATH, abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH (fsspec/adlfs)
	SchemeABFSS  = "abfss"  // the same as abfs
	SchemeAZ     = "az"     // az://CONTAINER/PATH (fsspec/adlfs), also with @ACCOUNT.HOST
	SchemeAZBlob = "azblob" // azblob://CONTAINER/PATH?storage_account=...&domain=...&protocol=...&localemu=... (gocloud.dev)
	SchemeFile   = "file"   // file:///ABS/PATH, file://./REL/PATH (gocloud.dev)
	SchemeMem    = "mem"    // mem://NAME/PATH: an Opener's MemBuckets (tests)
	// A plain path (absolute or relative) has the empty scheme.
)

// defaultBlobDomain is the Blob service domain of Azure's public cloud.
const defaultBlobDomain = "blob.core.windows.net"

// Location is a parsed blobio URL: a container (bucket) and a key in it.
//
// For Azure schemes the container is the blob container and the key the blob
// name (or a prefix of blob names). For local files the container is the
// file system root and the key the absolute slash-separated path without its
// leading "/". For mem:// the container is the name of a MemBuckets bucket.
type Location struct {
	Scheme    string     // one of the Scheme* constants, or "" for a plain local path
	Container string     // blob container or mem bucket name; "" for local files
	Account   string     // storage account named in the URL (abfs://C@ACCOUNT.dfs...), else ""
	Domain    string     // endpoint suffix named in the URL (dfs.core.windows.net), else ""
	Key       string     // object key or prefix, never with a leading "/"
	Query     url.Values // azblob:// query parameters (gocloud.dev's service URL options)
}

// ParseURL parses a blobio URL or a local path.
//
// abfs, abfss, az and mem URLs are split like fsspec does: no percent
// decoding and no query, so a blob name is taken literally. azblob and file
// URLs are parsed as gocloud.dev does (percent decoding; azblob query
// parameters). A string without "://" is a local path, made absolute.
func ParseURL(s string) (*Location, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty URL", ErrInvalidURL)
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return localLocation("", s)
	}
	scheme = strings.ToLower(scheme)
	switch scheme {
	case SchemeABFS, SchemeABFSS, SchemeAZ, SchemeMem:
		authority, key, _ := strings.Cut(rest, "/")
		loc := &Location{Scheme: scheme, Container: authority, Key: strings.TrimLeft(key, "/")}
		if scheme != SchemeMem {
			if c, host, ok := strings.Cut(authority, "@"); ok {
				loc.Container = c
				acct, domain, _ := strings.Cut(host, ".")
				if acct == "" {
					return nil, fmt.Errorf("%w: %q: empty account after @", ErrInvalidURL, s)
				}
				loc.Account, loc.Domain = acct, domain
			}
		}
		if loc.Container == "" {
			return nil, fmt.Errorf("%w: %q has no container (want %s://CONTAINER/PATH)", ErrInvalidURL, s, scheme)
		}
		return loc, nil
	case SchemeAZBlob:
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidURL, err)
		}
		if u.Host == "" {
			return nil, fmt.Errorf("%w: %q has no container (want azblob://CONTAINER/PATH)", ErrInvalidURL, s)
		}
		return &Location{Scheme: scheme, Container: u.Host, Key: strings.TrimLeft(u.Path, "/"), Query: u.Query()}, nil
	case SchemeFile:
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidURL, err)
		}
		p := u.Path
		switch u.Host {
		case "", "localhost":
		case ".":
			p = strings.TrimPrefix(p, "/") // file://./rel/path
		default:
			return nil, fmt.Errorf("%w: %q: file URLs name no host but localhost", ErrInvalidURL, s)
		}
		if p == "" {
			return nil, fmt.Errorf("%w: %q has no path", ErrInvalidURL, s)
		}
		return localLocation(scheme, filepath.FromSlash(p))
	}
	return nil, fmt.Errorf("%w: %q: unknown scheme %q (want abfs, abfss, az, azblob, file, mem or a local path)", ErrInvalidURL, s, scheme)
}

func localLocation(scheme, p string) (*Location, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	key := strings.TrimPrefix(filepath.ToSlash(abs), "/")
	if strings.HasSuffix(p, "/") && key != "" {
		key += "/" // keep "this is a directory"
	}
	return &Location{Scheme: scheme, Key: key}, nil
}

// IsLocal reports whether l is a local file path.
func (l *Location) IsLocal() bool { return l.Scheme == "" || l.Scheme == SchemeFile }

// IsAzure reports whether l is in Azure Blob Storage.
func (l *Location) IsAzure() bool {
	switch l.Scheme {
	case SchemeABFS, SchemeABFSS, SchemeAZ, SchemeAZBlob:
		return true
	}
	return false
}

// Path returns the local file path of a local location.
func (l *Location) Path() string { return filepath.FromSlash("/" + strings.TrimSuffix(l.Key, "/")) }

// WithKey returns a copy of l with another key.
func (l *Location) WithKey(key string) *Location {
	c := *l
	c.Key = strings.TrimLeft(key, "/")
	return &c
}

// String returns the URL of l in the style it was given in: the same
// scheme and account form, a local path as an absolute path.
func (l *Location) String() string {
	switch l.Scheme {
	case "":
		return "/" + l.Key
	case SchemeFile:
		return (&url.URL{Scheme: "file", Path: "/" + l.Key}).String()
	case SchemeAZBlob:
		u := url.URL{Scheme: SchemeAZBlob, Host: l.Container, Path: "/" + l.Key, RawQuery: l.Query.Encode()}
		if l.Key == "" {
			u.Path = ""
		}
		return u.String()
	}
	return l.Scheme + "://" + l.authority() + "/" + l.Key
}

func (l *Location) authority() string {
	if l.Account == "" {
		return l.Container
	}
	d := l.Domain
	if d == "" {
		d = "dfs.core.windows.net"
	}
	return l.Container + "@" + l.Account + "." + d
}

// RefURL returns the URL that fsspec (with adlfs for Azure) resolves to the
// same object, for kerchunk chunk references: abfs://CONTAINER/PATH (with
// @ACCOUNT.HOST when the URL named the account; az, abfss and azblob URLs
// become abfs) and an absolute path for a local file. mem:// URLs are
// returned as they are.
func (l *Location) RefURL() string {
	switch l.Scheme {
	case "", SchemeFile:
		return l.Path()
	case SchemeMem:
		return l.String()
	case SchemeAZBlob:
		c := Location{Scheme: SchemeABFS, Container: l.Container, Key: l.Key, Account: l.Query.Get("storage_account")}
		return c.String()
	}
	c := *l
	c.Scheme = SchemeABFS
	return c.String()
}

// RefURL parses rawURL and returns the URL that fsspec+adlfs resolves to the
// same object (see Location.RefURL).
func RefURL(rawURL string) (string, error) {
	l, err := ParseURL(rawURL)
	if err != nil {
		return "", err
	}
	return l.RefURL(), nil
}

// blobDomain returns the blob service domain for the URL's endpoint:
// ACCOUNT.dfs.core.windows.net and ACCOUNT.blob.core.windows.net both give
// blob.core.windows.net (the Blob API works on ADLS Gen2 accounts too).
func (l *Location) blobDomain() string {
	d := strings.ToLower(l.Domain)
	switch {
	case d == "":
		return defaultBlobDomain
	case strings.HasPrefix(d, "dfs."):
		return "blob." + strings.TrimPrefix(d, "dfs.")
	}
	return d
}
