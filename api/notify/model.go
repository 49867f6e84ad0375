package notify

import (
	"time"
)

// Kind is a kind of message. Each has one text and one HTML template per language.
type Kind string

// Message kinds.
const (
	// KindConfirmation: the hold was confirmed; carries a METHOD:REQUEST invitation.
	KindConfirmation Kind = "confirmation"
	// KindCancellation: a confirmed hold was cancelled or refunded; carries METHOD:CANCEL.
	KindCancellation Kind = "cancellation"
	// KindExpiring: a held hold runs out soon ("complete your booking").
	KindExpiring Kind = "expiring"
	// KindReminder: the booked slot or stay begins soon.
	KindReminder Kind = "reminder"
	// KindOffer: a waitlist entry was offered a hold.
	KindOffer Kind = "offer"
)

// Kinds returns every kind, a fresh slice.
func Kinds() []Kind {
	return []Kind{KindConfirmation, KindCancellation, KindExpiring, KindReminder, KindOffer}
}

// Channel is a way to reach a user.
type Channel string

// Channels.
const (
	ChannelEmail Channel = "email"
	ChannelPush  Channel = "push"
	ChannelSMS   Channel = "sms"
)

// Event types the service consumes (docs/EVENTS.md); any other type is acknowledged unread.
const (
	EventPlaced          = "hold.placed"
	EventExtended        = "hold.extended"
	EventConfirmed       = "hold.confirmed"
	EventCancelled       = "hold.cancelled"
	EventRefunded        = "hold.refunded"
	EventExpired         = "hold.expired"
	EventWaitlistOffered = "waitlist.offered"
)

// ConsumedTypes returns the event types Handle acts on, a fresh slice.
func ConsumedTypes() []string {
	return []string{EventPlaced, EventExtended, EventConfirmed, EventCancelled, EventRefunded, EventExpired,
		EventWaitlistOffered}
}

// Hold statuses as the events carry them (api/wire).
const (
	StatusHeld      = "held"
	StatusConfirmed = "confirmed"
	StatusCancelled = "cancelled"
	StatusExpired   = "expired"
)

// HoldState is what the service knows of one hold: the after-image of the last event it
// applied, plus whether an invitation went out (so that only those are cancelled).
type HoldState struct {
	HoldID     string
	ResourceID string
	UserID     string
	Status     string
	Buckets    []string
	Quantity   int64
	// ExpiresAt is when a held hold expires; zero otherwise.
	ExpiresAt time.Time
	// Version is the resource version of the last event applied: the invitation's SEQUENCE,
	// rising with every change of the hold.
	Version uint64
	// Invited is true once a confirmation (with its invitation) was decided.
	Invited   bool
	UpdatedAt time.Time
}

// TimerKind is a kind of durable timer.
type TimerKind string

const (
	// TimerExpiring fires Rules.ExpiryWarning before a held hold's expiry.
	TimerExpiring TimerKind = "expiring"
	// TimerReminder fires Rules.ReminderBefore before a confirmed hold's first bucket.
	TimerReminder TimerKind = "reminder"
)

// Timer is a durable timer of one hold. At most one timer of a kind per hold: setting it
// again moves it. ID is TimerID(kind, hold).
type Timer struct {
	ID     string
	Kind   TimerKind
	HoldID string
	DueAt  time.Time
}

// TimerID is the id of a hold's timer of kind k.
func TimerID(k TimerKind, holdID string) string { return string(k) + ":" + holdID }

// Send is one message decided: a kind for the hold's user. EventID identifies what caused
// it (the event, or the timer firing); with the channel it is the dedup key.
type Send struct {
	Kind    Kind
	EventID string
}

// Plan is what one event or timer leads to. The shell records it atomically.
type Plan struct {
	// Hold is the hold's state after the event (nil: unchanged).
	Hold *HoldState
	// Sends are the messages to record in the outbox.
	Sends []Send
	// SetTimers are timers to create or move.
	SetTimers []Timer
	// CancelTimers are ids of timers made moot.
	CancelTimers []string
}
