package main

// An in-process SQL-ish database with a text wire protocol. Every Query pays what a real
// client/server round trip costs in CPU even without a network: the driver interpolates
// the arguments into the statement, the server tokenizes and parses it, records it in its
// statement statistics, looks the rows up and encodes them; the driver decodes the rows
// into maps. A batched query pays the per-statement part once; an N+1 loop pays it per
// item, which is the regression of v2.3.6.

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Row is one decoded result row, as generic drivers and ORMs hand them out.
type Row map[string]any

type column struct {
	name string
	kind byte // 's' string, 'i' integer, 'f' float
}

type table struct {
	columns []column
	rows    [][]string // values in text form, positional
	byKey   map[string]int
	hist    [][]float64 // per column: value-frequency histogram, for the planner
}

// DB holds the tables and the server's statement statistics.
type DB struct {
	tracer  *Tracer
	mu      sync.RWMutex
	tables  map[string]*table
	statsMu sync.Mutex
	stats   map[uint64]int64 // statement fingerprint -> calls
	calls   atomic.Int64
}

// Query runs one statement with `?` placeholders and returns its rows. It is the one
// entry point into the database, so its cumulative share of a CPU profile is the cost of
// talking to the database.
//
//go:noinline
func (db *DB) Query(ctx context.Context, sql string, args ...string) (rows []Row, err error) {
	db.calls.Add(1)
	db.tracer.Do(ctx, "db.query", kindClient, []attr{
		strAttr("db.system", "inproc"), strAttr("db.statement", sql), intAttr("db.args", int64(len(args))),
	}, func(ctx context.Context) {
		stmt := interpolate(sql, args)
		var q *query
		if q, err = parseQuery(stmt); err != nil {
			return
		}
		db.recordStatement(stmt)
		db.mu.RLock()
		wire, cols, e := db.plan(q).execute(q)
		db.mu.RUnlock()
		if err = e; err == nil {
			rows = decodeRows(wire, cols)
		}
	})
	return rows, err
}

// interpolate replaces each ? with a quoted argument, as text-protocol drivers do.
func interpolate(sql string, args []string) string {
	var b strings.Builder
	b.Grow(len(sql) + 16*len(args))
	n := 0
	for i := 0; i < len(sql); i++ {
		if sql[i] != '?' || n >= len(args) {
			b.WriteByte(sql[i])
			continue
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(args[n], "'", "''"))
		b.WriteByte('\'')
		n++
	}
	return b.String()
}

type query struct {
	columns []string // nil for *
	table   string
	keyCol  string
	keys    []string
}

// parseQuery understands SELECT cols|* FROM t WHERE col = 'v' | col IN ('a', 'b', ...).
func parseQuery(stmt string) (*query, error) {
	toks := tokenize(stmt)
	q := &query{}
	i := 0
	expect := func(word string) error {
		if i >= len(toks) || !strings.EqualFold(toks[i], word) {
			return fmt.Errorf("parse %q: expected %s at token %d", stmt, word, i)
		}
		i++
		return nil
	}
	if err := expect("select"); err != nil {
		return nil, err
	}
	for ; i < len(toks) && !strings.EqualFold(toks[i], "from"); i++ {
		switch toks[i] {
		case ",":
		case "*":
			q.columns = nil
		default:
			q.columns = append(q.columns, strings.ToLower(toks[i]))
		}
	}
	if err := expect("from"); err != nil {
		return nil, err
	}
	if i < len(toks) {
		q.table = strings.ToLower(toks[i])
		i++
	}
	if err := expect("where"); err != nil {
		return nil, err
	}
	if i < len(toks) {
		q.keyCol = strings.ToLower(toks[i])
		i++
	}
	for ; i < len(toks); i++ {
		if t := toks[i]; len(t) >= 2 && t[0] == '\'' {
			q.keys = append(q.keys, strings.ReplaceAll(t[1:len(t)-1], "''", "'"))
		}
	}
	return q, nil
}

// tokenize splits a statement into words, quoted strings and punctuation.
func tokenize(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\n' || c == '\t':
			i++
		case c == '\'':
			j := i + 1
			for j < len(s) && (s[j] != '\'' || (j+1 < len(s) && s[j+1] == '\'')) {
				if s[j] == '\'' {
					j++
				}
				j++
			}
			toks = append(toks, s[i:min(j+1, len(s))])
			i = j + 1
		case strings.IndexByte(",()=*", c) >= 0:
			toks = append(toks, s[i:i+1])
			i++
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \n\t,()='*", s[j]) < 0 {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// recordStatement counts the statement under its fingerprint (literals removed), as
// pg_stat_statements does.
func (db *DB) recordStatement(stmt string) {
	var b strings.Builder
	inQuote := false
	for i := 0; i < len(stmt); i++ {
		switch c := stmt[i]; {
		case c == '\'':
			if !inQuote {
				b.WriteByte('?')
			}
			inQuote = !inQuote
		case !inQuote:
			b.WriteByte(c | 0x20) // lower-case letters; harmless for punctuation in this grammar
		}
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(b.String()))
	db.statsMu.Lock()
	db.stats[h.Sum64()]++
	db.statsMu.Unlock()
}

var errNoTable = errors.New("no such table")

type plan struct {
	t    *table
	err  error
	cost float64
}

// plan picks an access path the way cost-based planners do: it estimates, from every
// column's histogram, the selectivity of the predicate and the cost of an index lookup
// against a sequential scan. The work depends on the table, not on the rows returned,
// so it is paid once per statement.
func (db *DB) plan(q *query) plan {
	t, ok := db.tables[q.table]
	if !ok {
		return plan{err: fmt.Errorf("%w: %s", errNoTable, q.table)}
	}
	best := math.Inf(1)
	for ci, c := range t.columns {
		h := t.hist[ci]
		var total, peak float64
		for _, f := range h {
			total += f
			peak = math.Max(peak, f)
		}
		selectivity := peak / total
		if c.name == q.keyCol {
			selectivity = 1 / float64(len(t.rows))
		}
		rows := selectivity * float64(len(t.rows)) * float64(max(1, len(q.keys)))
		index := 4*math.Log2(float64(len(t.rows))) + rows*1.5
		seq := float64(len(t.rows)) * (0.01 + 0.0025*float64(len(t.columns)))
		best = math.Min(best, math.Min(index, seq))
	}
	return plan{t: t, cost: best}
}

func max(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// execute looks the keys up and encodes the selected columns of each row into the wire
// format: per value one kind byte, a decimal length, ':' and the text.
func (p plan) execute(q *query) ([]byte, []column, error) {
	if p.err != nil {
		return nil, nil, p.err
	}
	t := p.t
	idx := make([]int, 0, len(t.columns))
	cols := make([]column, 0, len(t.columns))
	for ci, c := range t.columns {
		if q.columns == nil || contains(q.columns, c.name) {
			idx = append(idx, ci)
			cols = append(cols, c)
		}
	}
	var wire []byte
	for _, k := range q.keys {
		r, ok := t.byKey[k]
		if !ok {
			continue
		}
		for n, ci := range idx {
			v := t.rows[r][ci]
			wire = append(wire, cols[n].kind)
			wire = strconv.AppendInt(wire, int64(len(v)), 10)
			wire = append(wire, ':')
			wire = append(wire, v...)
		}
	}
	return wire, cols, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// decodeRows turns wire bytes back into typed Row maps.
func decodeRows(wire []byte, cols []column) []Row {
	var rows []Row
	for len(wire) > 0 {
		row := make(Row, len(cols))
		for _, c := range cols {
			colon := strings.IndexByte(string(wire[:min(len(wire), 24)]), ':')
			n, _ := strconv.Atoi(string(wire[1:colon]))
			text := string(wire[colon+1 : colon+1+n])
			wire = wire[colon+1+n:]
			switch c.kind {
			case 'i':
				row[c.name], _ = strconv.ParseInt(text, 10, 64)
			case 'f':
				row[c.name], _ = strconv.ParseFloat(text, 64)
			default:
				row[c.name] = text
			}
		}
		rows = append(rows, row)
	}
	return rows
}
