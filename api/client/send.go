package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/allot/allot/api/wire"
)

// maxBody bounds the part of an answer the client reads; the rest is drained (up to
// maxDrain) so that the connection can be reused.
const (
	maxBody  = 4 << 20
	maxDrain = 64 << 10
)

// Info describes how a call was answered: by its last attempt.
type Info struct {
	// Status is the HTTP status of the last answer; 0 when the last attempt got none.
	Status int
	// Base is the base URL of the last attempt.
	Base string
	// Attempts is the number of attempts the call made (1 without retries).
	Attempts int
	// Owner is X-Allot-Owner: the cluster member whose resource actor answered.
	Owner string
	// Stale is X-Allot-Stale: a read or a sold-out refusal answered from memory by an owner
	// that could not confirm with the store that it still owns the resource.
	Stale bool
	// Replayed is Idempotent-Replayed: the answer to an earlier request with the same
	// Idempotency-Key.
	Replayed bool
	// Header is the last answer's header (nil without an answer).
	Header http.Header
}

// Response is an answer of Do: its Info and body (at most 4 MiB of it).
type Response struct {
	Info
	Body []byte
}

// Do sends one call of any route: method on path (with its query, if any), with
// Idempotency-Key idemKey when it is not empty, and body when it is not nil — a []byte or
// json.RawMessage is sent as it is, anything else is encoded as JSON. It returns the answer
// whatever its status, after the retries WithRetry asks for; err is set only when the last
// attempt got no answer (or the request could not be built), and the Response's Info then
// still says how far the call got (the Response is nil only when body could not be encoded).
// Typed methods are preferable; Do is for routes and inputs they do not cover (the OpenAPI
// document, invalid bodies).
func (c *Client) Do(ctx context.Context, method, path, idemKey string, body any) (*Response, error) {
	var payload []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		payload = b
	case json.RawMessage:
		payload = b
	default:
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
	}
	return c.send(ctx, method, path, idemKey, body != nil, payload)
}

// call sends a typed call and decodes a 2xx answer into out (when not nil). A non-2xx
// answer is an *Error.
func (c *Client) call(ctx context.Context, method, path, idemKey string, in, out any) (Info, error) {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return Info{}, fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
	}
	r, err := c.send(ctx, method, path, idemKey, in != nil, payload)
	if err != nil {
		if r == nil {
			return Info{}, err
		}
		return r.Info, err
	}
	if r.Status < 200 || r.Status > 299 {
		return r.Info, newError(method, path, r)
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			return r.Info, fmt.Errorf("%s %s: decode %d answer from %s: %w", method, path, r.Status, r.Base, err)
		}
	}
	return r.Info, nil
}

// send runs the attempts of one call. It returns the last answer, or the last transport
// error together with a Response whose Info says how far the call got.
func (c *Client) send(ctx context.Context, method, path, idemKey string, hasBody bool, payload []byte) (*Response, error) {
	r := c.retry
	if r == nil {
		r = &Retry{MaxAttempts: 1}
	}
	sleep := r.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	retryable := r.Retryable
	if retryable == nil {
		retryable = RetryUnavailable
	}
	var deadline time.Time
	if r.Budget > 0 {
		deadline = time.Now().Add(r.Budget)
	}
	for n := 0; ; n++ {
		base := c.base()
		resp, err := c.attempt(ctx, r, deadline, base, method, path, idemKey, hasBody, payload)
		if perm, ok := err.(permanentError); ok {
			return &Response{Info: Info{Base: base, Attempts: n}}, fmt.Errorf("%s %s%s: %w", method, base, path, perm.error)
		}
		a := Attempt{N: n, Base: base, Err: err, RetryAfter: -1}
		if err == nil {
			a.Status, a.Header = resp.Status, resp.Header
			a.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		} else {
			resp = &Response{Info: Info{Base: base}}
		}
		resp.Attempts = n + 1
		if r.OnAttempt != nil {
			r.OnAttempt(a)
		}
		last := !retryable(a) || ctx.Err() != nil ||
			(r.MaxAttempts > 0 && n+1 >= r.MaxAttempts) ||
			(!deadline.IsZero() && time.Until(deadline) < 10*time.Millisecond)
		if !last {
			wait := a.RetryAfter
			if wait < 0 {
				backoff := r.Backoff
				if backoff == nil {
					backoff = JitterBackoff
				}
				wait = backoff(n)
			}
			if r.MaxWait > 0 {
				wait = min(wait, r.MaxWait)
			}
			if !deadline.IsZero() {
				wait = min(wait, time.Until(deadline))
			}
			if r.Jitter != nil {
				wait = r.Jitter(wait)
			}
			if sleep(ctx, wait) != nil {
				last = true
			}
		}
		if last {
			if err != nil && ctx.Err() != nil {
				// Stopped by the caller between attempts: say so (errors.Is(err,
				// context.Canceled)) as well as what the last attempt got.
				return resp, fmt.Errorf("%s %s%s: %w (last attempt: %w)", method, base, path, ctx.Err(), err)
			}
			if err != nil {
				return resp, fmt.Errorf("%s %s%s: %w", method, base, path, err)
			}
			return resp, nil
		}
	}
}

// permanentError fails a call before anything was sent: retrying cannot help.
type permanentError struct{ error }

// attempt sends one HTTP request to base and reads the answer. A permanentError means that
// nothing was sent.
func (c *Client) attempt(ctx context.Context, r *Retry, deadline time.Time, base, method, path, idemKey string, hasBody bool, payload []byte) (*Response, error) {
	timeout := r.AttemptTimeout
	if !deadline.IsZero() {
		left := max(time.Until(deadline), minAttemptTimeout)
		if timeout == 0 || left < timeout {
			timeout = left
		}
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var rd io.Reader
	if hasBody {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, permanentError{fmt.Errorf("build request: %w", err)}
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", c.userAgent)
	if idemKey != "" {
		req.Header.Set(wire.IdempotencyKeyHeader, idemKey)
	}
	if c.token != nil {
		tok, err := c.token.Token(ctx)
		if err != nil {
			return nil, permanentError{fmt.Errorf("token: %w", err)}
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	return &Response{
		Info: Info{
			Status:   resp.StatusCode,
			Base:     base,
			Owner:    resp.Header.Get(wire.OwnerHeader),
			Stale:    resp.Header.Get(wire.StaleHeader) == "true",
			Replayed: resp.Header.Get(wire.IdempotentReplayedHeader) == "true",
			Header:   resp.Header,
		},
		Body: body,
	}, nil
}
