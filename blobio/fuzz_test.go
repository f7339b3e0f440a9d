package blobio

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseURL: no input panics; every error is typed; an accepted Azure
// URL has a valid container, no control character, and no "." or ".."
// segment however encoded; and its String form parses to the same
// location (canonical form is a fixed point).
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"abfs://cnt/era5/x.nc", "abfs://rmhazuregeobronze/netcdf/era5/", "abfs://cnt@acct.dfs.core.windows.net/a/",
		"az://cnt%40acct.blob.core.windows.net/x", "abfs://cnt/%2e%2e/x", "abfs://u:p@c@acct.dfs.core.windows.net/",
		"azblob://cnt/x?storage_account=acct", "file:///data/x.nc", "mem://b/k", "abfs://cnt/a%20b", "abfs://c@[::1]/x",
	} {
		f.Add(s)
	}
	o := &Opener{AccountName: "defacct", Accounts: []string{"rmhazuregeobronze"}, AllowedHosts: []string{"priv.privatelink.blob.core.windows.net"}}
	f.Fuzz(func(t *testing.T, s string) {
		loc, err := o.Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidURL) && !errors.Is(err, ErrSourceNotAllowed) {
				t.Fatalf("%q: untyped error %v", s, err)
			}
			return
		}
		if loc.IsLocal() || loc.Scheme == SchemeMem {
			return
		}
		if err := checkContainer(loc.Container); err != nil {
			t.Fatalf("%q: accepted container: %v", s, err)
		}
		if loc.Account != "" {
			if err := checkAccount(loc.Account); err != nil {
				t.Fatalf("%q: accepted account: %v", s, err)
			}
		}
		dec := loc.Key
		if loc.Scheme != SchemeAZBlob {
			if dec, err = url.PathUnescape(loc.Key); err != nil {
				t.Fatalf("%q: accepted key %q: %v", s, loc.Key, err)
			}
		}
		if noControl(dec) != nil || strings.Contains(dec, `\`) {
			t.Fatalf("%q: accepted key %q", s, loc.Key)
		}
		for _, seg := range strings.Split(dec, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("%q: accepted key %q", s, loc.Key)
			}
		}
		again, err := o.Parse(loc.String())
		if err != nil {
			t.Fatalf("%q: String %q does not parse: %v", s, loc.String(), err)
		}
		if again.String() != loc.String() || again.Container != loc.Container || again.Key != loc.Key || again.Account != loc.Account {
			t.Fatalf("%q: String %q parses to %+v, not %+v", s, loc.String(), again, loc)
		}
	})
}
