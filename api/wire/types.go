package wire

import "time"

// Money is an amount in minor units (cents) of an ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Bucket is the state of one bucket. Available = Capacity + Allowance - Held - Confirmed:
// Allowance is how many units may be sold beyond Capacity (overbooking), and Overbooked how
// far into it the bucket is sold (the units held or confirmed beyond Capacity).
type Bucket struct {
	Capacity   int64 `json:"capacity"`
	Held       int64 `json:"held"`
	Confirmed  int64 `json:"confirmed"`
	Available  int64 `json:"available"`
	Allowance  int64 `json:"allowance"`
	Overbooked int64 `json:"overbooked"`
}

// RefundTier is one tier of a cancellation policy: an owner who cancels a paid booking at
// least Before (a duration such as 48h) ahead of its first bucket's start gets Percent
// (0..100) of what they paid back.
type RefundTier struct {
	Before  string `json:"before"`
	Percent int64  `json:"percent"`
}

// Allowance is a resource's overbooking allowance per bucket: a number of units, or a
// percentage of each bucket's capacity (rounded down); not both.
type Allowance struct {
	Units   int64 `json:"units,omitempty"`
	Percent int64 `json:"percent,omitempty"`
}

// Calendar describes a resource's buckets as days or slots: From..To (To exclusive), each a
// date YYYY-MM-DD or slot YYYY-MM-DDTHH:MM in the resource's time zone, every Every (24h for
// days, or a slot length that divides a day), each with Capacity.
type Calendar struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Every    string `json:"every"`
	Capacity int64  `json:"capacity"`
}

// Resource is a bookable thing with its buckets.
type Resource struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Price     *Money            `json:"price,omitempty"`
	HoldTTL   string            `json:"hold_ttl"`
	Buckets   map[string]Bucket `json:"buckets"`
	Version   uint64            `json:"version"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`

	// The booking rules: how often a hold may be renewed, the overbooking allowance (absent:
	// none), the most units one user may hold (absent: no limit), the time zone of date and
	// slot keys (absent: UTC), the slot length of a slot calendar, and how long a hold
	// offered from the waitlist lasts.
	MaxExtensions    int        `json:"max_extensions"`
	Allowance        *Allowance `json:"allowance,omitempty"`
	MaxPerUser       int64      `json:"max_per_user,omitempty"`
	Timezone         string     `json:"timezone,omitempty"`
	SlotEvery        string     `json:"slot_every,omitempty"`
	WaitlistOfferTTL string     `json:"waitlist_offer_ttl"`
	// CancellationPolicy is the resource's own refund tiers, longest notice first; absent when
	// it has none and the node's default policy applies (docs/PAYMENTS.md).
	CancellationPolicy []RefundTier `json:"cancellation_policy,omitempty"`

	// Tags and Location are for search (absent: none); ArchivedAt is set once the resource
	// was archived (DELETE): it is no longer listed and takes no new holds.
	Tags       []string   `json:"tags,omitempty"`
	Location   string     `json:"location,omitempty"`
	ArchivedAt *time.Time `json:"archived_at,omitempty"`
}

// ResourceSummary is a resource as a search lists it: its metadata, without buckets (GET
// /v1/resources/{id}/availability has those).
type ResourceSummary struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Price     *Money    `json:"price,omitempty"`
	HoldTTL   string    `json:"hold_ttl"`
	Timezone  string    `json:"timezone,omitempty"`
	Tags      []string  `json:"tags,omitempty"`
	Location  string    `json:"location,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ResourceList is the answer of GET /v1/resources: a page of resources by id. NextCursor,
// when set, asks for the next page (?cursor=).
type ResourceList struct {
	Resources  []ResourceSummary `json:"resources"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// Availability is the answer of GET /v1/resources/{rid}/availability.
type Availability struct {
	ResourceID string            `json:"resource_id"`
	Buckets    map[string]Bucket `json:"buckets"`
}

// Hold statuses.
const (
	HoldHeld      = "held"
	HoldConfirmed = "confirmed"
	HoldCancelled = "cancelled"
	HoldExpired   = "expired"
)

// Hold claims Quantity units in each of Buckets of one resource.
type Hold struct {
	ID         string   `json:"id"`
	ResourceID string   `json:"resource_id"`
	Status     string   `json:"status"`
	Buckets    []string `json:"buckets"`
	Quantity   int64    `json:"quantity"`
	UserID     string   `json:"user_id"`
	// ExpiresAt is when a held hold expires (or an expired one did). Nil for confirmed and
	// cancelled holds, which no longer expire.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	// Extensions is how many times the hold was renewed.
	Extensions int `json:"extensions"`
	// WaitlistEntryID is set on a hold offered from the waitlist: the entry it was offered to.
	WaitlistEntryID string `json:"waitlist_entry_id,omitempty"`
	// Contact is the guest's contact, when the hold carries one; masked unless the caller may
	// read it (ContactMasked then true). See Contact.
	Contact       *Contact `json:"contact,omitempty"`
	ContactMasked bool     `json:"contact_masked,omitempty"`
	// Payment is the status of the hold's payment (docs/PAYMENTS.md): pending, failed,
	// authorized, review, captured, cancelled, refunded, partially_refunded; absent without one.
	Payment string `json:"payment,omitempty"`
}

// HoldList is the answer of the hold queries.
type HoldList struct {
	Holds []Hold `json:"holds"`
}

// WaitlistEntry is one user waiting for units of a resource. Position is its place in line (1:
// first) as committed; 0 in the answer to a leave. When units are offered to it, it becomes
// hold OfferHoldID and leaves the waitlist.
type WaitlistEntry struct {
	ID          string    `json:"id"`
	ResourceID  string    `json:"resource_id"`
	UserID      string    `json:"user_id"`
	OfferHoldID string    `json:"offer_hold_id"`
	Buckets     []string  `json:"buckets"`
	Quantity    int64     `json:"quantity"`
	Position    int       `json:"position"`
	CreatedAt   time.Time `json:"created_at"`
}

// WaitlistList is the answer of GET /v1/me/waitlist.
type WaitlistList struct {
	Entries []WaitlistEntry `json:"entries"`
}

// Member describes one cluster member as GET /v1/cluster/members reports it.
type Member struct {
	// ID is the member's id (unique per process start).
	ID string `json:"id"`
	// Address is where peers reach the member (host:port).
	Address string `json:"address"`
	// Status is the local view of its liveness: alive, suspect, dead or left.
	Status string `json:"status"`
	// Self is true for the member answering the request.
	Self bool `json:"self"`
	// Activations is the number of resource actors it hosts (for peers, as last gossiped).
	Activations int `json:"activations"`
}

// MemberList is the answer of GET /v1/cluster/members.
type MemberList struct {
	Members []Member `json:"members"`
}

// Status is the body of /healthz and of a ready /readyz.
type Status struct {
	Status string `json:"status"`
}
