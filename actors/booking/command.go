package booking

import "time"

// CreateResource creates the resource a State belongs to. It lists its buckets, or names a
// Calendar that expands into them (not both).
type CreateResource struct {
	ID       string
	Name     string
	Buckets  map[string]int64 // key -> capacity
	Calendar *Calendar        // instead of Buckets: days or slots in Timezone
	HoldTTL  time.Duration    // 0 means DefaultHoldTTL
	Price    *Money

	MaxExtensions    *int          // nil means DefaultMaxExtensions; 0 forbids renewals
	Allowance        Allowance     // overbooking; zero: none
	MaxPerUser       int64         // 0: no per-user limit
	Timezone         string        // IANA name; "" means UTC
	WaitlistOfferTTL time.Duration // 0 means DefaultWaitlistOfferTTL
	Tags             []string      // ValidateTags; stored sorted
	Location         string        // ValidateLocation; "" for none
	Refunds          []RefundTier  // cancellation policy; nil: the node's default
}

// UpdateResource changes capacities and, optionally, the name, hold TTL and rules. Keys absent
// from Buckets keep their capacity; new keys add buckets. It is all or nothing. Every nil
// field is left as it is.
type UpdateResource struct {
	Buckets map[string]int64
	Name    *string
	HoldTTL *time.Duration

	MaxExtensions    *int
	Allowance        *Allowance
	MaxPerUser       *int64
	WaitlistOfferTTL *time.Duration
	Tags             *[]string     // replaces the tags (an empty list removes them)
	Location         *string       // "" removes it
	Refunds          *[]RefundTier // replaces the policy (an empty list: the node's default)
}

// PlaceHold asks for Quantity units in every one of Buckets. HoldID is chosen by the caller
// (the actor), which keeps the model free of randomness. Range, when set and Buckets empty,
// names the buckets as a span of days or slots (see State.ExpandRange).
type PlaceHold struct {
	HoldID         string
	IdempotencyKey string
	Buckets        []string
	Quantity       int64
	UserID         string
	Range          *Range
	Contact        SealedContact // the guest's contact, sealed at the edge; nil for none
}

// ConfirmHold turns a held hold into a confirmed booking.
type ConfirmHold struct {
	HoldID string
	// PaymentRequired: the node takes payments, so a held hold of a priced resource that has
	// not been paid for is refused (CodePaymentRequired) instead of confirmed; its payment
	// confirms it (actors/activation, payment.go). The edge sets it from the node's setting;
	// a resource without a price confirms as always. The saga's own confirms leave it unset.
	PaymentRequired bool
}

// CancelHold releases a held or confirmed hold.
type CancelHold struct{ HoldID string }

// ExtendHold renews a live held hold for its owner, UserID (see DecideExtend).
// IdempotencyKey, when set, makes a retried renewal answer the hold instead of renewing it
// again (see extend_replay.go).
type ExtendHold struct {
	HoldID         string
	UserID         string
	IdempotencyKey string
}

// JoinWaitlist puts UserID on the resource's waitlist for Quantity units in every one of
// Buckets (or the buckets of Range). EntryID and OfferHoldID are chosen by the caller, like a
// hold id: OfferHoldID is the id of the hold the entry becomes when units are offered to it.
//
// IdempotencyKey, when set, makes a retried join answer the entry the key created instead of
// joining again (see waitlist_replay.go). OfferLookedUp and Offer carry the answer to a replay
// that asked the caller for a hold (JoinDecision.LookupHold): Offer is the hold the store has
// under that id, nil when it has none.
type JoinWaitlist struct {
	EntryID        string
	OfferHoldID    string
	UserID         string
	Buckets        []string
	Range          *Range
	Quantity       int64
	IdempotencyKey string
	OfferLookedUp  bool
	Offer          *Hold
}

// LeaveWaitlist removes a waiting entry of UserID.
type LeaveWaitlist struct {
	EntryID string
	UserID  string
}
