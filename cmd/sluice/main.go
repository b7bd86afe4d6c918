package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// Exit statuses.
const (
	exitOK = 0
	// exitUsage is a bad command line, or a subcommand that has not landed.
	exitUsage = 2
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	// run gets the arguments after the subcommand's name.
	run func(c *command, args []string, stdout, stderr io.Writer) int
}

// commands is in the order "sluice help" lists them. It is filled in init
// because help refers back to it.
var commands []*command

func init() {
	commands = []*command{
		{name: "dev", summary: "run a 3-broker cluster in one process on 127.0.0.1:9092-9094", run: runDev},
		{name: "serve", summary: "run one broker of a multi-process cluster (raft between brokers over TCP)", run: runServe},
		{name: "sim", summary: "run the deterministic simulator: seeds of a faulty world, every history checked", run: runSim},
		{name: "tradeoffs", summary: "measure durability, availability and latency trade-offs (acks, flush policy, RF and min.insync.replicas) in the simulator", run: runTradeoffs},
		{name: "bench", summary: "benchmark sluice against kfake, JetStream or any Kafka cluster, with the disk and network floors", run: runBench},
		{name: "group", summary: "consumer groups: list, describe (members, lag), reset-offsets, delete", run: runGroup},
		{name: "topic", summary: "topics: create, list, describe (partitions, configs), delete, alter-config", run: runTopic},
		{name: "produce", summary: "write lines from stdin to a topic, one record each", run: runProduce},
		{name: "consume", summary: "print a topic's records, one value per line", run: runConsume},
		{name: "cluster", summary: "the cluster: describe (id, controller, brokers, data on disk), status (health)", run: runCluster},
		{name: "partition", summary: "partitions: reassign to other brokers, list reassignments under way", run: runPartition},
		{name: "version", summary: "print the version", run: runVersion},
		{name: "help", summary: "list subcommands, or describe one: help <subcommand>", run: runHelp},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a command line (without the program name) and returns the
// exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	if name == "-h" || name == "-help" || name == "--help" {
		usage(stdout)
		return exitOK
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(stderr, "sluice: unknown subcommand %q\n\n", name)
		usage(stderr)
		return exitUsage
	}
	return c.run(c, args[1:], stdout, stderr)
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: sluice <subcommand> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "subcommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
}

// newFlagSet returns the flag set of subcommand c. Every subcommand parses
// its flags, even before it has any, so "-h" works and a typo is an error.
func newFlagSet(c *command, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sluice "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: sluice %s [flags]\n\n%s\n", c.name, c.summary)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args into fs and returns the exit status to stop with, or -1
// to go on.
func parse(fs *flag.FlagSet, args []string) int {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		return exitUsage
	case fs.NArg() > 0:
		fmt.Fprintf(fs.Output(), "%s: unexpected arguments: %s\n", fs.Name(), strings.Join(fs.Args(), " "))
		return exitUsage
	}
	return -1
}

func runVersion(c *command, args []string, stdout, stderr io.Writer) int {
	if status := parse(newFlagSet(c, stderr), args); status >= 0 {
		return status
	}
	fmt.Fprintf(stdout, "sluice %s %s %s/%s\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}

// version is the main module's version as the go command recorded it, or
// "(devel)" for a build from a work tree.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok || info.Main.Version == "" {
		return "(devel)"
	}
	return info.Main.Version
}

func runHelp(c *command, args []string, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		usage(stdout)
		return exitOK
	case 1:
		target := lookup(args[0])
		if target == nil {
			fmt.Fprintf(stderr, "sluice help: unknown subcommand %q\n\n", args[0])
			usage(stderr)
			return exitUsage
		}
		return target.run(target, []string{"-h"}, stdout, stdout)
	default:
		fmt.Fprintln(stderr, "usage: sluice help [subcommand]")
		return exitUsage
	}
}
