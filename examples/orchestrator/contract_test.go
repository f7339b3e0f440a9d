package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/internal/testenv"
)

// TestContract1OverHTTP submits Contract 1's example body
// (testdata/contracts/contract1_submit.json, verbatim from
// ../shared/contracts.md) through the API unchanged, with token
// authentication and the allow-list, against Azurite serving the
// platform's two accounts (scripts/azurite): sources in
// abfs://rmhazuregeobronze/netcdf/era5/, references written to
// abfs://rmhazuregeosilver/refs/. The answer has the contract's fields and
// the job completes.
func TestContract1OverHTTP(t *testing.T) {
	o := testenv.AzuriteAccounts(t, testenv.BronzeAccount, testenv.SilverAccount)
	testenv.EnsureContainer(t, o, testenv.BronzeAccount, "netcdf")
	testenv.EnsureContainer(t, o, testenv.SilverAccount, "refs")
	ctx := context.Background()
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "sample", "tas_*.nc"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		u := "abfs://" + testenv.BronzeAccount + "/netcdf/era5/" + filepath.Base(f)
		require.NoError(t, o.WriteAtomic(ctx, u, func(w io.Writer) error { _, err := w.Write(data); return err }))
	}
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "contracts", "contract1_submit.json"))
	require.NoError(t, err)

	cfg := memConfig(t)
	cfg.AllowLocal = false
	cfg.AllowedSources = "abfs://rmhazuregeobronze/netcdf/era5/"
	cfg.RefsURL = "abfs://rmhazuregeosilver/refs/"
	store := catalog.NewMemory()
	api := startOrch(t, cfg, &Options{Opener: o, Store: store})

	code, resp := api.do(t, "POST", "/api/platform/submit", "application/json", string(body))
	require.Equal(t, http.StatusAccepted, code, "%v", resp)
	// Contract 1's output: {"success", "job_id", "release_id", "asset_id", "status": "queued"}.
	assert.Equal(t, true, resp["success"])
	assert.Equal(t, "queued", resp["status"])
	for _, k := range []string{"job_id", "release_id", "asset_id"} {
		assert.NotEmpty(t, resp[k], k)
	}
	// The Asset and the Release exist before the job is queued (they are
	// created with the job, in one transaction).
	rel, err := store.GetRelease(ctx, resp["release_id"].(string))
	require.NoError(t, err)
	assert.Equal(t, resp["asset_id"], rel.AssetID)
	asset, err := store.GetAsset(ctx, rel.AssetID)
	require.NoError(t, err)
	assert.Equal(t, "era5-temperature", asset.DatasetID)
	assert.Equal(t, "global-daily-2020", asset.ResourceID)

	st := api.waitDone(t, resp["job_id"].(string), 2*time.Minute)
	require.Equal(t, "COMPLETED", st["status"], "%v", st["error"])
	release := st["release"].(map[string]any)
	assert.Equal(t, "COMPLETED", release["processing_status"])
	assert.Equal(t, "platform", release["submitted_by"])
	assert.Equal(t, true, release["has_stac_item"])
	// The combined reference is in the silver account's container refs.
	blobPath, _ := release["blob_path"].(string)
	require.NotEmpty(t, blobPath)
	t.Logf("blob_path %s", blobPath)
	obj, err := o.OpenObject(ctx, "abfs://"+testenv.SilverAccount+"/refs/"+strings.TrimPrefix(blobPath, "refs/"))
	require.NoError(t, err, "the combined reference in %s", testenv.SilverAccount)
	_ = obj.Close()

	// The same request again: the same job (Contract 1's rule).
	code, again := api.do(t, "POST", "/api/platform/submit", "application/json", string(body))
	require.Equal(t, http.StatusOK, code, "%v", again)
	assert.Equal(t, resp["job_id"], again["job_id"])
	assert.Equal(t, "completed", again["status"])
}
