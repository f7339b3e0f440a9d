package testenv

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// SourcePatterns are the NetCDF/HDF5 files of the repository's test data,
// relative to the repository root, then those of ../shared/realworld (a
// user's clone has none: the pattern matches nothing).
var SourcePatterns = []string{
	"testdata/hdf5/*.h5", "testdata/hdf5/*.nc", "testdata/hdf5/*.h5.gz",
	"testdata/netcdf3/*.nc", "kerchunk/testdata/*.h5", "kerchunk/testdata/*.nc",
	"testdata/sample/*.nc", "testdata/series/*/*.nc",
	"../shared/realworld/*.nc",
}

// SourceFiles returns every file SourcePatterns match below root, the
// repository root (".." from a package folder), sorted.
func SourceFiles(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	for _, pat := range SourcePatterns {
		m, err := filepath.Glob(filepath.Join(root, pat))
		if err != nil {
			t.Fatalf("glob %s: %v", pat, err)
		}
		out = append(out, m...)
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatalf("no test files under %s", root)
	}
	return out
}

// ReadFixture returns a test file's bytes, decompressed when its name ends
// in .gz (the big fixtures are committed gzip-compressed).
func ReadFixture(t testing.TB, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(p, ".gz") {
		return data
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	if data, err = io.ReadAll(zr); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return data
}

// FixtureFile returns the path of a test file whose bytes are those
// ReadFixture returns: p itself, or for a .gz file a decompressed copy in
// t.TempDir(), for code that opens files by name.
func FixtureFile(t testing.TB, p string) string {
	t.Helper()
	if !strings.HasSuffix(p, ".gz") {
		return p
	}
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(p), ".gz"))
	if err := os.WriteFile(out, ReadFixture(t, p), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// CopySample copies the files of testdata/sample (below root, the
// repository root: ".." from a package folder) into a new folder of the
// test's, so that a test may change or remove them, and returns the folder
// and the copies, sorted.
func CopySample(t testing.TB, root string) (string, []string) {
	t.Helper()
	src, err := filepath.Glob(filepath.Join(root, "testdata", "sample", "*.nc"))
	if err != nil {
		t.Fatalf("glob testdata/sample: %v", err)
	}
	if len(src) == 0 {
		t.Fatalf("testdata/sample is empty: run testdata/gen_sample.py")
	}
	dir := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range src {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, dst)
	}
	sort.Strings(files)
	return dir, files
}
