// Package testenv gives tests the services that scripts/ start
// (PostgreSQL, RabbitMQ, Azurite) and the tools they need (Python with
// netCDF4), skipping when they are absent, or failing instead when
// VZARR_REQUIRE_TOOLS=1 (as in CI).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
)

// Required reports whether missing tools fail tests (VZARR_REQUIRE_TOOLS=1).
func Required() bool { return os.Getenv("VZARR_REQUIRE_TOOLS") == "1" }

// SkipOrFail skips t, or fails it when tools are required.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (VZARR_REQUIRE_TOOLS=1)", msg)
	}
	t.Skip(msg)
}

// RandomSuffix returns 8 random hex digits.
func RandomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// PostgresDSN returns VZARR_PG_DSN, or skips.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("VZARR_PG_DSN")
	if dsn == "" {
		SkipOrFail(t, "VZARR_PG_DSN is not set: run scripts/postgres start; eval \"$(scripts/postgres env)\"")
	}
	return dsn
}

// Postgres returns a PostgreSQL catalog in a fresh schema, dropped at the
// end of the test, or skips.
func Postgres(t testing.TB) *catalog.Postgres {
	t.Helper()
	dsn := PostgresDSN(t)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("VZARR_PG_DSN: %v", err)
	}
	cfg.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connecting to %s: %v", dsn, err)
	}
	schema := "vzarr_t_" + RandomSuffix()
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		pool.Close()
	})
	s, err := catalog.NewPostgres(pool, catalog.PostgresOptions{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrating %s: %v", schema, err)
	}
	return s
}

// RabbitURL returns VZARR_RABBIT_URL (an amqp:// URL of a broker that
// answers), or skips.
func RabbitURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("VZARR_RABBIT_URL")
	if u == "" {
		SkipOrFail(t, "VZARR_RABBIT_URL is not set: run scripts/rabbitmq start; eval \"$(scripts/rabbitmq env)\"")
	}
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" {
		t.Fatalf("VZARR_RABBIT_URL %q is not an amqp:// URL", u)
	}
	host := pu.Host
	if pu.Port() == "" {
		host = net.JoinHostPort(pu.Hostname(), "5672")
	}
	c, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		SkipOrFail(t, "RabbitMQ does not answer at %s: %v", host, err)
	}
	_ = c.Close()
	return u
}

// Azurite returns an Opener for Azurite (AZURE_STORAGE_CONNECTION_STRING
// for a loopback endpoint) and a fresh container, deleted at the end of
// the test; or skips.
func Azurite(t testing.TB) (*blobio.Opener, string) {
	t.Helper()
	cs := os.Getenv("AZURE_STORAGE_CONNECTION_STRING")
	if cs == "" {
		SkipOrFail(t, "Azurite is not configured: run scripts/azurite start; eval \"$(scripts/azurite env)\"")
	}
	var endpoint string
	for _, part := range strings.Split(cs, ";") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.EqualFold(k, "BlobEndpoint") {
			endpoint = v
		}
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		SkipOrFail(t, "AZURE_STORAGE_CONNECTION_STRING has no BlobEndpoint; these tests run only against Azurite")
	}
	switch u.Hostname() {
	case "127.0.0.1", "localhost", "::1":
	default:
		SkipOrFail(t, "AZURE_STORAGE_CONNECTION_STRING is not for a loopback emulator; these tests run only against Azurite")
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		SkipOrFail(t, "Azurite does not answer at %s: %v", u.Host, err)
	}
	_ = c.Close()
	o := &blobio.Opener{ConnectionString: cs,
		Retry: blobio.RetryOptions{MaxRetries: 2, RetryDelay: 100 * time.Millisecond, TryTimeout: 30 * time.Second}}
	name := "vz-" + RandomSuffix()
	client, err := container.NewClientFromConnectionString(cs, name, nil)
	if err != nil {
		t.Fatalf("container client: %v", err)
	}
	if _, err := client.Create(context.Background(), nil); err != nil {
		t.Fatalf("creating container %s: %v", name, err)
	}
	t.Cleanup(func() { _, _ = client.Delete(context.Background(), nil) })
	return o, name
}

// Python returns /usr/bin/python3 when it can import the modules, or
// skips.
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		SkipOrFail(t, "%s is missing", py)
	}
	if len(modules) > 0 {
		out, err := exec.Command(py, "-c", "import "+strings.Join(modules, ", ")).CombinedOutput()
		if err != nil {
			SkipOrFail(t, "python3 cannot import %s: %s", strings.Join(modules, ", "), strings.TrimSpace(string(out)))
		}
	}
	return py
}

// SharedTool returns the path of ../shared/tools/NAME next to the
// repository (the steering repository's tools, such as check_refs.py).
// A user's clone has no ../shared, so its absence is never a failure, even
// with VZARR_REQUIRE_TOOLS=1: callers skip or log and go on.
func SharedTool(name string) (string, bool) {
	root, ok := repoRoot()
	if !ok {
		return "", false
	}
	p := root + "/../shared/tools/" + name
	if _, err := os.Stat(p); err != nil {
		return "", false
	}
	return p, true
}
