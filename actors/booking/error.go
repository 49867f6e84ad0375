package booking

import (
	"errors"
	"fmt"
)

// Application error codes. Each maps to one HTTP status and one problem type in package api;
// the strings travel between nodes in protos.Error, so they are a wire contract.
const (
	CodeInvalid             = "invalid"              // the request is well-formed but not acceptable (422)
	CodeMalformed           = "malformed"            // the request cannot be parsed (400)
	CodeNotFound            = "not_found"            // no such resource or hold (404)
	CodeAlreadyExists       = "already_exists"       // a resource with this id exists (409)
	CodeSoldOut             = "sold_out"             // not enough capacity in a requested bucket (409)
	CodeConflict            = "conflict"             // the hold's state forbids the transition (409)
	CodeLimitExceeded       = "limit_exceeded"       // a per-user or per-hold limit of the resource (409)
	CodePaymentRequired     = "payment_required"     // a priced hold is confirmed by its payment, not a plain confirm (409)
	CodeIdempotencyMismatch = "idempotency_mismatch" // key reused with a different request (422)
	CodeBusy                = "busy"                 // the resource's queue is full; retry later (429)
	CodeUnavailable         = "unavailable"          // store or owner unreachable; retry later (503)
	CodeInternal            = "internal"             // a bug (500)
)

// Identity and access codes (package api/auth). They never travel between nodes: the edge
// decides them before a command is dispatched.
const (
	CodeUnauthenticated = "unauthenticated" // no bearer token, or one that is not acceptable (401)
	CodeForbidden       = "forbidden"       // signed in, but the role does not allow it (403)
	CodeMFARequired     = "mfa_required"    // the role allows it, but the token proves no second factor (403)
	CodeRateLimited     = "rate_limited"    // the caller is over a rate limit of the edge (429, api/ratelimit)
)

// Error is Allot's one coded application error. Code is machine-readable and stable; Message is
// for humans and may change. Errors that are not *Error are reported as CodeInternal.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for nil, and
// CodeInternal for any other error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := err.(*Error); ok { // the common case, without errors.As's allocation
		return e.Code
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the message of the first *Error in err's chain; other errors get a
// generic text so that internal details do not leak to clients.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := err.(*Error); ok {
		return e.Message
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Retryable reports whether a client may retry the same request (with the same
// Idempotency-Key) and expect it to be decided afresh.
func Retryable(code string) bool {
	return code == CodeBusy || code == CodeUnavailable || code == CodeRateLimited
}
