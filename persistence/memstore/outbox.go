package memstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
)

var _ persistence.Outbox = (*Store)(nil)

// outbox is the memstore's outbox table and consumers' inbox, guarded by Store.mu.
type outbox struct {
	rows  map[persistence.EventKey]*outboxRow
	inbox map[[2]string]time.Time // (consumer, event id) -> processed at
}

type outboxRow struct {
	rec          events.Record
	key          persistence.EventKey
	publishedAt  int64 // ms; 0: not yet
	claimedUntil int64 // ms
}

// add inserts a batch's encoded events, or none: an id already present is the primary key
// violation a database would report. Called with Store.mu held, after every other check of
// the batch, so that a refused batch writes nothing.
func (o *outbox) add(recs []events.Record) error {
	if o.rows == nil {
		o.rows = make(map[persistence.EventKey]*outboxRow)
	}
	for i := range recs {
		if _, dup := o.rows[persistence.KeyOf(&recs[i])]; dup {
			return fmt.Errorf("outbox: event %s exists", recs[i].ID)
		}
	}
	for i := range recs {
		r := recs[i]
		r.Data = slices.Clone(r.Data)
		k := persistence.KeyOf(&r)
		o.rows[k] = &outboxRow{rec: r, key: k}
	}
	return nil
}

// sorted returns the rows matching keep in log order.
func (o *outbox) sorted(keep func(*outboxRow) bool) []*outboxRow {
	var out []*outboxRow
	for _, r := range o.rows {
		if keep(r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *outboxRow) int {
		switch {
		case a.key.Less(b.key):
			return -1
		case b.key.Less(a.key):
			return 1
		}
		return 0
	})
	return out
}

func cloneRecord(r events.Record) events.Record {
	r.Data = slices.Clone(r.Data)
	return r
}

// ClaimEvents claims up to limit unpublished, unclaimed events in log order, per resource a
// prefix of its unpublished events in version order (persistence.PrefixClaim).
func (s *Store) ClaimEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]events.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("claim events: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen("claim events"); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	nowMS := now.UnixMilli()
	rows := s.outbox.sorted(func(r *outboxRow) bool { return r.publishedAt == 0 })
	var cands []events.Record
	byResource := map[string][]persistence.Unpublished{}
	for _, r := range rows {
		held := r.claimedUntil > nowMS
		if !held {
			cands = append(cands, r.rec)
		}
		byResource[r.rec.ResourceID] = append(byResource[r.rec.ResourceID], persistence.Unpublished{Rec: r.rec, Held: held})
	}
	for _, us := range byResource {
		slices.SortFunc(us, func(a, b persistence.Unpublished) int { return compareVersions(&a.Rec, &b.Rec) })
	}
	claimed := persistence.PrefixClaim(cands, limit, byResource)
	out := make([]events.Record, 0, len(claimed))
	for i := range claimed {
		r := s.outbox.rows[persistence.KeyOf(&claimed[i])]
		r.claimedUntil = now.Add(lease).UnixMilli()
		out = append(out, cloneRecord(r.rec))
	}
	return out, nil
}

// compareVersions orders one resource's records by (version, index).
func compareVersions(a, b *events.Record) int {
	switch {
	case a.Version != b.Version && a.Version < b.Version, a.Version == b.Version && a.Index < b.Index:
		return -1
	case a.Version == b.Version && a.Index == b.Index:
		return 0
	}
	return 1
}

// MarkPublished marks the events published.
func (s *Store) MarkPublished(ctx context.Context, keys []persistence.EventKey, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mark published: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen("mark published"); err != nil {
		return err
	}
	for _, k := range keys {
		if r, ok := s.outbox.rows[k]; ok && r.publishedAt == 0 {
			r.publishedAt = max(at.UnixMilli(), 1)
		}
	}
	return nil
}

// PruneEvents deletes published events older than cutoff and inbox entries recorded before it.
func (s *Store) PruneEvents(ctx context.Context, cutoff time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("prune events: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen("prune events"); err != nil {
		return 0, err
	}
	c := cutoff.UnixMilli()
	var n int64
	for k, r := range s.outbox.rows {
		if r.publishedAt != 0 && r.key.OccurredMS < c {
			delete(s.outbox.rows, k)
			n++
		}
	}
	for k, at := range s.outbox.inbox {
		if at.UnixMilli() < c {
			delete(s.outbox.inbox, k)
		}
	}
	return n, nil
}

// ListEvents lists events in log order after f.After.
func (s *Store) ListEvents(ctx context.Context, f persistence.EventFilter) ([]events.Record, error) {
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen("list events"); err != nil {
		return nil, err
	}
	rows := s.outbox.sorted(func(r *outboxRow) bool {
		return (f.After == nil || f.After.Less(r.key)) && (f.Type == "" || r.rec.Type == f.Type) &&
			(f.ResourceID == "" || r.rec.ResourceID == f.ResourceID)
	})
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
	}
	out := make([]events.Record, 0, len(rows))
	for _, r := range rows {
		out = append(out, cloneRecord(r.rec))
	}
	return out, nil
}

// Processed reports whether consumer handled eventID.
func (s *Store) Processed(ctx context.Context, consumer, eventID string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("inbox: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen("inbox"); err != nil {
		return false, err
	}
	_, ok := s.outbox.inbox[[2]string{consumer, eventID}]
	return ok, nil
}

// MarkProcessed records that consumer handled eventID; a second record keeps the first.
func (s *Store) MarkProcessed(ctx context.Context, consumer, eventID string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen("inbox"); err != nil {
		return err
	}
	if s.outbox.inbox == nil {
		s.outbox.inbox = make(map[[2]string]time.Time)
	}
	k := [2]string{consumer, eventID}
	if _, ok := s.outbox.inbox[k]; !ok {
		s.outbox.inbox[k] = ms(at)
	}
	return nil
}

// UnpublishedEvents counts the events not yet published (the relay's backlog gauge).
func (s *Store) UnpublishedEvents(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("count unpublished events: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen("count unpublished events"); err != nil {
		return 0, err
	}
	return int64(len(s.outbox.sorted(func(r *outboxRow) bool { return r.publishedAt == 0 }))), nil
}
