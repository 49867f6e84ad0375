package events

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/allot/allot/actors/booking"
)

// Record is an event in its wire form: the outbox row, the body of the NATS message and an
// item of GET /v1/events. Data is the JSON after-image (HoldData, ResourceData or
// BucketData, by Type).
type Record struct {
	ID         string          `json:"id"`
	Type       Type            `json:"type"`
	ResourceID string          `json:"resource_id"`
	Version    uint64          `json:"version"`
	Index      int             `json:"index"`
	OccurredAt time.Time       `json:"occurred_at"`
	Subject    string          `json:"subject,omitempty"`
	Data       json.RawMessage `json:"data"`
}

// HoldData is the after-image of a hold (hold.* events).
type HoldData struct {
	ID         string    `json:"id"`
	ResourceID string    `json:"resource_id"`
	UserID     string    `json:"user_id"`
	Buckets    []string  `json:"buckets"`
	Quantity   int64     `json:"quantity"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Extensions counts the renewals of the hold; WaitlistEntryID names the waitlist entry
	// it was offered to.
	Extensions      int    `json:"extensions,omitempty"`
	WaitlistEntryID string `json:"waitlist_entry_id,omitempty"`
	// Payment, for hold.payment_changed and hold.refunded (payment.go); Refund, for
	// hold.refunded, is this refund's amount (what the report rollups read).
	Payment *PaymentData `json:"payment,omitempty"`
	Refund  *Money       `json:"refund,omitempty"`
}

// ResourceData is the after-image of a resource (resource.* events): its metadata and the
// buckets the change touched (all of them for a creation).
type ResourceData struct {
	ID             string       `json:"id"`
	Name           string       `json:"name"`
	Price          *Money       `json:"price,omitempty"`
	HoldTTLSeconds int64        `json:"hold_ttl_seconds"`
	Buckets        []BucketData `json:"buckets"`
	CreatedAt      time.Time    `json:"created_at"`
	UpdatedAt      time.Time    `json:"updated_at"`

	// The booking rules as they are after the change (what GET /v1/resources/{id} shows), so
	// that a consumer of resource.* events needs no read back: renewals, overbooking
	// allowance, the per-user cap, the zone and slot step of date and slot keys, how long a
	// waitlist offer lasts, and the resource's own cancellation policy (absent: the node's).
	MaxExtensions           int              `json:"max_extensions"`
	Allowance               *AllowanceData   `json:"allowance,omitempty"`
	MaxPerUser              int64            `json:"max_per_user,omitempty"`
	Timezone                string           `json:"timezone,omitempty"`
	SlotEverySeconds        int64            `json:"slot_every_seconds,omitempty"`
	WaitlistOfferTTLSeconds int64            `json:"waitlist_offer_ttl_seconds"`
	CancellationPolicy      []RefundTierData `json:"cancellation_policy,omitempty"`
	Tags                    []string         `json:"tags,omitempty"`
	Location                string           `json:"location,omitempty"`
	ArchivedAt              *time.Time       `json:"archived_at,omitempty"`
}

// AllowanceData is an overbooking allowance: units per bucket or a percentage of each
// bucket's capacity (one of the two).
type AllowanceData struct {
	Units   int64 `json:"units,omitempty"`
	Percent int64 `json:"percent,omitempty"`
}

// RefundTierData is a tier of a cancellation policy: cancelled at least BeforeSeconds ahead
// of the first bucket's start, Percent of the payment is refunded.
type RefundTierData struct {
	BeforeSeconds int64 `json:"before_seconds"`
	Percent       int64 `json:"percent"`
}

// Money is an amount in minor units of an ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// BucketData is the after-image of one bucket (bucket.* events, and inside ResourceData).
type BucketData struct {
	Key       string `json:"key"`
	Capacity  int64  `json:"capacity"`
	Held      int64  `json:"held"`
	Confirmed int64  `json:"confirmed"`
	Available int64  `json:"available"`
	Allowance int64  `json:"allowance,omitempty"` // overbooking units beyond capacity
}

// Encode turns e into its wire form. Times are kept at millisecond precision in UTC, as
// the stores keep them, so a record reads the same from the outbox and from NATS.
func Encode(e *Event) (Record, error) {
	r := Record{
		ID:         e.ID(),
		Type:       e.Type,
		ResourceID: e.ResourceID,
		Version:    e.Version,
		Index:      e.Index,
		OccurredAt: MS(e.OccurredAt),
		Subject:    e.Subject,
	}
	var data any
	switch {
	case e.Hold != nil:
		hd := holdData(e.Hold)
		hd.Payment = e.Payment
		if e.Type == HoldRefunded && e.Payment != nil {
			hd.Refund = &Money{Amount: e.Payment.Amount, Currency: e.Payment.Currency}
		}
		if b, ok := appendHoldData(make([]byte, 0, holdDataCap), &hd); ok { // holdjson.go
			r.Data = b
			return r, nil
		}
		data = hd
	case e.Resource != nil:
		data = resourceData(e.Resource, e.Buckets)
	case e.Bucket != nil:
		data = bucketData(*e.Bucket)
	default:
		return Record{}, fmt.Errorf("event %s: no after-image", r.ID)
	}
	b, err := json.Marshal(data)
	if err != nil {
		return Record{}, fmt.Errorf("event %s: %w", r.ID, err)
	}
	r.Data = b
	return r, nil
}

// MS truncates t to the millisecond, in UTC.
func MS(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

func holdData(h *booking.Hold) HoldData {
	keys := h.Buckets
	if keys == nil {
		keys = []string{}
	}
	return HoldData{ID: h.ID, ResourceID: h.ResourceID, UserID: h.UserID, Buckets: keys, Quantity: h.Quantity,
		Status: string(h.Status), CreatedAt: MS(h.CreatedAt), ExpiresAt: MS(h.ExpiresAt), UpdatedAt: MS(h.UpdatedAt),
		Extensions: h.Extensions, WaitlistEntryID: h.WaitlistEntryID}
}

func resourceData(r *booking.Resource, buckets []booking.Bucket) ResourceData {
	d := ResourceData{ID: r.ID, Name: r.Name, HoldTTLSeconds: int64(r.HoldTTL / time.Second),
		Buckets: make([]BucketData, 0, len(buckets)), CreatedAt: MS(r.CreatedAt), UpdatedAt: MS(r.UpdatedAt)}
	if r.Price != nil {
		d.Price = &Money{Amount: r.Price.Amount, Currency: r.Price.Currency}
	}
	d.MaxExtensions, d.MaxPerUser, d.Timezone = r.MaxExtensions, r.MaxPerUser, r.Timezone
	d.SlotEverySeconds, d.WaitlistOfferTTLSeconds = int64(r.SlotEvery/time.Second), int64(r.WaitlistOfferTTL/time.Second)
	if r.Allowance != (booking.Allowance{}) {
		d.Allowance = &AllowanceData{Units: r.Allowance.Units, Percent: r.Allowance.Percent}
	}
	for _, t := range r.Refunds {
		d.CancellationPolicy = append(d.CancellationPolicy, RefundTierData{BeforeSeconds: int64(t.Before / time.Second), Percent: t.Percent})
	}
	d.Tags, d.Location = r.Tags, r.Location
	if !r.ArchivedAt.IsZero() {
		at := MS(r.ArchivedAt)
		d.ArchivedAt = &at
	}
	for _, b := range buckets {
		d.Buckets = append(d.Buckets, bucketData(b))
	}
	return d
}

func bucketData(b booking.Bucket) BucketData {
	return BucketData{Key: b.Key, Capacity: b.Capacity, Held: b.Held, Confirmed: b.Confirmed, Available: b.Available(),
		Allowance: b.Allowance}
}
