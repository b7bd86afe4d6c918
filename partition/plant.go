//go:build !plantbugs

package partition

// planted reports whether a planted bug is active. Bugs are planted only
// in builds with the plantbugs tag (see plant_bugs.go), which the
// simulator's proof-of-detection tests use; in every other build this is
// the constant false and the planted branches compile away.
func planted(string) bool { return false }
