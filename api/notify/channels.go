package notify

import (
	"context"
	"errors"
	"time"
)

// Channel errors. Implementations wrap them; the outbox worker tests with errors.Is.
var (
	// ErrPermanent: the provider refused the message for good (a bad address, a rejected
	// payload); retrying cannot help, so the notification fails at once.
	ErrPermanent = errors.New("notify: permanent delivery failure")
	// ErrUnregistered: the push token is no longer valid (FCM UNREGISTERED, APNs 410); the
	// device is removed.
	ErrUnregistered = errors.New("notify: push token unregistered")
)

// Mail is one e-mail as the service hands it to a Mailer.
type Mail struct {
	// MessageID is derived from (event id, channel) (MessageID): a redelivered message has
	// the same one, so a receiver can recognise the duplicate.
	MessageID string
	To        string
	Subject   string
	Text      string
	HTML      string
	// Calendar is an iTIP message (ical.go), "" for none; CalendarMethod its METHOD
	// (REQUEST or CANCEL), repeated in the part's Content-Type as RFC 6047 asks.
	Calendar       string
	CalendarMethod string
	Date           time.Time
}

// Mailer hands e-mails to a mail server. Send returns nil once the server accepted the
// message; an error wrapping ErrPermanent when it refused the message for good; any other
// error is transient (retried). Safe for concurrent use; it returns when ctx is done.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// Push is one push notification.
type Push struct {
	Title, Body string
	// Data is delivered to the app beside the notification (kind, hold id).
	Data map[string]string
	// CollapseKey groups messages of one hold so a device shows the latest only.
	CollapseKey string
}

// Pusher sends push notifications to one device token. It returns an error wrapping
// ErrUnregistered when the provider reports the token invalid, ErrPermanent when it refused
// the message for good, any other error for a transient failure. Safe for concurrent use.
type Pusher interface {
	Push(ctx context.Context, token string, p Push) error
}

// SMSSender sends a text message to a phone number (E.164). Errors as Mailer's. Safe for
// concurrent use. Optional: without one the SMS channel is off.
type SMSSender interface {
	SendSMS(ctx context.Context, to, body string) error
}

// Money is an amount in minor units of an ISO 4217 currency.
type Money struct {
	Amount   int64
	Currency string
}

// ResourceInfo is what messages say about a resource.
type ResourceInfo struct {
	Name string
	// Timezone is the IANA zone its date and slot keys are read in ("" is UTC).
	Timezone string
	// SlotEvery is the length of its slots (zero: an hour).
	SlotEvery time.Duration
	// Price is the unit price per bucket, nil when it has none.
	Price *Money
	// ExpiryWarning overrides Rules.ExpiryWarning for this resource when positive.
	ExpiryWarning time.Duration
}

// Resources looks resources up (in the node: the resource actor's state or the store).
// ErrNotFound-wrapping errors mean the resource is gone; the message is then written with
// the resource id for its name. Safe for concurrent use.
type Resources interface {
	Resource(ctx context.Context, id string) (ResourceInfo, error)
}

// Contact is how to reach a user.
type Contact struct {
	Email string
	Phone string // E.164
}

// Contacts looks a user's contact up at send time (in the node: the identity store, where
// the addresses from the token's email and phone_number claims are kept encrypted). An empty
// field means the user cannot be reached on that channel; the notification is then skipped.
// Safe for concurrent use.
type Contacts interface {
	Contact(ctx context.Context, userID string) (Contact, error)
}

// HoldContacts looks up the contact a hold itself carries (the guest's, given when the hold
// was placed; in the node: the hold read from its owner and opened with the data key ring).
// When it has an e-mail address or a phone number it wins over the user's Contacts for that
// hold's messages: a booking a front desk makes for a guest reaches the guest, not the desk.
//
// HoldContact returns the zero Contact when the hold carries none or no longer exists. An
// error (the owner unreachable, a contact that does not open) makes the send retried and is
// recorded as its last error; it must never quote the contact. Safe for concurrent use.
type HoldContacts interface {
	HoldContact(ctx context.Context, resourceID, holdID, userID string) (Contact, error)
}
