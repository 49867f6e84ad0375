package resource

import (
	"errors"
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

// newIDs are the ids the actor chose for a command: hold for a PlaceHold (the hold) or a
// JoinWaitlist (the hold an offer becomes), entry for a JoinWaitlist.
type newIDs struct{ hold, entry string }

// decodeCommand turns cmd into one of the operations activation.Command.Op lists, for the
// resource resourceID, with the ids the actor chose. A *booking.Error is returned for a
// command that cannot be decoded.
func decodeCommand(cmd *protos.Command, resourceID string, ids newIDs) (any, error) {
	if cmd.GetResourceId() != resourceID {
		return nil, booking.Errorf(booking.CodeMalformed, "command for resource %q sent to resource %q", cmd.GetResourceId(), resourceID)
	}
	switch op := cmd.GetOp().(type) {
	case *protos.Command_CreateResource:
		if op.CreateResource == nil {
			break
		}
		return decodeCreate(op.CreateResource, resourceID)
	case *protos.Command_GetResource:
		return activation.GetResource{}, nil
	case *protos.Command_UpdateResource:
		if op.UpdateResource == nil {
			break
		}
		return decodeUpdate(op.UpdateResource)
	case *protos.Command_PlaceHold:
		p := op.PlaceHold
		if p == nil {
			break
		}
		id, key := holdStrings(ids.hold, p.GetIdempotencyKey())
		return booking.PlaceHold{
			HoldID:         id,
			IdempotencyKey: key,
			Buckets:        append([]string(nil), p.GetBuckets()...),
			Quantity:       p.GetQuantity(),
			UserID:         p.GetUserId(),
			Range:          rangeOf(p.GetRange()),
			Contact:        booking.SealedContact(p.GetContact()),
		}, nil
	case *protos.Command_GetHold:
		return activation.GetHold{HoldID: op.GetHold.GetHoldId()}, nil
	case *protos.Command_ConfirmHold:
		return booking.ConfirmHold{HoldID: op.ConfirmHold.GetHoldId(), PaymentRequired: op.ConfirmHold.GetPaymentRequired()}, nil
	case *protos.Command_CancelHold:
		return booking.CancelHold{HoldID: op.CancelHold.GetHoldId()}, nil
	case *protos.Command_ExtendHold:
		return booking.ExtendHold{HoldID: op.ExtendHold.GetHoldId(), UserID: op.ExtendHold.GetUserId(),
			IdempotencyKey: op.ExtendHold.GetIdempotencyKey()}, nil
	case *protos.Command_JoinWaitlist:
		j := op.JoinWaitlist
		if j == nil {
			break
		}
		return booking.JoinWaitlist{
			EntryID:        ids.entry,
			OfferHoldID:    ids.hold,
			UserID:         j.GetUserId(),
			Buckets:        append([]string(nil), j.GetBuckets()...),
			Range:          rangeOf(j.GetRange()),
			Quantity:       j.GetQuantity(),
			IdempotencyKey: j.GetIdempotencyKey(),
		}, nil
	case *protos.Command_ArchiveResource:
		return booking.ArchiveResource{}, nil
	case *protos.Command_LeaveWaitlist:
		return booking.LeaveWaitlist{EntryID: op.LeaveWaitlist.GetEntryId(), UserID: op.LeaveWaitlist.GetUserId()}, nil
	case *protos.Command_Payment:
		if op.Payment == nil {
			break
		}
		return decodePayment(op.Payment) // payment.go
	}
	return nil, booking.Errorf(booking.CodeMalformed, "command has no operation")
}

// holdStrings returns the placed hold's id and Idempotency-Key as parts of one string, the
// copies the booking state keeps for as long as the hold is in memory: one 80-byte allocation
// (the 32-byte id and the usual 46-byte scoped key) instead of a 32-byte and a 48-byte one. Those
// two size classes are also where the embedded JetStream keeps its subject index (leaves and
// keys made while the events of a fill are stored, and kept while the events are retained):
// every per-resource object of ours in them lengthens the runs of spans that those survivors
// keep in use once the resources passivate (the Go heap does not compact). See
// docs/ARCHITECTURE.md, "Round 7". Without a key the id is kept as it is.
func holdStrings(id, key string) (string, string) {
	if key == "" {
		return id, ""
	}
	both := id + key
	return both[:len(id)], both[len(id):]
}

func decodeCreate(c *protos.CreateResource, resourceID string) (any, error) {
	ttl, err := msDuration(c.GetHoldTtlMs())
	if err != nil {
		return nil, err
	}
	offerTTL, err := msDurationOf("waitlist_offer_ttl_ms", c.GetWaitlistOfferTtlMs())
	if err != nil {
		return nil, err
	}
	out := booking.CreateResource{ID: resourceID, Name: c.GetName(), Buckets: copyCapacities(c.GetBuckets()), HoldTTL: ttl,
		Allowance: allowanceOf(c.GetAllowance()), MaxPerUser: c.GetMaxPerUser(), Timezone: c.GetTimezone(),
		WaitlistOfferTTL: offerTTL, Tags: append([]string(nil), c.GetTags()...), Location: c.GetLocation()}
	if p := c.GetPrice(); p != nil {
		out.Price = &booking.Money{Amount: p.GetAmount(), Currency: p.GetCurrency()}
	}
	if c.MaxExtensions != nil {
		n, err := extensions(*c.MaxExtensions)
		if err != nil {
			return nil, err
		}
		out.MaxExtensions = &n
	}
	if p := c.GetCancellationPolicy(); p != nil {
		tiers, err := refundTiersOf(p.GetTiers())
		if err != nil {
			return nil, err
		}
		out.Refunds = tiers
	}
	if cal := c.GetCalendar(); cal != nil {
		every, err := msDurationOf("calendar.every", cal.GetEveryMs())
		if err != nil {
			return nil, err
		}
		out.Calendar = &booking.Calendar{From: cal.GetFrom(), To: cal.GetTo(), Every: every, Capacity: cal.GetCapacity()}
	}
	return out, nil
}

func decodeUpdate(u *protos.UpdateResource) (any, error) {
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
	if u.MaxExtensions != nil {
		n, err := extensions(*u.MaxExtensions)
		if err != nil {
			return nil, err
		}
		out.MaxExtensions = &n
	}
	if a := u.GetAllowance(); a != nil {
		al := allowanceOf(a)
		out.Allowance = &al
	}
	if u.MaxPerUser != nil {
		n := *u.MaxPerUser
		out.MaxPerUser = &n
	}
	if t := u.GetTags(); t != nil {
		tags := append([]string{}, t.GetValues()...)
		out.Tags = &tags
	}
	if u.Location != nil {
		l := *u.Location
		out.Location = &l
	}
	if p := u.GetCancellationPolicy(); p != nil {
		tiers, err := refundTiersOf(p.GetTiers())
		if err != nil {
			return nil, err
		}
		out.Refunds = &tiers
	}
	if u.WaitlistOfferTtlMs != nil {
		ttl, err := msDurationOf("waitlist_offer_ttl_ms", *u.WaitlistOfferTtlMs)
		if err != nil {
			return nil, err
		}
		out.WaitlistOfferTTL = &ttl
	}
	return out, nil
}

// refundTiersOf converts a wire cancellation policy (nil for no tiers); the model checks the
// order and the percentages, this only keeps the notice inside a Duration.
func refundTiersOf(in []*protos.RefundTier) ([]booking.RefundTier, error) {
	if len(in) == 0 {
		return nil, nil
	}
	if len(in) > booking.MaxRefundTiers {
		return nil, booking.Errorf(booking.CodeInvalid, "a cancellation policy has at most %d tiers", booking.MaxRefundTiers)
	}
	out := make([]booking.RefundTier, len(in))
	for i, t := range in {
		if t.GetBeforeMs() < 0 || t.GetBeforeMs() > booking.MaxRefundNotice.Milliseconds() {
			return nil, booking.Errorf(booking.CodeInvalid, "cancellation tier %d: before must be between 0s and %s", i, booking.MaxRefundNotice)
		}
		out[i] = booking.RefundTier{Before: time.Duration(t.GetBeforeMs()) * time.Millisecond, Percent: t.GetPercent()}
	}
	return out, nil
}

// extensions converts a wire max_extensions; the model checks its range.
func extensions(n int64) (int, error) {
	if n < 0 || n > booking.MaxExtensionsLimit {
		return 0, booking.Errorf(booking.CodeInvalid, "max_extensions must be between 0 and %d", booking.MaxExtensionsLimit)
	}
	return int(n), nil
}

func allowanceOf(a *protos.Allowance) booking.Allowance {
	return booking.Allowance{Units: a.GetUnits(), Percent: a.GetPercent()}
}

func rangeOf(r *protos.Range) *booking.Range {
	if r == nil {
		return nil
	}
	return &booking.Range{From: r.GetFrom(), To: r.GetTo()}
}

// msDurationOf converts a wire duration in milliseconds named name; the model checks its range.
func msDurationOf(name string, ms int64) (time.Duration, error) {
	if ms < 0 || ms > maxTTLms {
		return 0, booking.Errorf(booking.CodeInvalid, "%s is out of range", name)
	}
	return time.Duration(ms) * time.Millisecond, nil
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
	p := new(protos.Hold)
	fillHoldProto(p, h, nil)
	return p
}

// fillHoldProto sets p's fields from h (p is new: its fields are set one by one, since a
// protobuf message must not be copied). The bucket list is copied, appended to buf: the
// reply outlives nothing of h, and a copy keeps it so.
func fillHoldProto(p *protos.Hold, h booking.Hold, buf []string) {
	p.Id = h.ID
	p.ResourceId = h.ResourceID
	p.Status = string(h.Status)
	if len(h.Buckets) > 0 {
		p.Buckets = append(buf, h.Buckets...)
	}
	p.Quantity = h.Quantity
	p.UserId = h.UserID
	p.CreatedAtMs = unixMs(h.CreatedAt)
	p.ExpiresAtMs = unixMs(h.ExpiresAt)
	p.UpdatedAtMs = unixMs(h.UpdatedAt)
	p.IdempotencyKey = h.IdempotencyKey
	p.Extensions = int64(h.Extensions)
	p.WaitlistEntryId = h.WaitlistEntryID
	p.Contact = h.Contact
	p.Payment = h.Payment
	p.PaymentOpen = h.PaymentOpen
}

// holdReply is a hold's reply: the reply, its hold and a short bucket list in one allocation
// (three before; every hold command's reply is one: issue 17, CPU per hold). The messages are
// built in place and never copied; reply.Hold points into the same block, which the GC keeps
// whole while either is reachable.
type holdReply struct {
	reply   protos.Reply
	hold    protos.Hold
	buckets [2]string // a stay of one or two nights
}

func holdReplyProto(a *activation.Answer) *protos.Reply {
	x := new(holdReply)
	fillHoldProto(&x.hold, a.Hold, x.buckets[:0:len(x.buckets)])
	x.reply.Hold = &x.hold
	x.reply.Replayed = a.Replayed
	x.reply.Stale = a.Stale
	return &x.reply
}

func entryProto(v *activation.EntryView) *protos.WaitlistEntry {
	e := v.Entry
	return &protos.WaitlistEntry{
		Id:          e.ID,
		ResourceId:  e.ResourceID,
		UserId:      e.UserID,
		OfferHoldId: e.OfferHoldID,
		Buckets:     append([]string(nil), e.Buckets...),
		Quantity:    e.Quantity,
		Position:    int64(v.Position),
		CreatedAtMs: unixMs(e.CreatedAt),
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

		MaxExtensions:      int64(r.MaxExtensions),
		MaxPerUser:         r.MaxPerUser,
		Timezone:           r.Timezone,
		WaitlistOfferTtlMs: r.WaitlistOfferTTL.Milliseconds(),
		SlotEveryMs:        r.SlotEvery.Milliseconds(),
		Tags:               append([]string(nil), r.Tags...),
		Location:           r.Location,
		ArchivedAtMs:       unixMs(r.ArchivedAt),
	}
	if a := r.Allowance; a != (booking.Allowance{}) {
		out.Allowance = &protos.Allowance{Units: a.Units, Percent: a.Percent}
	}
	if r.Price != nil {
		out.Price = &protos.Money{Amount: r.Price.Amount, Currency: r.Price.Currency}
	}
	for _, t := range r.Refunds {
		out.CancellationPolicy = append(out.CancellationPolicy, &protos.RefundTier{BeforeMs: t.Before.Milliseconds(), Percent: t.Percent})
	}
	for _, b := range buckets {
		out.Buckets[b.Key] = &protos.Bucket{Capacity: b.Capacity, Held: b.Held, Confirmed: b.Confirmed, Allowance: b.Allowance}
	}
	return out
}

// errorProto codes err for the wire; retryable codes carry retryAfter.
func errorProto(err error, retryAfter time.Duration) *protos.Error {
	// One errors.As for what booking.ErrorCode and booking.ErrorMessage would each look up.
	code, msg := booking.CodeInternal, "internal error"
	var be *booking.Error
	switch {
	case err == nil: // not called so; as booking.ErrorCode and ErrorMessage answer
		code, msg = "", ""
	case errors.As(err, &be):
		code, msg = be.Code, be.Message
	}
	e := &protos.Error{Code: code, Message: msg, Redeliver: activation.Redeliverable(err)}
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
	case a.Entry != nil:
		return &protos.Reply{WaitlistEntry: entryProto(a.Entry), Replayed: a.Replayed, Stale: a.Stale}
	}
	return holdReplyProto(a)
}
