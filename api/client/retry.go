package client

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Retry says how a call is retried. A retry goes to the next base URL (see WithPicker) with
// the same request, Idempotency-Key included. The zero value of every field is documented.
type Retry struct {
	// MaxAttempts bounds the attempts of one call, the first included; 0 means no bound but
	// Budget (then required). 1 makes every call a single attempt.
	MaxAttempts int
	// Budget bounds the time from a call's first attempt: no attempt starts later, and an
	// attempt's timeout is cut to what is left (at least minAttemptTimeout). 0: no bound but
	// MaxAttempts and ctx.
	Budget time.Duration
	// AttemptTimeout bounds one attempt. 0: none beyond ctx, Budget and the *http.Client's
	// Timeout.
	AttemptTimeout time.Duration
	// MaxWait caps one wait between attempts, whether from Retry-After or Backoff. 0: no cap.
	MaxWait time.Duration
	// Retryable says whether the call goes on after an attempt. Nil: RetryUnavailable.
	Retryable func(Attempt) bool
	// Backoff is the wait after attempt n (0-based) when the answer has no Retry-After.
	// Nil: JitterBackoff.
	Backoff func(n int) time.Duration
	// Jitter, when set, turns each wait (after MaxWait and Budget cut it) into the one waited,
	// so that clients told the same Retry-After do not come back together. Nil: none.
	Jitter func(d time.Duration) time.Duration
	// OnAttempt, when set, is told of every attempt as it ends, on the calling goroutine.
	OnAttempt func(Attempt)
	// Sleep waits d or until ctx is done and then returns ctx.Err(). Nil: a timer. Tests
	// replace it to see the waits without waiting.
	Sleep func(ctx context.Context, d time.Duration) error
}

// minAttemptTimeout is the least time an attempt is given when Budget is nearly spent: less
// would only produce timeouts.
const minAttemptTimeout = 50 * time.Millisecond

func (r *Retry) validate() error {
	switch {
	case r == nil:
		return nil
	case r.MaxAttempts < 0 || r.Budget < 0 || r.AttemptTimeout < 0 || r.MaxWait < 0:
		return fmt.Errorf("%w: negative Retry field", ErrConfig)
	case r.MaxAttempts == 0 && r.Budget == 0:
		return fmt.Errorf("%w: Retry needs MaxAttempts or Budget", ErrConfig)
	}
	return nil
}

// Attempt describes one HTTP exchange of a call.
type Attempt struct {
	// N is the attempt's number in its call, from 0.
	N int
	// Base is the base URL the attempt went to.
	Base string
	// Status is the HTTP status of the answer; 0 when there was none (Err is set).
	Status int
	// Err is the transport error (connection refused, reset, timeout) when there was no
	// answer.
	Err error
	// RetryAfter is the answer's Retry-After, or -1 when it has none.
	RetryAfter time.Duration
	// Header is the answer's header (nil without an answer).
	Header http.Header
}

// RetryUnavailable retries attempts that got no answer and answers 429 busy and 503
// unavailable: the server processed nothing (429) or does not know (503, no answer), and a
// retry with the same Idempotency-Key is safe.
func RetryUnavailable(a Attempt) bool {
	return a.Err != nil || a.Status == http.StatusTooManyRequests || a.Status == http.StatusServiceUnavailable
}

// RetryServerErrors retries what RetryUnavailable retries and every other 5xx as well.
func RetryServerErrors(a Attempt) bool {
	return RetryUnavailable(a) || a.Status >= 500
}

// JitterBackoff is the default Backoff: full jitter over an exponential ceiling from 20ms
// (20ms, 40ms, 80ms, ... 20s), plus 1ms.
func JitterBackoff(n int) time.Duration {
	ceil := 20 * time.Millisecond << min(n, 10)
	return time.Duration(rand.Int64N(int64(ceil))) + time.Millisecond
}

// ParseRetryAfter parses a Retry-After value, delay-seconds or an HTTP date (relative to
// now). It returns -1 when v is empty or malformed.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return -1
		}
		// An hour at most: avoids overflow, and no client waits longer anyway.
		return time.Duration(min(s, int64(time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
