package persistence

import "github.com/allot/allot/actors/booking"

// PaymentFilter selects holds with a payment for a store's ListPayments (every store has one;
// the payments reconciler, which uses it, defines the interface). Holds come by UpdatedAt then
// ID, at most Limit.
type PaymentFilter struct {
	// Open keeps only holds whose payment still needs work (booking.Hold.PaymentOpen);
	// otherwise every hold with a payment is listed.
	Open  bool
	Limit int // 0 means 100; at most 1000
}

// Normalize applies the default limit and checks the filter.
func (f *PaymentFilter) Normalize() error {
	switch {
	case f.Limit == 0:
		f.Limit = 100
	case f.Limit < 0 || f.Limit > 1000:
		return booking.Errorf(booking.CodeInvalid, "limit must be between 1 and 1000")
	}
	return nil
}
