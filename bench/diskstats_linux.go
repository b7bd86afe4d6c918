//go:build linux

package bench

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// readDiskCounters reads the counters of the device holding dir (Linux
// 5.5+, which counts flushes); ok is false where that is not available.
func readDiskCounters(dir string) (diskCounters, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return diskCounters{}, false
	}
	// Linux's dev_t encoding (glibc's gnu_dev_major/minor).
	major := (st.Dev>>8)&0xfff | (st.Dev>>32)&^0xfff
	minor := st.Dev&0xff | (st.Dev>>12)&^0xff
	f, err := os.Open("/proc/diskstats")
	if err != nil {
		return diskCounters{}, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		// major minor name + 17 counters (flushes are the 16th).
		if len(fs) < 20 || fs[0] != strconv.FormatUint(major, 10) || fs[1] != strconv.FormatUint(minor, 10) {
			continue
		}
		sectors, err1 := strconv.ParseUint(fs[3+6], 10, 64)
		flushes, err2 := strconv.ParseUint(fs[3+15], 10, 64)
		if err1 != nil || err2 != nil {
			return diskCounters{}, false
		}
		return diskCounters{device: fs[2], sectorsWritten: sectors, flushes: flushes}, true
	}
	return diskCounters{}, false
}

// readCPUCounters reads the machine's line of /proc/stat.
func readCPUCounters() (cpuCounters, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuCounters{}, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fs := strings.Fields(line)
	// cpu user nice system idle iowait irq softirq steal ...
	if len(fs) < 9 || fs[0] != "cpu" {
		return cpuCounters{}, false
	}
	var c cpuCounters
	for i, f := range fs[1:9] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return cpuCounters{}, false
		}
		c.total += v
		if i != 3 && i != 4 { // idle, iowait
			c.busy += v
		}
	}
	return c, true
}
