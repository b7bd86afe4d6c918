package sim

import (
	"slices"
)

// Measurement: runs that measure instead of fail (issue 10's trade-off
// tables). A run of a configuration that lawfully loses records — acks=0
// or 1 under failover, a relaxed flush policy under whole-cluster power
// loss, min.insync.replicas below the replication factor under lost disks
// — is judged by counting what its history shows, not by the checker.
// Everything here is computed from the History alone.

// AcksLevels are the produce acks levels a measurement reports, in order.
var AcksLevels = []int16{0, 1, -1}

// AcksMeasure is what one acks level's records went through in a run.
type AcksMeasure struct {
	Acks int16 // 0, 1 or -1 (all)
	// Sent counts records produced at this level; Acked those
	// acknowledged (OK); Refused those definitely refused (Fail); Unknown
	// those never acknowledged nor refused (timeouts, resets, retries
	// exhausted, every acks=0 record).
	Sent, Acked, Refused, Unknown int
	// Lost counts records sent and not refused that the final read of
	// the partition did not return; LostAcked those of them that were
	// acknowledged.
	Lost, LostAcked int
	// LatenciesNs are the acknowledged records' ack latencies (Complete −
	// Invoke, virtual ns, retries included), sorted.
	LatenciesNs []int64
}

// Measure is a run's counts per acks level.
type Measure struct {
	ByAcks []AcksMeasure // in AcksLevels' order
	// UnreadPartitions counts partitions the final read did not read to
	// the end within the liveness bound (a partition left with no leader:
	// its records count as lost, since no client can read them).
	UnreadPartitions int
}

// Level returns the measure of acks level a.
func (m Measure) Level(a int16) AcksMeasure {
	for _, am := range m.ByAcks {
		if am.Acks == a {
			return am
		}
	}
	return AcksMeasure{Acks: a}
}

// MeasureHistory counts, per acks level, what happened to the records of
// a run's history: the final reads (Poll.Final, after faults healed) say
// which records the log kept.
func MeasureHistory(h *History, partitions int) Measure {
	kept := map[string]bool{}
	readTo := make([]int64, partitions)
	hw := make([]int64, partitions)
	for i := range readTo {
		readTo[i], hw[i] = -1, -1
	}
	for _, p := range h.Polls {
		if !p.Final || p.Outcome != OK {
			continue
		}
		for _, r := range p.Records {
			kept[r.Value] = true
		}
		if int(p.Partition) < partitions {
			end := p.From
			if n := len(p.Records); n > 0 {
				end = p.Records[n-1].Offset + 1
			}
			readTo[p.Partition] = max(readTo[p.Partition], end)
			hw[p.Partition] = max(hw[p.Partition], p.HighWatermark)
		}
	}
	var m Measure
	for p := range partitions {
		if readTo[p] < 0 || readTo[p] < hw[p] {
			m.UnreadPartitions++
		}
	}
	for _, a := range AcksLevels {
		am := AcksMeasure{Acks: a}
		for _, s := range h.Sends {
			if s.Acks != a {
				continue
			}
			am.Sent++
			switch s.Outcome {
			case OK:
				am.Acked++
				am.LatenciesNs = append(am.LatenciesNs, s.Complete-s.Invoke)
			case Fail:
				am.Refused++
				continue
			default:
				am.Unknown++
			}
			if !kept[s.Value] {
				am.Lost++
				if s.Outcome == OK {
					am.LostAcked++
				}
			}
		}
		slices.Sort(am.LatenciesNs)
		m.ByAcks = append(m.ByAcks, am)
	}
	return m
}
