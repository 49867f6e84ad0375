package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/allot/allot/api/wire"
)

// Error is a non-2xx answer of a typed call.
type Error struct {
	// Method and Path are the call's ("POST", "/v1/resources/r-1/holds").
	Method, Path string
	// Info describes the answer: its status, the base URL that gave it, X-Allot-Owner, ...
	Info
	// Problem is the answer's problem+json body; nil when the body was not one (the target
	// is not an Allot node, or a proxy answered).
	Problem *wire.Problem
	// RetryAfter is the answer's Retry-After; 0 when it had none.
	RetryAfter time.Duration
	// Body is the start of a body that was not a problem (at most 512 bytes).
	Body []byte
}

func newError(method, path string, r *Response) *Error {
	e := &Error{Method: method, Path: path, Info: r.Info}
	if ra := ParseRetryAfter(r.Header.Get("Retry-After"), time.Now()); ra > 0 {
		e.RetryAfter = ra
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == wire.ProblemContentType {
		var p wire.Problem
		if json.Unmarshal(r.Body, &p) == nil && strings.HasPrefix(p.Type, wire.ProblemTypeBase) {
			e.Problem = &p
		}
	}
	if e.Problem == nil {
		e.Body = r.Body[:min(len(r.Body), 512)]
	}
	return e
}

// Code is the problem's code ("sold_out", "busy"; see wire.Problem), or "" when the answer
// was not an Allot problem.
func (e *Error) Code() string {
	if e.Problem == nil {
		return ""
	}
	return e.Problem.Code
}

// FromAllot reports whether the answer was an Allot problem document; a 404 that is not
// means the target is not an Allot node (or not API v1).
func (e *Error) FromAllot() bool { return e.Problem != nil }

func (e *Error) Error() string {
	if e.Problem == nil {
		if e.Status == http.StatusNotFound {
			return fmt.Sprintf("target %s answered 404 to %s %s: is it an Allot node?", e.Base, e.Method, e.Path)
		}
		body := strings.TrimSpace(string(e.Body))
		if len(body) > 200 {
			body = body[:200] + "..."
		}
		return fmt.Sprintf("%s %s: %d %s from %s (not an Allot problem document): %q", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Base, body)
	}
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Problem.Code)
	if e.Problem.Detail != "" {
		msg += ": " + e.Problem.Detail
	}
	return msg
}

// ErrorCode returns the problem code of the *Error in err's chain, or "" when there is none
// (a transport error, or an answer that was not an Allot problem).
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return ""
}

// StatusOf returns the HTTP status of the *Error in err's chain: 0 when there is none (no
// answer, or err is nil).
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}
