package payment

import (
	"time"

	"github.com/allot/allot/actors/booking"
)

// MaxTiers bounds a cancellation policy: a handful of tiers is what any venue publishes.
const MaxTiers = 10

// Tier refunds Percent of what was paid when a paid booking is cancelled at least Before ahead
// of the start of its first bucket.
type Tier struct {
	Before  time.Duration
	Percent int64
}

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

// Validate checks the shape: at most MaxTiers tiers, Before >= 0 and strictly decreasing,
// Percent in 0..100 and not increasing.
func (p Policy) Validate() error {
	if len(p.Tiers) > MaxTiers {
		return booking.Errorf(booking.CodeInvalid, "a cancellation policy has at most %d tiers", MaxTiers)
	}
	for i, t := range p.Tiers {
		switch {
		case t.Before < 0:
			return booking.Errorf(booking.CodeInvalid, "cancellation tier %d: before must not be negative", i)
		case t.Percent < 0 || t.Percent > 100:
			return booking.Errorf(booking.CodeInvalid, "cancellation tier %d: percent must be between 0 and 100", i)
		case i > 0 && t.Before >= p.Tiers[i-1].Before:
			return booking.Errorf(booking.CodeInvalid, "cancellation tier %d: tiers are ordered by notice, longest first", i)
		case i > 0 && t.Percent > p.Tiers[i-1].Percent:
			return booking.Errorf(booking.CodeInvalid, "cancellation tier %d: a later cancellation cannot refund more", i)
		}
	}
	return nil
}

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
