package webhooks

import (
	"encoding/json"
	"time"
)

// Endpoint is a registered receiver of events.
type Endpoint struct {
	ID          string
	URL         string
	Description string
	// EventTypes are the types delivered to it; never empty.
	EventTypes []string
	// Secret is the signing secret as stored: sealed (see Sealer) or the whsec_ secret. Never
	// log it nor put it in an answer other than the creation's.
	Secret string
	// Disabled endpoints get no new deliveries and their pending ones are not sent.
	Disabled       bool
	DisabledReason string
	// FailingSince is when the current run of failed attempts began; zero after a success.
	FailingSince time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Wants reports whether the endpoint takes events of type t.
func (e *Endpoint) Wants(t string) bool {
	for _, x := range e.EventTypes {
		if x == t {
			return true
		}
	}
	return false
}

// EndpointState is what the dispatcher changes on an endpoint as attempts succeed or fail.
type EndpointState struct {
	Disabled       bool
	DisabledReason string
	FailingSince   time.Time
}

// Delivery statuses.
const (
	StatusPending   = "pending"   // an attempt is due at NextAttemptAt
	StatusSucceeded = "succeeded" // a 2xx answer
	StatusFailed    = "failed"    // given up: 410 Gone, retries exhausted, endpoint disabled
)

// Delivery is one event for one endpoint.
type Delivery struct {
	// ID is derived from (EndpointID, EventID), so recording a redelivered event again finds
	// the same delivery.
	ID         string
	EndpointID string
	EventID    string
	EventType  string
	// Payload is the exact body sent (and signed), the same on every attempt.
	Payload       json.RawMessage
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	// LastStatusCode is the HTTP status of the last attempt, 0 when it got no answer.
	LastStatusCode int
	LastError      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Attempt is one try of a delivery.
type Attempt struct {
	DeliveryID string
	// N counts the delivery's attempts from 1.
	N          int
	At         time.Time
	Duration   time.Duration
	StatusCode int    // 0 when no answer came
	Error      string // why it failed; empty for a 2xx
}

// Outcome is what an attempt changes on its delivery.
type Outcome struct {
	Status         string
	NextAttemptAt  time.Time // for StatusPending
	LastStatusCode int
	LastError      string
}
