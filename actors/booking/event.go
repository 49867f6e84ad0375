package booking

import "time"

// Event is a change decided by State. Applying the events of a decision, in order, to the
// State that decided them is the only way state changes.
type Event interface{ isEvent() }

// ResourceCreated brings the resource into existence with empty buckets.
type ResourceCreated struct {
	Resource Resource
	Buckets  []Bucket // Held and Confirmed are zero
}

// ResourceUpdated records new capacities and metadata.
type ResourceUpdated struct {
	Name       string
	HoldTTL    time.Duration
	Capacities map[string]int64 // only the keys that changed or were added
	At         time.Time
}

// HoldPlaced records a new hold in status held.
type HoldPlaced struct{ Hold Hold }

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

func (ResourceCreated) isEvent() {}
func (ResourceUpdated) isEvent() {}
func (HoldPlaced) isEvent()      {}
func (HoldConfirmed) isEvent()   {}
func (HoldCancelled) isEvent()   {}
func (HoldExpired) isEvent()     {}
