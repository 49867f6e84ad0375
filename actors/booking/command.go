package booking

import "time"

// CreateResource creates the resource a State belongs to.
type CreateResource struct {
	ID      string
	Name    string
	Buckets map[string]int64 // key -> capacity
	HoldTTL time.Duration    // 0 means DefaultHoldTTL
	Price   *Money
}

// UpdateResource changes capacities and, optionally, the name and hold TTL. Keys absent from
// Buckets keep their capacity; new keys add buckets. It is all or nothing.
type UpdateResource struct {
	Buckets map[string]int64
	Name    *string
	HoldTTL *time.Duration
}

// PlaceHold asks for Quantity units in every one of Buckets. HoldID is chosen by the caller
// (the actor), which keeps the model free of randomness.
type PlaceHold struct {
	HoldID         string
	IdempotencyKey string
	Buckets        []string
	Quantity       int64
	UserID         string
}

// ConfirmHold turns a held hold into a confirmed booking.
type ConfirmHold struct{ HoldID string }

// CancelHold releases a held or confirmed hold.
type CancelHold struct{ HoldID string }
