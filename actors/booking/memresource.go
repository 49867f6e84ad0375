package booking

import "time"

// resourceMem is a Resource as a State keeps it: the Resource's fields but its times, which
// are instants (see hold), its id, which is its state's, the rules most resources leave at
// their defaults (allowance, per-user cap, timezone, slots, renewals, offer TTL) and the
// archive time, which sit behind one pointer (rules), and the fields few resources have
// (price, refund tiers, tags, location), which sit behind another (extra): 56 bytes where a
// Resource is 248, which with the hold list's spare block, the idempotency index and the
// waitlist behind pointers puts a State in the 256-byte class (was 320, 416 and 512 before;
// see TestSizes, docs/PERFORMANCE.md "Round 10"). Every resource that is active has one.
type resourceMem struct {
	Name    string
	HoldTTL time.Duration
	created instant
	updated instant
	// rules is nil for a resource whose rules are the defaults (resourceRules.common) and
	// that is not archived. Never written once set (setRules copies): a clone shares it.
	rules *resourceRules
	// extra is nil for a resource without price, refund tiers, tags, location or odd times
	// whose id is its state's. Never written once set (setExtra copies): a copy of r may share
	// it (a State's Clone copies it deeply, see clone).
	extra *resourceExtra
}

// resourceRules are a resource's rules and archive time, kept exactly as set; nil in a
// resourceMem while they are commonRules (80 bytes then saved per resource: most resources
// never set them).
type resourceRules struct {
	MaxExtensions    int
	Allowance        Allowance
	MaxPerUser       int64
	Timezone         string
	SlotEvery        time.Duration
	WaitlistOfferTTL time.Duration
	archived         instant
}

// commonRules are the rules of a resource created with none of them set (decide.go's
// defaults), not archived: what a nil resourceMem.rules means.
var commonRules = resourceRules{MaxExtensions: DefaultMaxExtensions, WaitlistOfferTTL: DefaultWaitlistOfferTTL,
	archived: noInstant}

// noRules are the rules of a state's resource before it exists (NewState): all zero, the
// archive time the instant 0, as the zero resourceMem had them before rules moved behind a
// pointer (so a state that does not exist answers as it did). Never written.
var noRules = resourceRules{}

// rulesOf returns r's rules (commonRules when it has none of its own); never written.
func (r *resourceMem) rulesOf() *resourceRules {
	if r.rules == nil {
		return &commonRules
	}
	return r.rules
}

// setRules returns r's own copy of its rules to write into (a shared one is never written).
func (r *resourceMem) setRules() *resourceRules {
	x := *r.rulesOf()
	r.rules = &x
	return r.rules
}

// setRuleFields sets the rules an update changes (ResourceUpdated), keeping r's rules nil when
// they stay the common ones.
func (r *resourceMem) setRuleFields(maxExtensions int, allowance Allowance, maxPerUser int64, offerTTL time.Duration) {
	cur := r.rulesOf()
	if cur.MaxExtensions == maxExtensions && cur.Allowance == allowance && cur.MaxPerUser == maxPerUser &&
		cur.WaitlistOfferTTL == offerTTL {
		return
	}
	x := r.setRules()
	x.MaxExtensions, x.Allowance, x.MaxPerUser, x.WaitlistOfferTTL = maxExtensions, allowance, maxPerUser, offerTTL
	r.dropCommonRules()
}

// dropCommonRules forgets r's rules when they are the common ones.
func (r *resourceMem) dropCommonRules() {
	if r.rules != nil && *r.rules == commonRules {
		r.rules = nil
	}
}

func (r *resourceMem) MaxExtensions() int              { return r.rulesOf().MaxExtensions }
func (r *resourceMem) Allowance() Allowance            { return r.rulesOf().Allowance }
func (r *resourceMem) MaxPerUser() int64               { return r.rulesOf().MaxPerUser }
func (r *resourceMem) Timezone() string                { return r.rulesOf().Timezone }
func (r *resourceMem) SlotEvery() time.Duration        { return r.rulesOf().SlotEvery }
func (r *resourceMem) WaitlistOfferTTL() time.Duration { return r.rulesOf().WaitlistOfferTTL }
func (r *resourceMem) archivedInstant() instant        { return r.rulesOf().archived }

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

// instantOf returns the instant of time k (read only).
func (r *resourceMem) instantOf(k int) instant {
	switch k {
	case resCreatedAt:
		return r.created
	case resUpdatedAt:
		return r.updated
	}
	return r.archivedInstant()
}

// setInstant sets the instant of time k.
func (r *resourceMem) setInstant(k int, i instant) {
	switch k {
	case resCreatedAt:
		r.created = i
	case resUpdatedAt:
		r.updated = i
	default:
		if i != r.archivedInstant() {
			r.setRules().archived = i
			r.dropCommonRules()
		}
	}
}

func (r *resourceMem) time(k int) time.Time {
	if odd := r.odd(); odd != nil {
		return odd[k]
	}
	return r.instantOf(k).time()
}

// setTime sets one of the resource's times (resCreatedAt, resUpdatedAt, resArchivedAt).
func (r *resourceMem) setTime(k int, t time.Time) {
	i, ok := instantOf(t)
	r.setInstant(k, i)
	if ok && r.odd() == nil {
		return
	}
	odd := [3]time.Time{r.created.time(), r.updated.time(), r.archivedInstant().time()}
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
	return r.archivedInstant() != noInstant
}

// set makes r the in-memory form of x, on a state of resource stateID, sharing x's Price,
// Refunds and Tags.
func (r *resourceMem) set(x Resource, stateID string) {
	*r = resourceMem{Name: x.Name, HoldTTL: x.HoldTTL}
	if rules := (resourceRules{MaxExtensions: x.MaxExtensions, Allowance: x.Allowance, MaxPerUser: x.MaxPerUser,
		Timezone: x.Timezone, SlotEvery: x.SlotEvery, WaitlistOfferTTL: x.WaitlistOfferTTL, archived: noInstant}); rules != commonRules {
		r.rules = &rules
	}
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
	rules := r.rulesOf()
	x := Resource{ID: r.id(stateID, exists), Name: r.Name, HoldTTL: r.HoldTTL, MaxExtensions: rules.MaxExtensions,
		Allowance: rules.Allowance, MaxPerUser: rules.MaxPerUser, Timezone: rules.Timezone, SlotEvery: rules.SlotEvery,
		WaitlistOfferTTL: rules.WaitlistOfferTTL,
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
