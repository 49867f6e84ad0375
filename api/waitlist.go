package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/protos"
)

// Renewals and the waitlist (issue 16). Until authentication is wired, the acting user is the
// user_id the request names (a query parameter here, as GET .../holds?user_id= takes it, or a
// body member as POST .../holds takes it); with authentication it becomes the token's subject.

// WaitlistLister answers a user's waitlist query from the store, not through the actors: a
// listing may lag the owners' latest decisions by one group commit.
//
// Thread-safety: ListWaitlist is called concurrently by every request in flight.
//
// Errors: as HoldLister's (the edge normalizes the filter first). persistence.Store
// implementations have it.
type WaitlistLister interface {
	ListWaitlist(ctx context.Context, f persistence.WaitlistFilter) ([]persistence.WaitlistPosition, error)
}

// userQuery returns the required ?user_id= of a request acting for a user.
func userQuery(rawQuery string) (string, error) {
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", malformed("the query string cannot be parsed")
	}
	v := vals["user_id"]
	switch {
	case len(v) > 1:
		return "", malformed("query parameter user_id is given more than once")
	case len(v) == 0 || v[0] == "":
		return "", invalid("user_id is required")
	}
	if err := booking.ValidateUserID("user_id", v[0]); err != nil {
		return "", err
	}
	return v[0], nil
}

// POST /v1/resources/:rid/holds/:hid/extend?user_id=
func (s *Server) extendHold(c *gin.Context) {
	uid, err := userQuery(c.Request.URL.RawQuery)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.holdOp(c, func(rid, hid string) *protos.Command {
		return &protos.Command{ResourceId: rid, Op: &protos.Command_ExtendHold{ExtendHold: &protos.ExtendHold{HoldId: hid, UserId: uid}}}
	})
}

// POST /v1/resources/:rid/waitlist
func (s *Server) joinWaitlist(c *gin.Context) {
	rid, ok := s.resourceID(c)
	if !ok {
		return
	}
	body, err := readJSONBody(c.Request, s.cfg.MaxBodyBytes)
	if err != nil {
		s.fail(c, err)
		return
	}
	op, err := decodeJoinWaitlist(body)
	if err != nil {
		s.fail(c, err)
		return
	}
	reply, ok := s.askOwner(c, &protos.Command{ResourceId: rid, Op: &protos.Command_JoinWaitlist{JoinWaitlist: op}})
	if !ok {
		return
	}
	if reply.WaitlistEntry == nil {
		s.fail(c, errNoPayload)
		return
	}
	c.Header("Location", "/v1/resources/"+url.PathEscape(rid)+"/waitlist/"+url.PathEscape(reply.WaitlistEntry.Id))
	s.writeJSON(c, http.StatusCreated, entryFromProto(reply.WaitlistEntry))
}

// DELETE /v1/resources/:rid/waitlist/:eid?user_id=
func (s *Server) leaveWaitlist(c *gin.Context) {
	rid, ok := s.resourceID(c)
	if !ok {
		return
	}
	eid := c.Param("eid")
	if err := booking.ValidateID("waitlist entry id", eid); err != nil {
		s.fail(c, err)
		return
	}
	uid, err := userQuery(c.Request.URL.RawQuery)
	if err != nil {
		s.fail(c, err)
		return
	}
	reply, ok := s.askOwner(c, &protos.Command{ResourceId: rid, Op: &protos.Command_LeaveWaitlist{LeaveWaitlist: &protos.LeaveWaitlist{EntryId: eid, UserId: uid}}})
	if !ok {
		return
	}
	if reply.WaitlistEntry == nil {
		s.fail(c, errNoPayload)
		return
	}
	s.writeJSON(c, http.StatusOK, entryFromProto(reply.WaitlistEntry))
}

// GET /v1/me/waitlist?user_id=
func (s *Server) myWaitlist(c *gin.Context) {
	uid, err := userQuery(c.Request.URL.RawQuery)
	if err != nil {
		s.fail(c, err)
		return
	}
	f := persistence.WaitlistFilter{UserID: uid}
	if err := f.Normalize(); err != nil {
		s.fail(c, err)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.RequestTimeout)
	defer cancel()
	entries, err := s.cfg.Waitlist.ListWaitlist(ctx, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := wire.WaitlistList{Entries: make([]wire.WaitlistEntry, 0, len(entries))}
	for _, e := range entries {
		out.Entries = append(out.Entries, entryFromModel(e.Entry, e.Position))
	}
	s.writeJSON(c, http.StatusOK, out)
}
