//go:build !linux

package bench

// readDiskCounters: /proc/diskstats is Linux's; elsewhere there is no
// device reading.
func readDiskCounters(string) (diskCounters, bool) { return diskCounters{}, false }

// readCPUCounters: /proc/stat is Linux's.
func readCPUCounters() (cpuCounters, bool) { return cpuCounters{}, false }
