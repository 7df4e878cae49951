// Command goprofiles writes the Go runtime profiles of tests/data/evidence/go: one of each
// kind runtime/pprof writes (cpu, heap, allocs, goroutine, mutex, block, threadcreate),
// from a small workload with pprof labels, span ids, inlined frames and stacks deeper than
// the runtime records. Standard library only; run by tests/data/make/make_evidence.py.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"
)

type item struct {
	ID    int               `json:"id"`
	Name  string            `json:"name"`
	Price float64           `json:"price"`
	Tags  map[string]string `json:"tags"`
}

var sink []byte
var kept [][]byte

// discount is small enough to be inlined into its callers.
func discount(p float64, n int) float64 {
	if n > 3 {
		return p * 0.9
	}
	return p
}

func priceItems(items []item) float64 {
	total := 0.0
	for i, it := range items {
		total += discount(it.Price, i%5)
	}
	return total
}

func encodeItems(items []item) []byte {
	b, _ := json.Marshal(items)
	return b
}

func hashPayload(b []byte) [32]byte {
	var h [32]byte
	for i := 0; i < 40; i++ {
		h = sha256.Sum256(append(b, h[:]...))
	}
	return h
}

func compressPayload(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func sortItems(items []item) {
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
}

func makeItems(r *rand.Rand, n int) []item {
	items := make([]item, n)
	for i := range items {
		items[i] = item{ID: i, Name: fmt.Sprintf("item-%06d", r.Intn(1000000)), Price: r.Float64() * 100,
			Tags: map[string]string{"color": []string{"red", "green", "blue"}[i%3]}}
	}
	return items
}

// descend recurses depth times, then allocates and burns CPU: its stacks are deeper than
// the 32 frames a heap profile and the 64 frames a CPU profile keep.
func descend(depth int, r *rand.Rand) int {
	if depth == 0 {
		buf := make([]byte, 4096+r.Intn(4096))
		kept = append(kept, buf)
		s := 0
		for i := 0; i < 200000; i++ {
			s += i * i % 7
		}
		return s
	}
	return descend(depth-1, r) + 1
}

func checkout(ctx context.Context, r *rand.Rand) {
	items := makeItems(r, 400)
	sortItems(items)
	_ = priceItems(items)
	b := encodeItems(items)
	h := hashPayload(b)
	sink = compressPayload(b)
	if h[0] == 0 {
		kept = append(kept, b)
	}
	if r.Intn(10) == 0 {
		kept = append(kept, sink)
	}
}

func search(ctx context.Context, r *rand.Rand) {
	words := make([]string, 0, 2000)
	for i := 0; i < 2000; i++ {
		words = append(words, fmt.Sprintf("w%d", r.Intn(5000)))
	}
	joined := strings.Join(words, " ")
	n := 0
	for _, w := range strings.Fields(joined) {
		if strings.HasPrefix(w, "w1") {
			n++
		}
	}
	sink = []byte(joined[:n%len(joined)])
}

func report(ctx context.Context, r *rand.Rand) {
	_ = descend(90, r)
}

// requests runs handlers under pprof labels; some requests carry a span id, as tracing
// integrations set it.
func requests(until time.Time, seed int64) {
	r := rand.New(rand.NewSource(seed))
	handlers := []struct {
		name string
		fn   func(context.Context, *rand.Rand)
	}{{"checkout", checkout}, {"search", search}, {"report", report}}
	for n := 0; time.Now().Before(until); n++ {
		h := handlers[n%len(handlers)]
		labels := []string{"handler", h.name}
		if n%4 == 0 {
			labels = append(labels, "span_id", fmt.Sprintf("%016x", r.Uint64()))
		}
		pprof.Do(context.Background(), pprof.Labels(labels...), func(ctx context.Context) { h.fn(ctx, r) })
	}
}

type ledger struct {
	mu      sync.Mutex
	entries map[int]int
}

func (l *ledger) add(k int) {
	l.mu.Lock()
	l.entries[k%64]++
	s := 0
	for i := 0; i < 2000; i++ {
		s += i
	}
	l.entries[-1] = s
	l.mu.Unlock()
}

// contend makes mutex contention (ledger) and blocking (channels, WaitGroup, select).
func contend(until time.Time) {
	l := &ledger{entries: map[int]int{}}
	jobs := make(chan int)
	results := make(chan int, 4)
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go pprof.Do(context.Background(), pprof.Labels("pool", "ledger"), func(context.Context) {
			defer wg.Done()
			for j := range jobs {
				l.add(j)
				select {
				case results <- j:
				case <-time.After(time.Millisecond):
				}
			}
		})
	}
	go func() {
		for range results {
			time.Sleep(50 * time.Microsecond)
		}
	}()
	for i := 0; time.Now().Before(until); i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

// parked leaves goroutines waiting in several places for the goroutine profile.
func parked(stop chan struct{}) {
	var mu sync.Mutex
	mu.Lock()
	cond := sync.NewCond(&sync.Mutex{})
	for i := 0; i < 5; i++ {
		go pprof.Do(context.Background(), pprof.Labels("role", "idle"), func(context.Context) { <-stop })
	}
	for i := 0; i < 3; i++ {
		go func() { mu.Lock(); mu.Unlock() }()
	}
	for i := 0; i < 2; i++ {
		go func() { cond.L.Lock(); cond.Wait(); cond.L.Unlock() }()
	}
	go func() { time.Sleep(time.Hour) }()
	go func() { select {} }()
}

func write(dir, name string, fn func(f *os.File) error) {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		panic(err)
	}
	if err := fn(f); err != nil {
		panic(err)
	}
	if err := f.Close(); err != nil {
		panic(err)
	}
}

func main() {
	out := flag.String("out", ".", "output folder")
	seconds := flag.Float64("seconds", 3, "CPU profile length")
	flag.Parse()
	runtime.MemProfileRate = 16 * 1024
	runtime.SetMutexProfileFraction(5)
	runtime.SetBlockProfileRate(20000)
	d := time.Duration(*seconds * float64(time.Second))

	stop := make(chan struct{})
	parked(stop)
	write(*out, "cpu.pb.gz", func(f *os.File) error {
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		var wg sync.WaitGroup
		for g := 0; g < 2; g++ {
			wg.Add(1)
			go func(seed int64) { defer wg.Done(); requests(time.Now().Add(d), seed) }(int64(g + 1))
		}
		wg.Add(1)
		go func() { defer wg.Done(); contend(time.Now().Add(d)) }()
		wg.Wait()
		pprof.StopCPUProfile()
		return nil
	})
	runtime.GC()
	for _, name := range []string{"heap", "allocs", "goroutine", "mutex", "block", "threadcreate"} {
		name := name
		write(*out, name+".pb.gz", func(f *os.File) error { return pprof.Lookup(name).WriteTo(f, 0) })
	}
	close(stop)
	fmt.Fprintln(os.Stderr, "kept", len(kept))
}
