package auth

import (
	"crypto/sha256"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// tokenKey identifies a token in the cache by its SHA-256, so the cache keeps no bearer
// token that could be read from a heap dump and replayed.
type tokenKey [sha256.Size]byte

// tokenCache remembers verified tokens while they are in use, so that the hot path pays a
// hash and a map lookup instead of a signature check. An entry leaves when its token expires,
// when its token was not presented for idle (Config.CacheIdle), or, when the cache holds size
// entries, least recently used first. A nil *tokenCache (size 0) caches nothing. Safe for
// concurrent use.
//
// Why idle matters as much as size: a token stays valid for hours, and without idle an entry
// stayed until then or until 100,000 later tokens pushed it out, whether or not its user was
// still there. The entries made during a busy period then outlived it, each in a span of the
// heap full of that period's objects, and kept those spans from being freed once the period
// ended (issue 17, round 14: ~9 MiB of the heap after passivation came from ~270 entries).
// Now the cache holds the tokens of the last idle period: what is live.
//
// Why one entry is one allocation (plus one for its strings): each object a cache entry keeps
// can keep a span of the heap from being freed, so an entry keeps as few as possible: the
// principal, its roles and its place in the recency list are fields of the entry, and the
// principal's strings are copied into one string (compactPrincipal), so the entry does not
// keep the claims' strings the JSON decoder made one by one.
//
// Invariants (under mu): entries and the list hold the same entries; len(entries) <= size;
// no entry's principal is returned by get after its Expiry.
type tokenCache struct {
	size int
	idle time.Duration

	mu         sync.Mutex
	entries    map[tokenKey]*cacheEntry
	head, tail *cacheEntry // the recency list: head the most recently used
}

// cacheEntry is one cached token. principal (and its Roles, which point into roles) is shared
// with every request that presented the token: read-only once the entry is in the cache.
type cacheEntry struct {
	key        tokenKey
	prev, next *cacheEntry // in the recency list; nil at its ends
	// seen is when the token was last presented (UnixNano by the verifier's clock), by a
	// lookup in the cache or a connection's memo (connmemo.go); memos update it at most once
	// per seenEvery, so that the requests of a busy token do not all write one cache line.
	seen atomic.Int64
	// moved is seen as of the entry's last move to the list's head (under mu): a seen past
	// it tells the sweep that a memo saw the entry since.
	moved     int64
	principal Principal
	roles     [3]Role // principal.Roles' array: customer, and operator or admin
}

// seenEvery is how stale an entry's seen may be left by the memos (see cacheEntry.seen).
const seenEvery = time.Second

func newTokenCache(size int, idle time.Duration) *tokenCache {
	if size <= 0 {
		return nil
	}
	return &tokenCache{size: size, idle: idle, entries: make(map[tokenKey]*cacheEntry, min(size, 1024))}
}

// get returns the entry of a cached token. A token past its expiry is dropped and reported
// with expired = true, so it is refused without being verified again.
func (c *tokenCache) get(key tokenKey, now time.Time) (e *cacheEntry, expired bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if ok && now.After(e.principal.Expiry) {
		c.remove(e)
		return nil, true
	}
	if ok {
		e.seen.Store(now.UnixNano())
		c.toFront(e)
	}
	c.sweep(now)
	return e, false
}

// put remembers a verified token and returns its entry, whose principal is a compact copy of
// p (compactPrincipal): the one to hand out, so that p and the strings it shares with the
// token's claims are garbage at once.
func (c *tokenCache) put(key tokenKey, p *Principal, now time.Time) *cacheEntry {
	if c == nil {
		return nil
	}
	e := &cacheEntry{key: key}
	compactPrincipal(e, p)
	e.seen.Store(now.UnixNano())
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[key]; ok {
		c.remove(old)
	}
	c.sweep(now)
	for len(c.entries) >= c.size {
		c.remove(c.tail)
	}
	c.entries[key] = e
	c.toFront(e)
	return e
}

// sweep drops the entries at the list's tail whose token expired or was not presented for
// idle, and moves to the head the ones a memo saw since they were last moved there; it stops
// at the first entry that is neither (the least recently used live one). Each entry is
// removed once and moved by the sweep at most once per memo's markSeen (once per seenEvery),
// so get and put stay O(1) amortized. A cache that gets no call keeps what it had until the
// next one (no timer: the verifier starts no goroutine). mu held.
func (c *tokenCache) sweep(now time.Time) {
	for e := c.tail; e != nil; e = c.tail {
		seen := e.seen.Load()
		switch {
		case now.After(e.principal.Expiry) || (c.idle > 0 && now.Sub(time.Unix(0, seen)) > c.idle):
			c.remove(e)
		case seen > e.moved && e != c.head:
			c.toFront(e)
		default:
			return
		}
	}
}

// toFront makes e the list's head, linking it in if it is not in the list. mu held.
func (c *tokenCache) toFront(e *cacheEntry) {
	e.moved = e.seen.Load()
	if c.head == e {
		return
	}
	c.unlink(e)
	e.next = c.head
	if c.head != nil {
		c.head.prev = e
	}
	c.head = e
	if c.tail == nil {
		c.tail = e
	}
}

// unlink takes e out of the list (a no-op for an entry not in it). mu held.
func (c *tokenCache) unlink(e *cacheEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else if c.head == e {
		c.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else if c.tail == e {
		c.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// remove drops e from the cache. mu held.
func (c *tokenCache) remove(e *cacheEntry) {
	c.unlink(e)
	delete(c.entries, e.key)
}

// len returns the number of cached tokens.
func (c *tokenCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// markSeen records that e's token was presented at now (a memo hit), at most once per
// seenEvery. Safe without the cache's lock.
func (e *cacheEntry) markSeen(now time.Time) {
	if n := now.UnixNano(); n-e.seen.Load() >= int64(seenEvery) {
		e.seen.Store(n)
	}
}

// compactPrincipal sets e's principal to a copy of p in as few objects as it takes: its
// strings in one string, its roles in e.roles (more than three keep p's slice), its scopes
// in one slice of that string's parts.
func compactPrincipal(e *cacheEntry, p *Principal) {
	e.principal = *p
	n := len(p.Subject) + len(p.Email) + len(p.Phone)
	for _, s := range p.Scopes {
		n += len(s)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(p.Subject)
	b.WriteString(p.Email)
	b.WriteString(p.Phone)
	for _, s := range p.Scopes {
		b.WriteString(s)
	}
	all, at := b.String(), 0
	next := func(l int) string {
		s := all[at : at+l]
		at += l
		return s
	}
	e.principal.Subject, e.principal.Email, e.principal.Phone = next(len(p.Subject)), next(len(p.Email)), next(len(p.Phone))
	if p.Scopes != nil {
		e.principal.Scopes = make([]string, len(p.Scopes))
		for i, s := range p.Scopes {
			e.principal.Scopes[i] = next(len(s))
		}
	}
	if len(p.Roles) <= len(e.roles) {
		e.principal.Roles = e.roles[:copy(e.roles[:], p.Roles):len(p.Roles)]
	}
}
