package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/allot/allot/api/wire"
)

// Routes of API v1 (see api/openapi.yaml). Every method returns the Info of the answer, also
// with an error; a non-2xx answer is an *Error.

func resourcePath(rid string) string { return "/v1/resources/" + url.PathEscape(rid) }

func holdPath(rid, hid string) string { return resourcePath(rid) + "/holds/" + url.PathEscape(hid) }

// CreateResource creates a resource (201). An existing id is a 409 already_exists.
func (c *Client) CreateResource(ctx context.Context, req wire.CreateResource) (wire.Resource, Info, error) {
	var out wire.Resource
	info, err := c.call(ctx, http.MethodPost, "/v1/resources", "", req, &out)
	return out, info, err
}

// GetResource reads a resource.
func (c *Client) GetResource(ctx context.Context, rid string) (wire.Resource, Info, error) {
	var out wire.Resource
	info, err := c.call(ctx, http.MethodGet, resourcePath(rid), "", nil, &out)
	return out, info, err
}

// Availability reads a resource's buckets.
func (c *Client) Availability(ctx context.Context, rid string) (wire.Availability, Info, error) {
	var out wire.Availability
	info, err := c.call(ctx, http.MethodGet, resourcePath(rid)+"/availability", "", nil, &out)
	return out, info, err
}

// PlaceHold asks for a hold (201). idemKey is the Idempotency-Key: the same key with the
// same request answers the first hold again (Info.Replayed), with another request 422
// idempotency_mismatch. A full bucket is a 409 sold_out.
func (c *Client) PlaceHold(ctx context.Context, rid, idemKey string, req wire.PlaceHold) (wire.Hold, Info, error) {
	var out wire.Hold
	info, err := c.call(ctx, http.MethodPost, resourcePath(rid)+"/holds", idemKey, req, &out)
	return out, info, err
}

// GetHold reads a hold.
func (c *Client) GetHold(ctx context.Context, rid, hid string) (wire.Hold, Info, error) {
	var out wire.Hold
	info, err := c.call(ctx, http.MethodGet, holdPath(rid, hid), "", nil, &out)
	return out, info, err
}

// ConfirmHold turns a held hold into a booking; confirming a confirmed hold answers it
// again. An expired or cancelled hold is a 409 conflict.
func (c *Client) ConfirmHold(ctx context.Context, rid, hid string) (wire.Hold, Info, error) {
	var out wire.Hold
	info, err := c.call(ctx, http.MethodPost, holdPath(rid, hid)+"/confirm", "", nil, &out)
	return out, info, err
}

// CancelHold releases a hold's units; cancelling a cancelled hold answers it again.
func (c *Client) CancelHold(ctx context.Context, rid, hid string) (wire.Hold, Info, error) {
	var out wire.Hold
	info, err := c.call(ctx, http.MethodPost, holdPath(rid, hid)+"/cancel", "", nil, &out)
	return out, info, err
}

// HoldQuery narrows a hold listing. Zero fields do not filter; Limit 0 is the server's
// default.
type HoldQuery struct {
	Status string
	UserID string // only for ResourceHolds
	Limit  int
}

func (q HoldQuery) encode() string {
	v := url.Values{}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	if q.UserID != "" {
		v.Set("user_id", q.UserID)
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// UserHolds lists a user's holds (from the store: it may lag the owners by one commit).
// q.UserID is ignored.
func (c *Client) UserHolds(ctx context.Context, uid string, q HoldQuery) (wire.HoldList, Info, error) {
	q.UserID = ""
	var out wire.HoldList
	info, err := c.call(ctx, http.MethodGet, "/v1/users/"+url.PathEscape(uid)+"/holds"+q.encode(), "", nil, &out)
	return out, info, err
}

// ResourceHolds lists a resource's holds (from the store: it may lag the owner by one
// commit).
func (c *Client) ResourceHolds(ctx context.Context, rid string, q HoldQuery) (wire.HoldList, Info, error) {
	var out wire.HoldList
	info, err := c.call(ctx, http.MethodGet, resourcePath(rid)+"/holds"+q.encode(), "", nil, &out)
	return out, info, err
}

// Members lists the cluster's members as the answering node sees them.
func (c *Client) Members(ctx context.Context) (wire.MemberList, Info, error) {
	var out wire.MemberList
	info, err := c.call(ctx, http.MethodGet, "/v1/cluster/members", "", nil, &out)
	return out, info, err
}

// Health asks /healthz whether the process serves.
func (c *Client) Health(ctx context.Context) (Info, error) {
	var out wire.Status
	return c.call(ctx, http.MethodGet, "/healthz", "", nil, &out)
}

// Ready asks /readyz whether the node takes traffic: nil when ready, an *Error with status
// 503 while it is starting or draining.
func (c *Client) Ready(ctx context.Context) (Info, error) {
	var out wire.Status
	return c.call(ctx, http.MethodGet, "/readyz", "", nil, &out)
}
