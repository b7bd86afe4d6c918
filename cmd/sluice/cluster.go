package main

// sluice cluster: the cluster as a whole (issue 8).
//
//	sluice cluster describe

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const clusterUsage = `usage: sluice cluster <describe> [flags]

  describe      cluster id, controller, and every broker: address, its data
                directory, the replicas it hosts and their bytes on disk

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
	default:
		fmt.Fprintf(stderr, "sluice cluster: unknown subcommand %q\n\n%s", args[0], clusterUsage)
		return exitUsage
	}
	c := newClientCmd("sluice cluster "+args[0], stdout, stderr)
	return c.exit(clusterDescribe(c, args[1:]))
}

func clusterDescribe(c *clientCmd, args []string) error {
	pos, err := c.parse(args, "")
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{"unexpected arguments: " + strings.Join(pos, " ")}
	}
	ctx, cancel := c.context()
	defer cancel()
	if err := c.connect(ctx); err != nil {
		return err
	}
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
