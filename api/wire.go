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
			Capacity:  b.Capacity,
			Held:      b.Held,
			Confirmed: b.Confirmed,
			Available: max(b.Capacity-b.Held-b.Confirmed, 0),
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
	}
	if r.Price != nil {
		out.Price = &wire.Money{Amount: r.Price.Amount, Currency: r.Price.Currency}
	}
	return out
}

func holdFromProto(h *protos.Hold) wire.Hold {
	return wire.Hold{
		ID:         h.Id,
		ResourceID: h.ResourceId,
		Status:     h.Status,
		Buckets:    nonNil(h.Buckets),
		Quantity:   h.Quantity,
		UserID:     h.UserId,
		ExpiresAt:  expiresAt(h.Status, fromMs(h.ExpiresAtMs)),
		CreatedAt:  fromMs(h.CreatedAtMs),
		UpdatedAt:  fromMs(h.UpdatedAtMs),
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
