package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/pipeline"
)

// commandNames lists the registered commands, sorted.
func commandNames() []string {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// decodeEnvelope reads the one JSON envelope a command printed.
func decodeEnvelope(t *testing.T, stdout string) map[string]any {
	t.Helper()
	var env map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &env), "stdout: %s", stdout)
	return env
}

func TestEveryCommandIsRegistered(t *testing.T) {
	assert.Equal(t, []string{"combine", "inspect", "prune", "ref", "run", "scan", "stac", "verify", "version"}, commandNames())
	var out, errb bytes.Buffer
	require.Equal(t, 0, run([]string{"--help"}, &out, &errb))
	for _, n := range commandNames() {
		assert.Contains(t, out.String(), "vzarr "+commands[n].synopsis, n)
		assert.Contains(t, out.String(), commands[n].summary, n)
	}
}

// TestCommandHelp: --help (and -h) of every command prints a synopsis, a
// description, an example of that very command and the flags, exits 0
// and prints nothing on stdout; old flag spellings are not shown.
func TestCommandHelp(t *testing.T) {
	for _, name := range commandNames() {
		for _, flag := range []string{"--help", "-h"} {
			t.Run(name+flag, func(t *testing.T) {
				code, stdout, stderr := runCmd(name, flag)
				assert.Equal(t, 0, code)
				assert.Empty(t, stdout)
				assert.Regexp(t, "^Usage: vzarr "+name+"[ \n]", stderr)
				assert.NotContains(t, stderr, "Usage of "+name)
				ex := stderr[strings.Index(stderr, "\nExample:\n"):]
				require.NotEmpty(t, ex, "an Example section")
				assert.Contains(t, ex, "\n  vzarr "+name, "the example runs the command")
				assert.Contains(t, stderr, "--verbose")
				assert.Contains(t, stderr, "--allow-host")
				for _, hidden := range []string{"--out-dir", "--collection "} {
					assert.NotContains(t, stderr, hidden)
				}
			})
		}
	}
}

// TestCommandUsageErrors: an unknown flag, a bad flag value and a missing
// argument give the usage envelope on stdout and exit status 2, for every
// command.
func TestCommandUsageErrors(t *testing.T) {
	missing := map[string][]string{
		"combine": {"combine", "a.json"},
		"inspect": {"inspect"},
		"prune":   {"prune", "--catalog", "postgres://x"},
		"ref":     {"ref", "a.nc"},
		"run":     {"run", "src"},
		"scan":    {"scan"},
		"stac":    {"stac", "ref.json"},
		"verify":  {"verify"},
		"version": {"version", "extra"},
	}
	for _, name := range commandNames() {
		for _, tc := range []struct {
			what string
			args []string
		}{
			{"unknown flag", []string{name, "--no-such-flag", "x"}},
			{"bad value", []string{name, "--verbose=maybe"}},
			{"missing argument", missing[name]},
		} {
			t.Run(name+"/"+tc.what, func(t *testing.T) {
				require.NotEmpty(t, tc.args, "a usage error case for %s", name)
				t.Setenv("VZARR_CATALOG_DSN", "")
				code, stdout, stderr := runCmd(tc.args...)
				assert.Equal(t, 2, code, stdout)
				env := decodeEnvelope(t, stdout)
				assert.Equal(t, false, env["success"])
				assert.Equal(t, pipeline.ErrTypeUsage, env["error_type"])
				assert.NotEmpty(t, env["error"])
				assert.Contains(t, stderr, "Usage: vzarr "+name, "the help goes to stderr")
			})
		}
	}
}

// TestOutFlagSpellings: -o and --out name every output; the old
// spellings still work, hidden.
func TestOutFlagSpellings(t *testing.T) {
	for _, name := range []string{"combine", "ref", "run", "stac"} {
		f := newFlags(name, &bytes.Buffer{})
		var out string
		f.output(&out, "x")
		require.NoError(t, f.Parse([]string{"-o", "a"}))
		assert.Equal(t, "a", out)
		require.NoError(t, f.Parse([]string{"--out", "b"}))
		assert.Equal(t, "b", out)
	}
	src := fixture(t, "hdf5/nc4_basic.nc")
	for _, flag := range []string{"-o", "--out", "--out-dir"} {
		dir := t.TempDir()
		code, stdout, _ := runCmd("ref", flag, dir+"/", src)
		require.Equal(t, 0, code, "%s: %s", flag, stdout)
		_, err := os.Stat(filepath.Join(dir, "nc4_basic.nc.json"))
		assert.NoError(t, err, flag)
	}
}

// TestSuccessEnvelopes: every command that succeeds prints
// {"success": true, "result": {...}}.
func TestSuccessEnvelopes(t *testing.T) {
	dir := t.TempDir()
	src := fixture(t, "sample/tas_2015.nc")
	ref := filepath.Join(dir, "tas.json")
	for _, args := range [][]string{
		{"version"},
		{"scan", filepath.Dir(src)},
		{"inspect", src},
		{"ref", src, "-o", ref},
		{"verify", ref},
		{"combine", "-o", filepath.Join(dir, "combined.parq"), ref},
		{"stac", "--dataset-id", "d", "--collection-id", "c", filepath.Join(dir, "combined.parq")},
	} {
		t.Run(args[0], func(t *testing.T) {
			code, stdout, stderr := runCmd(args...)
			require.Equal(t, 0, code, "%s\n%s", stdout, stderr)
			env := decodeEnvelope(t, stdout)
			assert.Equal(t, true, env["success"])
			assert.IsType(t, map[string]any{}, env["result"])
			assert.NotContains(t, env, "error_type")
		})
	}
}

// TestStacOutToBlob: stac -o writes the item through blobio, so a blob
// URL works; --collection (the old spelling) still sets the collection.
func TestStacOutToBlob(t *testing.T) {
	mem := &blobio.MemBuckets{}
	mem.Create("items")
	old := newOpener
	newOpener = func() *blobio.Opener { return &blobio.Opener{Mem: mem} }
	t.Cleanup(func() { newOpener = old })

	ref := filepath.Join("..", "..", "testdata", "stac", "global_monthly.json")
	code, stdout, stderr := runCmd("stac", "--dataset-id", "d", "--resource-id", "r", "--collection", "coll", "--account", "acct", "-o", "mem://items/stac/item.json", ref)
	require.Equal(t, 0, code, "%s\n%s", stdout, stderr)
	env := decodeEnvelope(t, stdout)
	assert.Equal(t, "mem://items/stac/item.json", env["result"].(map[string]any)["output"])

	obj, err := (&blobio.Opener{Mem: mem}).OpenObject(context.Background(), "mem://items/stac/item.json")
	require.NoError(t, err)
	defer obj.Close()
	buf := make([]byte, obj.Size())
	_, err = obj.ReadAt(buf, 0)
	require.NoError(t, err)
	var item map[string]any
	require.NoError(t, json.Unmarshal(buf, &item))
	assert.Equal(t, "d-r", item["id"])
	assert.Equal(t, "coll", item["collection"])
}

// TestRefAndCombineFormats: ref and combine write either format, chosen
// by --format or by the output's name, and every reading command takes
// either.
func TestRefAndCombineFormats(t *testing.T) {
	dir := t.TempDir()
	src := fixture(t, "sample/tas_2015.nc")
	for _, tc := range []struct {
		name    string
		out     string
		args    []string
		isSet   bool
		combine string
	}{
		{"json by default", "a.json", nil, false, "c1.parq"},
		{"parquet by flag", "b", []string{"--format", "parquet"}, true, "c2"},
		{"parquet by name", "c.parq", nil, true, "c3.json"},
		{"json by flag over the name", "d.parq", []string{"--format", "json"}, false, "c4.parquet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.out)
			code, stdout, _ := runCmd(append([]string{"ref", src, "-o", out}, tc.args...)...)
			require.Equal(t, 0, code, stdout)
			fi, err := os.Stat(out)
			require.NoError(t, err)
			assert.Equal(t, tc.isSet, fi.IsDir())

			comb := filepath.Join(dir, tc.combine)
			code, stdout, _ = runCmd(append([]string{"combine", "-o", comb, out}, tc.args...)...)
			require.Equal(t, 0, code, stdout)
			code, stdout, _ = runCmd("verify", comb, "--source", src)
			assert.Equal(t, 0, code, stdout)
			code, stdout, _ = runCmd("stac", "--dataset-id", "d", comb)
			assert.Equal(t, 0, code, stdout)
		})
	}
}
