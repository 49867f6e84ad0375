package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/allot/allot/api/wire"
)

// The booking rules' routes: renewals, the waitlist and the resource search. A call acts for
// the user of the client's token (WithToken, WithTokenSource); the ...For variants, and
// JoinWaitlist with a UserID, act for another user, which only an operator with a second
// factor may do (403 forbidden otherwise).

// ExtendHold renews the token's user's held hold by the resource's hold TTL. Past the
// resource's max_extensions it is a 409 limit_exceeded; a hold that is no longer held (or
// expired) a 409 conflict; another user's hold is a 404 not_found, as an unknown one.
func (c *Client) ExtendHold(ctx context.Context, rid, hid string) (wire.Hold, Info, error) {
	return c.ExtendHoldFor(ctx, rid, hid, "")
}

// ExtendHoldFor is ExtendHold for user uid (operators); "" is the token's user.
func (c *Client) ExtendHoldFor(ctx context.Context, rid, hid, uid string) (wire.Hold, Info, error) {
	return c.ExtendHoldKey(ctx, rid, hid, uid, "")
}

// ExtendHoldKey is ExtendHoldFor with an Idempotency-Key (none when ""), as PlaceHold takes
// one: the client's own retries reuse it, and a retry answers the hold as it is now
// (Info.Replayed) rather than renewing it again, also once that renewal used the last
// extension; the key reused for another hold is a 422 idempotency_mismatch.
func (c *Client) ExtendHoldKey(ctx context.Context, rid, hid, uid, idemKey string) (wire.Hold, Info, error) {
	var out wire.Hold
	info, err := c.call(ctx, http.MethodPost, holdPath(rid, hid)+"/extend"+actingUser(uid), idemKey, nil, &out)
	return out, info, err
}

// JoinWaitlist puts the token's user (or req.UserID, for operators) on the resource's
// waitlist (201), only while the units asked for are sold out (else 409 conflict). It sends
// no Idempotency-Key: see JoinWaitlistKey for a join that may be retried.
func (c *Client) JoinWaitlist(ctx context.Context, rid string, req wire.JoinWaitlist) (wire.WaitlistEntry, Info, error) {
	return c.JoinWaitlistKey(ctx, rid, "", req)
}

// JoinWaitlistKey is JoinWaitlist with an Idempotency-Key (none when ""), as PlaceHold takes
// one: the client's own retries reuse it, and a retry answers the entry the key created
// (Info.Replayed) rather than joining again, or 409 conflict once that entry left the waitlist.
func (c *Client) JoinWaitlistKey(ctx context.Context, rid, idemKey string, req wire.JoinWaitlist) (wire.WaitlistEntry, Info, error) {
	var out wire.WaitlistEntry
	info, err := c.call(ctx, http.MethodPost, resourcePath(rid)+"/waitlist", idemKey, req, &out)
	return out, info, err
}

// LeaveWaitlist removes the token's user's waiting entry eid; another user's entry is a 404
// not_found, as an unknown one.
func (c *Client) LeaveWaitlist(ctx context.Context, rid, eid string) (wire.WaitlistEntry, Info, error) {
	return c.LeaveWaitlistFor(ctx, rid, eid, "")
}

// LeaveWaitlistFor is LeaveWaitlist for user uid (operators); "" is the token's user.
func (c *Client) LeaveWaitlistFor(ctx context.Context, rid, eid, uid string) (wire.WaitlistEntry, Info, error) {
	var out wire.WaitlistEntry
	info, err := c.call(ctx, http.MethodDelete, resourcePath(rid)+"/waitlist/"+url.PathEscape(eid)+actingUser(uid), "", nil, &out)
	return out, info, err
}

// MyWaitlist lists the token's user's waiting entries with their positions (from the store:
// it may lag the owners by one commit).
func (c *Client) MyWaitlist(ctx context.Context) (wire.WaitlistList, Info, error) {
	return c.WaitlistOf(ctx, "")
}

// WaitlistOf is MyWaitlist for user uid (operators); "" is the token's user.
func (c *Client) WaitlistOf(ctx context.Context, uid string) (wire.WaitlistList, Info, error) {
	var out wire.WaitlistList
	info, err := c.call(ctx, http.MethodGet, "/v1/me/waitlist"+actingUser(uid), "", nil, &out)
	return out, info, err
}

// actingUser is the query naming the user a call acts for: none for the token's user.
func actingUser(uid string) string {
	if uid == "" {
		return ""
	}
	return "?user_id=" + url.QueryEscape(uid)
}

// ArchiveResource archives a resource: no longer listed, no new holds. While it has live
// holds or waiting users it is a 409 conflict.
func (c *Client) ArchiveResource(ctx context.Context, rid string) (wire.Resource, Info, error) {
	var out wire.Resource
	info, err := c.call(ctx, http.MethodDelete, resourcePath(rid), "", nil, &out)
	return out, info, err
}

// ResourceQuery narrows a resource search. Zero fields do not filter; From and To (dates)
// go together, Quantity needs them; Cursor is a previous page's NextCursor.
type ResourceQuery struct {
	Name     string
	Tag      string
	From, To string
	Quantity int64
	Limit    int
	Cursor   string
}

func (q ResourceQuery) encode() string {
	v := url.Values{}
	for k, s := range map[string]string{"q": q.Name, "tag": q.Tag, "available_from": q.From, "available_to": q.To, "cursor": q.Cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Quantity != 0 {
		v.Set("quantity", strconv.FormatInt(q.Quantity, 10))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// Resources searches resources by name and availability, a page at a time (from the store: it
// may lag the owners by one commit).
func (c *Client) Resources(ctx context.Context, q ResourceQuery) (wire.ResourceList, Info, error) {
	var out wire.ResourceList
	info, err := c.call(ctx, http.MethodGet, "/v1/resources"+q.encode(), "", nil, &out)
	return out, info, err
}
