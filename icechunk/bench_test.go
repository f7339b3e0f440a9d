package icechunk

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/greensight/vzarr/kerchunk"
)

// benchCommit writes one commit of files × chunks virtual refs (one 2-d array,
// one source file per row, refs set row by row through Session.SetChunk) to a
// fresh local repository in dir, and returns the commit's snapshot.
func benchCommit(b *testing.B, dir string, files, chunks int) *Snapshot {
	locs := make([]string, files)
	for f := range locs {
		locs[f] = fmt.Sprintf("file:///data/file-%05d.nc", f)
	}
	repo, s := newRepoSession(b, DirStorage{Root: dir}, RepoConfig{VirtualChunkContainers: []VirtualChunkContainer{{URLPrefix: "file:///data/", Store: StoreLocalFilesystem}}})
	if err := s.AddArray("/v", []byte(`{}`), []DimShape{{Length: uint64(files), NumChunks: uint32(files)}, {Length: uint64(chunks), NumChunks: uint32(chunks)}}, nil); err != nil {
		b.Fatal(err)
	}
	idx := make([]uint32, 2) // SetChunk copies the index: one buffer serves every call
	for f := 0; f < files; f++ {
		for c := 0; c < chunks; c++ {
			idx[0], idx[1] = uint32(f), uint32(c)
			ref := ChunkRef{Index: idx, Location: locs[f], Offset: uint64(c) * 4096, Length: 4096, ChecksumLastModified: 1_700_000_000}
			if err := s.SetChunk("/v", ref); err != nil {
				b.Fatal(err)
			}
		}
	}
	return commitSnapshot(b, repo, s, "bench")
}

// benchFromRefs is benchCommit through FromRefs: a kerchunk reference set of
// one files × chunks array (keys "v/F.C", range refs into FILES small local
// files) is built outside the timer, then translated and committed.
func benchFromRefs(b *testing.B, dir string, files, chunks int) *Snapshot {
	ctx := context.Background()
	b.StopTimer()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		b.Fatal(err)
	}
	refs := kerchunk.NewRefs(files*chunks + 2)
	refs.SetText(".zgroup", `{"zarr_format":2}`)
	refs.SetText("v/.zarray", fmt.Sprintf(`{"zarr_format":2,"shape":[%d,%d],"chunks":[1,1],"dtype":"<f8","fill_value":null,"order":"C","compressor":null,"filters":null}`, files, chunks))
	refs.SetText("v/.zattrs", `{"_ARRAY_DIMENSIONS":["f","c"]}`)
	for f := 0; f < files; f++ {
		path := filepath.Join(src, fmt.Sprintf("file-%05d.nc", f))
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			b.Fatal(err)
		}
		for c := 0; c < chunks; c++ {
			refs.AppendKey(func(k []byte) []byte {
				return strconv.AppendInt(append(strconv.AppendInt(append(k, "v/"...), int64(f), 10), '.'), int64(c), 10)
			}, kerchunk.Range(path, int64(c)*8, 8))
		}
	}
	containers, err := RefsContainers(refs)
	if err != nil {
		b.Fatal(err)
	}
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)  // the input is not the writer's
	b.ReportMetric(float64(vmHWM(b))/(1<<20), "input-RSS-MiB") // the process with the input built
	b.StartTimer()
	repo, s := newRepoSession(b, DirStorage{Root: filepath.Join(dir, "repo")}, RepoConfig{VirtualChunkContainers: containers})
	if err := FromRefs(ctx, s, refs); err != nil {
		b.Fatal(err)
	}
	return commitSnapshot(b, repo, s, "bench")
}

// BenchmarkCommit writes one commit of files × chunks virtual refs, as vzarr's
// Icechunk output would for an archive of files:
// go test -run '^$' -bench Commit -benchtime 1x ./icechunk
func BenchmarkCommit(b *testing.B) {
	for _, size := range []struct{ files, chunks int }{{100, 1000}, {100, 10000}} {
		b.Run(fmt.Sprintf("%dx%d", size.files, size.chunks), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchCommit(b, b.TempDir(), size.files, size.chunks)
			}
			b.ReportMetric(float64(size.files*size.chunks*b.N)/b.Elapsed().Seconds(), "refs/s")
		})
	}
}

// BenchmarkCommitScale is BenchmarkCommit at the size VZARR_BENCH_SIZE gives
// (FILESxCHUNKS, default 1000x1000), reporting what scripts/bench-icechunk
// prints: refs, manifests written, bytes written, and the process's peak RSS
// during the run (VmHWM, reset first through /proc/self/clear_refs where the
// kernel allows). VZARR_BENCH_PATH=fromrefs goes through FromRefs from a
// kerchunk reference set (built before the timer and the RSS reset) instead of
// SetChunk. Run it alone, once: -bench CommitScale -benchtime 1x.
func BenchmarkCommitScale(b *testing.B) {
	commit := benchCommit
	switch p := os.Getenv("VZARR_BENCH_PATH"); p {
	case "", "session":
	case "fromrefs":
		commit = benchFromRefs
	default:
		b.Fatalf("VZARR_BENCH_PATH=%q, want session or fromrefs", p)
	}
	files, chunks := 1000, 1000
	if s := os.Getenv("VZARR_BENCH_SIZE"); s != "" {
		f, c, ok := strings.Cut(s, "x")
		var err1, err2 error
		files, err1 = strconv.Atoi(f)
		chunks, err2 = strconv.Atoi(c)
		if !ok || err1 != nil || err2 != nil || files <= 0 || chunks <= 0 {
			b.Fatalf("VZARR_BENCH_SIZE=%q, want FILESxCHUNKS", s)
		}
	}
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // reset VmHWM; best effort
		snap := commit(b, dir, files, chunks)
		b.StopTimer()
		peak := vmHWM(b)
		written := dirBytes(b, dir)
		var manifestBytes uint64
		for _, f := range snap.ManifestFiles {
			manifestBytes += f.SizeBytes
		}
		b.ReportMetric(float64(files*chunks), "refs")
		b.ReportMetric(float64(len(snap.ManifestFiles)), "manifests")
		b.ReportMetric(float64(manifestBytes), "manifest-bytes")
		b.ReportMetric(float64(written), "repo-bytes")
		b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
		b.StartTimer()
	}
}

// vmHWM returns the process's peak resident set size in bytes (0 where
// /proc/self/status is missing).
func vmHWM(b *testing.B) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmHWM:")); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(string(v)), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	return 0
}

// dirBytes is the total size of the files under dir.
func dirBytes(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		fi, err := e.Info()
		n += fi.Size()
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
