// Command checkout-api runs a JSON checkout service on 127.0.0.1 with an in-process
// load generator, and takes CPU profiles of it, in one of two variants:
//
//   - before (v1.4.0): the catalog lives in generic map[string]any documents. The handler
//     decodes the request into a map, copies product maps into a big response map and
//     serializes it twice with reflection-driven encoding/json (once for the audit log and
//     ETag, once more into the ResponseWriter). Map encoding sorts keys and reflects on
//     every value: encoding/json.(*mapEncoder).encode and friends dominate the profile.
//   - after (v1.5.0): products are encoded to JSON once at start-up; the handler decodes
//     into a typed struct, appends the pre-encoded product bytes into a pooled buffer
//     (main.appendCheckout) and writes that one buffer for the log, the ETag and the reply.
//
// Server-side work in the handler carries the pprof labels service=checkout-api and
// endpoint=/checkout; the load generator's goroutines carry role=loadgen, so the client
// side of the loopback traffic can be told apart in the profiles.
//
//	go run ./checkout-api -variant before -out ../checkout-api
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"profilelab/datasets/generators/internal/dsutil"
)

const nProducts = 400

// Product is the typed catalog entry (the "after" variant's model).
type Product struct {
	SKU         string            `json:"sku"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	PriceCents  int64             `json:"price_cents"`
	Currency    string            `json:"currency"`
	Categories  []string          `json:"categories"`
	Attributes  map[string]string `json:"attributes"`
	Images      []string          `json:"images"`
	Stock       int               `json:"stock"`
	Rating      float64           `json:"rating"`
	Reviews     int               `json:"reviews"`
}

// CheckoutRequest is the body clients POST to /checkout.
type CheckoutRequest struct {
	Customer string `json:"customer"`
	Coupon   string `json:"coupon,omitempty"`
	Items    []struct {
		SKU string `json:"sku"`
		Qty int    `json:"qty"`
	} `json:"items"`
}

// catalog builds nProducts products from a fixed seed.
func catalog(seed int64) []Product {
	rng := rand.New(rand.NewSource(seed))
	words := []string{"steel", "oak", "linen", "compact", "travel", "classic", "pro", "eco",
		"wireless", "ceramic", "cotton", "smart", "mini", "deluxe", "outdoor", "kitchen"}
	phrase := func(n int) string {
		var b bytes.Buffer
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[rng.Intn(len(words))])
		}
		return b.String()
	}
	products := make([]Product, nProducts)
	for i := range products {
		attrs := map[string]string{}
		for j := 0; j < 12; j++ {
			attrs[fmt.Sprintf("attr_%02d", j)] = phrase(2)
		}
		products[i] = Product{
			SKU: fmt.Sprintf("SKU-%05d", i), Name: phrase(3), Description: phrase(30),
			PriceCents: int64(199 + rng.Intn(50000)), Currency: "EUR",
			Categories: []string{phrase(1), phrase(1), phrase(1)}, Attributes: attrs,
			Images: []string{
				fmt.Sprintf("https://img.example.com/%d/1.jpg", i),
				fmt.Sprintf("https://img.example.com/%d/2.jpg", i),
				fmt.Sprintf("https://img.example.com/%d/3.jpg", i),
			},
			Stock: rng.Intn(500), Rating: float64(rng.Intn(50)) / 10, Reviews: rng.Intn(5000),
		}
	}
	return products
}

// ---- before: generic documents, reflection, two marshals ---------------------------

type beforeServer struct {
	docs map[string]map[string]any // product documents keyed by SKU
	recs []string                  // SKUs recommended with every checkout
}

func newBeforeServer(products []Product) *beforeServer {
	s := &beforeServer{docs: map[string]map[string]any{}}
	for _, p := range products {
		raw, _ := json.Marshal(p)
		var doc map[string]any
		_ = json.Unmarshal(raw, &doc)
		s.docs[p.SKU] = doc
	}
	for i := 0; i < 8; i++ {
		s.recs = append(s.recs, products[i*37%nProducts].SKU)
	}
	return s
}

func (s *beforeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp := s.buildCheckoutMap(req)
	body, err := json.Marshal(resp) // for the audit log and the ETag
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	auditLog(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", etag(body))
	_ = json.NewEncoder(w).Encode(resp) // ... and serialized a second time for the reply
}

// buildCheckoutMap copies each product document into a line-item map.
//
//go:noinline
func (s *beforeServer) buildCheckoutMap(req map[string]any) map[string]any {
	items, _ := req["items"].([]any)
	lines := make([]any, 0, len(items))
	total := 0.0
	for _, it := range items {
		item, _ := it.(map[string]any)
		sku, _ := item["sku"].(string)
		qty, _ := item["qty"].(float64)
		doc := s.docs[sku]
		line := make(map[string]any, len(doc)+2)
		for k, v := range doc {
			line[k] = v
		}
		price, _ := doc["price_cents"].(float64)
		line["qty"] = qty
		line["line_total_cents"] = price * qty
		total += price * qty
		lines = append(lines, line)
	}
	recs := make([]any, 0, len(s.recs))
	for _, sku := range s.recs {
		recs = append(recs, s.docs[sku])
	}
	return map[string]any{
		"customer": req["customer"], "coupon": req["coupon"], "items": lines,
		"recommendations": recs, "total_cents": total, "currency": "EUR",
		"shipping": []any{
			map[string]any{"method": "standard", "days": 4, "price_cents": 499},
			map[string]any{"method": "express", "days": 1, "price_cents": 1499},
		},
	}
}

// ---- after: typed request, pre-encoded products, one buffer -------------------------

type afterServer struct {
	encoded map[string][]byte // product JSON, encoded once at start-up
	price   map[string]int64
	recs    [][]byte
	pool    sync.Pool
}

func newAfterServer(products []Product) *afterServer {
	s := &afterServer{encoded: map[string][]byte{}, price: map[string]int64{}}
	for _, p := range products {
		s.encoded[p.SKU], _ = json.Marshal(p)
		s.price[p.SKU] = p.PriceCents
	}
	for i := 0; i < 8; i++ {
		s.recs = append(s.recs, s.encoded[products[i*37%nProducts].SKU])
	}
	s.pool.New = func() any { b := make([]byte, 0, 64<<10); return &b }
	return s
}

func (s *afterServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req CheckoutRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	buf := s.pool.Get().(*[]byte)
	defer s.pool.Put(buf)
	*buf = s.appendCheckout((*buf)[:0], &req)
	auditLog(*buf)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", etag(*buf))
	_, _ = w.Write(*buf)
}

// appendCheckout writes the same document as the before variant (modulo key order)
// by appending pre-encoded product JSON.
//
//go:noinline
func (s *afterServer) appendCheckout(b []byte, req *CheckoutRequest) []byte {
	b = append(b, `{"customer":`...)
	b = strconv.AppendQuote(b, req.Customer)
	b = append(b, `,"coupon":`...)
	b = strconv.AppendQuote(b, req.Coupon)
	b = append(b, `,"items":[`...)
	var total int64
	for i, it := range req.Items {
		if i > 0 {
			b = append(b, ',')
		}
		p := s.encoded[it.SKU]
		line := s.price[it.SKU] * int64(it.Qty)
		total += line
		b = append(b, p[:len(p)-1]...) // the product object without its closing brace
		b = append(b, `,"qty":`...)
		b = strconv.AppendInt(b, int64(it.Qty), 10)
		b = append(b, `,"line_total_cents":`...)
		b = strconv.AppendInt(b, line, 10)
		b = append(b, '}')
	}
	b = append(b, `],"recommendations":[`...)
	for i, p := range s.recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, p...)
	}
	b = append(b, `],"total_cents":`...)
	b = strconv.AppendInt(b, total, 10)
	b = append(b, `,"currency":"EUR","shipping":[{"method":"standard","days":4,"price_cents":499},`+
		`{"method":"express","days":1,"price_cents":1499}]}`+"\n"...)
	return b
}

// ---- shared -------------------------------------------------------------------------

var auditBytes atomic.Int64

func auditLog(body []byte) { auditBytes.Add(int64(len(body))) }

func etag(body []byte) string {
	h := fnv.New64a()
	_, _ = h.Write(body)
	return fmt.Sprintf(`"%x"`, h.Sum64())
}

// labelled runs the handler under the server-side pprof labels.
func labelled(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		labels := pprof.Labels("service", "checkout-api", "endpoint", r.URL.Path)
		pprof.Do(r.Context(), labels, func(ctx context.Context) { h.ServeHTTP(w, r.WithContext(ctx)) })
	})
}

// requestBodies pre-builds checkout requests so the load generator spends little CPU.
func requestBodies(seed int64, n int) [][]byte {
	rng := rand.New(rand.NewSource(seed))
	bodies := make([][]byte, n)
	for i := range bodies {
		var req CheckoutRequest
		req.Customer = fmt.Sprintf("cust-%05d", rng.Intn(20000))
		if rng.Intn(4) == 0 {
			req.Coupon = "SPRING10"
		}
		for j := 0; j < 2+rng.Intn(6); j++ {
			req.Items = append(req.Items, struct {
				SKU string `json:"sku"`
				Qty int    `json:"qty"`
			}{fmt.Sprintf("SKU-%05d", rng.Intn(nProducts)), 1 + rng.Intn(3)})
		}
		bodies[i], _ = json.Marshal(req)
	}
	return bodies
}

// loadgen posts checkouts from `clients` goroutines until stop is closed.
func loadgen(url string, bodies [][]byte, clients int, stop <-chan struct{}, served *atomic.Int64) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	pprof.Do(context.Background(), pprof.Labels("role", "loadgen"), func(context.Context) {
		for c := 0; c < clients; c++ {
			go func(c int) {
				for i := c; ; i += clients {
					select {
					case <-stop:
						return
					default:
					}
					resp, err := client.Post(url, "application/json", bytes.NewReader(bodies[i%len(bodies)]))
					dsutil.Must(err)
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					served.Add(1)
				}
			}(c)
		}
	})
}

func main() {
	out := flag.String("out", "../checkout-api", "dataset directory")
	variant := flag.String("variant", "before", "before or after")
	profiles := flag.Int("profiles", 3, "number of CPU profiles")
	window := flag.Duration("window", 2*time.Second, "length of each CPU profile")
	hz := flag.Int("hz", 200, "CPU profile sampling rate (keep it at or below the kernel tick rate, see dsutil.CPUProfile)")
	clients := flag.Int("clients", 4, "concurrent load generator connections")
	seed := flag.Int64("seed", 1, "random seed of the catalog and requests")
	flag.Parse()
	versions := map[string]string{"before": "v1.4.0", "after": "v1.5.0"}
	version, ok := versions[*variant]
	if !ok {
		dsutil.Must(fmt.Errorf("-variant must be before or after, not %q", *variant))
	}
	dsutil.Must(os.MkdirAll(filepath.Join(*out, *variant), 0o755))
	index := dsutil.Must1(dsutil.NewIndex(*out, []string{"service", "version", "variant"}, []string{"n_requests"}))

	products := catalog(*seed)
	var handler http.Handler = newBeforeServer(products)
	if *variant == "after" {
		handler = newAfterServer(products)
	}
	ln := dsutil.Must1(net.Listen("tcp", "127.0.0.1:0"))
	mux := http.NewServeMux()
	mux.Handle("/checkout", labelled(handler))
	go func() { _ = http.Serve(ln, mux) }()

	var served atomic.Int64
	stop := make(chan struct{})
	loadgen("http://"+ln.Addr().String()+"/checkout", requestBodies(*seed+1, 500), *clients, stop, &served)
	time.Sleep(300 * time.Millisecond) // warm up connections and caches
	for i := 0; i < *profiles; i++ {
		name := fmt.Sprintf("%s/cpu-%02d.pb.gz", *variant, i)
		before := served.Load()
		start := dsutil.Must1(dsutil.CPUProfile(filepath.Join(*out, name), *hz, *window))
		n := served.Load() - before
		dsutil.Must(index.Add(name, start, []string{"checkout-api", version, *variant}, n))
		fmt.Printf("%s: %d requests in %s (%.0f/s)\n", name, n, *window, float64(n)/window.Seconds())
	}
	close(stop)
	dsutil.Must(index.Close())
}
