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
	lists := [][]NodeID{t.NewGroups, t.NewArrays, t.DeletedGroups, t.DeletedArrays, t.UpdatedArrays, t.UpdatedGroups}
	for _, l := range lists {
		sortNodeIDs(l)
	}
	slices.SortFunc(t.UpdatedChunks, func(a, b ArrayChunks) int { return bytes.Compare(a.Node[:], b.Node[:]) })
	b := flatbuffers.NewBuilder(1024)
	chunks := make([]flatbuffers.UOffsetT, len(t.UpdatedChunks))
	for i, ac := range t.UpdatedChunks {
		sortByIndex(ac.Chunks, func(c *[]uint32) []uint32 { return *c })
		cs := make([]flatbuffers.UOffsetT, len(ac.Chunks))
		for j, c := range ac.Chunks {
			v := u32Vector(b, c)
			b.StartObject(1)
			b.PrependUOffsetTSlot(ciCoords, v, 0)
			cs[j] = b.EndObject()
		}
		cv := offsetVector(b, cs)
		b.StartObject(2)
		b.PrependStructSlot(aucNodeID, prependID(b, ac.Node[:]), 0)
		b.PrependUOffsetTSlot(aucChunks, cv, 0)
		chunks[i] = b.EndObject()
	}
	chv := offsetVector(b, chunks)
	vecs := make([]flatbuffers.UOffsetT, len(lists))
	for i, l := range lists {
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
