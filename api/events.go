package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/persistence"
)

// EventLister lists the event log (the store's outbox; persistence.Outbox has it). Safe for
// concurrent use; a bad filter is a *booking.Error, an unreachable store wraps
// persistence.ErrUnavailable.
type EventLister interface {
	ListEvents(ctx context.Context, f persistence.EventFilter) ([]events.Record, error)
}

// GET /v1/events?after=&type=&resource_id=&limit= (operators): the event log from the
// outbox, oldest first, bounded by the event retention. Cursors are opaque and stable: an
// event's cursor names its place in the log, not a page, so paging never skips or repeats
// an event that was committed before the first page was read.
func (s *Server) listEvents(c *gin.Context) {
	if s.cfg.Events == nil {
		s.problem(c, answer{kind: kindOf(kindRouteNotFound), detail: "this node keeps no event log"})
		return
	}
	f, err := decodeEventQuery(c.Request.URL.RawQuery)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := f.Normalize(); err != nil {
		s.fail(c, err)
		return
	}
	limit := f.Limit
	f.Limit++ // one more tells whether there is more
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.RequestTimeout)
	defer cancel()
	recs, err := s.cfg.Events.ListEvents(ctx, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := wire.EventList{Object: "list", Data: recs, HasMore: len(recs) > limit}
	if out.HasMore {
		out.Data = recs[:limit]
	}
	if out.Data == nil {
		out.Data = []events.Record{}
	}
	if n := len(out.Data); n > 0 {
		out.NextCursor = persistence.KeyOf(&out.Data[n-1]).Cursor()
	}
	s.writeJSON(c, http.StatusOK, out)
}

// decodeEventQuery reads after, type, resource_id and limit; each at most once.
func decodeEventQuery(rawQuery string) (persistence.EventFilter, error) {
	var f persistence.EventFilter
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return f, malformed("the query string cannot be parsed")
	}
	for name, v := range vals {
		switch name {
		case "after", "type", "resource_id", "limit":
		default:
			return f, invalid("unknown query parameter %q; allowed: after, type, resource_id, limit", shortQuery(name))
		}
		if len(v) > 1 {
			return f, malformed("query parameter %s is given more than once", name)
		}
	}
	if a := vals.Get("after"); a != "" {
		k, err := persistence.ParseCursor(a)
		if err != nil {
			return f, err
		}
		f.After = &k
	}
	f.Type = events.Type(vals.Get("type"))
	f.ResourceID = vals.Get("resource_id")
	if lim := vals.Get("limit"); lim != "" {
		n, err := strconv.Atoi(lim)
		if err != nil {
			return f, malformed("limit must be an integer")
		}
		if n < 1 || n > maxListLimit {
			return f, invalid("limit must be between 1 and %d", maxListLimit)
		}
		f.Limit = n
	}
	return f, nil
}

func shortQuery(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}
