package main

// sluice cluster: the cluster as a whole (issue 8).
//
//	sluice cluster describe
//	sluice cluster status

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const clusterUsage = `usage: sluice cluster <describe|status> [flags]

  describe      cluster id, controller, and every broker: address, its data
                directory, the replicas it hosts and their bytes on disk
  status        a quick health view: each broker up or down with the
                partitions it leads and hosts, then offline and
                under-replicated partitions; exits 1 when anything is
                degraded (a broker down, a partition without a leader or
                short of in-sync replicas)

Every subcommand takes -bootstrap (default 127.0.0.1:9092) and -timeout.
`

func runCluster(_ *command, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, clusterUsage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, clusterUsage)
		return exitOK
	case "describe":
	case "status":
		c := newClientCmd("sluice cluster status", stdout, stderr)
		return c.exit(clusterStatus(c, args[1:]))
	default:
		fmt.Fprintf(stderr, "sluice cluster: unknown subcommand %q\n\n%s", args[0], clusterUsage)
		return exitUsage
	}
	c := newClientCmd("sluice cluster "+args[0], stdout, stderr)
	return c.exit(clusterDescribe(c, args[1:]))
}

func clusterDescribe(c *clientCmd, args []string) error {
	ctx, cancel, err := c.bare(args)
	if err != nil {
		return err
	}
	defer cancel()
	resp, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, c.cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		return fmt.Errorf("describing the cluster: %w", err)
	}
	controller := strconv.Itoa(int(resp.ControllerID))
	if resp.ControllerID < 0 {
		controller = "none (no metadata leader yet)"
	}
	fmt.Fprintf(c.stdout, "Cluster ID: %s\nController: %s\n", resp.ClusterID, controller)
	// Log dirs are a detail: a broker that does not answer shows "?".
	dirs, _ := c.adm.DescribeAllLogDirs(ctx, nil)
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "BROKER\tADDRESS\tROLE\tDATA-DIR\tREPLICAS\tBYTES")
	for _, b := range resp.Brokers {
		role := "broker"
		if b.NodeID == resp.ControllerID {
			role = "broker, controller"
		}
		dir, replicas, size := "?", "?", "?"
		if bd, ok := dirs[b.NodeID]; ok {
			var names []string
			var n int
			var total int64
			bd.Each(func(d kadm.DescribedLogDir) {
				if d.Err == nil {
					names = append(names, d.Dir)
					d.Topics.Each(func(p kadm.DescribedLogDirPartition) { n++ })
					total += d.Size()
				}
			})
			if len(names) > 0 {
				dir, replicas, size = strings.Join(names, ","), strconv.Itoa(n), strconv.FormatInt(total, 10)
			}
		}
		addr := net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", b.NodeID, addr, role, dir, replicas, size)
	}
	return w.Flush()
}

// clusterStatus prints each broker's health and the partitions that need
// attention, from Metadata and one ApiVersions round trip per broker.
func clusterStatus(c *clientCmd, args []string) error {
	ctx, cancel, err := c.bare(args)
	if err != nil {
		return err
	}
	defer cancel()
	md, err := c.adm.Metadata(ctx)
	if err != nil {
		return fmt.Errorf("reading metadata: %w", err)
	}
	type brokerRow struct {
		addr              string
		up                bool
		leads, hosts, isr int
	}
	rows := map[int32]*brokerRow{}
	var ids []int32
	for _, b := range md.Brokers {
		rows[b.NodeID] = &brokerRow{addr: net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))}
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	// Reachability: every broker answers ApiVersions within a bound.
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, min(c.timeout, 3*time.Second))
			defer cancel()
			_, err := c.cl.Broker(int(id)).Request(pctx, kmsg.NewPtrApiVersionsRequest())
			mu.Lock()
			rows[id].up = err == nil
			mu.Unlock()
		}()
	}
	wg.Wait()
	var offline, under []string
	partitions := 0
	for _, t := range md.Topics.Sorted() {
		if t.Err != nil {
			offline = append(offline, fmt.Sprintf("%s: %v", t.Topic, t.Err))
			continue
		}
		for _, p := range t.Partitions.Sorted() {
			partitions++
			name := fmt.Sprintf("%s/%d", t.Topic, p.Partition)
			if r := rows[p.Leader]; r != nil && p.Leader >= 0 {
				r.leads++
			}
			for _, id := range p.Replicas {
				if r := rows[id]; r != nil {
					r.hosts++
				}
			}
			for _, id := range p.ISR {
				if r := rows[id]; r != nil {
					r.isr++
				}
			}
			switch {
			case p.Leader < 0 || p.Err != nil:
				why := "no leader"
				if p.Err != nil {
					why = p.Err.Error()
				}
				offline = append(offline, fmt.Sprintf("%s (%s; replicas %v)", name, why, p.Replicas))
			case len(p.ISR) < len(p.Replicas):
				under = append(under, fmt.Sprintf("%s (in sync %v of %v)", name, p.ISR, p.Replicas))
			}
		}
	}
	controller := "none"
	if md.Controller >= 0 {
		controller = strconv.Itoa(int(md.Controller))
	}
	up := 0
	for _, r := range rows {
		if r.up {
			up++
		}
	}
	fmt.Fprintf(c.stdout, "cluster %s: controller %s, %d of %d brokers up, %d partitions in %d topics\n\n",
		md.Cluster, controller, up, len(rows), partitions, len(md.Topics))
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "BROKER\tADDRESS\tSTATE\tLEADS\tHOSTS\tIN-SYNC")
	for _, id := range ids {
		r := rows[id]
		state := "up"
		if !r.up {
			state = "DOWN"
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%d\t%d\n", id, r.addr, state, r.leads, r.hosts, r.isr)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	list := func(title string, items []string) {
		fmt.Fprintf(c.stdout, "\n%s: %d\n", title, len(items))
		for i, s := range items {
			if i == 20 {
				fmt.Fprintf(c.stdout, "  ... and %d more\n", len(items)-20)
				break
			}
			fmt.Fprintf(c.stdout, "  %s\n", s)
		}
	}
	list("offline partitions (no leader)", offline)
	list("under-replicated partitions (fewer in sync than replicas)", under)
	if up < len(rows) || len(offline) > 0 || len(under) > 0 || md.Controller < 0 {
		fmt.Fprintln(c.stdout, "\nstatus: DEGRADED")
		return errGroupFail // printed: the exit status says it
	}
	fmt.Fprintln(c.stdout, "\nstatus: healthy")
	return nil
}
