package icechunk

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds hostile metadata files (header, zstd and FlatBuffers,
// and the FlexBuffers config of a repo info file, decoded with
// RepoInfo.Containers) to the decoders a reader runs on a repository it
// did not write: they
// return ErrHeader or ErrCorrupt, never panic or allocate by what a file
// declares.
func FuzzDecode(f *testing.F) {
	m := &Manifest{ID: ObjectID{7}, Arrays: []ArrayManifest{{Node: NodeID{1}, Refs: []ChunkRef{
		{Index: []uint32{0, 1}, Location: "file:///data/x.nc", Offset: 10, Length: 3, ChecksumLastModified: 1},
		{Index: []uint32{1, 0}, Inline: []byte{1, 2}},
	}}}}
	s := &Snapshot{ID: ObjectID{8}, Message: "m", Nodes: []Node{
		{ID: NodeID{1}, Path: "/", UserData: []byte(`{"node_type":"group"}`)},
		{ID: NodeID{2}, Path: "/a", UserData: []byte(`{}`), Array: &ArrayData{Shape: []DimShape{{Length: 4, NumChunks: 2}}, DimensionNames: []string{"x"},
			Manifests: []ManifestRef{{ID: ObjectID{7}, Extents: [][2]uint32{{0, 2}}}}}},
	}}
	tl := &TransactionLog{ID: ObjectID{8}, NewArrays: []NodeID{{2}}, UpdatedChunks: []ArrayChunks{{Node: NodeID{2}, Chunks: [][]uint32{{0}}}}}
	cfg, err := RepoConfig{VirtualChunkContainers: []VirtualChunkContainer{{URLPrefix: "file:///data/", Store: StoreLocalFilesystem},
		{URLPrefix: "az://c/d/", Store: StoreAzure, Options: map[string]string{"account": "a"}}}}.encode()
	if err != nil {
		f.Fatal(err)
	}
	ri, err := EncodeRepoInfo(&RepoInfo{Branches: map[string]ObjectID{"main": {8}}, Snapshots: []SnapshotInfo{{ID: ObjectID{8}}},
		Updates: []Update{{Kind: UpdateRepoInitialized}}, Config: cfg})
	if err != nil {
		f.Fatal(err)
	}
	official, err := os.ReadFile(filepath.Join("testdata", "official-config.flexbuffers"))
	if err != nil {
		f.Fatal(err)
	}
	riOfficial, err := EncodeRepoInfo(&RepoInfo{Branches: map[string]ObjectID{"main": {8}}, Snapshots: []SnapshotInfo{{ID: ObjectID{8}}},
		Updates: []Update{{Kind: UpdateRepoInitialized}}, Config: official})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct {
		typ     FileType
		payload []byte
	}{
		{FileManifest, EncodeManifest(m)},
		{FileSnapshot, EncodeSnapshot(s)},
		{FileTransactionLog, EncodeTransactionLog(tl)},
		{FileRepoInfo, ri},
		{FileRepoInfo, riOfficial},
	} {
		f.Add(byte(seed.typ), EncodeFile(seed.typ, seed.payload))
		f.Add(byte(seed.typ), seed.payload)
	}
	f.Fuzz(func(t *testing.T, typ byte, data []byte) {
		decoders := map[FileType]func([]byte) error{
			FileManifest:       func(b []byte) error { _, err := DecodeManifest(b); return err },
			FileSnapshot:       func(b []byte) error { _, err := DecodeSnapshot(b); return err },
			FileTransactionLog: func(b []byte) error { _, err := DecodeTransactionLog(b); return err },
			FileRepoInfo: func(b []byte) error {
				ri, err := DecodeRepoInfo(b)
				if err != nil {
					return err
				}
				_, err = ri.Containers()
				return err
			},
		}
		ft := FileType(typ)
		dec, ok := decoders[ft]
		if !ok {
			return
		}
		check := func(err error) {
			if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrHeader) {
				t.Fatalf("untyped error: %v", err)
			}
		}
		// The payload on its own, and as a whole file.
		check(dec(data))
		payload, _, err := DecodeFile(ft, data)
		check(err)
		if err == nil {
			check(dec(payload))
		}
	})
}
