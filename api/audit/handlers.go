package audit

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/mount"
)

// Path is the audit log's route.
const Path = "/v1/audit"

// ErrorWriter answers a request with the problem for err (api.Fail), so that codes meet
// statuses in one place (api/error.go).
type ErrorWriter func(c *gin.Context, err error)

// Handlers serves GET /v1/audit over a Store. Create it with NewHandlers.
type Handlers struct {
	store Store
	fail  ErrorWriter
}

// NewHandlers returns the audit log's route over store, answering errors with fail.
func NewHandlers(store Store, fail ErrorWriter) *Handlers { return &Handlers{store: store, fail: fail} }

// Routes is GET /v1/audit, for admins (auth.Admin: the admin role and a second factor).
func (h *Handlers) Routes() []mount.Route {
	return []mount.Route{{Method: http.MethodGet, Path: Path, Policy: auth.Admin, Handler: h.list}}
}

// EntryBody is an Entry on the wire.
type EntryBody struct {
	ID        string    `json:"id"`
	At        time.Time `json:"at"`
	Subject   string    `json:"subject"`
	Action    string    `json:"action"`
	Method    string    `json:"method"`
	Route     string    `json:"route"`
	Target    string    `json:"target,omitempty"`
	RequestID string    `json:"request_id"`
	Status    int       `json:"status"`
	Outcome   string    `json:"outcome"`
	ClientIP  string    `json:"client_ip,omitempty"`
}

// ListBody is the answer of GET /v1/audit: a page, newest first, and the cursor of the next
// page (absent on the last).
type ListBody struct {
	Entries    []EntryBody `json:"entries"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

// queryParams are the parameters GET /v1/audit takes; others are refused.
var queryParams = map[string]bool{"from": true, "to": true, "subject": true, "action": true, "cursor": true, "limit": true}

// ParseFilter reads GET /v1/audit's query: from and to (RFC 3339; from inclusive, to
// exclusive), subject, action, cursor (next_cursor of the previous page) and limit (1 to
// MaxLimit, default DefaultLimit). An unparsable query or a parameter given twice is
// malformed; an unknown parameter or a bad value invalid.
func ParseFilter(rawQuery string) (Filter, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return Filter{}, booking.Errorf(booking.CodeMalformed, "query string does not parse")
	}
	f := Filter{Limit: DefaultLimit}
	for k, vs := range q {
		if !queryParams[k] {
			return Filter{}, booking.Errorf(booking.CodeInvalid, "unknown query parameter %q (from, to, subject, action, cursor, limit)", k)
		}
		if len(vs) != 1 {
			return Filter{}, booking.Errorf(booking.CodeMalformed, "query parameter %q given %d times", k, len(vs))
		}
	}
	for _, b := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(b.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return Filter{}, booking.Errorf(booking.CodeInvalid, "%s: want an RFC 3339 time such as 2026-12-06T00:00:00Z", b.name)
			}
			*b.dst = t
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return Filter{}, booking.Errorf(booking.CodeInvalid, "from must be before to")
	}
	f.Subject, f.Action = q.Get("subject"), q.Get("action")
	if len(f.Subject) > 256 || len(f.Action) > 256 {
		return Filter{}, booking.Errorf(booking.CodeInvalid, "subject and action are at most 256 bytes")
	}
	if f.After, err = ParseCursor(q.Get("cursor")); err != nil {
		return Filter{}, booking.Errorf(booking.CodeInvalid, "cursor: give next_cursor of the previous page")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return Filter{}, booking.Errorf(booking.CodeInvalid, "limit: want 1 to %d", MaxLimit)
		}
		f.Limit = n
	}
	return f, nil
}

func (h *Handlers) list(c *gin.Context) {
	f, err := ParseFilter(c.Request.URL.RawQuery)
	if err != nil {
		h.fail(c, err)
		return
	}
	page, err := h.store.List(c.Request.Context(), f)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := ListBody{Entries: make([]EntryBody, 0, len(page.Entries)), NextCursor: page.Next.String()}
	for _, e := range page.Entries {
		out.Entries = append(out.Entries, EntryBody{ID: e.ID, At: e.At, Subject: e.Subject, Action: e.Action, Method: e.Method,
			Route: e.Route, Target: e.Target, RequestID: e.RequestID, Status: e.Status, Outcome: e.Outcome, ClientIP: e.ClientIP})
	}
	body, err := json.Marshal(out)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", append(body, '\n'))
}
