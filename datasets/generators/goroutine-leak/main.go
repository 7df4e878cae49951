// Command goroutine-leak runs "notifier", a small subscription service whose watcher
// goroutines leak, and takes goroutine profiles of it at regular intervals.
//
// Every client subscription calls startWatcher, which starts a goroutine that forwards
// events from a channel to the client. When the client goes away, the subscription is
// removed from the hub, but in the leaking variant nobody closes the channel: the
// goroutine main.startWatcher.func1 stays blocked in a channel receive forever, and the
// goroutine count grows by about -per-interval with every snapshot. The fixed variant
// closes the channel on unsubscribe, so its count stays flat. Both variants also run a
// stable pool of worker goroutines (main.worker) and one heartbeat goroutine, which
// serve as the control stacks whose counts never change.
//
//	go run ./goroutine-leak -variant leaking -out ../goroutine-leak
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"profilelab/datasets/generators/internal/dsutil"
)

// Event is one notification delivered to a subscriber.
type Event struct {
	Key string
	Seq int
}

// Hub routes events to the channels of the current subscribers.
type Hub struct {
	mu   sync.Mutex
	subs map[int]chan Event
}

var delivered atomic.Int64

// startWatcher subscribes id to the hub and starts the goroutine that forwards its
// events. The returned function unsubscribes. THE LEAK: unless fixed is set, the
// channel is never closed, so the forwarding goroutine blocks in `range ch` forever.
func startWatcher(h *Hub, id int, fixed bool) (unsubscribe func()) {
	ch := make(chan Event)
	h.mu.Lock()
	h.subs[id] = ch
	h.mu.Unlock()
	// Started inside pprof.Do, the goroutine inherits its labels (component=watcher).
	go func() {
		for ev := range ch {
			deliver(ev)
		}
	}()
	return func() {
		h.mu.Lock()
		delete(h.subs, id)
		h.mu.Unlock()
		if fixed {
			close(ch)
		}
	}
}

func deliver(ev Event) { delivered.Add(int64(len(ev.Key) + ev.Seq%2)) }

// publish sends ev to subscriber id and waits until its watcher has taken it.
func (h *Hub) publish(id int, ev Event) {
	h.mu.Lock()
	ch, ok := h.subs[id]
	h.mu.Unlock()
	if ok {
		ch <- ev
	}
}

// worker is one of a fixed pool of goroutines serving jobs: the stable control.
func worker(jobs <-chan func()) {
	for job := range jobs {
		job()
	}
}

// heartbeat ticks until the program ends: another stable control stack.
func heartbeat(stop <-chan struct{}) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-stop:
			return
		}
	}
}

func main() {
	out := flag.String("out", "../goroutine-leak", "dataset directory")
	variant := flag.String("variant", "leaking", "leaking or fixed")
	snapshots := flag.Int("snapshots", 12, "number of goroutine profiles")
	interval := flag.Duration("interval", 500*time.Millisecond, "time between profiles")
	perInterval := flag.Int("per-interval", 40, "subscriptions opened (and closed) per interval")
	seed := flag.Int64("seed", 1, "random seed of the subscription workload")
	flag.Parse()
	if *variant != "leaking" && *variant != "fixed" {
		dsutil.Must(fmt.Errorf("-variant must be leaking or fixed, not %q", *variant))
	}
	dsutil.Must(os.MkdirAll(*out, 0o755))
	index := dsutil.Must1(dsutil.NewIndex(*out, []string{"service", "variant"}, []string{"n_subscriptions"}))

	stop := make(chan struct{})
	jobs := make(chan func())
	pprof.Do(context.Background(), pprof.Labels("component", "worker"), func(context.Context) {
		for i := 0; i < 8; i++ {
			go worker(jobs)
		}
		go heartbeat(stop)
	})

	hub := &Hub{subs: map[int]chan Event{}}
	rng := rand.New(rand.NewSource(*seed))
	var active []func() // subscriptions still open: closed at the next interval
	next := time.Now()
	nextID := 0
	for snap := 0; snap < *snapshots; snap++ {
		pprof.Do(context.Background(), pprof.Labels("component", "watcher"), func(context.Context) {
			for _, unsubscribe := range active {
				unsubscribe()
			}
			active = active[:0]
			for i := 0; i < *perInterval; i++ {
				id := nextID
				nextID++
				unsubscribe := startWatcher(hub, id, *variant == "fixed")
				for e := rng.Intn(4); e >= 0; e-- {
					jobs <- func() { hub.publish(id, Event{Key: fmt.Sprint("orders/", id%17), Seq: e}) }
				}
				active = append(active, unsubscribe)
			}
		})
		next = next.Add(*interval)
		time.Sleep(time.Until(next))
		name := fmt.Sprintf("%s/goroutine-%02d.pb.gz", *variant, snap)
		dsutil.Must(os.MkdirAll(filepath.Join(*out, *variant), 0o755))
		start := dsutil.Must1(dsutil.WriteProfile("goroutine", filepath.Join(*out, name)))
		dsutil.Must(index.Add(name, start, []string{"notifier", *variant}, int64(nextID)))
		fmt.Printf("%s: %d goroutines after %d subscriptions\n", name, countGoroutines(), nextID)
	}
	close(stop)
	dsutil.Must(index.Close())
}

func countGoroutines() int { return pprof.Lookup("goroutine").Count() }
