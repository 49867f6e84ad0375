package api

import (
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/protos"
)

// Decoding of the booking rules' request members (issue 16): a resource's rule settings and
// calendar, and the units a hold or a waitlist entry asks for as a list of buckets or a range.

// rulesBody are the rule members that creating and updating a resource share.
type rulesBody struct {
	MaxExtensions    *int64         `json:"max_extensions"`
	Allowance        *allowanceBody `json:"allowance"`
	MaxPerUser       *int64         `json:"max_per_user"`
	WaitlistOfferTTL *string        `json:"waitlist_offer_ttl"`
	// CancellationPolicy: absent leaves it (a creation: none); [] removes it (an update), so
	// the node's default applies again.
	CancellationPolicy *[]refundTierBody `json:"cancellation_policy"`
}

type refundTierBody struct {
	Before  *string `json:"before"`
	Percent *int64  `json:"percent"`
}

// refundTierMember reports whether name may appear in an object at depth with parent: the
// members of a cancellation policy's tiers (objects in the top-level array).
func refundTierMember(parent string, depth int, name string) bool {
	return depth == 2 && parent == "[]" && oneOf(name, "before", "percent")
}

type allowanceBody struct {
	Units   *int64 `json:"units"`
	Percent *int64 `json:"percent"`
}

type calendarBody struct {
	From     *string `json:"from"`
	To       *string `json:"to"`
	Every    *string `json:"every"`
	Capacity *int64  `json:"capacity"`
}

func ruleMember(name string) bool {
	return oneOf(name, "max_extensions", "allowance", "max_per_user", "waitlist_offer_ttl", "cancellation_policy")
}

// rules are the decoded rule members; nil for the absent ones.
type rules struct {
	maxExtensions *int64
	allowance     *protos.Allowance
	maxPerUser    *int64
	offerTTL      *time.Duration
	refunds       *protos.CancellationPolicy
}

func (r rules) empty() bool {
	return r.maxExtensions == nil && r.allowance == nil && r.maxPerUser == nil && r.offerTTL == nil && r.refunds == nil
}

// offerTTLms is the offer TTL for a creation: 0 (the default) when absent.
func (r rules) offerTTLms() int64 {
	if r.offerTTL == nil {
		return 0
	}
	return r.offerTTL.Milliseconds()
}

// rules checks the rule members with the model's bounds.
func (b rulesBody) rules() (rules, error) {
	var r rules
	if n := b.MaxExtensions; n != nil {
		if *n < 0 || *n > booking.MaxExtensionsLimit {
			return r, invalid("max_extensions must be between 0 and %d", booking.MaxExtensionsLimit)
		}
		r.maxExtensions = n
	}
	if a := b.Allowance; a != nil {
		var al booking.Allowance
		if a.Units != nil {
			al.Units = *a.Units
		}
		if a.Percent != nil {
			al.Percent = *a.Percent
		}
		if err := booking.ValidateAllowance(al); err != nil {
			return r, err
		}
		r.allowance = &protos.Allowance{Units: al.Units, Percent: al.Percent}
	}
	if n := b.MaxPerUser; n != nil {
		if *n < 0 || *n > booking.MaxCapacity {
			return r, invalid("max_per_user must be between 0 (no limit) and %d", int64(booking.MaxCapacity))
		}
		r.maxPerUser = n
	}
	if s := b.WaitlistOfferTTL; s != nil {
		d, err := time.ParseDuration(*s)
		if err != nil || d < booking.MinHoldTTL || d > booking.MaxHoldTTL || d%time.Millisecond != 0 {
			return r, invalid("waitlist_offer_ttl must be a duration between %s and %s, such as 30m", booking.MinHoldTTL, booking.MaxHoldTTL)
		}
		r.offerTTL = &d
	}
	if b.CancellationPolicy != nil {
		p, err := decodeRefundTiers(*b.CancellationPolicy)
		if err != nil {
			return r, err
		}
		r.refunds = p
	}
	return r, nil
}

// decodeRefundTiers checks a cancellation policy with the model's rules
// (booking.ValidateRefundTiers): each tier a before (a duration such as 48h, 0s for "until
// the start") and a percent, longest notice first, refunding no more as the start draws near.
func decodeRefundTiers(in []refundTierBody) (*protos.CancellationPolicy, error) {
	if len(in) > booking.MaxRefundTiers {
		return nil, invalid("cancellation_policy has at most %d tiers", booking.MaxRefundTiers)
	}
	tiers := make([]booking.RefundTier, len(in))
	out := &protos.CancellationPolicy{}
	for i, t := range in {
		switch {
		case t.Before == nil:
			return nil, invalid("cancellation_policy[%d].before is required (a duration such as 48h)", i)
		case t.Percent == nil:
			return nil, invalid("cancellation_policy[%d].percent is required (0 to 100)", i)
		}
		d, err := time.ParseDuration(*t.Before)
		if err != nil || d < 0 || d > booking.MaxRefundNotice || d%time.Millisecond != 0 {
			return nil, invalid("cancellation_policy[%d].before must be a duration between 0s and %s, such as 48h", i, booking.MaxRefundNotice)
		}
		tiers[i] = booking.RefundTier{Before: d, Percent: *t.Percent}
		out.Tiers = append(out.Tiers, &protos.RefundTier{BeforeMs: d.Milliseconds(), Percent: *t.Percent})
	}
	if err := booking.ValidateRefundTiers(tiers); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeCalendar checks a calendar by expanding it in the resource's time zone, as the model
// will: at most booking.MaxBuckets days or slots, each a valid bucket.
func decodeCalendar(c *calendarBody, timezone string) (*protos.Calendar, error) {
	switch {
	case c.From == nil || c.To == nil:
		return nil, invalid("calendar.from and calendar.to are required")
	case c.Every == nil:
		return nil, invalid("calendar.every is required (24h for days, or a slot length such as 1h)")
	case c.Capacity == nil:
		return nil, invalid("calendar.capacity is required")
	}
	every, err := time.ParseDuration(*c.Every)
	if err != nil {
		return nil, invalid("calendar.every must be a duration: 24h for days, or a slot length such as 30m or 1h")
	}
	loc, err := booking.LoadTimezone(timezone)
	if err != nil {
		return nil, err
	}
	cal := booking.Calendar{From: *c.From, To: *c.To, Every: every, Capacity: *c.Capacity}
	if _, err := booking.ExpandCalendar(cal, loc); err != nil {
		return nil, err
	}
	return &protos.Calendar{From: cal.From, To: cal.To, EveryMs: every.Milliseconds(), Capacity: cal.Capacity}, nil
}

// decodeUnits checks what a hold or waitlist entry asks for: a list of buckets, or a range
// from..to (both given), not both. A range of two dates is checked here as nights (at most
// booking.MaxHoldBuckets); a range of slots is checked by the resource, which knows its slot
// length and time zone.
func decodeUnits(buckets []string, from, to *string) ([]string, *protos.Range, error) {
	if from == nil && to == nil {
		if buckets == nil {
			return nil, nil, invalid("buckets (or from and to) is required")
		}
		if err := booking.ValidateHoldBuckets(buckets); err != nil {
			return nil, nil, err
		}
		return buckets, nil, nil
	}
	switch {
	case buckets != nil:
		return nil, nil, invalid("give buckets or from and to, not both")
	case from == nil || to == nil:
		return nil, nil, invalid("a range needs both from and to")
	}
	r := booking.Range{From: *from, To: *to}
	for _, k := range []string{r.From, r.To} {
		if err := booking.ValidateBucketKey(k); err != nil {
			return nil, nil, err
		}
	}
	if len(r.From) == len("2006-01-02") && len(r.To) == len(r.From) {
		if _, err := booking.ExpandRange(r, 0, time.UTC); err != nil {
			return nil, nil, err
		}
	}
	return nil, &protos.Range{From: r.From, To: r.To}, nil
}

type joinWaitlistBody struct {
	Buckets  []string `json:"buckets"`
	From     *string  `json:"from"`
	To       *string  `json:"to"`
	Quantity *int64   `json:"quantity"`
	UserID   *string  `json:"user_id"`
}

// decodeJoinWaitlist decodes and validates the body of POST /v1/resources/{rid}/waitlist.
func decodeJoinWaitlist(body []byte) (*protos.JoinWaitlist, error) {
	var b joinWaitlistBody
	err := decodeStrict(body, &b, func(_ string, depth int, name string) bool {
		return depth > 0 || oneOf(name, "buckets", "from", "to", "quantity", "user_id")
	})
	if err != nil {
		return nil, err
	}
	buckets, rng, err := decodeUnits(b.Buckets, b.From, b.To)
	if err != nil {
		return nil, err
	}
	if b.Quantity == nil {
		return nil, invalid("quantity is required")
	}
	if err := booking.ValidateQuantity(*b.Quantity); err != nil {
		return nil, err
	}
	// user_id is optional: absent means the token's user (actingUser decides).
	uid := ""
	if b.UserID != nil {
		if err := booking.ValidateUserID("user_id", *b.UserID); err != nil {
			return nil, err
		}
		uid = *b.UserID
	}
	return &protos.JoinWaitlist{Buckets: buckets, Range: rng, Quantity: *b.Quantity, UserId: uid}, nil
}
