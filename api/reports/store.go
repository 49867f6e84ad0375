package reports

import (
	"context"

	"github.com/allot/allot/api/feed"
)

// Filter selects rollup rows: days From <= day < To (YYYY-MM-DD; empty means unbounded), one
// resource or all (ResourceID ""), by UTC day or by the resource's local day (Local).
type Filter struct {
	From, To   string
	ResourceID string
	Local      bool
}

// Row is one rollup row with its counters, Day being the UTC or local day the Filter asked for.
type Row struct {
	ResourceID, Bucket, Day, Currency string
	Counters
}

// HourRow counts placements in one hour of day (UTC or local, as the Filter asked).
type HourRow struct {
	ResourceID, Day string
	Hour            int
	Placed          int64
}

// LeadRow counts confirmations in one lead time class.
type LeadRow struct {
	ResourceID, Day, Class string
	Confirmed              int64
}

// ViewRow is the number of distinct signed-in viewers of a resource's availability on one
// UTC day (views are counted by UTC day whatever the Filter's Local).
type ViewRow struct {
	ResourceID, Day string
	Viewers         int64
}

// View is one signed-in viewer (an opaque, non-personal key) of a resource's availability on
// one UTC day.
type View struct {
	ResourceID, Day, Viewer string
}

// Store keeps the rollups. Implementations: SQLStore (SQLite, PostgreSQL, CockroachDB); every
// one passes the contract suite in api/reports/storetest.
//
// Safe for concurrent use. Apply is atomic: an event's counters, its id and what it says of its
// resource are written together or not at all. Errors are wrapped with a "reports" prefix; a canceled
// ctx ends a call with an error wrapping ctx.Err().
type Store interface {
	// Apply applies ev unless an event with its id was applied before, and reports whether it
	// did: once per id, whatever the order of deliveries (a redelivery may come after later
	// events of its resource). What is known of a resource comes from its newest resource
	// event by (Version, Index). An event whose data does not decode, or without an id or a
	// resource id, is an error wrapping ErrBadEvent and changes nothing.
	Apply(ctx context.Context, ev feed.Event) (applied bool, err error)
	// ApplyBatch applies evs in order as Apply would, in one transaction: applied[i] says
	// whether evs[i] was applied (false for an id applied before, also earlier in evs). Events
	// that Apply would refuse with ErrBadEvent change nothing and the others are applied: the
	// error is then the join of their errors (each wrapping ErrBadEvent). Any other error
	// changes nothing at all (applied nil).
	ApplyBatch(ctx context.Context, evs []feed.Event) (applied []bool, err error)
	// RecordViews records views, all or none; recording a view again changes nothing.
	RecordViews(ctx context.Context, views []View) error
	// Rows, Hours, LeadTimes and Views read what f selects, summed per their key.
	Rows(ctx context.Context, f Filter) ([]Row, error)
	Hours(ctx context.Context, f Filter) ([]HourRow, error)
	LeadTimes(ctx context.Context, f Filter) ([]LeadRow, error)
	Views(ctx context.Context, f Filter) ([]ViewRow, error)
	// Resources returns what is known of every resource with events, by id.
	Resources(ctx context.Context) (map[string]Resource, error)
}
