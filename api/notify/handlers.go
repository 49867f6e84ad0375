package notify

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/mount"
)

// Limits of the API.
const (
	maxBodyBytes     = 8 << 10
	maxTokenLength   = 4096
	maxDevices       = 20
	defaultListLimit = 50
	maxListLimit     = 500
)

// ErrorWriter answers a request with the problem for err: *booking.Error by its code, the
// rest as api.Server does. api passes its own (api.Fail), so codes meet statuses in one place.
type ErrorWriter func(c *gin.Context, err error)

// Handlers serve devices, preferences, calendar feeds and the failed-notification list.
// Create them with NewHandlers.
type Handlers struct {
	s      *Service
	fail   ErrorWriter
	caller func(c *gin.Context) string
}

// NewHandlers returns the API of s. caller returns the signed-in user's id (api:
// PrincipalOf(c).Subject); the routes that use it are Customer routes, so it is never "".
func NewHandlers(s *Service, fail ErrorWriter, caller func(c *gin.Context) string) *Handlers {
	return &Handlers{s: s, fail: fail, caller: caller}
}

// Routes are the routes with their policies, for api/mount. The user feed is Public because
// calendar apps cannot send a bearer token: the unguessable, rotatable token in its URL is
// the credential.
func (h *Handlers) Routes() []mount.Route {
	return []mount.Route{
		{Method: http.MethodPost, Path: "/v1/me/devices", Policy: auth.Customer, Handler: h.addDevice},
		{Method: http.MethodDelete, Path: "/v1/me/devices/:did", Policy: auth.Customer, Handler: h.deleteDevice},
		{Method: http.MethodGet, Path: "/v1/me/notification-preferences", Policy: auth.Customer, Handler: h.getPrefs},
		{Method: http.MethodPut, Path: "/v1/me/notification-preferences", Policy: auth.Customer, Handler: h.putPrefs},
		{Method: http.MethodPost, Path: "/v1/me/calendar-token", Policy: auth.Customer, Handler: h.rotateToken},
		{Method: http.MethodGet, Path: "/v1/me/calendar.ics", Policy: auth.Public, Handler: h.userFeed},
		{Method: http.MethodGet, Path: "/v1/resources/:rid/calendar.ics", Policy: auth.Operator, Handler: h.resourceFeed},
		{Method: http.MethodGet, Path: "/v1/notifications", Policy: auth.Operator, Handler: h.listNotifications},
		{Method: http.MethodPost, Path: "/v1/notifications/:id/retry", Policy: auth.Operator, Handler: h.retryNotification},
	}
}

// DeviceRequest is the body of POST /v1/me/devices.
type DeviceRequest struct {
	Token    string `json:"token"`
	Platform string `json:"platform"`
}

// DeviceBody is a device on the wire; the token is not echoed.
type DeviceBody struct {
	ID        string    `json:"id"`
	Platform  string    `json:"platform"`
	CreatedAt time.Time `json:"created_at"`
}

func (h *Handlers) addDevice(c *gin.Context) {
	var req DeviceRequest
	if err := decodeJSON(c.Request, &req); err != nil {
		h.fail(c, err)
		return
	}
	if req.Token == "" || len(req.Token) > maxTokenLength {
		h.fail(c, booking.Errorf(booking.CodeInvalid, "token must be 1 to %d characters", maxTokenLength))
		return
	}
	if !slices.Contains([]string{"android", "ios", "web"}, req.Platform) {
		h.fail(c, booking.Errorf(booking.CodeInvalid, "platform must be android, ios or web"))
		return
	}
	ctx, user := c.Request.Context(), h.caller(c)
	have, err := h.s.d.Store.Devices(ctx, user)
	if err != nil {
		h.fail(c, err)
		return
	}
	if len(have) >= maxDevices {
		h.fail(c, booking.Errorf(booking.CodeLimitExceeded, "at most %d devices per user", maxDevices))
		return
	}
	d := Device{ID: "dev_" + randomID(12), UserID: user, Token: req.Token, Platform: req.Platform, CreatedAt: h.s.d.Now().UTC()}
	if err := h.s.d.Store.AddDevice(ctx, d); err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Location", "/v1/me/devices/"+d.ID)
	writeJSON(c, http.StatusCreated, DeviceBody{ID: d.ID, Platform: d.Platform, CreatedAt: d.CreatedAt})
}

func (h *Handlers) deleteDevice(c *gin.Context) {
	err := h.s.d.Store.DeleteDevice(c.Request.Context(), h.caller(c), c.Param("did"))
	if errors.Is(err, ErrNotFound) {
		err = booking.Errorf(booking.CodeNotFound, "no such device")
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// PreferencesBody is the wire form of Preferences, with every kind listed.
type PreferencesBody struct {
	Channels map[Kind][]Channel `json:"channels"`
	Locale   string             `json:"locale"`
	Timezone string             `json:"timezone"`
}

func (h *Handlers) getPrefs(c *gin.Context) {
	p, err := h.s.preferences(c.Request.Context(), h.caller(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	b := PreferencesBody{Channels: map[Kind][]Channel{}, Locale: p.Locale, Timezone: p.Timezone}
	if b.Locale == "" {
		b.Locale = DefaultLanguage
	}
	for _, k := range Kinds() {
		b.Channels[k] = channelsFor(p, k)
	}
	writeJSON(c, http.StatusOK, b)
}

var localePattern = regexp.MustCompile(`^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}$`)

func (h *Handlers) putPrefs(c *gin.Context) {
	var b PreferencesBody
	if err := decodeJSON(c.Request, &b); err != nil {
		h.fail(c, err)
		return
	}
	if b.Locale != "" && !localePattern.MatchString(b.Locale) {
		h.fail(c, booking.Errorf(booking.CodeInvalid, "locale must be a BCP 47 tag such as de-DE"))
		return
	}
	if b.Timezone != "" {
		if err := booking.ValidateTimezone(b.Timezone); err != nil {
			h.fail(c, err)
			return
		}
	}
	for k, chs := range b.Channels {
		if !slices.Contains(Kinds(), k) {
			h.fail(c, booking.Errorf(booking.CodeInvalid, "unknown message kind %q", k))
			return
		}
		for _, ch := range chs {
			if ch != ChannelEmail && ch != ChannelPush && ch != ChannelSMS {
				h.fail(c, booking.Errorf(booking.CodeInvalid, "unknown channel %q", ch))
				return
			}
		}
	}
	p := Preferences{Channels: b.Channels, Locale: b.Locale, Timezone: b.Timezone}
	if err := h.s.d.Store.PutPreferences(c.Request.Context(), h.caller(c), p, h.s.d.Now()); err != nil {
		h.fail(c, err)
		return
	}
	h.getPrefs(c)
}

// TokenBody answers POST /v1/me/calendar-token: the new token (shown once) and the feed URL.
type TokenBody struct {
	Token string `json:"token"`
	URL   string `json:"url"`
}

// rotateToken makes a new feed token; the old URL stops working at once. Only the token's
// SHA-256 is stored.
func (h *Handlers) rotateToken(c *gin.Context) {
	tok := "cal_" + randomID(24)
	if err := h.s.d.Store.SetCalendarToken(c.Request.Context(), h.caller(c), hashToken(tok), h.s.d.Now()); err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	writeJSON(c, http.StatusCreated, TokenBody{Token: tok, URL: "/v1/me/calendar.ics?token=" + tok})
}

func (h *Handlers) userFeed(c *gin.Context) {
	tok := c.Query("token")
	if tok == "" || len(tok) > 100 {
		h.fail(c, booking.Errorf(booking.CodeUnauthenticated, "a calendar token is required"))
		return
	}
	ctx := c.Request.Context()
	user, err := h.s.d.Store.CalendarTokenUser(ctx, hashToken(tok))
	if errors.Is(err, ErrNotFound) {
		err = booking.Errorf(booking.CodeUnauthenticated, "unknown or revoked calendar token")
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	holds, err := h.s.d.Store.HoldsOfUser(ctx, user, StatusConfirmed, h.s.cfg.FeedLimit)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.writeFeed(c, "Bookings", holds)
}

func (h *Handlers) resourceFeed(c *gin.Context) {
	ctx, rid := c.Request.Context(), c.Param("rid")
	holds, err := h.s.d.Store.HoldsOfResource(ctx, rid, StatusConfirmed, h.s.cfg.FeedLimit)
	if err != nil {
		h.fail(c, err)
		return
	}
	res, err := h.s.resource(ctx, rid)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.writeFeed(c, res.Name, holds)
}

func (h *Handlers) writeFeed(c *gin.Context, name string, holds []HoldState) {
	ctx := c.Request.Context()
	invs := make([]Invite, 0, len(holds))
	for _, hs := range holds {
		res, err := h.s.resource(ctx, hs.ResourceID)
		if err != nil {
			h.fail(c, err)
			return
		}
		sp, _ := SpanOf(hs.Buckets, zone(res.Timezone), res.SlotEvery)
		invs = append(invs, Invite{HoldID: hs.HoldID, Sequence: hs.Version, Summary: res.Name, Span: sp,
			Zone: zoneName(res.Timezone), Stamp: hs.UpdatedAt})
	}
	c.Header("Cache-Control", "private, max-age=300")
	c.Data(http.StatusOK, "text/calendar; charset=utf-8", []byte(FeedICS(name, invs)))
}

// NotificationBody is a notification on the wire (no addresses: they are looked up at send
// time and never stored here).
type NotificationBody struct {
	ID        string    `json:"id"`
	EventID   string    `json:"event_id"`
	Channel   Channel   `json:"channel"`
	Kind      Kind      `json:"kind"`
	HoldID    string    `json:"hold_id"`
	Status    string    `json:"status"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (h *Handlers) listNotifications(c *gin.Context) {
	status := c.DefaultQuery("status", StatusFailed)
	if !slices.Contains([]string{StatusPending, StatusSent, StatusSkipped, StatusFailed}, status) {
		h.fail(c, booking.Errorf(booking.CodeInvalid, "status must be pending, sent, skipped or failed"))
		return
	}
	limit := defaultListLimit
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			h.fail(c, booking.Errorf(booking.CodeInvalid, "limit must be 1 to %d", maxListLimit))
			return
		}
		limit = n
	}
	ns, err := h.s.d.Store.Notifications(c.Request.Context(), status, limit)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]NotificationBody, 0, len(ns))
	for _, n := range ns {
		out = append(out, notificationBody(n))
	}
	writeJSON(c, http.StatusOK, gin.H{"notifications": out})
}

func notificationBody(n Notification) NotificationBody {
	return NotificationBody{ID: n.ID, EventID: n.EventID, Channel: n.Channel, Kind: n.Kind, HoldID: n.HoldID,
		Status: n.Status, Attempts: n.Attempts, LastError: n.LastError, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt}
}

// retryNotification makes a failed notification due now (Retried) and wakes the workers,
// which attempt it at once. Answered 202: the attempt has not happened yet.
func (h *Handlers) retryNotification(c *gin.Context) {
	n, err := h.s.d.Store.RetryNotification(c.Request.Context(), c.Param("id"), h.s.d.Now())
	switch {
	case errors.Is(err, ErrNotFound):
		err = booking.Errorf(booking.CodeNotFound, "no such notification")
	case errors.Is(err, ErrNotRetryable):
		err = booking.Errorf(booking.CodeConflict, "the notification is %s; only a failed one can be retried", n.Status)
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.s.m.retries.WithLabelValues(string(n.Channel)).Inc()
	h.s.Wake()
	writeJSON(c, http.StatusAccepted, notificationBody(n))
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

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
	if _, err := dec.Token(); err != io.EOF {
		return booking.Errorf(booking.CodeMalformed, "body: trailing data or larger than %d bytes", maxBodyBytes)
	}
	return nil
}

func writeJSON(c *gin.Context, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		c.Status(http.StatusInternalServerError)
		return
	}
	c.Data(status, "application/json", append(body, '\n'))
}
