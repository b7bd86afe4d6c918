// Package sim is the simulated world: a virtual clock, network and disks,
// process crashes and restarts, a seeded scheduler that delivers every event
// to the same cores production runs, workload clients, and a recorder of the
// client-visible history.
//
// One seed reproduces a whole run bit for bit, so sim runs everything on one
// goroutine and draws every choice from the run's env.Rand; a failing run
// prints its seed and the command that replays it. sim may import every
// production package, but never checker or reports: the history it records
// is judged by checker, which knows nothing of the implementation.
//
// Not built yet; see issue 6.
package sim
