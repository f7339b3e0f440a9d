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
	perm := radixOrder(len(items), 2*rank, func(d int, i uint32) uint32 {
		return index(&items[i])[rank-1-d/2] >> (16 * (d % 2)) & 0xffff
	})
	permute(perm, func(i int) *T { return &items[i] })
}

// radixOrder returns the permutation that sorts n items stably by their
// 16-bit digits, least significant first: digit(d, i) is digit d (0 <=
// d < digits) of item i. A digit equal in every item costs one counting pass.
func radixOrder(n, digits int, digit func(d int, i uint32) uint32) []uint32 {
	perm := make([]uint32, n)
	tmp := make([]uint32, n)
	for i := range perm {
		perm[i] = uint32(i)
	}
	count := make([]int, 1<<16)
	for d := range digits {
		clear(count)
		for _, p := range perm {
			count[digit(d, p)]++
		}
		if count[digit(d, 0)] == n {
			continue // every item has the same digit here
		}
		pos := 0
		for k, c := range count {
			count[k] = pos
			pos += c
		}
		for _, p := range perm {
			k := digit(d, p)
			tmp[count[k]] = p
			count[k]++
		}
		perm, tmp = tmp, perm
	}
	return perm
}

// permute moves the items so that the one at perm[i] ends at i, in place, by
// following the cycles of perm (which it consumes): one move per item and no
// second copy of the items.
func permute[T any](perm []uint32, at func(int) *T) {
	for i := range perm {
		if perm[i] == uint32(i) {
			continue
		}
		saved := *at(i)
		j := i
		for {
			k := int(perm[j])
			perm[j] = uint32(j)
			if k == i {
				*at(j) = saved
				break
			}
			*at(j) = *at(k)
			j = k
		}
	}
}
