// Package webhooks delivers committed events to partners' HTTP endpoints, signed by the
// Standard Webhooks specification (webhook-id, webhook-timestamp, webhook-signature), and
// serves the admin API that registers those endpoints (/v1/webhooks).
//
// The parts:
//   - Store (store.go): endpoints, deliveries and attempts, persisted; SQLStore on SQLite and
//     PostgreSQL/CockroachDB (migration 0005), MemStore for tests and the memory store; one
//     contract suite (storetest) for all.
//   - Dispatcher (dispatcher.go): the event consumer (intake.go: HandleBatch, fed a fetch at a
//     time by the bus's durable consumer, or Handle, one event) records one delivery per
//     matching endpoint, with the events in the consumer's inbox in one transaction, and
//     queues what it added on the endpoints' lanes; a scheduler claims the other due
//     deliveries (retries, what did not fit); both are sent with bounded concurrency per
//     endpoint, a timeout per attempt, exponential backoff with jitter for up to three days
//     (schedule.go), 410 Gone and persistent failure disabling the endpoint; attempts are
//     recorded in batches (record.go).
//   - Metrics (metrics.go): allot_webhook_delivery_lag_seconds, an event's occurred_at to its
//     delivery's first success, observed once the attempt is recorded.
//   - Guard (ssrf.go): target URLs on loopback, link-local, private, unspecified and other
//     non-public ranges are refused at registration and again at every dial (so a DNS answer
//     that changes after registration cannot reach them), unless AllowPrivate is set.
//   - Handlers (handlers.go): the admin routes with their auth policies, for api.Server to
//     mount.
//
// Guarantees: a delivery is attempted at least once per (endpoint, event); receivers
// deduplicate by webhook-id, which is the event id. Order is not guaranteed across retries;
// the payload carries the resource's version so that receivers can order per resource.
package webhooks
