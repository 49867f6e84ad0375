package persistence

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
)

// Outbox is the store's event log: the outbox rows Commit writes with each batch
// (Batch.Events), which the relay publishes and the events API lists, and the inbox of the
// consumers. Every store implements it; persistence/storetest checks the contract.
//
// All methods are safe for concurrent use, also across nodes sharing a database.
// Times are stored at millisecond precision. Errors reaching the database wrap
// ErrUnavailable.
type Outbox interface {
	// ClaimEvents returns up to limit unpublished events whose claim expired (or that were
	// never claimed), in log order, and claims them until now+lease: another ClaimEvents
	// (on any node) skips them until then. The claim is a short transaction of its own
	// (SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL/CockroachDB); on SQLite, whose file
	// is one node's, a read with the claims held in the store's memory. A claimed event not
	// marked published is claimed again after the lease. Per resource, a claim holds a prefix
	// of the resource's unpublished events in (version, index) order: none of them is left
	// out of it while a later one is in it, and none is held by another claim (a resource
	// whose earlier event another claim holds gives nothing). Log order is time first, so a
	// resource whose clock stepped back between two of its events has them in the log out of
	// version order; a plain limit in log order could take the later one alone. And a claim
	// makes progress: while some unpublished event is free (no claim holds it), the claim is
	// empty only if the resource of each of the first limit free events in log order waits
	// for an earlier event another claim holds (a clock stepped back cannot stall it).
	// storetest.testOutboxClaimOrder checks it.
	ClaimEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]events.Record, error)
	// MarkPublished records that the events at these keys (KeyOf a claimed record) were
	// published (at). Unknown or pruned keys are ignored.
	MarkPublished(ctx context.Context, keys []EventKey, at time.Time) error
	// PruneEvents deletes published events that occurred before cutoff, and inbox entries
	// recorded before it, and returns how many events it deleted. Unpublished events are
	// kept whatever their age.
	PruneEvents(ctx context.Context, cutoff time.Time) (int64, error)
	// ListEvents returns events in log order after f.After, filtered, at most f.Limit.
	ListEvents(ctx context.Context, f EventFilter) ([]events.Record, error)
	// Processed and MarkProcessed are the consumers' inbox (cluster/bus.Inbox).
	Processed(ctx context.Context, consumer, eventID string) (bool, error)
	MarkProcessed(ctx context.Context, consumer, eventID string, at time.Time) error
}

// EventKey is an event's place in the log: events are listed by occurred time (ms), then
// resource id, version and index. One resource's events are in version order whenever its
// clock did not step back between two of its commits.
type EventKey struct {
	OccurredMS int64
	ResourceID string
	Version    uint64
	Index      int
}

// KeyOf is the log key of a record.
func KeyOf(r *events.Record) EventKey {
	return EventKey{OccurredMS: r.OccurredAt.UnixMilli(), ResourceID: r.ResourceID, Version: r.Version, Index: r.Index}
}

// Less orders keys as the log does.
func (k EventKey) Less(o EventKey) bool {
	switch {
	case k.OccurredMS != o.OccurredMS:
		return k.OccurredMS < o.OccurredMS
	case k.ResourceID != o.ResourceID:
		return k.ResourceID < o.ResourceID
	case k.Version != o.Version:
		return k.Version < o.Version
	}
	return k.Index < o.Index
}

// Cursor encodes k as an opaque, URL-safe string (the events API's cursors).
func (k EventKey) Cursor() string {
	s := strconv.FormatInt(k.OccurredMS, 10) + "|" + strconv.FormatUint(k.Version, 10) + "|" +
		strconv.Itoa(k.Index) + "|" + k.ResourceID
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// ParseCursor decodes a Cursor; an error is a *booking.Error with CodeInvalid.
func ParseCursor(c string) (EventKey, error) {
	bad := booking.Errorf(booking.CodeInvalid, "cursor %q is not one this server gave", shorten(c))
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return EventKey{}, bad
	}
	parts := strings.SplitN(string(raw), "|", 4)
	if len(parts) != 4 {
		return EventKey{}, bad
	}
	ms, err1 := strconv.ParseInt(parts[0], 10, 64)
	v, err2 := strconv.ParseUint(parts[1], 10, 63)
	i, err3 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || i < 0 || !booking.ValidID(parts[3]) {
		return EventKey{}, bad
	}
	return EventKey{OccurredMS: ms, ResourceID: parts[3], Version: v, Index: i}, nil
}

func shorten(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// EventFilter selects events for ListEvents. Empty fields match everything.
type EventFilter struct {
	After      *EventKey // events strictly after this key; nil: from the oldest kept
	Type       events.Type
	ResourceID string
	Limit      int // 0 means 100; at most 1000
}

// Normalize applies the default limit and checks the filter.
func (f *EventFilter) Normalize() error {
	if f.Type != "" && !f.Type.Valid() {
		return booking.Errorf(booking.CodeInvalid, "unknown event type %q", shorten(string(f.Type)))
	}
	if f.ResourceID != "" && !booking.ValidID(f.ResourceID) {
		return booking.Errorf(booking.CodeInvalid, "resource_id %q is not a valid id", shorten(f.ResourceID))
	}
	switch {
	case f.Limit == 0:
		f.Limit = 100
	case f.Limit < 0 || f.Limit > 1000:
		return booking.Errorf(booking.CodeInvalid, "limit must be between 1 and 1000")
	}
	return nil
}

// EncodeEvents encodes a batch's events for the outbox, checking that they belong to the
// batch (its resource and version): a mismatch is a caller bug and fails the batch.
func EncodeEvents(b *Batch) ([]events.Record, error) {
	if len(b.Events) == 0 {
		return nil, nil
	}
	out := make([]events.Record, 0, len(b.Events))
	for i := range b.Events {
		e := &b.Events[i]
		if e.ResourceID != b.ResourceID || e.Version != b.Version {
			return nil, fmt.Errorf("event %d of batch %s/%d is about %s/%d", i, b.ResourceID, b.Version, e.ResourceID, e.Version)
		}
		r, err := events.Encode(e)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
