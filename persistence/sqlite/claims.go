package sqlite

import (
	"context"
	"encoding/json"
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

// selectUnpublished reads unpublished rows in log order, through the partial index
// outbox_unpublished_in_order (migration 0021): no sort.
const selectUnpublished = `SELECT ` + outboxCols + ` FROM outbox WHERE published_at_ms = 0` + outboxOrder + ` LIMIT ?`

// countsUpTo counts, and selectUpTo reads, resources' unpublished rows up to a (version,
// index), each resource's rows one range of the partial index outbox_unpublished_by_resource
// (migrations 0017 and 0019). countsUpTo takes every resource of a claim in one statement:
// its parameter is a JSON array of [resource, version, index], and it returns each one's
// position in the array (json_each's key) and its count.
const (
	countsUpTo = `SELECT j.key, (SELECT count(*) FROM outbox WHERE resource_id = json_extract(j.value, '$[0]')
    AND published_at_ms = 0 AND (version, idx) <= (json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]')))
FROM json_each(?) AS j`
	selectUpTo = `SELECT ` + outboxCols + ` FROM outbox WHERE resource_id = ? AND published_at_ms = 0 AND (version, idx) <= (?, ?)
ORDER BY version, idx LIMIT ?`
)

// ClaimEvents claims up to limit unpublished events in log order (see persistence.Outbox),
// per resource a prefix of its unpublished events in version order (persistence.PrefixClaim):
// it reads them from the read pool, skipping the ones an unexpired claim of this Store holds,
// and claims those it returns in memory until now+lease. The read sees every commit and every
// MarkPublished that returned before it (WAL readers start at the last commit).
//
// When the read holds every unpublished row (the relay keeps up: fewer rows than asked for),
// each resource's earlier events are among them. Otherwise a resource's earlier event can
// come after the read's last row in the log (its clock stepped back), and a count per
// resource of the read checks it (one statement for all of them); a resource whose count
// differs has its rows read again in version order. The counts are what the rule costs a
// claim under a backlog.
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
	if len(recs) == 0 {
		return nil, nil
	}
	if len(recs) < read && len(c.until) == 0 {
		// Every unpublished row, none held: the claim takes them all, which is each
		// resource's whole backlog (the relay keeping up, the common case).
		c.claim(recs, now.Add(lease).UnixMilli())
		return slices.Clip(recs), nil
	}
	held := func(r *events.Record) bool { _, ok := c.until[persistence.KeyOf(r)]; return ok }
	cands := make([]events.Record, 0, len(recs))
	byResource := map[string][]persistence.Unpublished{}
	last := map[string]*events.Record{} // each resource's last candidate in version order
	for i := range recs {
		r := &recs[i]
		h := held(r)
		if !h {
			cands = append(cands, *r)
			if l := last[r.ResourceID]; l == nil || versionLess(l, r) {
				last[r.ResourceID] = r
			}
		}
		byResource[r.ResourceID] = append(byResource[r.ResourceID], persistence.Unpublished{Rec: *r, Held: h})
	}
	if len(recs) == read {
		if err := s.completeUpTo(ctx, byResource, last, read, held); err != nil {
			return nil, s.readErr("claim events", err)
		}
	}
	for _, us := range byResource {
		slices.SortFunc(us, func(a, b persistence.Unpublished) int {
			switch {
			case versionLess(&a.Rec, &b.Rec):
				return -1
			case versionLess(&b.Rec, &a.Rec):
				return 1
			}
			return 0
		})
	}
	out := persistence.PrefixClaim(cands, limit, byResource)
	c.claim(out, now.Add(lease).UnixMilli())
	return out, nil
}

// claim holds recs until the ms time until (c.mu held).
func (c *outboxClaims) claim(recs []events.Record, until int64) {
	if len(recs) > 0 && c.until == nil {
		c.until = map[persistence.EventKey]int64{}
	}
	for i := range recs {
		c.until[persistence.KeyOf(&recs[i])] = until
	}
}

// completeUpTo makes each byResource[rid] of last's resources every unpublished row of rid
// up to last[rid] (or the first max of them, more than a claim can take), when the claim's
// read did not hold them all: one count of all of them, then a read of each resource whose
// count is not what byResource holds.
func (s *Store) completeUpTo(ctx context.Context, byResource map[string][]persistence.Unpublished,
	last map[string]*events.Record, max int, held func(*events.Record) bool) error {
	rids := make([]string, 0, len(last))
	bounds := make([][3]any, 0, len(last))
	for rid, l := range last {
		rids = append(rids, rid)
		bounds = append(bounds, [3]any{rid, l.Version, l.Index})
	}
	js, err := json.Marshal(bounds)
	if err != nil {
		return err
	}
	rows, err := s.rdb.QueryContext(ctx, countsUpTo, string(js))
	if err != nil {
		return err
	}
	var short []string // the resources whose rows byResource does not all hold
	for rows.Next() {
		var j, n int
		if err := rows.Scan(&j, &n); err != nil {
			_ = rows.Close()
			return err
		}
		rid := rids[j]
		have := 0
		for i := range byResource[rid] {
			if !versionLess(last[rid], &byResource[rid][i].Rec) {
				have++
			}
		}
		if n != have {
			short = append(short, rid)
		}
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, rid := range short {
		l := last[rid]
		recs, err := scanRecords(s.rdb.QueryContext(ctx, selectUpTo, rid, int64(l.Version), int64(l.Index), max))
		if err != nil {
			return err
		}
		us := make([]persistence.Unpublished, 0, len(recs))
		for i := range recs {
			us = append(us, persistence.Unpublished{Rec: recs[i], Held: held(&recs[i])})
		}
		byResource[rid] = us
	}
	return nil
}

// versionLess orders one resource's records by (version, index).
func versionLess(a, b *events.Record) bool {
	if a.Version != b.Version {
		return a.Version < b.Version
	}
	return a.Index < b.Index
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
