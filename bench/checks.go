package bench

import (
	"cmp"
	"fmt"
	"slices"
)

// Check is one ratio the issue sets a target for (Goal set), or one given
// as context (Goal empty).
type Check struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Goal   string  `json:"goal,omitempty"` // e.g. "≥ 1.5×"
	Met    bool    `json:"met"`
	Detail string  `json:"detail"`
}

// Targets of issue 11.
const (
	goalVsJSDefault   = 1.5 // sluice ÷ JetStream R3, default sync, max-rate
	goalVsJSAlways    = 3.0 // sluice ÷ JetStream R3, sync always, max-rate
	goalVsDiskCeiling = 0.7 // sluice MB/s ÷ (fdatasync MB/s at its batch size ÷ RF)
	goalLatencyFloor  = 3.0 // sluice p99 ack ÷ (fdatasync p99 + loopback RTT p99), at 50% rate
	sluiceRF          = 3
	sluiceQuorum      = 2 // min.insync.replicas of sluice dev; a raft majority of 3
)

func find(res *Results, target string) *TargetResult {
	i := slices.IndexFunc(res.Targets, func(t TargetResult) bool { return t.Target == target })
	if i < 0 {
		return nil
	}
	return &res.Targets[i]
}

// Recheck computes res.Checks again from its targets and floors (for a
// report rewritten from an older results.json).
func (res *Results) Recheck() { res.Checks = checks(res) }

// checks computes the ratios of sluice to the other targets and floors.
func checks(res *Results) []Check {
	s := find(res, TargetSluice)
	if s == nil || s.RecordsPerS == 0 {
		return nil
	}
	w := res.Workload
	var out []Check
	ratio := func(name string, v, goal float64, atLeast bool, detail string) {
		c := Check{Name: name, Value: v, Detail: detail}
		if goal > 0 {
			if atLeast {
				c.Goal, c.Met = fmt.Sprintf("≥ %.1f×", goal), v >= goal
			} else {
				c.Goal, c.Met = fmt.Sprintf("≤ %.1f×", goal), v <= goal
			}
		}
		out = append(out, c)
	}
	headline := w.Acks == "all" && w.Mode == MaxRate
	for _, o := range res.Targets {
		if o.Target == TargetSluice || o.RecordsPerS == 0 {
			continue
		}
		switch w.Mode {
		case CatchUp:
			if s.CatchUpMBPerS > 0 && o.CatchUpMBPerS > 0 {
				ratio("catch-up read: sluice ÷ "+o.Target, s.CatchUpMBPerS/o.CatchUpMBPerS, 0, true,
					fmt.Sprintf("%.1f vs %.1f MB/s read from the backlog", s.CatchUpMBPerS, o.CatchUpMBPerS))
			}
		case MaxRate:
			goal := 0.0
			if headline && o.Target == TargetJSDefault {
				goal = goalVsJSDefault
			}
			if headline && o.Target == TargetJSAlways {
				goal = goalVsJSAlways
			}
			ratio("throughput: sluice ÷ "+o.Target, s.RecordsPerS/o.RecordsPerS, goal, true,
				fmt.Sprintf("%.0f vs %.0f records/s", s.RecordsPerS, o.RecordsPerS))
		case FixedRate:
			if o.Ack.P99Ms > 0 {
				ratio("p99 ack latency: sluice ÷ "+o.Target, s.Ack.P99Ms/o.Ack.P99Ms, 0, false,
					fmt.Sprintf("%.2f vs %.2f ms at %.0f records/s", s.Ack.P99Ms, o.Ack.P99Ms, w.Rate))
			}
		}
	}
	if res.Floors == nil || w.Acks != "all" {
		return out
	}
	d, ok := res.Floors.diskAt(s.MeanBatchBytes)
	if !ok {
		return out
	}
	how := "measured at that size"
	if d.Why != "" && d.Why != "sluice's mean produce batch" {
		how = d.Why
	}
	switch w.Mode {
	case MaxRate:
		ceiling := d.MBPerS / sluiceRF
		ratio("throughput: sluice ÷ single-disk ceiling", s.MBPerS/ceiling, goalVsDiskCeiling, true,
			fmt.Sprintf("%.1f MB/s vs ceiling %.1f MB/s = write+fdatasync %.1f MB/s at %d B (sluice's mean produce batch; %s) ÷ RF %d",
				s.MBPerS, ceiling, d.MBPerS, d.Bytes, how, sluiceRF))
		// The same ceiling at the bytes the disk took per cache flush while
		// sluice ran: every replica's parallel fdatasyncs of one group
		// commit share flushes, so this is the larger sync round.
		if s.Device != nil && s.Device.BytesPerFlush > 0 {
			if dd, ok := res.Floors.diskAt(s.Device.BytesPerFlush); ok {
				ceiling := dd.MBPerS / sluiceRF
				ratio("throughput: sluice ÷ ceiling at the disk's bytes per flush", s.MBPerS/ceiling, 0, true,
					fmt.Sprintf("%.1f MB/s vs %.1f MB/s = write+fdatasync %.1f MB/s at %.0f B per flush (device-wide, %s) ÷ RF %d",
						s.MBPerS, ceiling, dd.MBPerS, s.Device.BytesPerFlush, cmp.Or(dd.Why, "measured"), sluiceRF))
			}
		}
	case FixedRate:
		floorUs := d.P99Us + res.Floors.RTT.P99Us
		ratio("p99 ack latency: sluice ÷ (fdatasync p99 + loopback RTT p99)", s.Ack.P99Ms*1e3/floorUs, goalLatencyFloor, false,
			fmt.Sprintf("%.2f ms vs floor %.2f ms = fdatasync p99 %.2f ms at %d B (%s) + RTT p99 %.3f ms",
				s.Ack.P99Ms, floorUs/1e3, d.P99Us/1e3, d.Bytes, how, res.Floors.RTT.P99Us/1e3))
		// The other targets against the same floor, as context: kfake
		// keeps records in memory with neither fsync nor replication, so
		// its ratio shows what the clients, the loopback network and the
		// machine's CPUs alone cost at this rate.
		for _, o := range res.Targets {
			if o.Target == TargetSluice || o.Ack.P99Ms <= 0 {
				continue
			}
			ratio("p99 ack latency: "+o.Target+" ÷ (fdatasync p99 + loopback RTT p99)", o.Ack.P99Ms*1e3/floorUs, 0, false,
				fmt.Sprintf("%s: ack p50 %.2f ms, p99 %.2f ms, against %.2f ms for %.0f× the same floor",
					o.Description, o.Ack.P50Ms, o.Ack.P99Ms, goalLatencyFloor*floorUs/1e3, goalLatencyFloor))
		}
		if sd := res.Floors.SharedDisk; sd != nil && sd.AckP99Us > 0 {
			ratio("p99 ack latency: shared-disk bound ÷ (fdatasync p99 + loopback RTT p99)", sd.AckP99Us/floorUs, 0, false,
				fmt.Sprintf("%d writers group-committing %.1f MB/s each to this disk, no broker, %d of %d durable: p99 %.2f ms, against %.2f ms for %.0f× the floor; above that, on this measurement, a broker committing by cycles on this disk at this rate would not meet the goal",
					sd.Writers, sd.MBPerS, sd.Quorum, sd.Writers, sd.AckP99Us/1e3, goalLatencyFloor*floorUs/1e3, goalLatencyFloor))
			ratio("p99 ack latency: sluice ÷ shared-disk bound", s.Ack.P99Ms*1e3/sd.AckP99Us, 0, false,
				fmt.Sprintf("%.2f ms vs %.2f ms", s.Ack.P99Ms, sd.AckP99Us/1e3))
		}
	}
	return out
}

// sharedDisk returns the shared-disk bound, if measured (f may be nil).
func (f *Floors) sharedDisk() *SharedDisk {
	if f == nil {
		return nil
	}
	return f.SharedDisk
}

// latencyGoalMs is the latency goal's p99 limit in a fixed-rate acks=all
// run: 3× (fdatasync p99 at sluice's mean produce batch + loopback RTT
// p99).
func latencyGoalMs(res *Results) (float64, bool) {
	s := find(res, TargetSluice)
	if s == nil || res.Floors == nil || res.Workload.Mode != FixedRate || res.Workload.Acks != "all" {
		return 0, false
	}
	d, ok := res.Floors.diskAt(s.MeanBatchBytes)
	if !ok {
		return 0, false
	}
	return goalLatencyFloor * (d.P99Us + res.Floors.RTT.P99Us) / 1e3, true
}
