package main

import (
	"context"
	"encoding/json"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"
)

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Instance is one running copy of the service: a producer feeding pre-encoded orders at
// a fixed rate into a queue, and worker goroutines handling them under the instance's
// pprof labels.
type Instance struct {
	svc     *Service
	queue   chan []byte
	handled atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup
}

// Start launches `workers` workers labelled with labels and a producer sending
// `rate` orders per second (cycling through reqs) until Stop.
func Start(svc *Service, labels pprof.LabelSet, workers int, rate float64, reqs [][]byte) *Instance {
	in := &Instance{svc: svc, queue: make(chan []byte, 256), stop: make(chan struct{})}
	pprof.Do(context.Background(), labels, func(ctx context.Context) {
		for w := 0; w < workers; w++ {
			in.wg.Add(1)
			go in.work(ctx)
		}
	})
	go in.produce(rate, reqs)
	return in
}

// work handles orders until the queue is closed.
func (in *Instance) work(ctx context.Context) {
	defer in.wg.Done()
	for raw := range in.queue {
		if _, err := in.svc.HandleOrder(ctx, raw); err != nil {
			panic(err)
		}
		in.handled.Add(1)
	}
}

// produce sends orders in 10 ms batches to hold the rate; when the workers fall behind
// it blocks, so the achieved rate is lower (the log reports it).
func (in *Instance) produce(rate float64, reqs [][]byte) {
	defer close(in.queue)
	tick := 10 * time.Millisecond
	next := time.Now()
	owed := 0.0
	for i := 0; ; {
		owed += rate * tick.Seconds()
		for ; owed >= 1; owed-- {
			select {
			case in.queue <- reqs[i%len(reqs)]:
				i++
			case <-in.stop:
				return
			}
		}
		next = next.Add(tick)
		select {
		case <-time.After(time.Until(next)):
		case <-in.stop:
			return
		}
	}
}

// Stop ends the producer and waits until the workers have drained the queue.
func (in *Instance) Stop() {
	close(in.stop)
	in.wg.Wait()
}
