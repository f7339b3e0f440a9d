package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
)

type scanJSON struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
	Type    string `json:"error_type"`
	Result  *struct {
		NCFiles []string `json:"nc_files"`
		Files   []struct {
			URL       string `json:"url"`
			SizeBytes int64  `json:"size_bytes"`
		} `json:"files"`
		FileCount      int   `json:"file_count"`
		TotalSizeBytes int64 `json:"total_size_bytes"`
	} `json:"result"`
}

func scan(t *testing.T, args ...string) (int, scanJSON, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"scan"}, args...), &out, &errb)
	var so scanJSON
	if out.Len() > 0 {
		require.NoError(t, json.Unmarshal(out.Bytes(), &so), out.String())
	}
	return code, so, errb.String()
}

func TestScanLocal(t *testing.T) {
	dir := t.TempDir()
	for name, size := range map[string]int{"b.nc": 20, "a.nc": 10, "x.txt": 3, "sub/c.nc": 5} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, make([]byte, size), 0o644))
	}

	code, so, _ := scan(t, dir)
	require.Equal(t, 0, code)
	assert.True(t, so.Success)
	assert.Equal(t, []string{dir + "/a.nc", dir + "/b.nc"}, so.Result.NCFiles)
	assert.Equal(t, 2, so.Result.FileCount)
	assert.Equal(t, int64(30), so.Result.TotalSizeBytes)
	require.Len(t, so.Result.Files, 2)
	assert.Equal(t, dir+"/a.nc", so.Result.Files[0].URL)
	assert.Equal(t, int64(10), so.Result.Files[0].SizeBytes)

	// Flags after the URL, both flag spellings.
	code, so, _ = scan(t, dir, "--recursive", "--pattern", "*.nc")
	require.Equal(t, 0, code)
	assert.Equal(t, []string{dir + "/a.nc", dir + "/b.nc", dir + "/sub/c.nc"}, so.Result.NCFiles)
	code, so, _ = scan(t, "-pattern=*.txt", dir)
	require.Equal(t, 0, code)
	assert.Equal(t, []string{dir + "/x.txt"}, so.Result.NCFiles)

	// No match: an empty list, not null.
	var out bytes.Buffer
	require.Equal(t, 0, run([]string{"scan", dir, "--pattern", "*.grib"}, &out, &bytes.Buffer{}))
	assert.Contains(t, out.String(), `"nc_files": []`)
	assert.Contains(t, out.String(), `"file_count": 0`)
}

func TestScanErrors(t *testing.T) {
	code, so, _ := scan(t, filepath.Join(t.TempDir(), "missing"))
	assert.Equal(t, 1, code)
	assert.False(t, so.Success)
	assert.Equal(t, "not_found", so.Type)
	assert.Contains(t, so.Error, "missing")

	code, so, _ = scan(t, t.TempDir(), "--pattern", "[")
	assert.Equal(t, 1, code)
	assert.Equal(t, "invalid_params", so.Type)

	code, so, _ = scan(t, "s3://bucket/x")
	assert.Equal(t, 1, code)
	assert.Equal(t, "configuration_error", so.Type)

	code, so, stderr := scan(t)
	assert.Equal(t, 2, code)
	assert.Equal(t, "usage_error", so.Type)
	assert.Contains(t, stderr, "Usage: vzarr scan [flags] [--pattern GLOB] [--recursive] URL")

	code, so, _ = scan(t, "a", "b")
	assert.Equal(t, 2, code)
	assert.Equal(t, "usage_error", so.Type)

	code, so, _ = scan(t, "--no-such-flag", "a")
	assert.Equal(t, 2, code)
	assert.Equal(t, "usage_error", so.Type)

	code, _, stderr = scan(t, "-h")
	assert.Equal(t, 0, code)
	assert.Contains(t, stderr, "--recursive")
}

func TestScanMemAndVerbose(t *testing.T) {
	mem := &blobio.MemBuckets{}
	b := mem.Create("arch")
	require.NoError(t, b.WriteAll(context.Background(), "d/x.nc", []byte("abc"), nil))
	b.Close()
	old := newOpener
	newOpener = func() *blobio.Opener { return &blobio.Opener{Mem: mem} }
	t.Cleanup(func() { newOpener = old })

	code, so, stderr := scan(t, "mem://arch/d", "--verbose")
	require.Equal(t, 0, code)
	assert.Equal(t, []string{"mem://arch/d/x.nc"}, so.Result.NCFiles)
	assert.Contains(t, stderr, "blobio: scan")
	assert.Contains(t, stderr, "files=1")

	code, so, _ = scan(t, "mem://other/d")
	assert.Equal(t, 1, code)
	assert.Equal(t, "not_found", so.Type)
}

// TestScanAzurite runs the command against Azurite when it is configured
// (see blobio's integration tests).
func TestScanAzurite(t *testing.T) {
	cs := os.Getenv("AZURE_STORAGE_CONNECTION_STRING")
	require := func(msg string) {
		if os.Getenv("VZARR_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s (VZARR_REQUIRE_TOOLS=1: Azurite is required)", msg)
		}
		t.Skip(msg)
	}
	if cs == "" {
		require("Azurite is not configured (AZURE_STORAGE_CONNECTION_STRING)")
	}
	var endpoint string
	for _, part := range strings.Split(cs, ";") {
		if k, v, ok := strings.Cut(part, "="); ok && k == "BlobEndpoint" {
			endpoint = v
		}
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost") {
		require("AZURE_STORAGE_CONNECTION_STRING is not for a loopback Azurite")
	}
	if c, err := net.DialTimeout("tcp", u.Host, 2*time.Second); err != nil {
		require("Azurite does not answer: " + err.Error())
	} else {
		c.Close()
	}
	name := "cli-scan-" + strings.ToLower(time.Now().Format("150405.000000"))
	name = strings.ReplaceAll(name, ".", "")
	client, err := container.NewClientFromConnectionString(cs, name, nil)
	assert.NoError(t, err)
	_, err = client.Create(context.Background(), nil)
	assert.NoError(t, err)
	t.Cleanup(func() { _, _ = client.Delete(context.Background(), nil) })
	for _, k := range []string{"era5/2020/t2m.nc", "era5/2021/t2m.nc", "era5/readme.txt"} {
		_, err := client.NewBlockBlobClient(k).UploadBuffer(context.Background(), []byte("CDF\x01"), nil)
		assert.NoError(t, err)
	}

	code, so, _ := scan(t, "abfs://"+name+"/era5", "--recursive")
	assert.Equal(t, 0, code)
	assert.Equal(t, []string{"abfs://" + name + "/era5/2020/t2m.nc", "abfs://" + name + "/era5/2021/t2m.nc"}, so.Result.NCFiles)
	assert.Equal(t, int64(8), so.Result.TotalSizeBytes)

	code, so, _ = scan(t, "abfs://no-such-container-x1/era5")
	assert.Equal(t, 1, code)
	assert.Equal(t, "not_found", so.Type)
}
