package api

import (
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/protos"
)

// Conversions from the actors' protobuf replies and the model's holds to the JSON bodies of
// package wire.

func fromMs(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func bucketsFromProto(in map[string]*protos.Bucket) map[string]wire.Bucket {
	out := make(map[string]wire.Bucket, len(in))
	for k, b := range in {
		if b == nil {
			b = &protos.Bucket{}
		}
		out[k] = wire.Bucket{
			Capacity:   b.Capacity,
			Held:       b.Held,
			Confirmed:  b.Confirmed,
			Available:  max(b.Capacity+b.Allowance-b.Held-b.Confirmed, 0),
			Allowance:  b.Allowance,
			Overbooked: max(b.Held+b.Confirmed-b.Capacity, 0),
		}
	}
	return out
}

func resourceFromProto(r *protos.Resource) wire.Resource {
	out := wire.Resource{
		ID:        r.Id,
		Name:      r.Name,
		HoldTTL:   wire.FormatDuration(time.Duration(r.HoldTtlMs) * time.Millisecond),
		Buckets:   bucketsFromProto(r.Buckets),
		Version:   r.Version,
		CreatedAt: fromMs(r.CreatedAtMs),
		UpdatedAt: fromMs(r.UpdatedAtMs),

		MaxExtensions:    int(r.MaxExtensions),
		MaxPerUser:       r.MaxPerUser,
		Timezone:         r.Timezone,
		WaitlistOfferTTL: wire.FormatDuration(time.Duration(r.WaitlistOfferTtlMs) * time.Millisecond),
	}
	if len(r.Tags) > 0 {
		out.Tags = r.Tags
	}
	out.Location = r.Location
	if r.ArchivedAtMs != 0 {
		t := fromMs(r.ArchivedAtMs)
		out.ArchivedAt = &t
	}
	if r.SlotEveryMs != 0 {
		out.SlotEvery = wire.FormatDuration(time.Duration(r.SlotEveryMs) * time.Millisecond)
	}
	if a := r.Allowance; a != nil && (a.Units != 0 || a.Percent != 0) {
		out.Allowance = &wire.Allowance{Units: a.Units, Percent: a.Percent}
	}
	if r.Price != nil {
		out.Price = &wire.Money{Amount: r.Price.Amount, Currency: r.Price.Currency}
	}
	for _, t := range r.CancellationPolicy {
		out.CancellationPolicy = append(out.CancellationPolicy,
			wire.RefundTier{Before: wire.FormatDuration(time.Duration(t.BeforeMs) * time.Millisecond), Percent: t.Percent})
	}
	return out
}

func entryFromProto(e *protos.WaitlistEntry) wire.WaitlistEntry {
	return wire.WaitlistEntry{
		ID:          e.Id,
		ResourceID:  e.ResourceId,
		UserID:      e.UserId,
		OfferHoldID: e.OfferHoldId,
		Buckets:     nonNil(e.Buckets),
		Quantity:    e.Quantity,
		Position:    int(e.Position),
		CreatedAt:   fromMs(e.CreatedAtMs),
	}
}

func entryFromModel(e booking.WaitlistEntry, position int) wire.WaitlistEntry {
	return wire.WaitlistEntry{
		ID:          e.ID,
		ResourceID:  e.ResourceID,
		UserID:      e.UserID,
		OfferHoldID: e.OfferHoldID,
		Buckets:     nonNil(e.Buckets),
		Quantity:    e.Quantity,
		Position:    position,
		CreatedAt:   e.CreatedAt.UTC(),
	}
}

func holdFromProto(h *protos.Hold) wire.Hold {
	return holdFromProtoAt(h, new(time.Time))
}

// holdFromProtoAt is holdFromProto with the hold's expiry stored in *exp, which ExpiresAt
// then points to: a caller that has a block of its own for the request lends it, and the
// reply costs no allocation of its own for the expiry (placeHold; issue 17, round 11).
func holdFromProtoAt(h *protos.Hold, exp *time.Time) wire.Hold {
	var expires *time.Time
	if e := expiresAt(h.Status, fromMs(h.ExpiresAtMs)); e != nil {
		*exp = *e
		expires = exp
	}
	return wire.Hold{
		ID:         h.Id,
		ResourceID: h.ResourceId,
		Status:     h.Status,
		Buckets:    nonNil(h.Buckets),
		Quantity:   h.Quantity,
		UserID:     h.UserId,
		ExpiresAt:  expires,
		CreatedAt:  fromMs(h.CreatedAtMs),
		UpdatedAt:  fromMs(h.UpdatedAtMs),

		Extensions:      int(h.Extensions),
		WaitlistEntryID: h.WaitlistEntryId,
		Payment:         paymentStatus(h.Payment), // payment_wire.go
	}
}

func holdFromModel(h booking.Hold) wire.Hold {
	return wire.Hold{
		ID:         h.ID,
		ResourceID: h.ResourceID,
		Status:     string(h.Status),
		Buckets:    nonNil(h.Buckets),
		Quantity:   h.Quantity,
		UserID:     h.UserID,
		ExpiresAt:  expiresAt(string(h.Status), h.ExpiresAt.UTC()),
		CreatedAt:  h.CreatedAt.UTC(),
		UpdatedAt:  h.UpdatedAt.UTC(),

		Extensions:      h.Extensions,
		WaitlistEntryID: h.WaitlistEntryID,
		Payment:         paymentStatus(h.Payment), // payment_wire.go
	}
}

// expiresAt is the expires_at of a hold in status: shown while it is held (when it will
// expire) and once expired (when it did); a confirmed or cancelled hold no longer expires.
func expiresAt(status string, t time.Time) *time.Time {
	switch booking.Status(status) {
	case booking.StatusConfirmed, booking.StatusCancelled:
		return nil
	}
	return &t
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
