// Package feed is the event as the webhook dispatcher (api/webhooks) and the live streams
// (api/live) consume it, and the shape of the consumer they offer the event bus.
//
// Event has the fields and JSON of the bus's wire record (actors/events.Record on the events
// branch) so that an adapter is a field-by-field copy; once both are merged, Event can become
// an alias of that type.
package feed

import (
	"context"
	"encoding/json"
	"time"
)

// Event is one committed change. Events of one resource are ordered by (Version, Index).
type Event struct {
	// ID is stable across redeliveries and unique: receivers deduplicate by it.
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	ResourceID string    `json:"resource_id"`
	Version    uint64    `json:"version"`
	Index      int       `json:"index"`
	OccurredAt time.Time `json:"occurred_at"`
	// Subject is the user whose hold it is; empty for resource and bucket events.
	Subject string `json:"subject,omitempty"`
	// Data is the JSON after-image of the hold, resource or bucket.
	Data json.RawMessage `json:"data"`
}

// Handler consumes one event. The source delivers at least once: nil acknowledges the event,
// an error asks for a redelivery later, so a Handler must be idempotent by Event.ID. It must
// return when ctx is done. A source calls one Handler one event at a time.
type Handler func(ctx context.Context, ev Event) error

// Types returns the catalogue of event types (issue 12; docs/EVENTS.md), a fresh slice: the
// same set as actors/events.Types on the events branch.
func Types() []string {
	return []string{
		"resource.created", "resource.updated",
		"hold.placed", "hold.confirmed", "hold.cancelled", "hold.expired", "hold.extended",
		"bucket.sold_out", "bucket.available", "waitlist.offered",
		"hold.payment_changed", "hold.refunded", // payments (issue 13)
	}
}

// ValidType reports whether t is in the catalogue.
func ValidType(t string) bool {
	for _, x := range Types() {
		if x == t {
			return true
		}
	}
	return false
}
