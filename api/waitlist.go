package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/protos"
)

// Renewals and the waitlist (issue 16). The acting user is the token's subject (actingUser);
// an operator with a second factor may act for another user by naming them in user_id (a
// query parameter here, a body member for joins, as POST .../holds takes it).

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

// userQuery returns the optional ?user_id= of a request acting for a user; "" when absent.
func userQuery(rawQuery string) (string, error) {
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", malformed("the query string cannot be parsed")
	}
	v := vals["user_id"]
	switch {
	case len(v) > 1:
		return "", malformed("query parameter user_id is given more than once")
	case len(v) == 0:
		return "", nil
	case v[0] == "":
		return "", invalid("user_id, when given, must name a user")
	}
	if err := booking.ValidateUserID("user_id", v[0]); err != nil {
		return "", err
	}
	return v[0], nil
}

// actingUser returns the user a request acts for: the token's subject when named is "", else
// named, which only an operator with a second factor may set to another user (403 forbidden
// for anyone else, before anything is read, so the refusal reveals nothing). p is never nil:
// every route that acts for a user has a policy of auth.Customer or stronger.
func actingUser(p *auth.Principal, named string) (string, error) {
	switch {
	case named == "":
		if err := booking.ValidateUserID("the token's user", p.Subject); err != nil {
			return "", err
		}
		return p.Subject, nil
	case named != p.Subject && !actsAsOperator(p):
		return "", booking.Errorf(booking.CodeForbidden, "user_id must be the token's user; only operators act for others")
	}
	return named, nil
}

// actingUserQuery is actingUser for a request naming the user in ?user_id=.
func actingUserQuery(c *gin.Context) (string, error) {
	named, err := userQuery(c.Request.URL.RawQuery)
	if err != nil {
		return "", err
	}
	return actingUser(PrincipalOf(c), named)
}

// POST /v1/resources/:rid/holds/:hid/extend[?user_id=]
//
// Ownership is holdOp's: a customer's request for another user's hold is answered as an
// unknown hold. An operator acting for the hold's user names them; the model renews a hold
// only for its own user (another user's is not found), so an operator naming no one renews
// only their own holds.
//
// An Idempotency-Key is taken and scoped as placeHold takes it: a retry of the renewal answers
// the hold as it is now, 200 with Idempotent-Replayed, without renewing it again (also once
// that renewal spent the last extension); the key reused for another hold, by another user or
// for a placement or a join is 422 idempotency_mismatch (booking's extend_replay.go).
func (s *Server) extendHold(c *gin.Context) {
	key, err := idempotencyKey(c.Request.Header)
	if err != nil {
		s.fail(c, err)
		return
	}
	uid, err := actingUserQuery(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var subject string
	if p := PrincipalOf(c); p != nil { // never nil: the route's policy is auth.Customer
		subject = p.Subject
	}
	scoped := scopedIdempotencyKey(subject, key)
	s.holdOp(c, func(rid, hid string) *protos.Command {
		return &protos.Command{ResourceId: rid, Op: &protos.Command_ExtendHold{ExtendHold: &protos.ExtendHold{HoldId: hid, UserId: uid,
			IdempotencyKey: scoped}}}
	})
}

// POST /v1/resources/:rid/waitlist
//
// An Idempotency-Key is taken and scoped as placeHold takes it: a retry answers the entry the
// key created, 201 with Idempotent-Replayed as a hold's replay (while it waits with its
// position, once offered with its offer_hold_id), or 409 conflict once it left the waitlist.
func (s *Server) joinWaitlist(c *gin.Context) {
	rid, ok := s.resourceID(c)
	if !ok {
		return
	}
	key, err := idempotencyKey(c.Request.Header)
	if err != nil {
		s.fail(c, err)
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
	p := PrincipalOf(c) // never nil: the route's policy is auth.Customer
	if op.UserId, err = actingUser(p, op.UserId); err != nil {
		s.fail(c, err)
		return
	}
	op.IdempotencyKey = scopedIdempotencyKey(p.Subject, key)
	reply, ok := s.askOwner(c, &protos.Command{ResourceId: rid, Op: &protos.Command_JoinWaitlist{JoinWaitlist: op}})
	if !ok {
		return
	}
	if reply.WaitlistEntry == nil {
		s.fail(c, errNoPayload)
		return
	}
	if reply.Replayed {
		c.Header(IdempotentReplayedHeader, "true")
	}
	c.Header("Location", "/v1/resources/"+url.PathEscape(rid)+"/waitlist/"+url.PathEscape(reply.WaitlistEntry.Id))
	s.writeJSON(c, http.StatusCreated, entryFromProto(reply.WaitlistEntry))
}

// DELETE /v1/resources/:rid/waitlist/:eid[?user_id=]
//
// The model finds an entry only for its own user: another user's entry is answered exactly
// as an unknown one (404), as holdOp answers for holds.
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
	uid, err := actingUserQuery(c)
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

// GET /v1/me/waitlist[?user_id=]: the caller's waiting entries (an operator may name a user).
func (s *Server) myWaitlist(c *gin.Context) {
	uid, err := actingUserQuery(c)
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
