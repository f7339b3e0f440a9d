package hdf5meta

import (
	"fmt"
	"math/bits"
)

// Limits against hostile input. Sizes and counts read from the file are
// checked against the file size before anything is allocated, and every
// walk over a linked structure (B-trees, heaps, continuations) refuses to
// read more node bytes than the file holds, since the nodes of a valid file
// do not overlap. What remains are structures that are valid one by one but
// referenced many times: thousands of groups sharing one huge symbol table,
// attributes whose vlen elements all point at the same large heap object.
// Each such reference costs real work and memory, so the objects built from
// a file draw on a budget proportional to its size. Objects are built once
// per File (see objectAt), so a valid file spends its budget once, however
// often it is walked.
const (
	budgetFixed   = 32 << 20 // bytes any file may expand to
	budgetPerByte = 16       // and this much per byte of file
	linkCost      = 48       // budget charged per link, beyond its strings
	valueCost     = 16       // budget charged per decoded value
	maxPathBytes  = 1 << 16  // longest object path Walk builds
	maxWalkVisits = 10 << 20 // paths Walk visits
	maxLookupHops = 1024     // links followed by one Object call
)

// initBudget sets the expansion budget for a file of size bytes.
func (f *File) initBudget() {
	f.budget.Store(budgetFixed + budgetPerByte*min(f.size, 1<<50))
}

// charge takes n from the file's expansion budget; it fails once the
// objects built from the file would hold far more than the file does.
func (f *File) charge(n uint64, off int64, what string) error {
	if n > 1<<50 {
		n = 1 << 50
	}
	if f.budget.Add(-int64(n)) < 0 {
		// Give it back: one absurd request must not fail everything else.
		f.budget.Add(int64(n))
		return &FormatError{Offset: off, What: fmt.Sprintf("%s: the file expands to more than %d bytes of metadata (structures shared or overlapping)",
			what, budgetFixed+budgetPerByte*min(f.size, 1<<50)), Err: ErrUnsupported}
	}
	return nil
}

// nodeBytes counts the bytes of the nodes one walk of a linked structure
// reads. Nodes of a valid file are disjoint, so more bytes than the file
// holds means nodes that overlap or repeat: without this check a few
// hundred bytes can make a walk read gigabytes.
type nodeBytes struct {
	f     *File
	total uint64
}

func (nb *nodeBytes) add(n uint64, off int64, what string) error {
	nb.total += n
	if nb.total > uint64(nb.f.size) {
		return formatErr(off, "%s: nodes overlap (more than the file's %d bytes read)", what, nb.f.size)
	}
	return nil
}

// satAdd returns a+b, or math.MaxUint64 when that overflows.
func satAdd(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}

// mulSat returns a*b, or math.MaxUint64 when that overflows.
func mulSat(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return ^uint64(0)
	}
	return lo
}

// checkGrid checks a chunk grid that linear chunk indexes are turned into
// coordinates with (offsetOf): an empty dimension or a chunk count past
// 2^64 would make its strides 0 and the divisions there panic. It returns
// the number of chunks.
func checkGrid(grid []uint64, off int64, what string) (uint64, error) {
	n := uint64(1)
	for _, g := range grid {
		n = mulSat(n, g)
	}
	if n == 0 || n == ^uint64(0) {
		return 0, formatErr(off, "%s for a grid of %v chunks", what, grid)
	}
	return n, nil
}
