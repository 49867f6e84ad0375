package audit

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Entry is one audited request.
type Entry struct {
	// ID is unique ("au_" and 128 random bits); with At it orders the log.
	ID string
	// At is when the request was answered (millisecond precision).
	At time.Time
	// Subject is the caller's user id (the token's subject); with ClientIP the only personal
	// data kept.
	Subject string
	// Action names what was done, from the route ("resource.create", "webhook.delete"); a
	// route without a name gets "METHOD /route".
	Action string
	// Method and Route are the request's method and route pattern ("/v1/resources/:rid").
	Method, Route string
	// Target is the ids the route named, "name=value" joined by "," ("rid=hotel-1").
	Target string
	// RequestID is the request's X-Request-Id, which the request log shows too.
	RequestID string
	// Status is the HTTP status of the answer; Outcome follows from it.
	Status  int
	Outcome string
	// ClientIP is where the request came from: the client address as the edge resolves it
	// for rate limits (X-Forwarded-For only from --trusted-proxies); "" when unknown. Like
	// Subject it is personal data, kept for --audit-retention (docs/SECURITY.md).
	ClientIP string
}

// Outcomes of an audited request.
const (
	OutcomeSucceeded = "succeeded" // 1xx-3xx
	OutcomeRefused   = "refused"   // 4xx: nothing changed
	OutcomeFailed    = "failed"    // 5xx: may or may not have changed something
)

// OutcomeOf is the outcome of an answer with HTTP status status.
func OutcomeOf(status int) string {
	switch {
	case status >= 500:
		return OutcomeFailed
	case status >= 400:
		return OutcomeRefused
	default:
		return OutcomeSucceeded
	}
}

// actions names the audited routes; ActionOf falls back to "METHOD route" for others.
var actions = map[string]string{
	"POST /v1/resources":                           "resource.create",
	"PATCH /v1/resources/:rid":                     "resource.update",
	"DELETE /v1/resources/:rid":                    "resource.archive",
	"POST /v1/webhooks":                            "webhook.create",
	"GET /v1/webhooks":                             "webhook.list",
	"GET /v1/webhooks/:wid":                        "webhook.get",
	"DELETE /v1/webhooks/:wid":                     "webhook.delete",
	"GET /v1/webhooks/:wid/deliveries":             "webhook.deliveries",
	"POST /v1/webhooks/:wid/deliveries/:did/retry": "webhook.retry",
	"GET " + Path:                                  "audit.list",
	"POST /v1/resources/:rid/holds/:hid/confirm":   "hold.confirm",
	"POST /v1/resources/:rid/holds/:hid/cancel":    "hold.cancel",
	"POST /v1/resources/:rid/holds":                "hold.place",
	"POST /v1/resources/:rid/holds/:hid/extend":    "hold.extend",
	"POST /v1/resources/:rid/waitlist":             "waitlist.join",
	"DELETE /v1/resources/:rid/waitlist/:eid":      "waitlist.leave",
	"GET /v1/resources/:rid/holds":                 "holds.list",
	"GET /v1/users/:uid/holds":                     "holds.list_user",
	"GET /v1/events":                               "events.list",
	"GET /v1/cluster/members":                      "cluster.members",
}

// ActionOf names the action of a request on route.
func ActionOf(method, route string) string {
	if a, ok := actions[method+" "+route]; ok {
		return a
	}
	return method + " " + route
}

// Filter selects entries: At in [From, To) (zero: unbounded), Subject and Action exactly when
// not empty, older than the cursor After (from a previous Page), at most Limit (1 to
// MaxLimit).
type Filter struct {
	From, To        time.Time
	Subject, Action string
	After           Cursor
	Limit           int
}

// Limits of one page.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Cursor is the position after which the next page starts: the last entry of a page. The
// zero Cursor starts at the newest entry.
type Cursor struct {
	At time.Time
	ID string
}

// IsZero reports whether c starts at the newest entry.
func (c Cursor) IsZero() bool { return c.ID == "" }

// String encodes c for the next query ("" for the zero Cursor).
func (c Cursor) String() string {
	if c.IsZero() {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.At.UnixMilli(), 10) + ":" + c.ID))
}

// errCursor is the error of a cursor that is not one this package wrote.
var errCursor = errors.New("not a cursor of this log")

// ParseCursor reads a Cursor from its String.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, fmt.Errorf("cursor: %w", errCursor)
	}
	ms, id, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || id == "" || len(id) > 64 {
		return Cursor{}, fmt.Errorf("cursor: %w", errCursor)
	}
	return Cursor{At: time.UnixMilli(n).UTC(), ID: id}, nil
}

// before reports whether e comes after c in the log's order (newest first), i.e. on a later
// page.
func (c Cursor) before(e Entry) bool {
	if c.IsZero() {
		return true
	}
	at, cat := e.At.UnixMilli(), c.At.UnixMilli()
	return at < cat || (at == cat && e.ID < c.ID)
}

// matches reports whether e passes f's filters other than the cursor and the limit.
func (f Filter) matches(e Entry) bool {
	ms := e.At.UnixMilli()
	return (f.From.IsZero() || ms >= f.From.UnixMilli()) && (f.To.IsZero() || ms < f.To.UnixMilli()) &&
		(f.Subject == "" || e.Subject == f.Subject) && (f.Action == "" || e.Action == f.Action)
}

// Page is one page of entries, newest first, and the cursor of the next page (zero when
// this is the last).
type Page struct {
	Entries []Entry
	Next    Cursor
}

// NewID returns a fresh entry id: "au_" and 128 random bits in lower-case base32.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "au_" + idEncoding.EncodeToString(b[:])
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
