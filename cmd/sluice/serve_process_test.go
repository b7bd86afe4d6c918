package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestMain lets a test start this package's binary as `sluice`: with
// SLUICE_RUN_MAIN=1 the test binary is the command.
func TestMain(m *testing.M) {
	if os.Getenv("SLUICE_RUN_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// proc is one `sluice serve` process.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
}

func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: exec.Command(os.Args[0], args...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), "SLUICE_RUN_MAIN=1")
	r, w := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
		io.Copy(io.Discard, r) // never leave the process blocked writing
	}()
	go func() {
		p.cmd.Wait()
		w.Close()
		// Wait returns once the last bytes are read from the pipe, maybe
		// before the scanner has put the last line in out: done means all
		// of the output is there (TestDevCommand once missed its last
		// lines under load).
		<-scanned
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *proc) waitOutput(what string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.output(), what) {
		select {
		case <-p.done:
			p.t.Fatalf("process exited before printing %q:\n%s", what, p.output())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no %q after %v:\n%s", what, timeout, p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) wait(timeout time.Duration) {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("process still running after %v:\n%s", timeout, p.output())
	}
}

// Three `sluice serve` processes configured by files: SIGTERM hands a
// broker's leaderships over before it exits, SIGKILL of another loses no
// acknowledged record, and both come back from their data directories.
func TestServeProcessesSigtermSigkill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three broker processes")
	}
	var list []string
	var kafka []string
	for i := 1; i <= 3; i++ {
		k := freeAddr(t)
		kafka = append(kafka, k)
		list = append(list, fmt.Sprintf("%d=%s@%s", i, k, freeAddr(t)))
	}
	dir := t.TempDir()
	configs := make([]string, 3)
	for i := range configs {
		configs[i] = filepath.Join(dir, fmt.Sprintf("broker%d.conf", i+1))
		conf := fmt.Sprintf("# broker %d\nid = %d\nbrokers = %s\ncluster-id = proc-test\ndata-dir = %s\npartitions = 3\n",
			i+1, i+1, strings.Join(list, ","), filepath.Join(dir, fmt.Sprintf("data%d", i+1)))
		if err := os.WriteFile(configs[i], []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	procs := make([]*proc, 3)
	start := func(i int) {
		procs[i] = startProc(t, "serve", "-config", configs[i])
		procs[i].waitOutput("serving Kafka on", 30*time.Second)
	}
	for i := range procs {
		start(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka...), kgo.DefaultProduceTopic("procs"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.RecordRetries(1000), kgo.RetryTimeout(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		if _, err := adm.CreateTopic(ctx, 6, 3, nil, "procs"); err == nil {
			break
		} else if ctx.Err() != nil {
			t.Fatalf("CreateTopic: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	acked := map[string]bool{}
	produce := func(from, n int) {
		t.Helper()
		for i := from; i < from+n; i++ {
			v := fmt.Sprintf("v%05d", i)
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatalf("produce %s: %v", v, err)
			}
			acked[v] = true
		}
	}
	produce(0, 300)

	// SIGTERM: the broker hands its leaderships over, then exits 0.
	procs[0].cmd.Process.Signal(syscall.SIGTERM)
	procs[0].wait(60 * time.Second)
	if out := procs[0].output(); !strings.Contains(out, "its leaderships were handed over") || procs[0].cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("broker 1 after SIGTERM (exit %d):\n%s", procs[0].cmd.ProcessState.ExitCode(), out)
	}
	produce(300, 300)
	start(0)
	produce(600, 100)

	// SIGKILL of partition 0's leader while a producer runs: nothing
	// acknowledged is lost (sync before ack).
	// The leader as a broker names it now (kadm's ListTopics may answer
	// from a cache, which can hold -1 or a leader from before broker 1's
	// restart moved leaderships back).
	victim := -1
	for victim < 0 {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr("procs")
		req.Topics = append(req.Topics, rt)
		if md, err := req.RequestWith(ctx, cl); err == nil && len(md.Topics) == 1 {
			for _, p := range md.Topics[0].Partitions {
				if p.Partition == 0 && p.ErrorCode == 0 && p.Leader > 0 {
					victim = int(p.Leader) - 1
				}
			}
		}
		if victim < 0 {
			if ctx.Err() != nil {
				t.Fatal("partition 0 has no leader")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	stop := produceUntil(ctx, cl, "v%05d", 700)
	time.Sleep(300 * time.Millisecond)
	procs[victim].cmd.Process.Kill()
	procs[victim].wait(10 * time.Second)
	time.Sleep(500 * time.Millisecond)
	start(victim)
	time.Sleep(300 * time.Millisecond)
	bg := stop()
	for _, v := range bg {
		acked[v] = true
	}
	t.Logf("broker %d, leader of partition 0, killed while %d records were acknowledged around it", victim+1, len(bg))
	produce(100000, 100)

	// Read everything back.
	seen := readBack(t, ctx, kafka, "procs", acked, true)
	t.Logf("%d records acknowledged and read back across a SIGTERM and a SIGKILL", seen)
}

func TestLoadConfigFile(t *testing.T) {
	c := lookup("serve")
	path := filepath.Join(t.TempDir(), "s.conf")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs := newFlagSet(c, io.Discard)
	id := fs.Int("id", 0, "")
	dir := fs.String("data-dir", "", "")
	if err := fs.Parse([]string{"-id", "7"}); err != nil {
		t.Fatal(err)
	}
	write("# comment\n\nid = 3\n--data-dir=/tmp/x\n")
	if err := loadConfigFile(fs, path); err != nil {
		t.Fatal(err)
	}
	if *id != 7 || *dir != "/tmp/x" {
		t.Errorf("id %d (the command line's 7 wins), data-dir %q", *id, *dir)
	}
	for bad, want := range map[string]string{
		"nope = 1\n":    `unknown key "nope"`,
		"id\n":          "want KEY=VALUE",
		"data-dir\n":    ":1: want KEY=VALUE",
		"\n\nid = x\n":  ":3: id:",
		"config = a\n":  `unknown key "config"`,
		"= 4\n":         "want KEY=VALUE",
		"data-dir = \n": "",
	} {
		fs := newFlagSet(c, io.Discard)
		fs.Int("id", 0, "")
		fs.String("data-dir", "", "")
		fs.String("config", "", "")
		write(bad)
		err := loadConfigFile(fs, path)
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v", bad, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", bad, err, want)
		}
	}
}

// A fourth `sluice serve` process joins a running 3-broker cluster: it
// registers through the metadata log (every broker then lists it), and a
// partition is reassigned onto it while a producer runs; every
// acknowledged record is read back, from a consumer that bootstraps from
// the new broker alone.
func TestServeAddBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four broker processes")
	}
	var list, kafka []string
	for i := 1; i <= 4; i++ {
		k := freeAddr(t)
		kafka = append(kafka, k)
		list = append(list, fmt.Sprintf("%d=%s@%s", i, k, freeAddr(t)))
	}
	dir := t.TempDir()
	serve := func(i int, brokers []string, extra ...string) *proc {
		args := append([]string{"serve", "-id", fmt.Sprint(i + 1), "-brokers", strings.Join(brokers, ","), "-cluster-id", "grow",
			"-data-dir", filepath.Join(dir, fmt.Sprint(i+1))}, extra...)
		p := startProc(t, args...)
		p.waitOutput("serving Kafka on", 30*time.Second)
		return p
	}
	var procs []*proc
	for i := range 3 {
		procs = append(procs, serve(i, list[:3]))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka[:3]...), kgo.DefaultProduceTopic("grow"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MetadataMinAge(100*time.Millisecond), kgo.RecordRetries(1000))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		if _, err := adm.CreateTopic(ctx, 1, 3, nil, "grow"); err == nil {
			break
		} else if ctx.Err() != nil {
			t.Fatalf("CreateTopic: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The new broker knows the whole list; the others learn of it.
	procs = append(procs, serve(3, list, "-join"))
	deadline := time.Now().Add(60 * time.Second)
	for {
		md, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl) // not kadm's cached view
		if err == nil && len(md.Brokers) == 4 {
			break
		}
		if time.Now().After(deadline) {
			n := -1
			if md != nil {
				n = len(md.Brokers)
			}
			t.Fatalf("the cluster lists %d brokers, not broker 4 (%v)\nbroker 4:\n%s\nbroker 1:\n%s", n, err, procs[3].output(), procs[0].output())
		}
		time.Sleep(100 * time.Millisecond)
	}

	stop := produceUntil(ctx, cl, "v%06d", 0)
	time.Sleep(300 * time.Millisecond)
	var lead int32
	td, err := adm.ListTopics(ctx, "grow")
	if err != nil {
		t.Fatal(err)
	}
	lead = td["grow"].Partitions[0].Leader
	var target []string
	for id := int32(1); id <= 3; id++ {
		if id != lead {
			target = append(target, fmt.Sprint(id))
		}
	}
	target = append(target, "4")
	status, out, errOut := runArgs("partition", "reassign", "grow", "0", "-replicas", strings.Join(target, ","), "-wait", "-timeout", "60s",
		"-bootstrap", strings.Join(kafka[:3], ","))
	if status != exitOK {
		t.Fatalf("reassign onto broker 4: status %d\n%s%s", status, out, errOut)
	}
	time.Sleep(300 * time.Millisecond)
	acked := valueSet(stop())
	readBack(t, ctx, kafka[3:], "grow", acked, false)

	// Healthy once the new replica's leader has reported it in sync (the
	// leader table is broadcast every 500 ms).
	deadline = time.Now().Add(30 * time.Second)
	for {
		status, out, _ = runArgs("cluster", "status", "-bootstrap", kafka[3])
		if status == exitOK && strings.Contains(out, "4 of 4 brokers up") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster status after the move: %d\n%s", status, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("broker 4 joined; mv to %v under load: %d records acknowledged, all read back", target, len(acked))
}
