package main

// Business logic that every order pays for in both versions: catalog price rules, risk
// scores from tree ensembles, a shipping estimate from carrier rate tables and exact tax. It is the bulk of a v2.3.5
// order's CPU, against which the database share is measured.

import (
	"math"
	"math/big"
	"math/rand"
	"strings"
)

type treeNode struct {
	feature   int32
	threshold float32
	left      int32 // index of the child when feature < threshold; -1 for a leaf
	right     int32
	value     float32
}

const nFeatures = 24

// riskModels are three fixed random tree ensembles (fraud, chargeback, account takeover),
// 1000 trees of depth 7 each.
var riskModels = func() [3][][]treeNode {
	var models [3][][]treeNode
	for m := range models {
		rng := rand.New(rand.NewSource(int64(42 + m)))
		trees := make([][]treeNode, 1000)
		for t := range trees {
			var nodes []treeNode
			var grow func(depth int) int32
			grow = func(depth int) int32 {
				i := int32(len(nodes))
				nodes = append(nodes, treeNode{left: -1, right: -1, value: float32(rng.NormFloat64() / 10)})
				if depth < 7 {
					nodes[i].feature = int32(rng.Intn(nFeatures))
					nodes[i].threshold = rng.Float32()
					l := grow(depth + 1)
					r := grow(depth + 1)
					nodes[i].left, nodes[i].right = l, r
				}
				return i
			}
			grow(0)
			trees[t] = nodes
		}
		models[m] = trees
	}
	return models
}()

// riskScore evaluates every risk model on features of the order and returns the
// highest score, 0..1.
//
//go:noinline
func riskScore(req *OrderRequest, customer Row, subtotal int64) float64 {
	var f [nFeatures]float32
	f[0] = float32(math.Min(float64(len(req.Items))/16, 1))
	f[1] = float32(math.Min(float64(subtotal)/200000, 1))
	ltv, _ := customer["lifetime_value_cents"].(int64)
	f[2] = float32(math.Min(float64(ltv)/5e6, 1))
	for i, it := range req.Items {
		f[3+i%(nFeatures-3)] += float32(fnv32(it.SKU)%1000) / 1000 / float32(len(req.Items))
	}
	worst := 0.0
	for _, model := range riskModels {
		sum := 0.0
		for _, nodes := range model {
			n := int32(0)
			for nodes[n].left >= 0 {
				if f[nodes[n].feature] < nodes[n].threshold {
					n = nodes[n].left
				} else {
					n = nodes[n].right
				}
			}
			sum += float64(nodes[n].value)
		}
		worst = math.Max(worst, 1/(1+math.Exp(-sum)))
	}
	return worst
}

// rateTables are per-carrier (weight upper bound in grams, price in cents) brackets.
var rateTables = func() [][][2]int64 {
	tables := make([][][2]int64, 5)
	for c := range tables {
		for w := int64(1); w <= 800; w++ {
			tables[c] = append(tables[c], [2]int64{w * 250, 390 + w*int64(7+c) + int64(c)*100})
		}
	}
	return tables
}()

// estimateShipping returns the cheapest carrier's price for the order's weight.
//
//go:noinline
func estimateShipping(req *OrderRequest, products map[string]Row) int64 {
	var grams int64
	for _, it := range req.Items {
		w, _ := products[it.SKU]["weight_g"].(int64)
		if w == 0 {
			w = 500 // v2.3.5 does not load weights: assume a typical parcel
		}
		grams += w * int64(it.Qty)
	}
	best := int64(math.MaxInt64)
	for _, table := range rateTables {
		for _, bracket := range table { // linear scan: the tables are "small"
			if grams <= bracket[0] {
				if bracket[1] < best {
					best = bracket[1]
				}
				break
			}
		}
	}
	return best
}

// priceRule is one catalog pricing rule: a SKU prefix, a minimum quantity and a discount.
type priceRule struct {
	prefix  string
	minQty  int
	percent int64
	from    int64 // valid from/until, Unix seconds
	until   int64
}

// priceRules is the merchandising team's rule table (7000 rules).
var priceRules = func() []priceRule {
	rng := rand.New(rand.NewSource(7))
	rules := make([]priceRule, 7000)
	for i := range rules {
		digits := 1 + rng.Intn(3)
		prefix := "SKU-"
		for d := 0; d < digits; d++ {
			prefix += string(rune('0' + rng.Intn(10)))
		}
		rules[i] = priceRule{prefix, 1 + rng.Intn(4), int64(1 + rng.Intn(20)), 1.7e9, 1.9e9 + int64(rng.Intn(1e8))}
	}
	return rules
}()

// applyPriceRules returns the best rule discount of each line, in cents.
//
//go:noinline
func applyPriceRules(req *OrderRequest, lineTotals []int64, now int64) int64 {
	var total int64
	for i, it := range req.Items {
		var best int64
		for _, r := range priceRules {
			if now < r.from || now > r.until || it.Qty < r.minQty || !strings.HasPrefix(it.SKU, r.prefix) {
				continue
			}
			if d := lineTotals[i] * r.percent / 100; d > best {
				best = d
			}
		}
		total += best
	}
	return total
}

// exactTax computes tax per line with exact rational arithmetic, rounding half-even to
// cents only once at the end, as finance requires.
//
//go:noinline
func exactTax(lineTotals []int64, discount int64, rate string) int64 {
	r, _ := new(big.Rat).SetString(rate)
	sum := new(big.Rat)
	for _, t := range lineTotals {
		line := new(big.Rat).SetInt64(t)
		sum.Add(sum, line.Mul(line, r))
	}
	sum.Sub(sum, new(big.Rat).Mul(new(big.Rat).SetInt64(discount), r))
	f, _ := sum.Float64()
	return int64(math.RoundToEven(f))
}
