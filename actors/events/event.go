package events

import (
	"strconv"
	"strings"
	"time"

	"github.com/allot/allot/actors/booking"
)

// Type names a kind of event. The set is closed: Types lists it.
type Type string

const (
	ResourceCreated Type = "resource.created"
	ResourceUpdated Type = "resource.updated"
	HoldPlaced      Type = "hold.placed"
	HoldConfirmed   Type = "hold.confirmed"
	HoldCancelled   Type = "hold.cancelled"
	HoldExpired     Type = "hold.expired"
	// HoldExtended: a held hold's deadline was renewed.
	HoldExtended Type = "hold.extended"
	// BucketSoldOut: a bucket's availability went from above 0 to 0 in one commit.
	BucketSoldOut Type = "bucket.sold_out"
	// BucketAvailable: a bucket's availability went from 0 to above 0 in one commit.
	BucketAvailable Type = "bucket.available"
	// HoldPaymentChanged: a hold's payment status changed (payment.go); HoldRefunded: money
	// went back to the hold's owner.
	HoldPaymentChanged Type = "hold.payment_changed"
	HoldRefunded       Type = "hold.refunded"
	// WaitlistOffered: freed units were offered to a waiting user as a hold; the
	// hold.placed of that hold follows in the same commit. Its data is the offered hold.
	WaitlistOffered Type = "waitlist.offered"
)

// Types is every event type, in catalogue order.
var Types = [...]Type{ResourceCreated, ResourceUpdated, HoldPlaced, HoldConfirmed, HoldCancelled, HoldExpired,
	HoldExtended, BucketSoldOut, BucketAvailable, HoldPaymentChanged, HoldRefunded, WaitlistOffered}

// Valid reports whether t is in the catalogue.
func (t Type) Valid() bool {
	for _, x := range Types {
		if x == t {
			return true
		}
	}
	return false
}

// Event is one committed change, as the core builds it. The pointers share the core's
// after-images, which are never changed after they were taken: an Event is read-only.
type Event struct {
	Type       Type
	ResourceID string
	Version    uint64 // the resource's version after the commit that carries the event
	Index      int    // position in the commit's events, from 0
	OccurredAt time.Time
	Subject    string // the user whose hold it is; empty for resource and bucket events

	// Exactly one after-image group is set, by Type: Hold for hold.*, Resource (with the
	// buckets the change touched, all of them for a creation) for resource.*, Bucket for
	// bucket.*.
	Hold     *booking.Hold
	Resource *booking.Resource
	Buckets  []booking.Bucket
	Bucket   *booking.Bucket
	// Payment is set, with Hold, for hold.payment_changed and hold.refunded.
	Payment *PaymentData
}

// ID is the event's stable id: "<resource id>/<version>/<index>".
func (e *Event) ID() string { return ID(e.ResourceID, e.Version, e.Index) }

// ID formats an event id.
func ID(resourceID string, version uint64, index int) string {
	b := make([]byte, 0, len(resourceID)+24)
	b = append(b, resourceID...)
	b = append(b, '/')
	b = strconv.AppendUint(b, version, 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(index), 10)
	return string(b)
}

// ParseID splits an event id; ok is false for anything ID could not have made.
func ParseID(id string) (resourceID string, version uint64, index int, ok bool) {
	j := strings.LastIndexByte(id, '/')
	if j <= 0 {
		return "", 0, 0, false
	}
	i := strings.LastIndexByte(id[:j], '/')
	if i <= 0 {
		return "", 0, 0, false
	}
	v, err1 := strconv.ParseUint(id[i+1:j], 10, 64)
	n, err2 := strconv.Atoi(id[j+1:])
	if err1 != nil || err2 != nil || n < 0 || !booking.ValidID(id[:i]) {
		return "", 0, 0, false
	}
	return id[:i], v, n, true
}

// SubjectPrefix is the NATS subject space of events: SubjectPrefix + "<type>.<resource token>".
const SubjectPrefix = "allot.events."

// Subject is the NATS subject an event of type t about resourceID is published on:
// "allot.events.<type>.<token>", where the token is the resource id with the characters NATS
// gives a meaning ('.', '*', '>') and '%' escaped as %XX (resource ids never contain '%',
// so the escape is reversible and two ids never share a token).
func Subject(t Type, resourceID string) string {
	return SubjectPrefix + string(t) + "." + SubjectToken(resourceID)
}

// SubjectToken is resourceID as one NATS subject token (see Subject).
func SubjectToken(resourceID string) string {
	if !strings.ContainsAny(resourceID, ".*>%") {
		return resourceID
	}
	var b strings.Builder
	for i := 0; i < len(resourceID); i++ {
		switch c := resourceID[i]; c {
		case '.', '*', '>', '%':
			b.WriteByte('%')
			b.WriteString(strings.ToUpper(strconv.FormatUint(uint64(c), 16)))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
