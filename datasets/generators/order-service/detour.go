package main

// The detour variant (-detour): every order signs its quote with hashLines, and STACKED
// orders also run auditStackedPromo, which calls hashLines many times. In the slowest
// requests the function with the most self CPU is therefore hashLines, which every request
// runs; what only the slow requests run is auditStackedPromo. A slow-request analysis has to
// name the second, not the first.

// auditRounds is how many times auditStackedPromo re-hashes the lines of a STACKED order;
// signRounds how many times signQuote hashes them for every order (so typical requests
// spend a visible part of their CPU in hashLines too).
const (
	auditRounds = 3000
	signRounds  = 80
)

// priceOrderSigned prices like priceOrder without the slow stacked-promotion rule, signs
// the quote, and sends STACKED orders through the audit detour.
//
//go:noinline
func priceOrderSigned(req *OrderRequest, products map[string]Row, customer Row) Quote {
	promo := req.Promo
	req.Promo = "" // the stacked rule itself is not the slow part in this variant
	q := priceOrder(req, products, customer)
	req.Promo = promo
	lines := make([]int64, 0, len(req.Items))
	for _, it := range req.Items {
		price, _ := products[it.SKU]["price_cents"].(int64)
		lines = append(lines, price*int64(it.Qty))
	}
	sig := signQuote(lines, uint64(q.Total))
	if promo == "STACKED" {
		sig ^= auditStackedPromo(lines)
		q.Adjustments = append(q.Adjustments, Adjustment{"audit:stacked", 0})
	}
	q.Adjustments = append(q.Adjustments, Adjustment{"signature", int64(sig & 0xffff)})
	return q
}

// auditStackedPromo is THE DETOUR: it re-hashes the order lines auditRounds times (one
// seed per round), so nearly all of its time is spent inside hashLines.
//
//go:noinline
func auditStackedPromo(lines []int64) uint64 {
	var acc uint64
	for round := 0; round < auditRounds; round++ {
		acc ^= hashLines(lines, uint64(round)*0x9e3779b97f4a7c15)
	}
	return acc
}

// signQuote signs every quote: signRounds rounds of hashLines.
//
//go:noinline
func signQuote(lines []int64, seed uint64) uint64 {
	sig := seed
	for round := 0; round < signRounds; round++ {
		sig = hashLines(lines, sig)
	}
	return sig
}

// hashLines is the shared hashing routine: a few thousand rounds of a 64-bit mix over the
// lines (what signs every quote).
//
//go:noinline
func hashLines(lines []int64, seed uint64) uint64 {
	h := seed ^ 0xcbf29ce484222325
	for k := 0; k < 200; k++ {
		for _, v := range lines {
			h ^= uint64(v) + uint64(k)
			h *= 0x100000001b3
			h ^= h >> 29
		}
	}
	return h
}
