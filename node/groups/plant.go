//go:build !plantbugs

package groups

// Planted reports whether a planted bug is active. Bugs are planted only in
// builds with the plantbugs tag (plant_bugs.go), which the simulator's
// proof-of-detection tests use; in every other build this is the constant
// false and the planted branches compile away.
func Planted(string) bool { return false }
