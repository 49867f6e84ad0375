package booking

import "time"

// MaxRefundTiers bounds a resource's cancellation policy: a handful of tiers is what any venue
// publishes.
const MaxRefundTiers = 10

// MaxRefundNotice bounds a tier's notice: a year and a day covers any published policy, and
// keeps every notice far from a Duration's overflow.
const MaxRefundNotice = 366 * Day

// RefundTier is one tier of a resource's cancellation policy (Resource.Refunds): a paid
// booking cancelled by its owner at least Before ahead of the start of its first bucket gets
// Percent of what was paid back. The money side (package payment) applies it; the model only
// stores and validates it, like any other rule of the resource.
type RefundTier struct {
	Before  time.Duration
	Percent int64
}

// ValidateRefundTiers checks a cancellation policy: at most MaxRefundTiers tiers, Before >= 0
// and strictly decreasing (longest notice first), Percent in 0..100 and not increasing (a later
// cancellation never refunds more). No tiers is valid: the node's default policy applies.
func ValidateRefundTiers(tiers []RefundTier) error {
	if len(tiers) > MaxRefundTiers {
		return invalidf("a cancellation policy has at most %d tiers", MaxRefundTiers)
	}
	for i, t := range tiers {
		switch {
		case t.Before < 0 || t.Before > MaxRefundNotice:
			return invalidf("cancellation tier %d: before must be between 0s and %s", i, MaxRefundNotice)
		case t.Percent < 0 || t.Percent > 100:
			return invalidf("cancellation tier %d: percent must be between 0 and 100", i)
		case i > 0 && t.Before >= tiers[i-1].Before:
			return invalidf("cancellation tier %d: tiers are ordered by notice, longest first", i)
		case i > 0 && t.Percent > tiers[i-1].Percent:
			return invalidf("cancellation tier %d: a later cancellation cannot refund more", i)
		}
	}
	return nil
}

// copyRefunds copies tiers so that a state never shares them with an event or a caller; nil
// for none.
func copyRefunds(tiers []RefundTier) []RefundTier {
	if len(tiers) == 0 {
		return nil
	}
	return append([]RefundTier(nil), tiers...)
}
