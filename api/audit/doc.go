// Package audit is the audit log of operator and admin actions (issue 11): who (the token's
// subject), what (an action named after the route, the ids it named), when, from where (the
// client address as the rate limits resolve it), under which request id, and with what
// outcome; stored durably, listed to admins at GET /v1/audit, deleted after a retention.
//
// The pieces, one per file:
//   - model.go: Entry, Filter, Page, outcomes and action names.
//   - store.go: the Store seam; memstore.go (tests, and a node that keeps nothing on disk),
//     sqlstore.go (the audit_log table of migration 0010 over SQLite, PostgreSQL or
//     CockroachDB). storetest is the contract both pass.
//   - handlers.go: GET /v1/audit (filters from, to, subject, action; a cursor for the next
//     page), mounted on the edge with the admin policy (api/mount).
//   - retention.go: the Pruner, which deletes entries older than --audit-retention on an
//     injected clock (started and stopped by cmd/audit.go).
//
// The edge decides what is audited and records it (api/audit.go), for signed-in callers only:
// every change (a method other than GET and HEAD) on a route whose policy is operator or
// admin; every change by a caller acting as an operator (an operator with a second factor
// confirming or cancelling a customer's hold at the front desk); every request on an admin
// route, reads included (the audit log's own reads among them). Operators' reads, frequent
// and changing nothing, are not. An entry holds nothing personal beyond the subject and the
// client address (kept for the retention, docs/SECURITY.md): no body, no query string.
package audit
