package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/protos"
)

// Hold headers.
const (
	IdempotencyKeyHeader     = wire.IdempotencyKeyHeader
	IdempotentReplayedHeader = wire.IdempotentReplayedHeader
)

// maxListLimit is the largest limit of a hold query (persistence.HoldFilter allows 1000).
const maxListLimit = 1000

// HoldLister answers hold queries from the store, not through the actors: a listing may lag
// the owners' latest decisions by one group commit.
//
// Thread-safety: ListHolds is called concurrently by every request in flight.
//
// Errors: ListHolds honours ctx (deadline Config.RequestTimeout). The edge normalizes the
// filter first (persistence.HoldFilter.Normalize), so a *booking.Error from ListHolds is
// mapped by its code like any other; an error wrapping persistence.ErrUnavailable or a ctx
// error becomes 503 with Retry-After; anything else is a 500. persistence.Store satisfies it.
type HoldLister interface {
	ListHolds(ctx context.Context, f persistence.HoldFilter) ([]booking.Hold, error)
}

func (s *Server) holdIDs(c *gin.Context) (rid, hid string, ok bool) {
	if rid, ok = s.resourceID(c); !ok {
		return "", "", false
	}
	hid = c.Param("hid")
	if err := booking.ValidateID("hold id", hid); err != nil {
		s.fail(c, err)
		return "", "", false
	}
	return rid, hid, true
}

// placeHoldCommand is a hold request's command, built in place in one block (three
// allocations before; issue 17, CPU per hold). cmd.Op points to op and op.PlaceHold to hold;
// none is ever copied (protobuf messages must not be), and the block lives as long as any
// of them is reachable.
type placeHoldCommand struct {
	cmd  protos.Command
	op   protos.Command_PlaceHold
	hold protos.PlaceHold
	// expires is the reply's expiry, which its wire.Hold points to (holdFromProtoAt).
	expires time.Time
}

// POST /v1/resources/:rid/holds
func (s *Server) placeHold(c *gin.Context) {
	rid, ok := s.resourceID(c)
	if !ok {
		return
	}
	key, err := idempotencyKey(c.Request.Header)
	if err != nil {
		s.fail(c, err)
		return
	}
	x := new(placeHoldCommand) // the command, its op and the hold request in one allocation
	op := &x.hold
	contact, err := s.readPlaceHold(c.Request, op)
	if err != nil {
		s.fail(c, err)
		return
	}
	p := PrincipalOf(c) // never nil: the route's policy is auth.Customer
	if op.UserId, err = actingUser(p, op.UserId); err != nil {
		s.fail(c, err)
		return
	}
	guest, err := contact.resolve(p, op.UserId)
	if err != nil {
		s.fail(c, err)
		return
	}
	if op.Contact, err = s.sealContact(guest, rid, op.UserId); err != nil {
		s.fail(c, err)
		return
	}
	op.IdempotencyKey = scopedIdempotencyKey(p.Subject, key)
	x.op.PlaceHold = op
	x.cmd.ResourceId, x.cmd.Op = rid, &x.op
	reply, ok := s.askOwner(c, &x.cmd)
	if !ok {
		return
	}
	if reply.Hold == nil {
		s.fail(c, errNoPayload)
		return
	}
	if reply.Replayed {
		c.Header(IdempotentReplayedHeader, "true")
	}
	setLocation(c, "/v1/resources/"+url.PathEscape(rid)+"/holds/"+url.PathEscape(reply.Hold.Id))
	s.writeHold(c, http.StatusCreated, s.withContact(p, holdFromProtoAt(reply.Hold, &x.expires), reply.Hold.Contact))
}

// readPlaceHold reads and decodes a hold request's body into op. A body of known length that
// fits is read into a buffer lent by holdBufs and given back before it returns (issue 17,
// round 11: one allocation per hold), which is safe because decoding keeps no reference to
// the body's bytes: every string of op and of the contact is a copy
// (TestReadPlaceHoldKeepsNoBodyBytes).
func (s *Server) readPlaceHold(r *http.Request, op *protos.PlaceHold) (holdContact, error) {
	buf := s.holdBufs.get()
	defer s.holdBufs.put(buf)
	body, err := readJSONBodyInto(*buf, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return holdContact{}, err
	}
	return decodePlaceHoldContactInto(body, op)
}

// GET /v1/resources/:rid/holds/:hid
func (s *Server) getHold(c *gin.Context) {
	s.holdOp(c, nil)
}

// POST /v1/resources/:rid/holds/:hid/confirm[?unpaid=true]
//
// When the node takes payments, a priced hold not paid for is refused (payment_required):
// its payment confirms it. An operator may confirm it anyway with unpaid=true (paid at the
// desk, by invoice: pretix's "mark as paid" by hand); the hold's payment stays none, so it is
// never shown as paid. A customer asking for unpaid=true is refused (403).
func (s *Server) confirmHold(c *gin.Context) {
	unpaid := false
	switch v := c.Query("unpaid"); v {
	case "", "false":
	case "true":
		unpaid = true
	default:
		s.fail(c, booking.Errorf(booking.CodeMalformed, "unpaid must be true or false"))
		return
	}
	if unpaid && !actsAsOperator(PrincipalOf(c)) {
		s.fail(c, booking.Errorf(booking.CodeForbidden, "only operators (with a second factor) may confirm a hold unpaid"))
		return
	}
	required := s.cfg.PaymentRequired && !unpaid
	s.holdOp(c, func(rid, hid string) *protos.Command {
		return &protos.Command{ResourceId: rid, Op: &protos.Command_ConfirmHold{ConfirmHold: &protos.ConfirmHold{HoldId: hid, PaymentRequired: required}}}
	})
}

// POST /v1/resources/:rid/holds/:hid/cancel
func (s *Server) cancelHold(c *gin.Context) {
	s.holdOp(c, func(rid, hid string) *protos.Command {
		return &protos.Command{ResourceId: rid, Op: &protos.Command_CancelHold{CancelHold: &protos.CancelHold{HoldId: hid}}}
	})
}

// holdOp answers 200 with one hold: read with GetHold when act is nil, else after the command
// act builds. These routes take no request body; one that is sent is ignored.
//
// A customer acts only on their own holds: another user's hold is answered exactly as a hold
// that does not exist (404, existence not revealed). For confirm and cancel the hold is read
// first and the command sent only when it is the caller's. Reading, then acting, cannot race
// into acting on someone else's hold: a hold's user is set when it is placed and never
// changes, and a hold id is never given to another hold of the resource (random ids, and the
// model refuses a placement under a known id), so the user read is the user the command finds.
// The only other outcome between the two steps is the hold's own lifecycle (expiry, a
// concurrent confirm or cancel by its owner), which the command decides as for anyone.
// Operators (with a second factor) act on any hold, as a front desk does, without the read.
func (s *Server) holdOp(c *gin.Context, act func(rid, hid string) *protos.Command) {
	rid, hid, ok := s.holdIDs(c)
	if !ok {
		return
	}
	p := PrincipalOf(c)
	if act == nil || !actsAsOperator(p) {
		reply, ok := s.askOwner(c, &protos.Command{ResourceId: rid, Op: &protos.Command_GetHold{GetHold: &protos.GetHold{HoldId: hid}}})
		if !ok {
			return
		}
		if reply.Hold == nil {
			s.fail(c, errNoPayload)
			return
		}
		if !actsAsOperator(p) && (p == nil || reply.Hold.UserId != p.Subject) {
			c.Writer.Header().Del(StaleHeader)
			s.fail(c, booking.Errorf(booking.CodeNotFound, "hold %q not found", hid))
			return
		}
		if act == nil {
			s.writeTagged(c, holdTag(reply.Hold.UpdatedAtMs), cachePrivateRevalidate, reply.Stale, s.withContact(p, holdFromProto(reply.Hold), reply.Hold.Contact))
			return
		}
	}
	reply, ok := s.askOwner(c, act(rid, hid))
	if !ok {
		return
	}
	if reply.Hold == nil {
		s.fail(c, errNoPayload)
		return
	}
	if reply.Replayed { // a renewal's retry by its Idempotency-Key (extendHold)
		c.Header(IdempotentReplayedHeader, "true")
	}
	s.writeHold(c, http.StatusOK, s.withContact(p, holdFromProto(reply.Hold), reply.Hold.Contact))
}

// GET /v1/resources/:rid/holds
func (s *Server) listResourceHolds(c *gin.Context) {
	rid, ok := s.resourceID(c)
	if !ok {
		return
	}
	q, err := decodeHoldQuery(c.Request.URL.RawQuery, true)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.listHolds(c, persistence.HoldFilter{ResourceID: rid, UserID: q.userID, Status: q.status, Limit: q.limit})
}

// GET /v1/users/:uid/holds
func (s *Server) listUserHolds(c *gin.Context) {
	uid := c.Param("uid")
	if err := booking.ValidateUserID("user id", uid); err != nil {
		s.fail(c, err)
		return
	}
	q, err := decodeHoldQuery(c.Request.URL.RawQuery, false)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.listHolds(c, persistence.HoldFilter{UserID: uid, Status: q.status, Limit: q.limit})
}

// GET /v1/me/holds: the caller's own holds.
func (s *Server) listMyHolds(c *gin.Context) {
	q, err := decodeHoldQuery(c.Request.URL.RawQuery, false)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.listHolds(c, persistence.HoldFilter{UserID: PrincipalOf(c).Subject, Status: q.status, Limit: q.limit})
}

// scopedIdempotencyKey scopes a client's Idempotency-Key to the caller: the resource's model
// keeps keys per resource, so without this one user's key would collide with another's (and
// answer idempotency_mismatch, or worse, reveal a hold). The result is a fixed-length hash of
// the subject and the key, within booking.MaxIdempotencyLen; "" stays "" (no key).
func scopedIdempotencyKey(subject, key string) string {
	if key == "" {
		return ""
	}
	// The digest of len(subject) (8 bytes, little-endian), subject and key, built on the stack
	// (up to the usual lengths): one allocation per hold, the returned string.
	var in [320]byte
	b := in[:8]
	for i := range 8 {
		b[i] = byte(len(subject) >> (8 * i))
	}
	b = append(append(b, subject...), key...)
	sum := sha256.Sum256(b)
	var out [3 + 43]byte // "s1." and 32 bytes in unpadded base64
	return string(base64.RawURLEncoding.AppendEncode(append(out[:0], "s1."...), sum[:]))
}

func (s *Server) listHolds(c *gin.Context, f persistence.HoldFilter) {
	if err := f.Normalize(); err != nil {
		s.fail(c, err)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.RequestTimeout)
	defer cancel()
	holds, err := s.cfg.Holds.ListHolds(ctx, f)
	switch {
	case err == nil:
		s.listings.put(f, holds, s.cfg.Now())
	case storeDown(err) && c.Request.Context().Err() == nil:
		cached, ok := s.listings.get(f, s.cfg.Now().Add(-s.cfg.StaleListingMaxAge))
		if !ok {
			s.fail(c, err)
			return
		}
		holds = cached
		c.Header(StaleHeader, "true") // see listingcache.go
		c.Header("Cache-Control", cacheNoStore)
	default:
		s.fail(c, err)
		return
	}
	out := wire.HoldList{Holds: make([]wire.Hold, 0, len(holds))}
	p := PrincipalOf(c)
	for _, h := range holds {
		out.Holds = append(out.Holds, s.withContact(p, holdFromModel(h), h.Contact))
	}
	s.writeJSON(c, http.StatusOK, out)
}
