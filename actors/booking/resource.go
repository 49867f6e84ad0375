package booking

import "time"

// Limits on what a resource may look like. They bound memory per actor and the size of one
// store batch, and they are the validation rules the API documents.
const (
	DefaultHoldTTL    = 10 * time.Minute
	MinHoldTTL        = time.Second
	MaxHoldTTL        = 7 * 24 * time.Hour
	MaxBuckets        = 1000    // buckets per resource
	MaxHoldBuckets    = 62      // buckets one hold may claim (a two-month stay)
	MaxCapacity       = 1 << 40 // per bucket; keeps sums far from overflow
	MaxIDLength       = 128
	MaxNameLength     = 256
	MaxBucketKeyLen   = 64
	MaxIdempotencyLen = 128
	MaxUserIDLength   = 128
	MaxQuantity       = 1 << 30
)

// Money is an amount in minor units (cents) of an ISO 4217 currency.
type Money struct {
	Amount   int64
	Currency string
}

// Resource is a bookable thing: a hotel room type, an event's seats, a product's stock.
type Resource struct {
	ID        string
	Name      string
	Price     *Money // nil when the resource has no unit price
	HoldTTL   time.Duration
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Bucket is the capacity behind one key of a resource: a night, a slot, or "all" for pooled
// stock. Held and Confirmed are derived from the resource's holds.
type Bucket struct {
	Key       string
	Capacity  int64
	Held      int64
	Confirmed int64
}

// Available is what a new hold may still claim.
func (b Bucket) Available() int64 { return b.Capacity - b.Held - b.Confirmed }
