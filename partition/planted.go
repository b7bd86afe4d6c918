package partition

// Planted reports whether planted bug name is active: always false
// outside plantbugs builds (plant.go). The broker's handlers of a
// partition's state (node) plant theirs under it too.
func Planted(name string) bool { return planted(name) }
