package payment

import (
	"math/bits"
	"strconv"

	"github.com/allot/allot/actors/booking"
)

// MaxAmount bounds what one payment may ask for, in minor units: Stripe takes at most eight
// digits (99,999,999, $999,999.99) for most currencies, and a bigger price is a typo.
const MaxAmount = 99_999_999

// Amount is what a hold costs: the resource's unit price times the hold's quantity times the
// number of buckets it claims (a room for 2 guests over 3 nights is 6 units), in the
// resource's currency and integer minor units. Allot computes it; a client never says what it
// pays. A resource without a price needs no payment (CodeInvalid). Overflow of int64 and
// amounts over MaxAmount are refused (CodeInvalid), never wrapped.
func Amount(price *booking.Money, quantity int64, buckets int) (booking.Money, error) {
	switch {
	case price == nil || price.Amount == 0:
		return booking.Money{}, booking.Errorf(booking.CodeInvalid, "the resource has no price; it needs no payment")
	case price.Amount < 0:
		return booking.Money{}, booking.Errorf(booking.CodeInvalid, "the resource's price is negative")
	case !booking.ValidCurrency(price.Currency):
		return booking.Money{}, booking.Errorf(booking.CodeInvalid, "the resource's currency %q is not an ISO 4217 code", price.Currency)
	case quantity <= 0 || buckets <= 0:
		return booking.Money{}, booking.Errorf(booking.CodeInvalid, "a hold claims at least one unit in one bucket")
	}
	units, ok := mul(uint64(quantity), uint64(buckets))
	if !ok {
		return booking.Money{}, booking.Errorf(booking.CodeInvalid, "the hold's units overflow")
	}
	total, ok := mul(uint64(price.Amount), units)
	if !ok || total > MaxAmount {
		return booking.Money{}, booking.Errorf(booking.CodeInvalid, "the amount exceeds the largest payment (%d minor units)", int64(MaxAmount))
	}
	return booking.Money{Amount: int64(total), Currency: price.Currency}, nil
}

// mul multiplies without wrapping: ok is false when a*b does not fit an int64.
func mul(a, b uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, b)
	return lo, hi == 0 && lo <= 1<<63-1
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
