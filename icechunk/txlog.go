package icechunk

import (
	"bytes"
	"slices"

	flatbuffers "github.com/google/flatbuffers/go"
)

// ArrayChunks lists the chunk coordinates a transaction changed in one array.
type ArrayChunks struct {
	Node   NodeID
	Chunks [][]uint32
}

// TransactionLog records what a commit changed (transactions/{snapshot id}).
type TransactionLog struct {
	ID                           ObjectID // the snapshot's id
	NewGroups, NewArrays         []NodeID
	DeletedGroups, DeletedArrays []NodeID
	UpdatedArrays, UpdatedGroups []NodeID
	UpdatedChunks                []ArrayChunks
}

// Schema slots (declaration order in transaction_log.fbs).
const (
	ciCoords                                                    = 0
	aucNodeID, aucChunks                                        = 0, 1
	tlID, tlNewGroups, tlNewArrays, tlDeletedGroups             = 0, 1, 2, 3
	tlDeletedArrays, tlUpdatedArrays, tlUpdatedGroups, tlChunks = 4, 5, 6, 7
)

func sortNodeIDs(ids []NodeID) {
	slices.SortFunc(ids, func(a, b NodeID) int { return bytes.Compare(a[:], b[:]) })
}

// EncodeTransactionLog sorts the lists of t in place and returns the payload.
func EncodeTransactionLog(t *TransactionLog) []byte {
	slices.SortFunc(t.UpdatedChunks, func(a, b ArrayChunks) int { return bytes.Compare(a.Node[:], b.Node[:]) })
	lists := make([]chunkList, len(t.UpdatedChunks))
	size := 1024
	for i, ac := range t.UpdatedChunks {
		sortByIndex(ac.Chunks, func(c *[]uint32) []uint32 { return *c })
		lists[i] = chunkList{node: ac.Node, n: len(ac.Chunks), at: func(j int, _ []uint32) []uint32 { return ac.Chunks[j] }}
		for _, c := range ac.Chunks {
			size += 24 + 4*len(c)
		}
	}
	return encodeTransactionLog(flatbuffers.NewBuilder(size), t, lists)
}

// chunkList is the updated chunks of one array as the encoder reads them: n
// indexes in order, the i-th returned by at (which may write it into dst, a
// buffer of the array's rank).
type chunkList struct {
	node NodeID
	rank int
	n    int
	at   func(i int, dst []uint32) []uint32
}

// encodeTransactionLog returns the payload of t with lists (sorted by node,
// each in index order) as its updated chunks, built in b (reset first);
// t.UpdatedChunks is not read.
func encodeTransactionLog(b *flatbuffers.Builder, t *TransactionLog, lists []chunkList) []byte {
	ids := [][]NodeID{t.NewGroups, t.NewArrays, t.DeletedGroups, t.DeletedArrays, t.UpdatedArrays, t.UpdatedGroups}
	for _, l := range ids {
		sortNodeIDs(l)
	}
	b.Reset()
	chunks := make([]flatbuffers.UOffsetT, len(lists))
	var cs []flatbuffers.UOffsetT
	for i, l := range lists {
		cs = resize(cs, l.n)
		dst := make([]uint32, l.rank)
		for j := range l.n {
			v := u32Vector(b, l.at(j, dst))
			b.StartObject(1)
			b.PrependUOffsetTSlot(ciCoords, v, 0)
			cs[j] = b.EndObject()
		}
		cv := offsetVector(b, cs)
		b.StartObject(2)
		b.PrependStructSlot(aucNodeID, prependID(b, l.node[:]), 0)
		b.PrependUOffsetTSlot(aucChunks, cv, 0)
		chunks[i] = b.EndObject()
	}
	chv := offsetVector(b, chunks)
	vecs := make([]flatbuffers.UOffsetT, len(ids))
	for i, l := range ids {
		vecs[i] = idVector(b, l)
	}
	b.StartObject(10)
	b.PrependStructSlot(tlID, prependID(b, t.ID[:]), 0)
	for i, v := range vecs {
		b.PrependUOffsetTSlot(tlNewGroups+i, v, 0)
	}
	b.PrependUOffsetTSlot(tlChunks, chv, 0)
	return finish(b, b.EndObject())
}

// DecodeTransactionLog parses a transaction log payload (moves are ignored).
func DecodeTransactionLog(buf []byte) (*TransactionLog, error) {
	root, err := rootTable(buf)
	if err != nil {
		return nil, err
	}
	t := &TransactionLog{}
	if t.ID, err = root.objectID(tlID, "transaction log id"); err != nil {
		return nil, err
	}
	lists := []*[]NodeID{&t.NewGroups, &t.NewArrays, &t.DeletedGroups, &t.DeletedArrays, &t.UpdatedArrays, &t.UpdatedGroups}
	for i, l := range lists {
		ids, err := root.structs(tlNewGroups+i, 8)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			*l = append(*l, NodeID(id))
		}
	}
	arrays, err := root.tables(tlChunks)
	if err != nil {
		return nil, err
	}
	for _, at := range arrays {
		var ac ArrayChunks
		if ac.Node, err = at.nodeID(aucNodeID, "updated chunks node id"); err != nil {
			return nil, err
		}
		cs, err := at.tables(aucChunks)
		if err != nil {
			return nil, err
		}
		for _, ct := range cs {
			c, err := ct.u32s(ciCoords)
			if err != nil {
				return nil, err
			}
			ac.Chunks = append(ac.Chunks, c)
		}
		t.UpdatedChunks = append(t.UpdatedChunks, ac)
	}
	return t, nil
}
