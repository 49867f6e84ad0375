package resource

import (
	"time"

	"github.com/allot/allot/actors/activation"
	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/protos"
)

// This file converts between the wire (package protos) and the model (package booking).
// Decoding yields one of the operations activation.Command.Op lists; the actor never looks at
// a protos.Command past decodeCommand, and answers are rendered from activation.Answer.

// maxTTLms is the largest millisecond count that converts to a time.Duration without overflow.
const maxTTLms = int64(1<<63-1) / int64(time.Millisecond)

// decodeCommand turns cmd into one of booking.CreateResource, booking.UpdateResource,
// booking.PlaceHold, booking.ConfirmHold, booking.CancelHold, activation.GetResource or
// activation.GetHold, for
// the resource resourceID. holdID is used only for a PlaceHold. A *booking.Error is returned
// for a command that cannot be decoded.
func decodeCommand(cmd *protos.Command, resourceID, holdID string) (any, error) {
	if cmd.GetResourceId() != resourceID {
		return nil, booking.Errorf(booking.CodeMalformed, "command for resource %q sent to resource %q", cmd.GetResourceId(), resourceID)
	}
	switch op := cmd.GetOp().(type) {
	case *protos.Command_CreateResource:
		c := op.CreateResource
		if c == nil {
			break
		}
		ttl, err := msDuration(c.GetHoldTtlMs())
		if err != nil {
			return nil, err
		}
		out := booking.CreateResource{ID: resourceID, Name: c.GetName(), Buckets: copyCapacities(c.GetBuckets()), HoldTTL: ttl}
		if p := c.GetPrice(); p != nil {
			out.Price = &booking.Money{Amount: p.GetAmount(), Currency: p.GetCurrency()}
		}
		return out, nil
	case *protos.Command_GetResource:
		return activation.GetResource{}, nil
	case *protos.Command_UpdateResource:
		u := op.UpdateResource
		if u == nil {
			break
		}
		out := booking.UpdateResource{Buckets: copyCapacities(u.GetBuckets())}
		if u.Name != nil {
			n := *u.Name
			out.Name = &n
		}
		if u.HoldTtlMs != nil {
			ttl, err := msDuration(*u.HoldTtlMs)
			if err != nil {
				return nil, err
			}
			out.HoldTTL = &ttl
		}
		return out, nil
	case *protos.Command_PlaceHold:
		p := op.PlaceHold
		if p == nil {
			break
		}
		return booking.PlaceHold{
			HoldID:         holdID,
			IdempotencyKey: p.GetIdempotencyKey(),
			Buckets:        append([]string(nil), p.GetBuckets()...),
			Quantity:       p.GetQuantity(),
			UserID:         p.GetUserId(),
		}, nil
	case *protos.Command_GetHold:
		return activation.GetHold{HoldID: op.GetHold.GetHoldId()}, nil
	case *protos.Command_ConfirmHold:
		return booking.ConfirmHold{HoldID: op.ConfirmHold.GetHoldId()}, nil
	case *protos.Command_CancelHold:
		return booking.CancelHold{HoldID: op.CancelHold.GetHoldId()}, nil
	}
	return nil, booking.Errorf(booking.CodeMalformed, "command has no operation")
}

// msDuration converts a wire TTL; the model checks its range.
func msDuration(ms int64) (time.Duration, error) {
	if ms < 0 || ms > maxTTLms {
		return 0, booking.Errorf(booking.CodeInvalid, "hold_ttl_ms must be between %d and %d",
			booking.MinHoldTTL.Milliseconds(), booking.MaxHoldTTL.Milliseconds())
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func copyCapacities(m map[string]int64) map[string]int64 {
	if m == nil {
		return nil
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// unixMs is t in Unix milliseconds, 0 for the zero time.
func unixMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func holdProto(h booking.Hold) *protos.Hold {
	return &protos.Hold{
		Id:             h.ID,
		ResourceId:     h.ResourceID,
		Status:         string(h.Status),
		Buckets:        append([]string(nil), h.Buckets...),
		Quantity:       h.Quantity,
		UserId:         h.UserID,
		CreatedAtMs:    unixMs(h.CreatedAt),
		ExpiresAtMs:    unixMs(h.ExpiresAt),
		UpdatedAtMs:    unixMs(h.UpdatedAt),
		IdempotencyKey: h.IdempotencyKey,
	}
}

func resourceProto(r booking.Resource, buckets []booking.Bucket, version uint64) *protos.Resource {
	out := &protos.Resource{
		Id:          r.ID,
		Name:        r.Name,
		HoldTtlMs:   r.HoldTTL.Milliseconds(),
		Buckets:     make(map[string]*protos.Bucket, len(buckets)),
		Version:     version,
		CreatedAtMs: unixMs(r.CreatedAt),
		UpdatedAtMs: unixMs(r.UpdatedAt),
	}
	if r.Price != nil {
		out.Price = &protos.Money{Amount: r.Price.Amount, Currency: r.Price.Currency}
	}
	for _, b := range buckets {
		out.Buckets[b.Key] = &protos.Bucket{Capacity: b.Capacity, Held: b.Held, Confirmed: b.Confirmed}
	}
	return out
}

// errorProto codes err for the wire; retryable codes carry retryAfter.
func errorProto(err error, retryAfter time.Duration) *protos.Error {
	code := booking.ErrorCode(err)
	e := &protos.Error{Code: code, Message: booking.ErrorMessage(err)}
	if booking.Retryable(code) {
		e.RetryAfterMs = max(retryAfter.Milliseconds(), 1)
	}
	return e
}

// replyProto renders an answer of the core for the wire; retryable errors carry retryAfter.
func replyProto(a *activation.Answer, retryAfter time.Duration) *protos.Reply {
	switch {
	case a.Err != nil:
		return &protos.Reply{Error: errorProto(a.Err, retryAfter), Stale: a.Stale}
	case a.Resource != nil:
		return &protos.Reply{Resource: resourceProto(a.Resource.Resource, a.Resource.Buckets, a.Resource.Version), Stale: a.Stale}
	}
	return &protos.Reply{Hold: holdProto(a.Hold), Replayed: a.Replayed, Stale: a.Stale}
}
