package vfs

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// WriteVAt writes buffers back to back: more than IOV_MAX of them, empty
// ones among them, at an offset inside the file.
func TestOSWriteVAt(t *testing.T) {
	f, err := OS().Create(t.TempDir() + "/f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	var bufs [][]byte
	var want []byte
	for i := 0; i < 2500; i++ {
		b := make([]byte, rng.IntN(100))
		for k := range b {
			b[k] = byte(rng.Uint32())
		}
		bufs = append(bufs, b)
		want = append(want, b...)
	}
	const off = 12345
	n, err := f.(VectorWriter).WriteVAt(bufs, off)
	if err != nil || n != len(want) {
		t.Fatalf("WriteVAt: %d, %v; want %d", n, err, len(want))
	}
	got := make([]byte, len(want))
	if _, err := f.ReadAt(got, off); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("read back differs")
	}
	if size, _ := f.Size(); size != off+int64(len(want)) {
		t.Fatalf("size %d, want %d", size, off+len(want))
	}
}
