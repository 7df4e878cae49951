// Command order-service runs the order service (see service.go) and records CPU profiles
// of it, and in traced mode its spans too. Modes:
//
//	-mode fleet     one version on several instances (child processes running -mode instance
//	                at the same time), profiles every -window, one index.csv for all;
//	-mode instance  one instance (used by fleet; prints one INDEX line per profile);
//	-mode traced    one instance with tracing on: CPU profiles whose samples carry the
//	                innermost span's trace_id/span_id/span_name, plus traces.json.gz (OTLP/JSON).
//
// With -detour (traced mode), STACKED orders take an audit detour instead of the slow
// pricing rule: auditStackedPromo re-hashes the order lines many times with hashLines, the
// same hashing routine every order runs once to sign its quote (see detour.go).
//
//	go run ./order-service -mode fleet -version v2.3.5 -out ../order-service
//	go run ./order-service -mode traced -out ../traced-order-service
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"profilelab/datasets/generators/internal/dsutil"
)

type config struct {
	mode, out, version, region, instance, instances string
	profiles, hz, workers                           int
	window                                          time.Duration
	rate, slow                                      float64
	seed                                            int64
	detour                                          bool
}

func main() {
	var c config
	flag.StringVar(&c.mode, "mode", "fleet", "fleet, instance or traced")
	flag.StringVar(&c.out, "out", "", "dataset directory")
	flag.StringVar(&c.version, "version", v235, "v2.3.5 or v2.3.6")
	flag.StringVar(&c.instances, "instances",
		"us-east-1/order-use1-0,us-east-1/order-use1-1,eu-west-1/order-euw1-0,eu-west-1/order-euw1-1",
		"fleet: region/instance pairs")
	flag.StringVar(&c.region, "region", "us-east-1", "instance/traced: region")
	flag.StringVar(&c.instance, "instance", "order-use1-0", "instance/traced: instance name")
	flag.IntVar(&c.profiles, "profiles", 6, "CPU profiles per instance")
	flag.DurationVar(&c.window, "window", 3*time.Second, "length of each CPU profile")
	flag.IntVar(&c.hz, "hz", 200, "CPU profile sampling rate (at most the kernel tick rate, see dsutil.CPUProfile)")
	flag.IntVar(&c.workers, "workers", 2, "worker goroutines per instance")
	flag.Float64Var(&c.rate, "rate", 300, "orders per second per instance")
	flag.Float64Var(&c.slow, "slow", 0, "fraction of orders with the STACKED promo (slow path)")
	flag.Int64Var(&c.seed, "seed", 1, "base random seed")
	flag.BoolVar(&c.detour, "detour", false, "traced: STACKED orders take the audit detour (detour.go)")
	flag.Parse()
	if c.version != v235 && c.version != v236 {
		dsutil.Must(fmt.Errorf("-version must be %s or %s, not %q", v235, v236, c.version))
	}
	if c.out == "" {
		dsutil.Must(fmt.Errorf("-out is required"))
	}
	switch c.mode {
	case "fleet":
		runFleet(c)
	case "instance":
		runInstance(c, nil)
	case "traced":
		runTraced(c)
	default:
		dsutil.Must(fmt.Errorf("-mode must be fleet, instance or traced, not %q", c.mode))
	}
}

var indexLabels = []string{"service", "version", "instance", "region"}

// runFleet starts one child process per instance, all at once, and writes their
// profiles' rows into index.csv ordered by start time.
func runFleet(c config) {
	type row struct {
		file   string
		start  time.Time
		labels []string
		n      int64
	}
	var rows []row
	var children []*exec.Cmd
	var outputs []*bytes.Buffer
	for _, pair := range strings.Split(c.instances, ",") {
		region, instance, ok := strings.Cut(pair, "/")
		if !ok {
			dsutil.Must(fmt.Errorf("-instances: %q is not region/instance", pair))
		}
		cmd := exec.Command(os.Args[0], "-mode", "instance", "-out", c.out, "-version", c.version,
			"-region", region, "-instance", instance, "-profiles", strconv.Itoa(c.profiles),
			"-window", c.window.String(), "-hz", strconv.Itoa(c.hz), "-workers", strconv.Itoa(c.workers),
			"-rate", fmt.Sprint(c.rate), "-slow", fmt.Sprint(c.slow), "-seed", strconv.FormatInt(c.seed, 10))
		buf := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = buf, os.Stderr
		dsutil.Must(cmd.Start())
		children = append(children, cmd)
		outputs = append(outputs, buf)
	}
	for i, cmd := range children {
		dsutil.Must(cmd.Wait())
		sc := bufio.NewScanner(outputs[i])
		for sc.Scan() {
			line := sc.Text()
			fmt.Println(line)
			f := strings.Split(line, "\t")
			if len(f) != 8 || f[0] != "INDEX" {
				continue
			}
			start := dsutil.Must1(time.Parse(time.RFC3339Nano, f[2]))
			n := dsutil.Must1(strconv.ParseInt(f[7], 10, 64))
			rows = append(rows, row{f[1], start, f[3:7], n})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].start.Before(rows[j].start) })
	index := dsutil.Must1(dsutil.NewIndex(c.out, indexLabels, []string{"n_orders"}))
	for _, r := range rows {
		dsutil.Must(index.Add(r.file, r.start, r.labels, r.n))
	}
	dsutil.Must(index.Close())
}

// instanceSeed gives every instance its own reproducible request stream.
func instanceSeed(base int64, instance string) int64 {
	h := fnv.New64a()
	h.Write([]byte(instance))
	return base ^ int64(h.Sum64()>>1)
}

// runInstance serves orders and records c.profiles CPU profiles; with a tracer it also
// returns after the queue drained so every span has ended. Prints one INDEX line per
// profile: file, start, service, version, instance, region, orders handled.
func runInstance(c config, tracer *Tracer) []string {
	svc := &Service{version: c.version, db: newDB(c.seed, nil), detour: c.detour}
	dsutil.Must(svc.warmCustomers(context.Background()))
	svc.db.tracer, svc.tracer = tracer, tracer // trace orders, not the warm-up
	rng := rand.New(rand.NewSource(instanceSeed(c.seed, c.instance)))
	labels := pprof.Labels("service", "order-service", "version", c.version,
		"instance", c.instance, "region", c.region)
	in := Start(svc, labels, c.workers, c.rate, makeRequests(rng, 2000, c.slow))
	time.Sleep(300 * time.Millisecond) // warm-up
	dir := filepath.Join(c.version, c.instance)
	dsutil.Must(os.MkdirAll(filepath.Join(c.out, dir), 0o755))
	var lines []string
	for i := 0; i < c.profiles; i++ {
		name := filepath.ToSlash(filepath.Join(dir, fmt.Sprintf("cpu-%02d.pb.gz", i)))
		before := in.handled.Load()
		start := dsutil.Must1(dsutil.CPUProfile(filepath.Join(c.out, name), c.hz, c.window))
		n := in.handled.Load() - before
		line := strings.Join([]string{"INDEX", name, start.UTC().Format(time.RFC3339Nano), "order-service",
			c.version, c.instance, c.region, strconv.FormatInt(n, 10)}, "\t")
		fmt.Println(line)
		fmt.Printf("# %s: %d orders (%.0f/s), %d queries\n", name, n, float64(n)/c.window.Seconds(), svc.db.calls.Load())
		lines = append(lines, line)
	}
	in.Stop()
	return lines
}

// runTraced runs one traced instance and writes profiles, index.csv and traces.json.gz.
func runTraced(c config) {
	tracer := NewTracer(c.seed)
	lines := runInstance(c, tracer)
	index := dsutil.Must1(dsutil.NewIndex(c.out, indexLabels, []string{"n_orders"}))
	for _, line := range lines {
		f := strings.Split(line, "\t")
		start := dsutil.Must1(time.Parse(time.RFC3339Nano, f[2]))
		dsutil.Must(index.Add(f[1], start, f[3:7], dsutil.Must1(strconv.ParseInt(f[7], 10, 64))))
	}
	dsutil.Must(index.Close())
	resource := []attr{strAttr("service.name", "order-service"), strAttr("service.version", c.version),
		strAttr("service.instance.id", c.instance), strAttr("cloud.region", c.region)}
	n := dsutil.Must1(tracer.WriteOTLP(filepath.Join(c.out, "traces.json.gz"), resource, c.version))
	fmt.Printf("# traces.json.gz: %d spans\n", n)
}
