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

	// DefaultMaxExtensions is how often a hold may be renewed when the resource does not say.
	DefaultMaxExtensions = 2
	// MaxExtensionsLimit bounds Resource.MaxExtensions: a hold renewed forever is a booking
	// nobody pays for.
	MaxExtensionsLimit = 100
	// MaxAllowancePercent bounds a percentage allowance: at most twice the capacity is sold.
	MaxAllowancePercent = 100
	// DefaultWaitlistOfferTTL is how long an offer made from the waitlist is held for its user
	// when the resource does not say: long enough for a notification to reach them.
	DefaultWaitlistOfferTTL = time.Hour
	// MaxWaitlist bounds the waiting entries of one resource (memory per actor, and the scan
	// that offers freed units).
	MaxWaitlist = 10_000
)

// Money is an amount in minor units (cents) of an ISO 4217 currency.
type Money struct {
	Amount   int64
	Currency string
}

// Resource is a bookable thing: a hotel room type, an event's seats, a product's stock.
//
// The zero values of the rule fields mean: no renewal, no overbooking, no per-user limit, UTC,
// no slot calendar. DecideCreate fills in the defaults (DefaultMaxExtensions,
// DefaultWaitlistOfferTTL); a Resource built by hand (a store's old row, a test) gets exactly
// what it says.
type Resource struct {
	ID        string
	Name      string
	Price     *Money // nil when the resource has no unit price
	HoldTTL   time.Duration
	CreatedAt time.Time
	UpdatedAt time.Time

	// MaxExtensions is how many times one hold may be renewed (DecideExtend); 0: never.
	MaxExtensions int
	// Allowance is the overbooking allowance: how far beyond capacity each bucket may be sold.
	Allowance Allowance
	// MaxPerUser is the most units one user may have held or confirmed on the resource, 0 for
	// no limit. A hold's units are its quantity times its number of buckets (see UserUnits).
	MaxPerUser int64
	// Timezone is the IANA name of the zone bucket keys that are dates or slots are read in;
	// "" means UTC. Immutable after creation.
	Timezone string
	// SlotEvery is the step of the slot calendar the resource was created with (under 24h),
	// which hold ranges of slots expand by; 0 when it has none (keys are days or opaque).
	SlotEvery time.Duration
	// WaitlistOfferTTL is how long a hold offered from the waitlist lasts.
	WaitlistOfferTTL time.Duration
	// Refunds is the resource's cancellation policy (ValidateRefundTiers), longest notice
	// first; nil when the resource has none and the node's default policy applies.
	Refunds []RefundTier

	// Tags (sorted, distinct; see ValidTag) and Location are metadata for search.
	Tags     []string
	Location string
	// ArchivedAt is when the resource was archived (DecideArchive); zero while it is active.
	ArchivedAt time.Time
}

// Allowance is an overbooking allowance, as a number of units per bucket or as a percentage of
// each bucket's capacity (rounded down); at most one of the two is set. The zero value allows
// none: held + confirmed <= capacity, as before allowances existed.
type Allowance struct {
	Units   int64 // 0..MaxCapacity per bucket
	Percent int64 // 0..MaxAllowancePercent of the bucket's capacity
}

// For returns the allowance of a bucket of the given capacity.
func (a Allowance) For(capacity int64) int64 {
	if a.Percent > 0 {
		return capacity * a.Percent / 100 // capacity <= 2^40, Percent <= 100: no overflow
	}
	return a.Units
}

// ValidateAllowance checks an allowance: one of units (0..MaxCapacity) and percent
// (0..MaxAllowancePercent), not both.
func ValidateAllowance(a Allowance) error {
	switch {
	case a.Units != 0 && a.Percent != 0:
		return invalidf("an allowance is a number of units or a percentage, not both")
	case a.Units < 0 || a.Units > MaxCapacity:
		return invalidf("allowance units must be between 0 and %d", int64(MaxCapacity))
	case a.Percent < 0 || a.Percent > MaxAllowancePercent:
		return invalidf("allowance percent must be between 0 and %d", MaxAllowancePercent)
	}
	return nil
}

// Bucket is the capacity behind one key of a resource: a night, a slot, or "all" for pooled
// stock. Held and Confirmed are derived from the resource's holds; Allowance from the
// resource's Allowance and Capacity.
//
// Invariant: 0 <= Held, 0 <= Confirmed, Held + Confirmed <= Capacity + Allowance.
type Bucket struct {
	Key       string
	Capacity  int64
	Held      int64
	Confirmed int64
	Allowance int64 // units that may be sold beyond Capacity (overbooking)
}

// Available is what a new hold may still claim, the allowance included.
func (b Bucket) Available() int64 { return b.Capacity + b.Allowance - b.Held - b.Confirmed }

// Overbooked is how far into its allowance the bucket is sold: the units held or confirmed
// beyond Capacity, 0..Allowance.
func (b Bucket) Overbooked() int64 { return max(b.Held+b.Confirmed-b.Capacity, 0) }
