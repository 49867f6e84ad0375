package booking

import "time"

// Event is a change decided by State. Applying the events of a decision, in order, to the
// State that decided them is the only way state changes.
type Event interface{ isEvent() }

// ResourceCreated brings the resource into existence with empty buckets.
type ResourceCreated struct {
	Resource Resource
	Buckets  []Bucket // Held and Confirmed are zero; Allowance is set
}

// ResourceUpdated records new capacities and metadata. The rule fields are the resource's
// values after the update (changed or not), like Name and HoldTTL.
type ResourceUpdated struct {
	Name       string
	HoldTTL    time.Duration
	Capacities map[string]int64 // only the keys that changed or were added
	At         time.Time

	MaxExtensions    int
	Allowance        Allowance
	MaxPerUser       int64
	WaitlistOfferTTL time.Duration
	// Allowances are the per-bucket allowances that changed or were added (a new capacity
	// under a percentage, or a new allowance rule). A caller taking bucket after-images takes
	// the keys of Capacities and of Allowances (ChangedBuckets).
	Allowances map[string]int64
	// Tags and Location are the resource's after the update.
	Tags     []string
	Location string
	// Refunds is the resource's cancellation policy after the update (nil: none).
	Refunds []RefundTier
}

// ChangedBuckets returns the keys whose after-image the update changes: those of Capacities
// and of Allowances, each once, in no particular order.
func (e ResourceUpdated) ChangedBuckets() []string {
	keys := make([]string, 0, len(e.Capacities)+len(e.Allowances))
	for k := range e.Capacities {
		keys = append(keys, k)
	}
	for k := range e.Allowances {
		if _, dup := e.Capacities[k]; !dup {
			keys = append(keys, k)
		}
	}
	return keys
}

// HoldPlaced records a new hold in status held (placed by its user, or offered from the
// waitlist: then Hold.WaitlistEntryID is set and a WaitlistOffered precedes it).
//
// Hold is a pointer to what the new hold is made of, so that the event is one word: boxed into
// an Event it costs no allocation and no copy (the decision of a hold allocates the PlacedHold
// and its event list together, see DecidePlaceHold). The PlacedHold, and its Buckets, are
// shared with the State that decided it, with every State it is applied to (Apply copies it,
// never keeps the pointer) and with whoever keeps the event: read them, never write into them.
type HoldPlaced struct{ Hold *PlacedHold }

// PlacedHold is a hold as it is placed: the fields of a Hold that a placement chooses. The
// others follow from them: ExpiresAt is CreatedAt plus TTL, ResourceID is the resource's,
// Status is held, UpdatedAt is CreatedAt, no extension and no payment (see AsHold). It is 40%
// of a Hold's size, and the decision of every hold allocates one.
type PlacedHold struct {
	ID              string
	UserID          string
	IdempotencyKey  string
	Buckets         []string // distinct keys, in request order
	Quantity        int64
	CreatedAt       time.Time
	TTL             time.Duration // the hold expires at CreatedAt + TTL (ExpiresAt)
	WaitlistEntryID string        // "" for a hold a user placed
	Contact         SealedContact // nil for none
}

// ExpiresAt is when the placed hold expires unless it is confirmed or renewed.
func (p *PlacedHold) ExpiresAt() time.Time { return p.CreatedAt.Add(p.TTL) }

// AsHold returns the hold p places on resource resourceID, as a Hold. It shares p's Buckets
// and Contact.
func (p *PlacedHold) AsHold(resourceID string) Hold {
	return Hold{ID: p.ID, ResourceID: resourceID, UserID: p.UserID, IdempotencyKey: p.IdempotencyKey,
		Buckets: p.Buckets, Quantity: p.Quantity, Status: StatusHeld, CreatedAt: p.CreatedAt,
		ExpiresAt: p.ExpiresAt(), UpdatedAt: p.CreatedAt, WaitlistEntryID: p.WaitlistEntryID, Contact: p.Contact}
}

// HoldConfirmed, HoldCancelled and HoldExpired move an existing hold to a new status.
type HoldConfirmed struct {
	HoldID string
	At     time.Time
}

type HoldCancelled struct {
	HoldID string
	At     time.Time
}

type HoldExpired struct {
	HoldID string
	At     time.Time
}

// HoldExtended renews a held hold: its deadline becomes ExpiresAt and its renewal count
// Extensions. IdempotencyKey, when set, is recorded with the hold id (see extend_replay.go)
// when the event is applied, as HoldPlaced records a hold's key.
type HoldExtended struct {
	HoldID         string
	ExpiresAt      time.Time
	Extensions     int
	At             time.Time
	IdempotencyKey string
}

// WaitlistJoined adds a waiting entry at the end of the waitlist. IdempotencyKey, when set,
// is recorded with the entry's offer hold id (see waitlist_replay.go) when the event is applied,
// as HoldPlaced records a hold's key.
type WaitlistJoined struct {
	Entry          WaitlistEntry
	IdempotencyKey string
}

// WaitlistLeft removes a waiting entry at its user's request.
type WaitlistLeft struct {
	EntryID string
	At      time.Time
}

// WaitlistOffered removes a waiting entry because units were offered to it: the HoldPlaced
// that follows in the same decision is the offer, hold HoldID, until ExpiresAt. The actor
// tells the user (waitlist.offered).
type WaitlistOffered struct {
	EntryID   string
	UserID    string
	HoldID    string
	ExpiresAt time.Time
	At        time.Time
}

func (ResourceCreated) isEvent() {}
func (ResourceUpdated) isEvent() {}
func (HoldPlaced) isEvent()      {}
func (HoldConfirmed) isEvent()   {}
func (HoldCancelled) isEvent()   {}
func (HoldExpired) isEvent()     {}
func (HoldExtended) isEvent()    {}
func (WaitlistJoined) isEvent()  {}
func (WaitlistLeft) isEvent()    {}
func (WaitlistOffered) isEvent() {}
