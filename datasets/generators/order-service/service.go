package main

// The order service. One code base, two versions:
//
//	v2.3.5  one batched products query per order (WHERE sku IN (...)), four columns;
//	        a small typed JSON response. (Customers come from a cache in both versions.)
//	v2.3.6  the "enriched order" release: products and their live inventory are loaded
//	        with two queries per item (an N+1 loop in loadProductsOneByOne), each line
//	        is validated serially in validateOrder, and the response embeds every
//	        product and customer column, so it is several times larger.
//
// In both versions an order whose promo is STACKED runs main.slowPricingRule, which
// searches every bundle of items against every promotion: the deliberately slow path
// of the traced dataset (the fleet's traffic has no stacked promotions by default).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// OrderRequest is what clients send.
type OrderRequest struct {
	OrderID    string      `json:"order_id"`
	CustomerID string      `json:"customer_id"`
	Promo      string      `json:"promo,omitempty"`
	Currency   string      `json:"currency"`
	Items      []OrderItem `json:"items"`
}

// OrderItem is one requested line.
type OrderItem struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// Line is one priced line of the response.
type Line struct {
	SKU        string          `json:"sku"`
	Name       string          `json:"name"`
	Qty        int             `json:"qty"`
	UnitCents  int64           `json:"unit_cents"`
	TotalCents int64           `json:"total_cents"`
	Product    *ProductDetails `json:"product,omitempty"` // v2.3.6: every product column
}

// ProductDetails is the product as v2.3.6 embeds it in each line.
type ProductDetails struct {
	SKU         string  `json:"sku"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Category    string  `json:"category"`
	Brand       string  `json:"brand"`
	PriceCents  int64   `json:"price_cents"`
	Currency    string  `json:"currency"`
	WeightGrams int64   `json:"weight_g"`
	Stock       int64   `json:"stock"`
	Rating      float64 `json:"rating"`
	Reviews     int64   `json:"reviews"`
	Warehouse   string  `json:"warehouse"`
	UpdatedAt   string  `json:"updated_at"`
}

func productDetails(r Row) *ProductDetails {
	str := func(k string) string { s, _ := r[k].(string); return s }
	num := func(k string) int64 { n, _ := r[k].(int64); return n }
	rating, _ := r["rating"].(float64)
	return &ProductDetails{SKU: str("sku"), Name: str("name"), Description: str("description"),
		Category: str("category"), Brand: str("brand"), PriceCents: num("price_cents"),
		Currency: str("currency"), WeightGrams: num("weight_g"), Stock: num("stock"), Rating: rating,
		Reviews: num("reviews"), Warehouse: str("warehouse"), UpdatedAt: str("updated_at")}
}

// Quote is the result of pricing.
type Quote struct {
	Subtotal    int64        `json:"subtotal_cents"`
	Discount    int64        `json:"discount_cents"`
	Tax         int64        `json:"tax_cents"`
	Total       int64        `json:"total_cents"`
	Adjustments []Adjustment `json:"adjustments,omitempty"`
}

// Adjustment is one applied price rule.
type Adjustment struct {
	Rule   string `json:"rule"`
	Amount int64  `json:"amount_cents"`
}

// Response is what the service returns.
type Response struct {
	OrderID  string `json:"order_id"`
	Status   string `json:"status"`
	Currency string `json:"currency"`
	Lines    []Line `json:"lines"`
	Quote    Quote  `json:"quote"`
	Customer Row    `json:"customer,omitempty"` // v2.3.6
}

// Service handles orders for one version.
type Service struct {
	version   string
	db        *DB
	tracer    *Tracer
	mu        sync.Mutex
	customers map[string]Row // cache of customer rows
	detour    bool           // STACKED orders take the audit detour (detour.go)
}

const (
	v235 = "v2.3.5"
	v236 = "v2.3.6"
)

// HandleOrder decodes, loads, validates (v2.3.6), prices and encodes one order.
//
//go:noinline
func (s *Service) HandleOrder(ctx context.Context, raw []byte) (body []byte, err error) {
	s.tracer.Do(ctx, "order.handle", kindServer, nil, func(ctx context.Context) {
		var req OrderRequest
		if err = json.Unmarshal(raw, &req); err != nil {
			return
		}
		spanFrom(ctx).set(strAttr("order.id", req.OrderID), strAttr("customer.id", req.CustomerID),
			intAttr("order.items", int64(len(req.Items))), strAttr("order.promo", req.Promo))
		var resp *Response
		if resp, err = s.process(ctx, &req); err == nil {
			body, err = s.encodeResponse(ctx, resp)
		}
	})
	return body, err
}

func (s *Service) process(ctx context.Context, req *OrderRequest) (*Response, error) {
	customer, err := s.loadCustomer(ctx, req.CustomerID)
	if err != nil {
		return nil, err
	}
	skus := make([]string, len(req.Items))
	for i, it := range req.Items {
		skus[i] = it.SKU
	}
	var products map[string]Row
	if s.version == v235 {
		products, err = s.loadProductsBatch(ctx, skus)
	} else {
		products, err = s.loadProductsOneByOne(ctx, skus)
	}
	if err != nil {
		return nil, err
	}
	if s.version != v235 {
		if err := validateOrder(req, products); err != nil {
			return &Response{OrderID: req.OrderID, Status: "rejected: " + err.Error()}, nil
		}
	}
	var quote Quote
	s.tracer.Do(ctx, "pricing.compute", kindInternal, nil, func(ctx context.Context) {
		if s.detour {
			quote = priceOrderSigned(req, products, customer)
		} else {
			quote = priceOrder(req, products, customer)
		}
		spanFrom(ctx).set(intAttr("pricing.total_cents", quote.Total))
	})
	return s.buildResponse(req, products, customer, quote), nil
}

// loadCustomer reads the customer from the instance's cache (warmed at start-up), and
// from the database on a miss.
func (s *Service) loadCustomer(ctx context.Context, id string) (Row, error) {
	s.mu.Lock()
	c, ok := s.customers[id]
	s.mu.Unlock()
	if ok {
		return c, nil
	}
	rows, err := s.db.Query(ctx, "SELECT * FROM customers WHERE id = ?", id)
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("customer %s: %v", id, err)
	}
	s.mu.Lock()
	s.customers[id] = rows[0]
	s.mu.Unlock()
	return rows[0], nil
}

// warmCustomers fills the customer cache with one bulk query per 500 customers.
func (s *Service) warmCustomers(ctx context.Context) error {
	s.customers = map[string]Row{}
	for first := 0; first < nCustomers; first += 500 {
		ids := make([]string, 0, 500)
		for i := first; i < first+500 && i < nCustomers; i++ {
			ids = append(ids, fmt.Sprintf("cust-%05d", i))
		}
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
		rows, err := s.db.Query(ctx, "SELECT * FROM customers WHERE id IN ("+marks+")", ids...)
		if err != nil {
			return err
		}
		for _, r := range rows {
			s.customers[r["id"].(string)] = r
		}
	}
	return nil
}

// loadProductsBatch is v2.3.5: one statement for all items.
//
//go:noinline
func (s *Service) loadProductsBatch(ctx context.Context, skus []string) (map[string]Row, error) {
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(skus)), ", ")
	rows, err := s.db.Query(ctx,
		"SELECT sku, name, price_cents, stock FROM products WHERE sku IN ("+marks+")", skus...)
	return bySKU(rows), err
}

// loadProductsOneByOne is v2.3.6: THE N+1. Each item costs two statements, the product
// (every column) and then its live inventory, as a lazily loaded association would.
//
//go:noinline
func (s *Service) loadProductsOneByOne(ctx context.Context, skus []string) (map[string]Row, error) {
	var all []Row
	for _, sku := range skus {
		rows, err := s.db.Query(ctx, "SELECT * FROM products WHERE sku = ?", sku)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			inv, err := s.db.Query(ctx, "SELECT on_hand, reserved FROM inventory WHERE sku = ?", sku)
			if err != nil {
				return nil, err
			}
			if len(inv) > 0 {
				r["stock"] = inv[0]["on_hand"].(int64) - inv[0]["reserved"].(int64)
			}
		}
		all = append(all, rows...)
	}
	return bySKU(all), nil
}

func bySKU(rows []Row) map[string]Row {
	m := make(map[string]Row, len(rows))
	for _, r := range rows {
		m[r["sku"].(string)] = r
	}
	return m
}

var skuPattern = regexp.MustCompile(`^SKU-[0-9]{5}$`)

// fraudTerms are matched against every product's text fields by validateOrder.
var fraudTerms = func() []string {
	terms := make([]string, 48)
	for i := range terms {
		terms[i] = fmt.Sprintf("blocked-term-%02d", i)
	}
	return terms
}()

// validateOrder (v2.3.6) checks each line serially: SKU format, stock, a fraud term scan
// over the product's text, and an idempotency fingerprint.
//
//go:noinline
func validateOrder(req *OrderRequest, products map[string]Row) error {
	for _, it := range req.Items {
		if !skuPattern.MatchString(it.SKU) {
			return fmt.Errorf("bad sku %q", it.SKU)
		}
		p, ok := products[it.SKU]
		if !ok {
			return fmt.Errorf("unknown sku %s", it.SKU)
		}
		if stock, _ := p["stock"].(int64); int64(it.Qty) > stock+1000 {
			return fmt.Errorf("sku %s: out of stock", it.SKU)
		}
		text := strings.ToLower(fmt.Sprint(p["name"], " ", p["description"], " ", p["brand"]))
		for _, term := range fraudTerms {
			if strings.Contains(text, term) {
				return fmt.Errorf("sku %s: blocked", it.SKU)
			}
		}
		sum := sha256.Sum256([]byte(req.OrderID + "/" + it.SKU + "/" + fmt.Sprint(it.Qty)))
		_ = hex.EncodeToString(sum[:])
	}
	return nil
}

var taxRates = map[string]string{"DE": "19/100", "FR": "20/100", "US": "7/100", "GB": "20/100",
	"NL": "21/100", "ES": "21/100"}

// priceOrder totals the lines and applies rules, tier discounts, promotions, risk
// screening, shipping and taxes.
//
//go:noinline
func priceOrder(req *OrderRequest, products map[string]Row, customer Row) Quote {
	var q Quote
	lines := make([]int64, 0, len(req.Items))
	for _, it := range req.Items {
		price, _ := products[it.SKU]["price_cents"].(int64)
		lines = append(lines, price*int64(it.Qty))
		q.Subtotal += price * int64(it.Qty)
	}
	if d := applyPriceRules(req, lines, 1.8e9); d > 0 {
		q.Discount += d
		q.Adjustments = append(q.Adjustments, Adjustment{"rules", -d})
	}
	if tier, _ := customer["tier"].(string); tier == "gold" {
		d := q.Subtotal / 20
		q.Discount += d
		q.Adjustments = append(q.Adjustments, Adjustment{"tier:gold", -d})
	}
	if req.Promo == "STACKED" {
		d := slowPricingRule(lines)
		q.Discount += d
		q.Adjustments = append(q.Adjustments, Adjustment{"promo:stacked", -d})
	}
	if riskScore(req, customer, q.Subtotal) > 0.98 {
		q.Adjustments = append(q.Adjustments, Adjustment{"review:risk", 0})
	}
	shipping := estimateShipping(req, products)
	q.Adjustments = append(q.Adjustments, Adjustment{"shipping", shipping})
	country, _ := customer["country"].(string)
	q.Tax = exactTax(lines, q.Discount, taxRates[country])
	q.Total = q.Subtotal - q.Discount + q.Tax + shipping
	return q
}

// promotions are (bundle size, threshold, percent) rules for stacked promotions.
var promotions = func() [][3]int64 {
	p := make([][3]int64, 1000)
	for i := range p {
		p[i] = [3]int64{int64(2 + i%4), int64(1000 + 250*i), int64(1 + i%15)}
	}
	return p
}()

// slowPricingRule is THE SLOW PATH: it tries every bundle (subset) of the order's lines
// against every promotion to find the best stacked discount, 2^n x rules work.
//
//go:noinline
func slowPricingRule(prices []int64) int64 {
	n := len(prices)
	if n > 12 {
		n = 12
	}
	best := int64(0)
	for _, rule := range promotions {
		size, threshold, percent := rule[0], rule[1], rule[2]
		for mask := 1; mask < 1<<n; mask++ {
			var sum, count int64
			for i := 0; i < n; i++ {
				if mask&(1<<i) != 0 {
					sum += prices[i]
					count++
				}
			}
			if count >= size && sum >= threshold {
				if d := sum * percent / 100; d > best {
					best = d
				}
			}
		}
	}
	return best
}

func (s *Service) buildResponse(req *OrderRequest, products map[string]Row, customer Row, q Quote) *Response {
	resp := &Response{OrderID: req.OrderID, Status: "accepted", Currency: req.Currency, Quote: q}
	for _, it := range req.Items {
		p := products[it.SKU]
		price, _ := p["price_cents"].(int64)
		name, _ := p["name"].(string)
		line := Line{SKU: it.SKU, Name: name, Qty: it.Qty, UnitCents: price, TotalCents: price * int64(it.Qty)}
		if s.version != v235 {
			line.Product = productDetails(p)
		}
		resp.Lines = append(resp.Lines, line)
	}
	if s.version != v235 {
		resp.Customer = customer
	}
	return resp
}

func (s *Service) encodeResponse(ctx context.Context, resp *Response) (body []byte, err error) {
	s.tracer.Do(ctx, "json.encode", kindInternal, nil, func(ctx context.Context) {
		body, err = json.Marshal(resp)
		spanFrom(ctx).set(intAttr("response.bytes", int64(len(body))))
	})
	return body, err
}
