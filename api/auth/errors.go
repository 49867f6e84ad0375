package auth

import (
	"errors"

	"github.com/allot/allot/actors/booking"
)

// Reasons a token or a request is refused. Every error this package returns for a refused
// token or request matches exactly one of them with errors.Is, and carries the booking code
// the HTTP edge answers with (booking.ErrorCode).
var (
	// 401 unauthenticated, without a token: the WWW-Authenticate answer names no error.
	ErrNoToken = errors.New("a bearer token is required")

	// 401 unauthenticated with a token that is not acceptable (error="invalid_token").
	ErrMalformed   = errors.New("the token is not a well-formed signed JWT")
	ErrAlgorithm   = errors.New("the token's algorithm is not one the issuer's key set offers")
	ErrUnknownKey  = errors.New("the token is signed with a key the issuer does not publish")
	ErrSignature   = errors.New("the token's signature does not verify")
	ErrIssuer      = errors.New("the token was issued by another issuer")
	ErrAudience    = errors.New("the token is meant for another audience")
	ErrExpired     = errors.New("the token has expired")
	ErrNotYetValid = errors.New("the token is not valid yet")
	ErrNoSubject   = errors.New("the token names no user")

	// 403.
	ErrForbidden   = errors.New("the token's roles do not allow this")
	ErrMFARequired = errors.New("this needs a token that proves a second factor")
)

// refusal is a refused token or request: it matches its reason and its coded booking error,
// so that errors.Is finds the reason and booking.ErrorCode / the edge find the code.
type refusal struct {
	reason error
	coded  *booking.Error
}

func (r *refusal) Error() string   { return r.coded.Error() }
func (r *refusal) Unwrap() []error { return []error{r.reason, r.coded} }

// refuse returns the error for reason with the booking code it is answered with.
func refuse(reason error) error {
	code := booking.CodeUnauthenticated
	switch reason {
	case ErrForbidden:
		code = booking.CodeForbidden
	case ErrMFARequired:
		code = booking.CodeMFARequired
	}
	return &refusal{reason: reason, coded: &booking.Error{Code: code, Message: reason.Error()}}
}
