package main

// A minimal tracer: spans with 16-byte trace ids and 8-byte span ids, parent links,
// start/end times and attributes, exported as OTLP/JSON. While a span's function runs,
// the goroutine carries the pprof labels trace_id, span_id and span_name of that
// (innermost) span, so every CPU sample taken meanwhile can be joined to the span.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"math/rand"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OTLP SpanKind values (opentelemetry/proto/trace/v1/trace.proto); OTLP/JSON writes enums
// as integers.
const (
	kindInternal = 1
	kindServer   = 2
	kindClient   = 3
)

type attr struct {
	key   string
	str   string
	num   int64
	isNum bool
}

func strAttr(k, v string) attr       { return attr{key: k, str: v} }
func intAttr(k string, v int64) attr { return attr{key: k, num: v, isNum: true} }

type span struct {
	traceID [16]byte
	spanID  [8]byte
	parent  [8]byte // zero for a root span
	name    string
	kind    int
	start   int64
	end     int64
	mu      sync.Mutex
	attrs   []attr
}

// set adds attributes; a nil span (tracing off) ignores them.
func (s *span) set(attrs ...attr) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.attrs = append(s.attrs, attrs...)
	s.mu.Unlock()
}

// Tracer records finished spans. A nil *Tracer records nothing.
type Tracer struct {
	mu    sync.Mutex
	rng   *rand.Rand
	spans []*span
}

// NewTracer makes a tracer whose ids come from a seeded generator (reproducible runs).
func NewTracer(seed int64) *Tracer { return &Tracer{rng: rand.New(rand.NewSource(seed))} }

type spanKey struct{}

func spanFrom(ctx context.Context) *span {
	s, _ := ctx.Value(spanKey{}).(*span)
	return s
}

// Do runs fn in a new span, the child of the span in ctx (or the root of a new trace).
// The pprof labels of ctx are kept and trace_id/span_id/span_name are set to this span's
// while fn runs; they revert to the parent's when it returns (pprof.Do semantics).
func (t *Tracer) Do(ctx context.Context, name string, kind int, attrs []attr, fn func(context.Context)) {
	if t == nil {
		fn(ctx)
		return
	}
	s := &span{name: name, kind: kind, attrs: attrs}
	parent := spanFrom(ctx)
	t.mu.Lock()
	if parent != nil {
		s.traceID, s.parent = parent.traceID, parent.spanID
	} else {
		t.rng.Read(s.traceID[:])
	}
	t.rng.Read(s.spanID[:])
	t.mu.Unlock()
	labels := pprof.Labels("trace_id", hex.EncodeToString(s.traceID[:]),
		"span_id", hex.EncodeToString(s.spanID[:]), "span_name", name)
	s.start = time.Now().UnixNano()
	pprof.Do(context.WithValue(ctx, spanKey{}, s), labels, fn)
	s.end = time.Now().UnixNano()
	t.mu.Lock()
	t.spans = append(t.spans, s)
	t.mu.Unlock()
}

// ---- OTLP/JSON (TracesData): lowerCamelCase keys, hex ids, int64 as decimal strings ----

type otlpValue struct {
	StringValue *string `json:"stringValue,omitempty"`
	IntValue    *string `json:"intValue,omitempty"`
}

type otlpKV struct {
	Key   string    `json:"key"`
	Value otlpValue `json:"value"`
}

type otlpSpan struct {
	TraceID           string   `json:"traceId"`
	SpanID            string   `json:"spanId"`
	ParentSpanID      string   `json:"parentSpanId,omitempty"`
	Name              string   `json:"name"`
	Kind              int      `json:"kind"`
	StartTimeUnixNano string   `json:"startTimeUnixNano"`
	EndTimeUnixNano   string   `json:"endTimeUnixNano"`
	Attributes        []otlpKV `json:"attributes,omitempty"`
	Status            struct{} `json:"status"`
}

type otlpScopeSpans struct {
	Scope struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"scope"`
	Spans []otlpSpan `json:"spans"`
}

type otlpResourceSpans struct {
	Resource struct {
		Attributes []otlpKV `json:"attributes"`
	} `json:"resource"`
	ScopeSpans []otlpScopeSpans `json:"scopeSpans"`
}

type otlpTracesData struct {
	ResourceSpans []otlpResourceSpans `json:"resourceSpans"`
}

func kvs(attrs []attr) []otlpKV {
	out := make([]otlpKV, len(attrs))
	for i, a := range attrs {
		s := a.str
		if a.isNum {
			s = strconv.FormatInt(a.num, 10)
			out[i] = otlpKV{Key: a.key, Value: otlpValue{IntValue: &s}}
		} else {
			out[i] = otlpKV{Key: a.key, Value: otlpValue{StringValue: &s}}
		}
	}
	return out
}

// WriteOTLP writes every finished span, ordered by start time, as one OTLP/JSON
// TracesData object on one line (also a valid OTLP JSON-lines file), gzipped when path
// ends in .gz, and returns the number of spans.
func (t *Tracer) WriteOTLP(path string, resource []attr, scopeVersion string) (int, error) {
	t.mu.Lock()
	spans := append([]*span(nil), t.spans...)
	t.mu.Unlock()
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	scope := otlpScopeSpans{}
	scope.Scope.Name = "profilelab/datasets/order-service"
	scope.Scope.Version = scopeVersion
	for _, s := range spans {
		o := otlpSpan{
			TraceID: hex.EncodeToString(s.traceID[:]), SpanID: hex.EncodeToString(s.spanID[:]),
			Name: s.name, Kind: s.kind, Attributes: kvs(s.attrs),
			StartTimeUnixNano: strconv.FormatInt(s.start, 10), EndTimeUnixNano: strconv.FormatInt(s.end, 10),
		}
		if s.parent != [8]byte{} {
			o.ParentSpanID = hex.EncodeToString(s.parent[:])
		}
		scope.Spans = append(scope.Spans, o)
	}
	rs := otlpResourceSpans{ScopeSpans: []otlpScopeSpans{scope}}
	rs.Resource.Attributes = kvs(resource)
	data, err := json.Marshal(otlpTracesData{ResourceSpans: []otlpResourceSpans{rs}})
	if err != nil {
		return 0, err
	}
	data = append(data, '\n')
	if strings.HasSuffix(path, ".gz") {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := zw.Write(data); err != nil {
			return 0, err
		}
		if err := zw.Close(); err != nil {
			return 0, err
		}
		data = buf.Bytes()
	}
	return len(spans), os.WriteFile(path, data, 0o644)
}
