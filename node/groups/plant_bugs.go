//go:build plantbugs

package groups

// PlantedBug selects the bug this build plants, by name, or none (""):
//
//   - "commit-before-store": OffsetCommit is acknowledged as soon as its
//     records are proposed, before they are committed;
//   - "no-replay": a replica that becomes the coordinator starts from an
//     empty state instead of the partition's committed records (a load
//     that forgets to replay the log);
//   - "fenced-commit": OffsetCommit from a member the group no longer
//     knows, or of an old generation, is taken instead of fenced.
//
// The planted-bug tests set it and run seeds until the checker catches the
// bug. Builds without the plantbugs tag have no such variable.
var PlantedBug string

// Planted reports whether bug name is planted.
func Planted(name string) bool { return PlantedBug == name }
