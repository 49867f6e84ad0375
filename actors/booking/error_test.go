package booking

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorHelpers(t *testing.T) {
	soldOut := Errorf(CodeSoldOut, "bucket %q has %d available", "a", 0)
	tests := []struct {
		name    string
		err     error
		code    string
		message string
	}{
		{"nil", nil, "", ""},
		{"coded", soldOut, CodeSoldOut, `bucket "a" has 0 available`},
		{"wrapped", fmt.Errorf("decide: %w", soldOut), CodeSoldOut, `bucket "a" has 0 available`},
		{"wrapped twice", fmt.Errorf("actor: %w", fmt.Errorf("decide: %w", soldOut)), CodeSoldOut, `bucket "a" has 0 available`},
		{"joined", errors.Join(errors.New("other"), Errorf(CodeBusy, "queue full")), CodeBusy, "queue full"},
		{"first coded error wins", fmt.Errorf("x: %w", errors.Join(Errorf(CodeConflict, "first"), Errorf(CodeInvalid, "second"))), CodeConflict, "first"},
		{"plain error is internal", errors.New("pq: connection reset"), CodeInternal, "internal error"},
		{"wrapped plain error is internal", fmt.Errorf("store: %w", errors.New("disk full")), CodeInternal, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
			if got := ErrorMessage(tt.err); got != tt.message {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.message)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	err := Errorf(CodeNotFound, "hold %q not found", "h1")
	if got, want := err.Error(), `not_found: hold "h1" not found`; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	var target *Error
	if !errors.As(fmt.Errorf("w: %w", err), &target) || target != err {
		t.Fatal("errors.As does not find the *Error")
	}
}

func TestRetryable(t *testing.T) {
	for _, tt := range []struct {
		code string
		want bool
	}{
		{CodeBusy, true},
		{CodeUnavailable, true},
		{CodeInvalid, false},
		{CodeMalformed, false},
		{CodeNotFound, false},
		{CodeAlreadyExists, false},
		{CodeSoldOut, false},
		{CodeConflict, false},
		{CodeIdempotencyMismatch, false},
		{CodeInternal, false},
		{CodeUnauthenticated, false},
		{CodeForbidden, false},
		{CodeMFARequired, false},
		{"", false},
		{"BUSY", false},
	} {
		if got := Retryable(tt.code); got != tt.want {
			t.Errorf("Retryable(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
	if !Retryable(ErrorCode(fmt.Errorf("send: %w", Errorf(CodeUnavailable, "store down")))) {
		t.Error("a wrapped unavailable error is not retryable")
	}
}
