package main

// What the client subcommands (topic, produce, consume, cluster) share: the
// -bootstrap and -timeout flags, flags among positional arguments, one
// kgo/kadm client checked to reach the cluster, and exit statuses (0 done,
// 1 failed with a one-line error, 2 a bad command line).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// clientCmd is one run of a client subcommand.
type clientCmd struct {
	name           string
	fs             *flag.FlagSet
	bootstrap      string
	timeout        time.Duration
	stdout, stderr io.Writer
	cl             *kgo.Client
	adm            *kadm.Client
}

func newClientCmd(name string, stdout, stderr io.Writer) *clientCmd {
	c := &clientCmd{name: name, stdout: stdout, stderr: stderr}
	c.fs = flag.NewFlagSet(name, flag.ContinueOnError)
	c.fs.SetOutput(stderr)
	c.fs.StringVar(&c.bootstrap, "bootstrap", "127.0.0.1:9092", "comma-separated broker addresses")
	c.fs.DurationVar(&c.timeout, "timeout", 15*time.Second, "give up on the cluster after this long")
	return c
}

// parse parses flags anywhere among the arguments and returns the
// positional ones; usage names them in the help text.
func (c *clientCmd) parse(args []string, usage string) ([]string, error) {
	c.fs.Usage = func() {
		fmt.Fprintf(c.fs.Output(), "usage: %s [flags] %s\n\n", c.name, usage)
		c.fs.PrintDefaults()
	}
	var pos []string
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{} // the flag package said why
		}
		args = c.fs.Args()
		if len(args) == 0 {
			if c.timeout <= 0 {
				return nil, usageError{fmt.Sprintf("-timeout must be positive, not %v", c.timeout)}
			}
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// connect makes the client and checks that a broker answers, so an
// unreachable cluster is one clear error rather than a timeout per request.
func (c *clientCmd) connect(ctx context.Context, opts ...kgo.Opt) error {
	var seeds []string
	for _, s := range strings.Split(c.bootstrap, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	if len(seeds) == 0 {
		return usageError{"-bootstrap is empty"}
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ClientID("sluice-cli")}, opts...)...)
	if err != nil {
		return usageError{fmt.Sprintf("%v", err)}
	}
	c.cl, c.adm = cl, kadm.NewClient(cl)
	pctx, cancel := context.WithTimeout(ctx, min(c.timeout, 10*time.Second))
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		return fmt.Errorf("cannot reach the cluster at %s: %v", c.bootstrap, err)
	}
	return nil
}

func (c *clientCmd) context() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.timeout)
}

// bare parses a command line without positional arguments and connects;
// the caller cancels the context.
func (c *clientCmd) bare(args []string) (context.Context, context.CancelFunc, error) {
	pos, err := c.parse(args, "")
	if err != nil {
		return nil, nil, err
	}
	if len(pos) > 0 {
		return nil, nil, usageError{"unexpected arguments: " + strings.Join(pos, " ")}
	}
	ctx, cancel := c.context()
	if err := c.connect(ctx); err != nil {
		cancel()
		return nil, nil, err
	}
	return ctx, cancel, nil
}

// named parses a command line of one or more names (what, e.g. "group",
// says what they name) and connects; the caller cancels the context.
func (c *clientCmd) named(args []string, usage, what string) ([]string, context.Context, context.CancelFunc, error) {
	names, err := c.parse(args, usage)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(names) == 0 {
		return nil, nil, nil, usageError{"name at least one " + what}
	}
	ctx, cancel := c.context()
	if err := c.connect(ctx); err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return names, ctx, cancel, nil
}

// exit closes the client and turns err into an exit status, printing it
// on one line unless it was explained already (errGroupFail).
func (c *clientCmd) exit(err error) int {
	if c.cl != nil {
		c.cl.Close()
	}
	var usage usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &usage):
		if usage.msg != "" {
			fmt.Fprintf(c.stderr, "%s: %s\n", c.name, usage.msg)
		}
		return exitUsage
	case errors.Is(err, errGroupFail):
		return 1
	default:
		fmt.Fprintf(c.stderr, "%s: %s\n", c.name, oneLine(err.Error()))
		return 1
	}
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// kvFlag collects repeated -flag k=v values in order.
type kvFlag [][2]string

func (f *kvFlag) String() string { return "" }

func (f *kvFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not name=value", v)
	}
	*f = append(*f, [2]string{k, val})
	return nil
}

// listFlag collects repeated -flag values in order.
type listFlag []string

func (f *listFlag) String() string { return "" }

func (f *listFlag) Set(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	*f = append(*f, v)
	return nil
}
