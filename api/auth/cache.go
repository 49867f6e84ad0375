package auth

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// tokenKey identifies a token in the cache by its SHA-256, so the cache keeps no bearer
// token that could be read from a heap dump and replayed.
type tokenKey [sha256.Size]byte

// tokenCache remembers verified tokens until they expire, so that the hot path pays a hash
// and a map lookup instead of a signature check. It holds at most size entries and drops the
// least recently used first. A nil *tokenCache (size 0) caches nothing. Safe for concurrent
// use.
type tokenCache struct {
	size int

	mu      sync.Mutex
	entries map[tokenKey]*list.Element // of *cacheEntry
	order   list.List                  // front: most recently used
}

type cacheEntry struct {
	key       tokenKey
	principal *Principal
}

func newTokenCache(size int) *tokenCache {
	if size <= 0 {
		return nil
	}
	return &tokenCache{size: size, entries: make(map[tokenKey]*list.Element, min(size, 1024))}
}

// get returns the principal of a cached token. A token past its expiry is dropped and
// reported with expired = true, so it is refused without being verified again.
func (c *tokenCache) get(key tokenKey, now time.Time) (p *Principal, expired bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if now.After(e.principal.Expiry) {
		c.order.Remove(el)
		delete(c.entries, key)
		return nil, true
	}
	c.order.MoveToFront(el)
	return e.principal, false
}

// put remembers a verified token until p.Expiry.
func (c *tokenCache) put(key tokenKey, p *Principal) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		el.Value.(*cacheEntry).principal = p
		c.order.MoveToFront(el)
		return
	}
	for c.order.Len() >= c.size {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
	c.entries[key] = c.order.PushFront(&cacheEntry{key: key, principal: p})
}

// len returns the number of cached tokens.
func (c *tokenCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
