package vfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKernelAtLeast(t *testing.T) {
	for _, c := range []struct {
		release string
		want    bool
	}{
		{"5.8.0", true}, {"5.7.19", false}, {"5.10.0-28-amd64", true}, {"6.18.44-fc-v782", true},
		{"4.19.0", false}, {"5.8-rc1", true}, {"5.7-rc1", false}, {"10.0.0", true}, {"garbage", false}, {"", false}, {"5", false},
	} {
		if got := kernelAtLeast(c.release, 5, 8); got != c.want {
			t.Errorf("kernelAtLeast(%q, 5, 8) = %v, want %v", c.release, got, c.want)
		}
	}
}

// A directory below the one a WholeSync is opened on that lies on another
// file system (a mount) would be left out of syncfs: OpenWholeSync refuses.
func TestOSWholeSyncRefusesMountsBelow(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a", "a/b", "c"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := openWholeSync(dir)
	if errors.Is(err, ErrWholeSyncUnsupported) {
		t.Skipf("this kernel: %v", err)
	}
	if err != nil {
		t.Fatalf("one file system: %v", err)
	}
	ws.Close()
	real := deviceOf
	t.Cleanup(func() { deviceOf = real })
	deviceOf = func(path string) (uint64, error) {
		dev, err := real(path)
		if path == filepath.Join(dir, "a", "b") {
			dev++ // as if mounted from elsewhere
		}
		return dev, err
	}
	if _, err := openWholeSync(dir); !errors.Is(err, ErrWholeSyncUnsupported) || !strings.Contains(err.Error(), "a/b") {
		t.Fatalf("a mount below: %v, want ErrWholeSyncUnsupported naming it", err)
	}
}
