package partition

import (
	"maps"
	"slices"
	"sort"
)

// Sorted visits a map in key order: the idiom the lint recommends.
func Sorted(m map[string]int) []string {
	keys := slices.Sorted(maps.Keys(m))
	out := make([]string, 0, len(keys))
	for _, k := range keys { // a slice: fine
		out = append(out, k)
	}
	return out
}

// Summed adds values: order cannot leak out of a sum, so the author says so.
func Summed(m map[string]int) (sum int) {
	//lint:maporder-ok addition is commutative
	for _, v := range m {
		sum += v
	}
	for _, v := range m { //lint:maporder-ok addition is commutative
		sum += v
	}
	return sum
}

// Legacy sorts collected keys.
func Legacy(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m { //lint:maporder-ok sorted below
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
