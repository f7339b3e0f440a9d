package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAllowHost: a URL naming a host that is no endpoint of a configured
// account is refused (source_not_allowed) without a request; --allow-host
// adds hosts to the Opener, repeatable and as comma lists.
func TestAllowHost(t *testing.T) {
	for _, k := range []string{"AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_CONNECTION_STRING",
		"VZARR_STORAGE_ACCOUNTS", "VZARR_STORAGE_CONNECTION_STRINGS", "VZARR_STORAGE_ALLOWED_HOSTS"} {
		t.Setenv(k, "")
	}
	t.Setenv("AZURE_STORAGE_ACCOUNT_NAME", "myacct")
	for _, u := range []string{"abfs://cnt@attacker.evil.example/x", "abfs://cnt@otheracct.dfs.core.windows.net/x",
		"abfs://cnt@myacct.dfs.core.windows.net.evil.example/x"} {
		code, so, _ := scan(t, u)
		assert.Equal(t, 1, code, u)
		assert.Equal(t, "source_not_allowed", so.Type, u)
	}
	code, so, _ := scan(t, "abfs://../x")
	assert.Equal(t, 1, code)
	assert.Equal(t, "configuration_error", so.Type)

	dir := t.TempDir()
	code, _, _ = scan(t, dir, "--allow-host", "A.example, b.example:10000", "--allow-host=c.example")
	require.Equal(t, 0, code)
	assert.Equal(t, hostList{"a.example", "b.example:10000", "c.example"}, allowedHosts)
	assert.Equal(t, []string{"a.example", "b.example:10000", "c.example"}, newOpener().AllowedHosts)

	// The next command starts afresh.
	code, _, _ = scan(t, dir)
	require.Equal(t, 0, code)
	assert.Empty(t, newOpener().AllowedHosts)

	code, so, _ = scan(t, dir, "--allow-host", "https://x.example/")
	assert.Equal(t, 2, code)
	assert.Equal(t, "usage_error", so.Type)

	// Every command that reads storage takes the flag.
	for _, cmd := range []string{"scan", "run", "combine", "inspect", "ref", "stac", "verify"} {
		var out, errb bytes.Buffer
		run([]string{cmd, "-h"}, &out, &errb)
		assert.Contains(t, out.String()+errb.String(), "allow-host", cmd)
	}
}
