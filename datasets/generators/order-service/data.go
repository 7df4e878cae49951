package main

import (
	"fmt"
	"math/rand"
	"strconv"
	"strings"
)

const (
	nProducts  = 2000
	nCustomers = 5000
)

var words = []string{"steel", "oak", "linen", "compact", "travel", "classic", "pro", "eco",
	"wireless", "ceramic", "cotton", "smart", "mini", "deluxe", "outdoor", "kitchen", "garden",
	"studio", "urban", "alpine"}

func phrase(rng *rand.Rand, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = words[rng.Intn(len(words))]
	}
	return strings.Join(parts, " ")
}

// newDB fills the products, customers and inventory tables from a fixed seed.
func newDB(seed int64, tracer *Tracer) *DB {
	rng := rand.New(rand.NewSource(seed))
	products := &table{
		columns: []column{{"sku", 's'}, {"name", 's'}, {"description", 's'}, {"category", 's'},
			{"brand", 's'}, {"price_cents", 'i'}, {"currency", 's'}, {"weight_g", 'i'},
			{"stock", 'i'}, {"rating", 'f'}, {"reviews", 'i'}, {"warehouse", 's'}, {"updated_at", 's'}},
		byKey: map[string]int{},
	}
	for i := 0; i < nProducts; i++ {
		sku := fmt.Sprintf("SKU-%05d", i)
		products.byKey[sku] = i
		products.rows = append(products.rows, []string{sku, phrase(rng, 3), phrase(rng, 24),
			phrase(rng, 1), phrase(rng, 1), strconv.Itoa(199 + rng.Intn(40000)), "EUR",
			strconv.Itoa(50 + rng.Intn(20000)), strconv.Itoa(rng.Intn(900)),
			strconv.FormatFloat(float64(rng.Intn(50))/10, 'f', 1, 64), strconv.Itoa(rng.Intn(9000)),
			fmt.Sprintf("WH-%d", rng.Intn(12)), fmt.Sprintf("2024-%02d-%02dT10:00:00Z", 1+rng.Intn(12), 1+rng.Intn(28))})
	}
	countries := []string{"DE", "FR", "US", "GB", "NL", "ES"}
	tiers := []string{"basic", "basic", "basic", "silver", "gold"}
	customers := &table{
		columns: []column{{"id", 's'}, {"name", 's'}, {"email", 's'}, {"tier", 's'}, {"country", 's'},
			{"created_at", 's'}, {"lifetime_value_cents", 'i'}, {"marketing_opt_in", 's'}},
		byKey: map[string]int{},
	}
	for i := 0; i < nCustomers; i++ {
		id := fmt.Sprintf("cust-%05d", i)
		customers.byKey[id] = i
		customers.rows = append(customers.rows, []string{id, phrase(rng, 2),
			fmt.Sprintf("user%d@example.com", i), tiers[rng.Intn(len(tiers))],
			countries[rng.Intn(len(countries))], fmt.Sprintf("20%02d-06-01", 10+rng.Intn(14)),
			strconv.Itoa(rng.Intn(5000000)), strconv.FormatBool(rng.Intn(2) == 0)})
	}
	inventory := &table{
		columns: []column{{"sku", 's'}, {"warehouse", 's'}, {"on_hand", 'i'}, {"reserved", 'i'},
			{"updated_at", 's'}},
		byKey: map[string]int{},
	}
	for i := 0; i < nProducts; i++ {
		sku := fmt.Sprintf("SKU-%05d", i)
		inventory.byKey[sku] = i
		inventory.rows = append(inventory.rows, []string{sku, fmt.Sprintf("WH-%d", rng.Intn(12)),
			strconv.Itoa(rng.Intn(900)), strconv.Itoa(rng.Intn(50)), "2024-06-01T00:00:00Z"})
	}
	for _, t := range []*table{products, customers, inventory} {
		t.hist = make([][]float64, len(t.columns))
		for ci := range t.columns {
			t.hist[ci] = make([]float64, 128)
			for _, r := range t.rows {
				t.hist[ci][fnv32(r[ci])%128]++
			}
		}
	}
	return &DB{tracer: tracer, tables: map[string]*table{"products": products, "customers": customers, "inventory": inventory},
		stats: map[uint64]int64{}}
}

// makeRequests pre-encodes n order requests; slowFraction of them carry the STACKED promo.
func makeRequests(rng *rand.Rand, n int, slowFraction float64) [][]byte {
	reqs := make([][]byte, n)
	for i := range reqs {
		req := OrderRequest{
			OrderID:    fmt.Sprintf("ord-%08x", rng.Uint32()),
			CustomerID: fmt.Sprintf("cust-%05d", rng.Intn(nCustomers)),
			Currency:   "EUR",
		}
		if rng.Float64() < slowFraction {
			req.Promo = "STACKED"
		}
		for j := 0; j < 5+rng.Intn(10); j++ {
			req.Items = append(req.Items, OrderItem{fmt.Sprintf("SKU-%05d", rng.Intn(nProducts)), 1 + rng.Intn(4)})
		}
		reqs[i] = mustJSON(req)
	}
	return reqs
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}
