package icechunk

import "slices"

// sortByIndex sorts items by their chunk index (lexicographic, as manifests and
// transaction logs require). When all indexes have the same rank it uses an LSD
// radix sort of a permutation (16-bit digits, last coordinate first, skipping
// digits that are equal everywhere) and moves each item once: for a million
// refs that is several times faster than a comparison sort of the structs.
func sortByIndex[T any](items []T, index func(*T) []uint32) {
	cmp := func(a, b T) int { return slices.Compare(index(&a), index(&b)) }
	if len(items) < 2 || slices.IsSortedFunc(items, cmp) {
		return
	}
	rank := len(index(&items[0]))
	for i := range items {
		if len(index(&items[i])) != rank {
			slices.SortStableFunc(items, cmp)
			return
		}
	}
	n := len(items)
	perm := make([]int32, n)
	tmp := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
	}
	count := make([]int, 1<<16)
	for d := rank - 1; d >= 0; d-- {
		for shift := 0; shift < 32; shift += 16 {
			clear(count)
			for _, p := range perm {
				count[(index(&items[p])[d]>>shift)&0xffff]++
			}
			if slices.Contains(count, n) {
				continue // every item has the same digit here
			}
			pos := 0
			for k, c := range count {
				count[k] = pos
				pos += c
			}
			for _, p := range perm {
				k := (index(&items[p])[d] >> shift) & 0xffff
				tmp[count[k]] = p
				count[k]++
			}
			perm, tmp = tmp, perm
		}
	}
	sorted := make([]T, n)
	for i, p := range perm {
		sorted[i] = items[p]
	}
	copy(items, sorted)
}
