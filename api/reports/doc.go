// Package reports keeps booking rollups computed from the event stream (api/feed) and serves
// them to operators: GET /v1/reports/bookings, /revenue, /funnel and /top-resources, as JSON
// or CSV. It is a consumer of the bus, never on the booking hot path.
//
// The parts, one per file:
//   - derive.go: the pure step from one event (and what is known of its resource) to the
//     counters it adds (a Delta); no I/O, no clock;
//   - store.go: the Store seam (Apply one event idempotently, record a view, read rows) and
//     sqlstore.go, its SQLite and PostgreSQL/CockroachDB implementation on migration 0008;
//   - consumer.go: the feed.Handler the bus calls;
//   - views.go: the edge middleware counting distinct signed-in viewers of availability;
//   - query.go: grouping rows by day, week, month, resource or bucket, and the report shapes;
//   - handlers.go and csv.go: the routes (auth.Operator) and their encodings.
//
// Idempotence: events of one resource arrive in (Version, Index) order, at least once, so
// the store keeps a watermark per resource and applies an event only past it, in the same
// transaction as its counters. A redelivered or duplicated event changes nothing; events of
// different resources may interleave in any order. See docs/REPORTS.md for the definitions.
package reports
