package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/persistence"
)

// Browsing resources: GET /v1/resources searches by name and by availability for a stay, a
// page at a time.

// ResourceLister answers resource searches from the store, not through the actors: a listing
// may lag the owners' latest decisions by one group commit (and availability counts holds as
// committed: one past its deadline counts until its expiry is committed).
//
// Thread-safety: ListResources is called concurrently by every request in flight.
//
// Errors: as HoldLister's (the edge normalizes the filter first). persistence.Store
// implementations have it.
type ResourceLister interface {
	ListResources(ctx context.Context, f persistence.ResourceFilter) ([]booking.Resource, error)
}

// Bounds of a resource search.
const (
	defaultBrowseLimit = 20
	maxBrowseLimit     = 100
)

// GET /v1/resources?q=&tag=&from=&to=&available_from=&available_to=&quantity=&limit=&cursor=
func (s *Server) listResources(c *gin.Context) {
	f, err := decodeResourceQuery(c.Request.URL.RawQuery)
	if err != nil {
		s.fail(c, err)
		return
	}
	limit := f.Limit
	f.Limit++ // one more tells whether another page follows
	if err := f.Normalize(); err != nil {
		s.fail(c, err)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.RequestTimeout)
	defer cancel()
	rs, err := s.cfg.Resources.ListResources(ctx, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := wire.ResourceList{Resources: make([]wire.ResourceSummary, 0, min(len(rs), limit))}
	for i, r := range rs {
		if i == limit {
			out.NextCursor = encodeCursor(rs[i-1].ID)
			break
		}
		out.Resources = append(out.Resources, summaryFromModel(r))
	}
	s.writeJSON(c, http.StatusOK, out)
}

// decodeResourceQuery parses the query of GET /v1/resources. Empty values count as absent;
// unknown parameters are ignored; a parameter given twice is malformed.
func decodeResourceQuery(rawQuery string) (persistence.ResourceFilter, error) {
	f := persistence.ResourceFilter{Limit: defaultBrowseLimit}
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return f, malformed("the query string cannot be parsed")
	}
	get := func(name string) (string, error) {
		v := vals[name]
		if len(v) > 1 {
			return "", malformed("query parameter %s is given more than once", name)
		}
		if len(v) == 0 {
			return "", nil
		}
		return v[0], nil
	}
	var q, tag, from, to, spanFrom, spanTo, qty, lim, cursor string
	for _, p := range []struct {
		name string
		v    *string
	}{{"q", &q}, {"tag", &tag}, {"available_from", &from}, {"available_to", &to}, {"from", &spanFrom}, {"to", &spanTo},
		{"quantity", &qty}, {"limit", &lim}, {"cursor", &cursor}} {
		if *p.v, err = get(p.name); err != nil {
			return f, err
		}
	}
	if len(q) > booking.MaxNameLength {
		return f, invalid("q must be at most %d bytes", booking.MaxNameLength)
	}
	f.Query = q
	if tag != "" && !booking.ValidTag(tag) {
		return f, invalid("tag must be 1-%d lowercase letters, digits or '-'", booking.MaxTagLength)
	}
	f.Tag = tag
	if (from == "") != (to == "") {
		return f, invalid("available_from and available_to go together")
	}
	if from != "" {
		if len(from) != len("2006-01-02") || len(to) != len(from) {
			return f, invalid("available_from and available_to are dates YYYY-MM-DD (check-in and check-out)")
		}
		keys, err := booking.ExpandRange(booking.Range{From: from, To: to}, 0, time.UTC)
		if err != nil {
			return f, err
		}
		f.Keys = keys
	}
	if spanFrom != "" || spanTo != "" {
		if from != "" {
			return f, invalid("give from and to, or available_from and available_to, not both")
		}
		if err := decodeStay(&f, spanFrom, spanTo); err != nil {
			return f, err
		}
		from = spanFrom
	}
	if qty != "" {
		if from == "" {
			return f, invalid("quantity needs from and to (or available_from and available_to)")
		}
		n, err := strconv.ParseInt(qty, 10, 64)
		if err != nil {
			return f, malformed("quantity must be an integer")
		}
		if err := booking.ValidateQuantity(n); err != nil {
			return f, err
		}
		f.Quantity = n
	}
	if lim != "" {
		n, err := strconv.Atoi(lim)
		if err != nil {
			return f, malformed("limit must be an integer")
		}
		if n < 1 || n > maxBrowseLimit {
			return f, invalid("limit must be between 1 and %d", maxBrowseLimit)
		}
		f.Limit = n
	}
	if cursor != "" {
		id, ok := decodeCursor(cursor)
		if !ok {
			return f, invalid("cursor is not one this server gave out")
		}
		f.After = id
	}
	return f, nil
}

// Layouts of from and to: a date (a day, from its midnight) or a slot's start, as read on the
// resource's wall clock (its time zone is how its keys are written).
const (
	stayDay  = "2006-01-02"
	staySlot = "2006-01-02T15:04"
)

// decodeStay sets the filter's stay from from..to (to exclusive): two dates are the nights of a
// daily resource or every slot of those days; a slot start on either side means slots only.
func decodeStay(f *persistence.ResourceFilter, from, to string) error {
	if from == "" || to == "" {
		return invalid("from and to go together")
	}
	parse := func(v string) (time.Time, bool, error) {
		if t, err := time.Parse(stayDay, v); err == nil && len(v) == len(stayDay) {
			return t, true, nil
		}
		if t, err := time.Parse(staySlot, v); err == nil && len(v) == len(staySlot) {
			return t, false, nil
		}
		return time.Time{}, false, invalid("from and to are dates YYYY-MM-DD or slot starts YYYY-MM-DDTHH:MM in the resource's time zone")
	}
	start, fromDay, err := parse(from)
	if err != nil {
		return err
	}
	end, toDay, err := parse(to)
	if err != nil {
		return err
	}
	minutes := int64(end.Sub(start) / time.Minute)
	if minutes <= 0 {
		return invalid("from must be before to")
	}
	if minutes > persistence.MaxSpanMinutes {
		return invalid("the span from %s to %s is longer than %d days", from, to, persistence.MaxSpanMinutes/(24*60))
	}
	if fromDay && toDay {
		keys, err := booking.ExpandRange(booking.Range{From: from, To: to}, 0, time.UTC)
		if err != nil {
			return err
		}
		f.Keys = keys
	}
	f.Span = &persistence.SlotSpan{From: start.Format(staySlot), To: end.Format(staySlot), Minutes: minutes}
	return nil
}

// A cursor is the last resource id of a page, base64url-encoded: opaque to clients, so the
// encoding may change.
func encodeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeCursor(c string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !booking.ValidID(string(b)) {
		return "", false
	}
	return string(b), true
}

func summaryFromModel(r booking.Resource) wire.ResourceSummary {
	out := wire.ResourceSummary{
		ID:        r.ID,
		Name:      r.Name,
		HoldTTL:   wire.FormatDuration(r.HoldTTL),
		Timezone:  r.Timezone,
		Tags:      r.Tags,
		Location:  r.Location,
		CreatedAt: r.CreatedAt.UTC(),
		UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.Price != nil {
		out.Price = &wire.Money{Amount: r.Price.Amount, Currency: r.Price.Currency}
	}
	return out
}
