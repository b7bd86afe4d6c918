package main

import (
	"bytes"
	"strings"
	"testing"
)

func runArgs(args ...string) (status int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	status = run(args, &out, &errOut)
	return status, out.String(), errOut.String()
}

func TestHelpListsEverySubcommand(t *testing.T) {
	status, out, _ := runArgs("help")
	if status != exitOK {
		t.Fatalf("help: status %d", status)
	}
	for _, name := range []string{"dev", "serve", "sim", "bench", "group", "topic", "produce", "consume", "cluster", "version", "help"} {
		if !strings.Contains(out, "  "+name+" ") {
			t.Errorf("help output lacks %q:\n%s", name, out)
		}
	}
}

func TestHelpForOneSubcommand(t *testing.T) {
	if status, out, _ := runArgs("help", "dev"); status != exitOK || !strings.Contains(out, "sluice dev") {
		t.Fatalf("help dev: status %d, output:\n%s", status, out)
	}
	if status, _, errOut := runArgs("help", "nope"); status != exitUsage || !strings.Contains(errOut, `"nope"`) {
		t.Fatalf("help nope: status %d, stderr:\n%s", status, errOut)
	}
}

func TestUnknownSubcommand(t *testing.T) {
	status, out, errOut := runArgs("frobnicate")
	if status != exitUsage {
		t.Fatalf("status %d, want %d", status, exitUsage)
	}
	if out != "" {
		t.Errorf("wrote to stdout: %q", out)
	}
	if !strings.Contains(errOut, `unknown subcommand "frobnicate"`) || !strings.Contains(errOut, "usage: sluice") {
		t.Errorf("stderr lacks the error and the usage:\n%s", errOut)
	}
}

func TestNoArgumentsIsUsage(t *testing.T) {
	if status, _, errOut := runArgs(); status != exitUsage || !strings.Contains(errOut, "usage: sluice") {
		t.Fatalf("status %d, stderr:\n%s", status, errOut)
	}
}

func TestSubcommandFlags(t *testing.T) {
	if status, _, _ := runArgs("dev", "-h"); status != exitOK {
		t.Errorf("dev -h: status %d, want %d", status, exitOK)
	}
	if status, _, _ := runArgs("dev", "-no-such-flag"); status != exitUsage {
		t.Errorf("dev -no-such-flag: status %d, want %d", status, exitUsage)
	}
	if status, _, _ := runArgs("version", "extra"); status != exitUsage {
		t.Errorf("version extra: status %d, want %d", status, exitUsage)
	}
	status, _, errOut := runArgs("serve", "-id", "1", "-brokers", "1=127.0.0.1:1@127.0.0.1:2", "-cluster-id", "c",
		"-data-dir", t.TempDir(), "-max-connections", "0")
	if status != exitUsage || !strings.Contains(errOut, "-max-connections must be at least 1") {
		t.Errorf("serve -max-connections 0: status %d, stderr %q; want %d and the reason", status, errOut, exitUsage)
	}
}

func TestVersion(t *testing.T) {
	status, out, _ := runArgs("version")
	if status != exitOK || !strings.HasPrefix(out, "sluice ") {
		t.Fatalf("version: status %d, output %q", status, out)
	}
}

// -partitions out of [1, 10000] is a usage error for dev and serve, before
// anything starts (found by review: serve took -1, 0 and values that
// wrapped around int32).
func TestPartitionsFlagChecked(t *testing.T) {
	for _, bad := range []string{"-1", "0", "10001", "4294967297"} {
		if status, _, errOut := runArgs("dev", "-partitions", bad, "-port", "0", "-data-dir", t.TempDir()); status != exitUsage || !strings.Contains(errOut, "-partitions") {
			t.Errorf("dev -partitions %s: status %d, stderr:\n%s", bad, status, errOut)
		}
		if status, _, errOut := runArgs("serve", "-id", "1", "-brokers", "1=127.0.0.1:0@127.0.0.1:0", "-cluster-id", "c",
			"-data-dir", t.TempDir(), "-partitions", bad); status != exitUsage || !strings.Contains(errOut, "-partitions") {
			t.Errorf("serve -partitions %s: status %d, stderr:\n%s", bad, status, errOut)
		}
	}
}
