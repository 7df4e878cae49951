// Package dsutil holds the small pieces every dataset generator shares: writing the
// index.csv sidecar, taking CPU profiles at a chosen sampling rate, and writing other
// runtime/pprof profiles to files. It contains nothing that shows up in the profiles'
// hot paths, so the stories stay in package main of each generator.
package dsutil

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

// Index writes index.csv: one row per profile file with its start time and labels.
//
// Columns: file (relative to the dataset directory), start_time (RFC 3339, UTC, with
// nanoseconds), then the label columns given to NewIndex, then the n_* count columns.
// profilelab.datasets turns every column except file, start_time and n_* into a
// profile label.
type Index struct {
	f      *os.File
	w      *csv.Writer
	labels []string
	counts []string
}

// NewIndex opens dir/index.csv for appending rows with the given label and count
// columns, writing the header when the file is new. Several runs (one per instance or
// variant) append to one index; a run whose columns differ from the header is refused.
func NewIndex(dir string, labels, counts []string) (*Index, error) {
	header := append([]string{"file", "start_time"}, labels...)
	header = append(header, counts...)
	path := filepath.Join(dir, "index.csv")
	if old, err := os.ReadFile(path); err == nil && len(old) > 0 {
		first := strings.SplitN(string(old), "\n", 2)[0]
		if first != strings.Join(header, ",") {
			return nil, fmt.Errorf("%s: header %q, this run writes %q", path, first, header)
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	ix := &Index{f: f, w: csv.NewWriter(f), labels: labels, counts: counts}
	if st, err := f.Stat(); err != nil || st.Size() > 0 {
		return ix, err
	}
	return ix, ix.w.Write(header)
}

// Add appends one row; labels and counts must be in the order given to NewIndex.
func (ix *Index) Add(file string, start time.Time, labels []string, counts ...int64) error {
	if len(labels) != len(ix.labels) || len(counts) != len(ix.counts) {
		return fmt.Errorf("index row for %s: want %d labels and %d counts, got %d and %d",
			file, len(ix.labels), len(ix.counts), len(labels), len(counts))
	}
	row := append([]string{file, start.UTC().Format(time.RFC3339Nano)}, labels...)
	for _, c := range counts {
		row = append(row, fmt.Sprint(c))
	}
	return ix.w.Write(row)
}

// Close flushes and closes index.csv.
func (ix *Index) Close() error {
	ix.w.Flush()
	if err := ix.w.Error(); err != nil {
		return err
	}
	return ix.f.Close()
}

// CPUProfile records a CPU profile of the whole process into path for duration d,
// sampling at hz samples per second, and returns the time profiling started.
//
// runtime/pprof always asks for 100 Hz; calling runtime.SetCPUProfileRate first is the
// documented way to get another rate (StartCPUProfile then prints a harmless warning
// "cannot set cpu profile rate until previous profile has finished" and keeps ours).
// The profile's period field records the rate actually used.
//
// Do not go above the kernel's tick rate (CONFIG_HZ, 250 on the machine that made the
// committed datasets): Linux checks CPU-time timers on ticks, so faster timers overrun
// and Go 1.19 drops the overruns. Measured there with a busy loop: 100 and 200 Hz record
// 95-100% of the CPU time, 500 Hz about 50%, 1000 Hz about 25%. The generators use 200 Hz.
func CPUProfile(path string, hz int, d time.Duration) (time.Time, error) {
	f, err := os.Create(path)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	runtime.SetCPUProfileRate(hz)
	start := time.Now()
	if err := pprof.StartCPUProfile(f); err != nil {
		runtime.SetCPUProfileRate(0)
		return start, err
	}
	time.Sleep(d)
	pprof.StopCPUProfile()
	return start, f.Close()
}

// WriteProfile writes the named runtime/pprof profile ("heap", "goroutine", ...) to
// path in the gzipped protobuf format (debug=0) and returns the time it was taken.
func WriteProfile(name, path string) (time.Time, error) {
	f, err := os.Create(path)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	start := time.Now()
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		return start, err
	}
	return start, f.Close()
}

// Must stops the program with a message when err is not nil.
func Must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// Must1 returns v, or stops the program when err is not nil.
func Must1[T any](v T, err error) T {
	Must(err)
	return v
}
