package api

import (
	"container/list"
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// Past bookings while the database is down. A user's hold listing comes from the store, not
// from the actors (which know only the holds of resources they host), so when the store is
// unreachable the edge answers it from a bounded cache of the listings it served recently,
// marked X-Allot-Stale: true, rather than 503: a user can still see their bookings, as they
// were when last listed. Only listings that name a user are cached (they are what a user
// looks at; a resource's whole listing is an operator's query), at most
// Config.StaleListings of them, least recently served first out, none older than
// Config.StaleListingMaxAge.

// Defaults of the listing cache.
const (
	DefaultStaleListings      = 4096
	DefaultStaleListingMaxAge = 24 * time.Hour
)

// listingCache is a bounded LRU of hold listings by filter. It is safe for concurrent use.
type listingCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *listing, most recently served first
	byKey map[string]*list.Element
}

type listing struct {
	key   string
	holds []booking.Hold
	at    time.Time // when the store answered it
}

func newListingCache(max int) *listingCache {
	return &listingCache{max: max, order: list.New(), byKey: make(map[string]*list.Element)}
}

// listingKey identifies a normalized filter.
func listingKey(f persistence.HoldFilter) string {
	return strconv.Quote(f.ResourceID) + "|" + strconv.Quote(f.UserID) + "|" + string(f.Status) + "|" + strconv.Itoa(f.Limit)
}

// put remembers what the store answered for f at time at. The cache keeps its own copy.
func (c *listingCache) put(f persistence.HoldFilter, holds []booking.Hold, at time.Time) {
	if c.max <= 0 || f.UserID == "" {
		return
	}
	cp := make([]booking.Hold, len(holds))
	for i := range holds {
		cp[i] = *holds[i].Clone()
	}
	key := listingKey(f)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		el.Value = &listing{key: key, holds: cp, at: at}
		c.order.MoveToFront(el)
		return
	}
	c.byKey[key] = c.order.PushFront(&listing{key: key, holds: cp, at: at})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*listing).key)
	}
}

// get returns the listing remembered for f if it was stored after notBefore.
func (c *listingCache) get(f persistence.HoldFilter, notBefore time.Time) ([]booking.Hold, bool) {
	if c.max <= 0 || f.UserID == "" {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[listingKey(f)]
	if !ok {
		return nil, false
	}
	l := el.Value.(*listing)
	if l.at.Before(notBefore) {
		return nil, false
	}
	c.order.MoveToFront(el)
	return l.holds, true
}

// storeDown reports whether a listing error means the store could not be reached (rather
// than a refusal or a bug): the case a remembered listing may answer.
func storeDown(err error) bool {
	return errors.Is(err, persistence.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}
