package booking

import "time"

// resourceMem is a Resource as a State keeps it: the Resource's fields but its times, which
// are instants (see hold), its id, which is its state's, and the fields few resources have
// (price, refund tiers, tags, location), which sit behind one pointer: 120 bytes where a
// Resource is 248, which with the hold list's spare block, the idempotency index and the
// waitlist behind pointers puts a State in the 320-byte class (was 416, and 512 before; see
// TestSizes). Every resource that is active has one.
type resourceMem struct {
	Name             string
	HoldTTL          time.Duration
	MaxExtensions    int
	Allowance        Allowance
	MaxPerUser       int64
	Timezone         string
	SlotEvery        time.Duration
	WaitlistOfferTTL time.Duration
	created          instant
	updated          instant
	archived         instant
	// extra is nil for a resource without price, refund tiers, tags, location or odd times
	// whose id is its state's. Never written once set (setExtra copies): a copy of r may share
	// it (a State's Clone copies it deeply, see clone).
	extra *resourceExtra
}

// resourceExtra is what a resource in memory has only when it has it.
type resourceExtra struct {
	Price    *Money
	Refunds  []RefundTier
	Tags     []string
	Location string
	// id is the resource's ID when it is not its state's (hasID).
	id    string
	hasID bool
	// odd holds the CreatedAt, UpdatedAt and ArchivedAt when one of them is no instant (a
	// test's time outside UTC or with a monotonic reading; the core's and the stores' are UTC
	// milliseconds).
	odd *[3]time.Time
}

// setExtra returns r's own copy of its extra fields to write into (see resourceMem.extra).
func (r *resourceMem) setExtra() *resourceExtra {
	e := new(resourceExtra)
	if r.extra != nil {
		*e = *r.extra
	}
	r.extra = e
	return e
}

// odd returns the odd times, nil if there are none.
func (r *resourceMem) odd() *[3]time.Time {
	if r.extra == nil {
		return nil
	}
	return r.extra.odd
}

// id returns the resource's ID on a state of resource stateID that exists (or not).
func (r *resourceMem) id(stateID string, exists bool) string {
	switch {
	case r.extra != nil && r.extra.hasID:
		return r.extra.id
	case exists:
		return stateID
	}
	return ""
}

// setRare sets the fields kept in extra, sharing price, refunds and tags.
func (r *resourceMem) setRare(price *Money, refunds []RefundTier, tags []string, location string) {
	if price == nil && refunds == nil && tags == nil && location == "" && r.extra == nil {
		return
	}
	e := r.setExtra()
	e.Price, e.Refunds, e.Tags, e.Location = price, refunds, tags, location
}

// The resource's times, in this order in resourceMem.odd.
const (
	resCreatedAt = iota
	resUpdatedAt
	resArchivedAt
)

func (r *resourceMem) instant(k int) *instant {
	switch k {
	case resCreatedAt:
		return &r.created
	case resUpdatedAt:
		return &r.updated
	}
	return &r.archived
}

func (r *resourceMem) time(k int) time.Time {
	if odd := r.odd(); odd != nil {
		return odd[k]
	}
	return r.instant(k).time()
}

// setTime sets one of the resource's times (resCreatedAt, resUpdatedAt, resArchivedAt).
func (r *resourceMem) setTime(k int, t time.Time) {
	i, ok := instantOf(t)
	*r.instant(k) = i
	if ok && r.odd() == nil {
		return
	}
	odd := [3]time.Time{r.created.time(), r.updated.time(), r.archived.time()}
	if r.odd() != nil {
		odd = *r.odd()
	}
	odd[k] = t
	r.setExtra().odd = &odd
}

// Archived is Resource.Archived.
func (r *resourceMem) Archived() bool {
	if odd := r.odd(); odd != nil {
		return !odd[resArchivedAt].IsZero()
	}
	return r.archived != noInstant
}

// set makes r the in-memory form of x, on a state of resource stateID, sharing x's Price,
// Refunds and Tags.
func (r *resourceMem) set(x Resource, stateID string) {
	*r = resourceMem{Name: x.Name, HoldTTL: x.HoldTTL, MaxExtensions: x.MaxExtensions,
		Allowance: x.Allowance, MaxPerUser: x.MaxPerUser, Timezone: x.Timezone, SlotEvery: x.SlotEvery,
		WaitlistOfferTTL: x.WaitlistOfferTTL}
	r.setRare(x.Price, x.Refunds, x.Tags, x.Location)
	if x.ID != stateID {
		e := r.setExtra()
		e.id, e.hasID = x.ID, true
	}
	r.setTime(resCreatedAt, x.CreatedAt)
	r.setTime(resUpdatedAt, x.UpdatedAt)
	r.setTime(resArchivedAt, x.ArchivedAt)
}

// view returns r as a Resource of a state of resource stateID that exists (or not), sharing
// its Price, Refunds and Tags. A state that does not exist has a zero r.
func (r *resourceMem) view(stateID string, exists bool) Resource {
	x := Resource{ID: r.id(stateID, exists), Name: r.Name, HoldTTL: r.HoldTTL, MaxExtensions: r.MaxExtensions,
		Allowance: r.Allowance, MaxPerUser: r.MaxPerUser, Timezone: r.Timezone, SlotEvery: r.SlotEvery,
		WaitlistOfferTTL: r.WaitlistOfferTTL,
		CreatedAt:        r.time(resCreatedAt), UpdatedAt: r.time(resUpdatedAt), ArchivedAt: r.time(resArchivedAt)}
	if e := r.extra; e != nil {
		x.Price, x.Refunds, x.Tags, x.Location = e.Price, e.Refunds, e.Tags, e.Location
	}
	return x
}

// clone returns a deep copy of r (a state's Clone is one).
func (r *resourceMem) clone() resourceMem {
	c := *r
	if e := r.extra; e != nil {
		x := *e
		if x.Price != nil {
			p := *x.Price
			x.Price = &p
		}
		x.Tags, x.Refunds = normalTags(x.Tags), copyRefunds(x.Refunds)
		c.extra = &x
	}
	return c
}

// price is the resource's price, nil if it has none.
func (r *resourceMem) price() *Money {
	if r.extra == nil {
		return nil
	}
	return r.extra.Price
}
