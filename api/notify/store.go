package notify

import (
	"context"
	"errors"
	"time"
)

// Store errors. Implementations wrap them; callers test with errors.Is.
var (
	// ErrNotFound: no such hold, device, preferences or token.
	ErrNotFound = errors.New("notify: not found")
	// ErrStale: the notification or timer changed since it was claimed (its lease ran out
	// and another worker took it); the outcome is not recorded.
	ErrStale = errors.New("notify: changed since it was claimed")
	// ErrNotRetryable: the notification is not failed (it is pending, sent or skipped), so
	// there is nothing to retry; it is unchanged.
	ErrNotRetryable = errors.New("notify: only a failed notification can be retried")
)

// Notification statuses.
const (
	StatusPending = "pending"
	StatusSent    = "sent"
	// StatusSkipped: not delivered on purpose: made moot by the hold's state (an expiry
	// warning after a confirm), no address or device for the channel.
	StatusSkipped = "skipped"
	StatusFailed  = "failed"
)

// Notification is one message on one channel, a row of the outbox.
type Notification struct {
	// ID is NotificationID(EventID, Channel).
	ID            string
	EventID       string
	Channel       Channel
	Kind          Kind
	HoldID        string
	UserID        string
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Outcome is the result of one attempt at a claimed notification.
type Outcome struct {
	// Status is StatusPending (retry at NextAttemptAt), StatusSent, StatusSkipped or
	// StatusFailed.
	Status        string
	NextAttemptAt time.Time
	Error         string
}

// Finished is the outcome of one attempt at a claimed notification, for FinishAll.
type Finished struct {
	Notification Notification
	Outcome      Outcome
}

// Record is everything one event leads to, stored in one transaction.
type Record struct {
	// Hold replaces the hold's state when its Version is above the stored one (nil: none).
	Hold *HoldState
	// Notifications are added unless their (EventID, Channel) is stored already.
	Notifications []Notification
	// SetTimers create or move timers (pending again, due at DueAt).
	SetTimers []Timer
	// CancelTimers delete timers by id; unknown ids are ignored.
	CancelTimers []string
}

// Consumed is one event a durable consumer took and what it leads to, for ApplyEvents.
type Consumed struct {
	EventID string
	// Record is the event's effect (the zero Record: none but the inbox row).
	Record Record
}

// Device is a push registration.
type Device struct {
	ID        string
	UserID    string
	Token     string
	Platform  string // android, ios, web
	CreatedAt time.Time
}

// Preferences are a user's choices. The zero value means the defaults (DefaultChannels,
// DefaultLanguage, the resource's zone).
type Preferences struct {
	// Channels lists, per kind, the channels to use; a kind missing uses DefaultChannels.
	Channels map[Kind][]Channel `json:"channels,omitempty"`
	Locale   string             `json:"locale,omitempty"`
	// Timezone is an IANA zone the user reads times in; "" is the resource's.
	Timezone string `json:"timezone,omitempty"`
}

// Store keeps the service's durable state: the hold projection, the outbox, timers,
// devices, preferences and feed tokens. It is the seam between the service and SQLite,
// PostgreSQL or CockroachDB; every implementation passes the contract suite in storetest.
//
// All methods are safe for concurrent use, also from several nodes on one database. Times
// are kept to the millisecond. Errors other than the sentinels above mean the store failed;
// nothing is then known to have changed (Apply is all or nothing).
type Store interface {
	// Apply stores r atomically and returns how many notifications it added.
	Apply(ctx context.Context, r Record) (added int, err error)
	// ApplyEvents stores, in one transaction, the inbox row (consumer, event id, at) of every
	// event of evs and, in evs' order, the Record of each event whose inbox row was not stored
	// before (as Apply would): a redelivered event adds nothing, and an event's inbox row and
	// its effects commit together or not at all. An id given twice applies its first Record
	// only. The inbox is the main store's (persistence.Outbox: table event_inbox), so an event
	// marked there by the one-at-a-time consumer counts as stored. It returns how many
	// notifications it added; on an error nothing was stored.
	ApplyEvents(ctx context.Context, consumer string, at time.Time, evs []Consumed) (added int, err error)
	// Hold returns a hold's state; ErrNotFound if none.
	Hold(ctx context.Context, holdID string) (HoldState, error)
	// HoldsOfUser and HoldsOfResource return holds in status, by hold id, at most limit.
	HoldsOfUser(ctx context.Context, userID, status string, limit int) ([]HoldState, error)
	HoldsOfResource(ctx context.Context, resourceID, status string, limit int) ([]HoldState, error)

	// ClaimNotifications returns up to limit pending notifications due at now, longest due
	// first, and moves their NextAttemptAt to leaseUntil so no other claim returns them
	// until then; each claim counts an attempt (Attempts is the claimed attempt's number).
	ClaimNotifications(ctx context.Context, now, leaseUntil time.Time, limit int) ([]Notification, error)
	// Finish records the outcome of attempt n.Attempts of a claimed notification, only if
	// no later claim happened; otherwise ErrStale.
	Finish(ctx context.Context, n Notification, o Outcome, now time.Time) error
	// FinishAll records several outcomes as Finish does, in one transaction (one commit for
	// a batch of sends): each only if no later claim of its notification happened. It returns
	// the ids of those that were stale (not recorded); on an error nothing was recorded.
	FinishAll(ctx context.Context, fs []Finished, now time.Time) (stale []string, err error)
	// Notifications returns notifications in status, newest first, at most limit.
	Notifications(ctx context.Context, status string, limit int) ([]Notification, error)
	// RetryNotification makes a failed notification pending again and due at now, and
	// returns it. Attempts is kept, not reset: attempt numbers only rise, so the outcome of a
	// claim whose lease ran out stays stale (Finish), and the retry is one more attempt (one
	// that used up MaxAttempts gets exactly one). A notification not failed is returned
	// unchanged with ErrNotRetryable; an unknown id is ErrNotFound.
	RetryNotification(ctx context.Context, id string, now time.Time) (Notification, error)

	// ClaimTimers returns up to limit pending timers due at now (whose lease, if any, ran
	// out), earliest first, leased until leaseUntil.
	ClaimTimers(ctx context.Context, now, leaseUntil time.Time, limit int) ([]Timer, error)
	// FireTimer marks a claimed timer fired and adds ns (deduplicated as in Apply), in one
	// transaction, only if the timer is still pending at t.DueAt; otherwise ErrStale (it
	// was moved, cancelled or fired meanwhile) and nothing is added.
	FireTimer(ctx context.Context, t Timer, ns []Notification) error

	// AddDevice registers d, taking its token over from any other device row.
	AddDevice(ctx context.Context, d Device) error
	// DeleteDevice removes a user's device; ErrNotFound if the user has no such device.
	DeleteDevice(ctx context.Context, userID, id string) error
	// DeleteToken removes the device with that token, if any (the provider said it is gone).
	DeleteToken(ctx context.Context, token string) error
	// Devices returns a user's devices by creation time.
	Devices(ctx context.Context, userID string) ([]Device, error)

	// Preferences returns a user's preferences; ErrNotFound if they never set any.
	Preferences(ctx context.Context, userID string) (Preferences, error)
	PutPreferences(ctx context.Context, userID string, p Preferences, now time.Time) error

	// SetCalendarToken makes hash the user's only feed token hash.
	SetCalendarToken(ctx context.Context, userID, hash string, now time.Time) error
	// CalendarTokenUser returns whose token hash this is; ErrNotFound if nobody's.
	CalendarTokenUser(ctx context.Context, hash string) (string, error)
}
