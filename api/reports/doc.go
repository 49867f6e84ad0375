// Package reports keeps booking rollups computed from the event stream (api/feed) and serves
// them to operators: GET /v1/reports/bookings, /revenue, /funnel and /top-resources, as JSON
// or CSV. It is a consumer of the bus, never on the booking hot path.
//
// The parts, one per file:
//   - derive.go: the pure step from one event (and what is known of its resource) to the
//     counters it adds (a Delta); no I/O, no clock;
//   - store.go: the Store seam (Apply one event idempotently, record views, read rows) and
//     sqlstore.go, its SQLite and PostgreSQL/CockroachDB implementation on migrations 0008
//     and 0013; keys.go, the viewer hash's key kept in the database;
//   - consumer.go: the feed.Handler the bus calls;
//   - views.go: the edge middleware counting distinct signed-in viewers of availability;
//   - query.go: grouping rows by day, week, month, resource or bucket, and the report shapes;
//   - handlers.go and csv.go: the routes (auth.Operator) and their encodings.
//
// Idempotence: events arrive at least once, and a redelivery may come after later events of
// its resource (or on another node at the same time), so the store applies each event once
// by its id, recorded in the transaction of its counters; what is known of a resource comes
// from its newest resource event by (Version, Index). See docs/REPORTS.md for the
// definitions.
package reports
