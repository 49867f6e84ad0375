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

// Store keeps the rollups. Implementations: SQLStore (SQLite, PostgreSQL, CockroachDB); every
// one passes the contract suite in api/reports/storetest.
//
// Safe for concurrent use. Apply is atomic: an event's counters and its resource's watermark
// are written together or not at all. Errors are wrapped with a "reports" prefix; a canceled
// ctx ends a call with an error wrapping ctx.Err().
type Store interface {
	// Apply applies ev unless its resource's watermark is already at or past (ev.Version,
	// ev.Index), and reports whether it did. Events the rollups do not count still move the
	// watermark. An event whose data does not decode is an error and changes nothing.
	Apply(ctx context.Context, ev feed.Event) (applied bool, err error)
	// RecordView records that viewer (an opaque, non-personal key) saw resource rid's
	// availability on UTC day day; recording it again changes nothing.
	RecordView(ctx context.Context, rid, day, viewer string) error
	// Rows, Hours, LeadTimes and Views read what f selects, summed per their key.
	Rows(ctx context.Context, f Filter) ([]Row, error)
	Hours(ctx context.Context, f Filter) ([]HourRow, error)
	LeadTimes(ctx context.Context, f Filter) ([]LeadRow, error)
	Views(ctx context.Context, f Filter) ([]ViewRow, error)
	// Resources returns what is known of every resource with events, by id.
	Resources(ctx context.Context) (map[string]Resource, error)
}
