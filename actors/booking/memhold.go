package booking

import (
	"math"
	"time"
)

// hold is a hold as a State keeps it in memory: 96 bytes (an allocator class), where a Hold
// is 256. What the state knows already is left out (the resource id), its bucket list is a
// run of the state's bucket keys or of its hold list's lists (two 4-byte numbers instead of
// a 24-byte slice), times are instants (8 bytes each instead of 24) and the
// update time milliseconds after the creation (4 bytes), the renewals 2 bytes, the status a
// byte, and what few holds have (a waitlist entry, a contact, a payment) sits behind a pointer. view rebuilds the Hold that callers see, equal
// to the one the state was given (see instant and holdRare for the exceptions kept exactly).
// A resource has a few holds in memory for as long as it is active, so this is most of the
// booking state of an active resource.
//
// ID, UserID, IdempotencyKey and Quantity are the Hold's fields; the others are read
// through methods of the Hold's field names, and the buckets through State.bucketsOf.
type hold struct {
	ID             string
	UserID         string
	IdempotencyKey string
	Quantity       int64
	created        instant
	expires        instant
	// rare is nil for a hold without waitlist entry, contact or payment (nor anything odd, see
	// holdOdd). It is copied on write (setRare): a state's clone shares it.
	rare *holdRare
	// The hold's buckets (distinct keys, in request order; never changed once set) are
	// bkN keys of its state's bucketList.keys from position bkAt on, or, when bkAt is
	// negative, of its hold list's lists (holdMore.lists) from position -1-bkAt on: both
	// are only appended to, and a clone's are the same, so the run stays right in a clone.
	// See State.setBuckets.
	bkAt int32
	bkN  int32
	// updated is UpdatedAt in milliseconds after CreatedAt (noUpdated: the zero time); an
	// UpdatedAt it cannot say is in holdOdd.times.
	updated     int32
	ext         uint16 // Extensions, unless holdOdd.hasExtensions
	status      holdStatus
	PaymentOpen bool
}

// noUpdated is hold.updated for an UpdatedAt that is the zero time.
const noUpdated = math.MinInt32

// holdRare is what a hold in memory has only when it has it: 64 bytes.
type holdRare struct {
	WaitlistEntryID string
	Contact         SealedContact
	Payment         string
	odd             *holdOdd
}

// holdOdd is what a hold in memory has only when it was handed in by a test or an odd store
// row: the booking model's times are UTC milliseconds (the core's, the stores'), its statuses
// the four, and a state's holds are of its resource.
type holdOdd struct {
	// resourceID is the hold's ResourceID when it is not its state's id (hasResourceID):
	// a store may hand a state a hold of another id (AdoptTerminal before creation).
	resourceID    string
	hasResourceID bool
	// status is the hold's Status when it is none of the four (statusOther).
	status Status
	// times are the hold's CreatedAt, ExpiresAt and UpdatedAt when one of them is not an
	// instant (hasTimes): a time outside UTC, with a monotonic reading or outside the years
	// 1678-2262, or an UpdatedAt not a whole number of milliseconds within 24 days of
	// CreatedAt (see hold.updated).
	times    [3]time.Time
	hasTimes bool
	// extensions is the hold's Extensions when it is outside 0-65535 (hasExtensions).
	extensions    int
	hasExtensions bool
}

// holdStatus is a Status as a byte.
type holdStatus uint8

const (
	statusOther holdStatus = iota // in holdRare.status
	statusHeld
	statusConfirmed
	statusCancelled
	statusExpired
)

var statusNames = [...]Status{statusHeld: StatusHeld, statusConfirmed: StatusConfirmed,
	statusCancelled: StatusCancelled, statusExpired: StatusExpired}

// instant is a time in memory: UTC unix nanoseconds, noInstant for the zero time.
type instant int64

const noInstant instant = math.MinInt64

// instantOf returns t as an instant; ok is false when the instant is not t (see holdRare.times).
func instantOf(t time.Time) (i instant, ok bool) {
	if t.IsZero() {
		return noInstant, true
	}
	i = instant(t.UnixNano())
	return i, i != noInstant && i.time() == t
}

// time returns the instant as a UTC time without monotonic reading.
func (i instant) time() time.Time {
	if i == noInstant {
		return time.Time{}
	}
	return time.Unix(0, int64(i)).UTC()
}

// The hold's times, in this order in holdRare.times.
const (
	createdAt = iota
	expiresAt
	updatedAt
)

// instant returns the instant of CreatedAt or ExpiresAt (k createdAt or expiresAt).
func (h *hold) instant(k int) *instant {
	if k == createdAt {
		return &h.created
	}
	return &h.expires
}

func (h *hold) time(k int) time.Time {
	if h.rare != nil && h.rare.odd != nil && h.rare.odd.hasTimes {
		return h.rare.odd.times[k]
	}
	return h.compactTime(k)
}

// compactTime is time k as the hold's own fields say it (not holdOdd.times).
func (h *hold) compactTime(k int) time.Time {
	if k != updatedAt {
		return h.instant(k).time()
	}
	if h.updated == noUpdated {
		return time.Time{}
	}
	return (h.created + instant(h.updated)*instant(time.Millisecond)).time()
}

// updatedOf returns UpdatedAt i as hold.updated; ok is false when it cannot say it.
func (h *hold) updatedOf(i instant) (u int32, ok bool) {
	if i == noInstant {
		return noUpdated, true
	}
	const far = 1 << 62 // far from overflow: instants of years 1824-2116 (within ±146 years of 1970)
	if h.created == noInstant || h.created > far || h.created < -far || i > far || i < -far {
		return 0, false
	}
	d := i - h.created
	if d%instant(time.Millisecond) != 0 {
		return 0, false
	}
	ms := int64(d / instant(time.Millisecond))
	if ms <= noUpdated || ms > math.MaxInt32 {
		return 0, false
	}
	return int32(ms), true
}

// odd returns h's holdOdd, nil if it has none.
func (h *hold) odd() *holdOdd {
	if h.rare == nil {
		return nil
	}
	return h.rare.odd
}

// setTime sets one of the hold's times (createdAt, expiresAt, updatedAt).
// CreatedAt is set before UpdatedAt (which is kept relative to it).
func (h *hold) setTime(k int, t time.Time) {
	i, ok := instantOf(t)
	if ok && (h.odd() == nil || !h.odd().hasTimes) {
		if k != updatedAt {
			*h.instant(k) = i
			return
		}
		if u, ok := h.updatedOf(i); ok {
			h.updated = u
			return
		}
	}
	r := h.setOdd()
	if !r.hasTimes {
		r.times, r.hasTimes = [3]time.Time{h.compactTime(createdAt), h.compactTime(expiresAt), h.compactTime(updatedAt)}, true
	}
	r.times[k] = t
	if k != updatedAt {
		*h.instant(k) = i // kept for instant comparisons (see expiryItem), exact or not
	}
}

// Extensions is the hold's Extensions.
func (h *hold) Extensions() int {
	if o := h.odd(); o != nil && o.hasExtensions {
		return o.extensions
	}
	return int(h.ext)
}

// setExtensions sets the hold's Extensions.
func (h *hold) setExtensions(n int) {
	if n >= 0 && n <= math.MaxUint16 {
		h.ext = uint16(n)
		if o := h.odd(); o != nil && o.hasExtensions {
			h.setOdd().hasExtensions = false
		}
		return
	}
	h.ext = 0
	o := h.setOdd()
	o.extensions, o.hasExtensions = n, true
}

func (h *hold) CreatedAt() time.Time { return h.time(createdAt) }
func (h *hold) ExpiresAt() time.Time { return h.time(expiresAt) }
func (h *hold) UpdatedAt() time.Time { return h.time(updatedAt) }

// Status is the hold's status.
func (h *hold) Status() Status {
	if h.status == statusOther {
		if h.odd() == nil {
			return ""
		}
		return h.odd().status
	}
	return statusNames[h.status]
}

func (h *hold) setStatus(st Status) {
	switch st {
	case StatusHeld:
		h.status = statusHeld
	case StatusConfirmed:
		h.status = statusConfirmed
	case StatusCancelled:
		h.status = statusCancelled
	case StatusExpired:
		h.status = statusExpired
	default:
		h.status = statusOther
		if st != "" || h.odd() != nil {
			h.setOdd().status = st
		}
		return
	}
	if h.odd() != nil && h.odd().status != "" {
		h.setOdd().status = ""
	}
}

// setRare returns h's own copy of its rare fields to write into, made on first write: a rare
// part is never written once shared (a clone of the state shares it).
func (h *hold) setRare() *holdRare {
	r := new(holdRare)
	if h.rare != nil {
		*r = *h.rare
	}
	h.rare = r
	return r
}

// setOdd is setRare for h's holdOdd.
func (h *hold) setOdd() *holdOdd {
	r := h.setRare()
	o := new(holdOdd)
	if r.odd != nil {
		*o = *r.odd
	}
	r.odd = o
	return o
}

func (h *hold) WaitlistEntryID() string {
	if h.rare == nil {
		return ""
	}
	return h.rare.WaitlistEntryID
}

func (h *hold) setPayment(payment string, open bool) {
	if payment != "" || h.rare != nil {
		h.setRare().Payment = payment
	}
	h.PaymentOpen = open
}

// Units is Hold.Units.
func (h *hold) Units() int64 { return h.Quantity * int64(h.bkN) }

// setHold makes h the in-memory form of x, on a state of resource stateID, but for its
// buckets (State.setBuckets). It shares x's Contact.
func (h *hold) setHold(x *Hold, stateID string) {
	*h = hold{ID: x.ID, UserID: x.UserID, IdempotencyKey: x.IdempotencyKey,
		Quantity: x.Quantity, PaymentOpen: x.PaymentOpen}
	if x.WaitlistEntryID != "" || x.Contact != nil || x.Payment != "" {
		h.rare = &holdRare{WaitlistEntryID: x.WaitlistEntryID, Contact: x.Contact, Payment: x.Payment}
	}
	if x.ResourceID != stateID {
		o := h.setOdd()
		o.resourceID, o.hasResourceID = x.ResourceID, true
	}
	h.setStatus(x.Status)
	h.setExtensions(x.Extensions)
	h.setTime(createdAt, x.CreatedAt)
	h.setTime(expiresAt, x.ExpiresAt)
	h.setTime(updatedAt, x.UpdatedAt)
}

// setPlaced makes h the in-memory form of the hold p places (PlacedHold.AsHold), but for its
// buckets (State.setBuckets). It shares p's Contact.
func (h *hold) setPlaced(p *PlacedHold) {
	*h = hold{ID: p.ID, UserID: p.UserID, IdempotencyKey: p.IdempotencyKey,
		Quantity: p.Quantity, status: statusHeld}
	if p.WaitlistEntryID != "" || p.Contact != nil {
		h.rare = &holdRare{WaitlistEntryID: p.WaitlistEntryID, Contact: p.Contact}
	}
	h.setTime(createdAt, p.CreatedAt)
	h.setTime(expiresAt, p.ExpiresAt())
	h.setTime(updatedAt, p.CreatedAt)
}

// view returns h as a Hold of a state of resource stateID whose buckets are buckets
// (State.bucketsOf), with its own copy of them (as Hold.Clone makes; the contact is shared,
// as there).
func (h *hold) view(stateID string, buckets []string) Hold {
	x := Hold{ID: h.ID, ResourceID: stateID, UserID: h.UserID, IdempotencyKey: h.IdempotencyKey,
		Buckets: append([]string(nil), buckets...), Quantity: h.Quantity, Status: h.Status(),
		CreatedAt: h.CreatedAt(), ExpiresAt: h.ExpiresAt(), UpdatedAt: h.UpdatedAt(),
		Extensions: h.Extensions(), PaymentOpen: h.PaymentOpen}
	if r := h.rare; r != nil {
		x.WaitlistEntryID, x.Contact, x.Payment = r.WaitlistEntryID, r.Contact, r.Payment
		if r.odd != nil && r.odd.hasResourceID {
			x.ResourceID = r.odd.resourceID
		}
	}
	return x
}
