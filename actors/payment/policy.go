package payment

import (
	"time"

	"github.com/allot/allot/actors/booking"
)

// MaxTiers bounds a cancellation policy: a handful of tiers is what any venue publishes.
const MaxTiers = booking.MaxRefundTiers

// Tier refunds Percent of what was paid when a paid booking is cancelled at least Before ahead
// of the start of its first bucket. It is the resource's own rule type (booking.RefundTier:
// the policy is set on the resource, beside its other rules), so no conversion can drift.
type Tier = booking.RefundTier

// Policy is a resource's cancellation policy: what its owner gets back when they cancel a
// confirmed, paid hold. Tiers are ordered by Before, longest notice first, and refund no more
// as the start draws near; the first tier whose Before the notice reaches applies, and a
// cancellation later than every tier refunds nothing. Example: {48h 100%, 24h 50%} refunds in
// full until 48 h before the first bucket, half until 24 h, nothing after.
//
// The zero Policy (no tiers) refunds in full at any time: Allot keeps no money the resource did
// not ask to keep. A cancellation by an operator, and every refund that is not an owner's
// cancellation (sold out, fraud, a hold that ended unpaid), is always in full.
type Policy struct {
	Tiers []Tier
}

// PolicyFor is the policy a payment for a hold of res follows: the resource's own tiers when
// it has any, else def (the node's default).
func PolicyFor(res booking.Resource, def Policy) Policy {
	if len(res.Refunds) > 0 {
		return Policy{Tiers: append([]Tier(nil), res.Refunds...)}
	}
	return def
}

// Validate checks the shape (booking.ValidateRefundTiers): at most MaxTiers tiers, Before >= 0
// (at most booking.MaxRefundNotice) and strictly decreasing, Percent in 0..100 and not increasing.
func (p Policy) Validate() error { return booking.ValidateRefundTiers(p.Tiers) }

// Refund is how much of paid (minor units) goes back to an owner who cancels at at, for a
// booking whose first bucket starts at start (zero: unknown, as for opaque bucket keys, which
// counts as the longest notice). Rounds down, so the result never exceeds paid; no overflow
// for any paid >= 0.
func (p Policy) Refund(paid int64, start, at time.Time) int64 {
	if len(p.Tiers) == 0 {
		return paid
	}
	notice := time.Duration(1<<63 - 1)
	if !start.IsZero() {
		notice = start.Sub(at)
	}
	for _, t := range p.Tiers {
		if notice >= t.Before {
			return paid/100*t.Percent + paid%100*t.Percent/100
		}
	}
	return 0
}
