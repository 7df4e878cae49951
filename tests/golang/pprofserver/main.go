// pprofserver serves Go's net/http/pprof endpoints on loopback for profilelab's scrape
// tests, while keeping every profile non-empty: it burns CPU, allocates, contends on a
// mutex and blocks on channels. It prints its listening address on stdout, then serves.
// Standard library only.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"sync"
	"time"
)

var sink []byte

func burn() {
	x := 0
	for {
		for i := 0; i < 1_000_000; i++ {
			x += i * i
		}
		if x == 42 {
			fmt.Println(x)
		}
		time.Sleep(time.Millisecond)
	}
}

func allocate() {
	var keep [][]byte
	for {
		keep = append(keep, make([]byte, 64<<10))
		if len(keep) > 64 {
			keep = keep[1:]
		}
		sink = keep[len(keep)-1]
		time.Sleep(5 * time.Millisecond)
	}
}

func contend() {
	var mu sync.Mutex
	for i := 0; i < 4; i++ {
		go func() {
			for {
				mu.Lock()
				time.Sleep(100 * time.Microsecond)
				mu.Unlock()
			}
		}()
	}
	ch := make(chan int)
	go func() {
		for {
			time.Sleep(2 * time.Millisecond)
			ch <- 1
		}
	}()
	for range ch {
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1000)
	go burn()
	go allocate()
	go contend()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	if err := http.Serve(ln, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
