package sqlite

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
)

// The relay's claims on SQLite are kept in memory, not in the outbox rows. An SQLite file is
// one node's store (docs/ARCHITECTURE.md) and Open voids every claim it finds (voidClaims),
// so a claim only ever excluded other ClaimEvents calls of the same process: a map does that
// without a write. A claim is then a read on the read pool instead of an UPDATE of every
// claimed row through the single writer, where it joined (and lengthened) the booking group
// commits and wrote its rows' pages to the WAL (docs/EVENTS.md, Cost). Crash semantics are
// the ones voidClaims gave: a process that dies forgets its claims, and the unpublished rows
// are claimed again at once by the next one.

// outboxClaims holds the unexpired claims of this Store's callers. Safe for concurrent use.
type outboxClaims struct {
	mu    sync.Mutex // held for a whole ClaimEvents: claims exclude each other
	until map[persistence.EventKey]int64
}

// selectUnpublished reads unpublished rows in log order, through the outbox_unpublished index.
const selectUnpublished = `SELECT ` + outboxCols + ` FROM outbox WHERE published_at_ms = 0` + outboxOrder + ` LIMIT ?`

// ClaimEvents claims up to limit unpublished events in log order (see persistence.Outbox):
// it reads them from the read pool, skipping the ones an unexpired claim of this Store holds,
// and claims those it returns in memory until now+lease. The read sees every commit and every
// MarkPublished that returned before it (WAL readers start at the last commit).
func (s *Store) ClaimEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]events.Record, error) {
	if err := s.readable(ctx, "claim events"); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	c := &s.claims
	c.mu.Lock()
	defer c.mu.Unlock()
	nowMS := now.UnixMilli()
	for k, until := range c.until {
		if until <= nowMS {
			delete(c.until, k)
		}
	}
	c.dropIfEmpty()
	read := limit + len(c.until) // enough to skip every row still claimed
	recs, err := scanRecords(s.rdb.QueryContext(ctx, selectUnpublished, read))
	if err != nil {
		return nil, s.readErr("claim events", err)
	}
	if c.until == nil && len(recs) > 0 {
		c.until = map[persistence.EventKey]int64{}
	}
	out := recs[:0]
	until := now.Add(lease).UnixMilli()
	for i := range recs {
		if len(out) == limit {
			break
		}
		k := persistence.KeyOf(&recs[i])
		if _, held := c.until[k]; held {
			continue
		}
		c.until[k] = until
		out = append(out, recs[i])
	}
	return slices.Clip(out), nil
}

// release drops the claims of keys that were marked published: their rows are no longer
// read by a claim, and the map stays as small as what is in flight.
func (c *outboxClaims) release(keys []persistence.EventKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		delete(c.until, k)
	}
	c.dropIfEmpty()
}

// dropIfEmpty lets go of an empty map (c.mu held). A Go map keeps the tables it grew to when
// its entries are deleted: those of a busy period's claims (thousands in flight) would stay for
// as long as the node is quiet, made while the heap was full of that period's objects (issue 17,
// round 14). The next claim makes a small one.
func (c *outboxClaims) dropIfEmpty() {
	if len(c.until) == 0 {
		c.until = nil
	}
}
