package testenv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Series is one combine series of testdata/series (testdata/gen_series.py):
// its series.json and its folder.
type Series struct {
	// Dir is the series' folder, absolute.
	Dir           string   `json:"-"`
	Name          string   `json:"name"`
	Files         []string `json:"files"`
	ConcatDim     string   `json:"concat_dim"`
	Expect        string   `json:"expect"` // "ok" or "error"
	ErrorContains []string `json:"error_contains"`
}

// CombineSeries returns every series of testdata/series, by folder name.
func CombineSeries(t testing.TB) []Series {
	t.Helper()
	root, ok := repoRoot()
	if !ok {
		t.Fatal("no go.mod above the working directory")
	}
	files, err := filepath.Glob(filepath.Join(root, "testdata", "series", "*", "series.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no series under %s/testdata/series: %v", root, err)
	}
	out := make([]Series, len(files))
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &out[i]); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[i].Dir = filepath.Dir(f)
	}
	return out
}
