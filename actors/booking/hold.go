package booking

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Status is where a hold is in its life: held -> confirmed | cancelled | expired, and
// confirmed -> cancelled. Cancelled and expired are terminal.
type Status string

const (
	StatusHeld      Status = "held"
	StatusConfirmed Status = "confirmed"
	StatusCancelled Status = "cancelled"
	StatusExpired   Status = "expired"
)

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusHeld, StatusConfirmed, StatusCancelled, StatusExpired:
		return true
	}
	return false
}

// Active reports whether a hold in this status counts against capacity.
func (s Status) Active() bool { return s == StatusHeld || s == StatusConfirmed }

// Hold claims Quantity units in each of Buckets of one resource, all or nothing.
type Hold struct {
	ID             string
	ResourceID     string
	UserID         string
	IdempotencyKey string
	Buckets        []string // distinct keys, in request order
	Quantity       int64
	Status         Status
	CreatedAt      time.Time
	ExpiresAt      time.Time // when a held hold expires; kept as it was once confirmed
	UpdatedAt      time.Time
	// Extensions is how many times the hold was renewed (DecideExtend), at most the
	// resource's MaxExtensions.
	Extensions int
	// WaitlistEntryID is the waitlist entry this hold was offered to, "" for a hold a user
	// placed.
	WaitlistEntryID string
	// Contact is the guest's contact sealed at the edge (see contact.go); nil for none.
	Contact SealedContact
	// Payment is the hold's payment record, encoded and interpreted by package payment ("":
	// none); PaymentOpen says whether it still needs work (the reconciler's list). Both
	// change only by PaymentRecorded.
	Payment     string
	PaymentOpen bool
}

// Units is what the hold counts against its user's MaxPerUser while it is active: its quantity
// in each of its buckets, summed.
func (h *Hold) Units() int64 { return h.Quantity * int64(len(h.Buckets)) }

// Clone returns a deep copy.
func (h *Hold) Clone() *Hold {
	c := *h
	c.Buckets = append([]string(nil), h.Buckets...)
	return &c
}

// IdempotencyEntry records which hold an Idempotency-Key produced, and a fingerprint of the
// request, so that a replay with the same request returns the same hold and a replay with a
// different request is refused.
type IdempotencyEntry struct {
	Key         string
	Fingerprint string
	HoldID      string
	CreatedAt   time.Time
}

// IdempotencyRetention is how long keys are kept at least.
const IdempotencyRetention = 24 * time.Hour

// Fingerprint canonicalises a hold request: the same set of buckets, quantity and user give
// the same fingerprint whatever the bucket order, and different requests give different
// fingerprints. Parts are joined with '|'; a '|' or '\' inside a user id or bucket key (both
// may contain '|') is escaped with '\', so that ["a|b"] and ["a", "b"] stay apart. Requests
// without those characters keep the fingerprint they had before escaping was added.
func Fingerprint(buckets []string, quantity int64, userID string) string {
	var arr [8]string // most holds claim a few buckets: sort them on the stack
	keys := append(arr[:0], buckets...)
	slices.Sort(keys)
	n := 20 + len(userID) // the quantity's digits, the user id and separators, unescaped
	for _, k := range keys {
		n += 1 + len(k)
	}
	var b strings.Builder
	b.Grow(n)
	var num [20]byte
	b.Write(strconv.AppendInt(num[:0], quantity, 10))
	b.WriteByte('|')
	writeEscaped(&b, userID)
	for _, k := range keys {
		b.WriteByte('|')
		writeEscaped(&b, k)
	}
	return b.String()
}

func writeEscaped(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '|' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
}
