package testenv

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/greensight/vzarr/blobio"
	_ "github.com/greensight/vzarr/blobio/azure" // tests reach Azurite
)

// The platform's storage accounts (../shared/contracts.md), which
// scripts/azurite serves besides devstoreaccount1.
const (
	BronzeAccount = "rmhazuregeobronze" // sources
	SilverAccount = "rmhazuregeosilver" // references
)

// AzuriteAccounts returns an Opener configured from the environment as
// scripts/azurite env sets it (blobio.NewOpenerFromEnv: VZARR_STORAGE_ACCOUNTS
// and one connection string per account in VZARR_STORAGE_CONNECTION_STRINGS),
// after checking that each of accounts has a loopback emulator endpoint that
// answers and knows the account; or skips (fails with VZARR_REQUIRE_TOOLS=1).
func AzuriteAccounts(t testing.TB, accounts ...string) *blobio.Opener {
	t.Helper()
	o := blobio.NewOpenerFromEnv()
	o.Retry = blobio.RetryOptions{MaxRetries: 2, RetryDelay: 100 * time.Millisecond, TryTimeout: 30 * time.Second}
	for _, a := range accounts {
		cs := connString(o, a)
		if cs == "" || !hasAccount(o, a) {
			SkipOrFail(t, "Azurite account %s is not configured (VZARR_STORAGE_ACCOUNTS, VZARR_STORAGE_CONNECTION_STRINGS): run scripts/azurite start; eval \"$(scripts/azurite env)\"", a)
		}
		u, err := url.Parse(field(cs, "BlobEndpoint"))
		if err != nil || u.Host == "" {
			SkipOrFail(t, "the connection string of %s has no BlobEndpoint; these tests run only against Azurite", a)
		}
		switch u.Hostname() {
		case "127.0.0.1", "localhost", "::1":
		default:
			SkipOrFail(t, "the connection string of %s is not for a loopback emulator; these tests run only against Azurite", a)
		}
		c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
		if err != nil {
			SkipOrFail(t, "Azurite does not answer at %s: %v", u.Host, err)
		}
		_ = c.Close()
	}
	return o
}

// EnsureContainer creates a container of an emulator account unless it
// exists. It is not deleted at the end: the platform's container names are
// fixed, and another test may be using the same one.
func EnsureContainer(t testing.TB, o *blobio.Opener, account, name string) {
	t.Helper()
	client, err := container.NewClientFromConnectionString(connString(o, account), name, nil)
	if err != nil {
		t.Fatalf("container client for %s/%s: %v", account, name, err)
	}
	// Bounded: an emulator that stalls fails the test instead of hanging it
	// until the package's timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err = client.Create(ctx, nil)
	switch {
	case err == nil, bloberror.HasCode(err, bloberror.ContainerAlreadyExists):
	case bloberror.HasCode(err, bloberror.ResourceNotFound, bloberror.AuthorizationFailure, bloberror.AuthenticationFailed,
		bloberror.InvalidAuthenticationInfo):
		SkipOrFail(t, "Azurite does not know the account %s (an Azurite started before scripts/azurite served it? stop and start it again): %v", account, err)
	default:
		t.Fatalf("creating container %s in %s: %v", name, account, err)
	}
}

// AccountKey returns the key of an emulator account from the Opener's
// connection strings (for tools that take a key, such as the official
// Icechunk library's Azure storage), "" when there is none.
func AccountKey(o *blobio.Opener, account string) string {
	return field(connString(o, account), "AccountKey")
}

func connString(o *blobio.Opener, account string) string {
	for _, cs := range o.ConnectionStrings {
		if strings.EqualFold(field(cs, "AccountName"), account) {
			return cs
		}
	}
	return ""
}

func hasAccount(o *blobio.Opener, account string) bool {
	for _, a := range o.Accounts {
		if a == account {
			return true
		}
	}
	return false
}

func field(cs, name string) string {
	for _, part := range strings.Split(cs, ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
