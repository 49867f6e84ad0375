package wire

import "time"

// Money is an amount in minor units (cents) of an ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Bucket is the state of one bucket. Available = Capacity - Held - Confirmed.
type Bucket struct {
	Capacity  int64 `json:"capacity"`
	Held      int64 `json:"held"`
	Confirmed int64 `json:"confirmed"`
	Available int64 `json:"available"`
}

// Resource is a bookable thing with its buckets.
type Resource struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Price     *Money            `json:"price,omitempty"`
	HoldTTL   string            `json:"hold_ttl"`
	Buckets   map[string]Bucket `json:"buckets"`
	Version   uint64            `json:"version"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// Availability is the answer of GET /v1/resources/{rid}/availability.
type Availability struct {
	ResourceID string            `json:"resource_id"`
	Buckets    map[string]Bucket `json:"buckets"`
}

// Hold statuses.
const (
	HoldHeld      = "held"
	HoldConfirmed = "confirmed"
	HoldCancelled = "cancelled"
	HoldExpired   = "expired"
)

// Hold claims Quantity units in each of Buckets of one resource.
type Hold struct {
	ID         string   `json:"id"`
	ResourceID string   `json:"resource_id"`
	Status     string   `json:"status"`
	Buckets    []string `json:"buckets"`
	Quantity   int64    `json:"quantity"`
	UserID     string   `json:"user_id"`
	// ExpiresAt is when a held hold expires (or an expired one did). Nil for confirmed and
	// cancelled holds, which no longer expire.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// HoldList is the answer of the hold queries.
type HoldList struct {
	Holds []Hold `json:"holds"`
}

// Member describes one cluster member as GET /v1/cluster/members reports it.
type Member struct {
	// ID is the member's id (unique per process start).
	ID string `json:"id"`
	// Address is where peers reach the member (host:port).
	Address string `json:"address"`
	// Status is the local view of its liveness: alive, suspect, dead or left.
	Status string `json:"status"`
	// Self is true for the member answering the request.
	Self bool `json:"self"`
	// Activations is the number of resource actors it hosts (for peers, as last gossiped).
	Activations int `json:"activations"`
}

// MemberList is the answer of GET /v1/cluster/members.
type MemberList struct {
	Members []Member `json:"members"`
}

// Status is the body of /healthz and of a ready /readyz.
type Status struct {
	Status string `json:"status"`
}
