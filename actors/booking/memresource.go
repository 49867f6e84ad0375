package booking

import "time"

// resourceMem is a Resource as a State keeps it: the Resource's fields but its times, which
// are instants (see hold): 208 bytes where a Resource is 248, which with the hold list's spare
// block, the idempotency index and the waitlist behind pointers puts a State in the 416-byte
// class (was 512; see TestSizes). Every resource that is active has one.
type resourceMem struct {
	ID               string
	Name             string
	Price            *Money
	HoldTTL          time.Duration
	MaxExtensions    int
	Allowance        Allowance
	MaxPerUser       int64
	Timezone         string
	SlotEvery        time.Duration
	WaitlistOfferTTL time.Duration
	Refunds          []RefundTier
	Tags             []string
	Location         string
	created          instant
	updated          instant
	archived         instant
	// odd holds the CreatedAt, UpdatedAt and ArchivedAt when one of them is no instant (a test's
	// time outside UTC or with a monotonic reading; the core's and the stores' are UTC
	// milliseconds). Never written once set: a clone shares it.
	odd *[3]time.Time
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
	if r.odd != nil {
		return r.odd[k]
	}
	return r.instant(k).time()
}

// setTime sets one of the resource's times (resCreatedAt, resUpdatedAt, resArchivedAt).
func (r *resourceMem) setTime(k int, t time.Time) {
	i, ok := instantOf(t)
	*r.instant(k) = i
	if ok && r.odd == nil {
		return
	}
	odd := [3]time.Time{r.created.time(), r.updated.time(), r.archived.time()}
	if r.odd != nil {
		odd = *r.odd
	}
	odd[k] = t
	r.odd = &odd
}

// Archived is Resource.Archived.
func (r *resourceMem) Archived() bool {
	if r.odd != nil {
		return !r.odd[resArchivedAt].IsZero()
	}
	return r.archived != noInstant
}

// set makes r the in-memory form of x, sharing x's Price, Refunds and Tags.
func (r *resourceMem) set(x Resource) {
	*r = resourceMem{ID: x.ID, Name: x.Name, Price: x.Price, HoldTTL: x.HoldTTL, MaxExtensions: x.MaxExtensions,
		Allowance: x.Allowance, MaxPerUser: x.MaxPerUser, Timezone: x.Timezone, SlotEvery: x.SlotEvery,
		WaitlistOfferTTL: x.WaitlistOfferTTL, Refunds: x.Refunds, Tags: x.Tags, Location: x.Location}
	r.setTime(resCreatedAt, x.CreatedAt)
	r.setTime(resUpdatedAt, x.UpdatedAt)
	r.setTime(resArchivedAt, x.ArchivedAt)
}

// view returns r as a Resource, sharing its Price, Refunds and Tags.
func (r *resourceMem) view() Resource {
	return Resource{ID: r.ID, Name: r.Name, Price: r.Price, HoldTTL: r.HoldTTL, MaxExtensions: r.MaxExtensions,
		Allowance: r.Allowance, MaxPerUser: r.MaxPerUser, Timezone: r.Timezone, SlotEvery: r.SlotEvery,
		WaitlistOfferTTL: r.WaitlistOfferTTL, Refunds: r.Refunds, Tags: r.Tags, Location: r.Location,
		CreatedAt: r.time(resCreatedAt), UpdatedAt: r.time(resUpdatedAt), ArchivedAt: r.time(resArchivedAt)}
}
