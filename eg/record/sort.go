package record

import (
	"cmp"
	"slices"
)

func sortBySequence[T any](s []T, seq func(T) int) {
	slices.SortStableFunc(s, func(a, b T) int { return cmp.Compare(seq(a), seq(b)) })
}
