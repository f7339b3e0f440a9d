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
	Account   string     // storage account named in the URL (abfs://C@ACCOUNT.dfs..., abfs://ACCOUNT/C/...), lower case; else ""
	Domain    string     // endpoint suffix named in the URL (dfs.core.windows.net), lower case; else ""
	Key       string     // object key or prefix, never with a leading "/"
	Query     url.Values // azblob:// query parameters (gocloud.dev's service URL options)
	// PathStyle: the URL was abfs://ACCOUNT/CONTAINER/PATH (an account of
	// Opener.Accounts), and String writes it so again.
	PathStyle bool
}

// ParseURL parses a blobio URL or a local path, strictly (see the package
// documentation, "URLs"). It knows no configured accounts: use
// Opener.Parse to read abfs://ACCOUNT/CONTAINER/PATH URLs of the accounts
// in Opener.Accounts.
//
// abfs, abfss and az URLs are split like fsspec does: the blob name is
// taken literally (no percent decoding of the key), but it is decoded once
// for the checks, so that no spelling ("%2e%2e", "%2F", "%00") gets past
// them. azblob and file URLs are parsed as gocloud.dev does (percent
// decoding; azblob query parameters). A string without "://" is a local
// path, made absolute and cleaned.
//
// Malformed URLs give errors for which errors.Is(err, ErrInvalidURL) holds;
// a host that is no Azure storage endpoint (nor one of the Opener's
// AllowedHosts) gives ErrSourceNotAllowed.
func ParseURL(s string) (*Location, error) { return parseURL(s, nil) }

// Parse parses rawURL like ParseURL, with the Opener's configuration: an
// abfs:// or az:// URL whose first segment is one of o.Accounts is read as
// abfs://ACCOUNT/CONTAINER/PATH, and hosts in o.AllowedHosts are accepted
// after the @ of abfs://CONTAINER@HOST/PATH.
func (o *Opener) Parse(rawURL string) (*Location, error) { return parseURL(rawURL, o) }

func parseURL(s string, o *Opener) (*Location, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty URL", ErrInvalidURL)
	}
	if err := noControl(s); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalidURL, s, err)
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return localLocation("", s)
	}
	scheme = strings.ToLower(scheme)
	switch scheme {
	case SchemeABFS, SchemeABFSS, SchemeAZ:
		loc, err := parseAzure(scheme, rest, o)
		if err != nil {
			return nil, fmt.Errorf("%w (in %q)", err, s)
		}
		return loc, nil
	case SchemeMem:
		authority, key, _ := strings.Cut(rest, "/")
		loc := &Location{Scheme: scheme, Container: authority, Key: strings.TrimLeft(key, "/")}
		if loc.Container == "" {
			return nil, fmt.Errorf("%w: %q has no container (want %s://CONTAINER/PATH)", ErrInvalidURL, s, scheme)
		}
		if err := checkKey(loc.Key, true); err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrInvalidURL, s, err)
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
		if u.User != nil || u.Fragment != "" {
			return nil, fmt.Errorf("%w: %q: no user information or fragment in azblob:// URLs", ErrInvalidURL, s)
		}
		if err := checkContainer(u.Host); err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrInvalidURL, s, err)
		}
		key := strings.TrimLeft(u.Path, "/")
		if err := checkKey(key, false); err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrInvalidURL, s, err)
		}
		q := u.Query()
		for k, vs := range q {
			for _, v := range vs {
				if err := noControl(v); err != nil {
					return nil, fmt.Errorf("%w: %q: query parameter %s: %v", ErrInvalidURL, s, k, err)
				}
			}
		}
		if a := q.Get("storage_account"); a != "" {
			if err := checkAccount(a); err != nil {
				return nil, fmt.Errorf("%w: %q: %v", ErrInvalidURL, s, err)
			}
		}
		return &Location{Scheme: scheme, Container: u.Host, Key: key, Query: q}, nil
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
		if err := noControl(p); err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrInvalidURL, s, err)
		}
		return localLocation(scheme, filepath.FromSlash(p))
	}
	return nil, fmt.Errorf("%w: %q: unknown scheme %q (want abfs, abfss, az, azblob, file, mem or a local path)", ErrInvalidURL, s, scheme)
}

// ParseEndpointURL parses the URL of a blob at its Azure Blob Storage
// endpoint, https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH (also
// http://, ACCOUNT.dfs.SUFFIX and the other Azure clouds), as the abfs://
// Location of the same blob (with its Account and Domain); the path is
// percent-decoded once. A host that is no Azure storage endpoint gives
// ErrSourceNotAllowed (the URL may be any other web address); a malformed
// URL, container or path gives ErrInvalidURL. The query (a SAS token) and
// fragment are not kept. blobio opens no http(s) URL:
// this is for what other tools write (fsspec's https chunk URLs, STAC hrefs).
func ParseEndpointURL(s string) (*Location, error) {
	if err := noControl(s); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalidURL, s, err)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "https" && scheme != "http" {
		return nil, fmt.Errorf("%w: %q is no http(s) URL", ErrInvalidURL, s)
	}
	if u.User != nil || u.Port() != "" {
		return nil, fmt.Errorf("%w: %q: a blob endpoint URL has no user information or port", ErrSourceNotAllowed, s)
	}
	acct, domain, err := (*Opener)(nil).azureHost(u.Hostname())
	if err != nil {
		return nil, fmt.Errorf("%w (in %q)", err, s)
	}
	c, key, _ := strings.Cut(strings.TrimLeft(u.Path, "/"), "/")
	if err := checkContainer(c); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalidURL, s, err)
	}
	if err := checkKey(key, false); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalidURL, s, err)
	}
	return &Location{Scheme: SchemeABFS, Container: c, Account: acct, Domain: domain, Key: key}, nil
}

// parseAzure parses what follows "abfs://" (or abfss://, az://):
// CONTAINER/PATH, CONTAINER@ACCOUNT.HOST/PATH or, for an account of
// o.Accounts, ACCOUNT/CONTAINER/PATH.
func parseAzure(scheme, rest string, o *Opener) (*Location, error) {
	if strings.ContainsAny(rest, "?#") {
		return nil, fmt.Errorf("%w: no query or fragment in %s:// URLs", ErrInvalidURL, scheme)
	}
	if strings.Contains(rest, `\`) {
		return nil, fmt.Errorf("%w: backslash in URL", ErrInvalidURL)
	}
	rawAuthority, key, _ := strings.Cut(rest, "/")
	// The authority is decoded exactly once, and then checked: "%40" is an
	// "@" like any other, and what decodes to anything but a container name
	// (and an account host) is refused.
	authority, err := url.PathUnescape(rawAuthority)
	if err != nil {
		return nil, fmt.Errorf("%w: bad percent-encoding in %q", ErrInvalidURL, rawAuthority)
	}
	if err := noControl(authority); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	loc := &Location{Scheme: scheme}
	rawKey := key
	key = strings.TrimLeft(key, "/")
	if c, host, ok := strings.Cut(authority, "@"); ok {
		if strings.Contains(host, "@") || strings.Contains(c, ":") {
			return nil, fmt.Errorf("%w: user information other than CONTAINER@ACCOUNT.HOST", ErrInvalidURL)
		}
		if host == "" {
			return nil, fmt.Errorf("%w: empty account after @", ErrInvalidURL)
		}
		acct, domain, err := o.azureHost(host)
		if err != nil {
			return nil, err
		}
		loc.Container, loc.Account, loc.Domain = c, acct, domain
	} else if acct := strings.ToLower(authority); o.isPathAccount(acct) {
		loc.Account, loc.PathStyle = acct, true
		loc.Container, key, _ = strings.Cut(rawKey, "/")
		key = strings.TrimLeft(key, "/") // like abfs://CONTAINER//PATH
		if loc.Container == "" {
			return nil, fmt.Errorf("%w: no container after the account %q (want %s://ACCOUNT/CONTAINER/PATH)", ErrInvalidURL, acct, scheme)
		}
	} else {
		loc.Container = authority
	}
	if loc.Container == "" {
		return nil, fmt.Errorf("%w: no container (want %s://CONTAINER/PATH)", ErrInvalidURL, scheme)
	}
	if err := checkContainer(loc.Container); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	if err := checkKey(key, true); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	loc.Key = key
	return loc, nil
}

// azureSuffixes are the storage endpoint suffixes of Azure's clouds: the
// public cloud, Azure China and Azure US Government.
var azureSuffixes = []string{"core.windows.net", "core.chinacloudapi.cn", "core.usgovcloudapi.net"}

// azureHost splits the host of abfs://CONTAINER@HOST/PATH into the account
// and the endpoint domain, lower-cased. HOST must be ACCOUNT.dfs.SUFFIX or
// ACCOUNT.blob.SUFFIX of an Azure cloud, or one of o.AllowedHosts (with
// its first label the account).
func (o *Opener) azureHost(host string) (account, domain string, err error) {
	h := strings.ToLower(host)
	acct, domain, _ := strings.Cut(h, ".")
	if !isAzureDomain(domain) && !o.hostListed(h) {
		return "", "", fmt.Errorf("%w: host %q is not an Azure storage endpoint (ACCOUNT.dfs.core.windows.net or ACCOUNT.blob.core.windows.net) nor an allowed host", ErrSourceNotAllowed, host)
	}
	if err := checkAccount(acct); err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	return acct, domain, nil
}

// isAzureDomain reports whether d (lower case) is dfs.SUFFIX or
// blob.SUFFIX of an Azure cloud.
func isAzureDomain(d string) bool {
	svc, suffix, _ := strings.Cut(d, ".")
	if svc != "dfs" && svc != "blob" {
		return false
	}
	for _, s := range azureSuffixes {
		if suffix == s {
			return true
		}
	}
	return false
}

// noControl refuses ASCII control characters (NUL, newlines, DEL, ...).
func noControl(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("control character %q at byte %d", c, i)
		}
	}
	return nil
}

// checkContainer applies Azure's rules for container names: 3 to 63
// characters, lower-case letters, digits and single hyphens, starting and
// ending with a letter or a digit.
func checkContainer(c string) error {
	bad := len(c) < 3 || len(c) > 63
	for i := 0; i < len(c) && !bad; i++ {
		switch ch := c[i]; {
		case ch >= 'a' && ch <= 'z', ch >= '0' && ch <= '9':
		case ch == '-':
			bad = i == 0 || i == len(c)-1 || c[i-1] == '-'
		default:
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("container name %q: want 3-63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit", c)
	}
	return nil
}

// checkAccount applies Azure's rules for storage account names: 3 to 24
// lower-case letters and digits.
func checkAccount(a string) error {
	bad := len(a) < 3 || len(a) > 24
	for i := 0; i < len(a) && !bad; i++ {
		ch := a[i]
		bad = !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9')
	}
	if bad {
		return fmt.Errorf("storage account name %q: want 3-24 lower-case letters and digits", a)
	}
	return nil
}

// checkKey checks a blob name (or prefix). With literal set (abfs, az and
// mem URLs, whose keys are not percent-decoded), the key is decoded once
// for the checks: an encoded "/" is refused, and "." and ".." are refused
// however they are spelled. No segment may be "." or "..", no segment but
// the last may be empty (a trailing "/" names a directory), and no control
// character or backslash may appear.
func checkKey(key string, literal bool) error {
	dec := key
	if literal {
		var err error
		if dec, err = url.PathUnescape(key); err != nil {
			return fmt.Errorf("bad percent-encoding in path %q (a literal %%%% is written %%25)", key)
		}
		if strings.Count(dec, "/") != strings.Count(key, "/") {
			return fmt.Errorf("encoded / (%%2F) in path %q", key)
		}
	}
	if err := noControl(dec); err != nil {
		return fmt.Errorf("path: %v", err)
	}
	if strings.Contains(dec, `\`) {
		return fmt.Errorf("backslash in path %q", key)
	}
	if dec == "" {
		return nil
	}
	segs := strings.Split(dec, "/")
	for i, seg := range segs {
		switch {
		case seg == "." || seg == "..":
			return fmt.Errorf("%q segment in path %q", seg, key)
		case seg == "" && i != len(segs)-1:
			return fmt.Errorf("empty segment (//) in path %q", key)
		}
	}
	return nil
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
	if l.PathStyle && l.Account != "" {
		return l.Scheme + "://" + l.Account + "/" + l.Container + "/" + l.Key
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
// @ACCOUNT.HOST when the URL named the account, and
// abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH for
// abfs://ACCOUNT/CONTAINER/PATH; az, abfss and azblob URLs become abfs) and an absolute path for a local file. mem:// URLs are
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
	c.Scheme, c.PathStyle = SchemeABFS, false // adlfs knows CONTAINER@ACCOUNT.HOST, not ACCOUNT/CONTAINER
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
