// Command heap-leak runs "session-api", a service whose session cache never evicts, and
// takes heap profiles of it at regular intervals.
//
// Every login stores a session in SessionCache. Put makes a defensive copy of the
// session's payload and roles and keeps it in a map; the expiry sweep that should bound
// the map was never wired up, so the memory allocated in main.(*SessionCache).Put is
// never freed and its inuse_space grows by about -logins x 1.6 KB per interval. Page
// requests create much more garbage (main.renderPage) and fill a bounded ring of recent
// pages (main.(*RecentPages).Add): high alloc_space, flat inuse_space, the control.
//
// runtime.MemProfileRate is lowered to 1 KiB so that small allocations are sampled
// often enough for stable numbers. Each snapshot runs runtime.GC() first (as
// /debug/pprof/heap?gc=1 does) so inuse_* reflects the heap at that moment.
//
//	go run ./heap-leak -out ../heap-leak
package main

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"profilelab/datasets/generators/internal/dsutil"
)

func init() {
	// Set before the first allocation of interest, as the runtime docs ask.
	runtime.MemProfileRate = 1024
}

// Session is what a login creates.
type Session struct {
	ID      string
	User    string
	Roles   []string
	Payload []byte // serialized claims
	Created time.Time
}

type cacheEntry struct {
	claims  []byte
	roles   []string
	user    string
	expires time.Time
}

// SessionCache maps session ids to entries. THE LEAK: nothing ever deletes from entries.
type SessionCache struct {
	mu      sync.Mutex
	entries map[string]*cacheEntry
	ttl     time.Duration
}

// Put stores a copy of s. The copy (claims, roles, entry, map growth) is allocated here,
// so the leaked bytes are attributed to main.(*SessionCache).Put.
//
//go:noinline
func (c *SessionCache) Put(s *Session) {
	e := &cacheEntry{
		claims:  append(make([]byte, 0, len(s.Payload)), s.Payload...),
		roles:   append([]string(nil), s.Roles...),
		user:    strings.Clone(s.User),
		expires: s.Created.Add(c.ttl),
	}
	c.mu.Lock()
	c.entries[s.ID] = e
	c.mu.Unlock()
}

// Len is the number of cached sessions.
func (c *SessionCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// RecentPages keeps the last N rendered pages: bounded, so its inuse_space is flat.
type RecentPages struct {
	pages [][]byte
	next  int
}

//go:noinline
func (r *RecentPages) Add(page []byte) {
	r.pages[r.next] = append([]byte(nil), page...)
	r.next = (r.next + 1) % len(r.pages)
}

var roles = []string{"viewer", "editor", "billing", "admin", "support", "auditor"}

//go:noinline
func newSession(rng *rand.Rand, n int) *Session {
	payload := make([]byte, 1200+rng.Intn(400))
	rng.Read(payload)
	k := 1 + rng.Intn(3)
	return &Session{
		ID:      fmt.Sprintf("sess-%08x-%06d", rng.Uint32(), n),
		User:    "user" + strconv.Itoa(rng.Intn(100000)),
		Roles:   roles[:k],
		Payload: payload,
		Created: time.Now(),
	}
}

func handleLogin(rng *rand.Rand, cache *SessionCache, n int) {
	cache.Put(newSession(rng, n))
}

// renderPage builds a page of rows: garbage that the next GC collects.
//
//go:noinline
func renderPage(rng *rand.Rand, rows int) []byte {
	var b strings.Builder
	b.WriteString("<table>")
	for i := 0; i < rows; i++ {
		cells := make([]string, 6)
		for j := range cells {
			cells[j] = strconv.Itoa(rng.Intn(1 << 20))
		}
		fmt.Fprintf(&b, "<tr><td>%s</td></tr>", strings.Join(cells, "</td><td>"))
	}
	b.WriteString("</table>")
	return []byte(b.String())
}

func handlePage(rng *rand.Rand, recent *RecentPages) {
	recent.Add(renderPage(rng, 10+rng.Intn(30)))
}

func main() {
	out := flag.String("out", "../heap-leak", "dataset directory")
	snapshots := flag.Int("snapshots", 12, "number of heap profiles")
	interval := flag.Duration("interval", 500*time.Millisecond, "time between profiles")
	logins := flag.Int("logins", 800, "logins per interval (each leaks one session)")
	pages := flag.Int("pages", 3000, "page requests per interval (garbage only)")
	seed := flag.Int64("seed", 1, "random seed of the workload")
	flag.Parse()
	dsutil.Must(os.MkdirAll(*out, 0o755))
	index := dsutil.Must1(dsutil.NewIndex(*out, []string{"service"}, []string{"n_logins"}))

	rng := rand.New(rand.NewSource(*seed))
	cache := &SessionCache{entries: map[string]*cacheEntry{}, ttl: 30 * time.Minute}
	recent := &RecentPages{pages: make([][]byte, 256)}
	next := time.Now()
	n := 0
	for snap := 0; snap < *snapshots; snap++ {
		// Interleave logins and page views as real traffic would.
		for i := 0; i < *logins+*pages; i++ {
			if rng.Intn(*logins+*pages) < *logins {
				handleLogin(rng, cache, n)
				n++
			} else {
				handlePage(rng, recent)
			}
		}
		next = next.Add(*interval)
		time.Sleep(time.Until(next))
		runtime.GC()
		name := fmt.Sprintf("heap-%02d.pb.gz", snap)
		start := dsutil.Must1(dsutil.WriteProfile("heap", *out+"/"+name))
		dsutil.Must(index.Add(name, start, []string{"session-api"}, int64(n)))
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Printf("%s: %d sessions cached, heap in use %.1f MB\n", name, cache.Len(), float64(ms.HeapAlloc)/1e6)
	}
	dsutil.Must(index.Close())
}
