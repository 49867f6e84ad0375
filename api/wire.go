package api

import (
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/protos"
)

// JSON bodies of the API v1 responses. Times are RFC 3339 in UTC; durations are Go duration
// strings ("10m0s"). Request bodies are decoded in decode.go.

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

// Hold claims Quantity units in each of Buckets of one resource.
type Hold struct {
	ID         string    `json:"id"`
	ResourceID string    `json:"resource_id"`
	Status     string    `json:"status"`
	Buckets    []string  `json:"buckets"`
	Quantity   int64     `json:"quantity"`
	UserID     string    `json:"user_id"`
	ExpiresAt  time.Time `json:"expires_at"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// HoldList is the answer of the hold queries.
type HoldList struct {
	Holds []Hold `json:"holds"`
}

// MemberList is the answer of GET /v1/cluster/members.
type MemberList struct {
	Members []Member `json:"members"`
}

// Status is the body of /healthz and of a ready /readyz.
type Status struct {
	Status string `json:"status"`
}

func fromMs(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func bucketsFromProto(in map[string]*protos.Bucket) map[string]Bucket {
	out := make(map[string]Bucket, len(in))
	for k, b := range in {
		if b == nil {
			b = &protos.Bucket{}
		}
		out[k] = Bucket{
			Capacity:  b.Capacity,
			Held:      b.Held,
			Confirmed: b.Confirmed,
			Available: max(b.Capacity-b.Held-b.Confirmed, 0),
		}
	}
	return out
}

func resourceFromProto(r *protos.Resource) Resource {
	out := Resource{
		ID:        r.Id,
		Name:      r.Name,
		HoldTTL:   (time.Duration(r.HoldTtlMs) * time.Millisecond).String(),
		Buckets:   bucketsFromProto(r.Buckets),
		Version:   r.Version,
		CreatedAt: fromMs(r.CreatedAtMs),
		UpdatedAt: fromMs(r.UpdatedAtMs),
	}
	if r.Price != nil {
		out.Price = &Money{Amount: r.Price.Amount, Currency: r.Price.Currency}
	}
	return out
}

func holdFromProto(h *protos.Hold) Hold {
	return Hold{
		ID:         h.Id,
		ResourceID: h.ResourceId,
		Status:     h.Status,
		Buckets:    nonNil(h.Buckets),
		Quantity:   h.Quantity,
		UserID:     h.UserId,
		ExpiresAt:  fromMs(h.ExpiresAtMs),
		CreatedAt:  fromMs(h.CreatedAtMs),
		UpdatedAt:  fromMs(h.UpdatedAtMs),
	}
}

func holdFromModel(h booking.Hold) Hold {
	return Hold{
		ID:         h.ID,
		ResourceID: h.ResourceID,
		Status:     string(h.Status),
		Buckets:    nonNil(h.Buckets),
		Quantity:   h.Quantity,
		UserID:     h.UserID,
		ExpiresAt:  h.ExpiresAt.UTC(),
		CreatedAt:  h.CreatedAt.UTC(),
		UpdatedAt:  h.UpdatedAt.UTC(),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
