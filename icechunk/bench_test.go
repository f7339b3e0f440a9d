package icechunk

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkCommit writes one commit of files × chunks virtual refs (one array,
// one source file per row) to a local directory, as vzarr's Icechunk output
// would for an archive of files: go test -bench Commit -benchtime 1x ./icechunk
func BenchmarkCommit(b *testing.B) {
	for _, size := range []struct{ files, chunks int }{{100, 1000}, {100, 10000}} {
		b.Run(fmt.Sprintf("%dx%d", size.files, size.chunks), func(b *testing.B) {
			ctx := context.Background()
			locs := make([]string, size.files)
			for f := range locs {
				locs[f] = fmt.Sprintf("file:///data/file-%05d.nc", f)
			}
			for i := 0; i < b.N; i++ {
				repo, err := Create(ctx, DirStorage{Root: b.TempDir()}, RepoConfig{VirtualChunkContainers: []VirtualChunkContainer{{URLPrefix: "file:///data/", Store: StoreLocalFilesystem}}})
				if err != nil {
					b.Fatal(err)
				}
				s, err := repo.NewSession(ctx, "main")
				if err != nil {
					b.Fatal(err)
				}
				if err := s.AddArray("/v", []byte(`{}`), []DimShape{{Length: uint64(size.files), NumChunks: uint32(size.files)}, {Length: uint64(size.chunks), NumChunks: uint32(size.chunks)}}, nil); err != nil {
					b.Fatal(err)
				}
				for f := 0; f < size.files; f++ {
					for c := 0; c < size.chunks; c++ {
						ref := ChunkRef{Index: []uint32{uint32(f), uint32(c)}, Location: locs[f], Offset: uint64(c) * 4096, Length: 4096, ChecksumLastModified: 1_700_000_000}
						if err := s.SetChunk("/v", ref); err != nil {
							b.Fatal(err)
						}
					}
				}
				if _, err := s.Commit(ctx, "bench"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size.files*size.chunks*b.N)/b.Elapsed().Seconds(), "refs/s")
		})
	}
}
