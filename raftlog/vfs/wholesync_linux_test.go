package vfs

import "testing"

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
