package blobio

import (
	"fmt"
	"path/filepath"
	"strings"
)

// AllowList confines the locations a service reads to URL prefixes (see
// ParseAllowList). It is safe for concurrent use.
type AllowList struct {
	opener     *Opener
	allowLocal bool
	all        bool
	entries    []allowEntry
}

// allowEntry is one prefix, in canonical form.
type allowEntry struct {
	spec string
	id   canonical
	real string // local prefixes: the directory with symbolic links resolved ("" if it does not exist)
}

// canonical is what a location is matched on: the storage account (lower
// case) and its blob endpoint domain, the container and the key; for local
// files the absolute cleaned path in key, for mem:// the bucket.
type canonical struct {
	kind      string // "azure", "local" or "mem"
	account   string
	domain    string
	container string
	key       string // without a trailing "/"
}

// ParseAllowList parses a comma-separated list of URL prefixes:
//
//   - abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PREFIX/ (also abfss,
//     az, and ACCOUNT.blob.core.windows.net);
//   - abfs://CONTAINER/PREFIX/ for the configured account (o.AccountName, or
//     the account of o.ConnectionString);
//   - abfs://ACCOUNT/CONTAINER/PREFIX/ for an account of o.Accounts;
//   - azblob://CONTAINER/PREFIX/?storage_account=ACCOUNT;
//   - file:///DIR/ (and plain absolute paths), only when allowLocal;
//   - mem://BUCKET/PREFIX/ (tests);
//   - "*" alone: every Azure location of a configured account (All reports
//     it, so that the caller can log it); local files still need
//     allowLocal.
//
// Each prefix is parsed strictly (o.Parse) and canonicalised; a prefix is
// a folder: abfs://c/era5 and abfs://c/era5/ both allow abfs://c/era5/x.nc
// and neither allows abfs://c/era5-evil/x.nc. The accounts the prefixes
// name become accounts o may send its credential to. Errors are ErrConfig.
func ParseAllowList(spec string, o *Opener, allowLocal bool) (*AllowList, error) {
	if o == nil {
		return nil, fmt.Errorf("%w: ParseAllowList needs an Opener", ErrConfig)
	}
	a := &AllowList{opener: o, allowLocal: allowLocal}
	var items []string
	for _, item := range strings.Split(spec, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%w: empty allow-list of sources (give URL prefixes, or '*' to allow every source)", ErrConfig)
	}
	for _, item := range items {
		if item == "*" {
			if len(items) > 1 {
				return nil, fmt.Errorf("%w: allow-list: '*' must be alone, got %q", ErrConfig, spec)
			}
			a.all = true
			return a, nil
		}
		loc, err := o.Parse(item)
		if err != nil {
			return nil, fmt.Errorf("%w: allow-list entry %q: %v", ErrConfig, item, err)
		}
		id, err := o.canonical(loc)
		if err != nil {
			return nil, fmt.Errorf("%w: allow-list entry %q: %v", ErrConfig, item, err)
		}
		e := allowEntry{spec: item, id: id}
		switch id.kind {
		case "local":
			if !allowLocal {
				return nil, fmt.Errorf("%w: allow-list entry %q: local files are allowed only with -allow-local", ErrConfig, item)
			}
			if r, err := filepath.EvalSymlinks(loc.Path()); err == nil {
				e.real = r
			}
		case "azure":
			o.allowAccount(id.account)
		}
		a.entries = append(a.entries, e)
	}
	return a, nil
}

// All reports whether the list is "*": every source of a configured
// account is allowed.
func (a *AllowList) All() bool { return a.all }

// String returns the prefixes as given ("*" for All).
func (a *AllowList) String() string {
	if a.all {
		return "*"
	}
	specs := make([]string, len(a.entries))
	for i, e := range a.entries {
		specs[i] = e.spec
	}
	return strings.Join(specs, ",")
}

// Check parses rawURL strictly (see Opener.Parse) and returns its location
// if it lies under a prefix of the list. A malformed URL gives
// ErrInvalidURL; a well-formed one outside the list, a local file without
// allowLocal, or a host the Opener may not reach, ErrSourceNotAllowed.
// Check makes no request.
func (a *AllowList) Check(rawURL string) (*Location, error) {
	loc, err := a.opener.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("blobio: check: %w", err)
	}
	id, err := a.opener.canonical(loc)
	if err != nil {
		return nil, fmt.Errorf("blobio: check %q: %w", rawURL, err)
	}
	switch id.kind {
	case "local":
		if !a.allowLocal {
			return nil, fmt.Errorf("blobio: check %q: %w: local files are not allowed", rawURL, ErrSourceNotAllowed)
		}
	case "azure":
		if !a.opener.locationAllowed(id) {
			return nil, fmt.Errorf("blobio: check %q: %w: account %s is not configured for this process", rawURL, ErrSourceNotAllowed, id.account)
		}
	}
	if a.all && id.kind != "local" {
		return loc, nil
	}
	for _, e := range a.entries {
		if e.match(id, loc) {
			return loc, nil
		}
	}
	return nil, fmt.Errorf("blobio: check %q: %w: not under an allowed prefix", rawURL, ErrSourceNotAllowed)
}

func (e *allowEntry) match(id canonical, loc *Location) bool {
	if e.id.kind != id.kind || e.id.account != id.account || e.id.domain != id.domain || e.id.container != id.container ||
		!underPrefix(id.key, e.id.key) {
		return false
	}
	if id.kind == "local" && e.real != "" {
		// A symbolic link must not lead out of the folder.
		if r, err := filepath.EvalSymlinks(loc.Path()); err == nil {
			return underPrefix(strings.TrimPrefix(filepath.ToSlash(r), "/"), strings.TrimPrefix(filepath.ToSlash(e.real), "/"))
		}
	}
	return true
}

// underPrefix reports whether key is prefix or in the folder prefix
// (both without a trailing "/"; "" is the whole container).
func underPrefix(key, prefix string) bool {
	return prefix == "" || key == prefix || strings.HasPrefix(key, prefix+"/")
}

// canonical returns what loc is matched on.
func (o *Opener) canonical(loc *Location) (canonical, error) {
	key := strings.TrimSuffix(loc.Key, "/")
	switch {
	case loc.IsLocal():
		return canonical{kind: "local", key: key}, nil
	case loc.Scheme == SchemeMem:
		return canonical{kind: "mem", container: loc.Container, key: key}, nil
	}
	account, domain := loc.Account, loc.blobDomain()
	if loc.Scheme == SchemeAZBlob {
		account = loc.Query.Get("storage_account")
		domain = defaultBlobDomain
		if d := loc.Query.Get("domain"); d != "" {
			domain = strings.ToLower(d)
		}
	}
	if account == "" {
		account = o.accountName()
	}
	if account == "" {
		return canonical{}, fmt.Errorf("%w: no storage account for container %q: set AZURE_STORAGE_ACCOUNT_NAME or name it in the URL", ErrConfig, loc.Container)
	}
	return canonical{kind: "azure", account: strings.ToLower(account), domain: domain, container: loc.Container, key: key}, nil
}

// locationAllowed reports whether the Opener may reach the account of an
// Azure location: through a connection string for its account (as
// containerClient chooses), or a host that hostAllowed accepts (for
// azblob:// URLs whose domain is an emulator's host, that host).
func (o *Opener) locationAllowed(id canonical) bool {
	return o.connStringFor(id.account) != "" || o.hostAllowed(id.account+"."+id.domain) || o.hostListed(id.domain)
}
