package runtime_test

import (
	"errors"
	"fmt"
	"net"
	"testing"

	"sluice/node/runtime"
	"sluice/raftlog/vfs"
)

// TestGroupCommitSync: by default, where syncfs reports errors, a broker's
// group commits touching several partitions sync them with one syncfs; with
// FileSync, every commit fdatasyncs file by file. Either way every
// acknowledged record is read back after the cluster restarts.
func TestGroupCommitSync(t *testing.T) {
	_, werr := vfs.OS().(vfs.WholeSyncer).OpenWholeSync(t.TempDir())
	for _, fileSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("FileSync=%v", fileSync), func(t *testing.T) {
			if !fileSync && errors.Is(werr, vfs.ErrWholeSyncUnsupported) {
				t.Skipf("no whole-file-system sync here: %v", werr)
			}
			const topic, parts, n = "commits", 12, 1200
			dir := t.TempDir()
			opts := runtime.DevOptions{Brokers: 3, DataDir: dir, Logger: testLogger(), FileSync: fileSync}
			c, err := runtime.StartDev(opts)
			if err != nil {
				t.Fatal(err)
			}
			stopped := false
			t.Cleanup(func() {
				if !stopped {
					c.Stop()
				}
			})
			createTopic(t, newAdmin(t, c), topic, parts, 3)
			produceN(t, c, topic, n)

			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			m, err := runtime.ServeMetrics(c.Broker(1), ln, runtime.MetricsOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s := scrape(t, "http://"+m.Addr()+"/metrics")
			m.Close()
			whole := s[`sluice_group_commits_total{broker="1",sync="whole"}`]
			byFile := s[`sluice_group_commits_total{broker="1",sync="file"}`]
			t.Logf("broker 1: %v group commits by syncfs, %v file by file; mean %.2f ms", whole, byFile,
				1000*s[`sluice_group_commit_duration_seconds_sum{broker="1"}`]/max(1, s[`sluice_group_commit_duration_seconds_count{broker="1"}`]))
			if fileSync && whole != 0 {
				t.Fatalf("FileSync: %v group commits used syncfs", whole)
			}
			if !fileSync && whole == 0 {
				t.Fatalf("no group commit used syncfs (%v file by file) while %d partitions took writes", byFile, parts)
			}

			c.Stop()
			stopped = true
			opts.Fresh = false
			c, err = runtime.StartDev(opts)
			if err != nil {
				t.Fatal(err)
			}
			stopped = false
			waitLeaders(t, newAdmin(t, c), topic, parts)
			ends := map[int32]int64{}
			for p := range int32(parts) {
				ends[p] = n / parts
			}
			got := consumeAll(t, c, topic, ends)
			for p, rs := range got {
				if int64(len(rs)) != ends[p] {
					t.Fatalf("partition %d after restart: %d records, want %d", p, len(rs), ends[p])
				}
			}
		})
	}
}
