package wire

import "github.com/allot/allot/actors/events"

// EventList is the answer of GET /v1/events: a page of the event log, oldest first. Each
// event is the JSON the relay publishes to NATS (actors/events.Record: id, type,
// resource_id, version, index, occurred_at, subject, data). NextCursor is the cursor of the
// last event of the page, to pass as after= for the next one; it is empty only when the
// page is empty (then pass the same after= again later).
type EventList struct {
	Object     string          `json:"object"` // "list"
	Data       []events.Record `json:"data"`
	HasMore    bool            `json:"has_more"`
	NextCursor string          `json:"next_cursor,omitempty"`
}
