package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/persistence"
)

// ProblemContentType is the media type of every error response (RFC 9457); the body is a
// wire.Problem.
const ProblemContentType = wire.ProblemContentType

// ProblemTypeBase prefixes every problem type URI; the rest is the problem's slug, e.g.
// "https://allot.dev/problems/sold-out".
const ProblemTypeBase = wire.ProblemTypeBase

// Problem kinds that the HTTP edge detects on its own and that have no booking code.
const (
	kindUnsupportedMediaType = "unsupported_media_type"
	kindPayloadTooLarge      = "payload_too_large"
	kindMethodNotAllowed     = "method_not_allowed"
	kindRouteNotFound        = "route_not_found"
	kindClientClosed         = "client_closed_request"
)

// StatusClientClosedRequest (499, nginx's convention) records a request whose client went
// away before the answer: counted and logged apart from 503, since it is not a server
// failure. Nobody reads its body.
const StatusClientClosedRequest = 499

// maxInstance bounds the bytes of the request path echoed in a problem's instance and in the
// request log, so that a huge path does not give a huge answer or log line.
const maxInstance = 256

// problemKind is one problem type: its slug (the end of its type URI), title, status and the
// booking code it carries.
type problemKind struct {
	slug   string
	title  string
	status int
	code   string
}

// kindOf maps a booking code, or one of the edge-only kinds above, to its problem type. This
// switch is the one place where codes meet HTTP statuses. Unknown codes are internal errors.
func kindOf(code string) problemKind {
	switch code {
	case booking.CodeMalformed:
		return problemKind{"malformed", "Malformed request", http.StatusBadRequest, code}
	case booking.CodeInvalid:
		return problemKind{"invalid", "Invalid request", http.StatusUnprocessableEntity, code}
	case booking.CodeIdempotencyMismatch:
		return problemKind{"idempotency-mismatch", "Idempotency-Key reused with a different request", http.StatusUnprocessableEntity, code}
	case booking.CodeNotFound:
		return problemKind{"not-found", "Not found", http.StatusNotFound, code}
	case booking.CodeAlreadyExists:
		return problemKind{"already-exists", "Resource already exists", http.StatusConflict, code}
	case booking.CodeSoldOut:
		return problemKind{"sold-out", "Sold out", http.StatusConflict, code}
	case booking.CodeConflict:
		return problemKind{"conflict", "Conflicting state", http.StatusConflict, code}
	case booking.CodeLimitExceeded:
		return problemKind{"limit-exceeded", "Limit exceeded", http.StatusConflict, code}
	case booking.CodePaymentRequired:
		return problemKind{"payment-required", "Payment required", http.StatusConflict, code}
	case booking.CodeBusy:
		return problemKind{"busy", "Resource busy", http.StatusTooManyRequests, code}
	case booking.CodeUnavailable:
		return problemKind{"unavailable", "Service unavailable", http.StatusServiceUnavailable, code}
	case booking.CodeUnauthenticated:
		return problemKind{"unauthenticated", "Authentication required", http.StatusUnauthorized, code}
	case booking.CodeForbidden:
		return problemKind{"forbidden", "Forbidden", http.StatusForbidden, code}
	case booking.CodeMFARequired:
		return problemKind{"mfa-required", "Second factor required", http.StatusForbidden, code}
	case booking.CodeRateLimited:
		return problemKind{"rate-limited", "Too many requests", http.StatusTooManyRequests, code}
	case kindUnsupportedMediaType:
		return problemKind{"unsupported-media-type", "Unsupported media type", http.StatusUnsupportedMediaType, booking.CodeMalformed}
	case kindPayloadTooLarge:
		return problemKind{"payload-too-large", "Request body too large", http.StatusRequestEntityTooLarge, booking.CodeMalformed}
	case kindMethodNotAllowed:
		return problemKind{"method-not-allowed", "Method not allowed", http.StatusMethodNotAllowed, booking.CodeMalformed}
	case kindRouteNotFound:
		return problemKind{"route-not-found", "No such route", http.StatusNotFound, booking.CodeNotFound}
	case kindClientClosed:
		return problemKind{"client-closed-request", "Client closed request", StatusClientClosedRequest, booking.CodeUnavailable}
	default:
		return problemKind{"internal", "Internal error", http.StatusInternalServerError, booking.CodeInternal}
	}
}

// problemCodes lists every code and edge-only kind kindOf knows, for tests and documentation.
func problemCodes() []string {
	return []string{
		booking.CodeMalformed, booking.CodeInvalid, booking.CodeIdempotencyMismatch,
		booking.CodeNotFound, booking.CodeAlreadyExists, booking.CodeSoldOut, booking.CodeConflict,
		booking.CodeLimitExceeded, booking.CodePaymentRequired, booking.CodeBusy, booking.CodeUnavailable, booking.CodeInternal,
		booking.CodeUnauthenticated, booking.CodeForbidden, booking.CodeMFARequired, booking.CodeRateLimited,
		kindUnsupportedMediaType, kindPayloadTooLarge, kindMethodNotAllowed, kindRouteNotFound,
		kindClientClosed,
	}
}

// edgeError is a problem the HTTP edge detects before anything is dispatched and that has no
// booking code: a wrong media type, an oversized body, an unknown route or method.
type edgeError struct {
	kind   string
	detail string
}

func (e *edgeError) Error() string { return e.kind + ": " + e.detail }

// answer is what an error becomes on the wire.
type answer struct {
	kind       problemKind
	detail     string
	retryAfter time.Duration
}

// answerFor maps an error from decoding, validation or a HoldLister to its problem:
// *edgeError and *booking.Error by kind and code; an unreachable store or an expired context
// to 503 unavailable; anything else to 500 internal, without leaking its text. An error in
// the chain with a RetryAfter method (ratelimit.Exceeded: how long until the caller's budget
// has a unit again) sets the answer's Retry-After.
func answerFor(err error) answer {
	var ee *edgeError
	if errors.As(err, &ee) {
		return answer{kind: kindOf(ee.kind), detail: ee.detail}
	}
	var be *booking.Error
	if errors.As(err, &be) {
		var wait interface{ RetryAfter() time.Duration }
		var after time.Duration
		if errors.As(err, &wait) {
			after = wait.RetryAfter()
		}
		return answerForCode(be.Code, be.Message, after)
	}
	if errors.Is(err, persistence.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return answerForCode(booking.CodeUnavailable, "the store did not answer; retry later", 0)
	}
	return answerForCode(booking.CodeInternal, "", 0)
}

// answerForCode maps an application error (from the model, an actor reply or the edge's own
// validation) to its problem. Internal errors get a generic detail.
func answerForCode(code, message string, retryAfter time.Duration) answer {
	k := kindOf(code)
	if k.code == booking.CodeInternal {
		message = "internal error"
	}
	return answer{kind: k, detail: message, retryAfter: retryAfter}
}

// retryAfterSeconds is the Retry-After value for d: whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	s := (d + time.Second - 1) / time.Second
	return strconv.FormatInt(max(int64(s), 1), 10)
}

// Every error answer goes through Server.fail or Server.problem, and from there through
// writeProblem: one place maps errors to statuses, writes problem+json and leaves what the
// request log needs (the problem and, for a 5xx, its cause) on the gin context. Handlers do
// not log failures themselves; the request log (observe) writes one line per request.

// Gin context keys for the request log.
const (
	problemKey = "allot.problem" // answer: the problem the request was answered with
	causeKey   = "allot.cause"   // []slog.Attr: why, for a 5xx
)

// fail answers the request with the problem err maps to (answerFor); err is the cause the
// request log shows for a 5xx.
func (s *Server) fail(c *gin.Context, err error) {
	s.problem(c, answerFor(err), slog.Any("err", err))
}

// problem answers the request with a. cause says why, for the request log of a 5xx; it is
// not logged for a 4xx, whose problem code says enough (and whose messages may quote client
// values). A 503 whose client already went away becomes 499 client-closed-request, so that
// an alert on 503 does not fire on client aborts.
func (s *Server) problem(c *gin.Context, a answer, cause ...slog.Attr) {
	if a.kind.status == http.StatusServiceUnavailable && errors.Is(c.Request.Context().Err(), context.Canceled) {
		a = answer{kind: kindOf(kindClientClosed), detail: "the client closed the request before the answer"}
	}
	if len(cause) > 0 {
		c.Set(causeKey, cause)
	}
	writeProblem(c, a)
}

// requestProblem returns the problem the request was answered with, if any, and its cause.
func requestProblem(c *gin.Context) (answer, []slog.Attr, bool) {
	v, ok := c.Get(problemKey)
	if !ok {
		return answer{}, nil, false
	}
	a, _ := v.(answer)
	cv, _ := c.Get(causeKey)
	cause, _ := cv.([]slog.Attr)
	return a, cause, true
}

// truncatePath shortens a request path to at most maxInstance bytes (at a UTF-8 boundary,
// then "..."), for a problem's instance and the request log.
func truncatePath(p string) string {
	if len(p) <= maxInstance {
		return p
	}
	cut := maxInstance
	for cut > 0 && !utf8.RuneStart(p[cut]) {
		cut--
	}
	return p[:cut] + "..."
}

// writeProblem answers the request with a problem+json body. Busy and unavailable answers
// carry Retry-After. Only Server.problem calls it.
func writeProblem(c *gin.Context, a answer) {
	p := wire.Problem{
		Type:     ProblemTypeBase + a.kind.slug,
		Title:    a.kind.title,
		Status:   a.kind.status,
		Detail:   a.detail,
		Instance: truncatePath(c.Request.URL.Path),
		Code:     a.kind.code,
	}
	c.Set(problemKey, a)
	if a.kind.status == http.StatusTooManyRequests || a.kind.status == http.StatusServiceUnavailable {
		c.Header("Retry-After", retryAfterSeconds(a.retryAfter))
	}
	body, err := json.Marshal(p)
	if err != nil { // cannot happen for this struct; keep the status anyway
		body = []byte(`{"type":"` + ProblemTypeBase + `internal","title":"Internal error","status":500,"code":"internal"}`)
	}
	c.Header("Content-Type", ProblemContentType) // replaces one a failed handler may have set
	c.Data(a.kind.status, ProblemContentType, append(body, '\n'))
	c.Abort()
}
