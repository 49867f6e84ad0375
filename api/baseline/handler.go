package baseline

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/wire"
)

// Handler serves the baseline subset of Allot's API v1 on gin:
//
//	POST /v1/resources                      201 resource | 409 already_exists
//	GET  /v1/resources/{rid}/availability   200 availability | 404 not_found
//	POST /v1/resources/{rid}/holds          201 hold | 409 sold_out | 422 idempotency_mismatch
//
// with Allot's request and response bodies and problem+json errors, so that the load
// generator drives it unchanged (with --hold-only: there is no confirm or cancel). Holds never
// expire in a baseline: it measures the hold path only. It is safe for concurrent use.
type Handler struct {
	engine *gin.Engine
	store  store
	now    func() time.Time
}

// store is one design behind the handler.
//
// Thread-safety: every method is called concurrently by every request in flight.
//
// Errors: a *booking.Error with CodeNotFound, CodeAlreadyExists, CodeSoldOut, CodeInvalid or
// CodeIdempotencyMismatch for the client's mistakes and for sold out; an error wrapping
// errUnavailable when the database cannot be reached (answered 503 with Retry-After); anything
// else is answered 500. Methods honour ctx.
type store interface {
	createResource(ctx context.Context, r *resource) error
	availability(ctx context.Context, rid string) (map[string]wire.Bucket, error)
	// placeHold claims h.Quantity in each of h.Buckets of h.ResourceID, all or nothing, and
	// records the hold. With a non-empty idemKey, a key already used on the resource returns
	// the hold it produced (replayed true), or CodeIdempotencyMismatch when the request
	// differs. The answer is the hold's JSON.
	placeHold(ctx context.Context, h *wire.Hold, idemKey, fingerprint string) (answer []byte, replayed bool, err error)
}

// errUnavailable marks a store error that the client may retry.
var errUnavailable = errors.New("baseline store unavailable")

// maxBodyBytes bounds request bodies, as Allot's edge does.
const maxBodyBytes = 1 << 20

func newHandler(s store) *Handler {
	gin.SetMode(gin.ReleaseMode) // no debug route dump; api.Server does the same
	e := gin.New()
	e.ContextWithFallback = true
	h := &Handler{engine: e, store: s, now: time.Now}
	v1 := e.Group("/v1")
	v1.POST("/resources", h.createResource)
	v1.GET("/resources/:rid/availability", h.availability)
	v1.POST("/resources/:rid/holds", h.placeHold)
	e.NoRoute(func(c *gin.Context) { writeProblem(c, booking.Errorf(booking.CodeNotFound, "no such route")) })
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.engine.ServeHTTP(w, r) }

// resource is the body of POST /v1/resources, with what validate derives from it.
type resource struct {
	wire.CreateResource

	ttl time.Duration
	now time.Time
}

// holdBody is the body of POST .../holds.
type holdBody wire.PlaceHold

func (h *Handler) createResource(c *gin.Context) {
	var r resource
	if !decode(c, &r) {
		return
	}
	if err := r.validate(); err != nil {
		writeProblem(c, err)
		return
	}
	r.now = h.now().UTC()
	if err := h.store.createResource(c, &r); err != nil {
		writeProblem(c, err)
		return
	}
	buckets := make(map[string]wire.Bucket, len(r.Buckets))
	for k, cp := range r.Buckets {
		buckets[k] = wire.Bucket{Capacity: cp, Available: cp}
	}
	c.JSON(http.StatusCreated, wire.Resource{
		ID: r.ID, Name: r.Name, Price: r.Price, HoldTTL: wire.FormatDuration(r.ttl), Buckets: buckets,
		Version: 1, CreatedAt: r.now, UpdatedAt: r.now,
	})
}

func (h *Handler) availability(c *gin.Context) {
	rid := c.Param("rid")
	if !booking.ValidID(rid) {
		writeProblem(c, booking.Errorf(booking.CodeNotFound, "no resource %q", rid))
		return
	}
	b, err := h.store.availability(c, rid)
	if err != nil {
		writeProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, wire.Availability{ResourceID: rid, Buckets: b})
}

func (h *Handler) placeHold(c *gin.Context) {
	rid := c.Param("rid")
	if !booking.ValidID(rid) {
		writeProblem(c, booking.Errorf(booking.CodeNotFound, "no resource %q", rid))
		return
	}
	key := c.GetHeader(wire.IdempotencyKeyHeader)
	if len(key) > booking.MaxIdempotencyLen {
		writeProblem(c, booking.Errorf(booking.CodeInvalid, "Idempotency-Key is longer than %d", booking.MaxIdempotencyLen))
		return
	}
	var b holdBody
	if !decode(c, &b) {
		return
	}
	if err := b.validate(); err != nil {
		writeProblem(c, err)
		return
	}
	now := h.now().UTC().Truncate(time.Millisecond)
	ho := &wire.Hold{
		ID: newHoldID(), ResourceID: rid, Status: wire.HoldHeld, Buckets: b.Buckets, Quantity: b.Quantity,
		UserID: b.UserID, ExpiresAt: new(now.Add(booking.DefaultHoldTTL)), CreatedAt: now, UpdatedAt: now,
	}
	ans, replayed, err := h.store.placeHold(c, ho, key, booking.Fingerprint(b.Buckets, b.Quantity, b.UserID))
	if err != nil {
		writeProblem(c, err)
		return
	}
	if replayed {
		c.Header(wire.IdempotentReplayedHeader, "true")
	}
	c.Data(http.StatusCreated, "application/json; charset=utf-8", ans)
}

// decode reads a JSON body strictly (one object, no unknown fields) into v, or answers 400
// or 415 and returns false.
func decode(c *gin.Context, v any) bool {
	if ct := c.ContentType(); ct != "application/json" {
		writeStatusProblem(c, http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
			booking.CodeMalformed, "Content-Type must be application/json")
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes))
	if err != nil {
		writeProblem(c, booking.Errorf(booking.CodeMalformed, "the request body could not be read"))
		return false
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil || d.More() {
		writeProblem(c, booking.Errorf(booking.CodeMalformed, "the request body is not the expected JSON object"))
		return false
	}
	return true
}

func (r *resource) validate() error {
	switch {
	case !booking.ValidID(r.ID):
		return booking.Errorf(booking.CodeInvalid, "id must be 1..%d URL-safe characters", booking.MaxIDLength)
	case r.Name == "" || len(r.Name) > booking.MaxNameLength:
		return booking.Errorf(booking.CodeInvalid, "name must be 1..%d bytes", booking.MaxNameLength)
	case len(r.Buckets) == 0 || len(r.Buckets) > booking.MaxBuckets:
		return booking.Errorf(booking.CodeInvalid, "a resource has 1..%d buckets", booking.MaxBuckets)
	case r.Price != nil && (r.Price.Amount < 0 || len(r.Price.Currency) != 3):
		return booking.Errorf(booking.CodeInvalid, "price needs an amount >= 0 and a 3-letter currency")
	}
	for k, cp := range r.Buckets {
		if !booking.ValidBucketKey(k) || cp < 0 || cp > booking.MaxCapacity {
			return booking.Errorf(booking.CodeInvalid, "bucket %q: bad key or capacity", k)
		}
	}
	r.ttl = booking.DefaultHoldTTL
	if r.HoldTTL != "" {
		ttl, err := time.ParseDuration(r.HoldTTL)
		if err != nil || ttl < booking.MinHoldTTL || ttl > booking.MaxHoldTTL {
			return booking.Errorf(booking.CodeInvalid, "hold_ttl must be a duration between %v and %v", booking.MinHoldTTL, booking.MaxHoldTTL)
		}
		r.ttl = ttl
	}
	return nil
}

func (b *holdBody) validate() error {
	switch {
	case len(b.Buckets) == 0 || len(b.Buckets) > booking.MaxHoldBuckets:
		return booking.Errorf(booking.CodeInvalid, "a hold claims 1..%d buckets", booking.MaxHoldBuckets)
	case b.Quantity < 1 || b.Quantity > booking.MaxQuantity:
		return booking.Errorf(booking.CodeInvalid, "quantity must be 1..%d", booking.MaxQuantity)
	case !booking.ValidID(b.UserID):
		return booking.Errorf(booking.CodeInvalid, "user_id must be 1..%d URL-safe characters", booking.MaxIDLength)
	}
	seen := make(map[string]bool, len(b.Buckets))
	for _, k := range b.Buckets {
		if !booking.ValidBucketKey(k) || seen[k] {
			return booking.Errorf(booking.CodeInvalid, "bucket %q: bad or repeated key", k)
		}
		seen[k] = true
	}
	return nil
}

// newHoldID returns "h_" and 24 random hex characters.
func newHoldID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "h_" + hex.EncodeToString(b[:])
}

// writeProblem answers err as Allot does: application/problem+json with the booking code.
func writeProblem(c *gin.Context, err error) {
	code := booking.ErrorCode(err)
	if errors.Is(err, errUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		code = booking.CodeUnavailable
	}
	status, slug, title := http.StatusInternalServerError, "internal", "Internal error"
	switch code {
	case booking.CodeMalformed:
		status, slug, title = http.StatusBadRequest, "malformed", "Malformed request"
	case booking.CodeInvalid:
		status, slug, title = http.StatusUnprocessableEntity, "invalid", "Invalid request"
	case booking.CodeIdempotencyMismatch:
		status, slug, title = http.StatusUnprocessableEntity, "idempotency-mismatch", "Idempotency-Key reused with a different request"
	case booking.CodeNotFound:
		status, slug, title = http.StatusNotFound, "not-found", "Not found"
	case booking.CodeAlreadyExists:
		status, slug, title = http.StatusConflict, "already-exists", "Resource already exists"
	case booking.CodeSoldOut:
		status, slug, title = http.StatusConflict, "sold-out", "Sold out"
	case booking.CodeUnavailable:
		status, slug, title = http.StatusServiceUnavailable, "unavailable", "Service unavailable"
		c.Header("Retry-After", "1")
	default:
		code = booking.CodeInternal
	}
	detail := booking.ErrorMessage(err)
	if code == booking.CodeUnavailable {
		detail = "the store is unavailable; retry later"
	}
	writeStatusProblem(c, status, slug, title, code, detail)
}

func writeStatusProblem(c *gin.Context, status int, slug, title, code, detail string) {
	b, _ := json.Marshal(wire.Problem{
		Type: wire.ProblemTypeBase + slug, Title: title, Status: status, Detail: detail, Code: code,
	})
	c.Data(status, wire.ProblemContentType, b)
	c.Abort()
}

// notFound is the error of an unknown resource.
func notFound(rid string) error { return booking.Errorf(booking.CodeNotFound, "no resource %q", rid) }

// soldOut is the error of a bucket without enough capacity.
func soldOut(key string) error {
	return booking.Errorf(booking.CodeSoldOut, "bucket %s has not enough capacity", key)
}

// unavailable wraps a store error that the client may retry.
func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, errUnavailable, err)
}

// mustJSON marshals a value that cannot fail to marshal.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
