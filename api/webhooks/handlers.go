package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/api/mount"
)

// Limits of the admin API.
const (
	maxBodyBytes       = 16 << 10
	maxURLLength       = 2048
	maxDescription     = 256
	defaultPageSize    = 50
	maxPageSize        = 200
	registrationBudget = 5 * time.Second // resolving the target at registration
)

// ErrorWriter answers a request with the problem for err: *booking.Error by its code, any
// other error as api.Server does (persistence.ErrUnavailable and ended contexts 503, the rest
// 500). api passes its own, so that codes meet statuses in one place (api/error.go).
type ErrorWriter func(c *gin.Context, err error)

// Handlers serves /v1/webhooks. Create it with NewHandlers.
type Handlers struct {
	d    *Dispatcher
	fail ErrorWriter
}

// NewHandlers returns the admin API of d, answering errors with fail.
func NewHandlers(d *Dispatcher, fail ErrorWriter) *Handlers { return &Handlers{d: d, fail: fail} }

// Routes are the admin routes, all for admins (auth.Admin: the admin role and a second
// factor).
func (h *Handlers) Routes() []mount.Route {
	return []mount.Route{
		{Method: http.MethodPost, Path: "/v1/webhooks", Policy: auth.Admin, Handler: h.create},
		{Method: http.MethodGet, Path: "/v1/webhooks", Policy: auth.Admin, Handler: h.list},
		{Method: http.MethodGet, Path: "/v1/webhooks/:wid", Policy: auth.Admin, Handler: h.get},
		{Method: http.MethodDelete, Path: "/v1/webhooks/:wid", Policy: auth.Admin, Handler: h.delete},
		{Method: http.MethodGet, Path: "/v1/webhooks/:wid/deliveries", Policy: auth.Admin, Handler: h.deliveries},
		{Method: http.MethodPost, Path: "/v1/webhooks/:wid/deliveries/:did/retry", Policy: auth.Admin, Handler: h.retry},
	}
}

// EndpointBody is an endpoint on the wire. Secret is set only in the answer to its creation.
type EndpointBody struct {
	ID             string     `json:"id"`
	URL            string     `json:"url"`
	Description    string     `json:"description"`
	EventTypes     []string   `json:"event_types"`
	Disabled       bool       `json:"disabled"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
	FailingSince   *time.Time `json:"failing_since,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	Secret         string     `json:"secret,omitempty"`
}

// DeliveryBody is a delivery on the wire, with its attempts when one delivery is shown.
type DeliveryBody struct {
	ID             string        `json:"id"`
	EndpointID     string        `json:"endpoint_id"`
	EventID        string        `json:"event_id"`
	EventType      string        `json:"event_type"`
	Status         string        `json:"status"`
	Attempts       int           `json:"attempts"`
	NextAttemptAt  *time.Time    `json:"next_attempt_at,omitempty"`
	LastStatusCode int           `json:"last_status_code,omitempty"`
	LastError      string        `json:"last_error,omitempty"`
	CreatedAt      time.Time     `json:"created_at"`
	UpdatedAt      time.Time     `json:"updated_at"`
	AttemptList    []AttemptBody `json:"attempt_list,omitempty"`
}

// AttemptBody is one attempt on the wire.
type AttemptBody struct {
	N          int       `json:"n"`
	At         time.Time `json:"at"`
	DurationMS int64     `json:"duration_ms"`
	StatusCode int       `json:"status_code,omitempty"`
	Error      string    `json:"error,omitempty"`
}

func endpointBody(e Endpoint) EndpointBody {
	b := EndpointBody{ID: e.ID, URL: e.URL, Description: e.Description, EventTypes: e.EventTypes, Disabled: e.Disabled,
		DisabledReason: e.DisabledReason, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
	if !e.FailingSince.IsZero() {
		t := e.FailingSince
		b.FailingSince = &t
	}
	return b
}

func deliveryBody(d Delivery) DeliveryBody {
	b := DeliveryBody{ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, EventType: d.EventType, Status: d.Status,
		Attempts: d.Attempts, LastStatusCode: d.LastStatusCode, LastError: d.LastError, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	if d.Status == StatusPending {
		t := d.NextAttemptAt
		b.NextAttemptAt = &t
	}
	return b
}

// CreateRequest is the body of POST /v1/webhooks.
type CreateRequest struct {
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"event_types"`
}

// CreateEndpoint registers an endpoint and returns it with its signing secret, which is not
// kept anywhere readable: this is the one time it is shown. Invalid requests and refused
// targets are booking.CodeInvalid.
func (d *Dispatcher) CreateEndpoint(ctx context.Context, r CreateRequest) (Endpoint, string, error) {
	if len(r.URL) > maxURLLength {
		return Endpoint{}, "", booking.Errorf(booking.CodeInvalid, "url is longer than %d bytes", maxURLLength)
	}
	if len(r.Description) > maxDescription {
		return Endpoint{}, "", booking.Errorf(booking.CodeInvalid, "description is longer than %d bytes", maxDescription)
	}
	if len(r.EventTypes) == 0 {
		return Endpoint{}, "", booking.Errorf(booking.CodeInvalid, "event_types must name at least one event type")
	}
	var types []string
	for _, t := range r.EventTypes {
		if !feed.ValidType(t) {
			return Endpoint{}, "", booking.Errorf(booking.CodeInvalid, "event type %q is unknown; known: %v", t, feed.Types())
		}
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, registrationBudget)
	defer cancel()
	u, err := d.guard.checkURL(rctx, r.URL)
	if err != nil {
		return Endpoint{}, "", booking.Errorf(booking.CodeInvalid, "url: %v", err)
	}
	now := d.cfg.Now()
	secret := newSecret()
	e := Endpoint{ID: newEndpointID(), URL: u.String(), Description: r.Description, EventTypes: types,
		CreatedAt: now, UpdatedAt: now}
	if e.Secret, err = sealSecret(d.cfg.Sealer, e.ID, secret); err != nil {
		return Endpoint{}, "", err
	}
	if err := d.store.CreateEndpoint(ctx, e); err != nil {
		return Endpoint{}, "", err
	}
	d.forgetEndpoints()
	e, err = d.store.GetEndpoint(ctx, e.ID)
	return e, secret, err
}

// Retry makes a delivery due now. A delivery of a disabled endpoint is booking.CodeConflict.
func (d *Dispatcher) Retry(ctx context.Context, endpointID, deliveryID string) (Delivery, error) {
	ep, err := d.store.GetEndpoint(ctx, endpointID)
	if err != nil {
		return Delivery{}, err
	}
	if ep.Disabled {
		return Delivery{}, booking.Errorf(booking.CodeConflict, "the endpoint is disabled (%s); register it again", ep.DisabledReason)
	}
	if err := d.store.Reschedule(ctx, endpointID, deliveryID, d.cfg.Now()); err != nil {
		return Delivery{}, err
	}
	d.poke()
	return d.store.GetDelivery(ctx, endpointID, deliveryID)
}

// DeleteEndpoint removes an endpoint and its deliveries.
func (d *Dispatcher) DeleteEndpoint(ctx context.Context, id string) error {
	err := d.store.DeleteEndpoint(ctx, id)
	d.forgetEndpoints()
	return err
}

// storeErr gives store errors their code.
func storeErr(err error, what string) error {
	if errors.Is(err, ErrNotFound) {
		return booking.Errorf(booking.CodeNotFound, "no such %s", what)
	}
	return err
}

func (h *Handlers) create(c *gin.Context) {
	var req CreateRequest
	if err := decodeJSON(c.Request, &req); err != nil {
		h.fail(c, err)
		return
	}
	e, secret, err := h.d.CreateEndpoint(c.Request.Context(), req)
	if err != nil {
		h.fail(c, err)
		return
	}
	b := endpointBody(e)
	b.Secret = secret
	c.Header("Location", "/v1/webhooks/"+e.ID)
	c.Header("Cache-Control", "no-store") // the secret
	h.writeJSON(c, http.StatusCreated, b)
}

func (h *Handlers) list(c *gin.Context) {
	eps, err := h.d.store.ListEndpoints(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]EndpointBody, 0, len(eps))
	for _, e := range eps {
		out = append(out, endpointBody(e))
	}
	h.writeJSON(c, http.StatusOK, gin.H{"webhooks": out})
}

func (h *Handlers) get(c *gin.Context) {
	e, err := h.d.store.GetEndpoint(c.Request.Context(), c.Param("wid"))
	if err != nil {
		h.fail(c, storeErr(err, "webhook"))
		return
	}
	h.writeJSON(c, http.StatusOK, endpointBody(e))
}

func (h *Handlers) delete(c *gin.Context) {
	if err := h.d.DeleteEndpoint(c.Request.Context(), c.Param("wid")); err != nil {
		h.fail(c, storeErr(err, "webhook"))
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *Handlers) deliveries(c *gin.Context) {
	ctx := c.Request.Context()
	wid := c.Param("wid")
	limit := defaultPageSize
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			h.fail(c, booking.Errorf(booking.CodeInvalid, "limit must be an integer from 1 to %d", maxPageSize))
			return
		}
		limit = n
	}
	if _, err := h.d.store.GetEndpoint(ctx, wid); err != nil {
		h.fail(c, storeErr(err, "webhook"))
		return
	}
	ds, err := h.d.store.ListDeliveries(ctx, wid, limit, c.Query("before"))
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]DeliveryBody, 0, len(ds))
	for _, d := range ds {
		b := deliveryBody(d)
		if c.Query("attempts") == "true" {
			as, err := h.d.store.ListAttempts(ctx, d.ID)
			if err != nil {
				h.fail(c, err)
				return
			}
			for _, a := range as {
				b.AttemptList = append(b.AttemptList, AttemptBody{N: a.N, At: a.At, DurationMS: a.Duration.Milliseconds(),
					StatusCode: a.StatusCode, Error: a.Error})
			}
		}
		out = append(out, b)
	}
	page := gin.H{"deliveries": out}
	if len(ds) == limit {
		page["next_before"] = ds[len(ds)-1].ID
	}
	h.writeJSON(c, http.StatusOK, page)
}

func (h *Handlers) retry(c *gin.Context) {
	d, err := h.d.Retry(c.Request.Context(), c.Param("wid"), c.Param("did"))
	if err != nil {
		h.fail(c, storeErr(err, "webhook or delivery"))
		return
	}
	h.writeJSON(c, http.StatusAccepted, deliveryBody(d))
}

// decodeJSON reads a JSON object body strictly: application/json, bounded, no unknown
// fields, nothing after the object. Failures are booking.CodeMalformed.
func decodeJSON(r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return booking.Errorf(booking.CodeMalformed, "Content-Type must be application/json")
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBodyBytes+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return booking.Errorf(booking.CodeMalformed, "body: %v", err)
	}
	if dec.More() {
		return booking.Errorf(booking.CodeMalformed, "body: more than one JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return booking.Errorf(booking.CodeMalformed, "body: trailing data or larger than %d bytes", maxBodyBytes)
	}
	return nil
}

func (h *Handlers) writeJSON(c *gin.Context, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Data(status, "application/json", append(body, '\n'))
}
