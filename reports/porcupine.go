package reports

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"sluice/checker"
)

// View is porcupine's HTML visualization of one partition's failing window.
type View struct {
	Partition int32
	Path      string
}

// Visualize writes porcupine's HTML view of the first failing window of
// every partition porcupine rejected into dir, as
// <prefix>-partition-<P>.html, and returns the views written. A partition
// whose window cannot be drawn (porcupine timed out) is skipped and its
// error joined into the returned error; the other views are still written.
func Visualize(h checker.History, res checker.Result, dir, prefix string) ([]View, error) {
	var views []View
	var errs []error
	seen := map[int32]bool{}
	for _, v := range res.Violations {
		if v.Anomaly != checker.Nonlinearizable || seen[v.Partition] {
			continue
		}
		seen[v.Partition] = true
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return views, fmt.Errorf("reports: %w", err)
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-partition-%d.html", prefix, v.Partition))
		if err := visualizeOne(h, v.Partition, path); err != nil {
			errs = append(errs, fmt.Errorf("partition %d: %w", v.Partition, err))
			continue
		}
		views = append(views, View{Partition: v.Partition, Path: path})
	}
	return views, errors.Join(errs...)
}

func visualizeOne(h checker.History, partition int32, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = checker.Visualize(h, partition, checker.Options{}, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path) // never leave a half-written view behind
	}
	return err
}
