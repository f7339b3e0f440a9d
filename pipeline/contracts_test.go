package pipeline_test

// The platform's contracts (../shared/contracts.md), storage side: the
// example inputs of contracts 2-6, copied verbatim into
// testdata/contracts/, run through pipeline.Run against Azurite with the
// platform's two storage accounts: sources in rmhazuregeobronze
// (abfs://rmhazuregeobronze/netcdf/era5/), references in rmhazuregeosilver
// (abfs://rmhazuregeosilver/refs/...). scripts/azurite serves both accounts
// and its env command configures them (VZARR_STORAGE_ACCOUNTS,
// VZARR_STORAGE_CONNECTION_STRINGS).

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/internal/testenv"
	"github.com/greensight/vzarr/pipeline"
)

// contractInput reads an example input of testdata/contracts.
func contractInput(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "contracts", name))
	require.NoError(t, err)
	require.True(t, json.Valid(b), name)
	return b
}

// substitute replaces the example's placeholders: only fields whose value
// holds "..." (the contracts' own placeholders, such as "abfs://...1.nc"
// or "def456...") may be replaced, everything else stays as written.
func substitute(t *testing.T, in json.RawMessage, subs map[string]any) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(in, &m))
	for k, v := range subs {
		old, ok := m[k]
		require.True(t, ok, "the example has no field %q", k)
		require.Contains(t, string(old), "...", "field %q is no placeholder; the example must stay as it is", k)
		b, err := json.Marshal(v)
		require.NoError(t, err)
		m[k] = b
	}
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

// runContract runs a stage and returns its envelope as JSON values, after
// checking success and that the result has every field of the example's
// output.
func runContract(t *testing.T, deps *pipeline.Deps, stage string, params json.RawMessage, fields ...string) map[string]any {
	t.Helper()
	env := pipeline.Run(context.Background(), deps, stage, params)
	b, err := json.Marshal(env)
	require.NoError(t, err)
	var got struct {
		Success   bool           `json:"success"`
		Result    map[string]any `json:"result"`
		Error     string         `json:"error"`
		ErrorType string         `json:"error_type"`
	}
	require.NoError(t, json.Unmarshal(b, &got))
	require.True(t, got.Success, "%s: %s (%s)", stage, got.Error, got.ErrorType)
	for _, f := range fields {
		assert.Contains(t, got.Result, f, "%s result lacks the example's field %q", stage, f)
	}
	return got.Result
}

func TestContractsOnTwoAccounts(t *testing.T) {
	o := testenv.AzuriteAccounts(t, testenv.BronzeAccount, testenv.SilverAccount)
	ctx := context.Background()
	testenv.EnsureContainer(t, o, testenv.BronzeAccount, "netcdf")
	testenv.EnsureContainer(t, o, testenv.SilverAccount, "refs")

	// The sources: testdata/sample/tas_2015.nc ... tas_2020.nc as
	// abfs://rmhazuregeobronze/netcdf/era5/tas_YYYY.nc (Contracts 3 and 4
	// name tas_2020.nc).
	files, err := filepath.Glob(filepath.Join("..", "testdata", "sample", "tas_*.nc"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var sources []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		u := "abfs://" + testenv.BronzeAccount + "/netcdf/era5/" + filepath.Base(f)
		require.NoError(t, o.WriteAtomic(ctx, u, func(w io.Writer) error { _, err := w.Write(data); return err }))
		sources = append(sources, u)
	}
	sort.Strings(sources)

	store := catalog.NewMemory()
	deps := &pipeline.Deps{Opener: o, Store: store}

	// Contract 2: scan.
	res := runContract(t, deps, pipeline.StageScan, contractInput(t, "contract2_scan.json"),
		"nc_files", "file_count", "total_size_bytes")
	var scanned []string
	require.NoError(t, json.Unmarshal([]byte(asJSON(t, res["nc_files"])), &scanned))
	assert.True(t, sort.StringsAreSorted(scanned), "sorted")
	assert.Subset(t, scanned, sources)
	assert.Contains(t, scanned, "abfs://rmhazuregeobronze/netcdf/era5/tas_2020.nc", "in the example's form")
	assert.EqualValues(t, len(scanned), res["file_count"])
	assert.Greater(t, res["total_size_bytes"], float64(0))

	// Contract 3: validate.
	res = runContract(t, deps, pipeline.StageValidate, contractInput(t, "contract3_validate.json"),
		"nc_url", "status", "variables", "dimensions", "warnings", "recommendation")
	assert.Equal(t, "abfs://rmhazuregeobronze/netcdf/era5/tas_2020.nc", res["nc_url"])
	assert.Contains(t, []any{"success", "warning", "error"}, res["status"])
	require.IsType(t, map[string]any{}, res["variables"])
	tas, ok := res["variables"].(map[string]any)["tas"].(map[string]any)
	require.True(t, ok, "variables.tas")
	for _, f := range []string{"shape", "dtype", "chunks", "compression"} {
		assert.Contains(t, tas, f)
	}
	assert.Equal(t, "float32", tas["dtype"])
	assert.Equal(t, "gzip", tas["compression"])
	for _, d := range []string{"time", "lat", "lon"} {
		assert.Contains(t, res["dimensions"], d)
	}

	// Contract 4: generate a reference into the silver account.
	res = runContract(t, deps, pipeline.StageRef, contractInput(t, "contract4_ref.json"),
		"nc_url", "ref_url", "dimensions", "variables", "ref_size_bytes")
	assert.Equal(t, "abfs://rmhazuregeosilver/refs/era5-temperature/tas_2020.json", res["ref_url"])
	for _, v := range []string{"tas", "lat", "lon", "time"} {
		assert.Contains(t, res["variables"], v)
	}
	ref := readAll(t, o, "abfs://rmhazuregeosilver/refs/era5-temperature/tas_2020.json")
	assert.EqualValues(t, len(ref), res["ref_size_bytes"])
	// Chunk URLs name the bronze account in the form adlfs resolves.
	assert.Contains(t, string(ref), "abfs://netcdf@rmhazuregeobronze.dfs.core.windows.net/era5/tas_2020.nc")
	// The accounts are separate: the bronze account has no such object.
	_, err = o.OpenObject(ctx, "abfs://rmhazuregeobronze/refs/era5-temperature/tas_2020.json")
	assert.ErrorIs(t, err, blobio.ErrNotFound)

	// Contract 5: combine. The example's nc_urls are placeholders
	// ("abfs://...1.nc", "abfs://...2.nc"); they are replaced by the
	// sources above. Everything else is the example's.
	combined := "abfs://rmhazuregeosilver/refs/era5-temperature/combined.json"
	in := substitute(t, contractInput(t, "contract5_combine.json"), map[string]any{"nc_urls": sources})
	res = runContract(t, deps, pipeline.StageCombine, in,
		"dataset_id", "combined_ref_url", "source_files", "dimensions", "variables", "time_range", "spatial_extent", "ref_size_bytes")
	assert.Equal(t, "era5-temperature_global-daily-2020", res["dataset_id"])
	assert.Equal(t, combined, res["combined_ref_url"])
	assert.Len(t, res["source_files"], len(sources))
	assert.Contains(t, res["variables"], "tas")
	assert.Len(t, res["time_range"], 2)
	assert.Len(t, res["spatial_extent"], 4)
	assert.EqualValues(t, len(readAll(t, o, combined)), res["ref_size_bytes"])

	// Contract 6: register. The example's release_id ("def456...") and
	// combined_ref_url ("abfs://...") are placeholders: the Release of the
	// example's dataset and resource, and Contract 5's combined_ref_url.
	ens, err := store.EnsureRelease(ctx, catalog.ReleaseKey{DatasetID: "era5-temperature", ResourceID: "global-daily-2020", JobID: "contract-test-" + testenv.RandomSuffix()})
	require.NoError(t, err)
	_, err = store.TransitionRelease(ctx, ens.Release.ID, catalog.Transition{To: catalog.StatusProcessing})
	require.NoError(t, err)
	in = substitute(t, contractInput(t, "contract6_register.json"), map[string]any{"release_id": ens.Release.ID, "combined_ref_url": combined})
	res = runContract(t, deps, pipeline.StageRegister, in, "stac_item_cached", "release_updated", "blob_path")
	assert.Equal(t, true, res["stac_item_cached"])
	assert.Equal(t, true, res["release_updated"])
	assert.Equal(t, "refs/era5-temperature/combined.json", res["blob_path"], "the example's blob_path")
	rel, err := store.GetRelease(ctx, ens.Release.ID)
	require.NoError(t, err)
	assert.Equal(t, catalog.StatusCompleted, rel.ProcessingStatus)
	require.NotEmpty(t, rel.StacItemJSON)
	// The item's references asset opens with adlfs: container "refs" of
	// the silver account, chunks in the bronze account.
	var item struct {
		Assets map[string]struct {
			Href       string `json:"href"`
			OpenKwargs struct {
				StorageOptions struct {
					Fo            string            `json:"fo"`
					TargetOptions map[string]string `json:"target_options"`
					RemoteOptions map[string]string `json:"remote_options"`
				} `json:"storage_options"`
			} `json:"xarray:open_kwargs"`
		} `json:"assets"`
	}
	require.NoError(t, json.Unmarshal(rel.StacItemJSON, &item))
	var found bool
	for _, a := range item.Assets {
		if so := a.OpenKwargs.StorageOptions; so.Fo != "" {
			found = true
			assert.Equal(t, "abfs://refs/era5-temperature/combined.json", so.Fo)
			assert.Equal(t, testenv.SilverAccount, so.TargetOptions["account_name"])
			assert.Equal(t, testenv.BronzeAccount, so.RemoteOptions["account_name"])
		}
	}
	assert.True(t, found, "a references asset with open kwargs: %s", rel.StacItemJSON)
}

func readAll(t *testing.T, o *blobio.Opener, u string) []byte {
	t.Helper()
	obj, err := o.OpenObject(context.Background(), u)
	require.NoError(t, err)
	defer obj.Close()
	b := make([]byte, obj.Size())
	_, err = obj.ReadAt(b, 0)
	if err != io.EOF {
		require.NoError(t, err)
	}
	return b
}

// TestContractSourceNotAllowed: a stage given a URL of a host the process
// was not configured for fails with error_type "source_not_allowed" (and no
// request; see blobio's TestNoConnectionToOtherHosts).
func TestContractSourceNotAllowed(t *testing.T) {
	deps := &pipeline.Deps{Opener: &blobio.Opener{AccountName: "rmhazuregeobronze", Accounts: []string{"rmhazuregeosilver"}}}
	for stage, params := range map[string]string{
		pipeline.StageScan:     `{"source_url": "abfs://c@attacker.evil.example/x", "file_pattern": "*.nc", "recursive": true}`,
		pipeline.StageValidate: `{"nc_url": "abfs://netcdf@otheraccount.dfs.core.windows.net/era5/tas_2020.nc"}`,
		pipeline.StageRef:      `{"nc_url": "abfs://netcdf@rmhazuregeobronze.dfs.core.windows.net.evil.example/x.nc", "ref_url": "abfs://rmhazuregeosilver/refs/x.json"}`,
	} {
		env := pipeline.Run(context.Background(), deps, stage, json.RawMessage(params))
		assert.False(t, env.Success, stage)
		assert.Equal(t, "source_not_allowed", env.ErrorType, "%s: %s", stage, env.Error)
	}
}
