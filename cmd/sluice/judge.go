package main

import (
	"fmt"

	"sluice/checker"
	"sluice/reports"
	"sluice/sim"
)

// toChecker converts a simulated history into the checker's terms (sim
// and checker never import each other).
func toChecker(h *sim.History) checker.History {
	var out checker.History
	outcome := func(o sim.Outcome) checker.Outcome {
		switch o {
		case sim.OK:
			return checker.OK
		case sim.Fail:
			return checker.Fail
		}
		return checker.Unknown
	}
	for _, s := range h.Sends {
		acks := checker.AcksAll
		switch s.Acks {
		case 1:
			acks = checker.AcksLeader
		case 0:
			acks = checker.AcksNone
		}
		out.Sends = append(out.Sends, checker.Send{Process: s.Process, Partition: s.Partition, Value: s.Value,
			Invoke: s.Invoke, Complete: s.Complete, Outcome: outcome(s.Outcome), Offset: s.Offset, Acks: acks,
			Idempotent: s.Idempotent, ProducerID: s.ProducerID, Epoch: s.Epoch, Seq: s.Seq, Batch: s.Batch})
	}
	for _, p := range h.Polls {
		recs := make([]checker.Record, len(p.Records))
		for i, r := range p.Records {
			recs[i] = checker.Record{Offset: r.Offset, Value: r.Value}
		}
		out.Polls = append(out.Polls, checker.Poll{Process: p.Process, Partition: p.Partition, Invoke: p.Invoke,
			Complete: p.Complete, Outcome: outcome(p.Outcome), From: p.From, Records: recs,
			HighWatermark: p.HighWatermark, LeaderEpoch: p.LeaderEpoch, LogStart: p.LogStart, Seek: p.Seek, Final: p.Final, End: p.End, Generation: p.Generation})
	}
	for _, c := range h.Commits {
		out.Commits = append(out.Commits, checker.Commit{Group: c.Group, Process: c.Process, Partition: c.Partition,
			Offset: c.Offset, Invoke: c.Invoke, Complete: c.Complete, Outcome: outcome(c.Outcome), Term: c.Term, Generation: c.Generation})
	}
	for _, r := range h.OffsetReads {
		out.OffsetReads = append(out.OffsetReads, checker.OffsetRead{Group: r.Group, Process: r.Process,
			Partition: r.Partition, Offset: r.Offset, Invoke: r.Invoke, Complete: r.Complete, Term: r.Term})
	}
	for _, m := range h.Members {
		out.Members = append(out.Members, checker.GroupMember{Process: m.Process, Group: m.Group})
	}
	for _, l := range h.Latests {
		out.Latests = append(out.Latests, checker.Latest{Process: l.Process, Partition: l.Partition,
			Invoke: l.Invoke, Complete: l.Complete, Offset: l.Offset, LeaderEpoch: l.LeaderEpoch})
	}
	for _, d := range h.Deletes {
		out.Deletes = append(out.Deletes, checker.DeleteRecords{Process: d.Process, Partition: d.Partition, Offset: d.Offset,
			Invoke: d.Invoke, Complete: d.Complete, LowWatermark: d.LowWatermark})
	}
	return out
}

// judgeResult checks a history and describes every violation and every
// check that could not finish (never a pass), with the checker's result.
func judgeResult(h *sim.History) ([]string, checker.Result) {
	res := checker.Check(toChecker(h), checker.Options{Retention: h.Retention, DeleteOnly: h.DeleteOnly})
	var out []string
	for _, v := range res.Violations {
		out = append(out, v.String())
	}
	for _, a := range checker.Anomalies {
		if n := res.Counts[a]; n > countOf(res.Violations, a) {
			out = append(out, fmt.Sprintf("%s: %d more not shown", a, n-countOf(res.Violations, a)))
		}
	}
	for _, u := range res.Unknown {
		out = append(out, "check did not finish: "+u)
	}
	return out, res
}

// visualize writes porcupine's HTML view of the failing window of every
// partition porcupine rejected into dir, as <prefix>-partition-<P>.html; it
// returns the files written.
func visualize(h *sim.History, res checker.Result, dir, prefix string) ([]string, error) {
	views, err := reports.Visualize(toChecker(h), res, dir, prefix)
	var files []string
	for _, v := range views {
		files = append(files, v.Path)
	}
	return files, err
}

func countOf(vs []checker.Violation, a checker.Anomaly) int {
	n := 0
	for _, v := range vs {
		if v.Anomaly == a {
			n++
		}
	}
	return n
}
