package main

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
)

// hashes reads every object under prefix and maps its key to its SHA-256.
func (p *platform) hashes(t *testing.T, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, u := range p.list(t, prefix) {
		key := strings.TrimPrefix(u, "abfs://"+p.container+"/")
		h := sha256.Sum256(p.read(t, key))
		out[key] = hex.EncodeToString(h[:])
	}
	return out
}

// TestE2ERunScopedOutputs is reproduction (1) of issue 11 on PostgreSQL,
// RabbitMQ and Azurite: resource s20/ow completes (21 objects); a failed
// overwrite (an incompatible tas_1870.nc added) and a failed submit of
// another source on the same ids each leave every object of Release v1
// byte-identical, v1 COMPLETED, and its combined.json still reading back
// what xarray reads from the files. Before run-scoped folders, the first
// failure left 0 objects.
func TestE2ERunScopedOutputs(t *testing.T) {
	p := startPlatform(t)
	const n = 20
	files := p.series(t, "s20/src", n)
	body := func(prefix string, overwrite bool) map[string]any {
		b := submitBody(p, prefix, "ow")
		b["dataset_id"] = "s20"
		b["processing_options"].(map[string]any)["overwrite"] = overwrite
		return b
	}
	run := func(b map[string]any) (map[string]any, map[string]any) {
		t.Helper()
		code, resp := p.api.submit(t, b)
		require.Equal(t, http.StatusAccepted, code, resp)
		st := p.api.waitDone(t, resp["job_id"].(string), 5*time.Minute)
		if st["status"] == "FAILED" {
			p.api.waitCleanedUp(t, resp["job_id"].(string), time.Minute)
		}
		return resp, st
	}
	bad, err := os.ReadFile(filepath.Join("..", "..", "testdata", "hdf5", "nc4_basic.nc"))
	require.NoError(t, err)
	badFile := filepath.Join(t.TempDir(), "tas_1870.nc")
	require.NoError(t, os.WriteFile(badFile, bad, 0o644))

	v1, st := run(body("s20/src", false))
	require.Equal(t, "COMPLETED", st["status"], "%v", st["error"])
	v1Dir := "refs/s20/ow/" + v1["release_id"].(string)
	v1Hashes := p.hashes(t, v1Dir)
	require.Len(t, v1Hashes, n+1)
	blobPath := v1Dir + "/combined.json"
	assert.Equal(t, blobPath, st["release"].(map[string]any)["blob_path"])

	v1Intact := func(t *testing.T) {
		t.Helper()
		assert.Equal(t, v1Hashes, p.hashes(t, v1Dir), "every object of v1 is byte-identical")
		_, st := p.api.do(t, "GET", "/api/jobs/status/"+v1["job_id"].(string), "", "")
		rel := st["release"].(map[string]any)
		assert.Equal(t, "COMPLETED", rel["processing_status"])
		assert.Equal(t, blobPath, rel["blob_path"])
		checkV1(t, p, blobPath, files)
	}

	t.Run("failed overwrite", func(t *testing.T) {
		p.upload(t, "s20/src", []string{badFile})
		resp, st := run(body("s20/src", true))
		require.Equal(t, "FAILED", st["status"])
		assert.Equal(t, "combine", st["stage"])
		assert.NotEqual(t, v1["release_id"], resp["release_id"])
		assert.Empty(t, p.list(t, "refs/s20/ow/"+resp["release_id"].(string)), "the failed run left nothing")
		v1Intact(t)
	})
	t.Run("failed submit of another source", func(t *testing.T) {
		p.upload(t, "s20/other", append(append([]string{}, files[:3]...), badFile))
		resp, st := run(body("s20/other", false))
		require.Equal(t, "FAILED", st["status"])
		assert.NotEqual(t, v1["release_id"], resp["release_id"])
		assert.Empty(t, p.list(t, "refs/s20/ow/"+resp["release_id"].(string)))
		v1Intact(t)
	})
	assert.Len(t, p.list(t, "refs/s20/ow"), n+1, "only v1's objects in the asset's folder")
}

// waitCleanedUp waits for the engine's marker that a FAILED job's failure
// hook (the pipeline's cleanup) has run to the end: the job turns FAILED
// first, and the cleanup follows.
func (o *orch) waitCleanedUp(t *testing.T, jobID string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, resp := o.do(t, "GET", "/api/dbadmin/tasks/"+jobID, "", "")
		require.Equal(t, http.StatusOK, code, resp)
		gates, _ := resp["stage_gates"].([]any)
		for _, g := range gates {
			// The marker is the hook's lease: COMPLETED once the hook has
			// run to the end (and the job is FAILED only then).
			m := g.(map[string]any)
			if m["type"] == "engine.failure" && m["status"] == "COMPLETED" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: no failure marker after %s: %v", jobID, timeout, resp["stage_gates"])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkV1 runs check_refs.py --combined on the combined reference at key,
// its chunk URLs pointed at the local copies of the blobs.
func checkV1(t *testing.T, p *platform, key string, files []string) {
	t.Helper()
	combined := string(p.read(t, key))
	local := strings.ReplaceAll(combined, "abfs://"+p.container+"/s20/src/", filepath.Dir(files[0])+"/")
	require.NotEqual(t, combined, local, "the chunk URLs name the blobs")
	ref := filepath.Join(t.TempDir(), "combined.json")
	require.NoError(t, os.WriteFile(ref, []byte(local), 0o644))
	testenv.CheckCombined(t, ref, "time", files)
}
