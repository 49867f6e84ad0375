package persistence

import "github.com/allot/allot/actors/booking"

// WaitlistFilter selects waiting entries for a store's ListWaitlist (each store has one; the
// caller that needs it, the HTTP API's GET /v1/me/waitlist, defines the interface). Empty
// fields match everything, but at least one of UserID and ResourceID must be set.
type WaitlistFilter struct {
	UserID     string
	ResourceID string
	Limit      int // 0 means 100; at most 1000
}

// Normalize applies the default limit and checks the filter.
func (f *WaitlistFilter) Normalize() error {
	if f.ResourceID == "" && f.UserID == "" {
		return booking.Errorf(booking.CodeInvalid, "a waitlist query needs a user or a resource")
	}
	switch {
	case f.Limit == 0:
		f.Limit = 100
	case f.Limit < 0 || f.Limit > 1000:
		return booking.Errorf(booking.CodeInvalid, "limit must be between 1 and 1000")
	}
	return nil
}

// WaitlistPosition is a waiting entry and its place in its resource's waitlist as committed: 1
// for the first in line (the number of entries of the resource whose Seq is not greater).
// ListWaitlist returns them by the entry's CreatedAt, then ID.
type WaitlistPosition struct {
	Entry    booking.WaitlistEntry
	Position int
}

// The shared SQL of a waitlist listing (schema step 3): the entry's columns, as w, in this
// order, and its position, for the SQL stores.
const (
	WaitlistColumns        = `w.id, w.resource_id, w.user_id, w.offer_hold_id, w.buckets, w.quantity, w.seq, w.created_at_ms`
	WaitlistPositionColumn = `(SELECT COUNT(*) FROM waitlist x WHERE x.resource_id = w.resource_id AND x.seq <= w.seq)`
)
