// Package client is the typed Go client of Allot's HTTP API v1: resources, availability,
// holds (with Idempotency-Key), hold listings, cluster members, health and readiness.
//
// A Client sends every call to one of its base URLs (round robin unless WithPicker says
// otherwise), decodes answers into the types of package api/wire, and turns every non-2xx
// answer into an *Error carrying the HTTP status, the problem+json body, Retry-After and the
// X-Allot-Owner and X-Allot-Stale headers. Each call also returns an Info describing the last
// attempt (status, owner, stale, replayed, attempts).
//
// Nothing is retried unless WithRetry asks for it. A retried hold reuses its Idempotency-Key,
// so a retry cannot hold twice, and so does a waitlist join sent with one (JoinWaitlistKey);
// retrying a create or a confirm is safe as well (the owner
// answers already_exists or the unchanged hold). The client holds no goroutines; it is safe
// for concurrent use.
//
// The load generator (api/loadgen), the cluster test harness (cluster/clustertest) and the
// chaos campaign (cluster/chaos) all speak to Allot through this package; the load generator's
// load phase alone sends its holds, confirms and reads with a lean HTTP/1.1 client of its own
// that follows this package's retry rules (see api/loadgen/sender.go).
package client
