package wire

// Request bodies, as a client sends them. The server decodes them more strictly than
// encoding/json would (exact member names, no duplicates, required members; see api's
// decode.go); a test in package api checks that what these types encode is what it accepts.

// CreateResource is the body of POST /v1/resources: Buckets, or a Calendar that expands into
// day or slot buckets in Timezone. HoldTTL, Price and the rule fields are optional (the
// server's defaults apply: 10m hold TTL, 2 renewals, no allowance, no per-user limit, UTC,
// 1h offer TTL).
type CreateResource struct {
	ID               string           `json:"id"`
	Name             string           `json:"name"`
	Buckets          map[string]int64 `json:"buckets,omitempty"`
	Calendar         *Calendar        `json:"calendar,omitempty"`
	Timezone         string           `json:"timezone,omitempty"`
	HoldTTL          string           `json:"hold_ttl,omitempty"`
	Price            *Money           `json:"price,omitempty"`
	MaxExtensions    *int             `json:"max_extensions,omitempty"`
	Allowance        *Allowance       `json:"allowance,omitempty"`
	MaxPerUser       int64            `json:"max_per_user,omitempty"`
	WaitlistOfferTTL string           `json:"waitlist_offer_ttl,omitempty"`
	// CancellationPolicy: the resource's refund tiers; none: the node's default applies.
	CancellationPolicy []RefundTier `json:"cancellation_policy,omitempty"`
	Tags               []string     `json:"tags,omitempty"`
	Location           string       `json:"location,omitempty"`
}

// PlaceHold is the body of POST /v1/resources/{rid}/holds. The Idempotency-Key travels in a
// header (IdempotencyKeyHeader).
// It lists Buckets, or names a range From..To (To exclusive): nights for two dates (a stay
// from check-in to check-out), slots for two slot keys.
type PlaceHold struct {
	Buckets  []string `json:"buckets,omitempty"`
	From     string   `json:"from,omitempty"`
	To       string   `json:"to,omitempty"`
	Quantity int64    `json:"quantity"`
	UserID   string   `json:"user_id,omitempty"` // empty: the token's user (only operators name another)
	Contact  *Contact `json:"contact,omitempty"` // the guest's contact, stored sealed; nil for none
	// ContactFromToken fills the contact's email and phone that Contact leaves out from the
	// token's email and phone_number claims (only for a hold of the token's own user).
	ContactFromToken bool `json:"contact_from_token,omitempty"`
}

// JoinWaitlist is the body of POST /v1/resources/{rid}/waitlist: the units to wait for, like
// a hold's (Buckets, or From..To).
type JoinWaitlist struct {
	Buckets  []string `json:"buckets,omitempty"`
	From     string   `json:"from,omitempty"`
	To       string   `json:"to,omitempty"`
	Quantity int64    `json:"quantity"`
	UserID   string   `json:"user_id,omitempty"` // empty: the token's user (only operators name another)
}
